"""Pruning: masking edges and removing nodes or inputs to get a smaller KAN.

Removing a node builds a new, smaller network (layers cut with
``KANLayer.subset``, affine parameters sliced, symbolic fixes kept).  What a
removed node or a masked edge still fed downstream on average (a constant)
is folded into the downstream subnode bias when samples are given, so a
pruned network starts as close to the original as possible; a node whose
outgoing edges are all masked is removed exactly.

Inputs are never removed by ``auto_prune`` (their edges are masked instead,
so the model keeps matching the dataset's columns).  ``prune_input`` does
remove a column: the caller must drop the same column from its data.
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch
from torch import nn

from .attribution import attribution_scores
from ..defaults import EDGE_TH, NODE_TH, ONE_NODE_TOLERANCE

ONE_NODE_STARTS = 4     # starts of the one-node network (see one_hidden_node)
from ..model import KAN

__all__ = ["prune_edge", "prune_node", "prune_input", "prune_nodes", "prune_edges_below",
           "auto_prune", "one_hidden_node", "ONE_NODE_TOLERANCE"]



def prune_edge(model: KAN, layer: int, i: int, j: int) -> None:
    """Mask one edge in place (undo with model.set_edge_mask(layer, i, j, 1))."""
    model.set_edge_mask(layer, i, j, 0.0)


def _as_tensor(model: KAN, x):
    if x is None:
        return None
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    return x.to(device=model.device, dtype=model.dtype)


@torch.no_grad()
def _subnode_means(model: KAN, x) -> list[torch.Tensor]:
    """Mean value of every edge over the samples, per layer [in, n_sub]."""
    model.forward(x, cache=True)
    return [ev.edges.mean(0) for ev in model.cache.edges]


def prune_nodes(model: KAN, keep: Sequence[Sequence[int]], x=None) -> KAN:
    """A new network keeping, at each level, the node indices in ``keep[level]``
    (sum nodes and multiplication nodes in their usual order).  ``x``: samples
    used to fold the mean contribution of removed nodes into the biases."""
    keep = [sorted(set(int(v) for v in k)) for k in keep]
    if len(keep) != model.depth + 1:
        raise ValueError(f"keep needs one list per level ({model.depth + 1}), got {len(keep)}")
    for lvl, k in enumerate(keep):
        n = model.n_nodes(lvl)
        if not k:
            raise ValueError(f"level {lvl} would have no node left")
        if k[0] < 0 or k[-1] >= n:
            raise IndexError(f"node index out of range at level {lvl} (it has {n} nodes)")
    x = _as_tensor(model, x)
    means = _subnode_means(model, x) if x is not None else None

    width, arity, sub_keep = [], [], []
    for lvl, k in enumerate(keep):
        n_sum = model.width[lvl][0]
        sums = [v for v in k if v < n_sum]
        mults = [v - n_sum for v in k if v >= n_sum]
        width.append([len(sums), len(mults)])
        arity.append([model.mult_arity[lvl][m] for m in mults])
        ops = model.mult_operands(lvl)
        sub_keep.append(sums + [s for m in mults for s in ops[m]])

    new = KAN(width, grid=model.grid_size, k=model.k, mult_arity=arity, grid_range=model.grid_range,
              seed=0, affine_trainable=model.affine_trainable, dtype=model.dtype_name,
              device=model.device)
    new.input_names = [model.input_names[i] for i in keep[0]]
    new.output_names = [model.output_names[i] for i in keep[-1]]
    for l in range(model.depth):
        in_idx, out_idx = keep[l], sub_keep[l + 1]
        new.layers[l] = model.layers[l].subset(in_idx, out_idx)
        _copy_requires_grad(model.layers[l], new.layers[l])
        sub_scale = model.subnode_scale[l].detach()
        sub_bias = model.subnode_bias[l].detach().clone()
        if means is not None:
            dropped = [i for i in range(model.n_nodes(l)) if i not in set(in_idx)]
            if dropped:
                lost = means[l][dropped].sum(0)                          # [n_sub] before affine
                sub_bias = sub_bias + sub_scale * lost
        _set_param(new.subnode_scale, l, sub_scale[out_idx], model.subnode_scale[l])
        _set_param(new.subnode_bias, l, sub_bias[out_idx], model.subnode_bias[l])
        _set_param(new.node_scale, l, model.node_scale[l].detach()[keep[l + 1]], model.node_scale[l])
        _set_param(new.node_bias, l, model.node_bias[l].detach()[keep[l + 1]], model.node_bias[l])
    new.invalidate()
    return new


def _set_param(plist: nn.ParameterList, l: int, value: torch.Tensor, like: nn.Parameter):
    plist[l] = nn.Parameter(value.clone(), requires_grad=like.requires_grad)


def _copy_requires_grad(src: nn.Module, dst: nn.Module):
    for (_, p_src), (_, p_dst) in zip(src.named_parameters(), dst.named_parameters()):
        p_dst.requires_grad_(p_src.requires_grad)


def prune_node(model: KAN, level: int, node: int, x=None) -> KAN:
    """A new network without one hidden node."""
    if not (0 < level < model.depth):
        raise ValueError("only hidden nodes can be pruned (use prune_input for inputs)")
    keep = [list(range(model.n_nodes(l))) for l in range(model.depth + 1)]
    if node not in keep[level]:
        raise IndexError(f"node {node} out of range at level {level}")
    keep[level].remove(node)
    return prune_nodes(model, keep, x)


def prune_input(model: KAN, i: int, x=None) -> KAN:
    """A new network without input column ``i`` (its name goes too).

    The caller's dataset must drop the same column before training or
    evaluating the returned model (``x`` here, if given, still has it)."""
    if model.n_nodes(0) <= 1:
        raise ValueError("cannot remove the only input")
    keep = [list(range(model.n_nodes(l))) for l in range(model.depth + 1)]
    if i not in keep[0]:
        raise IndexError(f"input {i} out of range")
    keep[0].remove(i)
    return prune_nodes(model, keep, x)


@torch.no_grad()
def prune_edges_below(model: KAN, x, edge_th: float = EDGE_TH,
                      scores: Optional[list] = None) -> int:
    """Mask (in place) every alive edge whose attribution score is <= edge_th,
    folding its mean value into the subnode bias.  Returns how many were masked."""
    x = _as_tensor(model, x)
    if scores is None:
        scores = attribution_scores(model, x)[0]
    means = _subnode_means(model, x)
    count = 0
    for l, layer in enumerate(model.layers):
        dead = (torch.as_tensor(scores[l], device=layer.mask.device) <= edge_th) & (layer.mask > 0)
        if not dead.any():
            continue
        lost = (means[l] * dead).sum(0)
        model.subnode_bias[l].data += model.subnode_scale[l].detach() * lost
        layer.mask[dead] = 0.0
        count += int(dead.sum())
    model.invalidate()
    return count


def auto_prune(model: KAN, x, node_th: float = NODE_TH, edge_th: float = EDGE_TH) -> KAN:
    """Keep hidden nodes scoring above node_th, then mask edges scoring at or
    below edge_th (scores recomputed on the smaller network).  Inputs and outputs
    are always kept; a kept multiplication node keeps its operands.  Returns a
    new model; ``model`` itself is left unchanged."""
    x = _as_tensor(model, x)
    _, nodes = attribution_scores(model, x)
    keep = [list(range(model.n_nodes(0)))]
    for lvl in range(1, model.depth):
        kept = [int(i) for i in np.nonzero(nodes[lvl] > node_th)[0]]
        if not kept:  # never empty a level: keep its strongest node
            kept = [int(np.argmax(nodes[lvl]))]
        keep.append(kept)
    keep.append(list(range(model.n_nodes(model.depth))))
    new = prune_nodes(model, keep, x)
    prune_edges_below(new, x, edge_th)
    return new


@torch.no_grad()
def _merged(model: KAN, x) -> KAN:
    """One hidden node that starts as the network itself where it can: the
    penalised fit often gives each input its own node, y = sum_j psi_j(phi_j(x_j)),
    and one node computes exactly that with input edges psi_j o phi_j and an
    identity edge out (the refit then bends the out edge, as g(h) needs, with
    the inputs' edges).  A node fed by several inputs joins through its input
    edges weighted by the slope of its output edge.  Trained from scratch
    instead, one node stalls on symmetric laws (p^2 + q^2) nearly always."""
    from ..model import curve_to_coef
    model.forward(x, cache=True)
    c = model.cache
    H, out = c.nodes[1], c.edges[1].edges[:, :, 0]           # [B, hidden]: h_j, psi_j(h_j)
    first = c.edges[0].edges                                   # [B, in, hidden]: phi_ij(x_i)
    y_kept = c.nodes[2][:, 0].clone()
    model.cache = None
    old = model.layers[0]
    alive = old.mask != 0                                      # [in, hidden]
    ones = torch.ones_like(H[:, 0])
    target = torch.zeros(H.shape[0], alive.shape[0], dtype=H.dtype, device=H.device)
    for j in range(H.shape[1]):
        feeds = torch.nonzero(alive[:, j]).flatten().tolist()
        if len(feeds) == 1:
            target[:, feeds[0]] += out[:, j]                   # psi_j(phi_j(x_i)): a function of x_i
        elif feeds:
            slope = torch.linalg.lstsq(torch.stack([H[:, j], ones], 1), out[:, j:j + 1]).solution[0, 0]
            target[:, feeds] += slope * first[:, feeds, j]
    _, nodes = attribution_scores(model, x)
    top = int(np.argmax(nodes[1]))
    one = prune_nodes(model, [list(range(model.n_nodes(0))), [top], [0]], x)
    inner = one.layers[0]
    inner.coef.data[:, 0, :] = curve_to_coef(x, target[:, :, None], inner.grid, inner.k,
                                                    tables=inner.tables())[:, 0, :]
    inner.scale_sp.data[:, 0] = 1.0
    inner.scale_base.data[:, 0] = 0.0
    inner.mask[:, 0] = alive.any(1).to(inner.mask.dtype)
    inner.invalidate()
    _out_edge_reproduces(one, x, y_kept)
    return one


@torch.no_grad()
def _out_edge_reproduces(one: KAN, x, y_kept):
    """Fit the single out edge of a one-hidden-node network so that its output is
    ``y_kept`` (the network it stands in for), on the hidden node's range."""
    from ..model import curve_to_coef, uniform_grid
    outer = one.layers[1]
    outer.coef.data.zero_()
    outer.scale_base.data.zero_()
    outer.scale_sp.data.fill_(1.0)
    outer.invalidate()
    one.forward(x, cache=True)
    h, base = one.cache.nodes[1][:, :1], one.cache.nodes[2][:, 0].clone()
    one.cache = None
    ss, _, ns, _ = one._affine_refs(1)
    gain = float(ss[0] * ns[0]) or 1.0
    lo, hi = float(h.min()), float(h.max())
    pad = 0.05 * (hi - lo) + 1e-9
    outer.grid = uniform_grid(1, outer.num, outer.k, lo - pad, hi + pad, dtype=h.dtype, device=h.device)
    outer.invalidate()
    outer.coef.data = curve_to_coef(h, ((y_kept - base) / gain)[:, None, None], outer.grid, outer.k,
                                           tables=outer.tables())


@torch.no_grad()
def _product(model: KAN, x) -> Optional[KAN]:
    """One multiplication node, y = g(phi_1(x_1) * ... * phi_n(x_n)) (KAN 2.0's
    MultKAN), started as the network's own reading: along each input with the
    others held at the row of largest |y|, phi_i is the network's slice (the
    first one as it is, the others divided by y there), so that for a network
    that is multiplicatively separable the product is the network; g starts
    as whatever then reproduces it.  None when no row has y clearly off 0."""
    from ..model import curve_to_coef
    n = model.n_nodes(0)
    y_kept = model(x)[:, 0].clone()
    r = int(torch.argmax(torch.abs(y_kept)))
    f_ref = float(y_kept[r])
    if not np.isfinite(f_ref) or abs(f_ref) <= 1e-6 * (float(torch.std(y_kept)) + 1e-300):
        return None
    target = torch.zeros(x.shape[0], n, n, dtype=x.dtype, device=x.device)
    for i in range(n):
        Xq = x[r].repeat(x.shape[0], 1)
        Xq[:, i] = x[:, i]
        g = model(Xq)[:, 0]
        target[:, i, i] = g if i == 0 else g / f_ref
    prod = KAN([n, [0, 1], 1], grid=model.grid_size, k=model.k, mult_arity=n, seed=0, dtype=model.dtype_name,
               device=model.device)
    prod.set_names(model.input_names, getattr(model, "output_names", None))
    prod.update_grid_from_samples(x)
    inner = prod.layers[0]
    eye = torch.eye(n, dtype=inner.mask.dtype, device=inner.mask.device)
    inner.coef.data = curve_to_coef(x, target, inner.grid, inner.k, tables=inner.tables())
    inner.scale_sp.data.copy_(eye.to(inner.scale_sp.dtype))
    inner.scale_base.data.zero_()
    inner.mask.copy_(eye)
    inner.invalidate()
    _out_edge_reproduces(prod, x, y_kept)
    return prod


def one_hidden_node(model: KAN, x, y, x_test, y_test, config, cancel=None,
                    product: bool = True) -> tuple[Optional[KAN], dict]:
    """Compositionality (KAN 2.0; AI Feynman's y = g(h(x))) as a pruning choice.

    A one-hidden-layer network whose pruning left several hidden sum nodes is
    compared with the same inputs through ONE hidden node: y = g(sum_i phi_i(x_i)),
    or, with ``product``, one multiplication node, y = g(prod_i phi_i(x_i))
    (``info["kind"]`` says which was kept).
    The one node starts as the strongest of them (its edges as they are; the
    others folded into the bias) and both are refitted with ``config`` (no
    penalty).  When the single node predicts the held-out rows about as well
    (within ONE_NODE_TOLERANCE), it is the smaller true structure: the
    penalised fit often settles on one node per input, f(p) + g(q), which no
    choice of functions makes exact for sqrt(1 + p^2 + q^2) or exp(-(a^2 + b^2)).

    Returns (the refitted one-node network or None, what was measured)."""
    from ..training import fit_steps
    if model.depth != 2 or model.n_nodes(2) != 1 or any(m for _, m in model.width):
        return None, {}
    x, y = _as_tensor(model, x), _as_tensor(model, y)
    xt, yt = _as_tensor(model, x_test), _as_tensor(model, y_test)
    hidden = model.n_nodes(1)
    if hidden < 2:
        return None, {}

    def refit(m) -> float:
        last = None
        for snap in fit_steps(m, x, y, xt, yt, config, cancel):
            last = snap
        if last is None or last.reason == "cancelled":
            return float("nan")
        test = last.test_rmse
        return float(test if test is not None and np.isfinite(test) else last.train_rmse)

    if model.layers[0].has_symbolic():
        return None, {}
    kept = model.copy()
    err_kept = refit(kept)
    # one node stalls from many starts (a saddle of symmetric laws): the merged
    # node, then fresh ones, the best kept; each refit is a fraction of a second
    starts = [_merged(model, x)] + [KAN([model.n_nodes(0), 1, 1], grid=model.grid_size, k=model.k,
                                        seed=int(getattr(config, "seed", 0) or 0) + s, dtype=model.dtype,
                                        device=model.device) for s in range(ONE_NODE_STARTS - 1)]
    for m in starts[1:]:
        m.set_names(model.input_names, getattr(model, "output_names", None))
    one, err_one = None, float("inf")
    for m in starts:
        e = refit(m)
        if np.isfinite(e) and e < err_one:
            one, err_one = m, e
        if err_one <= 1e-3 * err_kept:
            break
    kind = "sum"
    # or one multiplication node: a*sin(b), a*exp(-b), a^2*b are products of
    # one-variable functions, which no sum of them is
    product = _product(model, x) if product and err_one > 1e-3 * err_kept else None
    if product is not None:
        e = refit(product)
        if np.isfinite(e) and e < err_one:
            one, err_one, kind = product, e, "product"
    info = {"hidden_nodes": int(hidden), "rmse_kept": err_kept, "rmse_one": err_one, "kind": kind}
    if not (np.isfinite(err_one) and np.isfinite(err_kept)) or err_one > ONE_NODE_TOLERANCE * err_kept:
        return None, info
    return one, info
