"""The main window is composed of controllers, each owning its actions and docks
(kanstudio/gui/window/actions.py); the window is their host."""
from __future__ import annotations

import pytest
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDockWidget, QMainWindow

pytestmark = pytest.mark.gui


def _owned(controller) -> list:
    """The actions and docks a controller holds (as attributes, or in a dict of them)."""
    out = []
    for value in vars(controller).values():
        values = value.values() if isinstance(value, dict) else [value]
        out += [v for v in values if isinstance(v, (QAction, QDockWidget))]
    return out


def test_every_named_action_and_dock_has_exactly_one_owning_controller(main_window):
    w = main_window
    controllers = [w.files, w.exports, w.panels, w.model_actions, w.science, w.help]
    owners: dict = {}
    for c in controllers:
        for obj in _owned(c):
            owners.setdefault(obj.objectName(), set()).add(type(c).__name__)
    named = [a.objectName() for a in w.findChildren(QAction) if a.objectName().startswith("action_")]
    named += [d.objectName() for d in w.findChildren(QDockWidget)]
    assert named and all(len(owners.get(n, ())) == 1 for n in named), \
        {n: owners.get(n) for n in named if len(owners.get(n, ())) != 1}
    # the window is no mixin of them: it is a QMainWindow that holds them
    assert type(w).__mro__[1] is QMainWindow


def test_the_window_answers_for_its_controllers_and_raises_for_unknown_names(main_window):
    w = main_window
    assert w.action_fit is w.model_actions.action_fit
    assert w.dock_pareto is w.panels.dock_pareto
    assert w.open_csv == w.files.open_csv
    assert w.science_menu is w.science.menu and w.science_menu.objectName() == "menu_science"
    with pytest.raises(AttributeError):
        w.no_such_thing  # noqa: B018


def test_a_controller_enables_its_own_actions_from_the_document_and_the_worker(main_window, qtbot, tmp_path):
    w = main_window
    assert not w.model_actions.action_fit.isEnabled() and not w.files.action_save_project.isEnabled()
    csv = tmp_path / "line.csv"
    csv.write_text("x,y\n" + "\n".join(f"{k / 10},{2 * k / 10 + 1}" for k in range(60)) + "\n")
    w.files.open_csv(str(csv), accept_defaults=True)
    assert w.model_actions.action_fit.isEnabled() and w.files.action_save_project.isEnabled()
    assert not w.exports.action_export_predictions.isEnabled()        # no model yet
    assert w.science.science_actions["action_compile_formula"].isEnabled()
    assert not w.science.science_actions["action_auto_swap"].isEnabled()
