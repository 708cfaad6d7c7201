"""Evaluate sympy expressions on arrays without exec/eval/lambdify.

A small recursive interpreter over the node types our formulas use (Add, Mul,
Pow, numbers, symbols and the elementary functions of the symbolic library).
Two back ends: numpy (``evaluate_numpy``) and torch (``evaluate_torch``, with
some numeric constants replaced by trainable parameters so that a formula's
constants can be refitted by gradient methods).
"""
from __future__ import annotations

import functools
import operator

from typing import Callable, Mapping, Optional

import numpy as np
import sympy
import torch

__all__ = ["evaluate_numpy", "evaluate_torch", "UnsupportedExpression"]


class UnsupportedExpression(ValueError):
    """The expression contains something the evaluators do not know."""


_NP_FUNCS: dict[type, Callable] = {
    sympy.exp: np.exp, sympy.log: np.log, sympy.sin: np.sin, sympy.cos: np.cos,
    sympy.tan: np.tan, sympy.tanh: np.tanh, sympy.sinh: np.sinh, sympy.cosh: np.cosh,
    sympy.Abs: np.abs, sympy.sign: np.sign, sympy.asin: np.arcsin, sympy.acos: np.arccos,
    sympy.atan: np.arctan, sympy.atanh: np.arctanh, sympy.asinh: np.arcsinh,
}

_TORCH_FUNCS: dict[type, Callable] = {
    sympy.exp: torch.exp, sympy.log: torch.log, sympy.sin: torch.sin, sympy.cos: torch.cos,
    sympy.tan: torch.tan, sympy.tanh: torch.tanh, sympy.sinh: torch.sinh, sympy.cosh: torch.cosh,
    sympy.Abs: torch.abs, sympy.sign: torch.sign, sympy.asin: torch.asin, sympy.acos: torch.acos,
    sympy.atan: torch.atan, sympy.atanh: torch.atanh, sympy.asinh: torch.asinh,
    sympy.erf: torch.erf,
}


def _np_erf(x):
    from math import erf
    return np.vectorize(erf, otypes=[float])(x)


def evaluate_numpy(expr: sympy.Expr, values: Mapping[sympy.Symbol, np.ndarray]) -> np.ndarray:
    """Evaluate ``expr`` with each free symbol taken from ``values`` (arrays of one
    length).  Returns a float64 array of that length (a constant is broadcast)."""
    n = None
    for v in values.values():
        n = np.shape(v)[0] if np.ndim(v) else n
    out = _np(expr, values)
    out = np.asarray(out, dtype=np.float64)
    if out.ndim == 0 and n is not None:
        out = np.full(n, float(out))
    return out


def _np(e, values):
    if e.is_Symbol:
        if e not in values:
            raise UnsupportedExpression(f"no values given for the variable {e}")
        return np.asarray(values[e], dtype=np.float64)
    if e.is_Number or e.is_NumberSymbol:
        return np.float64(float(e))
    args = [_np(a, values) for a in e.args]
    with np.errstate(all="ignore"):
        if e.is_Add or e.is_Mul:
            return _fold(e, args)
        if e.is_Pow:
            base, ex = args
            return np.power(np.asarray(base, dtype=np.float64), ex)
        f = type(e)
        if f is sympy.erf:
            return _np_erf(args[0])
        if f in _NP_FUNCS and len(args) == 1:
            return _NP_FUNCS[f](args[0])
    raise UnsupportedExpression(f"cannot evaluate {type(e).__name__} in {e}")


def _fold(e, args):
    """A sum or product of the evaluated arguments (numpy arrays or tensors alike)."""
    op = operator.add if e.is_Add else operator.mul
    return functools.reduce(op, args[1:], args[0])


def evaluate_torch(expr: sympy.Expr, values: Mapping[sympy.Symbol, torch.Tensor],
                   params: Optional[Mapping[sympy.Basic, torch.Tensor]] = None) -> torch.Tensor:
    """Evaluate with torch (differentiable).  ``params`` maps sub-expressions
    (usually the sympy Floats of the formula) to tensors that replace them."""
    return _th(expr, values, params or {})


def _th(e, values, params):
    if e in params:
        return params[e]
    if e.is_Symbol:
        if e not in values:
            raise UnsupportedExpression(f"no values given for the variable {e}")
        return values[e]
    if e.is_Number or e.is_NumberSymbol:
        return torch.tensor(float(e), dtype=torch.float64)
    args = [_th(a, values, params) for a in e.args]
    if e.is_Add or e.is_Mul:
        return _fold(e, args)
    if e.is_Pow:
        base, ex = args
        exp_val = e.args[1]
        if exp_val.is_Integer:  # integer powers of negative numbers are fine
            return base ** int(exp_val)
        return torch.pow(base, ex)
    f = type(e)
    if f in _TORCH_FUNCS and len(args) == 1:
        return _TORCH_FUNCS[f](args[0])
    raise UnsupportedExpression(f"cannot evaluate {type(e).__name__} in {e}")
