"""Low-rank splits: y = a_1(rest) T_1(z) + ... + a_r(rest) T_r(z) for one input z,
or the same for 1/y.

Separability in one input z is the simplest case of this: rank 1 is a
multiplicative split, and an additive one is rank 2 with T = {1, g(z)}.  Many
laws are neither, yet small in rank: (1 - a^2)/(1 + a cos t) has 1/y =
1/(1 - a^2) + a/(1 - a^2) * cos t, rank 2 in t; q/sqrt(r^2 + d^2 - 2 d r cos
alpha) has 1/y^2 = (r^2 + d^2)/q^2 - 2 d r/q^2 * cos alpha; a law linear in one
of its inputs is rank 2 in it.  The best model of the target so far, read on a
grid of z for a sample of rows, has such a form exactly when that table has r
singular values above the stand-in's own error.  Its singular vectors in z are
combinations of the pieces T_j (c1 + c2 cos t); the library or the symbolic
engine names them, and their additive terms are the pieces themselves (1 and
cos t).  With the T_j fixed the law is linear in the a_j: with one other input
they are read off the rows by least squares (to the rows' own accuracy) and
named one variable at a time; with more, each a_j is a smaller problem, solved
by the same search on the stand-in's values.  The sum of products is refitted
on the real rows like any other candidate, so a wrong reading costs time,
never a wrong answer.
"""
from __future__ import annotations

import numpy as np
import sympy

from ..symbolic import evaluate_numpy
from .derivation import Step
from .split import split_tolerance, choose_factors, factor_options
from .views import reciprocal_ok, sign_definite

__all__ = ["low_rank_split", "rank_of"]

GRID = 24            # grid points of the input z
EDGE = 0.03          # the grid spans the inputs' 3rd to 97th percentiles: a network is least
                     # trusted at the edges of its data
MAX_RANK = 3         # beyond this, 2r one-variable pieces are more than a search names in its time
MAX_RESIDUAL = 0.02  # a reading truncated by more than 2% is too rough for a search to name its
                     # pieces (factor readings are trusted to 1%)
READING_FLOOR = 1e-4  # no reading off a stand-in is taken as more accurate than this (relative)
DEGREE = 12          # Chebyshev degree of a piece fitted on the rows (smooth pieces: round-off by 12)
ROWS_PER_COEFFICIENT = 4
ROWS_READING_FLOOR = 1e-6  # nor one off the rows
SIMPLE = 1e-2       # a named piece's constant this close to an integer is tried as that integer
SAMPLES = 160        # rows of the other inputs the stand-in is read at, each on the grid of z
MAX_TRIES = 2        # (input, target) pairs tried, smallest rank first
MAX_DEPTH = 2        # a split of several inputs makes sub-problems: not below this depth
SUB_BUDGET = 25.0    # seconds for the coefficient sub-problems together, at most
SUB_CANDIDATES = 3   # formulas kept per coefficient sub-problem


def rank_of(M: np.ndarray, tolerance: float) -> tuple[int, float]:
    """(the smallest rank r <= MAX_RANK whose truncation leaves at most ``tolerance``
    of M (Frobenius norm, relative), that share); (0, inf) when none does."""
    s = np.linalg.svd(M, compute_uv=False)
    total = float(np.sqrt(np.sum(s * s)))
    if not np.isfinite(total) or total == 0.0:
        return 0, float("inf")
    for r in range(1, MAX_RANK + 1):
        rest = float(np.sqrt(np.sum(s[r:] ** 2))) / total
        if rest <= tolerance:
            return r, rest
    return 0, float("inf")


def _relative_error(ctx) -> float:
    """The stand-in's test error relative to the size of y."""
    return float(ctx.oracle_rmse() / (np.sqrt(np.mean(ctx.y_train ** 2)) or 1.0))


def _targets(ctx):
    """(name, forward, back) for y and, where usable, 1/y, y^2 and 1/y^2 (a root of
    a short sum: sqrt(a^2 + b^2 - 2ab cos t))."""
    out = [("y", lambda v: v, lambda e: e)]
    sign = sign_definite(ctx.y_train)
    if reciprocal_ok(ctx.y_train):
        out.append(("1/y", lambda v: 1.0 / v, lambda e: 1 / e))
    if sign != 0:
        out.append(("y^2", lambda v: v * v, lambda e: sign * sympy.sqrt(e)))
    if reciprocal_ok(ctx.y_train):
        out.append(("1/y^2", lambda v: 1.0 / (v * v), lambda e: sign / sympy.sqrt(e)))
    return out


