"""Network -> formula: sympy expressions in the data's own variables and units.

Walk the layers from the inputs: every alive edge must be fixed to a library
function (an alive numeric edge means there is no formula yet:
FormulaIncomplete names those edges); y_j = sum_i c*f(a*x_i + b) + d, then the
subnode affine, the products of multiplication nodes and the node affine.
Input normalisation x_norm = (x - mean) / scale is undone by substituting it
for the inputs, output normalisation by y = y_norm * scale + mean.

Constants are then snapped (numbers within 10^-digits (relative) of an
integer or a simple rational become exact; with data, additive terms that
are negligible on the data are dropped), rounded to ``digits`` significant
digits and simplified within a size guard.
"""
from __future__ import annotations

import keyword
import math
import re
import time
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np
import sympy

from .bounded import Overtime, run_bounded
from .interpreter import evaluate_numpy
from ..model import KAN, to_sympy

__all__ = ["FormulaIncomplete", "FormulaResult", "model_formula", "network_expressions",
           "input_symbols", "safe_name", "snap_constants", "round_constants", "drop_negligible",
           "tidy", "finish", "complexity", "latex_symbol", "to_latex", "to_python_source", "evaluate", "formula_rmse"]

SIMPLIFY_MAX_OPS = 10     # sympy.simplify only up to this many operations
TIDY_SECONDS = 1.0        # all of tidy()'s rewrites of one formula together (exact arithmetic can run away)
MAX_REWRITE_POWER = 12    # tidy() leaves alone powers above this (expanding them multiplies out) ...
MAX_REWRITE_MAGNITUDE = 1e12   # ... and constants outside [1e-12, 1e12] (exact arithmetic on them explodes)
MIN_REWRITE_MAGNITUDE = 1e-12


class FormulaIncomplete(ValueError):
    """Some alive edges are still numeric splines; ``edges`` lists (layer, i, j)."""

    def __init__(self, edges):
        self.edges = list(edges)
        shown = ", ".join(f"({l},{i},{j})" for l, i, j in self.edges[:8])
        more = f" and {len(self.edges) - 8} more" if len(self.edges) > 8 else ""
        super().__init__(f"no formula yet: {len(self.edges)} edge(s) are not symbolic "
                         f"(layer,in,out): {shown}{more}; fix or prune them first")


@dataclass
class FormulaResult:
    exprs: list                        # sympy.Expr per output, data variables and units
    latex: list = field(default_factory=list)
    sympy_str: list = field(default_factory=list)
    complexity: int = 0                # sum over outputs
    raw_exprs: list = field(default_factory=list)   # before snapping/rounding/simplifying
    symbols: list = field(default_factory=list)     # one Symbol per input column


# ---------------------------------------------------------------- symbols
def safe_name(name: str) -> str:
    """A Python identifier for a column name ("mass (kg)" -> "mass_kg")."""
    s = re.sub(r"\W+", "_", str(name)).strip("_")
    if not s:
        s = "x"
    if s[0].isdigit():
        s = "x_" + s
    if keyword.iskeyword(s) or s in {"E", "I", "N", "O", "Q", "S", "pi", "beta", "gamma", "zeta",
                                     "lambda", "exp", "log", "sin", "cos", "sqrt"}:
        s = s + "_"
    return s


def symbol_names(names: Sequence[str]) -> list[str]:
    """The identifier each column goes by in formulas: safe_name, made unique in
    column order ('temp 1', 'temp-1' -> 'temp_1', 'temp_1_2').  Every place that
    maps formula symbols back to columns uses this, so two columns can never
    be confused."""
    used, out = set(), []
    for n in names:
        s = safe_name(n)
        base, c = s, 2
        while s in used:
            s, c = f"{base}_{c}", c + 1
        used.add(s)
        out.append(s)
    return out


def symbol_index(names: Sequence[str]) -> dict:
    """identifier -> column index: each column by its formula identifier, and by
    its own name where that is not another column's identifier."""
    ids = symbol_names(names)
    index = {s: k for k, s in enumerate(ids)}
    for k, n in enumerate(names):
        index.setdefault(str(n), k)
    return index


def renamed_columns(names: Sequence[str]) -> dict:
    """{column: identifier} for the columns whose formula name differs from their own."""
    return {str(n): s for n, s in zip(names, symbol_names(names)) if str(n) != s}


def input_symbols(names: Sequence[str], positive: Optional[Sequence[bool]] = None) -> list:
    """sympy Symbols for column names (real; positive where the column is)."""
    out = []
    for k, s in enumerate(symbol_names(names)):
        pos = bool(positive[k]) if positive is not None else False
        out.append(sympy.Symbol(s, positive=True) if pos else sympy.Symbol(s, real=True))
    return out


