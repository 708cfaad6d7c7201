"""kanpiler: a sympy formula -> a KAN that computes it exactly; expand width/depth.

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
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Optional, Sequence

import sympy
import torch
from torch import nn

from . import spline
from .layer import KANLayer
from .network import KAN

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
        from .formula import safe_name
        self.index = {}
        for k, n in enumerate(input_names):
            self.index.setdefault(str(n), k)
            self.index.setdefault(safe_name(n), k)
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


# ---------------------------------------------------------------- rebuilding
def remap_model(model: KAN, width, mult_arity, node_maps, seed: int = 0,
                noise_scale: float = 0.3) -> KAN:
    """A new KAN of the given width whose node n at level l is the old node
    ``node_maps[l][n]`` (None = a fresh node).  Everything attached to kept
    nodes (edges, grids, symbolic fixes, masks, affines) is copied; edges that
    touch a fresh node get a fresh random spline.  Subnodes follow their node."""
    new = KAN(width, grid=model.grid_size, k=model.k, mult_arity=mult_arity,
              grid_range=model.grid_range, noise_scale=noise_scale, seed=seed,
              affine_trainable=model.affine_trainable, dtype=model.dtype_name, device=model.device)
    if len(node_maps) != model.depth + 1 or new.depth != model.depth:
        raise ValueError("remap_model keeps the depth: one node map per level")
    sub_maps = [None]
    for lvl in range(1, new.depth + 1):
        old_ops, new_ops = _subnodes_of(model, lvl), _subnodes_of(new, lvl)
        smap = [None] * new.n_subnodes(lvl)
        for n, o in enumerate(node_maps[lvl]):
            if o is not None:
                if len(old_ops[o]) != len(new_ops[n]):
                    raise ValueError("a kept multiplication node must keep its arity")
                for sn, so in zip(new_ops[n], old_ops[o]):
                    smap[sn] = so
        sub_maps.append(smap)
    new.input_names = [model.input_names[o] if o is not None else f"aux{n + 1}"
                       for n, o in enumerate(node_maps[0])]
    new.output_names = [model.output_names[o] if o is not None else f"y_new{n + 1}"
                        for n, o in enumerate(node_maps[-1])]
    gen = torch.Generator().manual_seed(int(seed) + 1)
    for l, old in enumerate(model.layers):
        fresh = KANLayer(new.n_nodes(l), new.n_subnodes(l + 1), old.num, old.k, noise_scale,
                         model.grid_range, gen, dtype=model.dtype, device=model.device)
        ni, oi = _pairs(node_maps[l])
        nj, oj = _pairs(sub_maps[l + 1])
        with torch.no_grad():
            if len(ni):
                fresh.grid[ni] = old.grid[oi]
            if len(ni) and len(nj):
                for name in ("coef", "scale_base", "scale_sp", "sym_params", "mask", "sym_mask", "sym_fn"):
                    getattr(fresh, name)[ni[:, None], nj[None, :]] = getattr(old, name)[oi[:, None], oj[None, :]]
        fresh.sym_names = list(old.sym_names)
        for (_, p_old), (_, p_new) in zip(old.named_parameters(), fresh.named_parameters()):
            p_new.requires_grad_(p_old.requires_grad)
        fresh.invalidate()
        new.layers[l] = fresh
        for plist, maps in ((("subnode_scale", "subnode_bias"), sub_maps[l + 1]),
                            (("node_scale", "node_bias"), node_maps[l + 1])):
            n_idx, o_idx = _pairs(maps)
            for attr in plist:
                src, dst = getattr(model, attr)[l], getattr(new, attr)[l]
                with torch.no_grad():
                    if len(n_idx):
                        dst[n_idx] = src[o_idx]
                dst.requires_grad_(src.requires_grad)
    new.invalidate()
    return new


def _subnodes_of(model: KAN, level: int) -> list[list[int]]:
    n_sum = model.width[level][0]
    return [[n] for n in range(n_sum)] + model.mult_operands(level)


def _pairs(mapping):
    pairs = [(n, o) for n, o in enumerate(mapping) if o is not None]
    return (torch.tensor([p[0] for p in pairs], dtype=torch.long),
            torch.tensor([p[1] for p in pairs], dtype=torch.long))


def silence_edges(layer: KANLayer, rows, cols):
    """Edges rows x cols output exactly 0 but stay trainable (spline and base
    weights zero, spline scale kept so the coefficients get gradients)."""
    r = torch.as_tensor(list(rows), dtype=torch.long)[:, None]
    c = torch.as_tensor(list(cols), dtype=torch.long)[None, :]
    with torch.no_grad():
        layer.coef[r, c] = 0.0
        layer.scale_base[r, c] = 0.0
        layer.sym_mask[r, c] = 0.0
        layer.sym_fn[r, c] = -1
    layer.invalidate()


def expand_width(model: KAN, level: int, n_new: int = 1, kind: str = "sum", arity: int = 2,
                 seed: int = 0) -> KAN:
    """A new model with ``n_new`` fresh trainable nodes at hidden ``level``.
    Their incoming edges are random splines; their outgoing edges output
    exactly zero, so the function is unchanged before training."""
    if not 0 < level < model.depth:
        raise ValueError(f"level {level} is not a hidden level (1..{model.depth - 1})")
    if kind not in ("sum", "mult") or n_new < 1:
        raise ValueError("expand_width adds n_new >= 1 nodes of kind 'sum' or 'mult'")
    width = [list(w) for w in model.width]
    arities = [list(a) for a in model.mult_arity]
    maps = [list(range(model.n_nodes(l))) for l in range(model.depth + 1)]
    n_sum, n_mult = width[level]
    if kind == "sum":
        maps[level] = list(range(n_sum)) + [None] * n_new + list(range(n_sum, n_sum + n_mult))
        width[level][0] += n_new
        fresh = list(range(n_sum, n_sum + n_new))
    else:
        maps[level] = maps[level] + [None] * n_new
        width[level][1] += n_new
        arities[level] += [int(arity)] * n_new
        fresh = list(range(n_sum + n_mult, n_sum + n_mult + n_new))
    new = remap_model(model, width, arities, maps, seed=seed)
    silence_edges(new.layers[level], fresh, range(new.layers[level].out_dim))
    new.invalidate()
    return new


def expand_depth(model: KAN, x: Optional[torch.Tensor] = None, margin: float = 0.5) -> KAN:
    """A new model with one more layer on top: output o -> new output o is a
    numeric spline edge equal to the identity (exact B-spline coefficients:
    the Greville abscissae) over the range of the old outputs on ``x`` widened
    by ``margin`` of its span (without x: [-3, 3], the range of normalised
    targets); all other new edges output zero.  Trainable everywhere."""
    n_out = model.n_outputs
    width = [list(w) for w in model.width] + [[n_out, 0]]
    arities = [list(a) for a in model.mult_arity] + [[]]
    new = KAN(width, grid=model.grid_size, k=model.k, mult_arity=arities, grid_range=model.grid_range,
              seed=0, affine_trainable=model.affine_trainable, dtype=model.dtype_name, device=model.device)
    new.input_names, new.output_names = list(model.input_names), list(model.output_names)
    twin = model.copy()
    for l in range(model.depth):
        new.layers[l] = twin.layers[l]
        for attr in ("subnode_scale", "subnode_bias", "node_scale", "node_bias"):
            src = getattr(model, attr)[l]
            getattr(new, attr)[l] = nn.Parameter(src.detach().clone(), requires_grad=src.requires_grad)
    if x is not None:
        with torch.no_grad():
            y = model(torch.as_tensor(x, dtype=model.dtype, device=model.device))
        lo, hi = y.min(0).values, y.max(0).values
        span = (hi - lo).clamp_min(1e-3)
        lo, hi = lo - margin * span, hi + margin * span
    else:
        lo = torch.full((n_out,), -3.0, dtype=model.dtype, device=model.device)
        hi = -lo
    top = new.layers[-1]
    G, k = top.num, top.k
    frac = torch.linspace(0, 1, G + 1, dtype=model.dtype, device=model.device)
    grid = spline.extend_grid(lo[:, None] + (hi - lo)[:, None] * frac[None, :], k)
    greville = torch.stack([grid[:, m + 1:m + k + 1].mean(1) for m in range(G + k)], dim=1)  # [in, G+k]
    with torch.no_grad():
        top.grid = grid.contiguous()
        top.coef.zero_()
        top.scale_base.zero_()
        top.scale_sp.fill_(1.0)
        idx = torch.arange(n_out)
        top.coef[idx, idx] = greville
    new.invalidate()
    return new
