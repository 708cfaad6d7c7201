"""Separability splits for the discovery pipeline (AI-Feynman-style recursion).

The best network so far stands in for the unknown function f.  An input x_i
splits off multiplicatively when f(a_i, b_rest) * f(b_i, a_rest) = f(a) * f(b)
for pairs of rows (a, b), additively when the same holds with sums.  The
split-off inputs become one-variable factors (terms) read off the network
along x_i and fitted by the library; the remaining group, if it has more than
one input, is a smaller discovery problem on the network's values (the other
inputs held at a reference row), solved by the same pipeline in a share of
the budget.  The assembled formula is refitted on the real rows like any
other candidate, so the network only has to get the structure right.

This catches laws such as kappa*(T2 - T1)*A/d (three factors and a
difference) or q*(Ef + B*v*sin(theta)) (a factor, then a sum), which a
two-layer KAN does not represent in any of the views.
"""
from __future__ import annotations

import math

import numpy as np
import sympy
import torch

from .discover_views import reciprocal_ok, sign_definite
from .expr_eval import evaluate_numpy
from .pareto import pareto_front
from .polish import polish
from .symbolic_fit import fit_functions
from .symbolic_lib import to_sympy

__all__ = ["factorised", "separable_split", "factor_options", "choose_factors"]

PAIRS = 256          # row pairs of the separability test
MAX_SUB_CANDIDATES = 3
ALTERNATIVES = 3     # library fits kept per factor read off a network
REFERENCES = 6       # reference rows a factor reading is averaged over


def _value(ctx, Z, kind: str) -> np.ndarray:
    """What a split of this kind decomposes: y ("mul", "add") or 1/y ("inv":
    y = 1/(sum of terms), as in 1/(1/d1 + n/d2))."""
    v = ctx.predict(Z)
    if kind == "inv":
        with np.errstate(divide="ignore", invalid="ignore"):
            return 1.0 / v
    return v


def _split_error(ctx, X, rng, i: int, kind: str) -> float:
    """Mismatch of the (multiplicative or additive) split of input i, relative to the
    spread of the compared quantities."""
    a = X[rng.integers(0, len(X), PAIRS)]
    b = X[rng.integers(0, len(X), PAIRS)]
    ab, ba = a.copy(), b.copy()
    ab[:, i], ba[:, i] = b[:, i], a[:, i]
    fa, fb, fab, fba = (_value(ctx, Z, kind) for Z in (a, b, ab, ba))
    if kind == "mul":
        lhs, rhs = fab * fba, fa * fb
    else:
        lhs, rhs = fab + fba, fa + fb
    if not (np.isfinite(lhs).all() and np.isfinite(rhs).all()):
        return math.inf
    scale = float(np.sqrt(np.mean(rhs * rhs))) or 1.0
    return float(np.sqrt(np.mean((lhs - rhs) ** 2))) / scale


def _tolerance(ctx) -> float:
    """How well a split must hold: some times the best network's relative error (the
    test multiplies four predictions; where y is small their relative errors are
    larger).  Non-separable inputs typically score 0.3 and more."""
    rel = ctx.best_net_rmse / (float(np.sqrt(np.mean(ctx.y_train ** 2))) or 1.0)
    return float(min(0.12, max(3e-3, 10.0 * rel)))


def factor_options(ctx, x: np.ndarray, g: np.ndarray, symbol, top_k: int = ALTERNATIVES) -> list:
    """Fits of one factor (term) g(x) read off a network, best first: the library's,
    with a pure power C*x^p as the runner-up where it makes sense (physical laws are
    mostly monomials; a reading a percent off easily prefers 1/(x + b)^2 to 1/x)."""
    res = fit_functions(torch.as_tensor(x[None]), torch.as_tensor(g[None]), ctx.lib)
    out = [to_sympy(c.name, c.params, symbol) for c in res.candidates(0, ctx.cfg.weight_simple, top_k)]
    if (x > 0).all() and (np.abs(g) > 0).all() and abs(sign_definite(g)) == 1:
        with np.errstate(all="ignore"):
            p, c = np.polyfit(np.log(x), np.log(np.abs(g)), 1)
        if np.isfinite(p) and np.isfinite(c) and abs(p) > 1e-3:
            power = sympy.Float(float(np.sign(g[0]) * np.exp(c))) * symbol ** sympy.Float(float(p))
            out.insert(min(1, len(out)), power)
    return out


