"""The KAN paper's loop by clicking, with the app's defaults: Open CSV, Fit,
Prune (auto), Auto-symbolic, Retrain -- each action pressed as soon as the
last one is done.  It must end on the generating law: relative RMSE <= 1e-2
and at most 3x the law's operations + 6 (issue "The point-and-click loop
lands on the law")."""
from __future__ import annotations

import math

import numpy as np
import pytest
import sympy

pytest.importorskip("pytestqt")

pytestmark = pytest.mark.gui

WAIT = 120_000   # ms; generous for a loaded 2-core CI machine

LAWS = {
    "exp(sin(pi x) + y^2)": ("exp(sin(pi*x) + y**2)", ("x", "y"), (-1.0, 1.0)),
    "x y / (x + y)": ("x*y/(x + y)", ("x", "y"), (0.5, 2.0)),
    "sqrt(1 + p^2 + q^2)": ("sqrt(1 + p**2 + q**2)", ("p", "q"), (-1.0, 1.0)),
    "exp(-(a^2 + b^2))": ("exp(-(a**2 + b**2))", ("a", "b"), (-1.5, 1.5)),
    "(a + 1)/(b + 2)": ("(a + 1)/(b + 2)", ("a", "b"), (0.0, 2.0)),
    "sqrt(a^2 + b^2)": ("sqrt(a**2 + b**2)", ("a", "b"), (0.5, 2.0)),
    "a sin(b)": ("a*sin(b)", ("a", "b"), (-1.5, 1.5)),
}
# Laws the loop does not land yet (strict: the day one passes, it leaves this
# set).  sqrt(1 + p^2 + q^2) left it in session 7, when Prune learned to try one
# hidden node in place of the one-per-input nodes the penalised fit leaves;
# a*sin(b) came in with session 10, when that node may also be a product.
NOT_YET: set = set()


def _csv(path, text, names, box, n=1000, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.uniform(*box, size=(n, len(names)))
    law = sympy.sympify(text)
    y = sympy.lambdify(sympy.symbols(names), law, "numpy")(*X.T)
    rows = [",".join([*names, "out"])] + [",".join(f"{v:.17g}" for v in (*x, t)) for x, t in zip(X, y)]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return law


def _idle(win):
    return win.runner.idle() and not win.runner.busy


def _press(qtbot, win, action, entries_before):
    assert action.isEnabled(), action.text()
    action.trigger()
    qtbot.waitUntil(lambda: _idle(win) and len(win.history_panel.labels()) > entries_before, timeout=WAIT)


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason="issue 20"))
                                  if n in NOT_YET else n for n in LAWS])
def test_the_default_loop_lands_on_the_law(qtbot, main_window, tmp_path, name):
    from kanstudio.data import parse_expression
    from kanstudio.symbolic.formula import evaluate
    text, names, box = LAWS[name]
    win = main_window
    law = _csv(tmp_path / "law.csv", text, names, box)
    win.open_csv(str(tmp_path / "law.csv"), accept_defaults=True)
    qtbot.waitUntil(lambda: win.doc.has_data and _idle(win), timeout=WAIT)
    for action in (win.action_fit, win.action_prune, win.action_auto_symbolic, win.action_retrain):
        _press(qtbot, win, action, len(win.history_panel.labels()))
    panel = win.formula_panel
    qtbot.waitUntil(lambda: panel.info() is not None and panel.info().source == "network", timeout=WAIT)
    expr = parse_expression(panel.info().sympy_str[0], list(names))
    X = win.doc.dataset.X
    y = win.doc.dataset.Y[:, 0]
    rel = float(np.sqrt(np.mean((evaluate(expr, list(names), X) - y) ** 2)) / np.std(y))
    ops, law_ops = sympy.count_ops(expr), sympy.count_ops(law)
    assert rel <= 1e-2, (name, str(expr), rel)
    assert ops <= 3 * law_ops + 6, (name, str(expr), ops, law_ops)
    # the formula panel draws it against the data
    curve = panel.against_data()
    assert curve is not None and curve["kind"] == "parity"
    assert np.allclose(curve["measured"], curve["x"], rtol=0, atol=0.05 * np.std(y))
    assert math.isfinite(panel.info().test_rmse)


def test_auto_symbolic_hands_unfitted_edges_to_the_engine_and_says_so(qtbot, main_window, tmp_path):
    """exp(-x) sin(4x) + y^2: after Fit and Prune, edges no library function
    serves go to the symbolic engine; the status bar says how many it fixed,
    their badges read f(x), and the formula is complete (no numeric edge)."""
    win = main_window
    _csv(tmp_path / "damped.csv", "exp(-x)*sin(4*x) + y**2", ("x", "y"), (-1.0, 1.0))
    win.open_csv(str(tmp_path / "damped.csv"), accept_defaults=True)
    qtbot.waitUntil(lambda: win.doc.has_data and _idle(win), timeout=WAIT)
    for action in (win.action_fit, win.action_prune, win.action_auto_symbolic):
        _press(qtbot, win, action, len(win.history_panel.labels()))
    qtbot.waitUntil(lambda: "symbolic engine found" in win.status_label.text(), timeout=WAIT)
    assert any(item.badge == "f(x)" for item in win.network_view.edge_items() if item.symbolic)
    panel = win.formula_panel
    qtbot.waitUntil(lambda: panel.info() is not None and panel.info().source == "network", timeout=WAIT)
    assert math.isfinite(panel.info().test_rmse)
