"""Model ▸ Science through the real window (offscreen): the actions exist, the
parameter functions push undoable commands, the tests report verdicts."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from kanstudio.gui.window import science_actions as sa  # noqa: E402

pytestmark = pytest.mark.gui

NAMES = ["action_add_aux_input", "action_define_module", "action_compile_formula", "action_expand_width",
         "action_expand_depth", "action_auto_swap", "action_hypothesis_tests", "action_test_formula",
         "action_tutorial"]
WAIT = 30_000


def write_velocity_csv(path, n=120, seed=0):
    rng = np.random.default_rng(seed)
    u, v = rng.uniform(-0.9, 0.9, size=(2, n))
    w = (u + v) / (1 + u * v)
    path.write_text("\n".join(["u,v,w"] + [f"{a:.10g},{b:.10g},{c:.10g}" for a, b, c in zip(u, v, w)]) + "\n",
                    encoding="utf-8")
    return path


@pytest.fixture
def win(main_window, tmp_path):
    w = main_window
    if getattr(w, "science_menu", None) is None:
        sa.install_science_actions(w)
    w.open_csv(str(write_velocity_csv(tmp_path / "velocity.csv")), accept_defaults=True)
    assert w.doc.has_data and list(w.doc.dataset.input_names) == ["u", "v"]
    return w


def set_small_model(w):
    from kanstudio.model.network import KAN
    from kanstudio.project import SetModel
    m = KAN([2, 3, 1], grid=5, seed=1)
    m.set_names(["u", "v"], ["w"])
    w.doc.push(SetModel("Test model", m))
    return m


def outputs(w):
    with torch.no_grad():
        return w.doc.model(w.doc.tensors("all")[0]).numpy().copy()


def settle(qtbot, w):
    qtbot.waitUntil(lambda: w.runner.idle() and not w.runner.busy, timeout=WAIT)


def test_actions_are_installed_once(win):
    for name in NAMES:
        assert win.findChild(type(win.science_actions[name]), name) is not None, name
    menu = win.science_menu
    assert [a.objectName() for a in menu.actions() if a.objectName()] == NAMES
    assert sa.install_science_actions(win) is menu
    # no model yet: only the data actions are on
    assert win.science_actions["action_compile_formula"].isEnabled()
    assert not win.science_actions["action_auto_swap"].isEnabled()


def test_add_aux_input_then_undo(qtbot, win):
    set_small_model(win)
    before = outputs(win)
    assert sa.add_aux_input(win, "uv", "u*v") is not None
    ds, m = win.doc.dataset, win.doc.model
    assert list(ds.input_names) == ["u", "v", "uv"] and m.n_inputs == 3
    assert np.allclose(ds.X[:, 2], ds.X[:, 0] * ds.X[:, 1])
    assert np.allclose(outputs(win), before)
    assert win.training_panel._n_in == 3
    assert win.training_panel.width_edit.text().replace(" ", "").startswith("3,")   # hidden layers kept
    win.stack.undo()
    assert list(win.doc.dataset.input_names) == ["u", "v"] and win.doc.model.n_inputs == 2
    assert win.training_panel._n_in == 2 and win.training_panel.width_edit.text().replace(" ", "").startswith("2,")
    win.stack.redo()
    assert win.doc.model.n_inputs == 3
    settle(qtbot, win)


def test_bad_input_goes_to_show_error(qtbot, win):
    n = win.stack.count()
    assert sa.add_aux_input(win, "z", "u +* v") is None
    assert win.last_error[0] == "Add auxiliary input"
    assert sa.compile_formula(win, "import os", background=False) is None
    assert sa.auto_swap(win, background=False) is None and "fit one first" in win.last_error[1]
    assert win.stack.count() == n
    settle(qtbot, win)


def test_compile_formula_replaces_model_and_undo_restores(qtbot, win):
    set_small_model(win)
    before = outputs(win)
    assert sa.compile_formula(win, "(u+v)/(1+u*v)", background=False) is not None
    ds = win.doc.dataset
    pred = ds.denormalize_y(outputs(win))[:, 0]
    assert np.max(np.abs(pred - ds.Y[:, 0])) < 1e-9
    win.stack.undo()
    assert np.array_equal(outputs(win), before)
    settle(qtbot, win)


def test_structure_edits_undo(qtbot, win):
    set_small_model(win)
    before = outputs(win)
    for do in (lambda w: sa.auto_swap(w, background=False), lambda w: sa.expand_width(w, 1, 2, "sum", False),
               lambda w: sa.expand_depth(w, background=False), lambda w: sa.define_module(w, "x1->h0,h1")):
        n = win.stack.count()
        assert do(win) is not None, win.last_error
        assert win.stack.count() == n + 1
    assert win.doc.model.depth == 3
    for _ in range(4):
        win.stack.undo()
    assert win.doc.model.depth == 2 and np.array_equal(outputs(win), before)
    settle(qtbot, win)


def test_hypothesis_tests_and_formula_test(qtbot, win):
    from kanstudio.project.commands_science import CompileFormula
    win.doc.push(CompileFormula("(u+v)/(1+u*v)"))
    text = sa.hypothesis_tests(win, background=False)
    assert "additive:" in text and "multiplicative:" in text
    assert "not additively separable" in text
    assert win.last_science_dialog.text_view.toPlainText() == text
    # the action runs it on the worker and shows the same verdicts
    win.last_science_result = None
    win.science_actions["action_hypothesis_tests"].trigger()
    qtbot.waitUntil(lambda: win.last_science_result is not None, timeout=WAIT)
    assert win.last_science_result == text
    res = sa.test_formula(win, 0, 0, 0, "x", steps=2, background=False)
    assert res is not None and res.verdict.startswith(("supported", "rejected"))
    assert "Verdict:" in win.last_science_dialog.text_view.toPlainText()
    assert sa.test_formula(win, 5, 0, 0, "x", background=False) is None
    settle(qtbot, win)


def test_dialogs_validate_and_apply(qtbot, win):
    win.science_actions["action_add_aux_input"].trigger()
    dlg = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "aux_input_dialog" and w.isVisible())
    dlg.name_edit.setText("s")
    dlg.expr_edit.setText("u +")
    assert not dlg.ok_button().isEnabled() and dlg.status.text()
    dlg.expr_edit.setText("u + v")
    assert dlg.ok_button().isEnabled() and "first values" in dlg.status.text()
    dlg.accept()
    assert list(win.doc.dataset.input_names) == ["u", "v", "s"]

    win.science_actions["action_compile_formula"].trigger()
    dlg = next(w for w in QApplication.topLevelWidgets() if w.objectName() == "compile_dialog" and w.isVisible())
    dlg.edit.setText("u*v + s")
    assert dlg.ok_button().isEnabled()
    dlg.accept()            # compiled on the worker, pushed when it comes back
    qtbot.waitUntil(lambda: win.doc.model is not None, timeout=WAIT)
    assert win.doc.model.n_inputs == 3
    settle(qtbot, win)


def test_heavy_edits_run_on_the_worker_and_undo(qtbot, win):
    """Compile / expand / auto-swap leave the UI thread at once; the result
    arrives as one undoable command."""
    set_small_model(win)
    before, n = outputs(win), win.stack.count()
    cmd = sa.compile_formula(win, "(u+v)/(1+u*v)")
    assert cmd is not None and win.runner.busy          # submitted, not done here
    assert np.array_equal(outputs(win), before) and win.stack.count() == n
    qtbot.waitUntil(lambda: win.stack.count() == n + 1, timeout=WAIT)
    ds = win.doc.dataset
    assert np.max(np.abs(ds.denormalize_y(outputs(win))[:, 0] - ds.Y[:, 0])) < 1e-9
    compiled = outputs(win)
    for do in (sa.expand_depth, lambda w: sa.expand_width(w, 1, 1, "sum"), sa.auto_swap):
        settle(qtbot, win)
        k = win.stack.count()
        assert do(win) is not None, win.last_error
        qtbot.waitUntil(lambda: win.stack.count() == k + 1, timeout=WAIT)
        assert np.allclose(outputs(win), compiled, atol=1e-9)     # growing and swapping keep the function
    settle(qtbot, win)
    for _ in range(4):
        win.stack.undo()
    assert np.array_equal(outputs(win), before)
    settle(qtbot, win)


def test_formula_panel_shows_aux_inputs_as_expressions(qtbot, win, tmp_path):
    """An auxiliary input uv = u*v reads as u*v in the formula panel, the LaTeX
    export and the Pareto list."""
    from kanstudio.project.commands_science import AddAuxInput, CompileFormula
    win.doc.push(AddAuxInput("uv", "u*v"))
    win.doc.push(CompileFormula("(u+v)/(1+uv)"))
    panel = win.formula_panel
    qtbot.waitUntil(lambda: panel.info() is not None and "uv" not in " ".join(panel.info().sympy_str),
                    timeout=WAIT)
    settle(qtbot, win)
    info = panel.info()
    text = info.sympy_str[0]
    assert "u*v" in text and "uv" not in text.replace("u*v", "")
    assert "uv" not in panel.latex().replace("u v", "")
    assert "uv" not in panel.formula_view.accessibleDescription().replace("u v", "")
    assert info.test_rmse < 1e-6          # the substituted formula is evaluated on the original columns
    out = tmp_path / "w.tex"
    win.export_latex(str(out))
    tex = out.read_text(encoding="utf-8")
    assert "u v" in tex and "uv" not in tex.replace("u v", "")
    # the Pareto list: rows from a Discover run in the auxiliary column
    win.doc.project.set_pareto([{"complexity": 5, "test_rmse": 0.01, "formula": "2*uv + u", "latex": "2 uv + u",
                                 "stage": "test"}])
    qtbot.waitUntil(lambda: bool(win.pareto_panel.rows()) and "u*v" in win.pareto_panel.rows()[0].text, timeout=WAIT)
    assert "uv" not in win.pareto_panel.rows()[0].latex.replace("u v", "")
    # undo the auxiliary input: it is no longer substituted; redo brings it back
    settle(qtbot, win)
    win.stack.undo()
    win.stack.undo()
    assert "uv" not in win.doc.dataset.input_names
    from kanstudio.project.aux_formula import aux_definitions
    assert aux_definitions(win.doc.project) == {}
    win.stack.redo()
    win.stack.redo()
    assert aux_definitions(win.doc.project) == {"uv": "u*v"}
    # saved and reopened, the formula still reads in the original columns
    settle(qtbot, win)
    path = tmp_path / "aux.kanproj"
    assert win.save_project(str(path))
    assert win.open_project(str(path))
    qtbot.waitUntil(lambda: panel.info() is not None and "u*v" in panel.info().sympy_str[0], timeout=WAIT)
    assert list(win.doc.dataset.input_names) == ["u", "v", "uv"]
    settle(qtbot, win)


def test_discover_candidates_read_in_original_columns(qtbot, win, monkeypatch):
    """A Discover run over an auxiliary input: its candidates are substituted
    once on the worker, so project.pareto, the Pareto list and the chosen
    candidate's formula all read u*v (discovery and its child process are stubbed: fast)."""
    import sympy
    import kanstudio.discovery as discovery_api   # the GUI looks discover_in_child up there
    from kanstudio.discovery.pipeline import DiscoverResult
    from kanstudio.discovery.judgement.pareto import FormulaCandidate
    from kanstudio.project.commands_science import AddAuxInput
    win.doc.push(AddAuxInput("uv", "u*v"))
    u, v, uv = sympy.symbols("u v uv", real=True)
    cands = [FormulaCandidate(u + v, 3, 0.3, stage="stub"), FormulaCandidate((u + v) / (1 + uv), 9, 1e-9, stage="stub")]

    def fake(dataset, config, progress=None, cancel=None):
        return DiscoverResult(cands[1].formula, cands[1].latex, cands[1].sympy_str, 0.0, 1e-9, 9, list(cands), [],
                              candidates=list(cands), input_names=list(dataset.input_names), target_name="w",
                              chosen=cands[1], status="exact", status_reason="error at round-off")
    monkeypatch.setattr(discovery_api, "discover_in_child", fake)
    settle(qtbot, win)
    win.jobs.discover()
    panel = win.formula_panel
    qtbot.waitUntil(lambda: panel.info() is not None and win.doc.project.pareto is not None, timeout=WAIT)
    settle(qtbot, win)
    assert [r["formula"] for r in win.doc.project.pareto] == ["u + v", "(u + v)/(u*v + 1)"]
    assert [r.text for r in win.pareto_panel.rows()] == ["u + v", "(u + v)/(u*v + 1)"]
    assert "uv" not in win.pareto_panel.rows()[1].latex.replace("u v", "")
    assert "uv" not in panel.info().sympy_str[0] and "u*v" in panel.info().sympy_str[0]
    assert "uv" not in panel.latex().replace("u v", "")
    assert panel.verdict.isVisible() and "exact" in panel.verdict_text()      # the status beside the formula
    win.jobs.choose_pareto(0)                     # another candidate: the verdict was not about it
    assert not panel.verdict.isVisible()


