"""The hypotheses the discovery pipeline tries, and what they share (Context).

Each hypothesis trains a KAN on a View of the data, makes it symbolic and
hands the resulting formula (original units, unrounded constants) to
``Context.add_structure``, which refits the constants, snaps them and scores
the candidates on the test rows.
"""
from __future__ import annotations

import math

import numpy as np
import sympy

from ..science import attribution_scores, auto_prune, prune_edges_below, prune_nodes
from ..symbolic import auto_symbolic, edge_values, evaluate_numpy
from ..model import KAN
from .context import Context
from .derivation import Step
from .compose import compose
from .dimensional import dimensionless_groups
from .peel import peel, SECONDS as PEEL_SECONDS, SHARE as PEEL_SHARE
from .relevance import without_irrelevant
from .symmetry import reduce_by_symmetry
from .split import choose_factors, factor_options, factorised, separable_split
from .search import monomial_search, symbolic_search
from .views import LOG_SHARE, View, reciprocal_ok, sign_definite

__all__ = ["run_all"]

# ---------------------------------------------------------------- hypotheses
def _views(ctx: Context):
    """(name, View) pairs worth trying, cheapest/most specific first."""
    pos_x = [bool((ctx.X_train[:, k] > 0).all() and (ctx.X_test[:, k] > 0).all())
             for k in range(ctx.n_in)]
    y_sign = sign_definite(ctx.y_train, LOG_SHARE)
    raw = View("raw", ctx.X_train, ctx.y_train, ctx.symbols, [False] * ctx.n_in, False)
    out = {"raw": raw}
    if ctx.cfg.log_space and y_sign != 0:
        if any(pos_x):
            out["power"] = View("power law", ctx.X_train, ctx.y_train, ctx.symbols, pos_x, True)
        out["product"] = View("product", ctx.X_train, ctx.y_train, ctx.symbols, [False] * ctx.n_in, True)
    if ctx.cfg.log_space and any(pos_x) and reciprocal_ok(ctx.y_train):
        # 1/y as functions of log(x): sums of reciprocals and of monomials there
        # (1/(1/a + 1/b), 1/(1/d1 + n/d2), Y/(2(1+s)) = 1/(2/Y + 2s/Y), ...)
        out["inverse"] = View("inverse", ctx.X_train, ctx.y_train, ctx.symbols, pos_x, False, inv_target=True)
    return out


