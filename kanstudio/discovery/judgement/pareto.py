"""Candidate formulas and the complexity / error trade-off between them."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional, Sequence

import sympy

__all__ = ["FormulaCandidate", "pareto_front", "pick"]


@dataclass
class FormulaCandidate:
    formula: sympy.Expr
    complexity: int
    test_rmse: float                 # of the formula, target units, held-out rows
    train_rmse: float = math.nan
    stage: str = ""                  # which step of the pipeline produced it
    model: object = field(default=None, repr=False)   # the KAN behind it, when there is one
    unrounded_rmse: float = math.nan  # test error before constants were rounded for display
    view: Optional[dict] = None       # coordinates of ``model`` (see views.View.describe)
    derivation: tuple = ()            # derivation.Step, in order: how the formula was found
    max_rel_error: float = math.nan   # largest |error| / |y| over the test rows (unrounded constants)

    def at_roundoff(self, roundoff: float) -> bool:
        """Exact to round-off: RMSE at ``roundoff`` and no row off in relative terms."""
        from ..config import EXACT_MAX_REL
        rel_ok = not (self.max_rel_error > EXACT_MAX_REL)          # nan: not measured
        return min(self.test_rmse, self.unrounded_rmse) <= roundoff and rel_ok

    @property
    def sympy_str(self) -> str:
        return str(self.formula)

    @property
    def latex(self) -> str:
        from ...symbolic import to_latex     # the one LaTeX form (multi-letter names upright)
        return to_latex(self.formula)

    def as_dict(self) -> dict:
        return {"formula": self.sympy_str, "latex": self.latex, "complexity": int(self.complexity),
                "test_rmse": _finite_or_none(self.test_rmse), "stage": self.stage,
                "derivation": [s.as_dict() for s in self.derivation]}


def _finite_or_none(v):
    return float(v) if v is not None and math.isfinite(v) else None


def _key(c: FormulaCandidate) -> float:
    return c.test_rmse if math.isfinite(c.test_rmse) else math.inf


def pareto_front(cands: Sequence[FormulaCandidate], floor: float = 0.0) -> list[FormulaCandidate]:
    """Non-dominated candidates (lower complexity and lower error are better),
    simplest first; among equal formulas the first one seen is kept.  Errors below
    ``floor`` (round-off) count as equal: the data cannot tell such formulas apart,
    and of two the same size the one with fewer fitted constants is kept (the
    snapped form, 5*S/12, rather than 0.4392868658*S)."""
    seen, uniq = set(), []
    for c in cands:
        if c.formula is None or not math.isfinite(_key(c)):
            continue
        s = c.sympy_str
        if s in seen:
            continue
        seen.add(s)
        uniq.append(c)
    def floored(c):
        return max(_key(c), floor)
    uniq.sort(key=lambda c: (c.complexity, floored(c), len(c.formula.atoms(sympy.Float)), _key(c)))
    front, best = [], math.inf
    for c in uniq:
        if floored(c) < best:
            front.append(c)
            best = floored(c)
    return front


def pick(cands: Sequence[FormulaCandidate], tolerance: float = 0.05,
         scale: float = 1.0, floor: float = 1e-7) -> Optional[FormulaCandidate]:
    """The simplest candidate whose error is within ``tolerance`` (relative) of the
    best error; errors below floor * scale (numerically exact) count as equal."""
    front = pareto_front(cands)
    if not front:
        return None
    best = min(_key(c) for c in front)
    limit = max(best, floor * scale) * (1.0 + tolerance)
    for c in front:
        if _key(c) <= limit:
            return c
    return front[-1]
