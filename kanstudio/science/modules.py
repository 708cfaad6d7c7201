"""Modules and auto-swap (KAN 2.0): structure the user puts into a network,
and node orders that make the structure it found visible.

* modules: mask edges so that a chain of node groups only talks to itself
  (``parse_module_spec`` reads the text form, ``define_module`` masks);
* ``auto_swap``: reorder hidden nodes to lower the connection cost
  sum |pos_j - pos_i| * E_ij (the function is unchanged).
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..model import KAN

__all__ = ["ModuleSpec", "parse_module_spec", "module_edges", "define_module", "auto_swap"]


# ---------------------------------------------------------------- modules
@dataclass
class ModuleSpec:
    """A chain of node groups: ``nodes[k]`` are node indices at level start_level + k.

    Text form: groups separated by "->", nodes by commas, e.g. "x1,x2->h0,h1->y".
    A token is an input name (first group at level 0), an output name (a group at
    the output level), "h<k>" / "n<k>" or a plain integer k (node k of that level).
    "@2: 0,1 -> 3" starts the chain at level 2 instead of 0."""
    start_level: int
    nodes: list


def parse_module_spec(text: str, model: KAN) -> ModuleSpec:
    t = text.strip()
    start = 0
    m = re.match(r"^@\s*(\d+)\s*:(.*)$", t, re.S)
    if m:
        start, t = int(m.group(1)), m.group(2)
    groups = [g.strip() for g in t.split("->")]
    if len(groups) < 2 or any(not g for g in groups):
        raise ValueError(f"cannot read module {text!r}: write it like x1,x2->h0,h1")
    if start + len(groups) - 1 > model.depth:
        raise ValueError(f"module {text!r} needs {len(groups)} levels from level {start}, "
                         f"the network has {model.depth + 1}")
    nodes = []
    for k, g in enumerate(groups):
        lvl, idx = start + k, []
        named = model.input_names if lvl == 0 else (model.output_names if lvl == model.depth else [])
        for tok in (s.strip() for s in g.split(",")):
            mm = re.fullmatch(r"[hnxy]?(\d+)", tok)
            if tok in named:
                idx.append(list(named).index(tok))
            elif mm and not (lvl == 0 and tok.startswith("x")):
                idx.append(int(mm.group(1)))
            elif lvl == 0 and re.fullmatch(r"x(\d+)", tok):   # x1 = first input (1-based)
                idx.append(int(tok[1:]) - 1)
            else:
                raise ValueError(f"unknown node {tok!r} at level {lvl} in module {text!r}")
            if not 0 <= idx[-1] < model.n_nodes(lvl):
                raise ValueError(f"node {tok!r} out of range at level {lvl} ({model.n_nodes(lvl)} nodes)")
        nodes.append(sorted(set(idx)))
    return ModuleSpec(start, nodes)


def module_edges(model: KAN, spec: ModuleSpec) -> list[tuple[int, int, int]]:
    """Alive edges (layer, i, j) to mask: between consecutive module levels, edges
    from outside into the module and from the module to outside."""
    out = []
    for k in range(len(spec.nodes) - 1):
        l = spec.start_level + k
        src = set(spec.nodes[k])
        dst = set(spec.nodes[k + 1])
        owner = model.subnode_owner(l + 1)
        mask = model.layers[l].mask
        for i in range(model.n_nodes(l)):
            for j, o in enumerate(owner):
                if (i in src) != (o in dst) and float(mask[i, j]) > 0:
                    out.append((l, i, j))
    return out


def define_module(model: KAN, level_in_nodes: Sequence[int], hidden_nodes_by_level: Sequence[Sequence[int]],
                  start_level: int = 0) -> list[tuple[int, int, int]]:
    """Make the nodes a module, in place; returns the edges it masked (for undo)."""
    spec = ModuleSpec(start_level, [sorted(level_in_nodes)] + [sorted(g) for g in hidden_nodes_by_level])
    edges = module_edges(model, spec)
    for l, i, j in edges:
        model.layers[l].mask[i, j] = 0.0
    model.invalidate()
    return edges


# ---------------------------------------------------------------- auto-swap
def _edge_weights(model: KAN, x) -> list[np.ndarray]:
    """Node-to-node weights [n_nodes(l), n_nodes(l+1)] from the edge scores."""
    from .attribution import edge_scores
    out = []
    for l, e in enumerate(edge_scores(model, x)):
        owner = np.asarray(model.subnode_owner(l + 1))
        w = np.zeros((model.n_nodes(l), model.n_nodes(l + 1)))
        np.add.at(w.T, owner, np.asarray(e).T)
        out.append(w)
    return out


def auto_swap(model: KAN, x, max_sweeps: int = 20):
    """Reorder the nodes of each hidden level (sum nodes among sum nodes, mult
    nodes among mult nodes) to minimise the connection cost
    sum |pos_j - pos_i| * E_ij.  Returns (new model, perms) with perms[level][new] = old."""
    W = _edge_weights(model, x)
    order = [list(range(model.n_nodes(l))) for l in range(model.depth + 1)]

    def pos(level):
        p = np.empty(len(order[level]))
        p[order[level]] = (np.arange(len(order[level])) + 0.5) / len(order[level])
        return p

    def cost_near(level):
        c, p = 0.0, pos(level)
        if level > 0:
            c += float((W[level - 1] * np.abs(pos(level - 1)[:, None] - p[None, :])).sum())
        if level < model.depth:
            c += float((W[level] * np.abs(p[:, None] - pos(level + 1)[None, :])).sum())
        return c

    for _ in range(max_sweeps):
        improved = False
        for lvl in range(1, model.depth):
            n_sum = model.width[lvl][0]
            for a, b in itertools.combinations(range(model.n_nodes(lvl)), 2):
                if (a < n_sum) != (b < n_sum):
                    continue
                before = cost_near(lvl)
                order[lvl][a], order[lvl][b] = order[lvl][b], order[lvl][a]
                if cost_near(lvl) < before - 1e-12 * max(1.0, before):
                    improved = True
                else:
                    order[lvl][a], order[lvl][b] = order[lvl][b], order[lvl][a]
        if not improved:
            break
    from ..model import remap_model
    arity = [[model.mult_arity[l][o - model.width[l][0]] for o in order[l] if o >= model.width[l][0]]
             for l in range(model.depth + 1)]
    return remap_model(model, model.width, arity, order), order
