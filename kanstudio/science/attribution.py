"""How much each edge, node and input matters (KAN 2.0 attribution).

All statistics come from the samples ``x`` the caller passes: the *training*
rows, already normalised like the model's inputs.

Attribution, from the outputs down (KAN 2.0, Liu et al. 2024b):
    every output node starts with score 1/n_out;
    a subnode inherits its node's score (a multiplication node's score is
    copied to each of its operands);
    edge i->j:   E[i, j] = S_j * std_B(edge_ij) / (std_B(s_j) + 1e-4)
                 with s_j the subnode value before its affine;
    node i:      N_i = sum_j E[i, j].
Propagation is linear in the starting scores, so "identity per output, then
average" and "1/n_out each" give the same numbers.

Plain activation score (what the regulariser and the first papers use):
    A[i, j] = std_B(edge_ij) / (std_B(x_i) + 0.1).

Everything is returned as numpy (float64) so the GUI can keep copies.
"""
from __future__ import annotations

import numpy as np
import torch

from ..model import KAN

__all__ = ["edge_scores", "node_scores", "input_scores", "activation_scores",
           "connection_cost", "attribution_scores"]

_SUB_EPS = 1e-4


def _as_tensor(model: KAN, x) -> torch.Tensor:
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(np.asarray(x, dtype=np.float64))
    return x.to(device=model.device, dtype=model.dtype)


@torch.no_grad()
def _forward_cache(model: KAN, x):
    model.forward(_as_tensor(model, x), cache=True)
    return model.cache


def _std(t: torch.Tensor) -> torch.Tensor:
    # Population std: defined (zero) for a single row too.
    return t.std(0, unbiased=False) if t.shape[0] > 1 else torch.zeros_like(t[0])


@torch.no_grad()
def attribution_scores(model: KAN, x) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(edge scores per layer [in, out], node scores per level [n_nodes]) in one pass."""
    cache = _forward_cache(model, x)
    depth = model.depth
    n_out = model.n_nodes(depth)
    node = [None] * (depth + 1)
    edge = [None] * depth
    node[depth] = torch.full((n_out,), 1.0 / n_out, dtype=model.dtype, device=model.device)
    for l in range(depth - 1, -1, -1):
        owner = torch.as_tensor(model.subnode_owner(l + 1), dtype=torch.long, device=model.device)
        sub_score = node[l + 1][owner]                                   # [n_sub]
        e_std = _std(cache.edges[l].edges)                               # [in, n_sub]
        s_std = _std(cache.subnodes[l])                                  # [n_sub]
        e = sub_score[None, :] * e_std / (s_std[None, :] + _SUB_EPS)
        edge[l] = e
        node[l] = e.sum(1)
    return ([e.cpu().numpy().astype(np.float64) for e in edge],
            [n.cpu().numpy().astype(np.float64) for n in node])


def edge_scores(model: KAN, x) -> list[np.ndarray]:
    """KAN 2.0 edge attribution per layer, each [in, out]."""
    return attribution_scores(model, x)[0]


def node_scores(model: KAN, x) -> list[np.ndarray]:
    """KAN 2.0 node attribution per level (inputs first, outputs last)."""
    return attribution_scores(model, x)[1]


def input_scores(model: KAN, x) -> np.ndarray:
    """How much each input column matters, [n_in]."""
    return attribution_scores(model, x)[1][0]


@torch.no_grad()
def activation_scores(model: KAN, x) -> list[np.ndarray]:
    """Plain per-edge spread std(edge) / (std(input) + 0.1) per layer, [in, out]."""
    cache = _forward_cache(model, x)
    out = []
    for inp, ev in zip(cache.inputs, cache.edges):
        a = _std(ev.edges) / (_std(inp)[:, None] + 0.1)
        out.append(a.cpu().numpy().astype(np.float64))
    return out


def _positions(n: int) -> np.ndarray:
    """Normalised positions of n nodes in a level (centred in [0, 1])."""
    return (np.arange(n, dtype=np.float64) + 0.5) / max(n, 1)


def connection_cost(model: KAN, x) -> float:
    """sum over edges of |pos(target node) - pos(source node)| * E (auto-swap objective)."""
    edges, _ = attribution_scores(model, x)
    total = 0.0
    for l, e in enumerate(edges):
        src = _positions(model.n_nodes(l))
        dst = _positions(model.n_nodes(l + 1))[np.asarray(model.subnode_owner(l + 1), dtype=int)]
        total += float((np.abs(dst[None, :] - src[:, None]) * e).sum())
    return total
