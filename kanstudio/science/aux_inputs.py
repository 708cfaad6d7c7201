"""Auxiliary inputs: a new input column defined by an expression over the others.

KAN 2.0 lets the user add physically meaningful combinations (e.g. x*y, or
m*v^2) as extra inputs.  ``add_auxiliary_input`` returns a new Dataset with
the column (normalised like every other column, on the training rows) and a
new model with one more input node whose edges output exactly zero, so the
network computes the same function until it is retrained.  ``substitute_aux``
puts the expressions back into a formula so it reads in the original columns.

The expression must already be parsed safely by the caller
(``kanstudio.data.expressions.parse_expression``); nothing here parses text.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import sympy
import torch

from ..model import grid_from_samples, KAN, remap_model, silence_edges

__all__ = ["aux_values", "add_auxiliary_input", "substitute_aux"]


def aux_values(dataset, expr: sympy.Expr) -> np.ndarray:
    """Values of ``expr`` on every row of the dataset (raw units)."""
    from ..data import evaluate_expression
    columns = {str(n): dataset.X[:, k] for k, n in enumerate(dataset.input_names)}
    values = evaluate_expression(expr, columns)
    values = np.broadcast_to(np.asarray(values, dtype=np.float64), (dataset.n_rows,)).copy()
    return values


def add_auxiliary_input(model: KAN, dataset, name: str, expr: sympy.Expr):
    """(new_model, new_dataset) with input ``name`` = expr(columns).

    The new input's layer-0 edges start at exactly zero output (trainable);
    its knots follow the normalised training values of the new column."""
    name = str(name).strip()
    if not name:
        raise ValueError("an auxiliary input needs a name")
    if list(model.input_names) != list(dataset.input_names):
        raise ValueError("the model's inputs do not match the dataset's columns")
    values = aux_values(dataset, expr)
    if np.ptp(values[dataset.train_idx]) == 0:
        raise ValueError(f"'{name}' = {sympy.sstr(expr)} is constant on the training rows: it adds nothing")
    new_ds = dataset.with_column(name, values)
    old_pos = {n: k for k, n in enumerate(model.input_names)}
    maps = [[old_pos.get(n) for n in new_ds.input_names]] + \
           [list(range(model.n_nodes(l))) for l in range(1, model.depth + 1)]
    width = [list(w) for w in model.width]
    width[0][0] = len(new_ds.input_names)
    new = remap_model(model, width, model.mult_arity, maps)
    new.input_names = list(new_ds.input_names)
    pos = new_ds.input_names.index(name)
    layer = new.layers[0]
    silence_edges(layer, [pos], range(layer.out_dim))
    col = torch.as_tensor(new_ds.normalize_x(new_ds.X[new_ds.train_idx])[:, pos:pos + 1],
                          dtype=new.dtype, device=new.device)
    with torch.no_grad():
        grid = grid_from_samples(col, layer.num, layer.k)
        layer.grid[pos] = grid[0]
    layer.invalidate()
    new.invalidate()
    return new, new_ds


def substitute_aux(expr: sympy.Expr, aux: Mapping[str, sympy.Expr]) -> sympy.Expr:
    """Replace each auxiliary input's symbol by its expression.  Symbols are
    matched by name (the column name or its formula-safe form), and the
    expression's variables are renamed onto the formula's own symbols so that
    assumptions (real/positive) agree and terms can combine."""
    from ..symbolic import safe_name
    by_name = {s.name: s for s in expr.free_symbols}
    rep = {}
    for name, sub in aux.items():
        target = by_name.get(str(name)) or by_name.get(safe_name(name))
        if target is None:
            continue
        rename = {}
        for s in sub.free_symbols:
            own = by_name.get(s.name) or by_name.get(safe_name(s.name))
            if own is None:
                own = sympy.Symbol(safe_name(s.name), real=True)
            rename[s] = own
        rep[target] = sub.xreplace(rename)
    return expr.xreplace(rep) if rep else expr
