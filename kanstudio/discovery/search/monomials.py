"""Sparse sums of monomials: the polynomial fit of AI Feynman, with integer
powers of either sign.

Most laws of physics are, in y or in a simple transform of it, a short sum of
products of integer powers of the variables: p^2/(2m) + m w^2 x^2 / 2 is two
monomials, 1/A^2 = m^2 (w0^2 - w^2)^2 + m^2 g^2 w^2 (a driven oscillator's
amplitude) is four in 1/y^2, and the constants (8 pi, 1/2) are coefficients.
Such a law is linear in its coefficients once its monomials are chosen, so a
search over which monomials is a sparse linear regression, not a genetic
search: every monomial with exponents of total size up to a radius is a
column (the radius shrinks with the number of variables, so the dictionary
stays a few ten thousand columns), and a beam search adds one column at a
time, each step ranking the columns by their correlation with what the
chosen ones leave unexplained (orthogonal matching pursuit, a beam of them).
On exact data the law's own monomials leave nothing: the search stops there.

Every transform of the target that ``target_transforms`` offers (but the
angles) is fitted the same way, and the best sum of each size is read back as
y; the caller refits the constants on the rows and judges it like any other
candidate.
"""
from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import sympy

from .target_transforms import usable_transforms

__all__ = ["atom_count", "exponent_vectors", "radius_for", "sparse_monomials", "MonomialFit", "monomial_search"]

MAX_TERMS = 4         # monomials in one sum: a law with more is not short in this form
MAX_ATOMS = 50_000    # columns of the dictionary (memory: this times ROWS floats)
MAX_RADIUS = 24       # the largest total |exponent| of one monomial (x^24: powers of data a few decades
                      # wide stay well inside float64 there)
ROWS = 120            # rows the search runs on (the caller refits on its own rows): a sum of a few
                      # monomials that fits 120 rows to round-off is the law on any others
BEAM = 6              # supports kept at each size
EXPAND = 8            # columns tried on each kept support, best first
SWAPPED = 2           # supports of each size improved by swapping columns (MonomialFit._swapped)
EXACT = 1e-10         # relative residual of an exact fit: the search stops there
SKIP = ("sin y", "cos y")   # angles are not sums of monomials in any useful sense


def atom_count(n: int, radius: int) -> int:
    """Integer vectors in n dimensions with sum |e_i| <= radius (a Delannoy number)."""
    return sum(math.comb(n, k) * math.comb(radius, k) * 2 ** k for k in range(min(n, radius) + 1))


def radius_for(n: int, max_atoms: int = MAX_ATOMS) -> int:
    """The largest radius whose dictionary has at most ``max_atoms`` columns."""
    r = 0
    while r < MAX_RADIUS and atom_count(n, r + 1) <= max_atoms:
        r += 1
    return r


def exponent_vectors(n: int, radius: int) -> np.ndarray:
    """[m, n] int array: every exponent vector with sum |e_i| <= radius, the zero
    vector (the constant term) first, then by size."""
    return _exponent_vectors(n, radius).copy()


@lru_cache(maxsize=16)
def _exponent_vectors(n: int, radius: int) -> np.ndarray:
    out = [()]
    for _ in range(n):
        out = [v + (e,) for v in out for e in range(-radius, radius + 1)
               if sum(abs(t) for t in v) + abs(e) <= radius]
    E = np.array(out, dtype=np.int64).reshape(len(out), n)
    order = np.lexsort((np.arange(len(E)), np.abs(E).sum(1)))
    return E[order]


