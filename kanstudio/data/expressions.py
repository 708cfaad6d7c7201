"""A restricted formula parser: user text -> sympy expression, never eval.

The text is parsed with Python's ``ast`` and the tree is walked by hand; only
numbers, known names, + - * / ** ^, parentheses and calls of a whitelist of
functions by bare name are accepted, and everything is built as sympy objects
directly (no sympify of user text).  Column names that are not identifiers
are written in backticks: `m (kg)` * v**2.  Symbols are created real=True.
"""
from __future__ import annotations

import ast
import difflib
import keyword
import math
import re
import unicodedata
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
_BACKTICK = re.compile(r"`([^`]*)`")
_PLACEHOLDER = "_col{}_"          # user names may not start with '_', so these cannot clash
_MAX_EXPONENT = 100               # x**1000 is never a physics formula; also bounds sympy's work
_MAX_INTEGER = 10 ** 300     # integers beyond this do not fit a float64 (max ~1.8e308)
_MAX_DIGITS = 300                 # numbers beyond float range are refused before sympy computes them
_NODE_NAMES = {"Attribute": "attribute access", "Subscript": "indexing", "Lambda": "a lambda",
               "ListComp": "a list comprehension", "SetComp": "a set comprehension", "DictComp": "a dict comprehension",
               "GeneratorExp": "a generator", "List": "a list", "Tuple": "a tuple", "Dict": "a dictionary",
               "Set": "a set", "Compare": "a comparison", "BoolOp": "and/or", "IfExp": "if/else",
               "NamedExpr": "assignment (:=)", "Starred": "star arguments", "JoinedStr": "an f-string",
               "Await": "await", "Yield": "yield", "YieldFrom": "yield", "Slice": "a slice"}


def safe_symbol_name(column: str) -> str:
    """A Python identifier standing for a column name (for code export and placeholders)."""
    name = re.sub(r"\W+", "_", unicodedata.normalize("NFKC", str(column)).strip()).strip("_")
    if not name or name[0].isdigit():
        name = "c_" + name
    return name + "_" if keyword.iskeyword(name) else name


def parse_expression(text: str, allowed_names: Optional[Iterable[str]] = None, *,
                     max_length: int = 500) -> sympy.Expr:
    """Parse a formula over column names into a sympy expression, or raise DataError saying why not.

    allowed_names: the names the formula may use (None: any identifier not starting with '_').
    """
    if not isinstance(text, str) or not text.strip():
        raise DataError("the formula is empty")
    if len(text) > max_length:
        raise DataError(f"the formula is too long ({len(text)} characters, at most {max_length})")
    allowed = [str(n) for n in allowed_names] if allowed_names is not None else None
    if text.count("`") % 2:
        raise DataError(f"unmatched backtick at column {text.rindex('`') + 1}: write column names as `name`")
    placeholders = {}                # placeholder identifier -> column name

    def sub(m):
        col = m.group(1)
        if not col.strip():
            raise DataError(f"empty backticks at column {m.start() + 1}")
        if allowed is not None and col not in allowed:
            raise DataError(f"unknown column `{col}`{_suggest(col, allowed)} (allowed: {_listing(allowed)})")
        key = next((k for k, v in placeholders.items() if v == col), _PLACEHOLDER.format(len(placeholders)))
        placeholders[key] = col
        return key

    src = _BACKTICK.sub(sub, text.strip()).replace("^", "**")
    try:
        tree = ast.parse(src, mode="eval")
        expr = _Builder(allowed, placeholders).visit(tree.body)
    except DataError:
        raise
    except SyntaxError as exc:
        hint = " (column names with spaces or symbols go in backticks: `m (kg)`)" if "`" not in text else ""
        raise DataError(f"cannot parse the formula: {exc.msg}{_where(exc.offset)}{hint}") from None
    except (RecursionError, MemoryError):
        raise DataError("the formula is nested too deeply") from None
    except (TypeError, ValueError, ZeroDivisionError, OverflowError) as exc:   # sympy refusing a construction
        raise DataError(f"the formula cannot be built: {exc}") from None
    if not isinstance(expr, sympy.Expr):
        raise DataError("the formula is not a mathematical expression")
    if expr.has(sympy.zoo, sympy.oo, sympy.nan) or expr.has(-sympy.oo):
        raise DataError("the formula is undefined (it divides by zero or takes the log of zero)")
    if expr.has(sympy.I):
        raise DataError("the formula is not real-valued (e.g. the square root or log of a negative number)")
    return expr


