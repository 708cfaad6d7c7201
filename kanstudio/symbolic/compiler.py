"""kanpiler: a sympy formula -> a KAN that computes it exactly.

Compilation walks the expression tree:
  * numeric addends and factors are stripped into affines: e = C*core + D;
    on an edge they become its (c, d), inside a function argument its (a, b),
    on a multiplication factor the subnode affine, on the whole formula the
    output node affine;
  * Add -> a sum node (one subnode summing one edge per term);
  * Mul -> a multiplication node, one subnode per non-numeric factor (a factor
    that is itself a sum becomes a subnode summing its terms: no extra layer);
  * f(g) -> an edge fixed to the library function f whose input is g's node;
  * Symbol -> an input node.
Nodes are placed top-down (output at level D = tree height); leaves reached
above level 0 are padded with identity edges (x, a=1, b=0, c=1, d=0), and
every edge that is not on the tree is masked.  Equal sub-expressions at one
level share a node.  Powers and functions are mapped explicitly; anything
without a library function is refused with a ValueError.

Inputs of a compiled model are the RAW columns (no normalisation);
``compile_for_dataset`` folds a dataset's input normalisation into the first
layer's (a, b) and its output normalisation into the output node affine, so
the model plugs into the normalised training pipeline.

Growing a network (expand width/depth) lives in ``expand``; its names are
re-exported here because callers know them as ``compiler.expand_width``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional, Sequence

import sympy
import torch

from ..model import expand_depth, expand_width, KAN, remap_model, silence_edges

__all__ = ["compile_formula", "compile_for_dataset", "expand_width", "expand_depth", "remap_model",
           "silence_edges"]

_POWERS = {Fraction(2): "x^2", Fraction(3): "x^3", Fraction(4): "x^4", Fraction(5): "x^5",
           Fraction(-1): "1/x", Fraction(-2): "1/x^2", Fraction(-3): "1/x^3",
           Fraction(1, 2): "sqrt", Fraction(-1, 2): "1/sqrt(x)", Fraction(3, 2): "x^1.5"}
_FUNCS = {sympy.exp: "exp", sympy.log: "log", sympy.sin: "sin", sympy.cos: "cos", sympy.tan: "tan",
          sympy.tanh: "tanh", sympy.asin: "arcsin", sympy.atan: "arctan", sympy.atanh: "arctanh",
          sympy.Abs: "abs", sympy.sign: "sgn"}
_REFUSE_HINT = "has no library function; add one to the library or rewrite the formula"


def _real(e: sympy.Expr) -> float:
    v = complex(sympy.N(e, 30))
    if abs(v.imag) > 1e-12 * max(1.0, abs(v.real)) or not math.isfinite(v.real):
        raise ValueError(f"the constant {e} is not a finite real number")
    return float(v.real)


def _split(e: sympy.Expr):
    """e = C*core + D with C, D floats; core has no numeric addend/factor (None if e is a number)."""
    if not e.free_symbols:
        return 0.0, None, _real(e)
    d = 0.0
    if e.is_Add:
        d = _real(sympy.Add(*[a for a in e.args if not a.free_symbols]))
        e = sympy.Add(*[a for a in e.args if a.free_symbols])
    c = 1.0
    if e.is_Mul:
        c = _real(sympy.Mul(*[a for a in e.args if not a.free_symbols]))
        e = sympy.Mul(*[a for a in e.args if a.free_symbols])
    return c, e, d


def _fraction(ex: sympy.Expr) -> Optional[Fraction]:
    if ex.is_Rational:
        return Fraction(int(ex.p), int(ex.q))
    v = _real(ex)
    fr = Fraction(v).limit_denominator(100)
    return fr if abs(float(fr) - v) <= 1e-12 * max(1.0, abs(v)) else None


@dataclass
class _Term:      # one edge: value = c*f(a*child + b) + d
    fn: str
    params: tuple
    child: sympy.Expr


@dataclass
class _Sub:       # one subnode: scale * sum(terms) + bias
    terms: list
    scale: float = 1.0
    bias: float = 0.0


@dataclass
class _Node:
    key: sympy.Expr
    kind: str                          # "leaf" | "sum" | "mult"
    subs: list = field(default_factory=list)
    leaf: int = -1


class _Compiler:
    def __init__(self, input_names: Sequence[str]):
        from .formula import symbol_index
        self.index = symbol_index(input_names)
        self.nodes: dict = {}

    # ------------------------------------------------------------ tree
    def edge(self, e: sympy.Expr) -> _Term:
        c, core, d = _split(e)
        fn, a, b, child, cmul, cadd = self.function_of(core)
        return _Term(fn, (a, b, c * cmul, d + c * cadd), child)

    def function_of(self, core: sympy.Expr):
        """core == cmul*f(a*child + b) + cadd for a library f: (f, a, b, child, cmul, cadd)."""
        if core.is_Symbol or core.is_Add or core.is_Mul:
            return "x", 1.0, 0.0, core, 1.0, 0.0
        if core.is_Pow:
            return self.power(core)
        head = core.func
        if head in _FUNCS and len(core.args) == 1:
            a, arg, b = _split(core.args[0])
            if head is sympy.exp and arg.is_Pow and arg.exp == 2 and a < 0:
                # exp(a*w^2 + b) with a < 0: e^b * gaussian(sqrt(-a)*w)
                p, w, q = _split(arg.base)
                s = math.sqrt(-a)
                return "gaussian", s * p, s * q, w, math.exp(b), 0.0
            return _FUNCS[head], a, b, arg, 1.0, 0.0
        if head is sympy.acos and len(core.args) == 1:          # acos = pi/2 - asin
            a, arg, b = _split(core.args[0])
            return "arcsin", a, b, arg, -1.0, math.pi / 2
        name = getattr(head, "__name__", type(core).__name__)
        if isinstance(core, sympy.Function):
            raise ValueError(f"{name} {_REFUSE_HINT}")
        raise ValueError(f"cannot compile {sympy.sstr(core)}: {name} is not supported")

    def power(self, core: sympy.Pow):
        base, ex = core.args
        if ex.free_symbols:           # b^g = exp(g*log b)
            if not base.free_symbols:
                lb = _real(base)
                if lb <= 0:
                    raise ValueError(f"{sympy.sstr(core)}: a variable power of a non-positive number")
                a, arg, b = _split(ex)
                return "exp", a * math.log(lb), b * math.log(lb), arg, 1.0, 0.0
            return "exp", 1.0, 0.0, sympy.Mul(ex, sympy.log(base)), 1.0, 0.0
        fr = _fraction(ex)
        if fr in _POWERS:
            a, arg, b = _split(base)
            return _POWERS[fr], a, b, arg, 1.0, 0.0
        if fr is not None:            # compose two library powers: x^(p*q) = (x^p)^q
            for p in _POWERS:
                q = fr / p
                if q in _POWERS and p != 1 and q != 1:
                    inner = sympy.Pow(base, sympy.Rational(p.numerator, p.denominator), evaluate=False)
                    return _POWERS[q], 1.0, 0.0, inner, 1.0, 0.0
        raise ValueError(f"{sympy.sstr(core)} {_REFUSE_HINT}")

    def build(self, e: sympy.Expr) -> _Node:
        if e in self.nodes:
            return self.nodes[e]
        if e.is_Symbol:
            if e.name not in self.index:
                raise ValueError(f"unknown variable {e.name!r}; the inputs are "
                                 + ", ".join(sorted({k for k in self.index})))
            node = _Node(e, "leaf", leaf=self.index[e.name])
        else:
            c, core, d = _split(e)
            if (c, d) != (1.0, 0.0) or not (core.is_Add or core.is_Mul):
                node = _Node(e, "sum", [_Sub([self.edge(e)])])
            elif core.is_Add:
                node = _Node(e, "sum", [_Sub([self.edge(t) for t in core.args])])
            else:
                node = _Node(e, "mult", [self.factor(f) for f in core.args])
        self.nodes[e] = node
        return node

    def factor(self, f: sympy.Expr) -> _Sub:
        c, core, d = _split(f)
        if core.is_Add:
            return _Sub([self.edge(t) for t in core.args], c, d)
        return _Sub([self.edge(f)])

    # ------------------------------------------------------------ layout
    @staticmethod
    def copies(sub: _Sub):
        """(term, copy): the k-th edge from one child into one subnode needs copy k."""
        seen: dict = {}
        for t in sub.terms:
            k = seen.get(t.child, 0)
            seen[t.child] = k + 1
            yield t, k

    def height(self, node: _Node, memo: dict) -> int:
        if node.kind == "leaf":
            return 0
        if node.key not in memo:
            h = 0
            for sub in node.subs:
                for t, k in self.copies(sub):
                    child = self.build(t.child)
                    h = max(h, 1 if child.kind == "leaf" and k else self.height(child, memo))
            memo[node.key] = h + 1
        return memo[node.key]


def compile_formula(expr: sympy.Expr, input_names: Sequence[str], output_name: str = "y",
                    dtype: str = "float64") -> KAN:
    """A KAN (raw inputs, in the order of ``input_names``) computing ``expr`` exactly."""
    if not input_names:
        raise ValueError("the compiled network needs at least one input")
    if not isinstance(expr, sympy.Expr):
        raise TypeError("compile_formula needs a parsed sympy expression")
    comp = _Compiler(input_names)
    C, core, D = _split(expr)
    if core is not None:
        root = comp.build(core) if (core.is_Add or core.is_Mul) else _Node(core, "sum", [_Sub([comp.edge(core)])])
        depth = comp.height(root, {})
    else:
        root, depth = _Node(sympy.Integer(0), "sum", [_Sub([])]), 1
    levels: list[list] = [[] for _ in range(depth + 1)]   # per level: [kind, subs, [(term, child id)]]
    placed: list[dict] = [{} for _ in range(depth + 1)]

    def place(node: _Node, level: int, copy: int) -> int:
        key = (node.key, copy)
        if key in placed[level]:
            return placed[level][key]
        if node.kind == "leaf" and level == 0:
            return node.leaf
        if node.kind == "leaf":          # identity padding from the level below
            entry = ["sum", [_Sub([_Term("x", (1.0, 0.0, 1.0, 0.0), node.key)])],
                     [[place(node, level - 1, 0)]]]
        else:
            entry = [node.kind, node.subs,
                     [[place(comp.build(t.child), level - 1, k) for t, k in comp.copies(s)] for s in node.subs]]
        levels[level].append(entry)
        placed[level][key] = len(levels[level]) - 1
        return placed[level][key]

    root_id = place(root, depth, 0)
    # Final indices: sum nodes first, then multiplication nodes (KAN ordering).
    final, width, arity = [list(range(len(input_names)))], [[len(input_names), 0]], [[]]
    for lvl in range(1, depth + 1):
        sums = [i for i, e in enumerate(levels[lvl]) if e[0] == "sum"]
        mults = [i for i, e in enumerate(levels[lvl]) if e[0] == "mult"]
        order = {old: new for new, old in enumerate(sums + mults)}
        final.append([order[i] for i in range(len(levels[lvl]))])
        width.append([len(sums), len(mults)])
        arity.append([len(levels[lvl][i][1]) for i in mults])
    model = KAN(width, mult_arity=arity, seed=0, dtype=dtype)
    model.set_names(list(map(str, input_names)), [output_name])
    with torch.no_grad():
        for layer in model.layers:
            layer.mask.zero_()
        for lvl in range(1, depth + 1):
            layer = model.layers[lvl - 1]
            n_sum = model.width[lvl][0]
            for pid, (kind, subs, child_ids) in enumerate(levels[lvl]):
                n = final[lvl][pid]
                sub_idx = [n] if kind == "sum" else model.mult_operands(lvl)[n - n_sum]
                for sub, j, kids in zip(subs, sub_idx, child_ids):
                    model.subnode_scale[lvl - 1][j] = sub.scale
                    model.subnode_bias[lvl - 1][j] = sub.bias
                    for t, cid in zip(sub.terms, kids):
                        i = final[lvl - 1][cid]
                        layer.set_symbolic(i, j, t.fn, t.params)
                        layer.mask[i, j] = 1.0
        model.node_scale[depth - 1][final[depth][root_id]] = C if core is not None else 1.0
        model.node_bias[depth - 1][final[depth][root_id]] = D
    model.invalidate()
    return model


def compile_for_dataset(expr: sympy.Expr, dataset, output_name: Optional[str] = None) -> KAN:
    """compile_formula for a Dataset, taking and producing NORMALISED values:
    x_raw = x_norm*x_scale + x_mean is folded into the first layer's (a, b),
    y_norm = (y_raw - y_mean)/y_scale into the output node affine."""
    names = list(dataset.target_names)
    if len(names) != 1:
        raise ValueError("a formula compiles to a network with one output; the data has "
                         f"{len(names)} targets")
    model = compile_formula(expr, list(dataset.input_names), output_name or names[0])
    xm = torch.as_tensor(dataset.x_mean, dtype=model.dtype).reshape(-1)
    xs = torch.as_tensor(dataset.x_scale, dtype=model.dtype).reshape(-1)
    ym, ys = float(dataset.y_mean[0]), float(dataset.y_scale[0])
    with torch.no_grad():
        p = model.layers[0].sym_params
        a, b = p[..., 0].clone(), p[..., 1].clone()
        p[..., 0] = a * xs[:, None]
        p[..., 1] = a * xm[:, None] + b
        last = model.depth - 1
        model.node_scale[last].data = model.node_scale[last].data / ys
        model.node_bias[last].data = (model.node_bias[last].data - ym) / ys
    model.invalidate()
    return model
