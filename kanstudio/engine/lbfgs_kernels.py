"""Compiled (numba) bookkeeping of FlatLBFGS: the compact-form direction and
the update of its small matrices when a curvature pair is stored.

On the networks scientists fit (10^2-10^4 parameters, history 10) each is a
dozen numpy calls of ~1 us fixed cost for a few thousand multiply-adds; as
one loop each they take ~2 us.  lbfgs.py holds the same maths in numpy (the
reference, and the fallback where numba is missing) and the derivation.
"""
from __future__ import annotations

import numpy as np

from . import kernels

__all__ = ["available", "direction", "add_pair"]


def available() -> bool:
    return kernels.available()


if kernels.available():
    from numba import njit

    from .kernels import _CACHE

    @njit(cache=_CACHE, nogil=True, error_model="numpy")
    def direction(W, Rinv, YY, D, gamma, g, coef, out):
        """out = -H g (FlatLBFGS._direction_numpy); coef [2m] is scratch."""
        m2, n = W.shape
        m = m2 // 2
        wg = np.zeros(m2)
        for r in range(m2):
            acc = 0.0
            for j in range(n):
                acc += W[r, j] * g[j]
            wg[r] = acc
        v = np.zeros(m)
        for r in range(m):
            acc = 0.0
            for c in range(m):
                acc += Rinv[r, c] * wg[c]
            v[r] = acc
        w = np.zeros(m)
        for r in range(m):
            acc = 0.0
            for c in range(m):
                acc += YY[r, c] * v[c]
            w[r] = (acc - wg[m + r]) * gamma + D[r] * v[r]
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
        a = np.zeros(m2)
        for r in range(m2):
            acc = 0.0
            for j in range(n):
                acc += W[r, j] * y[j]
            a[r] = acc
        inv = 1.0 / ys
        for r in range(m):             # column h of R^-1 is zero: a[h] (= s.y) is ignored
            acc = 0.0
            for c in range(m):
                acc += Rinv[r, c] * a[c]
            Rinv[r, h] = -acc * inv
        Rinv[h, h] = inv
        for c in range(m):
            YY[h, c] = a[m + c]
            YY[c, h] = a[m + c]
        D[h] = ys
        return ys / a[m + h]
else:  # pragma: no cover - exercised only where numba is absent
    direction = add_pair = None
