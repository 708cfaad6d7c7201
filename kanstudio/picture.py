"""What the network view and the edge inspector draw, as plain numpy copies.

Computed in the worker thread (the model may keep training afterwards: every
array here is a copy), painted in the UI thread.  No Qt.

Public API
----------
``network_picture(model, x, n_points=40, score_mode="attribution", max_rows=1024)
-> NetworkPicture``
    Every edge's function sampled over its input's data range, plus scores,
    masks and symbolic fixes.  ``score_mode`` is "attribution" (KAN 2.0 scores
    from ``science.attribution``; falls back to the activation score when that
    module is unavailable) or "activation" (std(edge) / (std(input) + 0.1)).
    Beyond ``max_rows`` samples are thinned by an even stride: ranges and
    standard deviations for a drawing do not need more, and this runs at up to
    10 Hz during training.
``edge_detail(model, x, layer, i, j, n_points=200, max_samples=2000) -> EdgeDetail``
    One edge in full: curve, data samples, input histogram, symbolic fix.
``edge_curves(model, x, n_points=40) -> list[(xs [in, n], ys [in, out, n])]``
    Just the curves, per layer.

Layout vocabulary (shared with the GUI): level l holds ``n_nodes(l)`` nodes;
layer l maps the nodes of level l to the *subnodes* of level l+1 (one per sum
node, ``arity`` per multiplication node).  ``subnode_owner[l+1][j]`` is the
node that subnode j feeds.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch

__all__ = ["LayerPicture", "NetworkPicture", "EdgeDetail", "network_picture",
           "edge_detail", "edge_curves", "node_name"]


@dataclass
class LayerPicture:
    """Everything drawn for one layer (edges i -> j, arrays [in, out, ...])."""
    xs: np.ndarray              # [in, n]   grid over each input's data range
    ys: np.ndarray              # [in, out, n] edge values over xs (0 where pruned)
    scores: np.ndarray          # [in, out] score used for the drawing strength
    activation: np.ndarray      # [in, out] std(edge) / (std(input) + 0.1)
    mask: np.ndarray            # [in, out] 1 alive, 0 pruned
    symbolic: list              # [in][out] function name or None
    sym_params: np.ndarray      # [in, out, 4] (a, b, c, d) of fixed edges
    sym_r2: np.ndarray          # [in, out] R^2 of the fixed function vs the spline (NaN if not fixed)

    @property
    def shape(self) -> tuple[int, int]:
        return self.mask.shape


@dataclass
class NetworkPicture:
    width: list                 # [[n_sum, n_mult], ...] per level
    mult_operands: list         # per level: subnode index lists, one per mult node
    subnode_owner: list         # per level: node index of every subnode
    input_names: list
    output_names: list
    layers: list                # LayerPicture per layer
    node_scores: list           # per level [n_nodes]
    score_mode: str = "attribution"

    @property
    def depth(self) -> int:
        return len(self.width) - 1

    @property
    def topology_key(self) -> tuple:
        """Equal keys <=> the same items in the same places (the view rebuilds otherwise)."""
        return (tuple(tuple(w) for w in self.width),
                tuple(tuple(tuple(ops) for ops in lvl) for lvl in self.mult_operands),
                tuple(lp.mask.shape for lp in self.layers))

    def n_nodes(self, level: int) -> int:
        return int(sum(self.width[level]))

    def n_edges(self) -> int:
        return int(sum(lp.mask.size for lp in self.layers))

    def node_name(self, level: int, index: int) -> str:
        return node_name(self.width, self.input_names, self.output_names, level, index)

    def subnode_name(self, level: int, sub: int) -> str:
        """Name of the target of an edge: its node, plus the operand number for a mult node."""
        owner = self.subnode_owner[level][sub]
        name = self.node_name(level, owner)
        n_sum = self.width[level][0]
        if owner >= n_sum:
            ops = self.mult_operands[level][owner - n_sum]
            name += f"[{ops.index(sub) + 1}]"
        return name

    def edge_label(self, layer: int, i: int, j: int) -> str:
        return f"{self.node_name(layer, i)} \u2192 {self.subnode_name(layer + 1, j)}"


def node_name(width, input_names, output_names, level: int, index: int) -> str:
    """x-names at the bottom, output names at the top, h1.. (or h<level>.<n>) between."""
    depth = len(width) - 1
    if level == 0 and index < len(input_names):
        return str(input_names[index])
    if level == depth and index < len(output_names):
        return str(output_names[index])
    return f"h{index + 1}" if depth == 2 else f"h{level}.{index + 1}"


@dataclass
class EdgeDetail:
    layer: int
    i: int
    j: int
    xs: np.ndarray              # [n] grid over the input's data range
    ys: np.ndarray              # [n] the edge's function (0 when pruned)
    numeric_ys: np.ndarray      # [n] the spline form (what a fixed edge replaced)
    sample_x: np.ndarray        # [<= max_samples] input values at data rows
    sample_y: np.ndarray        # [<= max_samples] edge outputs at those rows
    hist_counts: np.ndarray     # [bins]
    hist_edges: np.ndarray      # [bins + 1]
    masked: bool                # True when the edge is pruned
    symbolic_name: Optional[str] = None
    symbolic_params: Optional[tuple] = None   # (a, b, c, d) of c*f(a*x+b)+d
    label: str = ""
    names: tuple = field(default=("", ""))    # (source, target) names


# ------------------------------------------------------------------ helpers
def _rows(model, x, max_rows: Optional[int]) -> torch.Tensor:
    """The samples as a model tensor, thinned by an even stride (no RNG)."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    x = x.detach()
    if max_rows is not None and x.shape[0] > max_rows:
        idx = torch.linspace(0, x.shape[0] - 1, max_rows).round().long()
        x = x[idx.to(x.device)]
    return x.to(device=model.device, dtype=model.dtype)


