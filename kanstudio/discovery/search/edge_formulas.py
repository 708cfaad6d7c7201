"""The symbolic engine on one edge of a network: Auto-symbolic's fallback.

An edge that no library function c*f(a*x+b)+d serves (the shape of
x/(1+x^2), of exp(-x)*sin(2x), of a sum of two library functions) is a
one-variable problem, which the engine solves in a second or two.  It gets
the edge's samples (input, value), evenly thinned, and returns its best
readings as formulas in one variable; the caller judges them by the
network's loss, as it judges the library's.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .engines import OperonEngine
from .stage import readings

__all__ = ["edge_search"]

EDGE_ROWS = 200      # samples of an edge the engine evaluates (a smooth 1-D curve needs few)
# A one-variable problem needs no large population (300 found the same formulas
# as 1000 on x/(1 + x^2)-like edges in 2 s), and one generation per slice keeps
# a cancel prompt; one core is left to the window when Auto-symbolic runs in
# the app's worker thread (Operon releases the interpreter lock while it runs:
# a 5 ms ticker thread saw gaps of at most 19 ms during its slices).
EDGE_POPULATION = 300


def edge_search(seconds: float, seed: int = 0, stop: Optional[Callable[[], bool]] = None,
                engine=None) -> Optional[Callable]:
    """A search(x, values) -> [sympy formulas in one variable] running ``engine``
    (default Operon) for ``seconds`` per edge, or None when no engine can run
    here (auto-symbolic then leaves unfitted edges numeric, as it says)."""
    if engine is None:
        from .engines import usable_cores
        engine = OperonEngine(population=EDGE_POPULATION, generations_per_slice=1,
                              threads=max(1, usable_cores() - 1))
    if engine.unavailable() is not None or seconds <= 0:
        return None
    halt = stop or (lambda: False)

    def search(x: np.ndarray, values: np.ndarray) -> list:
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        values = np.asarray(values, dtype=np.float64).reshape(-1)
        ok = np.isfinite(x) & np.isfinite(values)
        x, values = x[ok], values[ok]
        if len(x) < 5 or halt():
            return []
        order = np.argsort(x, kind="stable")
        keep = order[np.linspace(0, len(x) - 1, min(EDGE_ROWS, len(x))).round().astype(int)]
        return readings(engine, x[keep][:, None], values[keep], seconds, seed, halt)
    return search
