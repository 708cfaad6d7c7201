"""Model ▸ Science through the real window (offscreen): the actions exist, the
parameter functions push undoable commands, the tests report verdicts."""
from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

pytest.importorskip("pytestqt")
from PySide6.QtWidgets import QApplication, QMessageBox  # noqa: E402

from kanstudio.gui import science_actions as sa  # noqa: E402

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
    from kanstudio.engine.network import KAN
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
    win.stack.undo()
    assert list(win.doc.dataset.input_names) == ["u", "v"] and win.doc.model.n_inputs == 2
    assert win.training_panel._n_in == 2
    win.stack.redo()
    assert win.doc.model.n_inputs == 3
    settle(qtbot, win)


def test_bad_input_goes_to_show_error(qtbot, win):
    n = win.stack.count()
    assert sa.add_aux_input(win, "z", "u +* v") is None
    assert win.last_error[0] == "Add auxiliary input"
    assert sa.compile_formula(win, "import os") is None
    assert sa.auto_swap(win) is None and "fit one first" in win.last_error[1]
    assert win.stack.count() == n
    settle(qtbot, win)


def test_compile_formula_replaces_model_and_undo_restores(qtbot, win):
    set_small_model(win)
    before = outputs(win)
    assert sa.compile_formula(win, "(u+v)/(1+u*v)") is not None
    ds = win.doc.dataset
    pred = ds.denormalize_y(outputs(win))[:, 0]
    assert np.max(np.abs(pred - ds.Y[:, 0])) < 1e-9
    win.stack.undo()
    assert np.array_equal(outputs(win), before)
    settle(qtbot, win)


def test_structure_edits_undo(qtbot, win):
    set_small_model(win)
    before = outputs(win)
    for do in (sa.auto_swap, lambda w: sa.expand_width(w, 1, 2, "sum"), sa.expand_depth,
               lambda w: sa.define_module(w, "x1->h0,h1")):
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
    dlg.accept()
    assert win.doc.model is not None and win.doc.model.n_inputs == 3

    win.science_actions["action_tutorial"].trigger()
    box = win.last_science_dialog
    assert isinstance(box, QMessageBox) and "relativistic_velocity_addition.csv" in box.informativeText()
    box.close()
    settle(qtbot, win)
