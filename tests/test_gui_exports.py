"""Discover in the GUI (formula + Pareto list) and every Export format."""
from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui

WAIT = 120_000


def idle(win):
    return win.runner.idle() and not win.runner.busy


@pytest.fixture
def discovered(qtbot, main_window, hello_csv):
    win = main_window
    win.open_csv(str(hello_csv), accept_defaults=True)
    win.training_panel.width_edit.setText("2,3,1")
    win.training_panel.steps_spin.setValue(3)
    win.action_fit.trigger()                       # a network for the picture and predictions
    qtbot.waitUntil(lambda: idle(win) and win.doc.has_model, timeout=WAIT)
    win.jobs.discover(budget_seconds=20)
    assert win.action_stop.isEnabled()
    qtbot.waitUntil(lambda: idle(win) and win.formula_panel.info() is not None, timeout=WAIT)
    return win


def test_discover_fills_the_formula_and_pareto_list(discovered, qtbot, tmp_path):
    win = discovered
    panel = win.formula_panel
    assert win.pareto_panel.table.rowCount() >= 1
    tex = panel.formula_view.accessibleDescription()
    assert "\\sin" in tex and "e^{" in tex
    assert panel.info().test_rmse < 1e-6
    # saved with the project and shown again after reopening
    path = tmp_path / "disc.kanproj"
    assert win.save_project(str(path))
    win.close_project()
    assert win.open_project(str(path))
    qtbot.waitUntil(lambda: idle(win) and win.formula_panel.info() is not None, timeout=WAIT)
    assert win.pareto_panel.table.rowCount() >= 1
    assert win.formula_panel.formula_view.accessibleDescription() == tex
    assert not win.errors, win.errors


def test_every_export(discovered, qtbot, tmp_path):
    win = discovered
    X = win.doc.dataset.X
    truth = np.exp(np.sin(math.pi * X[:, 0]) + X[:, 1] ** 2)

    tex = tmp_path / "f.tex"
    assert win.export_latex(tex)
    text = tex.read_text(encoding="utf-8")
    assert "\\begin{equation}" in text and "f = " in text and "\\documentclass" in text

    sym = tmp_path / "f.txt"
    assert win.export_sympy(sym)
    assert sym.read_text(encoding="utf-8").startswith("f = exp(")

    py = tmp_path / "f_formula.py"
    assert win.export_python(py)
    spec = importlib.util.spec_from_file_location("f_formula", py)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert np.allclose(mod.f(X[:, 0], X[:, 1]), truth)

    csv = tmp_path / "pred.csv"
    win.export_predictions(csv)
    qtbot.waitUntil(lambda: idle(win) and csv.exists(), timeout=WAIT)
    head = csv.read_text(encoding="utf-8").splitlines()[0].split(",")
    assert head[:4] == ["split", "x", "y", "f"] and "f_network" in head

    png = tmp_path / "net.png"
    assert win.export_network_image(png) and png.read_bytes()[:4] == b"\x89PNG"
    svg = tmp_path / "net.svg"
    assert win.export_network_image(svg) and b"<svg" in svg.read_bytes()[:2000]
    assert not win.errors, win.errors


def test_exports_without_a_formula_explain_why(main_window, tmp_path):
    win = main_window
    assert not win.export_latex(tmp_path / "x.tex")
    assert win.last_error[0] == "No formula yet"
    assert not (tmp_path / "x.tex").exists()
    assert not win.action_export_latex.isEnabled()
