"""Widgets on their own: formula rendering and its fallback, the formula panel's
messages, the training panel's settings and plot, the error dialog, the worker."""
from __future__ import annotations

import time

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QApplication  # noqa: E402

pytestmark = pytest.mark.gui


def test_mathtext_renders_and_caches(qtbot):
    from kanstudio.gui.mathtext import MathRenderer, render_png
    png = render_png(r"e^{\sin{\left(\pi x \right)} + y^{2}}", 16, 100, "#202020")
    assert png and png[:4] == b"\x89PNG"
    r = MathRenderer()
    a = r.pixmap(r"\operatorname{sgn}{\left(x \right)} + \left|{y}\right|", 16, 1.0, "#000000")
    assert a is not None and not a.isNull()
    b = r.pixmap(r"\operatorname{sgn}{\left(x \right)} + \left|{y}\right|", 16, 1.0, "#000000")
    assert b is a and r.hits == 1 and r.misses == 1
    assert r.pixmap(r"\operatorname{sgn}{\left(x \right)} + \left|{y}\right|", 16, 2.0, "#000000") is not a


def test_formula_panel_falls_back_to_pretty_text_for_piecewise(qtbot):
    import sympy
    from kanstudio.gui.panels.formula_panel import FormulaInfo, FormulaPanel
    from kanstudio.gui.mathtext import pretty_text
    x = sympy.Symbol("x")
    expr = sympy.Piecewise((x, x > 0), (-x, True))
    tex = sympy.latex(expr)
    panel = FormulaPanel()
    qtbot.addWidget(panel)
    panel.show_formula(FormulaInfo(latex=[tex], output_names=["y"], pretty=pretty_text(expr),
                                   sympy_str=[str(expr)], test_rmse=0.5))
    view = panel.formula_view
    assert view.accessibleDescription() == tex
    assert view.pixmap() is None or view.pixmap().isNull()
    assert "x" in view.text() and "for" in view.text()
    panel.copy_latex()
    assert QApplication.clipboard().text() == tex
    assert "0.5" in panel.rmse_label.text()


def test_formula_panel_says_which_edges_are_missing(qtbot):
    from kanstudio.gui.panels.formula_panel import FormulaPanel
    panel = FormulaPanel()
    qtbot.addWidget(panel)
    panel.show_incomplete(3, 0.25)
    assert "3 edges are still numeric: fix them or run" in panel.note.text()
    assert "Auto-symbolic" in panel.note.text()
    assert panel.formula_view.accessibleDescription() == "" and panel.info() is None
    with qtbot.waitSignal(panel.autoSymbolicRequested):
        panel.note.linkActivated.emit("auto")
    panel.show_incomplete(1)
    assert "1 edge is still numeric: fix it" in panel.note.text()


def test_pareto_panel_plots_error_against_size_and_selects_in_step(qtbot):
    from kanstudio.gui.panels.formula_panel import ParetoRow
    from kanstudio.gui.panels.pareto_panel import ParetoPanel
    panel = ParetoPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 260)
    panel.show()
    assert panel.empty.isVisible() and panel.table.rowCount() == 0 and not panel.use_button.isEnabled()
    rows = [ParetoRow(3, 0.5, "x", "x"), ParetoRow(7, 0.01, "x^{2}", "x**2"),
            ParetoRow(11, float("inf"), "?", "bad")]
    panel.set_rows(rows)
    assert not panel.empty.isVisible() and panel.table.rowCount() == 3
    assert panel.table.item(1, 2).text() == "x**2" and panel.table.item(2, 1).text() == "\u2014"
    assert panel.point_positions() == [(3, 0.5), (7, 0.01)]          # an unusable error is not drawn
    xs, ys = panel.points.getData()
    assert list(xs) == [3, 7] and np.allclose(ys, np.log10([0.5, 0.01]))    # log axis
    # clicking a table row chooses it; the plot marks it
    with qtbot.waitSignal(panel.chosen) as blocker:
        panel.table.selectRow(1)
    assert blocker.args == [1] and panel.selected() == 1 and panel.use_button.isEnabled()
    mx, my = panel.mark.getData()
    assert list(mx) == [7] and np.allclose(my, [-2])
    # clicking a point chooses it too
    pts = panel.points.points()
    with qtbot.waitSignal(panel.chosen) as blocker:
        panel._on_point(panel.points, [pts[0]])
    assert blocker.args == [0] and panel.table.selectedItems()[0].row() == 0
    with qtbot.waitSignal(panel.useRequested) as blocker:
        panel.use_button.click()
    assert blocker.args == [0]
    # select() from the window: no signal back
    with qtbot.assertNotEmitted(panel.chosen):
        panel.select(1)
    assert panel.selected() == 1


