"""Peeling: search again for one piece of a near-miss, on the data itself.

A good candidate that is a product (or a sum) of pieces on separate sets of
variables, y ~ A(x_a) * B(x_b) * ..., often has most pieces right and one
approximate (a search found Z1^2 and 1/E^2 but not 1/sin(theta/2)^4).  If the
other pieces are right, y / (A * ...) (or y - (A + ...)) computed on the rows
is a function of that piece's variables alone, with the data's own accuracy,
not a network's: the symbolic engine searches it there, as AI Feynman does
after each accepted step.  The reassembled formula is refitted and scored like
any candidate, so a wrong guess about the other pieces only costs time.

A candidate c * f(inner) whose outer function f can be inverted on the rows
(a power such as sqrt or 1/x, exp, log) is peeled one level down: inner's
pieces against f^-1(y / c) (sqrt(A(G, rho) + B(k, c, a)) is A + B in y^2).
"""
from __future__ import annotations

import math
import time

import numpy as np
import sympy

from ..symbolic import complexity, evaluate_numpy
from .derivation import Step
from .judgement import pareto_front
from .search import search_piece

__all__ = ["pieces", "peel", "shells"]

CANDIDATES = 2        # near-misses peeled, best first
PIECES = 2            # pieces of each re-searched, least trusted first
SHARE = 0.15          # of the time left, for one round of peeling
SECONDS = 4.0         # engine time for one piece


def pieces(expr: sympy.Expr, symbols) -> tuple[str, list]:
    """("mul" | "add", [(variables, piece)]) grouping the factors (terms) of expr by
    the variables they use, when there are at least two groups on separate
    variables; numbers are left out (the search refits a scale and offset)."""
    symbols = set(symbols)
    for kind, args in (("mul", sympy.Mul.make_args(expr)), ("add", sympy.Add.make_args(expr))):
        if len(args) < 2:
            continue
        groups: list[tuple[set, list]] = []
        for a in args:
            used = a.free_symbols & symbols
            if not used:
                continue
            touching = [g for g in groups if g[0] & used]
            merged = (set(used), [a])
            for g in touching:
                merged[0].update(g[0])
                merged[1].extend(g[1])
                groups.remove(g)
            groups.append(merged)
        if len(groups) >= 2:
            op = sympy.Mul if kind == "mul" else sympy.Add
            return kind, [(frozenset(v), op(*parts)) for v, parts in groups]
    return "", []


def shells(expr: sympy.Expr, y: np.ndarray) -> list:
    """(formula, target values, wrap, what the target is) to peel: the formula
    itself against y, and, for expr = d + c * f(inner) with f invertible on these
    rows (powers, exp, log), inner against f^-1((y - d) / c), wrap(new inner)
    giving the whole formula back."""
    out = [(expr, y, lambda e: e, "y")]
    offset, scaled = expr.as_coeff_Add()
    coeff, body = scaled.as_coeff_Mul()
    if coeff == 0 or not body.args:
        return out
    c = float(coeff)
    with np.errstate(all="ignore"):
        t = (np.asarray(y, dtype=np.float64) - float(offset)) / c
        inner = None
        if body.is_Pow and body.exp.is_Number and body.exp != 0:
            p = float(body.exp)
            if (t > 0).all() or (float(p).is_integer() and int(p) % 2 == 1):
                inner, target = body.base, np.sign(t) * np.abs(t) ** (1.0 / p)
                inv = sympy.nsimplify(1 / body.exp)
                what = f"((y - d)/c)^{inv}" if inv.is_Integer else f"((y - d)/c)^({inv})"

                def wrap(e, base=body):
                    return offset + coeff * e ** base.exp
        elif isinstance(body, sympy.exp) and (t > 0).all():
            inner, target, what = body.args[0], np.log(t), "log((y - d)/c)"

            def wrap(e):
                return offset + coeff * sympy.exp(e)
        elif isinstance(body, sympy.log):
            inner, target, what = body.args[0], np.exp(t), "exp((y - d)/c)"

            def wrap(e):
                return offset + coeff * sympy.log(e)
    if inner is not None and np.isfinite(target).all() and float(np.std(target)) > 0:
        out.append((inner, target, wrap, what))
    return out


def _trust(piece) -> tuple:
    """Least trusted first: unsnapped constants, then size."""
    return (-len(piece.atoms(sympy.Float)), -complexity(piece))


def peel(ctx, seconds: float = SECONDS, share: float = SHARE):
    """Re-search the least trusted pieces of the best near-miss candidates on the
    data, each for up to ``seconds``, all within ``share`` of the time left."""
    if ctx.engine is None or ctx.exact_found() or ctx.clock.left() <= 2.0:
        return
    deadline = time.perf_counter() + share * ctx.clock.left()
    front = sorted((c for c in pareto_front(ctx.candidates) if math.isfinite(c.test_rmse)),
                   key=lambda c: c.test_rmse)
    X, y = ctx.X_train[ctx.kan_rows], ctx.y_train[ctx.kan_rows]
    values = {s: X[:, k] for k, s in enumerate(ctx.symbols)}
    done = ctx.peeled
    for cand in [c for c in front if c.sympy_str not in done][:CANDIDATES]:
        done.add(cand.sympy_str)
        for formula, target, wrap, what in shells(cand.formula, y):
            kind, parts = pieces(formula, ctx.symbols)
            for variables, piece in sorted(parts, key=lambda p: _trust(p[1]))[:PIECES]:
                seconds_left = deadline - time.perf_counter()
                if ctx.clock.left() <= 2.0 or ctx.exact_found() or seconds_left < 1.0:
                    return
                others = [p for v, p in parts if v != variables]
                rest = sympy.Mul(*others) if kind == "mul" else sympy.Add(*others)
                with np.errstate(all="ignore"):
                    r = np.broadcast_to(evaluate_numpy(rest, values), y.shape).astype(np.float64)
                    left = target / r if kind == "mul" else target - r
                if not np.isfinite(left).all() or np.std(left) == 0:
                    continue
                cols = [k for k, s in enumerate(ctx.symbols) if s in variables]
                names = ", ".join(ctx.names[k] for k in cols)
                with ctx.clock.stage(f"peel: search the piece in {names}"):
                    found = search_piece(ctx, X[:, cols], left, [ctx.symbols[k] for k in cols],
                                         min(seconds, seconds_left))
                how = "divided" if kind == "mul" else "subtracted"
                where = "the data" if what == "y" else (
                    f"{what} (d = {float(cand.formula.as_coeff_Add()[0]):.4g}, c = "
                    f"{float(cand.formula.as_coeff_Add()[1].as_coeff_Mul()[0]):.4g}: the formula's offset and scale)")
                for g in found:
                    new = wrap(rest * g if kind == "mul" else rest + g)
                    step = Step("peel", f"with the other pieces ({rest}) {how} out of {where}, "
                                        f"searched the piece in {names} again: {g}",
                                tuple(ctx.names[k] for k in cols), piece=str(new))
                    ctx.add_structure(new, "peel", net_rmse=ctx.best_net_rmse,
                                      derivation=tuple(cand.derivation) + (step,))