# ---------------------------------------------------------------- network walk
def _num(v) -> sympy.Expr:
    v = float(v)
    return sympy.Integer(int(v)) if v.is_integer() and abs(v) < 1e15 else sympy.Float(v)


def network_expressions(model: KAN, inputs: Sequence[sympy.Expr]) -> list:
    """Outputs of the network (in its own, normalised output units) as sympy,
    given expressions for its (normalised) inputs.  Raises FormulaIncomplete."""
    numeric = []
    for l, layer in enumerate(model.layers):
        alive = (layer.mask > 0).cpu().numpy()
        fixed = (layer.sym_mask > 0).cpu().numpy()
        numeric += [(l, int(i), int(j)) for i, j in zip(*np.nonzero(alive & ~fixed))]
    if numeric:
        raise FormulaIncomplete(numeric)
    nodes = list(inputs)
    for l, layer in enumerate(model.layers):
        alive = (layer.mask > 0).cpu().numpy()
        params = layer.sym_params.detach().cpu().numpy()
        subs = []
        for j in range(layer.out_dim):
            terms = [to_sympy(layer.symbolic_name(i, j), params[i, j], nodes[i])
                     for i in range(layer.in_dim) if alive[i, j]]
            s = sympy.Add(*terms) if terms else sympy.Integer(0)
            sc = float(model.subnode_scale[l][j])
            bi = float(model.subnode_bias[l][j])
            subs.append(_num(sc) * s + _num(bi))
        n_sum = model.width[l + 1][0]
        level = subs[:n_sum] + [sympy.Mul(*[subs[k] for k in ops])
                                for ops in model.mult_operands(l + 1)]
        nodes = [_num(float(model.node_scale[l][n])) * v + _num(float(model.node_bias[l][n]))
                 for n, v in enumerate(level)]
    return nodes


def _norm_stats(dataset, n_in: int, n_out: int):
    if dataset is None:
        return np.zeros(n_in), np.ones(n_in), np.zeros(n_out), np.ones(n_out)
    return tuple(np.atleast_1d(np.asarray(getattr(dataset, a), dtype=np.float64))
                 for a in ("x_mean", "x_scale", "y_mean", "y_scale"))


def model_formula(model: KAN, dataset=None, digits: int = 4, simplify: bool = True) -> FormulaResult:
    """The model's formula in the dataset's variables and original units.

    Without a dataset the formula is in the model's own (normalised) variables,
    named by ``model.input_names``."""
    n_in, n_out = model.n_nodes(0), model.n_nodes(model.depth)
    x_mean, x_scale, y_mean, y_scale = _norm_stats(dataset, n_in, n_out)
    names = list(getattr(dataset, "input_names", None) or model.input_names)
    X = None
    positive = None
    if dataset is not None and getattr(dataset, "X", None) is not None:
        X = np.asarray(dataset.X, dtype=np.float64)
        positive = list((X > 0).all(0)) if X.size else None
    syms = input_symbols(names, positive)
    ins = [(s - _num(m)) / _num(sc) if dataset is not None else s
           for s, m, sc in zip(syms, x_mean, x_scale)]
    outs = network_expressions(model, ins)
    raw = [o * _num(ys) + _num(ym) for o, ys, ym in zip(outs, y_scale, y_mean)]
    data = None
    if X is not None and len(X):
        idx = np.asarray(getattr(dataset, "train_idx", np.arange(len(X))))
        data = {s: X[idx[:2000], k] for k, s in enumerate(syms)}
    exprs = [finish(e, digits, data, simplify) for e in raw]
    return FormulaResult(exprs=exprs, latex=[to_latex(e) for e in exprs],
                         sympy_str=[str(e) for e in exprs],
                         complexity=sum(complexity(e) for e in exprs), raw_exprs=raw, symbols=syms)


def finish(expr: sympy.Expr, digits: int = 4, data=None, simplify: bool = True) -> sympy.Expr:
    """Snap, drop negligible terms (with data), round, simplify."""
    e = snap_constants(expr, digits)
    if data is not None:
        e = drop_negligible(e, data, 10.0 ** (-digits - 1))
    e = round_constants(e, digits)
    if simplify:
        e = tidy(e)
        e = round_constants(snap_constants(e, digits), digits)
    return e


# ---------------------------------------------------------------- constants
def _simple_rational(v: float, tol: float, max_den: int = 12) -> Optional[sympy.Rational]:
    if not np.isfinite(v) or v == 0 or abs(v) >= 1000:
        return None      # large numbers are measurements, not integers to snap to
    fr = Fraction(v).limit_denominator(max_den)
    if fr != 0 and abs(float(fr) - v) <= tol * abs(v):
        return sympy.Rational(fr.numerator, fr.denominator)
    return None


