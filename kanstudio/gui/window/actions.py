"""How the window's controllers make their QActions, and what a controller is.

A controller owns one part of the window: its actions, menus, docks and the
slots behind them.  It is built with the window (the host: the widgets, the
document, the worker, and the services every part uses -- ``show_error``,
``show_status``, ``confirm``, ``settings``) and reaches other parts only
through the window's named controllers (``window.files``, ``window.panels``,
...).  Every action has an ``objectName`` so tests and scripts can trigger
it, and is added to the window so its shortcut works wherever the focus is.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QStyle

__all__ = ["Controller", "make_action"]


def make_action(window, text: str, name: str, slot=None, shortcut=None, tip: str = "",
                icon: Optional[QStyle.StandardPixmap] = None, checkable: bool = False) -> QAction:
    act = QAction(text, window)
    act.setObjectName(name)
    if shortcut is not None:
        act.setShortcut(QKeySequence(shortcut))
    if tip:
        act.setStatusTip(tip)
        act.setToolTip(tip)
    if icon is not None:
        act.setIcon(window.style().standardIcon(icon))
    act.setCheckable(checkable)
    if slot is not None:
        act.triggered.connect(lambda checked=False, s=slot: s(checked) if checkable else s())
    window.addAction(act)
    return act


class Controller(QObject):
    """One part of the main window (see the module doc).  ``update(busy)`` sets
    which of its actions are enabled; the window calls it whenever the document
    or the worker's state changes."""

    def __init__(self, window):
        super().__init__(window)
        self.window = window

    def action(self, *args, **kwargs) -> QAction:
        return make_action(self.window, *args, **kwargs)

    def update(self, busy: bool):
        pass
