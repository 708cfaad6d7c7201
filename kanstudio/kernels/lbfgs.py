"""Compiled (numba) bookkeeping of FlatLBFGS: the compact-form direction and
the update of its small matrices when a curvature pair is stored.

On the networks scientists fit (10^2-10^4 parameters, history 10) each is a
dozen numpy calls of ~1 us fixed cost for a few thousand multiply-adds; as
one loop each they take ~2 us.  lbfgs.py holds the same maths in numpy (the
reference, and the fallback where numba is missing) and the derivation.
"""
from __future__ import annotations

import numpy as np

from .. import kernels

__all__ = ["available", "direction", "add_pair"]


def available() -> bool:
    return kernels.available()


if kernels.available():
    from numba import njit

    from . import _CACHE

    @njit(cache=_CACHE, nogil=True, error_model="numpy", inline="always")
    def _matvec(M, v):
        """M @ v[:M.shape[1]] in float64."""
        rows, cols = M.shape
        out = np.zeros(rows)
        for r in range(rows):
            acc = 0.0
            for c in range(cols):
                acc += M[r, c] * v[c]
            out[r] = acc
        return out

    @njit(cache=_CACHE, nogil=True, error_model="numpy")
    def direction(W, Rinv, YY, D, gamma, g, coef, out):
        """out = -H g (FlatLBFGS._direction_numpy); coef [2m] is scratch."""
        m2, n = W.shape
        m = m2 // 2
        wg = _matvec(W, g)
        v = _matvec(Rinv, wg)            # R^-1 (S g)
        w = _matvec(YY, v)
        for r in range(m):
            w[r] = (w[r] - wg[m + r]) * gamma + D[r] * v[r]
        for c in range(m):
            acc = 0.0
            for r in range(m):
                acc += w[r] * Rinv[r, c]
            coef[c] = acc
            coef[m + c] = -gamma * v[c]
        for j in range(n):
            out[j] = -gamma * g[j]
        for r in range(m2):
            cr = coef[r]
            if cr != 0.0:
                for j in range(n):
                    out[j] -= cr * W[r, j]

    @njit(cache=_CACHE, nogil=True, error_model="numpy")
    def add_pair(W, Rinv, YY, D, h, full, s, y, ys):
        """Store (s, y) in slot h and update R^-1, Y Y^T and D
        (FlatLBFGS._add_pair_numpy); returns the new gamma = s.y / y.y."""
        m2, n = W.shape
        m = m2 // 2
        if full:                       # slot h holds the oldest pair: drop it
            for c in range(m):
                Rinv[h, c] = 0.0
                Rinv[c, h] = 0.0
        for j in range(n):
            W[h, j] = s[j]
            W[m + h, j] = y[j]
        a = _matvec(W, y)
        inv = 1.0 / ys
        col = _matvec(Rinv, a)         # column h of R^-1 is zero: a[h] (= s.y) is ignored
        for r in range(m):
            Rinv[r, h] = -col[r] * inv
        Rinv[h, h] = inv
        for c in range(m):
            YY[h, c] = a[m + c]
            YY[c, h] = a[m + c]
        D[h] = ys
        return ys / a[m + h]
else:  # pragma: no cover - exercised only where numba is absent
    direction = add_pair = None