def _factor(ctx, X, refs, i: int, kind: str):
    """Fits of the one-variable factor (term) along input i, best first.  The
    reading is averaged over several reference rows (factors scaled to unit size
    and sign aligned) to damp the network's local errors."""
    reads = []
    for ref in refs:
        Xq = np.tile(ref, (len(X), 1))
        Xq[:, i] = X[:, i]
        g = _value(ctx, Xq, kind)
        if not np.isfinite(g).all():
            return None
        if kind != "mul":
            g = g - g.mean()
        size = float(np.sqrt(np.mean(g * g)))
        if size <= 1e-6 * (np.abs(np.mean(g)) + 1e-300) or (kind == "add" and size == 0):
            continue
        if reads and float(np.dot(g, reads[0])) < 0:
            g = -g
        reads.append(g / size if kind == "mul" else g)     # terms keep their size
    if not reads or (kind == "mul" and np.std(np.mean(reads, 0)) <= 1e-6 * abs(np.mean(reads))):
        return [sympy.Integer(1 if kind == "mul" else 0)]      # the input does not matter
    return factor_options(ctx, X[:, i], np.mean(reads, 0), ctx.symbols[i])


def choose_factors(ctx, options: list, combine, rows: int = 400) -> list:
    """One expression per factor: the network's reading is only approximate, so a
    factor's runner-up fits (1/x against 1/(x + b)^2, ...) are tried in turn,
    each product refitted on real rows; the best set wins."""
    pick = [0] * len(options)
    idx = ctx.pol_rows[:rows]
    data = {s: ctx.X_train[idx, k] for k, s in enumerate(ctx.symbols)}
    y = ctx.y_train[idx]

    def err(choice):
        expr = combine([opts[c] for opts, c in zip(options, choice)])
        if expr is None:
            return math.inf
        return polish(expr, data, y, steps=25).rmse

    best = err(pick)
    for f, opts in enumerate(options):
        for alt in range(1, len(opts)):
            if ctx.clock.left() <= 0:
                break
            trial = pick[:f] + [alt] + pick[f + 1:]
            e = err(trial)
            if e < 0.9 * best:
                pick, best = trial, e
    return [opts[c] for opts, c in zip(options, pick)]


def _sub_problem(ctx, X, ref, rest, budget: float, kind: str) -> list:
    """Formulas for the network (1/network for "inv") restricted to the inputs
    ``rest`` (others at ref)."""
    from .discover_variants import Context, run_all

    def slice_(Xs):
        Z = np.tile(ref, (len(Xs), 1))
        Z[:, rest] = Xs[:, rest]
        return _value(ctx, Z, kind)

    Xte = ctx.X_test
    ytr, yte = slice_(X), slice_(Xte)
    if not (np.isfinite(ytr).all() and np.isfinite(yte).all()):
        return []
    clock = type(ctx.clock)(budget, None, ctx.clock.user_cancel)
    sub = Context(ctx.cfg, clock, X[:, rest], ytr, Xte[:, rest], yte,
                  [ctx.symbols[k] for k in rest], [ctx.names[k] for k in rest])
    sub.depth = getattr(ctx, "depth", 0) + 1
    try:
        run_all(sub)
    finally:
        ctx.clock.stages += [type(s)(f"split: {s.name}", s.seconds) for s in clock.stages]
    front = [c for c in pareto_front(sub.candidates) if math.isfinite(c.test_rmse)]
    if not front:
        return []
    best = min(c.test_rmse for c in front)
    good = [c for c in front if c.test_rmse <= 10 * best + 1e-12 * sub.y_std]
    return [c.formula for c in good[:MAX_SUB_CANDIDATES]]


