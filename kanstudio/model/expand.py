"""Growing and rebuilding networks: ``expand_width`` / ``expand_depth`` add
fresh trainable capacity to a model (e.g. a compiled one) without changing
the function it computes before training; ``remap_model`` is the general
tool (keep, reorder or add nodes per level) that they, auto-swap and the
auxiliary inputs use; ``silence_edges`` makes edges output exactly zero but
stay trainable.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from . import spline
from .layer import KANLayer
from .network import KAN

__all__ = ["expand_width", "expand_depth", "remap_model", "silence_edges"]


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
