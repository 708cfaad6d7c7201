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
import time

import numpy as np
import sympy
import torch

from .views import reciprocal_ok, sign_definite
from ..symbolic import complexity, evaluate_numpy, fit_functions, polish
from .derivation import Step
from .judgement import pareto_front
from ..model import to_sympy
from .search import one_variable, reading_error as _reading_error

__all__ = ["factorised", "separable_split", "factor_options", "choose_factors", "split_tolerance"]

PAIRS = 256          # row pairs of the separability test
MAX_SUB_CANDIDATES = 3
ALTERNATIVES = 3     # library fits kept per factor read off a network
REFERENCES = 6       # reference rows a factor reading is averaged over
READING_TOLERANCE = 1e-2   # relative accuracy of a function read off a network


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
    if kind == "mul" and _one_sign(fa, fb, fab, fba):
        # in logs, where a product is a sum: a weak coupling such as (x + y) in
        # x^2 y^2 (x + y) is not drowned by the rows where |y| is largest
        with np.errstate(all="ignore"):
            d = np.log(np.abs(fab)) + np.log(np.abs(fba)) - np.log(np.abs(fa)) - np.log(np.abs(fb))
        return float(np.sqrt(np.mean(d * d))) if np.isfinite(d).all() else math.inf
    if kind == "mul":
        lhs, rhs = fab * fba, fa * fb
    else:
        lhs, rhs = fab + fba, fa + fb
    if not (np.isfinite(lhs).all() and np.isfinite(rhs).all()):
        return math.inf
    scale = float(np.sqrt(np.mean(rhs * rhs))) or 1.0
    return float(np.sqrt(np.mean((lhs - rhs) ** 2))) / scale


def _one_sign(*values) -> bool:
    v = np.concatenate(values)
    return bool(len(v)) and bool((v > 0).all() or (v < 0).all())


def _log_error(ctx):
    """RMS error of the stand-in for f in log|y| on the held-out rows (None where y
    changes sign): the scale of the multiplicative test's mismatch."""
    X, y = getattr(ctx, "X_test", None), getattr(ctx, "y_test", None)
    if X is None or y is None:
        return None
    p = ctx.predict(X)
    if not (_one_sign(p, y) and np.sign(p[0]) == np.sign(y[0])):
        return None
    d = np.log(np.abs(p)) - np.log(np.abs(y))
    return float(np.sqrt(np.mean(d * d))) if np.isfinite(d).all() else None


def split_tolerance(ctx, kind: str = "add") -> float:
    """How well a split must hold: some times the stand-in's error, relative (the
    test combines four predictions; where y is small their relative errors are
    larger) or, for the multiplicative test on a target of one sign, in log|y|.
    Non-separable inputs typically score 0.3 and more."""
    rel = _log_error(ctx) if kind == "mul" else None
    if rel is None:
        err = ctx.oracle_rmse() if hasattr(ctx, "oracle_rmse") else ctx.best_net_rmse
        rel = err / (float(np.sqrt(np.mean(ctx.y_train ** 2))) or 1.0)
    return float(min(0.12, max(3e-3, 10.0 * rel)))