def _std(t: torch.Tensor) -> torch.Tensor:
    return t.std(0, unbiased=False) if t.shape[0] > 1 else torch.zeros_like(t[0])


def _ranges(inp: torch.Tensor, n_points: int) -> torch.Tensor:
    """[in, n] evenly spaced over each input column's data range (widened if flat)."""
    lo, hi = inp.min(0).values, inp.max(0).values
    flat = (hi - lo) < 1e-9
    lo, hi = torch.where(flat, lo - 0.5, lo), torch.where(flat, hi + 0.5, hi)
    t = torch.linspace(0.0, 1.0, n_points, dtype=inp.dtype, device=inp.device)
    return lo[:, None] + (hi - lo)[:, None] * t[None, :]


@torch.no_grad()
def _edges_on(layer, xs: torch.Tensor) -> torch.Tensor:
    """Edge values [in, out, n] with input i evaluated at xs[i] (one batched call)."""
    _, ev = layer(xs.T.contiguous(), with_edges=True)
    return ev.edges.permute(1, 2, 0)


@torch.no_grad()
def _numeric_edges(layer, x: torch.Tensor) -> torch.Tensor:
    """The spline form of every edge [B, in, out], ignoring masks and fixes."""
    return (layer.scale_base * torch.nn.functional.silu(x)[:, :, None]
            + layer.scale_sp * layer.spline_values(x))


def _symbolic_table(layer) -> tuple[list, np.ndarray]:
    names = [[layer.symbolic_name(i, j) for j in range(layer.out_dim)] for i in range(layer.in_dim)]
    return names, layer.sym_params.detach().cpu().numpy().astype(np.float64).copy()


def _sym_r2(layer, x: torch.Tensor, edges: torch.Tensor, names) -> np.ndarray:
    """How well each fixed function matches the spline it replaced, on the data."""
    r2 = np.full((layer.in_dim, layer.out_dim), np.nan)
    fixed = [(i, j) for i, row in enumerate(names) for j, n in enumerate(row) if n is not None]
    if not fixed:
        return r2
    num = _numeric_edges(layer, x)
    for i, j in fixed:
        ref, got = num[:, i, j], edges[:, i, j]
        ss_tot = float(((ref - ref.mean()) ** 2).sum())
        if ss_tot > 0:
            r2[i, j] = 1.0 - float(((ref - got) ** 2).sum()) / ss_tot
    return r2


def _attribution(model, x):
    """(edge scores per layer, node scores per level) from science.attribution."""
    from .science import attribution_scores
    edges, nodes = attribution_scores(model, x)
    return ([np.array(e, dtype=np.float64) for e in edges],
            [np.array(n, dtype=np.float64) for n in nodes])


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy().astype(np.float64, copy=True)


