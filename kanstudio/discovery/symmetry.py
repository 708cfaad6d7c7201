"""Symmetries: two inputs that matter only through x - y, x / y, x * y or x + y.

The best model of the target so far (a fitted network, or a formula that beats
it) stands in for the unknown function f.  f depends on (x_i, x_j) only through
x_i - x_j when moving both by the same step leaves it unchanged, while moving
x_i alone does not; likewise x_i / x_j (both scaled alike), x_i * x_j (one
scaled up, the other down) and x_i + x_j (one up, the other down by the same
step).  The test must hold on held-out rows too.  The problem then has one
input fewer: the pair is replaced by the new variable, computed on the real
rows, and solved by the same search; its formulas come back in the original
variables.
"""
from __future__ import annotations

import math

import numpy as np
import sympy

from .derivation import Step
from .judgement import pareto_front

__all__ = ["KINDS", "symmetry_error", "symmetric_pairs", "reduce_by_symmetry"]

STEP = 0.3             # the joint move, relative to the spread (or size) of x_i: the stand-in's
                       # own error is a fixed amount, so a larger move sees the symmetry more clearly
                       # (0.15 left a true x - y at 0.155 on a stand-in 4 % off, 0.3 at 0.063; pairs
                       # without a symmetry scored 0.36 and more either way)
MIN_EFFECT = 1e-3      # moving x_i alone must change f by this much (relative), or the test says nothing
MIN_INSIDE = 32        # rows whose moved points stay inside the data's box (a network is not
                       # trusted outside it); fewer, and the test says nothing
SUB_CANDIDATES = 3


def _moves(kind: str, a: np.ndarray, b: np.ndarray, d: float):
    """(moved x_i, moved x_j) for a symmetry kind; d is the step."""
    if kind == "difference":
        return a + d, b + d
    if kind == "sum":
        return a + d, b - d
    if kind == "ratio":
        return a * (1 + d), b * (1 + d)
    return a * (1 + d), b / (1 + d)              # product


# the combination of (x_i, x_j) each symmetry keeps, as a function (numpy or sympy
# arguments alike) and as a word for the new variable's name
KINDS = {"difference": (lambda a, b: a - b, "minus"), "sum": (lambda a, b: a + b, "plus"),
         "ratio": (lambda a, b: a / b, "over"), "product": (lambda a, b: a * b, "times")}


def symmetry_error(predict, X: np.ndarray, i: int, j: int, kind: str) -> float:
    """Change of f under the joint move, relative to its change when x_i alone moves
    as far; inf where the test cannot tell (x_i barely matters, or values blow up)."""
    a, b = X[:, i], X[:, j]
    if kind in ("ratio", "product") and not ((a > 0).all() and (b > 0).all()):
        return math.inf
    d = STEP * float(np.std(a)) if kind in ("difference", "sum") else STEP
    if d == 0:
        return math.inf
    ai, bj = _moves(kind, a, b, d)
    inside = ((ai >= a.min()) & (ai <= a.max()) & (bj >= b.min()) & (bj <= b.max()))
    if int(inside.sum()) < MIN_INSIDE:
        return math.inf
    X, a, b, ai, bj = X[inside], a[inside], b[inside], ai[inside], bj[inside]
    both, alone = X.copy(), X.copy()
    both[:, i], both[:, j] = ai, bj
    alone[:, i] = ai
    with np.errstate(all="ignore"):
        f0, f_both, f_alone = predict(X), predict(both), predict(alone)
    if not all(np.isfinite(v).all() for v in (f0, f_both, f_alone)):
        return math.inf
    ref = float(np.sqrt(np.mean((f_alone - f0) ** 2)))
    if ref <= MIN_EFFECT * (float(np.sqrt(np.mean(f0 * f0))) or 1.0):
        return math.inf
    return float(np.sqrt(np.mean((f_both - f0) ** 2))) / ref


def symmetric_pairs(ctx, tol: float) -> list:
    """(error, i, j, kind) for pairs that pass on training and held-out rows, best first."""
    Xtr, Xte = ctx.X_train[ctx.kan_rows], ctx.X_test
    found = []
    for i in range(ctx.n_in):
        for j in range(i + 1, ctx.n_in):
            for kind in KINDS:
                e = symmetry_error(ctx.predict, Xtr, i, j, kind)
                if e <= tol:
                    held = symmetry_error(ctx.predict, Xte, i, j, kind)
                    if held <= tol:
                        found.append((max(e, held), i, j, kind))
    return sorted(found)


TOLERANCE = 0.1        # the joint move may change f by this share of what moving x_i alone does


def reduce_by_symmetry(ctx, tol: float = TOLERANCE, share: float = 0.5):
    """Replace the most symmetric pair by its combination and solve the smaller problem."""
    if not ctx.has_oracle() or ctx.n_in < 2 or ctx.depth >= 2 or ctx.clock.left() <= 3.0:
        return
    with ctx.clock.stage("symmetry: test pairs"):
        pairs = symmetric_pairs(ctx, tol)
    for err, i, j, kind in pairs[:1]:
        si, sj = ctx.symbols[i], ctx.symbols[j]
        fn, word = KINDS[kind]
        combo = fn(si, sj)
        rest = [k for k in range(ctx.n_in) if k not in (i, j)]
        name = f"{ctx.names[i]}_{word}_{ctx.names[j]}"
        with np.errstate(all="ignore"):
            u_tr = fn(ctx.X_train[:, i], ctx.X_train[:, j])
            u_te = fn(ctx.X_test[:, i], ctx.X_test[:, j])
        u = sympy.Symbol(name, positive=True) if (u_tr > 0).all() and (u_te > 0).all() else sympy.Symbol(name, real=True)
        step = Step("symmetry", f"{ctx.names[i]} and {ctx.names[j]} matter only through {combo} "
                                f"(mismatch {err:.2g} on training and held-out rows, limit {tol:.2g})",
                    (ctx.names[i], ctx.names[j]), piece=str(combo), error=err,
                    details={"test": kind})
        Xtr = np.column_stack([ctx.X_train[:, rest], u_tr])
        Xte = np.column_stack([ctx.X_test[:, rest], u_te])
        sub = ctx.child(Xtr, ctx.y_train, Xte, ctx.y_test, None, share * ctx.clock.left(), step,
                        symbols=[ctx.symbols[k] for k in rest] + [u], names=[ctx.names[k] for k in rest] + [name])
        ctx.solve(sub, "symmetry")
        front = sorted((c for c in pareto_front(sub.candidates) if math.isfinite(c.test_rmse)),
                       key=lambda c: c.test_rmse)
        for c in front[:SUB_CANDIDATES]:
            expr = c.formula.xreplace({u: combo})
            ctx.add_structure(expr, "symmetry", net_rmse=ctx.best_net_rmse,
                              derivation=tuple(c.derivation) + (Step("back to the variables",
                                                                     f"{name} = {combo}", (ctx.names[i], ctx.names[j]),
                                                                     piece=str(expr)),))
            if ctx.exact_found():
                return