def factor_options(ctx, x: np.ndarray, g: np.ndarray, symbol, top_k: int = ALTERNATIVES,
                   seconds: float = 2.0) -> list:
    """Fits of one factor (term) g(x) read off a network, best first: the library's,
    a pure power C*x^p where it makes sense (physical laws are mostly monomials; a
    reading a percent off easily prefers 1/(x + b)^2 to 1/x), and the symbolic
    engine's (shapes no library holds, such as 1/sin(x/2)^4).  Those within twice
    the best error come first, simplest first."""
    res = fit_functions(torch.as_tensor(x[None]), torch.as_tensor(g[None]), ctx.lib)
    out = [to_sympy(c.name, c.params, symbol) for c in res.candidates(0, ctx.cfg.weight_simple, top_k)]
    if (x > 0).all() and (np.abs(g) > 0).all() and abs(sign_definite(g)) == 1:
        with np.errstate(all="ignore"):
            p, c = np.polyfit(np.log(x), np.log(np.abs(g)), 1)
        if np.isfinite(p) and np.isfinite(c) and abs(p) > 1e-3:
            power = sympy.Float(float(np.sign(g[0]) * np.exp(c))) * symbol ** sympy.Float(float(p))
            out.insert(min(1, len(out)), power)
    errs = [_reading_error(e, {symbol: x}, g) for e in out]
    size = float(np.sqrt(np.mean(g * g)))
    if not min(errs, default=math.inf) <= READING_TOLERANCE * size:
        # the library does not explain the reading: that is what the engine is for
        found = [e for e in one_variable(ctx, x, g, symbol, seconds) if e not in out]
        out += found
        errs += [_reading_error(e, {symbol: x}, g) for e in found]
    best = min(errs, default=math.inf)
    if not math.isfinite(best):
        return out[:top_k + 1]
    # a reading off a network is rarely better than a percent: among the fits that
    # close to the best the simplest comes first, and choose_factors keeps a more
    # complex one only where it fits the real rows clearly better
    limit = max(2.0 * best, READING_TOLERANCE * size)
    near = sorted((i for i in range(len(out)) if errs[i] <= limit),
                  key=lambda i: complexity(out[i]))
    rest = sorted((i for i in range(len(out)) if i not in near), key=lambda i: errs[i])
    return [out[i] for i in near + rest][:top_k + 1]


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
    each product refitted on real rows; the best set wins (within a share of the
    time left)."""
    pick = [0] * len(options)
    deadline = time.perf_counter() + min(10.0, 0.25 * max(0.0, ctx.clock.left()))
    idx = ctx.pol_rows[:rows]
    data = {s: ctx.X_train[idx, k] for k, s in enumerate(ctx.symbols)}
    y = ctx.y_train[idx]

    def err(choice):
        expr = combine([opts[c] for opts, c in zip(options, choice)])
        if expr is None:
            return math.inf
        return polish(expr, data, y, steps=25, deadline=deadline).rmse

    best = err(pick)
    for f, opts in enumerate(options):
        for alt in range(1, len(opts)):
            if ctx.clock.left() <= 0 or time.perf_counter() >= deadline:
                break
            trial = pick[:f] + [alt] + pick[f + 1:]
            e = err(trial)
            if e < 0.9 * best:
                pick, best = trial, e
    return [opts[c] for opts, c in zip(options, pick)]


def _sub_problem(ctx, X, ref, rest, budget: float, kind: str, step) -> list:
    """Candidates for the network (1/network for "inv") restricted to the inputs
    ``rest`` (others at ref)."""
    def slice_(Xs):
        Z = np.tile(ref, (len(Xs), 1))
        Z[:, rest] = Xs[:, rest]
        return _value(ctx, Z, kind)

    Xte = ctx.X_test
    ytr, yte = slice_(X), slice_(Xte)
    if not (np.isfinite(ytr).all() and np.isfinite(yte).all()):
        return []
    sub = ctx.child(X[:, rest], ytr, Xte[:, rest], yte, rest, budget, step)
    ctx.solve(sub, "split")
    front = [c for c in pareto_front(sub.candidates) if math.isfinite(c.test_rmse)]
    if not front:
        return []
    best = min(c.test_rmse for c in front)
    good = [c for c in front if c.test_rmse <= 10 * best + 1e-12 * sub.y_std]
    return good[:MAX_SUB_CANDIDATES]


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
        ctx.add_structure(expr, "factorised", net_rmse=ctx.best_net_rmse,
                          steps=(Step("factors", "read y off the best network as K * a product of one-variable "
                                                 "factors", tuple(ctx.names), piece=str(expr)),))


def separable_split(ctx):
    """Split the inputs that separate (multiplicatively, else additively) from the
    rest, solve the rest recursively, and hand the assembled formulas over."""
    if not ctx.has_oracle() or ctx.n_in < 2 or getattr(ctx, "depth", 0) >= 2:
        return
    X, refs = _reference(ctx)
    rng = np.random.default_rng(ctx.cfg.seed)
    kinds = ("mul", "add", "inv") if reciprocal_ok(ctx.y_train) else ("mul", "add")
    for kind in kinds:
        with ctx.clock.stage(f"split ({kind}): test separability"):
            tol = split_tolerance(ctx, kind)
            errs = [_split_error(ctx, X, rng, i, kind) for i in range(ctx.n_in)]
            sep = [i for i, e in enumerate(errs) if e <= tol]
            # confirmed on rows the network was not fitted to
            held = {i: _split_error(ctx, ctx.X_test, rng, i, kind) for i in sep}
            sep = [i for i in sep if held[i] <= tol]
            rest = [i for i in range(ctx.n_in) if i not in sep]
            if not sep or not rest:
                continue        # nothing splits, or everything does (the [n, 1] stages' case)
            options = [_factor(ctx, X, refs, i, kind) for i in sep]
        if any(o is None for o in options):
            continue
        step = _split_step(ctx, kind, sep, rest, max(held.values()), tol)
        if len(rest) == 1:
            with ctx.clock.stage(f"split ({kind}): last factor"):
                last = _factor(ctx, X, refs, rest[0], kind)
            subs = [(g, ctx.trail + (step,)) for g in (last[:1] if last is not None else [])]
        else:
            budget = min(0.5 * ctx.clock.left(), 25.0)
            if budget < 3.0:
                return
            subs = [(c.formula, c.derivation) for c in _sub_problem(ctx, X, refs[0], rest, budget, kind, step)]
        for g, trail in subs:
            with ctx.clock.stage(f"split ({kind}): choose factors"):
                parts = choose_factors(ctx, options, lambda ps: _assemble(ctx, X, ps, g, kind))
                expr = _assemble(ctx, X, parts, g, kind)
            if expr is not None:
                pieces = ", ".join(f"{ctx.names[i]}: {p}" for i, p in zip(sep, parts))
                done = Step("pieces", f"read the split-off pieces off the network ({pieces}) and the rest as "
                                      f"{g}; constants refitted on the rows", tuple(ctx.names),
                            piece=str(expr))
                ctx.add_structure(expr, f"split ({kind})", net_rmse=ctx.best_net_rmse,
                                  derivation=tuple(trail) + (done,))
        if ctx.exact_found() or ctx.clock.left() <= 0:
            return


_SPLIT_WORDS = {"mul": ("multiplicative", "y = f({a}) * g({b})"),
                "add": ("additive", "y = f({a}) + g({b})"),
                "inv": ("additive in 1/y", "1/y = f({a}) + g({b})")}


def _split_step(ctx, kind: str, sep, rest, held_error: float, tol: float) -> Step:
    name, form = _SPLIT_WORDS[kind]
    a = ", ".join(ctx.names[i] for i in sep)
    b = ", ".join(ctx.names[i] for i in rest)
    return Step("separability", f"{name} separability: {form.format(a=a, b=b)} (mismatch {held_error:.2g} "
                                f"on held-out rows, limit {tol:.2g})",
                tuple(ctx.names[i] for i in sep + rest), error=held_error,
                details={"test": name, "split_off": [ctx.names[i] for i in sep],
                         "rest": [ctx.names[i] for i in rest]})


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