def test_discover_opens_its_formula_as_an_editable_network_with_one_undo_entry(qtbot, win, monkeypatch):
    import sympy
    import kanstudio.discovery as discovery_api   # the GUI looks discover_in_child up there
    from kanstudio.discovery.pipeline import DiscoverResult
    from kanstudio.discovery.judgement.pareto import FormulaCandidate
    u, v = sympy.symbols("u v", real=True)
    best = FormulaCandidate(u * v / (u + v), 7, 1e-12, stage="stub")
    cands = [FormulaCandidate(u + v, 3, 0.3, stage="stub"), best]

    def fake(dataset, config, progress=None, cancel=None):
        return DiscoverResult(best.formula, best.latex, best.sympy_str, 0.0, 1e-12, 7, list(cands), [],
                              candidates=list(cands), input_names=list(dataset.input_names), target_name="w",
                              chosen=best, status="exact", status_reason="error at round-off")
    monkeypatch.setattr(discovery_api, "discover_in_child", fake)
    settle(qtbot, win)
    assert not win.doc.has_model
    before = list(win.history_panel.labels())
    win.jobs.discover()
    qtbot.waitUntil(lambda: win.doc.has_model, timeout=WAIT)
    settle(qtbot, win)
    added = win.history_panel.labels()[len(before):]
    assert len(added) == 1 and added[0].startswith("Discover (exact)")        # one undoable entry
    X = win.doc.dataset.X
    want = X[:, 0] * X[:, 1] / (X[:, 0] + X[:, 1])
    got = win.doc.dataset.denormalize_y(outputs(win)).reshape(-1)
    assert np.allclose(got, want, rtol=1e-8, atol=1e-10)                        # the network computes the law
    qtbot.waitUntil(lambda: win.network_view.edge_item(0, 0, 0) is not None, timeout=WAIT)
    panel = win.formula_panel
    assert panel.verdict.isVisible() and "exact" in panel.verdict_text()
    assert panel.info() is not None and "u v" in panel.latex()
    m = win.doc.model
    assert any(bool(m.layers[0].sym_mask[i, j]) for i in range(m.n_nodes(0)) for j in range(m.n_nodes(1)))
    win.stack.undo()                              # and it undoes like any edit
    assert not win.doc.has_model
    # the Pareto dock: another candidate, "Use this formula", one more undoable entry
    dock = win.pareto_panel
    assert [r.text for r in dock.rows()] == ["u + v", "u*v/(u + v)"]
    dock.table.selectRow(0)
    qtbot.waitUntil(lambda: panel.info() is not None and panel.info().sympy_str[0] == "u + v", timeout=WAIT)
    assert not panel.verdict.isVisible()          # Discover's verdict was on the other candidate
    dock.use_button.click()
    qtbot.waitUntil(lambda: win.doc.has_model, timeout=WAIT)
    settle(qtbot, win)
    assert win.history_panel.labels()[-1] == "Use formula: u + v"
    got = win.doc.dataset.denormalize_y(outputs(win)).reshape(-1)
    assert np.allclose(got, X[:, 0] + X[:, 1], rtol=1e-8, atol=1e-10)
    assert dock.selected() == 0


