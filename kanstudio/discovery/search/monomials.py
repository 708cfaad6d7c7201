"""Sparse sums of monomials: the polynomial fit of AI Feynman, with integer
powers of either sign, and, on small problems, ratios and products with cos,
sin and exp.

Most laws of physics are, in y or in a simple transform of it, a short sum of
products of integer powers of the variables: p^2/(2m) + m w^2 x^2 / 2 is two
monomials, 1/A^2 = m^2 (w0^2 - w^2)^2 + m^2 g^2 w^2 (a driven oscillator's
amplitude) is four in 1/y^2, and the constants (8 pi, 1/2) are coefficients.
Such a law is linear in its coefficients once its monomials are chosen, so a
search over which monomials is a sparse linear regression, not a genetic
search: every monomial with exponents of total size up to a radius is a
column (the radius shrinks with the number of variables, so the dictionary
stays a few ten thousand columns), and a beam search adds one column at a
time, each step ranking the columns by how much they would lower the error
left by the chosen ones (forward stepwise regression, a beam of them).
On exact data the law's own monomials leave nothing: the search stops there.

A problem of at most three variables (what a decomposition or a peel leaves)
is also fitted in two richer forms, as SINDy-style libraries do: products of
a monomial with one power of cos x, sin x or exp x of one variable (FFX's
products: (1 - cos a)/a^2, x^3 / (e^x - 1), K/(1 + (K/N - 1) e^-u) in 1/y),
and ratios of two such sums, fitted linearly as t = P + t (1 - Q) (Q's
columns times t); a ratio is scored by P / Q itself, so that a fit with
P = Q = 0 (cos^2 + sin^2 - 1) does not pass for a law.

Every transform of the target that ``target_transforms`` offers is fitted the
same way (the angles only with the function products), and the best sum of
each size is read back as y; the caller refits the constants on the rows and
judges it like any other candidate.
"""
from __future__ import annotations

import math
from itertools import combinations
from typing import NamedTuple

import numpy as np
import sympy

from .dictionary import MAX_ATOMS, columns, dictionary, factors
from .target_transforms import usable_transforms

__all__ = ["sparse_monomials", "MonomialFit", "monomial_search", "Found", "monomial_pieces"]

MAX_TERMS = 4         # monomials in one sum: a law with more is not short in this form
ROWS = 120            # rows the search runs on (the caller refits on its own rows): a sum of a few
                      # monomials that fits 120 rows to round-off is the law on any others
BEAM = 6              # supports kept at each size ...
EXPAND = 8            # ... columns tried on each kept support, best first ...
WORK = BEAM * MAX_ATOMS   # ... widened on smaller dictionaries while beam * columns stays within this
WIDEST = 16           # (a wide beam finds supports whose terms are each weak alone)
SCREENED = {2: 128, 3: 48, 4: 24}   # columns whose every pair, triple, quadruple is tried
                                    # (MonomialFit._subsets: 8-17 thousand subsets each)
SWAPPED = 2           # supports of each size improved by swapping columns (MonomialFit._swapped)
EXACT = 1e-10         # relative residual of an exact fit: the search stops there
SKIP = ("sin y", "cos y")   # angles are not sums of monomials in any useful sense (without functions)


