"""Symbolic edges at the network level: suggest, fix, unfix, auto-symbolic.

The 1-D fitting itself lives in ``fitting`` (batched over edges and
library functions); this module gathers each edge's samples from one forward
pass of the model over the caller's samples ``x`` (training rows, normalised
like the model's inputs) and writes the chosen functions into the model.
"""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import numpy as np
import sympy
import torch

from ..defaults import WEIGHT_SIMPLE
from ..model import get_function, KAN, library_names
from .fitting import Candidate, fit_functions, rank_candidates
from .interpreter import evaluate_numpy

__all__ = ["edge_samples", "edge_values", "suggest", "fix", "unfix", "auto_symbolic", "AutoSymbolicResult",
           "numeric_edges", "formula_function"]


def _as_tensor(model: KAN, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    return x.to(device=model.device, dtype=model.dtype)


def _names(lib: Optional[Sequence[str]]) -> list[str]:
    names = list(library_names() if lib is None else lib)
    if not names:
        raise ValueError("the symbolic library is empty")
    return [get_function(n).name for n in names]  # canonical names; unknown names raise


@torch.no_grad()
def edge_values(model: KAN, x) -> list:
    """(layer input [B, in], edge values [B, in, out]) tensors of every layer, one pass.
    An edge's value is what the network computes for it now: its spline while
    numeric, its formula once fixed (suggesting again offers alternatives)."""
    model.forward(_as_tensor(model, x), cache=True)
    cache = model.cache
    return [(cache.inputs[l], cache.edges[l].edges) for l in range(model.depth)]


def edge_samples(model: KAN, x, layer: int, i: int, j: int) -> tuple[np.ndarray, np.ndarray]:
    """(input values, edge values) of one edge over the samples, as numpy [N]."""
    model._check_edge(layer, i, j)
    xin, vals = edge_values(model, _as_tensor(model, x))[layer]
    return xin[:, i].cpu().numpy().copy(), vals[:, i, j].cpu().numpy().copy()


def suggest(model: KAN, x, layer: int, i: int, j: int, top_k: Optional[int] = 5,
            lib: Optional[Sequence[str]] = None, weight_simple: float = 0.8) -> list[Candidate]:
    """Library functions ranked for one edge (best first)."""
    model._check_edge(layer, i, j)
    xin, vals = edge_values(model, _as_tensor(model, x))[layer]
    names = _names(lib)
    res = fit_functions(xin[:, i][None, :], vals[:, i, j][None, :], names)
    return res.candidates(0, weight_simple, top_k)


def fix(model: KAN, x, layer: int, i: int, j: int, name: str) -> Candidate:
    """Fit c*f(a*x+b)+d for one function to the edge's samples and fix the edge to it."""
    model._check_edge(layer, i, j)
    canonical = get_function(name).name
    xin, vals = edge_values(model, _as_tensor(model, x))[layer]
    res = fit_functions(xin[:, i][None, :], vals[:, i, j][None, :], [canonical])
    cand = rank_candidates(res.r2[0], res.names, params_row=res.params[0])[0]
    model.fix_symbolic(layer, i, j, canonical, cand.params)
    return cand


def unfix(model: KAN, layer: int, i: int, j: int) -> None:
    """Return an edge to its learned spline."""
    model.unfix_symbolic(layer, i, j)


def numeric_edges(model: KAN) -> list[tuple[int, int, int]]:
    """Alive edges that are not fixed yet, as (layer, i, j)."""
    out = []
    for l, layer in enumerate(model.layers):
        ii, jj = torch.nonzero((layer.mask > 0) & (layer.sym_mask == 0), as_tuple=True)
        out += [(l, int(a), int(b)) for a, b in zip(ii.tolist(), jj.tolist())]
    return out


class AutoSymbolicResult(list):
    """The edges auto_symbolic fixed, as (layer, i, j, Candidate) tuples.

    ``skipped`` lists (layer, i, j, best Candidate) of the edges whose best
    candidate stayed below r2_threshold and were left numeric."""

    def __init__(self, fixed=(), skipped=()):
        super().__init__(fixed)
        self.skipped = list(skipped)


NETWORK_CANDIDATES = 5   # library fits of an edge compared by the whole network's loss
NETWORK_SLACK = 0.1       # a simpler function may cost the network this much more (relative) ...
NUMERIC_LOSS = 1e-2       # ... and an edge stays numeric when its best function costs this share of var(y)


@torch.no_grad()
def _by_network(model: KAN, x: torch.Tensor, y: torch.Tensor, edge, candidates) -> Optional[Candidate]:
    """The candidate for ``edge`` judged by the network: each is fixed in turn and
    the network's mean squared error on (x, y) measured.  The simplest one whose
    cost is within NETWORK_SLACK of the cheapest wins; None (leave the edge
    numeric) when even the cheapest costs more than NUMERIC_LOSS of var(y).  An
    edge's own R^2 can prefer cos to x^2 when the two differ only where the next
    layer does not look; the network's loss does not."""
    l, i, j = edge
    y = y.reshape(len(y), -1)[:, :1]

    def mse():
        d = model(x)[:, :1] - y
        v = float(torch.mean(d * d))
        return v if np.isfinite(v) else np.inf
    base = mse()
    var = float(torch.var(y)) or 1.0
    costs = []
    for c in candidates:
        model.fix_symbolic(l, i, j, c.name, c.params)
        costs.append(mse() - base)
        model.unfix_symbolic(l, i, j)
    if not costs or not np.isfinite(min(costs)):
        return None
    best = max(min(costs), 0.0)
    if best > NUMERIC_LOSS * var:
        return None
    ok = [k for k, cost in enumerate(costs) if cost <= best + max(NETWORK_SLACK * best, 1e-9 * var)]
    return min((candidates[k] for k in ok), key=lambda c: (c.complexity, candidates.index(c)))


FORMULA_DIGITS = 6   # significant digits of an engine formula's constants (its text is its name)


def formula_function(expr: sympy.Expr) -> str:
    """Register a formula in one variable as a library function named by its own
    text (constants to FORMULA_DIGITS digits) and return that name.  The name is
    all a saved model needs: a session that has not seen it parses it again
    (model.get_function)."""
    syms = list(expr.free_symbols)
    if len(syms) != 1:
        raise ValueError(f"an edge function is a formula in one variable, not {expr}")
    x = sympy.Symbol("x", real=True)
    e = expr.xreplace({syms[0]: x})
    e = e.xreplace({f: sympy.Float(f, FORMULA_DIGITS) for f in e.atoms(sympy.Float)})
    name = sympy.sstr(e, full_prec=False)
    return get_function(name).name


def _by_search(model: KAN, x: torch.Tensor, y: torch.Tensor, edge, xin: np.ndarray, vals: np.ndarray,
               search: Callable) -> Optional[Candidate]:
    """The formulas ``search`` (the symbolic engine) finds for an edge's samples,
    judged by the network like the library's candidates (``_by_network``)."""
    candidates = []
    for expr in search(xin, vals):
        try:
            name = formula_function(expr)
        except (ValueError, TypeError):
            continue
        fn = get_function(name)
        try:
            v = np.broadcast_to(evaluate_numpy(fn.sympy_fn(sympy.Symbol("x", real=True)),
                                               {sympy.Symbol("x", real=True): xin}), vals.shape)
        except ValueError:
            continue
        ss = float(np.sum((vals - vals.mean()) ** 2)) or 1.0
        r2 = 1.0 - float(np.sum((vals - v) ** 2)) / ss
        if np.isfinite(r2):
            candidates.append(Candidate(name, r2, fn.complexity, (1.0, 0.0, 1.0, 0.0), 0.0))
    return _by_network(model, x, y, edge, candidates) if candidates else None


def auto_symbolic(model: KAN, x, lib: Optional[Sequence[str]] = None, weight_simple: float = WEIGHT_SIMPLE,
                  r2_threshold: float = 0.0, edges: Optional[Sequence[tuple[int, int, int]]] = None,
                  fit_kw: Optional[dict] = None, y=None, search: Optional[Callable] = None) -> AutoSymbolicResult:
    """Fix every alive numeric edge to its best library function.

    One batched fit per layer over all of that layer's candidate edges; edges
    already fixed or pruned are skipped.  An edge whose best r2 is below
    ``r2_threshold`` stays numeric and is reported in ``result.skipped``.
    ``edges`` restricts the work to some (layer, i, j).

    With the targets ``y`` (rows of ``x``), each edge's function is chosen by
    its effect on the whole network instead (``_by_network``).  There, an edge
    no library function serves is handed to ``search`` (samples x, values ->
    formulas in one variable: the symbolic engine), whose formulas are judged
    the same way; one that none serves either stays numeric (``skipped``)."""
    names = _names(lib)
    todo = numeric_edges(model) if edges is None else [tuple(e) for e in edges]
    if not todo:
        return AutoSymbolicResult()
    per_layer = edge_values(model, _as_tensor(model, x))
    fixed, skipped = [], []
    for l in sorted({e[0] for e in todo}):
        idx = [(i, j) for (ll, i, j) in todo if ll == l]
        xin, vals = per_layer[l]
        ii = torch.tensor([i for i, _ in idx], dtype=torch.long, device=xin.device)
        jj = torch.tensor([j for _, j in idx], dtype=torch.long, device=xin.device)
        xs = xin[:, ii].T.contiguous()                                   # [E, N]
        ys = vals[:, ii, jj].T.contiguous()
        res = fit_functions(xs, ys, names, **(fit_kw or {}))
        for e, (i, j) in enumerate(idx):
            if y is not None:
                xt, yt = _as_tensor(model, x), _as_tensor(model, y)
                chosen = _by_network(model, xt, yt, (l, i, j), res.candidates(e, weight_simple, NETWORK_CANDIDATES))
                if chosen is None and search is not None:
                    chosen = _by_search(model, xt, yt, (l, i, j), xs[e].cpu().numpy().copy(),
                                        ys[e].cpu().numpy().copy(), search)
                if chosen is not None:
                    model.fix_symbolic(l, i, j, chosen.name, chosen.params)
                    fixed.append((l, i, j, chosen))
                else:
                    skipped.append((l, i, j, res.candidates(e, weight_simple, 1)[0]))
                continue
            best = res.candidates(e, weight_simple, 1)[0]
            if best.r2 >= r2_threshold:
                model.fix_symbolic(l, i, j, best.name, best.params)
                fixed.append((l, i, j, best))
            else:
                skipped.append((l, i, j, best))
    return AutoSymbolicResult(fixed, skipped)