def test_attribution_panel_ranks_inputs_and_prunes_the_weakest(qtbot, win):
    from kanstudio.science.attribution import input_scores
    from kanstudio.project.commands_science import AddAuxInput, CompileFormula
    win.doc.push(AddAuxInput("noise", "u*v"))
    win.doc.push(CompileFormula("u + v + 0.001*noise"))
    dock, panel = win.dock_attribution, win.attribution_panel
    assert dock.objectName() == "dock_attribution" and dock.widget() is panel
    expected = input_scores(win.doc.model, win.doc.tensors("train")[0])
    qtbot.waitUntil(lambda: len(panel.chart.names) == 3, timeout=WAIT)
    settle(qtbot, win)
    assert panel.chart.names[-1] == "noise"                      # strongest first, weakest last
    got = dict(zip(panel.chart.names, panel.chart.scores))
    assert np.allclose([got[n] for n in win.doc.dataset.input_names], expected)
    rects = dict(panel.chart.bar_rects())
    assert rects["noise"].width() < rects["u"].width()
    from PySide6.QtCore import QEvent, QPoint
    from PySide6.QtGui import QHelpEvent
    from PySide6.QtWidgets import QToolTip
    y = int(rects["noise"].center().y())
    panel.chart.event(QHelpEvent(QEvent.Type.ToolTip, QPoint(5, y), panel.chart.mapToGlobal(QPoint(5, y))))
    assert QToolTip.text().startswith("noise: score")
    panel.threshold_spin.setValue(1e-6)
    assert not panel.prune_button.isEnabled()
    panel.threshold_spin.setValue(0.05)
    assert panel.prune_button.isEnabled() and panel.weakest() == ["noise"]
    before = outputs(win)
    n = win.stack.count()
    qtbot.mouseClick(panel.prune_button, Qt.MouseButton.LeftButton)
    assert win.stack.count() == n + 1
    assert list(win.doc.dataset.input_names) == ["u", "v"] and win.doc.model.n_inputs == 2
    assert np.allclose(outputs(win), before, atol=0.01)         # the weak input hardly mattered
    qtbot.waitUntil(lambda: len(panel.chart.names) == 2, timeout=WAIT)   # refreshed for the new model
    win.stack.undo()
    assert win.doc.model.n_inputs == 3 and "noise" in win.doc.dataset.input_names
    qtbot.waitUntil(lambda: len(panel.chart.names) == 3, timeout=WAIT)
    settle(qtbot, win)