class MonomialFit:
    """The best sum of each size found for one target: {size: (relative error, support)}.

    Columns and target are centred (the constant term is always in the fit), and
    a column is ranked by how much it would lower the error with the support's
    columns projected out of it (forward stepwise regression): the raw
    correlations of positive, monotone monomials are all near 1 and rank
    nothing."""

    def __init__(self, A: np.ndarray, t: np.ndarray, ratio: bool = False):
        # ratio: t = P / Q with Q = 1 - sum b_k (a_k - mean a_k), fitted linearly as
        # t = P + sum b_k (a_k - mean a_k) t (columns m.. are those products).  Centred,
        # so no column is nearly t itself: t * (sin(a)/a) on a short range of a is,
        # and would fit t = P / Q with P and Q both nearly 0
        self.m = A.shape[1] if ratio else None
        self.mono = A
        self.mean = A.mean(0)
        self.raw = np.hstack([A, (A - self.mean) * t[:, None]]) if ratio else A
        self.raw_t = t
        self.A = self.raw - self.raw.mean(0)
        self.t = t - t.mean()
        self.norm = float(np.sqrt(np.dot(self.t, self.t))) or 1.0
        self.best: dict = {}
        self.beam = int(min(WIDEST, max(BEAM, WORK // max(1, self.A.shape[1]))))
        self.expand = max(EXPAND, self.beam)

    def coefficients(self, support) -> tuple:
        """(c0, {column: coefficient} of P, q0, {column: coefficient} of Q): t = (c0 + sum
        c_j a_j) / (q0 - sum b_k a_k), least squares on the rows (q0 = 1 for a sum)."""
        cols = np.column_stack([np.ones(len(self.raw_t)), self.raw[:, list(support)]])
        coef, *_ = np.linalg.lstsq(cols, self.raw_t, rcond=None)
        num = {j: float(c) for c, j in zip(coef[1:], support) if self.m is None or j < self.m}
        den = {j - self.m: float(c) for c, j in zip(coef[1:], support) if self.m is not None and j >= self.m}
        q0 = 1.0 + sum(c * float(self.mean[k]) for k, c in den.items())
        return float(coef[0]), num, q0, den

    def _score(self, support, linear: float) -> float:
        """The support's relative error: the linear fit's, or for a ratio that of P / Q
        itself, which has no pole among the rows (a linear fit of a ratio can be
        exact with P = Q = 0: cos^2 + sin^2 - 1, or a Taylor series of cos x
        among powers of x)."""
        if self.m is None or all(j < self.m for j in support):
            return linear
        v = _predict(self.coefficients(support), self.mono)
        if not np.isfinite(v).all():
            return math.inf             # a pole among the rows
        r = v - self.raw_t
        return float(np.sqrt(np.dot(r, r))) / self.norm

    def _basis(self, support) -> np.ndarray:
        if not support:
            return np.zeros((len(self.t), 0))
        q, _ = np.linalg.qr(self.A[:, list(support)])
        return q

    def _gains(self, support) -> tuple[np.ndarray, float]:
        """(error decrease each column would bring to ``support``, |residual|^2)."""
        A = self.A
        q = self._basis(support)
        r = self.t - q @ (q.T @ self.t)
        proj = q.T @ A                                  # [k, m]
        left = self.sq - (proj * proj).sum(0)           # |a_j with the support projected out|^2
        with np.errstate(all="ignore"):
            gain = np.where(left > 1e-12 * self.sq, (r @ A) ** 2 / np.maximum(left, 1e-300), -1.0)
        gain[list(support)] = -1.0
        return gain, float(np.dot(r, r))

    def _swapped(self, support, err: float, stop) -> tuple[tuple, float]:
        """``support`` improved one column at a time: each member in turn replaced by
        the column that lowers the error most without it, while that helps.  A
        greedy first step often takes a compromise (the geometric mean of two
        terms); the swap trades it for the terms themselves."""
        improved = True
        while improved and not stop():
            improved = False
            for p in range(len(support)):
                rest = support[:p] + support[p + 1:]
                gain, rr = self._gains(rest)
                j = int(np.argmax(gain))
                if gain[j] <= 0:
                    continue
                key = tuple(sorted(rest + (j,)))
                e = self._score(key, math.sqrt(max(rr - float(gain[j]), 0.0)) / self.norm)
                if e < err * (1 - 1e-6):
                    support, err, improved = key, e, True
                    break
        return support, err

    def _subsets(self, size: int) -> list:
        """(support, linear error) of the best supports of ``size`` columns among the
        SCREENED[size] columns that matter most alone, every subset tried (SISSO's
        screening, then an exhaustive search).  A greedy first step takes the
        column that best stands in for two large terms (m w^2 x^3 / y for m w^2 x^2
        and a m w^2 x^3 / y), and no single swap leaves that compromise."""
        if self._alone is None:
            self._alone = self._gains(())
        gain, rr = self._alone
        top = _largest(gain, SCREENED.get(size, 0))
        top = top[gain[top] > 0]
        if len(top) < size:
            return []
        B = self.A[:, top]
        c = B.T @ self.t
        G = B.T @ B
        S = np.array(list(combinations(range(len(top)), size)), dtype=np.int64)     # [T, size]
        Gs = G[S[:, :, None], S[:, None, :]]                                         # [T, size, size]
        cs = c[S]                                                                    # [T, size]
        ridge = 1e-12 * np.trace(Gs, axis1=1, axis2=2)[:, None, None] * np.eye(size)
        with np.errstate(all="ignore"):
            coef = np.linalg.solve(Gs + ridge, cs[:, :, None])[:, :, 0]
            gained = (coef * cs).sum(1)
        gained[~np.isfinite(gained)] = -1.0
        out = []
        for k in _largest(gained, self.beam):
            if gained[k] > 0:
                e = math.sqrt(max(rr - float(gained[k]), 0.0)) / self.norm
                out.append((tuple(sorted(int(top[i]) for i in S[k])), e))
        return out

    def run(self, stop=lambda: False) -> "MonomialFit":
        self.sq = (self.A * self.A).sum(0)
        self._alone = None                  # each column's gain alone (every size's screening)
        beam = [()]
        for size in range(1, MAX_TERMS + 1):
            scored: dict = {}
            for support in beam:
                if stop():
                    return self
                gain, rr = self._gains(support)
                for j in _largest(gain, self.expand):
                    if gain[j] <= 0:
                        break
                    key = tuple(sorted(support + (int(j),)))
                    if key not in scored:
                        scored[key] = self._score(key, math.sqrt(max(rr - float(gain[j]), 0.0)) / self.norm)
            if size in SCREENED:
                for key, e in self._subsets(size):
                    if key not in scored:
                        scored[key] = self._score(key, e)
            if not scored:
                break
            ranked = sorted(scored.items(), key=lambda kv: kv[1])[:self.beam]
            if size > 1:
                for k, e in ranked[:SWAPPED]:
                    k2, e2 = self._swapped(k, e, stop)
                    if k2 not in scored or e2 < scored[k2]:
                        scored[k2] = e2
                ranked = sorted(scored.items(), key=lambda kv: kv[1])[:self.beam]
            self.best[size] = (ranked[0][1], ranked[0][0])
            if ranked[0][1] <= EXACT:
                break
            beam = [k for k, _ in ranked]
        return self


def _largest(v: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k largest entries of v, largest first (a full sort of 50 000
    gains per step costs more than the step)."""
    if k >= len(v):
        return np.argsort(-v)
    top = np.argpartition(-v, k)[:k]
    return top[np.argsort(-v[top])]


RICH_VARS = 3         # problems this small also get the richer forms ...
RICH_ATOMS = 10_000   # ... in dictionaries of at most this many columns each (a 3-input problem's
                      # richer forms then take about what its plain sum does)


class Found(NamedTuple):
    expr: sympy.Expr      # the formula for y
    target: str           # the transform of y that was fitted ("y", "1/y^2", ...)
    error: float          # relative error in y on rows the fit did not see (see ``held_out``)
    form: str             # "sum" of products, or "ratio" of two sums
    functions: bool       # the products include cos, sin, exp of the variables
    size: int             # columns in the fit (numerator and denominator)


def held_out(count: int, rows: int = ROWS) -> tuple[np.ndarray, np.ndarray]:
    """(rows to fit, rows to judge on), each spread over the table (a real table's
    rows are often sorted).  Fits of different transforms of y are compared in y
    itself, on rows none of them saw: a relative error in 1/y^2 or in exp y is
    not one in y (a transform that stretches the target's range makes any fit
    look better there), and on noisy data the larger fits that follow the noise
    are the worse ones there.  A table too small to spare a third of its rows
    is judged on the rows it was fitted on."""
    idx = np.arange(count)
    if count >= 2 * rows:
        fit = np.linspace(0, count - 1, rows).astype(int)
        rest = np.setdiff1d(idx, fit)
        return fit, rest[np.linspace(0, len(rest) - 1, rows).astype(int)]
    held = idx[1::3]
    fit = np.setdiff1d(idx, held)
    if len(fit) < MIN_ROWS:
        return idx, idx
    if len(fit) > rows:
        fit = fit[np.linspace(0, len(fit) - 1, rows).astype(int)]
    return fit, held


MIN_ROWS = 2 * MAX_TERMS + 2   # rows a fit of MAX_TERMS columns needs to say anything


def sparse_monomials(X: np.ndarray, y: np.ndarray, symbols, stop=lambda: False, rows: int = ROWS,
                     max_atoms: int = MAX_ATOMS, limit: int = 8) -> list:
    """``Found`` for the best sum of each size in y and in each usable transform of
    it, most accurate in y on held-out rows (then shortest) first: the ``limit`` best.

    Problems of at most RICH_VARS inputs are also fitted in two richer forms:
    products that include cos, sin and exp of the variables, and ratios of two
    sums, fitted linearly as t = P - t*(Q - 1) (the denominator's columns are
    the monomials times t).  A ratio or a product with a cosine is the shape of
    many laws once a decomposition has left two or three variables."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = X.shape[1]
    if n == 0 or len(y) < MIN_ROWS:
        return []
    fit_rows, judge_rows = held_out(len(y), rows)
    both = np.concatenate([fit_rows, judge_rows])
    X, y = X[both], y[both]
    nf = len(fit_rows)
    yf, yj = y[:nf], y[nf:]
    rich = n <= RICH_VARS
    variants = [(False, "sum")] + ([(False, "ratio"), (True, "sum"), (True, "ratio")] if rich else [])
    transforms = usable_transforms(yf)
    out = []
    for functions, form in variants:
        F = factors(X, symbols, functions)
        if functions and len(F) == n:
            continue                    # no variable has a usable function
        budget = max_atoms if (form, functions) == ("sum", False) else min(max_atoms, RICH_ATOMS)
        E = dictionary(F, budget // 2 if form == "ratio" else budget)
        A, ok = columns(F, E)
        ok &= np.abs(E).sum(1) > 0          # the constant: every fit has one
        A, E = A[:, ok], E[ok]
        if A.shape[1] == 0:
            continue
        Af, Aj = A[:nf], A[nf:]
        def term(j, F=F, E=E):
            return sympy.Mul(*(f.expr ** int(p) for f, p in zip(F, E[j]) if p != 0))

        for tr in transforms:
            if stop():
                return [_found(*o, yf) for o in _ranked(out, len(yj))[:limit]]
            if tr.name in SKIP and not functions:
                continue
            m = Af.shape[1]
            fit = MonomialFit(Af, tr.apply(yf), ratio=form == "ratio").run(stop)
            for size, (err, support) in sorted(fit.best.items()):
                if not math.isfinite(err) or (form == "ratio" and all(j < m for j in support)):
                    continue            # no denominator: the sum form has it
                coef = fit.coefficients(support)
                judged = _error_in_y(tr, _predict(coef, Aj), yj, yf)
                if math.isfinite(judged):
                    out.append((judged, size, form, functions, tr, coef, support, term))
    return [_found(*o, yf) for o in _ranked(out, len(yj))[:limit]]


def _predict(coef: tuple, A: np.ndarray) -> np.ndarray:
    """P / Q of ``MonomialFit.coefficients`` on the rows of A (the monomial columns)."""
    c0, num, q0, den = coef
    p = c0 + sum(c * A[:, j] for j, c in num.items())
    if not den:
        return np.broadcast_to(np.asarray(p, dtype=np.float64), (A.shape[0],))
    q = q0 - sum(c * A[:, k] for k, c in den.items())
    a = np.abs(q)
    if not (np.all(q > 0) or np.all(q < 0)) or a.min() < 1e-6 * a.max():
        return np.full(A.shape[0], np.nan)         # a pole among these rows
    return p / q


def _error_in_y(tr, t: np.ndarray, y: np.ndarray, y_fit: np.ndarray) -> float:
    """Relative error in y of values t of the transform (inf where they cannot be read back)."""
    v = tr.values_back(t, y_fit)
    d = y - y.mean()
    scale = float(np.sqrt(np.dot(d, d))) or 1.0
    with np.errstate(all="ignore"):
        r = v - y
        e = float(np.sqrt(np.dot(r, r))) / scale
    return e if math.isfinite(e) else math.inf


def _ranked(found: list, judged_on: int) -> list:
    """Smallest first among the fits that the held-out rows cannot tell from the best
    (errors within the spread of an RMSE measured on ``judged_on`` rows, about
    1/sqrt(2 n) of it, or all at round-off), then the rest, most accurate first."""
    if not found:
        return []
    best = max(min(f[0] for f in found), EXACT)
    tied = best * (1.0 + 1.0 / math.sqrt(2.0 * max(judged_on, 1)))
    return sorted(found, key=lambda f: (0, f[1], f[0]) if f[0] <= tied else (1, f[0], f[1]))


def _found(err, size, form, functions, tr, coef, support, term, y) -> Found:
    """The formula for y of one fit (sympy is slow: only for those returned)."""
    c0, num, q0, den = coef
    p = sympy.Float(c0) + sympy.Add(*(sympy.Float(c) * term(j) for j, c in num.items()))
    q = sympy.Float(q0) - sympy.Add(*(sympy.Float(c) * term(k) for k, c in den.items())) if den else 1
    return Found(tr.read_back(p / q, y), tr.name, err, form, functions, size)


def monomial_pieces(X: np.ndarray, g: np.ndarray, symbols, stop=lambda: False, keep: int = 2) -> tuple[list, bool]:
    """(formulas for g, whether the best is exact to round-off): the sparse fit on a
    piece of a law computed on the data (peel.py), for pieces of at most
    RICH_VARS variables, where it takes a second or two."""
    if X.shape[1] > RICH_VARS:
        return [], False
    found = sparse_monomials(X, g, symbols, stop, limit=keep)
    if not found:
        return [], False
    best = found[0].error
    return [f.expr for f in found[:keep] if f.error <= KEEP_RATIO * max(best, EXACT)], best <= EXACT


KEEP = 4              # sums handed to the pipeline: the most accurate ones ...
KEEP_RATIO = 10.0     # ... within this factor of the best one's error


def monomial_search(ctx) -> int:
    """The sparse-monomial fit as a stage of a (sub-)problem: the best sums, read
    back as y, refitted on the rows and judged like any candidate.  Returns how
    many candidates it added."""
    from ..derivation import Step

    if ctx.clock.left() <= 1.0:
        return 0
    rows = ctx.kan_rows
    with ctx.clock.stage("sparse monomials"):
        found = sparse_monomials(ctx.X_train[rows], ctx.y_train[rows], ctx.symbols, ctx.clock.stop_training,
                                 limit=KEEP)
    if not found:
        return 0
    best = max(found[0].error, 1e-300)
    before = len(ctx.candidates)
    for f in found[:KEEP]:
        if f.error > KEEP_RATIO * best or ctx.clock.left() <= 0 or ctx.exact_found():
            break
        of = ("products of integer powers of " if not f.functions else
              "products of integer powers of, and of cos, sin and exp of, ") + ", ".join(ctx.names)
        shape = "a sum of " if f.form == "sum" else "a ratio of two sums of "
        step = Step("sparse monomials", f"fitted {f.target} as {shape}{of} (relative error {f.error:.2g} "
                                        f"in y, on rows the fit did not see)", tuple(ctx.names))
        ctx.add_structure(f.expr, f"sparse monomials ({f.target}, {f.form})", steps=(step,))
    return len(ctx.candidates) - before
