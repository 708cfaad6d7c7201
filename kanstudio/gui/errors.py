"""Uncaught exceptions become an error dialog with "Copy details", never a crash.

``install_excepthooks(parent_getter)`` replaces ``sys.excepthook`` and
``threading.excepthook``.  Exceptions raised in other threads are relayed to
the UI thread through a queued signal.  Dialogs are shown with ``show()``, not
as modal loops, so nothing blocks; while one error dialog is open, further errors
are appended to it instead of stacking windows.  ``uninstall_excepthooks()``
puts the previous hooks back (tests).
"""
from __future__ import annotations

import sys
import threading
import traceback
from typing import Callable, Optional

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPlainTextEdit,
                               QPushButton, QStyle, QVBoxLayout, QWidget)

__all__ = ["ErrorDialog", "ErrorRelay", "install_excepthooks", "uninstall_excepthooks",
           "format_exception", "relay"]


def format_exception(exc_type, exc, tb) -> str:
    return "".join(traceback.format_exception(exc_type, exc, tb))


class ErrorDialog(QDialog):
    """Title, one readable message, and the technical details on demand."""

    def __init__(self, title: str, message: str, details: str = "", parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("error_dialog")
        self.setWindowTitle(title)
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setMinimumWidth(460)
        icon = QLabel()
        icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxCritical).pixmap(40, 40))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.message = QLabel(message)
        self.message.setObjectName("error_message")
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        top = QHBoxLayout()
        top.addWidget(icon)
        top.addWidget(self.message, 1)

        self.details = QPlainTextEdit(details)
        self.details.setObjectName("error_details")
        self.details.setReadOnly(True)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.details.setMinimumHeight(180)
        self.details.setVisible(False)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.copy_button = QPushButton("Copy details")
        self.copy_button.setObjectName("button_copy_details")
        self.copy_button.clicked.connect(self.copy_details)
        self.toggle_button = QPushButton("Show details")
        self.toggle_button.setCheckable(True)
        self.toggle_button.toggled.connect(self._toggle)
        has_details = bool(details.strip())
        self.toggle_button.setVisible(has_details)
        buttons.addButton(self.copy_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.addButton(self.toggle_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        buttons.accepted.connect(self.accept)
        lay = QVBoxLayout(self)
        lay.addLayout(top)
        lay.addWidget(self.details, 1)
        lay.addWidget(buttons)

    def _toggle(self, on: bool):
        self.details.setVisible(on)
        self.toggle_button.setText("Hide details" if on else "Show details")
        self.adjustSize()

    def add_error(self, message: str, details: str):
        """Another error while this dialog is open: append, do not stack windows."""
        self.message.setText(self.message.text() + "\n\n" + message)
        self.details.appendPlainText("\n" + details)
        self.toggle_button.setVisible(True)

    def full_text(self) -> str:
        text = f"{self.windowTitle()}\n\n{self.message.text()}"
        d = self.details.toPlainText().strip()
        return text + (f"\n\n{d}" if d else "")

    def copy_details(self):
        QGuiApplication.clipboard().setText(self.full_text())


class ErrorRelay(QObject):
    """Carries errors from any thread to the UI thread and shows them."""
    error = Signal(str, str, str)  # title, message, details

    def __init__(self, parent_getter: Callable[[], Optional[QWidget]]):
        super().__init__()
        self._parent_getter = parent_getter
        self._dialog: Optional[ErrorDialog] = None
        self.last_error: Optional[tuple] = None
        self.count = 0
        self.error.connect(self._show, Qt.ConnectionType.QueuedConnection)

    def report(self, exc_type, exc, tb, where: str = ""):
        details = format_exception(exc_type, exc, tb)
        what = f"{exc_type.__name__}: {exc}" if str(exc) else exc_type.__name__
        message = ("Something went wrong" + (f" in {where}" if where else "") + f":\n{what}\n\n"
                   "kanstudio is still running; your work has not been lost. "
                   "Use \"Copy details\" to report the problem.")
        self.emit_error("Unexpected error", message, details)

    def emit_error(self, title: str, message: str, details: str = ""):
        self.error.emit(title, message, details)

    def _show(self, title: str, message: str, details: str):
        self.last_error = (title, message, details)
        self.count += 1
        sys.stderr.write(details or message)
        sys.stderr.write("\n")
        if self._dialog is not None and self._dialog.isVisible():
            self._dialog.add_error(message, details)
            return
        parent = None
        try:
            parent = self._parent_getter()
        except Exception:  # noqa: BLE001 - the window may be half torn down
            parent = None
        self._dialog = ErrorDialog(title, message, details, parent)
        self._dialog.destroyed.connect(self._forget)
        self._dialog.show()

    def _forget(self, *_):
        self._dialog = None

    def dialog(self) -> Optional[ErrorDialog]:
        return self._dialog


_state: dict = {}


def relay() -> Optional[ErrorRelay]:
    return _state.get("relay")


def install_excepthooks(parent_getter: Callable[[], Optional[QWidget]] = lambda: None) -> ErrorRelay:
    """Route sys.excepthook and threading.excepthook to an error dialog."""
    if "relay" in _state:
        _state["relay"]._parent_getter = parent_getter
        return _state["relay"]
    rel = ErrorRelay(parent_getter)
    _state.update(relay=rel, sys_hook=sys.excepthook, thread_hook=threading.excepthook)

    def sys_hook(exc_type, exc, tb):
        if issubclass(exc_type, KeyboardInterrupt):
            _state["sys_hook"](exc_type, exc, tb)
            return
        rel.report(exc_type, exc, tb)

    def thread_hook(args):
        if args.exc_type is SystemExit:
            return
        name = getattr(args.thread, "name", "a background thread")
        rel.report(args.exc_type, args.exc_value, args.exc_traceback, where=f"thread {name!r}")

    sys.excepthook = sys_hook
    threading.excepthook = thread_hook
    _state["installed"] = (sys_hook, thread_hook)
    return rel


def uninstall_excepthooks():
    if "relay" not in _state:
        return
    sys_hook, thread_hook = _state["installed"]
    if sys.excepthook is sys_hook:
        sys.excepthook = _state["sys_hook"]
    if threading.excepthook is thread_hook:
        threading.excepthook = _state["thread_hook"]
    rel = _state.pop("relay")
    _state.clear()
    dlg = rel.dialog()
    if dlg is not None:
        dlg.close()
    rel.deleteLater()