def test_training_panel_settings_round_trip_and_validation(qtbot):
    from kanstudio.gui.panels.training_panel import TrainingPanel
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    panel.set_io(2, 1, reset_width=True)
    assert panel.width_edit.text() == "2,5,1" and panel.validate() == ""
    panel.width_edit.setText("2,[3,2],1")
    assert panel.validate() == "" and panel.width_spec() == [[2, 0], [3, 2], [1, 0]]
    panel.width_edit.setText("2,5,2")
    assert "last layer" in panel.validate()
    s = panel.settings()
    s.update(width="2,3,1", grid=7, steps=11, optimizer="adam", lamb=0.01)
    panel.set_settings(s)
    assert panel.settings() == s
    cfg = panel.fit_config()
    assert cfg.steps == 11 and cfg.optimizer == "adam" and cfg.lr is None
    assert [panel.device_combo.itemData(i) for i in range(panel.device_combo.count())][0] == "cpu"


def test_training_plot_draws_runs_on_a_log_scale(qtbot):
    from kanstudio.training.loop import Snapshot
    from kanstudio.gui.panels.training_panel import TrainingPanel
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    assert panel.loss.plot.objectName() == "training_plot"
    assert panel.loss.plot.getPlotItem().ctrl.logYCheck.isChecked()
    panel.loss.begin_run("Fit", 3)
    panel.loss.add_snapshots([Snapshot(k, 3, 1.0 / k, 2.0 / k, 0.1, 0.01 * k) for k in (1, 2, 3)])
    panel.loss.end_run(Snapshot(3, 3, 0.3, 0.6, 0.1, 0.03, True, "completed"))
    panel.loss.begin_run("Retrain", 2)
    panel.loss.add_snapshots([Snapshot(1, 2, 0.2, 0.4, 0.0, 0.01)])
    qtbot.waitUntil(lambda: len(panel.loss.curve_train.getData()[0]) == 4, timeout=2000)   # coalesced redraw
    assert list(panel.loss.curve_train.getData()[0]) == [1, 2, 3, 4]
    saved = panel.loss.curves()
    other = TrainingPanel()
    qtbot.addWidget(other)
    other.loss.set_curves(saved)
    assert other.loss.point_count() == 4


def test_training_plot_axis_labels_decades_in_one_style_without_crowding(qtbot):
    from kanstudio.training.loop import Snapshot
    from kanstudio.gui.panels.training_panel import TrainingPanel
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    axis = panel.loss.plot.getPlotItem().getAxis("left")
    assert axis.logTickStrings([0.0, 1.0, -3.0, 2.0, float(np.log10(2))], 1, 1) == \
        ["1", "10", "10\u207b\u00b3", "10\u00b2", ""]
    (step, major), _minor = axis.logTickValues(-12.2, 1.3, 180, [])      # 13 decades on 180 px
    assert len(major) <= 6 and all(v % step == 0 for v in major) and 0.0 in major
    # The y range moves in half decades around the data, not at every redraw.
    panel.loss.begin_run("Fit", 100)
    panel.loss.add_snapshots([Snapshot(k, 100, 10.0 ** -k, 10.0 ** -k, 0.0, 0.01 * k) for k in (1, 2)])
    panel.loss._redraw()
    first = panel.loss.plot.getPlotItem().getViewBox().viewRange()
    assert first[0][1] >= 100                                              # the run's planned steps
    panel.loss.add_snapshots([Snapshot(3, 100, 0.011, 0.011, 0.0, 0.03)])       # inside the shown decades
    panel.loss._redraw()
    assert panel.loss.plot.getPlotItem().getViewBox().viewRange() == first
    panel.loss.add_snapshots([Snapshot(4, 100, 1e-6, 1e-6, 0.0, 0.04)])         # below: the range follows
    panel.loss._redraw()
    assert panel.loss.plot.getPlotItem().getViewBox().viewRange()[1][0] < -5.9
    # The tick labels carry the powers of ten: no SI scale factor in the title.
    axis.setLabel("RMSE (normalised)")
    assert "x0." not in axis.labelString() and "(m" not in axis.labelString()


def test_error_dialog_copy_details(qtbot):
    from kanstudio.gui.errors import ErrorDialog
    dlg = ErrorDialog("Oops", "Something failed", "Traceback: line 1")
    qtbot.addWidget(dlg)
    dlg.copy_details()
    assert "Something failed" in QApplication.clipboard().text()
    assert "Traceback: line 1" in QApplication.clipboard().text()


