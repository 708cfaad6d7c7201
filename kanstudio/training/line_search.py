"""The strong-Wolfe line search of FlatLBFGS (lbfgs.py): bracketing and
zoom with cubic interpolation (Nocedal & Wright, Alg. 3.5/3.6), step for step
as in ``torch.optim.LBFGS(line_search_fn="strong_wolfe")``."""
from __future__ import annotations

import math

import numpy as np

__all__ = ["strong_wolfe"]


def strong_wolfe(at, t, d, f, g, gtd, c1=1e-4, c2=0.9, max_ls=25, tol_bracket=1e-9):
    """Returns (f, g, t, evaluations) at a step along d satisfying the strong
    Wolfe conditions (or the best bracket end found).  ``at(t)`` moves the
    parameters to x0 + t d and returns (loss, gradient) there; f, g, gtd are
    the loss, gradient and slope g.d at t = 0."""
    d_norm = float(np.abs(d).max())
    f_new, g_new = at(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
    done = False
    ls_iter = 0
    bracket = None
    while ls_iter < max_ls:
        if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        if abs(gtd_new) <= -c2 * gtd:
            bracket = [[t, f_new, g_new, gtd_new]]
            done = True
            break
        if gtd_new >= 0:
            bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
            break
        lo_b, hi_b = t + 0.01 * (t - t_prev), t * 10
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (lo_b, hi_b))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
        t = t_next
        f_new, g_new = at(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
    if bracket is None:       # ran out of evaluations while expanding
        bracket = [[0.0, f, g, gtd], [t, f_new, g_new, gtd_new]]
    if len(bracket) == 1:
        b = bracket[0]
        return b[1], b[2], b[0], evals
    # zoom
    insufficient = False
    low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
    while not done and ls_iter < max_ls:
        if abs(bracket[1][0] - bracket[0][0]) * d_norm < tol_bracket:
            break
        (t0, f0, _, d0), (t1, f1, _, d1) = bracket
        t = _cubic_min(t0, f0, d0, t1, f1, d1)
        b_hi, b_lo = max(t0, t1), min(t0, t1)
        eps = 0.1 * (b_hi - b_lo)
        if min(b_hi - t, t - b_lo) < eps:
            # too close to an end: unless the last try was too, move inside by eps
            if insufficient or t >= b_hi or t <= b_lo:
                t = b_hi - eps if abs(t - b_hi) < abs(t - b_lo) else b_lo + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = at(t)
        evals += 1
        gtd_new = float(g_new @ d)
        ls_iter += 1
        if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
            bracket[high] = [t, f_new, g_new, gtd_new]
            low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                bracket[high] = bracket[low]
            bracket[low] = [t, f_new, g_new, gtd_new]
    b = bracket[low]
    return b[1], b[2], b[0], evals


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """Minimiser of the cubic through two points with their slopes, clipped to
    ``bounds`` (default: the interval between the points); bisection when the
    cubic has no real minimiser."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2) if x1 != x2 else math.inf
    disc = d1 * d1 - g1 * g2
    if math.isfinite(disc) and disc >= 0:
        d2 = math.sqrt(disc)
        if x1 <= x2:
            t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        if math.isfinite(t):
            return min(max(t, lo), hi)
    return (lo + hi) / 2
