"""The dimensional-analysis stage: solve the problem in its dimensionless groups.

With units for every input and the target, y = P(x) * F(pi_1, ..., pi_k), where
P is a monomial with y's units and the pi are dimensionless monomials
(Buckingham; pint.pi_theorem).  When k is smaller than the number of inputs,
F is a smaller problem, solved by the same search; its formulas come back in
the original variables, times P.
"""
from __future__ import annotations

import math

import numpy as np
import sympy

from .derivation import Step
from .judgement import pareto_front

__all__ = ["dimensionless_groups"]

SUB_CANDIDATES = 3


def dimensionless_groups(ctx, share: float = 0.5):
    red = ctx.pi
    if red is None or ctx.clock.left() <= 1.0:
        return
    with np.errstate(all="ignore"):
        p_tr = red.prefactor_values(ctx.X_train, ctx.symbols)
        p_te = red.prefactor_values(ctx.X_test, ctx.symbols)
        y_tr, y_te = ctx.y_train / p_tr, ctx.y_test / p_te
        G_tr, G_te = red.values(ctx.X_train, ctx.symbols), red.values(ctx.X_test, ctx.symbols)
    if not all(np.isfinite(a).all() for a in (y_tr, y_te, G_tr, G_te)):
        return
    groups = ", ".join(f"pi{k + 1} = {g}" for k, g in enumerate(red.groups)) or "none"
    step = Step("dimensional analysis", f"units: y = {red.prefactor} * F({groups})",
                tuple(ctx.names), piece=str(red.prefactor),
                details={"prefactor": str(red.prefactor), "groups": [str(g) for g in red.groups]})
    if not red.groups:
        K = float(np.mean(y_tr))
        ctx.add_structure(sympy.Float(K) * red.prefactor, "dimensional analysis", steps=(step,))
        return
    symbols = [sympy.Symbol(f"pi{k + 1}", positive=True) if (G_tr[:, k] > 0).all() and (G_te[:, k] > 0).all()
               else sympy.Symbol(f"pi{k + 1}", real=True) for k in range(len(red.groups))]
    sub = ctx.child(G_tr, y_tr, G_te, y_te, None, share * ctx.clock.left(), step,
                    symbols=symbols, names=[s.name for s in symbols])
    ctx.solve(sub, "pi groups")
    back = dict(zip(symbols, red.groups))
    front = [c for c in pareto_front(sub.candidates) if math.isfinite(c.test_rmse)]
    for c in sorted(front, key=lambda c: c.test_rmse)[:SUB_CANDIDATES]:
        expr = red.prefactor * c.formula.xreplace(back)
        ctx.add_structure(expr, "dimensional analysis", net_rmse=ctx.best_net_rmse,
                          derivation=tuple(c.derivation) + (Step("back to the variables",
                                                                 f"y = {red.prefactor} * ({c.formula})",
                                                                 tuple(ctx.names), piece=str(expr)),))
        if ctx.exact_found():
            return