def snap_constants(expr: sympy.Expr, digits: int = 4, max_den: int = 12) -> sympy.Expr:
    """Floats within 10^-digits (relative) of an integer or p/q (q <= max_den), or
    of such a multiple of pi (q <= 6), become exact."""
    tol = 10.0 ** (-digits)
    rep = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        r = _simple_rational(v, tol, max_den)
        if r is None:
            r = _simple_rational(v / np.pi, tol, 6)
            r = r * sympy.pi if r is not None else None
        if r is not None:
            rep[f] = r
    return expr.xreplace(rep) if rep else expr


def round_constants(expr: sympy.Expr, digits: int = 4) -> sympy.Expr:
    """Every Float rounded to ``digits`` significant digits."""
    rep = {}
    for f in expr.atoms(sympy.Float):
        v = float(f)
        r = float(f"{v:.{digits}g}")
        rep[f] = sympy.Integer(int(r)) if r.is_integer() and abs(r) < 1e15 else sympy.Float(r, digits)
    return expr.xreplace(rep) if rep else expr


def drop_negligible(expr: sympy.Expr, data, rel: float = 1e-5) -> sympy.Expr:
    """Remove addends whose size on the data is below rel * the size of their sum
    (the 1e-7 in sin(3.14*x + 1e-7), the 4e-12*c in 0.0028*k + 4e-12*c: what
    a search's constant optimiser leaves of a term the law does not have),
    bottom-up."""
    if expr.is_Atom:
        return expr
    args = [drop_negligible(a, data, rel) for a in expr.args]
    if expr.is_Mul and len(args) > 1:
        # factors that are constant on the data to within rel (x**1e-9, exp(2e-11*c)):
        # the same leftovers, multiplied in; such a factor becomes its value there
        out = [_as_constant(a, data, rel) for a in args]
        if any(o is not a for o, a in zip(out, args)):
            return sympy.Mul(*out)
    if expr.is_Add and len(args) > 1:
        scale = _rms(sympy.Add(*args), data)
        keep = [a for a in args if not (a.free_symbols <= set(data) and _rms(a, data, none=math.inf) <= rel * scale)]
        if len(keep) != len(args) and keep:
            return sympy.Add(*keep)
    return expr.func(*args) if tuple(args) != expr.args else expr


def _as_constant(factor, data, rel: float):
    """``factor`` itself, or its value where it is constant on the data to within
    rel (1 when that value is 1 to within rel)."""
    if factor.is_Number or not factor.free_symbols or not factor.free_symbols <= set(data):
        return factor
    try:
        v = np.asarray(evaluate_numpy(factor, data), dtype=np.float64)
    except Exception:  # noqa: BLE001 - anything odd: keep the factor
        return factor
    if v.ndim == 0 or not v.size or not np.isfinite(v).all():
        return factor
    c = float(np.mean(v))
    if c == 0 or float(np.max(np.abs(v - c))) > rel * abs(c):
        return factor
    return sympy.Integer(1) if abs(c - 1.0) <= rel else sympy.Float(c)


def _rms(expr, data, none: float = 0.0) -> float:
    """RMS of expr over the data's finite values; ``none`` where it cannot tell."""
    if expr.is_Number:
        return abs(float(expr))
    try:
        v = np.asarray(evaluate_numpy(expr, data), dtype=np.float64)
    except Exception:  # noqa: BLE001 - anything odd: keep the term
        return none
    v = v[np.isfinite(v)]
    if not v.size:
        return none
    with np.errstate(over="ignore"):     # values past 1e154 square to inf: an RMS of inf, said quietly
        return float(np.sqrt(np.mean(v * v)))


# ---------------------------------------------------------------- simplification
def complexity(expr: sympy.Expr) -> int:
    """Size of the expression tree (every symbol, number and operation counts 1)."""
    return sum(1 for _ in sympy.preorder_traversal(expr))


def tidy(expr: sympy.Expr, max_ops: int = SIMPLIFY_MAX_OPS) -> sympy.Expr:
    """A readable form: sympy.simplify when the expression is small, cheap
    rewrites otherwise; the smallest form wins (ties keep the input)."""
    best, best_c = expr, complexity(expr)
    if not _rewritable(expr):
        return expr
    # cheap rewrites always; sympy.simplify only on really small expressions (it
    # can take tens of seconds on 25 operations with nested exp/cos)
    tries = [lambda e: sympy.powsimp(sympy.expand_power_exp(e)), sympy.together, sympy.cancel,
             sympy.factor_terms, sympy.expand]
    if sympy.count_ops(expr) <= max_ops:
        tries.append(sympy.simplify)
    deadline = time.perf_counter() + TIDY_SECONDS
    for f in tries:
        try:
            cand = run_bounded(f, expr, seconds=deadline - time.perf_counter())
        except Overtime:
            break               # the time for tidying is spent: keep the best so far
        except Exception:  # noqa: BLE001 - a failed rewrite just is not used
            continue
        if cand.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo, sympy.I):
            continue
        c = complexity(cand)
        if c < best_c:
            best, best_c = cand, c
    return best