def _terms(exprs, symbol, grid: np.ndarray) -> list:
    """The distinct additive terms of the named pieces, their numeric factors taken
    off (a constant is the term 1), as a basis: terms whose values on the grid are
    (nearly) proportional to an earlier one's are the same term."""
    terms, columns = [], []
    for e in exprs:
        for t in sympy.Add.make_args(e):
            body = t.as_coeff_Mul()[1] if t.free_symbols else sympy.Integer(1)
            with np.errstate(all="ignore"):
                v = np.broadcast_to(np.asarray(evaluate_numpy(body, {symbol: grid}), dtype=np.float64),
                                    grid.shape)
            norm = float(np.linalg.norm(v))
            if not np.isfinite(v).all() or norm == 0.0:
                return []
            u = v / norm
            if any(abs(float(np.dot(u, c))) > 1.0 - 1e-6 for c in columns):
                continue
            terms.append(body)
            columns.append(u)
    return terms


def _simplified(terms) -> list:
    """The terms with constants near an integer (within SIMPLE, relative) taken as
    that integer, and tiny ones as 0."""
    out = []
    for t in terms:
        swap = {}
        for f in t.atoms(sympy.Float):
            v = float(f)
            if abs(v) <= SIMPLE:
                swap[f] = sympy.Integer(0)
            elif abs(v - round(v)) <= SIMPLE * abs(v):
                swap[f] = sympy.Integer(round(v))
        new = t.xreplace(swap) if swap else t
        if new.free_symbols and new not in out:
            out.append(new)
        elif not new.free_symbols and sympy.Integer(1) not in out:
            out.append(sympy.Integer(1))
    return out


def _functions_on_rows(ctx, terms, symbol_t, symbol_o, grid_o, forward):
    """With one side's pieces named, y (or 1/y) = sum_j a_j(x) T_j(z) is linear in the
    a_j: each a Chebyshev series in x, fitted on the training rows by least squares.
    (a_j on the grid, the fit's relative error as the readings' accuracy), or None
    where the rows are too few or the target cannot be transformed on them."""
    rows = ctx.kan_rows
    k_t, k_o = ctx.symbols.index(symbol_t), ctx.symbols.index(symbol_o)
    xt, xo = ctx.X_train[rows, k_t], ctx.X_train[rows, k_o]
    with np.errstate(all="ignore"):
        target = forward(ctx.y_train[rows])
        T = [np.broadcast_to(np.asarray(evaluate_numpy(t, {symbol_t: xt}), dtype=np.float64), xt.shape)
             for t in terms]
    n_coef = len(terms) * (DEGREE + 1)
    if len(rows) < ROWS_PER_COEFFICIENT * n_coef or not np.isfinite(target).all() \
            or not all(np.isfinite(t).all() for t in T):
        return None
    lo, hi = float(xo.min()), float(xo.max())
    if hi <= lo:
        return None

    def basis(v):
        return np.polynomial.chebyshev.chebvander(2.0 * (v - lo) / (hi - lo) - 1.0, DEGREE)
    V = basis(xo)
    design = np.hstack([V * t[:, None] for t in T])
    c, *_ = np.linalg.lstsq(design, target, rcond=None)
    size = float(np.sqrt(np.mean(target ** 2))) or 1.0
    error = float(np.sqrt(np.mean((design @ c - target) ** 2))) / size
    G = basis(grid_o)
    coef = np.stack([G @ c[j * (DEGREE + 1):(j + 1) * (DEGREE + 1)] for j in range(len(terms))])
    return coef, max(ROWS_READING_FLOOR, 3.0 * error)


def _values(ctx, Z) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(ctx.predict(Z), dtype=np.float64)


def _table(ctx, X: np.ndarray, k: int, gz: np.ndarray) -> np.ndarray:
    """The stand-in's values with input k on the grid gz, for each row of X: [rows, grid]."""
    Z = np.repeat(X, len(gz), axis=0)
    Z[:, k] = np.tile(gz, len(X))
    return _values(ctx, Z).reshape(len(X), len(gz))


def _grid(x: np.ndarray) -> np.ndarray:
    return np.quantile(x, np.linspace(EDGE, 1.0 - EDGE, GRID))


def _rows(X: np.ndarray, n: int, rng) -> np.ndarray:
    return X if len(X) <= n else X[rng.choice(len(X), n, replace=False)]