def shallow(ctx: Context, view: View, label: str, factors: bool = False, seed: int = 0):
    """[n, 1]: a sum of one-variable functions (in the view's coordinates)."""
    with ctx.clock.stage(f"{label}: fit [{ctx.n_in}, 1]"):
        model = KAN([ctx.n_in, 1], grid=ctx.grid, k=ctx.cfg.k, seed=ctx.cfg.seed + seed,
                    device=ctx.cfg.device)
        model.set_names(ctx.names)
        # [n, 1] networks converge quickly: two thirds of the usual steps
        xs = ctx.train(model, view, steps=max(10, 2 * ctx.cfg.steps // 3), seed=ctx.cfg.seed + seed)
        net = ctx.note_network(model, view)
        prune_edges_below(model, xs, ctx.cfg.edge_th)
    names = tuple(ctx.names)
    fitted = Step("additive model", f"fitted {view.coordinates()} as a sum of one-variable functions "
                                    f"(a [{ctx.n_in}, 1] KAN; test RMSE {net:.3g} in y)", names, error=net)
    if factors and ctx.clock.left() > 2.0:
        with ctx.clock.stage(f"{label}: factor functions"):
            expr = _factor_formula(ctx, model, view, xs)
        ctx.add_structure(expr, label + " factors", model, view, net,
                          steps=(fitted, Step("factors", "read y as K * a product of one-variable factors, "
                                                         "each fitted by the library or the symbolic engine",
                                              names)))
    if ctx.clock.left() <= 1.0:      # auto-symbolic takes ~0.1-0.3 s an edge: not started late
        return net
    with ctx.clock.stage(f"{label}: auto-symbolic"):
        sym = model.copy()
        auto_symbolic(sym, xs, lib=ctx.lib, weight_simple=ctx.cfg.weight_simple)
    ctx.add_structure(ctx.model_formula(sym, view), label, sym, view, net,
                      steps=(fitted, Step("auto-symbolic", "fixed each edge to its best library function",
                                          names)))
    return net


def _factor_formula(ctx: Context, model: KAN, view: View, xs):
    """log|y| = sum_i phi_i(x_i)  ->  y = K * prod_i g_i(x_i), g_i = exp(phi_i) read
    as a function of the original variable (library, power or symbolic engine)."""
    per = edge_values(model, xs)[0][1]          # [B, n, 1]
    phi = per[:, :, 0].cpu().numpy() * view.y_scale
    X = ctx.X_train[ctx.rows_for(view)]
    options = []
    live = [i for i in range(ctx.n_in) if float(model.layers[0].mask[i, 0]) != 0]
    seconds = min(3.0, 0.3 * ctx.clock.left() / max(1, len(live)))     # engine time per factor
    for i in live:
        g = np.exp(np.clip(phi[:, i] - phi[:, i].mean(), -50, 50))
        options.append(factor_options(ctx, X[:, i], g, ctx.symbols[i], seconds=seconds))
    if not options:
        return None
    yk = ctx.y_train[ctx.rows_for(view)]

    def combine(parts):
        prod = sympy.Mul(*parts)
        vals = np.broadcast_to(evaluate_numpy(prod, {s: X[:, k] for k, s in enumerate(ctx.symbols)}), yk.shape)
        denom = float(np.dot(vals, vals))
        if not np.isfinite(denom) or denom == 0:
            return None
        return sympy.Float(float(np.dot(vals, yk) / denom)) * prod      # least-squares overall scale
    return combine(choose_factors(ctx, options, combine))


ORACLE_STEPS = 3     # times the usual LBFGS steps for the stand-in networks (accuracy, not sparsity)


def oracle(ctx: Context, views: dict):
    """Networks accurate enough to stand in for the unknown f in the symmetry and
    separability tests, fitted before those tests rather than after the sparse
    searches: unregularised [n, 2n+1, 1] KANs on y and, where the data allow, on
    log|y| against log(x) (products and powers are sums there).  The best one is
    also the noise-floor estimate (a flexible network as accurate as the data let it be)."""
    if ctx.general_done:
        return
    n = ctx.n_in
    for key in ("raw", "power" if "power" in views else "product"):
        if key not in views or ctx.clock.left() <= 1.0:
            continue
        with ctx.clock.stage(f"stand-in network: fit [{n}, {2 * n + 1}, 1] ({views[key].name})"):
            model = KAN([n, 2 * n + 1, 1], grid=ctx.grid, k=ctx.cfg.k, seed=ctx.cfg.seed, device=ctx.cfg.device)
            model.set_names(ctx.names)
            ctx.train(model, views[key], steps=ORACLE_STEPS * ctx.cfg.steps, seed=ctx.cfg.seed)
            ctx.flex_rmse = min(ctx.flex_rmse, ctx.note_network(model, views[key]))
    ctx.general_done = True
    ctx.flush_deferred()


def _width_general(ctx: Context, attempt: int):
    n = ctx.n_in
    if ctx.cfg.width is not None:
        return ctx.cfg.width
    shapes = [[n, 2 * n + 1, 1], [n, n + 2, 1], [n, [n + 1, 1], 1], [n, 2 * n + 1, 1]]
    if n == 1:
        shapes = [[1, 3, 1], [1, 2, 1], [1, 4, 1], [1, 3, 1]]
    return shapes[attempt % len(shapes)]


def general(ctx: Context, view: View, label: str, attempt: int = 0, after_first=None):
    """Sparse [n, 2n+1, 1] fit, pruned three ways, refitted, made symbolic."""
    width = _width_general(ctx, attempt)
    seed = ctx.cfg.seed + attempt
    with ctx.clock.stage(f"{label}: fit {width} with lambda={ctx.cfg.lamb:g}"):
        model = KAN(width, grid=ctx.grid, k=ctx.cfg.k, seed=seed, device=ctx.cfg.device)
        model.set_names(ctx.names)
        xs = ctx.train(model, view, lamb=ctx.cfg.lamb, seed=seed)
        ctx.note_network(model, view)
    if not ctx.general_done:
        with ctx.clock.stage(f"{label}: fit {width} without lambda (noise floor)"):
            ref = model.copy()
            ctx.train(ref, view, steps=max(8, ctx.cfg.steps // 3), seed=seed)
            ctx.flex_rmse = min(ctx.flex_rmse, ctx.note_network(ref, view))
        ctx.general_done = True
        ctx.flush_deferred()
    if ctx.accurate_found():
        return      # a formula already matches the flexible network: nothing left to gain
    with ctx.clock.stage(f"{label}: prune"):
        subs = _pruned_variants(ctx, model, xs)
    pending = after_first
    for k, (name, sub) in enumerate(subs):
        if ctx.clock.left() <= 0 or ctx.exact_found():
            return
        if k == 1 and pending is not None:
            pending, run = None, pending
            run()
            if ctx.clock.left() <= 0 or ctx.exact_found():
                return
        tag = f"{label} {name}"
        with ctx.clock.stage(f"{tag}: refit {sub.width}"):
            ctx.train(sub, view, seed=seed)
            net = ctx.note_network(sub, view)
            prune_edges_below(sub, xs, ctx.cfg.edge_th)
        if ctx.clock.left() <= 1.0:
            return
        with ctx.clock.stage(f"{tag}: auto-symbolic"):
            auto_symbolic(sub, xs, lib=ctx.lib, weight_simple=ctx.cfg.weight_simple)
        steps = (Step("KAN", f"fitted {view.coordinates()} with a {width} KAN (lambda {ctx.cfg.lamb:g}), "
                             f"pruned ({name}) to {sub.width}; test RMSE {net:.3g} in y", tuple(ctx.names),
                      error=net),
                 Step("auto-symbolic", "fixed each edge to its best library function", tuple(ctx.names)))
        ctx.add_structure(ctx.model_formula(sub, view), tag, sub, view, net, steps=steps)
    if pending is not None and ctx.clock.left() > 0 and not ctx.exact_found():
        pending()


def _pruned_variants(ctx: Context, model: KAN, xs):
    """auto_prune by attribution, plus the networks cut to the 1 and 2 strongest hidden nodes."""
    out, seen = [], set()
    _, nodes = attribution_scores(model, xs)
    if model.depth != 2:
        return [("pruned", auto_prune(model, xs, ctx.cfg.node_th, ctx.cfg.edge_th))]
    hidden = nodes[1]
    order = [int(i) for i in np.argsort(-hidden)]
    auto = sorted(int(i) for i in np.nonzero(hidden > ctx.cfg.node_th)[0]) or order[:1]
    keep_sets = [("top-1", order[:1]), ("top-2", sorted(order[:2])), ("pruned", auto)]
    for name, keep in keep_sets:
        key = tuple(sorted(keep))
        if key in seen or len(keep) > min(len(hidden), 3):
            continue
        seen.add(key)
        levels = [list(range(model.n_nodes(0))), list(key), list(range(model.n_nodes(2)))]
        out.append((name, prune_nodes(model, levels, xs)))
    return out


def run_all(ctx: Context):
    views = _views(ctx)
    labels = {"raw": "general", "power": "general log-log", "product": "general log(y)",
              "inverse": "general 1/y"}
    shallow_rmse = {}

    # a formula at the noise floor ends the search only once the engine has searched the
    # whole problem: on noisy data many formulas reach the floor (a cubic through a
    # drug's concentration curve), and the stand-in networks are now fitted first.  So
    # does an exact formula of more than HEADLINE_SIZE nodes: the engine has had its
    # turn at a smaller form, and a law can be that large (a 30-node Hamiltonian found
    # in the first seconds had kept the search going to the budget)
    searched = [ctx.depth > 0]

    def stop() -> bool:
        return ctx.clock.left() <= 0 or ctx.exact_found() or (
            searched[0] and ctx.general_done and (ctx.exact_found(any_size=True) or ctx.accurate_found()))

    # units first: a problem in fewer dimensionless groups is a smaller problem
    dimensionless_groups(ctx)
    if stop():
        return
    # an input the target does not depend on only enlarges every later search: the
    # problem without it is solved instead (on the real rows)
    if ctx.n_in >= 2:
        oracle(ctx, views)
        if not stop() and without_irrelevant(ctx):
            return

    def search():
        # a short sum of monomials (in y or a transform of it) is a linear fit, found
        # in a second or two; then a symbolic-regression engine on the whole
        # (sub-)problem, in a share of the time (it stops early on a formula exact
        # to round-off)
        monomial_search(ctx)
        if stop():
            return
        share = ctx.cfg.search_share if ctx.depth == 0 else ctx.cfg.sub_search_share
        symbolic_search(ctx, share * ctx.clock.left())
        searched[0] = True
        peel(ctx)

    def decompose():
        # as AI Feynman does: a problem split by a separability or a symmetry is
        # smaller for every later search.  Symmetries first, as there: the problem
        # a symmetry leaves is solved on the real rows (one input fewer, nothing
        # read off a network), and its own decomposition still tests separability
        if not stop() and ctx.n_in >= 2:
            oracle(ctx, views)
        if not stop():
            reduce_by_symmetry(ctx)
        if not stop():
            separable_split(ctx)
        if not stop() and ctx.depth == 0:
            # the pieces of a split were read off a network, the rest solved on its
            # values: what the split assembled is peeled on the data at once, with
            # more time than a later round (a piece on the data is a smaller, exact
            # problem, the best lead there is at this point)
            peel(ctx, seconds=2 * PEEL_SECONDS, share=2 * PEEL_SHARE)

    # The whole problem is searched first, as it stands: many laws are found there
    # in seconds, and the decomposition then has the rest.  A sub-problem came out
    # of a decomposition; testing it for another one first costs a second or two
    # and leaves its search a smaller problem.
    for part in ((search, decompose) if ctx.depth == 0 else (decompose, search)):
        if stop():
            return
        part()
    # the whole problem's search goes on where it paused, now that the
    # sub-problems have had their time
    if ctx.depth == 0 and not stop():
        if symbolic_search(ctx, ctx.cfg.resume_share * ctx.clock.left(), resume=True) and not stop():
            peel(ctx)
    # a law short in y^2, 1/y, 1/y^2 or log|y| rather than in y: the engine
    # again, racing those targets
    if not stop():
        if symbolic_search(ctx, ctx.cfg.transform_share * ctx.clock.left(), "symbolic search on transforms of y",
                           transforms=True) and not stop():
            peel(ctx)
    if ctx.cfg.width is None:
        plan = [("power", "power law", True), ("product", "product", True), ("raw", "additive", False),
                ("inverse", "reciprocal", False)]
        for key, label, factors in plan:
            if key in views and not stop():
                shallow_rmse[key] = shallow(ctx, views[key], label, factors=factors)
        if not stop():
            peel(ctx)
        if not stop():
            compose(ctx, min(shallow_rmse.values(), default=math.inf))
    # general networks, most promising coordinates first: those in which the
    # additive [n, 1] model came closest (log(y) over log(x) for Boltzmann-like
    # factors C*prod(x^a)*exp(-prod(x^b)), raw for compositions of sums, ...)
    order = sorted(views, key=lambda k: (shallow_rmse.get(k, math.inf), k != "raw"))
    if ctx.cfg.width is not None:
        order = ["raw"]
    first = True
    for key in order:
        if stop():
            return
        # (symmetry and separability were tested on the stand-in networks above)
        after = (lambda: factorised(ctx)) if first else None
        general(ctx, views[key], labels[key], 0, after_first=after)
        first = False
    attempt = 1
    while ctx.clock.left() > 0.15 * ctx.cfg.budget_seconds and not ctx.accurate_found():
        general(ctx, views["raw"], f"general (retry {attempt})", attempt)
        attempt += 1