def _atoms(X: np.ndarray, E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns [rows, m], which are usable): prod_i x_i^e_i for every row and
    exponent vector, through logs (signs by the exponents' parity)."""
    with np.errstate(all="ignore"):
        logs = np.log(np.abs(X))                       # [rows, n]
        neg = (X < 0).astype(np.float64)
        mag = np.exp(logs @ E.T.astype(np.float64))     # [rows, m]
        odd = (neg @ (E.T % 2).astype(np.float64)) % 2
        A = np.where(odd > 0.5, -mag, mag)
    ok = np.isfinite(A).all(0)
    with np.errstate(all="ignore"):
        scale = np.sqrt((A[:, ok] * A[:, ok]).sum(0))
    ok[ok] = (scale > 0) & np.isfinite(scale)
    return A, ok


class MonomialFit:
    """The best sum of each size found for one target: {size: (relative error, support)}.

    Columns and target are centred (the constant term is always in the fit), and
    a column is ranked by how much it would lower the error with the support's
    columns projected out of it (forward stepwise regression): the raw
    correlations of positive, monotone monomials are all near 1 and rank
    nothing."""

    def __init__(self, A: np.ndarray, t: np.ndarray):
        self.A = A - A.mean(0)
        self.t = t - t.mean()
        self.norm = float(np.sqrt(np.dot(self.t, self.t))) or 1.0
        self.best: dict = {}

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
                e = math.sqrt(max(rr - float(gain[j]), 0.0)) / self.norm
                if gain[j] > 0 and e < err * (1 - 1e-6):
                    support, err, improved = tuple(sorted(rest + (j,))), e, True
                    break
        return support, err

    def run(self, stop=lambda: False) -> "MonomialFit":
        self.sq = (self.A * self.A).sum(0)
        beam = [()]
        for size in range(1, MAX_TERMS + 1):
            scored: dict = {}
            for support in beam:
                if stop():
                    return self
                gain, rr = self._gains(support)
                for j in np.argsort(-gain)[:EXPAND]:
                    if gain[j] <= 0:
                        break
                    key = tuple(sorted(support + (int(j),)))
                    if key not in scored:
                        scored[key] = math.sqrt(max(rr - float(gain[j]), 0.0)) / self.norm
            if not scored:
                break
            ranked = sorted(scored.items(), key=lambda kv: kv[1])[:BEAM]
            if size > 1:
                for k, e in ranked[:SWAPPED]:
                    k2, e2 = self._swapped(k, e, stop)
                    if k2 not in scored or e2 < scored[k2]:
                        scored[k2] = e2
                ranked = sorted(scored.items(), key=lambda kv: kv[1])[:BEAM]
            self.best[size] = (ranked[0][1], ranked[0][0])
            if ranked[0][1] <= EXACT:
                break
            beam = [k for k, _ in ranked]
        return self


def sparse_monomials(X: np.ndarray, y: np.ndarray, symbols, stop=lambda: False, rows: int = ROWS,
                     max_atoms: int = MAX_ATOMS) -> list:
    """(formula for y, transform name, relative error in that transform) for the best
    sum of each size in y and in each usable transform of it, most accurate first."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if len(y) > rows:       # spread over the table (a real table's rows are often sorted)
        pick = np.linspace(0, len(y) - 1, rows).astype(int)
        X, y = X[pick], y[pick]
    n = X.shape[1]
    if n == 0 or len(y) < 2 * MAX_TERMS + 2:
        return []
    E = exponent_vectors(n, radius_for(n, max_atoms))
    A, ok = _atoms(X, E)
    ok &= np.abs(E).sum(1) > 0          # the constant: every fit has one
    A, E = A[:, ok], E[ok]
    if A.shape[1] == 0:
        return []
    out = []
    for tr in usable_transforms(y):
        if tr.name in SKIP or stop():
            continue
        t = tr.apply(y)
        fit = MonomialFit(A, t).run(stop)
        for size, (err, support) in sorted(fit.best.items()):
            cols = np.column_stack([np.ones(len(t)), A[:, list(support)]])
            coef, *_ = np.linalg.lstsq(cols, t, rcond=None)
            body = sympy.Float(float(coef[0])) + sympy.Add(
                *(sympy.Float(float(c)) * _monomial(E[j], symbols) for c, j in zip(coef[1:], support)))
            out.append((tr.read_back(body, y), tr.name, err))
    return sorted(out, key=lambda o: o[2])


def _monomial(e, symbols) -> sympy.Expr:
    return sympy.Mul(*(s ** int(p) for s, p in zip(symbols, e) if p != 0))


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
        found = sparse_monomials(ctx.X_train[rows], ctx.y_train[rows], ctx.symbols, ctx.clock.stop_training)
    if not found:
        return 0
    best = max(found[0][2], 1e-300)
    before = len(ctx.candidates)
    for expr, target, err in found[:KEEP]:
        if err > KEEP_RATIO * best or ctx.clock.left() <= 0 or ctx.exact_found():
            break
        terms = len(sympy.Add.make_args(expr)) if target == "y" else None
        what = "y" if target == "y" else target
        step = Step("sparse monomials", f"fitted {what} as a sum of monomials (integer powers) of "
                                        f"{', '.join(ctx.names)}" + (f", {terms} terms" if terms else "")
                                        + f" (relative error {err:.2g} on {ROWS} rows)", tuple(ctx.names))
        ctx.add_structure(expr, f"sparse monomials ({target})", steps=(step,))
    return len(ctx.candidates) - before