def test_worker_runs_jobs_in_order_and_reports_errors(qtbot):
    from kanstudio.gui.background.worker import JobRunner
    runner = JobRunner()
    out, busy = [], []
    runner.busyChanged.connect(busy.append)

    def slow(ctx):
        for k in range(200):
            if ctx.cancelled():
                return "cancelled"
            ctx.emit(k)
            ctx.service()               # side jobs run here, between steps
            time.sleep(0.005)
        return "done"
    job = runner.submit("Slow", slow, on_done=out.append, keep_on_cancel=True)
    runner.submit("Side", lambda ctx: 42, side=True, on_done=out.append)
    runner.submit("Bad", lambda ctx: 1 / 0, on_error=lambda m, d: out.append(("error", m)))
    assert runner.busy
    qtbot.waitUntil(lambda: 42 in out, timeout=5000)       # side jobs run between the main job's steps
    runner.cancel()
    qtbot.waitUntil(lambda: runner.idle(), timeout=5000)
    assert out[-1] == "cancelled" and job.cancel.is_set()
    assert not any(isinstance(o, tuple) for o in out), "pending jobs are dropped by cancel"
    runner.submit("Bad", lambda ctx: 1 / 0, on_error=lambda m, d: out.append(("error", m, "Traceback" in d)))
    qtbot.waitUntil(lambda: runner.idle(), timeout=5000)
    assert out[-1] == ("error", "ZeroDivisionError: division by zero", True)
    assert busy[0] is True and busy[-1] is False
    assert runner.shutdown()


def test_answers_that_finish_together_reach_the_window_one_event_loop_turn_apart(qtbot):
    """Several jobs finishing at once (a formula, its network's picture, its
    attribution) must not run their callbacks back to back: a timer of the UI
    thread gets its turn between them, so their costs never add up to one stall.
    And jobs submitted in a turn reach the worker in the next one."""
    import threading
    from PySide6.QtCore import QTimer
    from kanstudio.gui.background.worker import JobRunner
    runner = JobRunner()
    gate = threading.Event()
    started, finished = threading.Event(), [threading.Event() for _ in range(3)]
    order = []

    def job(name, k):
        def run(ctx):
            started.set()
            gate.wait(5)
            finished[k].set()
            return name
        return run
    try:
        runner.submit("Main", job("main", 0), on_done=order.append)
        for k in (1, 2):
            runner.submit(f"Side {k}", job(f"side {k}", k), side=True, on_done=order.append)
        # the worker gets new jobs in the next turn of the event loop, after the
        # paint the submitting turn asked for
        assert not started.wait(0.2)
        qtbot.waitUntil(started.is_set, timeout=5000)
        gate.set()
        # no event processing here: all three finish in the worker and wait, queued
        assert all(e.wait(5) for e in finished)
        time.sleep(0.2)
        ticks = QTimer()
        ticks.setInterval(0)
        ticks.timeout.connect(lambda: order.append("tick"))
        ticks.start()
        qtbot.waitUntil(lambda: runner.idle() and sum(o != "tick" for o in order) == 3, timeout=5000)
        ticks.stop()
    finally:
        assert runner.shutdown()
    answers = [k for k, o in enumerate(order) if o != "tick"]
    assert [order[k] for k in answers] == ["main", "side 1", "side 2"]      # in the order they finished
    assert all(b - a > 1 for a, b in zip(answers, answers[1:])), f"no turn between answers: {order}"


def test_the_formula_panel_draws_the_formula_against_the_data_where_there_is_room(qtbot):
    import numpy as np
    from kanstudio.gui.panels.formula_panel import FormulaInfo, FormulaPanel
    panel = FormulaPanel()
    qtbot.addWidget(panel)
    panel.resize(700, 260)
    panel.show()
    x = np.linspace(0, 1, 30)
    curve = {"kind": "curve", "x": x, "measured": 2 * x + 0.01, "line_x": x, "line_y": 2 * x,
             "x_label": "t", "y_label": "h"}
    panel.show_formula(FormulaInfo(latex=["2 t"], output_names=["h"], sympy_str=["2*t"], curve=curve))
    assert panel.against_data() is curve and panel.fit_plot.isVisible()
    assert panel.fit_plot.getAxis("bottom").labelText == "t"
    panel.resize(260, 260)                    # a narrow dock: the formula keeps the room
    qtbot.waitUntil(lambda: not panel.fit_plot.isVisible(), timeout=2000)
    panel.resize(700, 260)
    qtbot.waitUntil(lambda: panel.fit_plot.isVisible(), timeout=2000)
    panel.show_message("No model yet.")
    assert panel.against_data() is None and not panel.fit_plot.isVisible()
