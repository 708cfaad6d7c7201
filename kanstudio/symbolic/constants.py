"""Refit and snap the constants of a formula on data (original units).

Once every edge is symbolic, the formula is a small parametric model: each
numeric constant (sympy Float) becomes a parameter, refitted by
Levenberg-Marquardt on the training rows.  Snapping then tries to replace
each constant by 0, an integer, a simple rational or a simple multiple of pi,
keeping a replacement only when, after refitting the other constants, the
error stays within a small tolerance of the unsnapped fit.  On noiseless
data this turns 1.99999 into 2 and drops 1e-9 offsets; on noisy data it only
accepts what the data cannot tell apart.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional

import numpy as np
import sympy

from .interpreter import UnsupportedExpression
from .jacobian import FormulaJacobian

__all__ = ["parametrize", "refit_constants", "polish", "snap_verified", "PolishResult"]


@dataclass
class PolishResult:
    expr: sympy.Expr         # constants as Floats (full precision)
    rmse: float              # on the data it was fitted to
    n_params: int


def parametrize(expr: sympy.Expr):
    """(template, [param symbols], values): every Float occurrence becomes its own symbol."""
    params, values = [], []

    def walk(e):
        if e.is_Float:
            p = sympy.Dummy(f"p{len(params)}", real=True)
            params.append(p)
            values.append(float(e))
            return p
        if e.is_Atom or not e.args:
            return e
        new = [walk(a) for a in e.args]
        return e.func(*new)

    template = walk(expr)
    return template, params, np.asarray(values, dtype=np.float64)


class _Problem:
    """Residuals r(p) = (f(X; p) - y) / std(y) of a template on fixed data, and
    their Jacobian (forward mode in numpy: jacobian.FormulaJacobian)."""

    def __init__(self, template, params, data, y):
        self.f = FormulaJacobian(template, list(params), data)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        self.scale = float(np.std(y)) or float(np.mean(np.abs(y))) or 1.0
        self.y = y / self.scale

    def loss(self, p: np.ndarray) -> float:
        try:
            r = self.f.value(p) / self.scale - self.y
        except (ValueError, TypeError, OverflowError, FloatingPointError):
            return math.inf
        with np.errstate(all="ignore"):
            v = float(np.mean(r * r))
        return v if math.isfinite(v) else math.inf

    def jacobian(self, p: np.ndarray):
        v, J = self.f.value_and_jacobian(p)
        return v / self.scale - self.y, J / self.scale


def refit_constants(template, params, p0, data, y, steps: int = 60, tol: float = 1e-15,
                    deadline: Optional[float] = None):
    """Levenberg-Marquardt (Marquardt's diagonal scaling, so constants of very
    different sizes are handled alike).  Returns (p, rmse in y units).
    ``deadline`` (time.perf_counter() value) ends the iterations early."""
    import time
    p = np.array(p0, dtype=np.float64).reshape(-1)
    try:
        prob = _Problem(template, params, data, y)
    except UnsupportedExpression:
        return p, math.inf
    if len(params) == 0:
        return p, math.sqrt(prob.loss(p)) * prob.scale
    loss = prob.loss(p)
    if not math.isfinite(loss):
        return p, math.inf
    lam = 1e-3
    for _ in range(steps):
        if deadline is not None and time.perf_counter() > deadline:
            break
        r, J = prob.jacobian(p)
        if not (np.isfinite(J).all() and np.isfinite(r).all()):
            J = np.nan_to_num(J, nan=0.0, posinf=0.0, neginf=0.0)
            r = np.nan_to_num(r, nan=0.0, posinf=0.0, neginf=0.0)
        A = J.T @ J
        g = J.T @ r
        diag = np.diagonal(A)
        d = np.maximum(diag, 1e-12 * max(float(diag.max()), 1e-300))
        improved = False
        for _ in range(8):
            try:
                step = np.linalg.solve(A + lam * np.diag(d), -g)
            except np.linalg.LinAlgError:
                lam *= 10
                continue
            cand = p + step
            new = prob.loss(cand)
            if new < loss:
                rel = (loss - new) / max(loss, 1e-300)
                p, loss, lam = cand, new, max(lam / 3, 1e-12)
                improved = True
                break
            lam *= 8
        if not improved or rel < tol or loss < 1e-30:
            break
    return p, math.sqrt(loss) * prob.scale


def polish(expr: sympy.Expr, data, y, steps: int = 60, deadline: Optional[float] = None) -> PolishResult:
    """Refit every Float constant of ``expr`` to (data, y)."""
    template, params, p0 = parametrize(expr)
    p, rmse = refit_constants(template, params, p0, data, y, steps, deadline=deadline)
    if not math.isfinite(rmse):
        return PolishResult(expr, rmse, len(params))
    out = template.xreplace({s: sympy.Float(float(v)) for s, v in zip(params, p)})
    return PolishResult(out, rmse, len(params))


def _candidates(v: float, max_den: int = 12) -> list:
    """Simple numbers near v, simplest first."""
    out = [sympy.Integer(0)]
    if not math.isfinite(v):
        return out
    if abs(v) <= 100:
        r = round(v)
        if r != 0 and abs(r - v) <= 0.1 * abs(v) + 1e-12:
            out.append(sympy.Integer(r))
        fr = Fraction(v).limit_denominator(max_den)
        if fr.denominator > 1 and abs(float(fr) - v) <= 0.05 * abs(v):
            out.append(sympy.Rational(fr.numerator, fr.denominator))
        q = Fraction(v / math.pi).limit_denominator(6)
        if q != 0 and abs(float(q) * math.pi - v) <= 0.02 * abs(v):
            out.append(sympy.Rational(q.numerator, q.denominator) * sympy.pi)
        for const in _FAMOUS:   # only when very close: these are easy to hit by chance
            q = Fraction(v / float(const)).limit_denominator(4)
            if q != 0 and abs(float(q) * float(const) - v) <= 1e-4 * abs(v):
                cand = sympy.Rational(q.numerator, q.denominator) * const
                if cand not in out:
                    out.append(cand)
    return out


_FAMOUS = [sympy.sqrt(2), sympy.sqrt(3), sympy.sqrt(sympy.pi), sympy.sqrt(2 * sympy.pi),
           1 / sympy.sqrt(2 * sympy.pi), sympy.E, sympy.pi ** 2, 1 / sympy.pi]


def snap_verified(expr: sympy.Expr, data, y, rel_tol: float = 0.02, abs_tol: float = 1e-8,
                  steps: int = 25, deadline: Optional[float] = None, passes: int = 3) -> PolishResult:
    """Greedily replace constants by simple numbers while the refitted error stays
    below max(rmse * (1 + rel_tol), abs_tol * std(y)) of the unsnapped fit.

    After a pass, sympy folds what became numeric (exp(-0.693) -> 0.5), which can
    expose new simple constants: up to ``passes`` passes."""
    template, params, p = parametrize(expr)
    p, rmse = refit_constants(template, params, p, data, y, steps=80, deadline=deadline)
    y_std = float(np.std(np.asarray(y, dtype=np.float64))) or 1.0
    if not math.isfinite(rmse):
        return PolishResult(expr, rmse, len(params))
    limit = max(rmse * (1 + rel_tol), abs_tol * y_std)
    out = PolishResult(template.xreplace({s: sympy.Float(float(v)) for s, v in zip(params, p)}),
                       rmse, len(params))
    for _ in range(passes):
        new = _snap_pass(out.expr, data, y, limit, steps, deadline)
        if not math.isfinite(new.rmse) or new.rmse > limit:
            break
        changed = str(new.expr) != str(out.expr)
        out = new
        if not changed or new.n_params == 0:
            break
    return out


def _snap_pass(expr, data, y, limit, steps, deadline) -> PolishResult:
    import time

    template, params, p = parametrize(expr)
    rmse = math.inf
    # try the constants that look most like simple numbers first
    order = sorted(range(len(params)), key=lambda k: _distance_to_simple(p[k]))
    fixed: dict = {}
    for k in order:
        if deadline is not None and time.perf_counter() > deadline:
            break
        if not template.xreplace(fixed).has(params[k]):
            continue        # an earlier snap removed the term this constant was in
        for cand in _candidates(float(p[k])):
            tmpl = template.xreplace({params[k]: cand, **fixed})
            if _degenerate(tmpl):
                continue
            rest = [s for s in params if s not in fixed and s != params[k] and tmpl.has(s)]
            p0 = [p[params.index(s)] for s in rest]
            p_new, r_new = refit_constants(tmpl, rest, p0, data, y, steps=steps, deadline=deadline)
            if math.isfinite(r_new) and r_new <= limit:
                fixed[params[k]] = cand
                for s, v in zip(rest, p_new):
                    p[params.index(s)] = v
                rmse = r_new
                break
    rest = [s for s in params if s not in fixed]
    tmpl = template.xreplace(fixed)
    rest = [s for s in rest if tmpl.has(s)]
    p0 = [p[params.index(s)] for s in rest]
    p_fin, rmse = refit_constants(tmpl, rest, p0, data, y, steps=40)
    out = tmpl.xreplace({s: sympy.Float(float(v)) for s, v in zip(rest, p_fin)})
    return PolishResult(out, rmse, len(rest))


def _degenerate(e) -> bool:
    return bool(e.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo))


def _distance_to_simple(v: float) -> float:
    # a constant this small is most often a term the search left at nearly 0 (or a
    # true tiny constant, which the verified refit then keeps): try 0 first
    if abs(v) < 1e-9 or not math.isfinite(v):
        return 0.0
    fr = Fraction(v).limit_denominator(12)
    return abs(float(fr) - v) / abs(v)
