"""Plausibility checks of candidate formulas in the discovery pipeline."""
from __future__ import annotations

import numpy as np
import sympy

__all__ = ["readable", "probe_points", "aliased", "READABLE_COMPLEXITY", "READABLE_FLOATS"]

READABLE_COMPLEXITY = 30   # a formula this size is a plausible law, a bigger one rarely
READABLE_FLOATS = 2        # ... with at most this many constants left unsnapped


def readable(expr, size: int) -> bool:
    """Small, and its constants mostly snapped to simple numbers: what a law looks
    like (an approximation that matches a network's error usually keeps 4-6 odd
    constants, e.g. m0*exp(0.69*v**2.32/c**2.30))."""
    return size <= READABLE_COMPLEXITY and len(expr.atoms(sympy.Float)) <= READABLE_FLOATS


def probe_points(X, rng, n: int = 1000, margin: float = 0.01) -> np.ndarray:
    """Points between the rows: convex combinations of random pairs, pushed out by
    ``margin`` from the centre (fresh data reach a little past the extreme rows);
    a point can leave a positive column's domain only if the rows nearly touch 0."""
    a, b = X[rng.integers(0, len(X), n)], X[rng.integers(0, len(X), n)]
    t = rng.uniform(0, 1, (n, 1))
    c = X.mean(0)
    P = c + (1 + margin) * (t * a + (1 - t) * b - c)
    pos = (X > 0).all(0)
    P[:, pos] = np.maximum(P[:, pos], 0.5 * X[:, pos].min(0))
    return P


def aliased(expr, symbols, X) -> bool:
    """A sine or cosine in ``expr`` oscillates faster than the rows can show:
    over the values its argument takes on the rows, sorted, the typical (median)
    step is more than half a period (pi).  By the sampling theorem such a term
    is not measured by the data; it threads the rows, and between them it is
    noise (a 23-row table "explained" by sin(0.95 v) over v in [15, 300]).
    Repeated values count once: a table of 23 rows at 8 settings samples 8 points."""
    from ...symbolic import evaluate_numpy
    waves = [f.args[0] for f in expr.atoms(sympy.sin, sympy.cos) if f.args[0].free_symbols]
    if not waves or len(X) < 3:
        return False
    data = {s: X[:, k] for k, s in enumerate(symbols)}
    for arg in waves:
        try:
            with np.errstate(all="ignore"):
                a = np.broadcast_to(np.asarray(evaluate_numpy(arg, data), dtype=np.float64), (len(X),))
        except Exception:  # noqa: BLE001 - an argument we cannot evaluate says nothing here
            continue
        a = np.unique(a[np.isfinite(a)])
        if len(a) >= 3 and float(np.median(np.diff(a))) > np.pi:
            return True
    return False
