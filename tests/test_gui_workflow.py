"""End to end through the real window (offscreen): import a CSV through the
dialog, fit, inspect and fix an edge, prune one by clicking, undo/redo,
auto-symbolic, read the formula, export LaTeX, save and reopen."""
from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")
from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QDialogButtonBox  # noqa: E402

pytestmark = pytest.mark.gui

WAIT = 60_000   # ms; generous for a loaded 2-core CI machine


def write_three_input_csv(path, n=200, seed=3):
    """y = sin(pi*a) + b^2; c is noise the network should not need."""
    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(-1, 1, size=(3, n))
    y = np.sin(math.pi * a) + b ** 2
    rows = ["a,b,c,y"] + [f"{p:.10g},{q:.10g},{r:.10g},{s:.10g}" for p, q, r, s in zip(a, b, c, y)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def idle(win):
    return win.runner.idle() and not win.runner.busy


def click_edge(qtbot, win, layer, i, j):
    view = win.network_view
    pos = view.mapFromScene(view.edge_scene_pos(layer, i, j))
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)


def formula_values(latex_desc, win, X):
    """Evaluate the formula panel's current formula (its sympy text) on X."""
    from kanstudio.symbolic.formula import evaluate
    from kanstudio.data import parse_expression
    info = win.formula_panel.info()
    expr = parse_expression(info.sympy_str[0].replace("**", "^"), ["a", "b", "c"])
    return evaluate(expr, ["a", "b", "c"], X)


def test_full_workflow(qtbot, main_window, tmp_path):
    win = main_window
    csv = write_three_input_csv(tmp_path / "three.csv")

    # --- import through the dialog, accepting its suggestions
    dlg = win.open_csv(str(csv))
    assert dlg is not None and dlg.isVisible()
    assert dlg.role_of("y") == "target" and dlg.inputs() == ["a", "b", "c"]
    assert dlg.preview.rowCount() > 0
    qtbot.mouseClick(dlg.buttons.button(QDialogButtonBox.StandardButton.Ok), Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: win.doc.has_data, timeout=WAIT)
    assert win.windowTitle().startswith("three")

    # --- fit a [3, 1] network (one edge per input)
    panel = win.training_panel
    panel.width_edit.setText("3,1")
    # long enough (~0.5 s with the compiled kernels) for pictures at 10 Hz to land while it runs
    panel.steps_spin.setValue(200)
    panel.lamb_spin.setValue(0.0)
    # Record what reaches the panel and the view while the worker trains.
    grew, drawn = [], []
    add, draw = panel.loss.add_snapshots, win.network_view.set_picture

    def recording_add(snaps):
        add(snaps)
        grew.append((win.runner.busy, panel.loss.point_count()))

    def recording_draw(pic):
        draw(pic)
        drawn.append((win.runner.busy, len(win.network_view.edge_items())))
    panel.loss.add_snapshots, win.network_view.set_picture = recording_add, recording_draw
    win.action_fit.trigger()
    assert win.action_stop.isEnabled()
    qtbot.waitUntil(lambda: idle(win) and win.doc.has_model, timeout=WAIT)
    panel.loss.add_snapshots, win.network_view.set_picture = add, draw
    live = [n for busy, n in grew if busy]
    assert len(live) >= 2 and live[0] > 0 and live[-1] > live[0], grew    # the loss curve grows during the fit
    assert any(busy and n == 3 for busy, n in drawn), drawn                # the edges are drawn live
    assert not win.action_stop.isEnabled()
    assert panel.loss.curve_train.getData()[0] is not None and len(panel.loss.curve_train.getData()[0]) >= 10
    qtbot.waitUntil(lambda: win.network_view.edge_item(0, 0, 0) is not None, timeout=WAIT)
    assert len(win.network_view.edge_items()) == 3
    assert win.isWindowModified()

    # --- click the a -> y edge, ask for candidates, fix it to sin
    click_edge(qtbot, win, 0, 0, 0)
    insp = win.edge_inspector
    qtbot.waitUntil(lambda: insp.current_edge() == (0, 0, 0), timeout=WAIT)
    qtbot.mouseClick(insp.button_suggest, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(insp.candidates()) > 0 and idle(win), timeout=WAIT)
    names = [c.name for c in insp.candidates()]
    assert "sin" in names
    insp.candidate_table.selectRow(names.index("sin"))
    qtbot.mouseClick(insp.button_fix, Qt.MouseButton.LeftButton)
    assert win.doc.model.layers[0].symbolic_name(0, 0) == "sin"

    # --- prune the c -> y edge by clicking it and pressing Prune
    qtbot.waitUntil(lambda: idle(win), timeout=WAIT)
    click_edge(qtbot, win, 0, 2, 0)
    qtbot.waitUntil(lambda: insp.current_edge() == (0, 2, 0) and insp.button_prune.isEnabled(), timeout=WAIT)
    qtbot.mouseClick(insp.button_prune, Qt.MouseButton.LeftButton)
    assert float(win.doc.model.layers[0].mask[2, 0]) == 0.0
    labels = win.history_panel.labels()
    assert any("sin" in t for t in labels) and any("Prune" in t for t in labels)

    # --- undo both, redo both
    win.action_undo.trigger()
    win.action_undo.trigger()
    m = win.doc.model
    assert float(m.layers[0].mask[2, 0]) == 1.0 and m.layers[0].symbolic_name(0, 0) is None
    win.action_redo.trigger()
    win.action_redo.trigger()
    m = win.doc.model
    assert float(m.layers[0].mask[2, 0]) == 0.0 and m.layers[0].symbolic_name(0, 0) == "sin"

    # --- auto-symbolic makes the rest symbolic; the formula appears
    qtbot.waitUntil(lambda: idle(win), timeout=WAIT)
    win.action_auto_symbolic.trigger()
    qtbot.waitUntil(lambda: idle(win) and win.formula_panel.info() is not None, timeout=WAIT)
    view = win.formula_panel.formula_view
    assert view.objectName() == "formula_view"
    tex = view.accessibleDescription()
    assert "\\sin" in tex and "^{2}" in tex and "b" in tex
    X = win.doc.dataset.X
    truth = np.sin(math.pi * X[:, 0]) + X[:, 1] ** 2
    assert np.sqrt(np.mean((formula_values(tex, win, X) - truth) ** 2)) < 0.05
    assert view.pixmap() is not None and not view.pixmap().isNull()

    # --- export LaTeX; save, close, reopen: same formula, same history
    out = tmp_path / "formula.tex"
    assert win.export_latex(str(out))
    assert tex in out.read_text(encoding="utf-8")
    proj = tmp_path / "three.kanproj"
    assert win.save_project(str(proj))
    assert not win.isWindowModified()
    history = win.history_panel.labels()
    assert win.close_project()
    assert not win.doc.has_data and win.formula_panel.info() is None
    assert win.open_project(str(proj))
    qtbot.waitUntil(lambda: idle(win) and win.formula_panel.info() is not None, timeout=WAIT)
    assert win.formula_panel.formula_view.accessibleDescription() == tex
    assert win.history_panel.labels() == history
    assert win.training_panel.settings()["width"] == "3,1"
    assert not win.errors, win.errors
