"""A formula's values and its Jacobian in its constants, in one numpy pass.

Refitting a formula's constants (Levenberg-Marquardt, ``constants.py``) needs
the derivative of every row's value with respect to every constant at each
iteration.  Forward-mode differentiation over the sympy tree gives it exactly
in one walk: each node carries its value [N] and its derivative [N, P] in the
P constants (None where it does not depend on them).  It refits 6-8x faster
than torch's ``jacfwd`` over ``evaluate_torch`` (benchmarks/bench_refit.py),
whose per-node dispatch cost dominated: on friedmann 13 of discovery's 60 s
went to refitting constants.

Anything the rules below do not know raises ``UnsupportedExpression``: the
caller then falls back to torch.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import sympy

from .interpreter import UnsupportedExpression, _NP_FUNCS, _np_erf

__all__ = ["FormulaJacobian"]

_SQRT_PI = float(np.sqrt(np.pi))


def _d_func(f, x, v):
    """f'(x) for the elementary functions, given x and v = f(x)."""
    if f is sympy.exp:
        return v
    if f is sympy.log:
        return 1.0 / x
    if f is sympy.sin:
        return np.cos(x)
    if f is sympy.cos:
        return -np.sin(x)
    if f is sympy.tan:
        return 1.0 + v * v
    if f is sympy.tanh:
        return 1.0 - v * v
    if f is sympy.sinh:
        return np.cosh(x)
    if f is sympy.cosh:
        return np.sinh(x)
    if f is sympy.Abs:
        return np.sign(x)
    if f is sympy.sign:
        return np.zeros_like(np.asarray(x, dtype=np.float64))
    if f is sympy.asin:
        return 1.0 / np.sqrt(1.0 - x * x)
    if f is sympy.acos:
        return -1.0 / np.sqrt(1.0 - x * x)
    if f is sympy.atan:
        return 1.0 / (1.0 + x * x)
    if f is sympy.atanh:
        return 1.0 / (1.0 - x * x)
    if f is sympy.asinh:
        return 1.0 / np.sqrt(1.0 + x * x)
    if f is sympy.erf:
        return 2.0 / _SQRT_PI * np.exp(-x * x)
    raise UnsupportedExpression(f"no derivative rule for {f.__name__}")


def _col(v):
    """A node's value shaped to multiply a derivative ([N] -> [N, 1]; scalars stay)."""
    v = np.asarray(v, dtype=np.float64)
    return v[..., None] if v.ndim else v


class FormulaJacobian:
    """``template`` (a sympy expression) as a function of its ``params`` on fixed
    ``data`` (symbol -> array of N rows): ``value(p)`` -> [N] and
    ``value_and_jacobian(p)`` -> ([N], [N, P])."""

    def __init__(self, template: sympy.Expr, params: Sequence[sympy.Symbol],
                 data: Mapping[sympy.Symbol, np.ndarray]):
        self.template = template
        self.index = {s: k for k, s in enumerate(params)}
        self.n_params = len(self.index)
        self.data = {s: np.asarray(v, dtype=np.float64) for s, v in data.items()}
        self.rows = next((len(v) for v in self.data.values() if v.ndim), 1)
        self._check(template)

    def _check(self, e):
        """Fail now, not mid-fit, on a node the rules do not know."""
        if e.is_Symbol:
            if e not in self.index and e not in self.data:
                raise UnsupportedExpression(f"no values given for the variable {e}")
            return
        if e.is_Number or e.is_NumberSymbol or e.is_Add or e.is_Mul or e.is_Pow:
            pass
        elif type(e) in _NP_FUNCS or type(e) is sympy.erf:
            if len(e.args) != 1:
                raise UnsupportedExpression(f"cannot evaluate {type(e).__name__} in {e}")
            _d_func(type(e), 1.0, 1.0)
        else:
            raise UnsupportedExpression(f"cannot evaluate {type(e).__name__} in {e}")
        for a in e.args:
            self._check(a)

    def value(self, p) -> np.ndarray:
        p = np.asarray(p, dtype=np.float64)
        with np.errstate(all="ignore"):
            v, _ = self._walk(self.template, p, False)
        return np.broadcast_to(np.asarray(v, dtype=np.float64), (self.rows,))

    def value_and_jacobian(self, p):
        p = np.asarray(p, dtype=np.float64)
        with np.errstate(all="ignore"):
            v, J = self._walk(self.template, p, True)
        v = np.broadcast_to(np.asarray(v, dtype=np.float64), (self.rows,))
        if J is None:
            return v, np.zeros((self.rows, self.n_params))
        return v, np.broadcast_to(J, (self.rows, self.n_params))

    def _walk(self, e, p, grad: bool):
        if e.is_Symbol:
            k = self.index.get(e)
            if k is not None:
                if not grad:
                    return p[k], None
                J = np.zeros(self.n_params)
                J[k] = 1.0
                return p[k], J
            return self.data[e], None
        if e.is_Number or e.is_NumberSymbol:
            return np.float64(float(e)), None
        parts = [self._walk(a, p, grad) for a in e.args]
        vals = [v for v, _ in parts]
        if e.is_Add:
            v = vals[0]
            for w in vals[1:]:
                v = v + w
            Js = [J for _, J in parts if J is not None]
            if not Js:
                return v, None
            J = Js[0]
            for K in Js[1:]:
                J = J + K
            return v, J
        if e.is_Mul:
            v = vals[0]
            for w in vals[1:]:
                v = v * w
            J = None
            for i, (_, Ji) in enumerate(parts):
                if Ji is None:
                    continue
                others = np.float64(1.0)
                for k, w in enumerate(vals):
                    if k != i:
                        others = others * w
                term = Ji * _col(others)
                J = term if J is None else J + term
            return v, J
        if e.is_Pow:
            (b, Jb), (x, Jx) = parts
            b = np.asarray(b, dtype=np.float64)
            v = np.power(b, x)
            J = None
            if Jb is not None:
                J = Jb * _col(x * np.power(b, x - 1.0))
            if Jx is not None:
                term = Jx * _col(v * np.log(b))
                J = term if J is None else J + term
            return v, J
        f = type(e)
        (x, Jx), = parts
        v = _np_erf(x) if f is sympy.erf else _NP_FUNCS[f](x)
        if Jx is None:
            return v, None
        return v, Jx * _col(_d_func(f, x, v))
