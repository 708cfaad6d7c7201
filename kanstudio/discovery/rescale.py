"""Data in extreme units: searched in units near 1, reported in the user's own.

A column measured in small or large units (1e-9 m, 1e12 Pa) puts constants
such as 1e18 into every formula, and every tolerance of the search -- the
symbolic engine's, the constant refits', the snapping's, sympy's exact
arithmetic -- is tuned for numbers near 1: at 1e-12 a search returned a
constant, at 1e-9 one simplify took 24 GB.  So such a column is divided by a
power of ten before the search (a power of ten leaves every law's form and
every other constant as it was), and the result is mapped back: x -> x / s in
each formula, y -> s_y * y, errors times s_y.  Columns of ordinary size
(typically within 1e-5 .. 1e5) are left alone.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Optional, Sequence

import numpy as np
import sympy

__all__ = ["Rescaling", "rescaling"]

EXTREME = 5.0      # a column whose typical size is beyond 10^+-EXTREME is rescaled


@dataclasses.dataclass(frozen=True)
class Rescaling:
    x: tuple            # power of ten each input is divided by (1.0: left alone)
    y: float            # ... and the target

    @property
    def active(self) -> bool:
        return self.y != 1.0 or any(s != 1.0 for s in self.x)

    def note(self, names: Sequence[str], target: str) -> str:
        parts = [f"{n} / {s:g}" for n, s in zip(names, self.x) if s != 1.0]
        if self.y != 1.0:
            parts.append(f"{target} / {self.y:g}")
        return ("searched in rescaled units (" + ", ".join(parts) + "): the formulas are given in the table's "
                "own units")

    def apply(self, X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return X / np.asarray(self.x), y / self.y

    def formula(self, expr, symbols):
        """f(x') in rescaled units -> s_y * f(x / s) in the table's."""
        if expr is None:
            return None
        rep = {s: s / sympy.Float(k) for s, k in zip(symbols, self.x) if k != 1.0}
        out = expr.xreplace(rep) if rep else expr
        out = sympy.Float(self.y) * out if self.y != 1.0 else out
        # a common power of ten out of sums: 1e-12*a/(b + c), not a/(1e12*b + 1e12*c)
        return sympy.factor_terms(out)


def _power_of_ten(v: np.ndarray) -> float:
    size = float(np.sqrt(np.mean(np.square(v / (np.max(np.abs(v)) or 1.0))))) * float(np.max(np.abs(v)))
    if not math.isfinite(size) or size == 0.0:
        return 1.0
    e = math.log10(size)
    return 10.0 ** round(e) if abs(e) > EXTREME else 1.0


def rescaling(X: np.ndarray, y: np.ndarray) -> Rescaling:
    """The power of ten for each column (1.0 for those of ordinary size)."""
    return Rescaling(tuple(_power_of_ten(X[:, k]) for k in range(X.shape[1])), _power_of_ten(y))


def unscale_result(res, r: Rescaling, symbols, names: Sequence[str], digits: int = 4):
    """The DiscoverResult of a search in rescaled units, in the table's units.  The
    networks behind the formulas worked in the rescaled units: each headline is
    recompiled into a network on the original columns instead."""
    from mpmath.libmp import prec_to_dps
    from ..symbolic import complexity, finish
    sy = r.y

    def cand(c):
        if c is None:
            return None
        # as many digits as the search printed this formula with (it keeps more where
        # four would cost the accuracy of an exact fit: Context._finished)
        f = finish(r.formula(c.formula, symbols), max([digits] + [prec_to_dps(x._prec)
                                                                   for x in c.formula.atoms(sympy.Float)]),
                   simplify=False)
        return dataclasses.replace(c, formula=f, complexity=complexity(f), test_rmse=c.test_rmse * sy,
                                   train_rmse=c.train_rmse * sy, unrounded_rmse=c.unrounded_rmse * sy,
                                   model=None, view=None)
    mapped = {id(c): cand(c) for c in list(res.candidates) + list(res.pareto) + [res.chosen, res.closest]
              if c is not None}

    def m(c: Optional[object]):
        return mapped[id(c)] if c is not None else None
    out = dataclasses.replace(
        res, candidates=[m(c) for c in res.candidates], pareto=[m(c) for c in res.pareto],
        chosen=m(res.chosen), closest=m(res.closest), test_rmse=res.test_rmse * sy,
        formula_test_rmse=res.formula_test_rmse * sy, y_std=res.y_std * sy,
        leave_out_rmse=None if res.leave_out_rmse is None else res.leave_out_rmse * sy,
        notes=list(res.notes) + [r.note(names, res.target_name)])
    if out.chosen is not None:
        out.formula, out.sympy_str, out.latex = out.chosen.formula, out.chosen.sympy_str, out.chosen.latex
        out.complexity = out.chosen.complexity
    out.model, out.model_view = None, None
    return out
