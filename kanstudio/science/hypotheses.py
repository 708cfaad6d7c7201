"""Formula hypotheses (KAN 2.0): is this edge a given library function, is
the whole output a given formula?  Fix the hypothesis, retrain the rest and
compare losses with the unconstrained model; always a verdict, never a raise.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import sympy
import torch

from ..model import KAN
from .separability import formula_function

__all__ = ["HypothesisResult", "test_formula_hypothesis", "test_output_hypothesis"]


# ---------------------------------------------------------------- hypotheses
@dataclass
class HypothesisResult:
    hypothesis: str
    loss_reference: float        # unconstrained (model retrained as long), RMSE
    loss_before: float           # constrained, before retraining
    loss_after: float            # constrained, after retraining
    ratio: float                 # loss_after / loss_reference (with a tiny floor)
    supported: bool
    verdict: str
    model: Optional[KAN] = None  # the constrained, retrained model


def _verdict(ratio: float, tol: float) -> tuple[bool, str]:
    change = 100 * (ratio - 1)
    if ratio < 1:
        return True, f"supported: loss changed by {change:+.0f}% (the hypothesis fits better)"
    if ratio <= 1 + tol:
        return True, f"supported: loss changed by {change:+.0f}% (≤ tolerance {100 * tol:.0f}%)"
    if ratio >= 2:
        return False, f"rejected: loss {ratio:.3g}x higher"
    return False, f"rejected: loss changed by {change:+.0f}% (> tolerance {100 * tol:.0f}%)"


def _rmse(model: KAN, x, y) -> float:
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(x) - y.reshape(len(y), -1)) ** 2)))


def test_formula_hypothesis(model: KAN, x, y, layer: int, i: int, j: int, name: str, steps: int = 20,
                            tolerance: float = 0.25, x_test=None, y_test=None) -> HypothesisResult:
    """Is edge (layer, i, j) the library function ``name``?  Fix it (a, b, c, d
    fitted to the edge), retrain everything for ``steps`` and compare the RMSE
    with a copy of the model retrained as long without the constraint."""
    from ..symbolic import fix
    from ..training import fit
    xe, ye = (x, y) if x_test is None else (x_test, y_test)
    floor = 1e-6 * float(torch.as_tensor(y).std()) + 1e-12
    free = model.copy()
    fit(free, x, y, steps=steps, update_grid=False)
    hyp = model.copy()
    fix(hyp, x, layer, i, j, name)
    before = _rmse(hyp, xe, ye)
    fit(hyp, x, y, steps=steps, update_grid=False)
    ref, after = _rmse(free, xe, ye), _rmse(hyp, xe, ye)
    ratio = (after + floor) / (ref + floor)
    ok, text = _verdict(ratio, tolerance)
    return HypothesisResult(f"edge ({layer},{i},{j}) = {name}", ref, before, after, ratio, ok, text, hyp)


def test_output_hypothesis(model: KAN, dataset, expr: sympy.Expr, tolerance: float = 0.25,
                           split: str = "test") -> HypothesisResult:
    """Is the whole output ``expr`` (in the data's variables and units)?  Compares
    the formula's RMSE with the model's on the dataset's ``split`` rows."""
    idx = np.asarray(dataset.test_idx if split == "test" else dataset.train_idx)
    X, Y = np.asarray(dataset.X, dtype=np.float64)[idx], np.asarray(dataset.Y, dtype=np.float64)[idx, 0]
    fn = formula_function(expr, list(dataset.input_names))
    with torch.no_grad():
        pred = fn(torch.as_tensor(X)).numpy()
    f_rmse = float(np.sqrt(np.mean((pred - Y) ** 2))) if np.all(np.isfinite(pred)) else float("inf")
    xt, yt = dataset.tensors(split)
    m_rmse = _rmse(model, xt, yt) * float(abs(np.asarray(dataset.y_scale).reshape(-1)[0]))
    floor = 1e-6 * float(np.std(Y)) + 1e-12
    ratio = (f_rmse + floor) / (m_rmse + floor)
    ok, text = _verdict(ratio, tolerance)
    return HypothesisResult(f"y = {sympy.sstr(expr)}", m_rmse, f_rmse, f_rmse, ratio, ok, text, None)


# Not test functions, whatever pytest thinks of names that start with "test_".
for _f in (test_formula_hypothesis, test_output_hypothesis):
    _f.__test__ = False