def _dialog(name):
    return next(w for w in QApplication.topLevelWidgets() if w.objectName() == name and w.isVisible())


def test_every_model_action_through_its_menu_entry(qtbot, win):
    """The menu entries not driven above: module, width, depth, swap, formula test."""
    set_small_model(win)
    n = win.stack.count()
    win.science_actions["action_define_module"].trigger()
    dlg = _dialog("module_dialog")
    dlg.edit.setText("x1->h0,h1")
    assert dlg.ok_button().isEnabled()
    dlg.accept()
    assert win.stack.count() == n + 1 and win.stack.text(n).startswith("Define module")
    win.science_actions["action_expand_width"].trigger()
    dlg = _dialog("expand_width_dialog")
    dlg.count.setValue(2)
    dlg.accept()
    qtbot.waitUntil(lambda: win.stack.count() == n + 2, timeout=WAIT)
    assert win.doc.model.width[1][0] == 5
    settle(qtbot, win)
    win.science_actions["action_expand_depth"].trigger()
    qtbot.waitUntil(lambda: win.stack.count() == n + 3, timeout=WAIT)
    assert win.doc.model.depth == 3
    settle(qtbot, win)
    win.science_actions["action_auto_swap"].trigger()
    qtbot.waitUntil(lambda: win.stack.count() == n + 4, timeout=WAIT)
    assert win.stack.text(n + 3).startswith("Auto-swap")
    settle(qtbot, win)
    win.last_science_result = None
    win.science_actions["action_test_formula"].trigger()
    dlg = _dialog("test_formula_dialog")
    dlg.fn.setCurrentText("x")
    dlg.accept()
    qtbot.waitUntil(lambda: win.last_science_result is not None, timeout=WAIT)
    assert win.last_science_result.verdict.startswith(("supported", "rejected"))
    assert win.stack.count() == n + 4              # a hypothesis test does not edit the model
    settle(qtbot, win)
