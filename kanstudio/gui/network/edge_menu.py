"""An edge's right-click menu in the network view: Inspect, Suggest, Fix to
(one entry per function of the symbolic library), Unfix, Prune.  Each
entry has an objectName (edge_action_<action>[_<function>]) so tests can
trigger it."""
from __future__ import annotations

from typing import Callable

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu, QWidget

from .network_items import EdgeItem

__all__ = ["EDGE_ACTIONS", "edge_menu"]

EDGE_ACTIONS = ("inspect", "prune", "fix", "suggest", "unfix")


def _library_names() -> tuple:
    # here, not at the top: the library imports torch, which the window loads only
    # after it is shown (an edge's menu opens once a model exists, torch with it)
    from ...model import library_names
    return tuple(library_names())


def edge_menu(parent: QWidget, item: EdgeItem, emit: Callable[[str, str], None]) -> QMenu:
    """The menu of ``item``; choosing an entry calls emit(action, arg), arg
    being the function's name for "fix" and "" otherwise."""
    menu = QMenu(parent)
    menu.setObjectName("edge_menu")

    def add(owner, text, action, arg="", enabled=True):
        act = QAction(text, owner)
        act.setObjectName(f"edge_action_{action}" + (f"_{arg}" if arg else ""))
        act.setEnabled(enabled)
        act.triggered.connect(lambda _=False: emit(action, arg))
        owner.addAction(act)
        return act

    add(menu, "Inspect", "inspect")
    add(menu, "Suggest symbolic functions", "suggest", enabled=item.alive)
    fix = menu.addMenu("Fix to")
    fix.setObjectName("edge_menu_fix")
    fix.setEnabled(item.alive)
    for name in _library_names():
        add(fix, name, "fix", name)
    add(menu, "Unfix", "unfix", enabled=item.symbolic is not None)
    menu.addSeparator()
    add(menu, "Prune edge", "prune", enabled=item.alive)
    return menu