def _solve_rest(ctx, k, terms, T_grid, forward, rest_cols, budget, step):
    """Options for each a_j(rest) when rest has several inputs: a_j at sample rows
    (training and held-out) by least squares on the stand-in's table, each a smaller
    problem solved by the same search."""
    rng = np.random.default_rng(ctx.cfg.seed + 1)
    gz = T_grid[0]
    T = T_grid[1]
    parts = []
    for X in (_rows(ctx.X_train[ctx.kan_rows], SAMPLES, rng), _rows(ctx.X_test, SAMPLES // 2, rng)):
        with np.errstate(all="ignore"):
            M = forward(_table(ctx, X, k, gz))
        if not np.isfinite(M).all():
            return None
        coef, *_ = np.linalg.lstsq(T, M.T, rcond=None)      # [terms, rows]
        parts.append((X, coef))
    (Xtr, ctr), (Xte, cte) = parts
    options = []
    for j in range(len(terms)):
        if np.linalg.norm(ctr[j]) <= 1e-9 * np.linalg.norm(ctr):
            options.append([sympy.Integer(0)])
            continue
        if np.std(ctr[j]) <= 1e-6 * abs(np.mean(ctr[j])):      # a constant coefficient
            options.append([sympy.Float(float(np.mean(ctr[j])))])
            continue
        sub = ctx.child(Xtr[:, rest_cols], ctr[j], Xte[:, rest_cols], cte[j], rest_cols, budget / len(terms),
                        step)
        ctx.solve(sub, f"low rank: the coefficient of {terms[j]}")
        front = sorted((c for c in sub.candidates if np.isfinite(c.test_rmse)), key=lambda c: c.test_rmse)
        if not front:
            return None
        options.append([c.formula for c in front[:SUB_CANDIDATES]])
        if ctx.clock.left() <= 1.0:
            return None
    return options


def low_rank_split(ctx):
    """Try y (and 1/y) as a sum of at most MAX_RANK products a_j(rest) T_j(z), for each
    input z, smallest rank first."""
    if ctx.n_in < 2 or not ctx.has_oracle() or ctx.clock.left() <= 3.0:
        return
    if ctx.n_in > 2 and getattr(ctx, "depth", 0) >= MAX_DEPTH:
        return
    rng = np.random.default_rng(ctx.cfg.seed)
    X = ctx.X_train[ctx.kan_rows]
    sample = _rows(X, SAMPLES, rng)
    tol = min(split_tolerance(ctx, "add"), MAX_RESIDUAL)
    # the pieces are read to the stand-in's accuracy: a library fit only roughly as
    # good (a percent, as for a separability split's factors) leaves the exact
    # shape to the engine
    reading = max(READING_FLOOR, 3.0 * _relative_error(ctx))
    tried = []
    with ctx.clock.stage("low rank: read the best model on grids"):
        for k in range(ctx.n_in):
            gz = _grid(X[:, k])
            if np.ptp(gz) == 0:
                continue
            F = _table(ctx, sample, k, gz)
            if not np.isfinite(F).all():
                continue
            for name, forward, back in _targets(ctx):
                with np.errstate(all="ignore"):
                    M = forward(F)
                if np.isfinite(M).all():
                    r, rest = rank_of(M, tol)
                    if r >= 2:          # rank 1 is a multiplicative split: separable_split's case
                        tried.append((r, rest, k, name, gz, M, forward, back))
    # the smallest rank first: fewer pieces, and the likelier law.  Naming the pieces
    # in z is quick where they are simple (1, cos t); how well the named pieces then
    # explain the rows (or the stand-in) decides which split is carried through
    named = []
    for r, rest, k, name, gz, M, forward, back in sorted(tried, key=lambda t: (t[0], t[1]))[:MAX_TRIES]:
        if ctx.clock.left() <= 2.0:
            return
        side = _name_pieces(ctx, r, k, name, gz, M, forward, tol, reading)
        if side is not None:
            named.append((side["error"], r, rest, k, name, back, side))
    for error, r, rest, k, name, back, side in sorted(named, key=lambda t: t[0]):
        if ctx.exact_found() or ctx.clock.left() <= 2.0:
            return
        _carry_through(ctx, r, rest, k, name, back, side, tol)


def _name_pieces(ctx, r, k, name, gz, M, forward, tol, reading):
    """Name the r singular vectors in z and take their terms as the pieces T_j(z):
    {"terms", "T" (on the grid), "error" (how far the named pieces leave the rows or
    the stand-in), "a" (the a_j on a grid of the other input, two inputs only),
    "grid_o", "reading", "gz", "forward"}, or None when the names do not span the
    reading."""
    sz = ctx.symbols[k]
    z = ctx.names[k]
    with ctx.clock.stage(f"low rank ({name}, rank {r} in {z}): name the pieces in {z}"):
        _, _, Vt = np.linalg.svd(M, full_matrices=False)
        named = []
        for j in range(r):
            opts = factor_options(ctx, gz, Vt[j], sz, tolerance=reading)
            if not opts or ctx.clock.left() <= 1.0:
                return None
            named.append(opts[0])
        # the terms of the named vectors are the pieces themselves (1 and cos t
        # rather than c1 + c2 cos t); they must span what was read
        terms = _terms(named, sz, gz)
        if not terms or len(terms) > r + 1:
            return None
        T = _on_grid(terms, sz, gz)
        coef, *_ = np.linalg.lstsq(T, M.T, rcond=None)
        span = float(np.linalg.norm(M.T - T @ coef) / np.linalg.norm(M))
        if span > tol:
            return None                  # the named terms do not span the reading: a wrong name
        out = {"terms": terms, "T": T, "error": span, "reading": reading, "gz": gz, "forward": forward}
        if ctx.n_in != 2:
            return out
        o = 1 - k
        go = _grid(ctx.X_train[ctx.kan_rows, o])
        on_rows = _functions_on_rows(ctx, terms, sz, ctx.symbols[o], go, forward)
        # the pieces were named off the stand-in, a few 1e-4 off: cos(t + 0.0005)
        # for cos(t).  The rows decide: the nearest simple constants win where they
        # explain the rows better
        simple = _simplified(terms)
        if simple != terms:
            other = _functions_on_rows(ctx, simple, sz, ctx.symbols[o], go, forward)
            if other is not None and (on_rows is None or other[1] < on_rows[1]):
                terms, on_rows = simple, other
                out.update(terms=terms, T=_on_grid(terms, sz, gz))
        if on_rows is None:       # few rows: the stand-in's table on a grid of the other input
            Xg = np.zeros((GRID, 2))
            Xg[:, o] = go
            with np.errstate(all="ignore"):
                Mo = forward(_table(ctx, Xg, k, gz))
            if not np.isfinite(Mo).all():
                return None
            on_rows = (np.linalg.lstsq(out["T"], Mo.T, rcond=None)[0], reading)
        out.update(a=on_rows[0], reading=on_rows[1], grid_o=go, error=on_rows[1])
        return out


def _on_grid(terms, symbol, grid) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.column_stack([np.broadcast_to(np.asarray(evaluate_numpy(t, {symbol: grid}), dtype=np.float64),
                                                grid.shape) for t in terms])


def _carry_through(ctx, r, rest, k, name, back, side, tol):
    """Name (two inputs) or solve (more) the coefficients a_j of the pieces, then
    the sum of products, refitted on the rows."""
    z = ctx.names[k]
    terms = side["terms"]
    rest_cols = [i for i in range(ctx.n_in) if i != k]
    others = ", ".join(ctx.names[i] for i in rest_cols)
    test = Step("low rank", f"{name} = a_1({others})*T_1({z}) + ... + a_{r}({others})*T_{r}({z}): the best "
                            f"model's values on a grid of {z} have rank {r} (the rest is {rest:.2g} of them, "
                            f"limit {tol:.2g})", tuple(ctx.names), error=rest,
                details={"test": "low rank", "target": name, "rank": r, "variable": z})
    if len(rest_cols) == 1:
        o = rest_cols[0]
        with ctx.clock.stage(f"low rank ({name}, rank {r} in {z}): name the pieces in {others}"):
            a = side["a"]
            options = [factor_options(ctx, side["grid_o"], a[j], ctx.symbols[o], tolerance=side["reading"])
                       if np.linalg.norm(a[j]) > 1e-9 * np.linalg.norm(a) else [sympy.Integer(0)]
                       for j in range(len(terms))]
        if any(not opt for opt in options) or ctx.clock.left() <= 1.0:
            return
    else:
        budget = min(0.5 * ctx.clock.left(), SUB_BUDGET)
        if budget < 2.0 * len(terms):
            return
        options = _solve_rest(ctx, k, terms, (side["gz"], side["T"]), side["forward"], rest_cols, budget, test)
        if options is None:
            return

    def combine(parts, terms=terms, back=back):
        return back(sympy.Add(*(a * t for a, t in zip(parts, terms))))

    with ctx.clock.stage(f"low rank ({name}, rank {r} in {z}): choose pieces"):
        parts = choose_factors(ctx, options, combine)
        expr = combine(parts)
    pieces = " + ".join(f"({a})*({t})" for a, t in zip(parts, terms))
    done = Step("pieces", f"named the pieces: {name} = {pieces}; constants refitted on the rows",
                tuple(ctx.names), piece=str(expr))
    ctx.add_structure(expr, f"low rank ({name})", net_rmse=ctx.best_net_rmse, steps=(test, done))