def _reference(ctx, n_refs: int = REFERENCES):
    """Training rows, and reference rows to hold the other inputs at: the largest |y|
    (far from the zeros of any factor)."""
    X = ctx.X_train[ctx.kan_rows]
    order = np.argsort(-np.abs(ctx.y_train[ctx.kan_rows]))
    return X, X[order[:max(1, min(n_refs, len(order) // 4 or 1))]]


def factorised(ctx):
    """y = K * prod_i g_i(x_i): each factor read off the best network along one
    variable with the others held at a reference row, then fitted by the library."""
    if ctx.best_net is None or ctx.n_in < 2:
        return
    with ctx.clock.stage("factorised: read factors"):
        X, refs = _reference(ctx)
        options = []
        for i in range(ctx.n_in):
            opts = _factor(ctx, X, refs, i, "mul")
            if opts is None:
                return
            if opts != [sympy.Integer(1)]:          # an input that matters
                options.append(opts)
        if len(options) < 2:
            return
        one = sympy.Integer(1)
        parts = choose_factors(ctx, options, lambda ps: _assemble(ctx, X, ps, one, "mul"))
        expr = _assemble(ctx, X, parts, one, "mul")
    if expr is not None:
        ctx.add_structure(expr, "factorised", net_rmse=ctx.best_net_rmse)


def separable_split(ctx):
    """Split the inputs that separate (multiplicatively, else additively) from the
    rest, solve the rest recursively, and hand the assembled formulas over."""
    if ctx.best_net is None or ctx.n_in < 2 or getattr(ctx, "depth", 0) >= 2:
        return
    X, refs = _reference(ctx)
    rng = np.random.default_rng(ctx.cfg.seed)
    tol = _tolerance(ctx)
    kinds = ("mul", "add", "inv") if reciprocal_ok(ctx.y_train) else ("mul", "add")
    for kind in kinds:
        with ctx.clock.stage(f"split ({kind}): test separability"):
            errs = [_split_error(ctx, X, rng, i, kind) for i in range(ctx.n_in)]
            sep = [i for i, e in enumerate(errs) if e <= tol]
            rest = [i for i in range(ctx.n_in) if i not in sep]
            if not sep or not rest:
                continue        # nothing splits, or everything does (the [n, 1] stages' case)
            options = [_factor(ctx, X, refs, i, kind) for i in sep]
        if any(o is None for o in options):
            continue
        if len(rest) == 1:
            with ctx.clock.stage(f"split ({kind}): last factor"):
                last = _factor(ctx, X, refs, rest[0], kind)
            subs = last[:1] if last is not None else []
        else:
            budget = min(0.5 * ctx.clock.left(), 25.0)
            if budget < 3.0:
                return
            subs = _sub_problem(ctx, X, refs[0], rest, budget, kind)
        for g in subs:
            with ctx.clock.stage(f"split ({kind}): choose factors"):
                parts = choose_factors(ctx, options, lambda ps: _assemble(ctx, X, ps, g, kind))
                expr = _assemble(ctx, X, parts, g, kind)
            if expr is not None:
                ctx.add_structure(expr, f"split ({kind})", net_rmse=ctx.best_net_rmse)
        if ctx.exact_found() or ctx.clock.left() <= 0:
            return


def _assemble(ctx, X, parts, g, kind):
    """K * prod(parts) * g, sum(parts) + g + K or 1/(sum(parts) + g + K), K fitted
    by least squares."""
    y = ctx.y_train[ctx.kan_rows]
    vals = {s: X[:, k] for k, s in enumerate(ctx.symbols)}
    if kind == "mul":
        body = sympy.Mul(*parts, g)
        v = np.broadcast_to(evaluate_numpy(body, vals), y.shape)
        denom = float(np.dot(v, v))
        if not np.isfinite(denom) or denom == 0:
            return None
        return sympy.Float(float(np.dot(v, y) / denom)) * body
    body = sympy.Add(*parts, g)
    v = np.broadcast_to(evaluate_numpy(body, vals), y.shape)
    if not np.isfinite(v).all():
        return None
    if kind == "inv":
        return 1 / (body + sympy.Float(float(np.mean(1.0 / y - v))))
    return body + sympy.Float(float(np.mean(y - v)))