# ------------------------------------------------------------------- API
@torch.no_grad()
def network_picture(model, x, n_points: int = 40, score_mode: str = "attribution",
                    max_rows: Optional[int] = 1024) -> NetworkPicture:
    """Snapshot of everything the network view draws (numpy copies)."""
    if score_mode not in ("attribution", "activation"):
        raise ValueError(f"unknown score mode {score_mode!r}: use 'attribution' or 'activation'")
    x = _rows(model, x, max_rows)
    attr = _attribution(model, x) if score_mode == "attribution" else None
    cache = model.cache
    if cache is None or not cache.nodes or cache.nodes[0] is not x:  # reuse attribution's pass
        model.forward(x, cache=True)
        cache = model.cache
    layers, activation = [], []
    for l, layer in enumerate(model.layers):
        inp, ev = cache.inputs[l], cache.edges[l]
        act = _np(_std(ev.edges) / (_std(inp)[:, None] + 0.1))
        activation.append(act)
        xs = _ranges(inp, n_points)
        names, params = _symbolic_table(layer)
        layers.append(LayerPicture(
            xs=_np(xs), ys=_np(_edges_on(layer, xs)), scores=act, activation=act,
            mask=_np(layer.mask), symbolic=names, sym_params=params,
            sym_r2=_sym_r2(layer, inp, ev.edges, names)))
    if attr is not None:
        scores, nodes = attr
    else:
        n_out = model.n_nodes(model.depth)
        scores, nodes = activation, [a.sum(1) for a in activation] + [np.full(n_out, 1.0 / n_out)]
    for lp, s in zip(layers, scores):
        lp.scores = s
    return NetworkPicture(
        width=[list(w) for w in model.width],
        mult_operands=[[list(o) for o in model.mult_operands(l)] for l in range(model.depth + 1)],
        subnode_owner=[list(model.subnode_owner(l)) for l in range(model.depth + 1)],
        input_names=list(model.input_names), output_names=list(model.output_names),
        layers=layers, node_scores=nodes, score_mode=score_mode)


@torch.no_grad()
def edge_curves(model, x, n_points: int = 40, max_rows: Optional[int] = 1024) -> list:
    """(xs [in, n], ys [in, out, n]) per layer over each input's data range."""
    x = _rows(model, x, max_rows)
    model.forward(x, cache=True)
    out = []
    for layer, inp in zip(model.layers, model.cache.inputs):
        xs = _ranges(inp, n_points)
        out.append((_np(xs), _np(_edges_on(layer, xs))))
    return out


@torch.no_grad()
def edge_detail(model, x, layer: int, i: int, j: int, n_points: int = 200,
                max_samples: int = 2000, bins: int = 30) -> EdgeDetail:
    """One edge in full, for the inspector."""
    model._check_edge(layer, i, j)
    x = _rows(model, x, None)
    model.forward(x, cache=True)
    L = model.layers[layer]
    inp = model.cache.inputs[layer]
    xs = _ranges(inp, n_points)
    curve = _edges_on(L, xs)[i, j]
    num = _numeric_edges(L, xs.T.contiguous())[:, i, j]
    sx, sy = inp[:, i], model.cache.edges[layer].edges[:, i, j]
    if sx.shape[0] > max_samples:
        idx = torch.linspace(0, sx.shape[0] - 1, max_samples).round().long().to(sx.device)
        sx, sy = sx[idx], sy[idx]
    all_x = _np(inp[:, i])
    counts, hedges = np.histogram(all_x, bins=bins, range=(float(xs[i, 0]), float(xs[i, -1])))
    name = L.symbolic_name(i, j)
    params = tuple(float(v) for v in L.sym_params[i, j].tolist()) if name else None
    names = (node_name(model.width, model.input_names, model.output_names, layer, i),
             node_name(model.width, model.input_names, model.output_names, layer + 1,
                       model.subnode_owner(layer + 1)[j]))
    return EdgeDetail(layer=layer, i=i, j=j, xs=_np(xs[i]), ys=_np(curve), numeric_ys=_np(num),
                      sample_x=_np(sx), sample_y=_np(sy), hist_counts=counts.astype(np.float64),
                      hist_edges=hedges, masked=bool(L.mask[i, j] == 0), symbolic_name=name,
                      symbolic_params=params, label=f"{names[0]} \u2192 {names[1]}", names=names)