def _rewritable(expr: sympy.Expr) -> bool:
    """Whether sympy's rewrites stay small on expr.  Expanding or cancelling a
    power of a sum multiplies out its degree, and exact arithmetic on constants
    such as 1e18 (data in small units) grows without bound: a 20 s discovery
    once took 24 GB in one simplify.  Such expressions are left as they are."""
    for node in sympy.preorder_traversal(expr):
        if node.is_Pow and node.exp.is_Number and abs(float(node.exp)) > MAX_REWRITE_POWER:
            return False
        if node.is_Number and node != 0 and not MIN_REWRITE_MAGNITUDE <= abs(float(node)) <= MAX_REWRITE_MAGNITUDE:
            return False
    return True


# ---------------------------------------------------------------- exports
def latex_symbol(name: str) -> str:
    """A variable name as LaTeX that reads as ONE variable: sympy prints a
    column ``px`` as ``px``, which LaTeX and mathtext typeset as the product
    p*x.  Multi-letter parts go upright (``\\mathrm{px}``), Greek names become
    letters (``theta``), trailing digits and ``_`` parts become subscripts
    (``x1`` -> ``x_{1}``, ``mass_kg`` -> ``\\mathrm{mass}_{\\mathrm{kg}}``).
    Only whole Greek names are translated (sympy's suffix modifiers would print
    a column ``xbar`` as x-bar), and ``__`` is a subscript too (as x^{2} it
    would read as a power)."""
    head, *subs = [t for t in re.sub(r"\W+", "_", str(name)).split("_") if t] or ["x"]
    m = re.fullmatch(r"([^\W\d_]+)(\d+)", head)
    if m:
        head, subs = m.group(1), [m.group(2)] + subs
    out = _latex_part(head)
    return out + "_{" + " ".join(_latex_part(t) for t in subs) + "}" if subs else out


def _latex_part(t: str) -> str:
    from sympy.printing.latex import translate
    if t in _GREEK:
        return translate(t)
    return t if len(t) == 1 or t.isdigit() else f"\\mathrm{{{t}}}"


def _greek_names() -> frozenset:
    from sympy.printing.latex import greek_letters_set, tex_greek_dictionary
    return frozenset(greek_letters_set) | {g.capitalize() for g in greek_letters_set} | set(tex_greek_dictionary)


_GREEK = _greek_names()


def to_latex(expr: sympy.Expr) -> str:
    """The one LaTeX printer of every export (panel, Copy LaTeX, .tex, CLI,
    Pareto list): sympy's, with variables named by ``latex_symbol``."""
    names = {s: latex_symbol(s.name) for s in expr.free_symbols if isinstance(s, sympy.Symbol)}
    return sympy.latex(expr, symbol_names=names)


def to_python_source(expr: sympy.Expr, input_names: Sequence[str], func_name: str = "formula") -> str:
    """Source of a NumPy function computing ``expr`` from arrays named like the columns."""
    from sympy.printing.numpy import NumPyPrinter

    syms = sorted(expr.free_symbols, key=lambda s: s.name)
    args = symbol_names(input_names)
    rename = {}
    for s in syms:
        if s.name not in args:
            raise ValueError(f"the formula uses {s.name!r}, which is not among the inputs")
        rename[s] = sympy.Symbol(s.name)
    body = NumPyPrinter({"fully_qualified_modules": True}).doprint(expr.xreplace(rename))
    body = body.replace("numpy.", "np.")
    sig = ", ".join(args)
    return (f"import numpy as np\n\n\ndef {func_name}({sig}):\n"
            f"    \"\"\"{sympy.sstr(expr)}\"\"\"\n"
            f"    return {body}\n")


def evaluate(expr: sympy.Expr, input_names: Sequence[str], X) -> np.ndarray:
    """Values of ``expr`` on the rows of X (columns in the order of input_names)."""
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X[:, None]
    by_name = {s: X[:, k] for s, k in symbol_index(input_names).items()}
    values = {}
    for s in expr.free_symbols:
        if s.name not in by_name:
            raise ValueError(f"the formula uses {s.name!r}, which is not among the inputs")
        values[s] = by_name[s.name]
    out = evaluate_numpy(expr, values)
    return np.broadcast_to(out, (X.shape[0],)).astype(np.float64) if out.ndim == 0 else out


def formula_rmse(expr: sympy.Expr, input_names: Sequence[str], X, y) -> float:
    """RMSE of the formula on (X, y); inf when it is not finite there."""
    pred = evaluate(expr, input_names, X)
    err = pred - np.asarray(y, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(err)):
        return float("inf")
    return float(np.sqrt(np.mean(err * err))) if err.size else float("nan")
