"""The dictionary of the sparse monomial fit (``monomials.py``): which products of
the variables are its columns, and their values on the rows.

A column is a monomial, prod x_i^e_i with integer exponents of either sign
within a radius of total size |e|, or, for the richer dictionary of small
problems, a monomial times one power of cos x, sin x or exp x of one variable
(FFX's products).  The radius is the largest that keeps the dictionary within
a number of columns, so it shrinks as the variables grow: x^24 in one
variable, total degree 8 in six.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy

__all__ = ["MAX_ATOMS", "MAX_RADIUS", "Factor", "atom_count", "radius_for", "exponent_vectors", "factors",
           "dictionary", "columns"]

MAX_ATOMS = 50_000    # columns of the dictionary (memory: this times the fit's rows, in floats)
MAX_RADIUS = 24       # the largest total |exponent| of one monomial (x^24: powers of data a few decades
                      # wide stay well inside float64 there)


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


@dataclass(frozen=True)
class Factor:
    """One factor of the dictionary's products: a variable (any power within the
    radius), or a function of one (cos x, sin x, exp x) with the powers it may take."""
    expr: sympy.Expr
    values: np.ndarray
    powers: tuple = ()


ANGLE = 2 * math.pi   # a variable inside [-2 pi, 2 pi] may be an angle: cos x and sin x are factors
EXP_SPAN = 20.0       # exp x is a factor where x spans at most this (as for exp y)
WAVE_POWERS = (1, 2)  # cos x, cos^2 x (never negative: they cross zero)
EXP_POWERS = (-2, -1, 1, 2)
FUNCTION_RADIUS = 8   # the monomials of a dictionary with functions: x^3 cos^2(x) is a law's shape,
                      # x^20 cos(x) is a fit's


def factors(X: np.ndarray, symbols, functions: bool) -> list:
    """The variables (any integer power), and with ``functions`` their cosines and
    sines (where they may be angles) and exponentials (where narrow enough)."""
    out = [Factor(s, X[:, i], ()) for i, s in enumerate(symbols)]
    if functions:
        for i, s in enumerate(symbols):
            x = X[:, i]
            if float(np.abs(x).max()) <= ANGLE:
                out += [Factor(sympy.cos(s), np.cos(x), WAVE_POWERS), Factor(sympy.sin(s), np.sin(x), WAVE_POWERS)]
            if float(x.max() - x.min()) <= EXP_SPAN and float(np.abs(x).max()) <= EXP_SPAN:
                out.append(Factor(sympy.exp(s), np.exp(x), EXP_POWERS))
    return out


def dictionary(F: list, max_atoms: int) -> np.ndarray:
    """Exponent vectors over the factors: every monomial in the variables within a
    radius, each alone and times one power of one function factor (FFX's
    products, not products of several functions: those are rarely laws, and
    their many near-duplicates crowd out the right columns of a greedy search).
    The radius is the largest that keeps at most ``max_atoms`` vectors."""
    n = sum(1 for f in F if not f.powers)
    options = 1 + sum(len(f.powers) for f in F)
    r, top = 0, (MAX_RADIUS if options == 1 else FUNCTION_RADIUS)
    while r < top and atom_count(n, r + 1) * options <= max_atoms:
        r += 1
    M = exponent_vectors(n, r)
    blocks = [np.hstack([M, np.zeros((len(M), len(F) - n), dtype=np.int64)])]
    for d, f in enumerate(F[n:]):
        for p in f.powers:
            B = np.zeros((len(M), len(F)), dtype=np.int64)
            B[:, :n], B[:, n + d] = M, p
            blocks.append(B)
    return np.vstack(blocks)


def columns(F: list, E: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(columns [rows, m], which are usable): prod_d f_d^e_d for every row and
    exponent vector (a zero value to a negative power is not usable)."""
    A = np.ones((len(F[0].values), len(E)))
    with np.errstate(all="ignore"):
        for d, f in enumerate(F):
            e = E[:, d]
            used = np.flatnonzero(e)
            # each distinct power once, then gathered: a float power per entry of a
            # [rows, 50 000] array costs ten times as much
            powers, which = np.unique(e[used], return_inverse=True)
            A[:, used] *= (f.values[:, None] ** powers.astype(np.float64)[None, :])[:, which]
    ok = np.isfinite(A).all(0)
    with np.errstate(all="ignore"):
        scale = np.sqrt((A[:, ok] * A[:, ok]).sum(0))
    ok[ok] = (scale > 0) & np.isfinite(scale)
    return A, ok
