"""Help ▸ Tutorial: the guided tour highlights the widget to use next and
advances when the user performs the step (and by Next / Back)."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

pytest.importorskip("pytestqt")
from PySide6.QtCore import QPoint, QRect, Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication  # noqa: E402

from kanstudio.gui.window import science_actions as sa  # noqa: E402
from kanstudio.gui.window.tutorial import tour_data_path  # noqa: E402

pytestmark = pytest.mark.gui
WAIT = 60_000


@pytest.fixture
def win(main_window):
    if getattr(main_window, "science_menu", None) is None:
        sa.install_science_actions(main_window)
    return main_window


def settle(qtbot, w):
    qtbot.waitUntil(lambda: w.runner.idle() and not w.runner.busy, timeout=WAIT)


def rect_of(w, widget) -> QRect:
    return QRect(widget.mapTo(w, QPoint(0, 0)), widget.size())


def keys(tour):
    return [s.key for s in tour.steps]


def test_tour_starts_from_help_and_highlights_open(qtbot, win):
    help_menu = next(a.menu() for a in win.menuBar().actions() if a.text().replace("&", "") == "Help")
    assert win.science_actions["action_tutorial"] in help_menu.actions()
    win.science_actions["action_tutorial"].trigger()
    tour = win.tour
    assert tour is not None and tour.step.key == "open" and tour.panel.isVisible()
    assert not tour.panel.isWindow()                     # inside the window: non-modal, no dialog
    assert tour_data_path() is not None and tour_data_path().name == "oscillator_energy.csv"
    open_button = win.toolbar.widgetForAction(win.action_open)
    assert tour.target()[0] is open_button
    assert tour.highlight.isVisible() and tour.highlight.rect_in_window == rect_of(win, open_button)
    # the overlay lets clicks through and the card does not hide the target
    assert tour.highlight.testAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
    assert not tour.panel.geometry().intersects(tour.highlight.rect_in_window)
    # Next / Back move by hand; the highlight follows
    tour.panel.next_button.click()
    assert tour.step.key == "shape"
    tour.panel.back_button.click()
    assert tour.step.key == "open" and not tour.panel.back_button.isEnabled()
    tour.panel.close_button.click()
    assert win.tour is None


@pytest.mark.parametrize("slow_formula", [False, True])
def test_performing_the_steps_advances_the_tour(qtbot, win, tmp_path, monkeypatch, slow_formula):
    if slow_formula:
        # the formula is built off the UI thread after each edit; while the
        # retrained model's is on its way, the one from before stays up, and
        # the tour must wait for the new one (it once advanced on the old)
        import time
        from kanstudio.gui.background import jobs as jobs_module
        real = jobs_module.formula_job

        def slow(*args, **kwargs):
            fn = real(*args, **kwargs)
            return lambda ctx: (time.sleep(0.4), fn(ctx))[1]
        monkeypatch.setattr(jobs_module, "formula_job", slow)
    QGuiApplication.clipboard().setText("")     # (a formula copied earlier would complete the copy step)
    tour = sa.show_tutorial(win)
    order = keys(tour)
    assert order[:3] == ["open", "shape", "fit"] and order[-1] == "save"

    # opening the data (any way the user likes) completes step 1
    win.open_csv(str(tour_data_path()), accept_defaults=True)
    qtbot.waitUntil(lambda: tour.step.key == "shape", timeout=WAIT)
    assert tour.target()[0] is win.training_panel.width_edit
    assert tour.highlight.rect_in_window == rect_of(win, win.training_panel.width_edit)
    tour.panel.do_button.click()                         # "Set it for me"
    assert win.training_panel.width_edit.text() == "4,1"
    tour.next()
    assert tour.step.key == "fit"
    assert tour.target()[0] is win.toolbar.widgetForAction(win.action_fit)

    # a short fit (the tour's own check is "a fit finished")
    win.training_panel.steps_spin.setValue(20)
    win.action_fit.trigger()
    qtbot.waitUntil(lambda: tour.step.key == "look", timeout=WAIT)
    settle(qtbot, win)
    assert tour.target()[0] is win.network_view
    # pruning from the menu instead of the highlighted button also counts, and skips "look"
    win.action_prune.trigger()
    qtbot.waitUntil(lambda: tour.step.key == "symbolic", timeout=WAIT)
    assert tour.target()[0] is win.toolbar.widgetForAction(win.action_auto_symbolic)
    settle(qtbot, win)
    win.action_auto_symbolic.trigger()
    qtbot.waitUntil(lambda: tour.step.key == "retrain", timeout=WAIT)
    settle(qtbot, win)
    win.action_retrain.trigger()
    qtbot.waitUntil(lambda: tour.step.key == "formula", timeout=WAIT)   # formula shown
    assert win.formula_panel.info() is not None
    assert tour.target()[0] is win.dock_formula
    win.formula_panel.copy_button.click()
    qtbot.waitUntil(lambda: tour.step.key == "hypothesis", timeout=WAIT)
    settle(qtbot, win)              # what was copied is the retrained model's formula, still up when all is done
    assert QGuiApplication.clipboard().text() == win.formula_panel.latex()
    target, rect = tour.target()
    assert target is win.menuBar() and rect == win.menuBar().actionGeometry(
        next(a for a in win.menuBar().actions() if a.text().replace("&", "") == "Model"))
    settle(qtbot, win)
    win.science_actions["action_hypothesis_tests"].trigger()
    qtbot.waitUntil(lambda: tour.step.key == "attribution", timeout=WAIT)
    assert "additively separable" in win.last_science_result
    win.last_science_dialog.close()
    assert tour.target()[0] is win.dock_attribution and win.dock_attribution.isVisible()
    tour.next()
    assert tour.step.key == "save"
    settle(qtbot, win)
    assert win.save_project(str(tmp_path / "tour.kanproj"))
    qtbot.waitUntil(lambda: tour._done_now(), timeout=WAIT)
    assert tour.panel.next_button.text() == "Finish"
    tour.panel.next_button.click()
    assert tour.finished and win.tour is None
    settle(qtbot, win)


def test_undone_edits_do_not_count(qtbot, win):
    from kanstudio.model.network import KAN
    from kanstudio.project import SetModel
    tour = sa.show_tutorial(win)
    win.open_csv(str(tour_data_path()), accept_defaults=True)
    qtbot.waitUntil(lambda: tour.step.key == "shape", timeout=WAIT)
    m = KAN([4, 1], grid=3, seed=0)
    m.set_names(["x", "y", "px", "py"], ["E"])
    win.doc.push(SetModel("Test model", m))
    tour.go(keys(tour).index("prune"))
    sa.auto_swap(win, background=False)          # another edit: the tour stays
    assert tour.step.key == "prune"
    from kanstudio.project.commands_edges import AutoPrune
    win.doc.push(AutoPrune())
    assert tour.step.key == "symbolic"
    win.stack.undo()                             # the prune is gone: its step is not done any more
    tour.go(keys(tour).index("prune"))
    tour.check()
    assert tour.step.key == "prune"
    tour.close()
    settle(qtbot, win)
