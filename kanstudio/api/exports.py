"""A formula in the forms a program takes it: sympy, LaTeX, Python source, a
NumPy callable and a torch module.  One owner for every export, shared by
``Discovery``, ``KANRegressor``, ``Project`` and ``kanstudio-cli export``.

A formula's symbols are the columns' names made safe for sympy
(``engine.formula.safe_name``: 'v [m/s]' reads v, 'mass (kg)' mass); the
callables take the columns in the order of ``input_names``, or a DataFrame /
mapping by the columns' own names.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import numpy as np
import sympy

from ..symbolic import evaluate, symbol_names, to_latex, to_python_source

__all__ = ["FORMATS", "columns_of", "to_latex", "to_numpy", "to_python", "to_torch", "export_text"]

FORMATS = ("latex", "sympy", "python", "numpy", "torch")     # export_text's formats


def columns_of(X, input_names: Sequence[str]) -> np.ndarray:
    """Rows as a float64 [n, len(input_names)] array: from a 2-D array (columns in
    order), a 1-D array (one input), or a DataFrame / mapping holding the named
    columns (by the columns' names or their safe forms; other columns ignored)."""
    names = list(input_names)
    if hasattr(X, "columns") or isinstance(X, Mapping):
        keys = set(X.columns) if hasattr(X, "columns") else set(X.keys())
        picked = []
        for n, safe in zip(names, symbol_names(names)):
            key = n if n in keys else safe if safe in keys else None
            if key is None:
                raise ValueError(f"column '{n}' is missing; the formula needs {', '.join(names)}")
            picked.append(np.asarray(X[key], dtype=np.float64).reshape(-1))
        return np.column_stack(picked) if picked else np.empty((0, 0))
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("the inputs must be numbers") from None
    if arr.ndim == 1:
        arr = arr[:, None] if len(names) == 1 else arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != len(names):
        raise ValueError(f"expected {len(names)} input column(s) ({', '.join(names)}), got shape {arr.shape}")
    return arr


def to_python(expr: sympy.Expr, input_names: Sequence[str], func_name: str = "formula") -> str:
    """Source of a NumPy function of the columns (one argument each)."""
    return to_python_source(expr, input_names, func_name)


class FormulaFunction:
    """A formula as a NumPy callable: ``f(X)`` on rows (array or DataFrame)."""

    def __init__(self, expr: sympy.Expr, input_names: Sequence[str]):
        self.expr, self.input_names = expr, list(input_names)

    def __call__(self, X) -> np.ndarray:
        return evaluate(self.expr, self.input_names, columns_of(X, self.input_names))

    def __repr__(self):
        return f"<formula {self.expr} of ({', '.join(self.input_names)})>"


def to_numpy(expr: sympy.Expr, input_names: Sequence[str]) -> FormulaFunction:
    return FormulaFunction(expr, input_names)


# sympy function -> torch function of the same meaning
_TORCH_FUNCS = {"sin": "sin", "cos": "cos", "tan": "tan", "exp": "exp", "log": "log", "tanh": "tanh",
                "sinh": "sinh", "cosh": "cosh", "asin": "asin", "acos": "acos", "atan": "atan",
                "asinh": "asinh", "acosh": "acosh", "atanh": "atanh", "Abs": "abs", "sign": "sign",
                "erf": "erf", "sqrt": "sqrt"}


def to_torch(expr: sympy.Expr, input_names: Sequence[str]):
    """A torch.nn.Module computing the formula on a [batch, n_inputs] tensor (columns
    in ``input_names`` order) and returning [batch].  Its floating-point constants
    are parameters, so the formula can be fine-tuned as part of a larger model."""
    import torch

    index = {s: k for k, s in enumerate(symbol_names(input_names))}
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in index)
    if unknown:
        raise ValueError(f"the formula uses {', '.join(unknown)}, which are not among the inputs")

    class FormulaModule(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.expr = expr
            self.input_names = list(input_names)
            self.constants = torch.nn.ParameterList()
            self._slot: dict = {}
            for f in sorted(expr.atoms(sympy.Float), key=float):
                self._slot[f] = len(self.constants)
                self.constants.append(torch.nn.Parameter(torch.tensor(float(f), dtype=torch.float64)))

        def forward(self, x):
            x = torch.as_tensor(x)
            if x.dim() == 1:
                x = x[:, None]
            out = self._eval(self.expr, x)
            return out.expand(x.shape[0]) if out.dim() == 0 else out

        def _eval(self, e, x):
            if e.is_Symbol:
                return x[:, index[e.name]]
            if isinstance(e, sympy.Float):
                return self.constants[self._slot[e]].to(x.dtype)
            if e.is_Number or e in (sympy.pi, sympy.E):
                return torch.tensor(float(e), dtype=x.dtype, device=x.device)
            if e.is_Add:
                return sum((self._eval(a, x) for a in e.args[1:]), self._eval(e.args[0], x))
            if e.is_Mul:
                out = self._eval(e.args[0], x)
                for a in e.args[1:]:
                    out = out * self._eval(a, x)
                return out
            if e.is_Pow:
                base, p = e.args
                if p == sympy.Rational(1, 2):
                    return torch.sqrt(self._eval(base, x))
                return torch.pow(self._eval(base, x), self._eval(p, x))
            name = type(e).__name__
            if name in _TORCH_FUNCS and len(e.args) == 1:
                return getattr(torch, _TORCH_FUNCS[name])(self._eval(e.args[0], x))
            raise ValueError(f"the torch export has no counterpart for {name}")

        def extra_repr(self) -> str:
            return f"{self.expr}"

    module = FormulaModule()
    module._eval(expr, torch.zeros((1, len(index)), dtype=torch.float64))   # unsupported parts fail here
    return module


def export_text(expr: sympy.Expr, input_names: Sequence[str], fmt: str) -> str:
    """The formula as text in one of FORMATS: LaTeX; sympy's text (``sympy.sympify``
    or kanstudio's safe parser read it back); a Python function of numbers (math);
    a NumPy function of arrays; a torch function of tensors."""
    if fmt == "latex":
        return to_latex(expr) + "\n"
    if fmt == "sympy":
        return sympy.sstr(expr) + "\n"
    if fmt == "python":
        return _math_source(expr, input_names)
    if fmt == "numpy":
        return to_python(expr, input_names)
    if fmt == "torch":
        return _torch_source(expr, input_names)
    raise ValueError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")


def _source(module: str, body: str, expr, input_names, what: str) -> str:
    return (f"import {module}\n\n\ndef formula({', '.join(symbol_names(input_names))}):\n"
            f"    \"\"\"{sympy.sstr(expr)} ({what})\"\"\"\n"
            f"    return {body}\n")


def _plain(expr):
    # the printers name a symbol by its name; drop assumptions (positive=True, ...)
    return expr.xreplace({s: sympy.Symbol(s.name) for s in expr.free_symbols})


def _check_inputs(expr, input_names):
    known = set(symbol_names(input_names))
    unknown = sorted(s.name for s in expr.free_symbols if s.name not in known)
    if unknown:
        raise ValueError(f"the formula uses {', '.join(unknown)}, which are not among the inputs")


def _math_source(expr: sympy.Expr, input_names: Sequence[str]) -> str:
    """Source of a plain Python function of numbers (the math module)."""
    from sympy.printing.pycode import PythonCodePrinter
    _check_inputs(expr, input_names)
    body = PythonCodePrinter({"fully_qualified_modules": True}).doprint(_plain(expr))
    return _source("math", body, expr, input_names, "numbers in, a number out")


def _torch_source(expr: sympy.Expr, input_names: Sequence[str]) -> str:
    """Source of a torch function of the columns (one tensor argument each)."""
    from sympy.printing.pycode import PythonCodePrinter

    class _TorchPrinter(PythonCodePrinter):
        def _print_Function(self, e):
            name = type(e).__name__
            if name in _TORCH_FUNCS:
                return f"torch.{_TORCH_FUNCS[name]}({', '.join(self._print(a) for a in e.args)})"
            raise ValueError(f"the torch export has no counterpart for {name}")

        _print_Abs = _print_sign = _print_exp = _print_log = _print_sin = _print_cos = _print_tan = \
            _print_tanh = _print_sinh = _print_cosh = _print_asin = _print_acos = _print_atan = \
            _print_asinh = _print_acosh = _print_atanh = _print_erf = _print_Function

        def _print_Pow(self, e, rational=False):
            if e.exp == sympy.Rational(1, 2):
                return f"torch.sqrt({self._print(e.base)})"
            return f"torch.pow({self._print(e.base)}, {self._print(e.exp)})"

        def _print_Pi(self, e):
            return repr(math.pi)

        def _print_Exp1(self, e):
            return repr(math.e)

    _check_inputs(expr, input_names)
    body = _TorchPrinter().doprint(_plain(expr))
    return _source("torch", body, expr, input_names, "tensors in, a tensor out")
