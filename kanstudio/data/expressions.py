"""A restricted formula parser: user text -> sympy expression, never eval.

The text is parsed with Python's ``ast`` and the tree is walked by hand; only
numbers, known names, + - * / ** ^, parentheses and calls of a whitelist of
functions by bare name are accepted.  Column names that are not identifiers
are written in backticks: `m (kg)` * v**2.
"""
from __future__ import annotations

import ast
import re
from typing import Iterable, Optional

import numpy as np
import sympy

from .errors import DataError

_FUNCTIONS = {
    "sin": sympy.sin, "cos": sympy.cos, "tan": sympy.tan,
    "asin": sympy.asin, "arcsin": sympy.asin, "acos": sympy.acos, "arccos": sympy.acos,
    "atan": sympy.atan, "arctan": sympy.atan, "sinh": sympy.sinh, "cosh": sympy.cosh, "tanh": sympy.tanh,
    "asinh": sympy.asinh, "acosh": sympy.acosh, "atanh": sympy.atanh, "arctanh": sympy.atanh,
    "exp": sympy.exp, "log": sympy.log, "ln": sympy.log, "sqrt": sympy.sqrt, "abs": sympy.Abs,
    "sign": sympy.sign, "sgn": sympy.sign, "erf": sympy.erf,
}
_CONSTANTS = {"pi": sympy.pi, "e": sympy.E, "E": sympy.E}
_BACKTICK = re.compile(r"`([^`]+)`")


def safe_symbol_name(column: str) -> str:
    """An identifier standing for a column name inside parsed formulas."""
    name = re.sub(r"\W", "_", column.strip())
    if not name or name[0].isdigit():
        name = "c_" + name
    return name.lstrip("_") or "c"


def parse_expression(text: str, allowed_names: Optional[Iterable[str]] = None, *, max_length: int = 500) -> sympy.Expr:
    if not isinstance(text, str) or not text.strip():
        raise DataError("the formula is empty")
    if len(text) > max_length:
        raise DataError(f"the formula is too long ({len(text)} characters, at most {max_length})")
    allowed = list(allowed_names) if allowed_names is not None else None
    # Backticked column names -> placeholder identifiers.
    placeholders = {}

    def sub(m):
        col = m.group(1)
        if allowed is not None and col not in allowed:
            raise DataError(f"unknown column `{col}` (allowed: {', '.join(allowed)})")
        key = f"q{len(placeholders)}_{safe_symbol_name(col)}"
        placeholders[key] = col
        return key

    src = _BACKTICK.sub(sub, text.strip()).replace("^", "**")
    try:
        tree = ast.parse(src, mode="eval")
    except SyntaxError as exc:
        raise DataError(f"cannot parse the formula {text!r}: {exc.msg} at column {exc.offset}") from None
    return _Builder(allowed, placeholders).visit(tree.body)


class _Builder:
    def __init__(self, allowed, placeholders):
        self.allowed = allowed
        self.placeholders = placeholders

    def visit(self, node):
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            raise DataError(f"{_describe(node)} is not allowed in a formula")
        return method(node)

    def visit_Constant(self, node):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise DataError(f"only numbers are allowed as constants, not {node.value!r}")
        return sympy.Integer(node.value) if isinstance(node.value, int) else sympy.Float(node.value)

    def visit_Name(self, node):
        name = node.id
        if name in self.placeholders:
            return sympy.Symbol(self.placeholders[name], real=True)
        if name.startswith("_"):
            raise DataError(f"names starting with '_' are not allowed ({name})")
        if self.allowed is not None:
            if name in self.allowed:
                return sympy.Symbol(name, real=True)
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            raise DataError(f"unknown name '{name}' (allowed: {', '.join(self.allowed) or 'none'})")
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in _FUNCTIONS:
            raise DataError(f"'{name}' is a function: write {name}(...)")
        return sympy.Symbol(name, real=True)

    def visit_UnaryOp(self, node):
        val = self.visit(node.operand)
        if isinstance(node.op, ast.USub):
            return -val
        if isinstance(node.op, ast.UAdd):
            return val
        raise DataError(f"the operator {type(node.op).__name__} is not allowed")

    def visit_BinOp(self, node):
        a, b = self.visit(node.left), self.visit(node.right)
        op = node.op
        if isinstance(op, ast.Add):
            return a + b
        if isinstance(op, ast.Sub):
            return a - b
        if isinstance(op, ast.Mult):
            return a * b
        if isinstance(op, ast.Div):
            return a / b
        if isinstance(op, ast.Pow):
            if b.is_Number and abs(float(b)) > 100:
                raise DataError("exponents larger than 100 are not allowed")
            return a ** b
        raise DataError(f"the operator {type(op).__name__} is not allowed")

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name):
            raise DataError("only calls of plain function names like sin(x) are allowed")
        name = node.func.id
        if name not in _FUNCTIONS:
            raise DataError(f"unknown function '{name}' (allowed: {', '.join(sorted(_FUNCTIONS))})")
        if node.keywords or len(node.args) != 1:
            raise DataError(f"{name}() takes exactly one argument")
        return _FUNCTIONS[name](self.visit(node.args[0]))


def _describe(node) -> str:
    kind = type(node).__name__
    return {"Attribute": "attribute access", "Subscript": "indexing", "Lambda": "lambda",
            "ListComp": "a list comprehension", "GeneratorExp": "a generator", "List": "a list",
            "Tuple": "a tuple", "Dict": "a dictionary", "Compare": "a comparison", "BoolOp": "and/or",
            "IfExp": "if/else", "NamedExpr": "assignment", "Starred": "star arguments",
            "JoinedStr": "an f-string", "Set": "a set"}.get(kind, kind)


def expression_symbols(expr: sympy.Expr) -> list:
    return sorted(str(s) for s in expr.free_symbols)


def evaluate_expression(expr: sympy.Expr, columns: dict) -> np.ndarray:
    """Evaluate an already-parsed expression on named numpy columns."""
    symbols = sorted(expr.free_symbols, key=str)
    missing = [str(s) for s in symbols if str(s) not in columns]
    if missing:
        raise DataError(f"the formula uses unknown column(s): {', '.join(missing)}")
    n = len(next(iter(columns.values()))) if columns else 1
    fn = sympy.lambdify(symbols, expr, modules="numpy")
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*[np.asarray(columns[str(s)], dtype=np.float64) for s in symbols]), dtype=np.float64)
    out = np.broadcast_to(out, (n,)).copy() if out.ndim == 0 or out.shape != (n,) else out
    bad = ~np.isfinite(out)
    if bad.any():
        raise DataError(f"the formula is not finite on {int(bad.sum())} of {n} rows (e.g. division by zero "
                        f"or log of a negative number)")
    return out
