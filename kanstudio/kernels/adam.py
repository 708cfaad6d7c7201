"""Compiled (numba) update of FlatAdam: the moments, the step and the
finiteness check in one pass over the flat vector.  As a dozen numpy calls
it cost ~0.1 ms a step here, most of it the calls' fixed cost run with cold
caches right after an evaluation; adam.py holds the same update in numpy
(the fallback where numba is missing)."""
from __future__ import annotations

import math

from .. import kernels

__all__ = ["available", "update"]


def available() -> bool:
    return kernels.available()


if kernels.available():
    from numba import njit

    from . import _CACHE

    @njit(cache=_CACHE, nogil=True, error_model="numpy")
    def update(x, g, m, v, b1, c1, b2, c2, step_size, inv_sqrt_bc2, eps):
        """m = b1 m + c1 g, v = b2 v + c2 g^2 (c = 1 - b),
        x -= step_size * m / (sqrt(v) * inv_sqrt_bc2 + eps), with the scalars
        in the arrays' dtype (the numpy update's rounding); returns whether
        x stayed finite."""
        finite = True
        for j in range(x.shape[0]):
            gj = g[j]
            mj = b1 * m[j] + c1 * gj
            vj = b2 * v[j] + c2 * (gj * gj)
            m[j] = mj
            v[j] = vj
            xj = x[j] - step_size * (mj / (math.sqrt(vj) * inv_sqrt_bc2 + eps))
            x[j] = xj
            finite &= math.isfinite(xj)
        return finite