def _where(col) -> str:
    return f" at column {col}" if col else ""


def _listing(names, limit: int = 20) -> str:
    return (", ".join(names[:limit]) + (f", … ({len(names)} in all)" if len(names) > limit else "")) or "none"


def _suggest(name, allowed) -> str:
    close = difflib.get_close_matches(name, allowed, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


class _Builder:
    """Walks the ast; every node type without a visit_ method is refused."""

    def __init__(self, allowed, placeholders):
        self.allowed = allowed
        self.placeholders = placeholders
        # Python NFKC-normalises identifiers (µ becomes μ): map back to the column's own spelling.
        self.normalized = {unicodedata.normalize("NFKC", a): a for a in (allowed or [])}

    def visit(self, node):
        method = getattr(self, "visit_" + type(node).__name__, None)
        if method is None:
            kind = _NODE_NAMES.get(type(node).__name__, type(node).__name__)
            raise DataError(f"{kind} is not allowed in a formula{_where(getattr(node, 'col_offset', -1) + 1)}")
        return method(node)

    def visit_Constant(self, node):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            what = "complex numbers" if isinstance(v, complex) else "text and other non-numbers"
            raise DataError(f"{what} are not allowed in a formula ({v!r}{_where(node.col_offset + 1)})")
        if isinstance(v, float) and not math.isfinite(v):
            raise DataError(f"the number {v!r} is too large{_where(node.col_offset + 1)}")
        if isinstance(v, int) and abs(v) > _MAX_INTEGER:      # beyond what a float64 can hold
            raise DataError(f"the number {str(v)[:12]}... ({len(str(abs(v)))} digits) is too large"
                            f"{_where(node.col_offset + 1)}")
        return _bounded(sympy.Integer(v) if isinstance(v, int) else sympy.Float(repr(v)))

    def visit_Name(self, node):
        name = node.id
        if name in self.placeholders:
            return sympy.Symbol(self.placeholders[name], real=True)
        if name.startswith("_"):
            raise DataError(f"names starting with '_' are not allowed ({name}{_where(node.col_offset + 1)}); "
                            f"write a column named like that in backticks: `{name}`")
        if self.allowed is not None:
            column = name if name in self.allowed else self.normalized.get(name)
            if column is not None:
                return sympy.Symbol(column, real=True)
            if name in _CONSTANTS:
                return _CONSTANTS[name]
            if name in _FUNCTIONS:
                raise DataError(f"'{name}' is a function: write {name}(...)")
            raise DataError(f"unknown name '{name}'{_suggest(name, self.allowed)} "
                            f"(allowed: {_listing(self.allowed)})")
        if name in _CONSTANTS:
            return _CONSTANTS[name]
        if name in _FUNCTIONS:
            raise DataError(f"'{name}' is a function: write {name}(...)")
        return sympy.Symbol(name, real=True)

    def visit_UnaryOp(self, node):
        if isinstance(node.op, ast.USub):
            return -self.visit(node.operand)
        if isinstance(node.op, ast.UAdd):
            return self.visit(node.operand)
        raise DataError(f"the operator {type(node.op).__name__} is not allowed{_where(node.col_offset + 1)}")

    def visit_BinOp(self, node):
        ops = {ast.Add: sympy.Add, ast.Sub: lambda a, b: a - b, ast.Mult: sympy.Mul,
               ast.Div: lambda a, b: a / b, ast.Pow: self._power}
        op = ops.get(type(node.op))
        if op is None:
            raise DataError(f"the operator {_OPERATOR_TEXT.get(type(node.op).__name__, type(node.op).__name__)} "
                            f"is not allowed{_where(node.col_offset + 1)}; use + - * / ** or ^")
        return _bounded(op(self.visit(node.left), self.visit(node.right)))

    def _power(self, base, exponent):
        if exponent.is_Number:
            if abs(float(exponent)) > _MAX_EXPONENT:
                raise DataError(f"exponents larger than {_MAX_EXPONENT} are not allowed")
            if base.is_Number and base != 0 and \
                    abs(float(exponent)) * abs(_log10_abs(base)) > _MAX_DIGITS:   # before sympy computes it
                raise DataError("a number in the formula is too large")
        return base ** exponent

    def visit_Call(self, node):
        if not isinstance(node.func, ast.Name):
            raise DataError(f"only calls of plain function names like sin(x) are allowed{_where(node.col_offset + 1)}")
        name = node.func.id
        if name not in _FUNCTIONS:
            raise DataError(f"unknown function '{name}'{_where(node.col_offset + 1)} "
                            f"(allowed: {', '.join(sorted(_FUNCTIONS))})")
        if node.keywords or len(node.args) != 1:
            raise DataError(f"{name}() takes exactly one argument, without keywords{_where(node.col_offset + 1)}")
        return _FUNCTIONS[name](self.visit(node.args[0]))


_OPERATOR_TEXT = {"FloorDiv": "//", "Mod": "%", "MatMult": "@", "BitAnd": "&", "BitOr": "|", "BitXor": "^",
                  "LShift": "<<", "RShift": ">>", "Invert": "~", "Not": "not"}


def _bounded(value):
    """Exact numbers stay within float range, so sympy never works on huge integers."""
    if isinstance(value, sympy.Rational) and max(abs(int(value.p)).bit_length(), int(value.q).bit_length()) > 1100:
        raise DataError("a number in the formula is too large")
    return value


def _log10_abs(number) -> float:
    """log10 |number| of a sympy number, without converting huge integers to float."""
    if number.is_Rational:
        p, q = abs(int(number.p)), int(number.q)
        return (p.bit_length() - q.bit_length()) * math.log10(2)
    return math.log10(abs(float(number))) if float(number) != 0 else 0.0


def expression_symbols(expr: sympy.Expr) -> list:
    return sorted(str(s) for s in expr.free_symbols)


def _erf(x):
    """numpy has no erf; scipy may be absent in a packaged app, so fall back to math.erf."""
    try:
        from scipy.special import erf
        return erf(x)
    except ImportError:
        return np.vectorize(math.erf, otypes=[np.float64])(x)


def evaluate_expression(expr: sympy.Expr, columns: dict) -> np.ndarray:
    """Evaluate an already-parsed expression on named numpy columns (same length each)."""
    symbols = sorted(expr.free_symbols, key=str)
    missing = [str(s) for s in symbols if str(s) not in columns]
    if missing:
        raise DataError(f"the formula uses unknown column(s): {', '.join(missing)}")
    try:
        arrays = {str(s): np.asarray(columns[str(s)], dtype=np.float64).reshape(-1) for s in symbols}
    except (TypeError, ValueError):
        raise DataError("the columns used by the formula are not all numbers") from None
    lengths = {a.shape[0] for a in arrays.values()} or {len(np.atleast_1d(v)) for v in list(columns.values())[:1]}
    if len(lengths) > 1:
        raise DataError(f"the columns used by the formula have different lengths ({sorted(lengths)})")
    n = lengths.pop() if lengths else 1
    # dummify: column names are not always identifiers and could shadow numpy's names.
    fn = sympy.lambdify(symbols, expr, modules=[{"erf": _erf}, "numpy"], dummify=True)
    with np.errstate(all="ignore"):
        out = np.asarray(fn(*[arrays[str(s)] for s in symbols]))
    if np.iscomplexobj(out):           # e.g. a negative base to a fractional power
        out = np.where(np.abs(out.imag) > 1e-12 * (1 + np.abs(out.real)), np.nan, out.real)
    out = np.broadcast_to(out.astype(np.float64).reshape(-1) if out.size == n else out.astype(np.float64),
                          (n,)).copy()
    bad = ~np.isfinite(out)
    if bad.any():
        raise DataError(f"the formula is not finite on {int(bad.sum())} of {n} rows (e.g. division by zero "
                        f"or log of a negative number)")
    return out
