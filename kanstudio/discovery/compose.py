"""Compositionality: y = g(h(x)), with h read off a one-node bottleneck.

A [n, 1, 1] KAN has a single hidden node, h = sum_i phi_i(x_i) (in the view's
coordinates: x, or log x for positive columns), and y = g(h) on the one edge
out of it.  When such a narrow network predicts the target on rows it was not
fitted to about as well as a wide [n, 2n+1, 1] network, and clearly better
than with g a straight line (which is the additive model's business), the
problem splits in two smaller ones:

* h, a function of all the inputs that is a sum of one-variable functions,
  solved by the same search on the node's values;
* g, a function of one variable, read by the library and the symbolic engine
  on the real rows, with h's formula evaluated there.

The composed formula g(h(x)) has all its constants refitted on the real rows
like any other candidate, so the network only has to get the structure right.
Laws of this shape: sqrt(1 + p^2 + q^2), exp(-(x^2 + y^2)/2),
asin(n sin(theta)) (log view: log n + log sin(theta)), m0/sqrt(1 - v^2/c^2)
once m0 has split off.
"""
from __future__ import annotations

import math

import numpy as np
import sympy
import torch

from ..science import attribution_scores, prune_nodes
from ..symbolic import evaluate_numpy
from ..model import KAN
from .derivation import Step
from .judgement import pareto_front
from .views import View

__all__ = ["compose", "bottleneck_values"]

NEAR_WIDE = 1.5       # the bottleneck's held-out error at most this times a wide network's ...
EXPLAINED = 0.1       # ... and at most this share of std(y)
NONLINEAR = 2.0       # g must beat a straight line in h by this factor in error
SHARE = 0.25          # of the time left, for the sub-problem h
MAX_SECONDS = 12.0
SUB_CANDIDATES = 2    # formulas of h tried
OUTER = 3             # readings of g tried per formula of h


def bottleneck_values(model: KAN, view: View, X: np.ndarray) -> np.ndarray:
    """The hidden node's value h on rows X (original units)."""
    with torch.no_grad():
        model.forward(view.x_tensor(X, device=model.device), cache=True)
        h = model.cache.nodes[1][:, 0].cpu().numpy().astype(np.float64)
    model.cache = None
    return h


def _views(ctx) -> list:
    pos = [bool((ctx.X_train[:, k] > 0).all() and (ctx.X_test[:, k] > 0).all()) for k in range(ctx.n_in)]
    out = [View("raw", ctx.X_train, ctx.y_train, ctx.symbols, [False] * ctx.n_in, False)]
    if any(pos):
        out.append(View("log inputs", ctx.X_train, ctx.y_train, ctx.symbols, pos, False))
    return out


def _bottleneck(ctx, view: View, seed: int):
    """(a [n, 1, 1] network, the held-out error of the [n, 2n+1, 1] one it came
    from).  Trained from scratch, one hidden node often stalls far from the
    data; the strongest node of a sparse wide network (attribution), refitted
    alone, starts where the data put it.  The wide network is the yardstick: a
    bottleneck that is about as good loses nothing by the narrowing."""
    n = ctx.n_in
    wide = KAN([n, 2 * n + 1, 1], grid=ctx.grid, k=ctx.cfg.k, seed=seed, device=ctx.cfg.device)
    wide.set_names(ctx.names)
    xs = ctx.train(wide, view, lamb=ctx.cfg.lamb, seed=seed)
    wide_err = ctx.note_network(wide, view)
    _, nodes = attribution_scores(wide, xs)
    top = int(np.argmax(nodes[1]))
    model = prune_nodes(wide, [list(range(n)), [top], [0]], xs)
    ctx.train(model, view, seed=seed)
    return model, wide_err


def _line_error(h: np.ndarray, y: np.ndarray) -> float:
    A = np.column_stack([h, np.ones_like(h)])
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    r = A @ coef - y
    return float(np.sqrt(np.mean(r * r)))


def compose(ctx, additive_error: float = math.inf) -> None:
    """Test y = g(h(x)) on a [n, 1, 1] network; on success solve h and read g.
    ``additive_error``: the best held-out error of the additive [n, 1] models (in
    any view: y, log y, 1/y); where one is as good as the bottleneck, g is what
    that view undoes (exp, 1/y) and the composition adds nothing."""
    from .split import factor_options
    if ctx.n_in < 2 or ctx.depth >= 2 or ctx.clock.left() <= 4.0 or not ctx.has_oracle():
        return
    if any(s.kind == "compositionality" for s in ctx.trail):
        return                      # h of a composition is a sum already: no second bottleneck
    best = None
    for k, view in enumerate(_views(ctx)):
        with ctx.clock.stage(f"composition: fit [{ctx.n_in}, 1, 1] ({view.name})"):
            model, wide = _bottleneck(ctx, view, ctx.cfg.seed + k)
            err = ctx.note_network(model, view)
        if best is None or err < best[0]:
            best = (err, wide, model, view)
        if ctx.clock.left() <= 3.0:
            return
    err, wide, model, view = best
    if not err <= min(EXPLAINED * ctx.y_std, NEAR_WIDE * max(wide, 1e-6 * ctx.y_std)):
        return                      # held-out rows say: not one function of one sum
    if additive_error <= NEAR_WIDE * err:
        return                      # an additive model in some view does as well
    h_tr, h_te = (bottleneck_values(model, view, X) for X in (ctx.X_train, ctx.X_test))
    if not (np.isfinite(h_tr).all() and np.isfinite(h_te).all()) or float(np.std(h_tr)) == 0:
        return
    line = _line_error(h_te, ctx.y_test)
    if line <= NONLINEAR * err:
        return                      # g is a straight line: an additive law, found elsewhere
    step = Step("compositionality", f"y = g(h) with h a sum of one-variable functions of "
                                    f"{', '.join(ctx.names)} ({view.coordinates()}): a one-node "
                                    f"bottleneck network predicts held-out rows to {err:.3g} "
                                    f"(a straight-line g: {line:.3g})", tuple(ctx.names), error=err,
                details={"view": view.name})
    budget = min(MAX_SECONDS, SHARE * ctx.clock.left())
    sub = ctx.child(ctx.X_train, h_tr, ctx.X_test, h_te, list(range(ctx.n_in)), budget, step)
    ctx.solve(sub, "composition: h")
    inner = sorted((c for c in pareto_front(sub.candidates) if math.isfinite(c.test_rmse)),
                   key=lambda c: c.test_rmse)[:SUB_CANDIDATES]
    rows = ctx.kan_rows
    u = sympy.Symbol("h", real=True)
    for c in inner:
        if ctx.clock.left() <= 2.0 or ctx.exact_found():
            return
        with np.errstate(all="ignore"):
            hv = np.broadcast_to(evaluate_numpy(c.formula, {s: ctx.X_train[rows, k]
                                                            for k, s in enumerate(ctx.symbols)}),
                                 (len(rows),)).astype(np.float64)
        if not np.isfinite(hv).all() or float(np.std(hv)) == 0:
            continue
        with ctx.clock.stage("composition: read g"):
            outer = factor_options(ctx, hv, ctx.y_train[rows], u, seconds=min(3.0, 0.2 * ctx.clock.left()))
        for g in outer[:OUTER]:
            expr = g.xreplace({u: c.formula})
            ctx.add_structure(expr, "composition", net_rmse=err,
                              derivation=tuple(c.derivation) + (Step("outer function",
                                                                     f"y = {g} with h = {c.sympy_str}",
                                                                     tuple(ctx.names), piece=str(expr)),))
            if ctx.exact_found():
                return
