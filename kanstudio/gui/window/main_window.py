"""The main window: the network view in the middle, dock panels around it, and
the wiring between the widgets, the worker thread and the undoable document.

Rules kept here: the UI thread never runs an engine call that can take more
than ~20 ms (jobs go to ``self.runner``, with deep copies of the model); every
edit of the model is a project command pushed on the undo stack (heavy compute
first in the worker, then an instant command with the result); dialogs are
opened with ``open()``/``show()`` and every file operation has a method taking
the path, so tests drive the window without blocking.  Errors shown to the
user go through ``show_error(title, text)``, which records the last one in
``last_error``.

The window is the host: it builds the widgets, the document, the worker
and the status bar, offers the services every part uses (``show_error``,
``show_status``, ``confirm``, ``settings``) and is composed of controllers,
each owning its actions, menus and docks (``actions.Controller``):
``files`` (File: open/save/recovery/drag and drop/close), ``exports``
(File ▸ Export), ``panels`` (the docks, start page, View menu, settings),
``model_actions`` (the Edit and Model menus, the toolbar's edits),
``science`` (Model ▸ Science, the attribution dock) and ``help`` (Help);
``jobs`` is what runs in the worker and what the answers do.  For scripts
and tests the window also answers for its controllers' actions, docks and
operations (``window.action_fit`` is ``window.model_actions.action_fit``).
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtWidgets import (QLabel, QMainWindow, QMessageBox, QProgressBar, QScrollArea, QStackedWidget,
                               QToolBar, QToolButton, QWidget)

from ..panels import EdgeInspector, FormulaPanel, HistoryPanel, ParetoPanel, TrainingPanel
from ..errors import ErrorDialog
from ..dialogs import DataPanel
from ..background import (finish_preload, hold_collections, JobRunner, Jobs, late_warm_up_job, preload_torch,
                          release_collections, warm_up_job)
from ..network import NetworkView
from ..theme import app_icon
from ..document import Document
from .exports import ExportController
from .files import FileController
from .help_menu import HelpController
from .model_actions import ModelActions
from .panels import PanelController
from .science_menu import ScienceController
from .start_page import StartPage

__all__ = ["MainWindow", "Jobs"]


class MainWindow(QMainWindow):
    def __init__(self, confirm_close: bool = True, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("main_window")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.confirm_close = confirm_close
        self.last_error: Optional[tuple] = None
        self.errors: list[tuple] = []
        self.last_science_result = None   # what the last Science tool computed (tests and scripts read it)
        self.last_science_dialog = None
        self._shut = False
        self._inspector_note: Optional[str] = None
        self._inspector_locked = False
        self._warmed = False
        self._controllers: list = []
        preload_torch()                   # while the widgets are built (worker_jobs)

        self.runner = JobRunner(self)
        self.doc = Document(self)
        self.stack = self.doc.stack
        self.jobs = Jobs(self)

        self._build_widgets()
        self.files = FileController(self)
        self.exports = ExportController(self)
        self.panels = PanelController(self)
        self.model_actions = ModelActions(self)
        self.science = ScienceController(self)
        self.help = HelpController(self)
        self._controllers = [self.files, self.exports, self.panels, self.model_actions, self.science, self.help]
        self._build_menus()
        self._build_toolbar()
        self._build_status_bar()
        self._connect()
        self.panels.restore_settings()
        self.update_title()
        self.update_actions()

    def __getattr__(self, name: str):
        """The window's face for scripts and tests: an action, dock or operation
        of one of its controllers (only called for names the window lacks)."""
        for c in self.__dict__.get("_controllers", ()):
            if hasattr(c, name):
                return getattr(c, name)
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    # ================================================================ building
    def _build_widgets(self):
        self.start_page = StartPage()
        self.network_view = NetworkView()
        self.central = QStackedWidget()
        self.central.setObjectName("central_stack")
        # In a scroll area: the start page must not set a minimum size for the
        # central area once the panels are shown.
        self.start_scroll = QScrollArea()
        self.start_scroll.setObjectName("start_scroll")
        self.start_scroll.setWidget(self.start_page)
        self.start_scroll.setWidgetResizable(True)
        self.start_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.central.addWidget(self.start_scroll)
        self.central.addWidget(self.network_view)
        self.setCentralWidget(self.central)
        self.edge_inspector = EdgeInspector()
        self.training_panel = TrainingPanel()
        self.formula_panel = FormulaPanel()
        self.pareto_panel = ParetoPanel()
        self.history_panel = HistoryPanel(self.stack)
        self.data_panel = DataPanel()

    def _build_menus(self):
        mb = self.menuBar()
        self.files.fill_menu(mb.addMenu("&File"), self.exports.export_menu)
        edit = mb.addMenu("&Edit")
        view = mb.addMenu("&View")
        model = mb.addMenu("&Model")
        help_ = mb.addMenu("&Help")
        self.model_actions.fill_menus(edit, model)
        self.panels.build_docks(view)
        self.help.fill_menu(help_)
        self.science.fill_menus(model, help_, view)

    def _build_toolbar(self):
        tb = QToolBar("Main toolbar")
        tb.setObjectName("toolbar_main")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addActions([self.files.action_open, self.files.action_save_project])
        tb.addSeparator()
        self.model_actions.fill_toolbar(tb)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

    def _build_status_bar(self):
        sb = self.statusBar()
        self.status_label = QLabel("Ready")
        self.status_label.setObjectName("status_message")
        self._status_text = ""
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.timeout.connect(self._status_expired)
        self.progress = QProgressBar()
        self.progress.setObjectName("status_progress")
        self.progress.setMaximumWidth(220)
        self.progress.setMaximumHeight(16)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("status_cancel")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.cancel_button.clicked.connect(self.model_actions.stop)
        self.cancel_button.setVisible(False)
        self.model_label = QLabel("")
        self.model_label.setObjectName("status_model")
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.model_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

    def _connect(self):
        self.runner.busyChanged.connect(self._on_busy)
        self.runner.progress.connect(self._on_progress)
        self.stack.cleanChanged.connect(self._on_clean_changed)
        self.stack.indexChanged.connect(self._on_index_changed)
        self.doc.changed.connect(self.jobs.on_document_changed)
        self.doc.changed.connect(self._on_doc_changed)
        self.network_view.edgeSelected.connect(self.jobs.select_edge)
        self.network_view.edgeAction.connect(self.jobs.edge_action)
        self.edge_inspector.suggestRequested.connect(self.jobs.suggest)
        self.edge_inspector.fixRequested.connect(self.jobs.fix_with_params)
        self.edge_inspector.unfixRequested.connect(self.jobs.unfix)
        self.edge_inspector.pruneRequested.connect(self.jobs.prune_edge)
        self.formula_panel.digitsChanged.connect(self._on_digits)
        self.formula_panel.autoSymbolicRequested.connect(self.jobs.auto_symbolic)
        self.pareto_panel.chosen.connect(self.jobs.choose_pareto)
        self.pareto_panel.useRequested.connect(self.jobs.use_pareto)

    def _on_clean_changed(self, _clean: bool):
        self.update_title()

    def _on_index_changed(self, _index: int):
        self.update_actions()

    def _on_doc_changed(self, _reason: str):
        self.update_actions()

    def _on_digits(self, digits: int):
        self.doc.set_settings({"digits": int(digits)})
        self.jobs.refresh_formula()

    # ================================================================ services
    def settings(self) -> QSettings:
        return QSettings()

    def confirm(self, title: str, text: str, save_option: bool = True) -> str:
        """"save", "discard" or "cancel" (a modal question; tests monkeypatch it)."""
        buttons = QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        if save_option:
            buttons |= QMessageBox.StandardButton.Save
        r = QMessageBox.question(self, title, text, buttons, QMessageBox.StandardButton.Cancel)
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            QMessageBox.StandardButton(r), "cancel")

    def show_error(self, title: str, text: str, details: str = ""):
        """The one place user-facing errors go (tests read ``last_error``)."""
        self.last_error = (title, text)
        self.errors.append((title, text))
        self.status_label.setText(f"{title}: {text.splitlines()[0] if text else ''}")
        dlg = ErrorDialog(title, text, details, self)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.open()
        return dlg

    def show_status(self, text: str, timeout_ms: int = 0):
        """A message in the status bar; with a timeout it goes back to "Ready"
        unless something else was shown meanwhile."""
        self.status_label.setText(text)
        self._status_text = text
        if timeout_ms:
            self._status_timer.start(timeout_ms)

    def _status_expired(self):
        if self.status_label.text() == self._status_text:
            self.status_label.setText("Ready")

    def _on_busy(self, busy: bool):
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self._set_progress(-1.0)
        self.update_actions()

    def _on_progress(self, fraction: float, text: str):
        self._set_progress(fraction)
        if text:
            self.status_label.setText(text)

    def _set_progress(self, fraction: float):
        """The bar at ``fraction`` (< 0: busy, no fraction known).  QProgressBar
        repaints synchronously when its value moves or its range resets, and a
        synchronous repaint paints every pending region of the window with it
        (a new Pareto plot, a network): with updates held, the bar is painted
        with the rest in the next paint instead."""
        bar = self.progress
        bar.setUpdatesEnabled(False)
        try:
            if fraction >= 0:
                bar.setRange(0, 1000)
                bar.setValue(int(1000 * min(1.0, fraction)))
            else:
                bar.setRange(0, 0)
        finally:
            bar.setUpdatesEnabled(True)

    def update_title(self):
        name = self.doc.display_name()
        self.setWindowTitle(f"{name}[*] \u2014 kanstudio" if name else "kanstudio")
        p = self.doc.project
        # The stack covers edits; the project also counts settings and recovered work.
        self.setWindowModified(bool(name) and (not self.stack.isClean() or (p is not None and p.modified)))

    def update_actions(self):
        """Every controller's actions, and the panels, for the document and the worker as they are now."""
        busy = self.runner.busy
        for c in self._controllers:
            c.update(busy)
        self.history_panel.set_enabled_for_edits(not busy)
        self._inspector_busy(busy)
        self.training_panel.set_running(busy)
        self.panels.show_start_page(not self.doc.has_data)
        m = self.doc.model
        self.model_label.setText(f"{self.doc.width_text()} \u00b7 {m.edge_count()} edges" if m is not None else "")

    def _inspector_busy(self, busy: bool):
        """Lock the inspector while any job runs.  Its busy note speaks of
        fitting candidates, so after other jobs the previous note comes back."""
        insp = self.edge_inspector
        if busy and not self._inspector_locked:
            self._inspector_note = insp.candidate_note.text()
        self._inspector_locked = busy
        insp.set_busy(busy)
        if not busy and insp.candidate_note.text().startswith("Fitting the symbolic library") \
                and self._inspector_note is not None:
            insp.candidate_note.setText(self._inspector_note)

    # ================================================================ events
    def dragEnterEvent(self, event):
        self.files.drag_enter(event)

    def dragMoveEvent(self, event):
        self.files.drag_move(event)

    def dropEvent(self, event):
        self.files.drop(event)

    def closeEvent(self, event):
        if not self.files.may_discard():
            event.ignore()
            return
        self.panels.save_settings()
        self.shutdown()
        event.accept()

    def showEvent(self, event):
        super().showEvent(event)
        if not self._warmed:
            self._warmed = True
            hold_collections()      # until the warm-up is over (worker_jobs)
            # After the first paint: the worker's warm-up (torch, mathtext)
            # would otherwise compete with it for the GIL.
            QTimer.singleShot(200, self, self._warm_up)

    def _warm_up(self):
        if not self.runner.is_shut:
            def warmed(cuda: bool):
                self.training_panel.set_cuda_available(cuda)
                self._late_warm_up()
            self.runner.submit("Warm up", warm_up_job, side=True, on_done=warmed,
                               on_error=lambda m, d: None)   # no torch: jobs report it themselves

    def _late_warm_up(self):
        """The warm-up's second part once the worker is idle: run between a
        first Fit's steps, its imports would share the interpreter lock with
        the window painting that fit."""
        if self.runner.is_shut:
            return
        if not self.runner.idle():
            QTimer.singleShot(500, self, self._late_warm_up)
            return
        self.runner.submit("Warm up (discovery)", late_warm_up_job, side=True, on_error=lambda m, d: None)

    def shutdown(self):
        """Stop the worker and forget the recovery file (a clean exit)."""
        if self._shut:
            return
        self._shut = True
        release_collections()       # a warm-up that never ran must not leave the collector off
        finish_preload()
        self.jobs._recovery_timer.stop()
        self.runner.shutdown()
        # Children (the undo stack among them) emit while being destroyed: nobody is listening now.
        self.stack.blockSignals(True)
        self.doc.blockSignals(True)
        self.doc.clear_recovery()
