"""Training in the worker: Stop, the Stop action's state, and a UI thread
that keeps processing events while the network trains."""
from __future__ import annotations

import time

import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import QElapsedTimer, QTimer  # noqa: E402

pytestmark = pytest.mark.gui

WAIT = 60_000


def idle(win):
    return win.runner.idle() and not win.runner.busy


@pytest.fixture
def loaded(qtbot, main_window, hello_csv):
    win = main_window
    win.open_csv(str(hello_csv), accept_defaults=True)
    assert win.doc.has_data
    return win


def start_long_fit(win, steps=100_000):
    panel = win.training_panel
    panel.optimizer_combo.setCurrentIndex(panel.optimizer_combo.findData("adam"))
    panel.steps_spin.setValue(steps)
    panel.lamb_spin.setValue(0.0)
    win.action_fit.trigger()


def test_stop_during_fit_returns_quickly_and_keeps_a_model(qtbot, loaded):
    win = loaded
    assert win.action_fit.isEnabled() and not win.action_stop.isEnabled()
    start_long_fit(win)
    assert win.action_stop.isEnabled() and not win.action_fit.isEnabled()
    assert not win.action_undo.isEnabled() and not win.action_prune.isEnabled()
    qtbot.waitUntil(lambda: win.training_panel.loss.point_count() >= 5, timeout=WAIT)
    t0 = time.perf_counter()
    win.action_stop.trigger()
    qtbot.waitUntil(lambda: not win.runner.busy, timeout=5_000)
    elapsed = time.perf_counter() - t0
    assert elapsed < 1.0, f"Stop took {elapsed:.2f} s"
    assert not win.action_stop.isEnabled() and win.action_fit.isEnabled()
    assert win.doc.has_model                         # the model up to the stop is kept, undoably
    assert "stopped" in win.stack.text(0)
    qtbot.waitUntil(lambda: idle(win), timeout=WAIT)
    assert not win.errors


def test_ui_keeps_processing_events_while_training(qtbot, loaded):
    win = loaded
    gaps, clock = [], QElapsedTimer()
    clock.start()
    last = [clock.elapsed()]

    def tick():
        now = clock.elapsed()
        gaps.append(now - last[0])
        last[0] = now
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    start_long_fit(win)
    qtbot.waitUntil(lambda: win.training_panel.loss.point_count() >= 2, timeout=WAIT)   # worker warmed up
    # earlier tests' garbage (the fuzz suite's thousands of objects) would otherwise be
    # collected inside the measured window: a pause of the test process, not of the app
    import gc
    gc.collect()
    timer.start()
    last[0] = clock.elapsed()
    qtbot.wait(2500)
    timer.stop()
    win.action_stop.trigger()
    qtbot.waitUntil(lambda: idle(win), timeout=WAIT)
    assert len(gaps) > 50, "the timer hardly ran: the UI thread was blocked"
    assert max(gaps) < 200, f"longest gap between 10 ms ticks: {max(gaps)} ms"
    assert win.training_panel.loss.point_count() > 5


def test_actions_disabled_without_data(main_window):
    win = main_window
    assert not win.action_fit.isEnabled()
    assert not win.action_stop.isEnabled()
    assert not win.action_prune.isEnabled() and not win.action_auto_symbolic.isEnabled()
    assert not win.action_save_project.isEnabled()
    assert win.action_open.isEnabled() and win.action_open_project.isEnabled()


def test_invalid_width_is_refused_with_a_message(qtbot, loaded):
    win = loaded
    win.training_panel.width_edit.setText("3,5,1")
    win.action_fit.trigger()
    assert not win.runner.busy
    assert win.last_error is not None and "first layer" in win.last_error[1]
    win.training_panel.width_edit.setText("2,[3,x],1")
    win.action_fit.trigger()
    assert "Width" in win.last_error[1]


def test_retrain_refine_and_prune_are_undoable(qtbot, loaded):
    win = loaded
    panel = win.training_panel
    panel.width_edit.setText("2,3,1")
    panel.steps_spin.setValue(5)
    win.action_fit.trigger()
    qtbot.waitUntil(lambda: idle(win) and win.doc.has_model, timeout=WAIT)
    grid = win.doc.model.grid_size
    win.jobs.refine(grid * 2)
    qtbot.waitUntil(lambda: idle(win) and win.doc.model.grid_size == grid * 2, timeout=WAIT)
    win.action_retrain.trigger()
    qtbot.waitUntil(lambda: idle(win) and win.stack.count() == 3, timeout=WAIT)
    win.action_prune.trigger()
    qtbot.waitUntil(lambda: idle(win) and win.stack.count() == 4, timeout=WAIT)
    labels = [win.stack.text(i) for i in range(win.stack.count())]
    assert labels[0].startswith("Fit") and labels[1].startswith("Refine grid")
    assert labels[2].startswith("Retrain") and "prune" in labels[3].lower()
    for _ in range(3):
        win.action_undo.trigger()
    assert win.doc.model.grid_size == grid and win.stack.index() == 1
    assert not win.errors, win.errors


def test_edge_context_menu_and_node_pruning(qtbot, loaded):
    from PySide6.QtGui import QAction
    win = loaded
    win.training_panel.width_edit.setText("2,3,1")
    win.training_panel.steps_spin.setValue(5)
    win.action_fit.trigger()
    qtbot.waitUntil(lambda: idle(win) and win.network_view.edge_item(0, 0, 0) is not None, timeout=WAIT)
    view = win.network_view

    def trigger(name, *edge):
        menu = view.edge_menu(*edge)
        act = [a for a in menu.findChildren(QAction) if a.objectName() == name][0]
        act.trigger()

    trigger("edge_action_fix_sin", 0, 0, 0)          # fitted in the worker, then an undoable command
    qtbot.waitUntil(lambda: idle(win) and win.doc.model.layers[0].symbolic_name(0, 0) == "sin", timeout=WAIT)
    trigger("edge_action_prune", 0, 1, 2)
    assert float(win.doc.model.layers[0].mask[1, 2]) == 0.0
    trigger("edge_action_unfix", 0, 0, 0)
    assert win.doc.model.layers[0].symbolic_name(0, 0) is None
    trigger("edge_action_inspect", 0, 1, 0)
    qtbot.waitUntil(lambda: win.edge_inspector.current_edge() == (0, 1, 0), timeout=WAIT)

    qtbot.waitUntil(lambda: idle(win) and view.node_item(1, 2) is not None, timeout=WAIT)
    view.node_item(1, 2).setSelected(True)
    assert win.action_prune_nodes.isEnabled()
    win.action_prune_nodes.trigger()
    qtbot.waitUntil(lambda: idle(win) and win.doc.model.width[1][0] == 2, timeout=WAIT)
    assert "Prune node" in win.stack.text(win.stack.count() - 1)
    win.action_undo.trigger()
    assert win.doc.model.width[1][0] == 3
    assert not win.errors, win.errors
