"""The hypotheses the discovery pipeline tries, and what they share (Context).

Each hypothesis trains a KAN on a View of the data, makes it symbolic and
hands the resulting formula (original units, unrounded constants) to
``Context.add_structure``, which refits the constants, snaps them and scores
the candidates on the test rows.
"""
from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np
import sympy
import torch

from .discover_checks import probe_points, readable
from .discover_split import factorised, separable_split
from .discover_views import LOG_SHARE, View, reciprocal_ok, sign_definite
from .expr_eval import evaluate_numpy
from .formula import FormulaIncomplete, complexity, finish, network_expressions
from .network import KAN
from .pareto import FormulaCandidate
from .polish import parametrize, polish, refit_constants, snap_verified
from . import attribution, prune, symbolic
from .symbolic_fit import fit_functions
from .symbolic_lib import library_names, to_sympy
from .train import FitConfig, fit

__all__ = ["Context", "run_all"]

class Context:
    def __init__(self, cfg, clock, X_train, y_train, X_test, y_test, symbols, names):
        self.cfg, self.clock = cfg, clock
        self.X_train, self.y_train, self.X_test, self.y_test = X_train, y_train, X_test, y_test
        self.symbols, self.names = symbols, names
        self.n_in = X_train.shape[1]
        self.y_std = float(np.std(y_train)) or float(np.mean(np.abs(y_train))) or 1.0
        rng = np.random.default_rng(cfg.seed)
        n = len(X_train)
        self.kan_rows = np.sort(rng.permutation(n)[:cfg.max_train_rows])
        self.pol_rows = np.sort(rng.permutation(n)[:cfg.max_polish_rows])
        self.pol_data = {s: X_train[self.pol_rows, k] for k, s in enumerate(symbols)}
        self.pol_y = y_train[self.pol_rows]
        self.candidates: list[FormulaCandidate] = []
        self.best_net, self.best_net_rmse, self.best_view = None, math.inf, None
        self.general_done = False     # a flexible network has been trained (noise-floor estimate)
        self.flex_rmse = math.inf     # its test error
        self.deferred: list = []      # candidates to snap once flex_rmse is known
        self.depth = 0                # recursion depth of separability splits
        self.lib = list(cfg.lib) if cfg.lib else list(library_names())
        self.probe = probe_points(X_train, rng)
        med = float(np.median(y_train))
        self.probe_limit = (med, 10.0 * float(np.max(np.abs(y_train - med)) or 1.0))
        # tiny tables: fewer spline intervals, so a network cannot memorise the rows
        self.grid = int(min(cfg.grid, max(1, len(self.kan_rows) // 10)))

    # ------------------------------------------------------------ evaluation
    def rmse(self, expr, X, y) -> float:
        vals = {s: X[:, k] for k, s in enumerate(self.symbols)}
        try:
            pred = evaluate_numpy(expr, vals)
        except Exception:  # noqa: BLE001 - an expression we cannot evaluate scores as useless
            return math.inf
        err = np.broadcast_to(pred, y.shape) - y
        if not np.isfinite(err).all():
            return math.inf
        return float(np.sqrt(np.mean(err * err)))

    def exact_found(self) -> bool:
        return any(min(c.test_rmse, c.unrounded_rmse) <= 1e-8 * self.y_std for c in self.candidates)

    def accurate_found(self) -> bool:
        """Some readable formula is at least as good as a flexible unregularised
        network (the noise floor, as far as the data can tell).  A sprawling one
        that merely matches the network's own approximation error (noiseless data,
        wrong structure) is no reason to stop searching."""
        limit = 1.1 * self.flex_rmse
        return self.exact_found() or any(c.test_rmse <= limit and readable(c.formula, c.complexity)
                                         for c in self.candidates)

    # ------------------------------------------------------------ networks
    def rows_for(self, view: View) -> np.ndarray:
        """Training rows for networks on this view (a log target skips y of the wrong sign)."""
        return self.kan_rows[view.valid(self.y_train[self.kan_rows])]

    def train(self, model: KAN, view: View, lamb: float = 0.0, steps: Optional[int] = None,
              seed: int = 0, update_grid: bool = True):
        rows = self.rows_for(view)
        xs = view.x_tensor(self.X_train[rows], device=model.device)
        ys = view.y_tensor(self.y_train[rows], device=model.device)
        cfg = FitConfig(steps=steps or self.cfg.steps, lamb=lamb, seed=seed, update_grid=update_grid)
        fit(model, xs, ys, config=cfg, cancel=self.clock.stop_training)
        self.clock.check()
        return xs

    def note_network(self, model: KAN, view: View) -> float:
        with torch.no_grad():
            out = model(view.x_tensor(self.X_test, device=model.device)).cpu().numpy()
        pred = view.untransform(out)
        err = pred - self.y_test
        r = float(np.sqrt(np.mean(err * err))) if np.isfinite(err).all() else math.inf
        if r < self.best_net_rmse:
            self.best_net, self.best_net_rmse, self.best_view = model, r, view
        return r

    def predict(self, X) -> np.ndarray:
        """The best network so far as a function of the original inputs."""
        model, view = self.best_net, self.best_view
        with torch.no_grad():
            out = model(view.x_tensor(X, device=model.device)).cpu().numpy()
        return view.untransform(out)

    # ------------------------------------------------------------ formulas
    def add_structure(self, expr, stage: str, model=None, view=None, net_rmse: float = math.inf):
        """Refit constants, snap, score; adds up to two candidates."""
        if expr is None or expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            return
        digits = self.cfg.digits
        if self.clock.left() <= 0:
            return
        with self.clock.stage(f"{stage}: refit constants"):
            pol = polish(expr, self.pol_data, self.pol_y,
                         deadline=time.perf_counter() + max(1.0, min(8.0, self.clock.left())))
        if not math.isfinite(pol.rmse):
            return
        self._add(finish(pol.expr, digits, self.pol_data), stage + " (fitted)", (model, view), pol.expr)
        # snapping pays only for formulas that are near exact, or (noisy data) as good
        # as a flexible network; the latter is known only after the first general
        # stage, so until then such candidates wait in self.deferred
        if not self.cfg.snap:
            return
        floor = self.flex_rmse if self.general_done else 0.0
        if pol.rmse <= max(1e-3 * self.y_std, 1.2 * floor):
            self._snap(pol, stage, model, view)
        elif not self.general_done and pol.rmse <= 1.2 * net_rmse:
            self.deferred.append((pol, stage, model, view))

    def _snap(self, pol, stage, model, view):
        if self.clock.left() <= 0:
            return
        with self.clock.stage(f"{stage}: snap constants"):
            deadline = time.perf_counter() + max(0.5, min(3.0, self.clock.left()))
            sn = snap_verified(pol.expr, self.pol_data, self.pol_y, deadline=deadline)
        if math.isfinite(sn.rmse):
            self._add(finish(sn.expr, self.cfg.digits, self.pol_data), stage + " (snapped)",
                      (model, view), sn.expr)

    def flush_deferred(self):
        """Snap the waiting candidates that reach the noise floor (best first)."""
        todo = sorted(self.deferred, key=lambda t: t[0].rmse)
        self.deferred = []
        for pol, stage, model, view in todo:
            if pol.rmse <= 1.2 * self.flex_rmse and not self.exact_found():
                self._snap(pol, stage, model, view)

    def explodes(self, expr) -> bool:
        """Non-finite or far out of the data's range between the rows (a pole or a
        log of a negative number that the rows happen to miss)."""
        try:
            with np.errstate(all="ignore"):
                pred = evaluate_numpy(expr, {s: self.probe[:, k] for k, s in enumerate(self.symbols)})
        except Exception:  # noqa: BLE001
            return True
        pred = np.broadcast_to(np.asarray(pred, dtype=np.float64), (len(self.probe),))
        med, lim = self.probe_limit
        return not (np.isfinite(pred).all() and float(np.max(np.abs(pred - med))) <= lim)

    def _add(self, expr, stage, model_view, unrounded=None):
        te = self.rmse(expr, self.X_test, self.y_test)
        if not math.isfinite(te) or self.explodes(expr):
            return
        tr = self.rmse(expr, self.X_train[self.pol_rows], self.pol_y)
        raw = self.rmse(unrounded, self.X_test, self.y_test) if unrounded is not None else te
        model, view = model_view
        self.candidates.append(FormulaCandidate(expr, complexity(expr), te, tr, stage, model, raw,
                                                view.describe() if view is not None else None))

    def model_formula(self, model: KAN, view: View):
        try:
            out = network_expressions(model, view.input_exprs())[0]
        except FormulaIncomplete:
            return None
        return view.output_expr(out)

    def leave_out_rmse(self, expr, folds: int = 5) -> float:
        """k-fold error of the formula's structure: constants refitted without each fold."""
        n = len(self.X_train)
        folds = max(2, min(folds, n))
        order = np.random.default_rng(self.cfg.seed).permutation(n)
        template, params, p0 = parametrize(expr)
        sq = []
        for f in range(folds):
            hold = order[f::folds]
            keep = np.setdiff1d(order, hold)
            data = {s: self.X_train[keep, k] for k, s in enumerate(self.symbols)}
            p, _ = refit_constants(template, params, p0, data, self.y_train[keep], steps=40)
            fe = template.xreplace({s: sympy.Float(float(v)) for s, v in zip(params, p)})
            r = self.rmse(fe, self.X_train[hold], self.y_train[hold])
            sq.append(r * r * len(hold))
        return float(math.sqrt(sum(sq) / n))


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
        prune.prune_edges_below(model, xs, ctx.cfg.edge_th)
    if factors:
        with ctx.clock.stage(f"{label}: factor functions"):
            expr = _factor_formula(ctx, model, view, xs)
        ctx.add_structure(expr, label + " factors", model, view, net)
    with ctx.clock.stage(f"{label}: auto-symbolic"):
        sym = model.copy()
        symbolic.auto_symbolic(sym, xs, lib=ctx.lib, weight_simple=ctx.cfg.weight_simple)
    ctx.add_structure(ctx.model_formula(sym, view), label, sym, view, net)
    return net


def _factor_formula(ctx: Context, model: KAN, view: View, xs):
    """log|y| = sum_i phi_i(x_i)  ->  y = K * prod_i g_i(x_i), g_i = exp(phi_i) fitted
    by library functions of the original variable."""
    per = symbolic.edge_values(model, xs)[0][1]          # [B, n, 1]
    phi = per[:, :, 0].cpu().numpy() * view.y_scale
    X = ctx.X_train[ctx.rows_for(view)]
    factors = []
    for i in range(ctx.n_in):
        if float(model.layers[0].mask[i, 0]) == 0:
            continue
        g = np.exp(np.clip(phi[:, i] - phi[:, i].mean(), -50, 50))
        res = fit_functions(torch.as_tensor(X[:, i][None]), torch.as_tensor(g[None]), ctx.lib)
        best = res.candidates(0, ctx.cfg.weight_simple, 1)[0]
        factors.append(to_sympy(best.name, best.params, ctx.symbols[i]))
    if not factors:
        return None
    prod = sympy.Mul(*factors)
    vals = evaluate_numpy(prod, {s: X[:, k] for k, s in enumerate(ctx.symbols)})
    yk = ctx.y_train[ctx.rows_for(view)]
    denom = float(np.dot(vals, vals))
    if not np.isfinite(denom) or denom == 0:
        return None
    K = float(np.dot(vals, yk) / denom)       # least-squares overall scale
    return sympy.Float(K) * prod


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
            prune.prune_edges_below(sub, xs, ctx.cfg.edge_th)
        with ctx.clock.stage(f"{tag}: auto-symbolic"):
            symbolic.auto_symbolic(sub, xs, lib=ctx.lib, weight_simple=ctx.cfg.weight_simple)
        ctx.add_structure(ctx.model_formula(sub, view), tag, sub, view, net)
    if pending is not None and ctx.clock.left() > 0 and not ctx.exact_found():
        pending()


def _pruned_variants(ctx: Context, model: KAN, xs):
    """auto_prune by attribution, plus the networks cut to the 1 and 2 strongest hidden nodes."""
    out, seen = [], set()
    _, nodes = attribution.attribution(model, xs)
    if model.depth != 2:
        return [("pruned", prune.auto_prune(model, xs, ctx.cfg.node_th, ctx.cfg.edge_th))]
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
        out.append((name, prune.prune_nodes(model, levels, xs)))
    return out


def run_all(ctx: Context):
    views = _views(ctx)
    labels = {"raw": "general", "power": "general log-log", "product": "general log(y)",
              "inverse": "general 1/y"}
    shallow_rmse = {}

    def stop() -> bool:
        return ctx.clock.left() <= 0 or ctx.exact_found() or (ctx.general_done and ctx.accurate_found())

    if ctx.cfg.width is None:
        plan = [("power", "power law", False), ("product", "product", True), ("raw", "additive", False),
                ("inverse", "reciprocal", False)]
        for key, label, factors in plan:
            if key in views and not stop():
                shallow_rmse[key] = shallow(ctx, views[key], label, factors=factors)
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
        after = (lambda: (factorised(ctx), ctx.accurate_found() or separable_split(ctx))) if first else None
        general(ctx, views[key], labels[key], 0, after_first=after)
        first = False
    attempt = 1
    while ctx.clock.left() > 0.15 * ctx.cfg.budget_seconds and not ctx.accurate_found():
        general(ctx, views["raw"], f"general (retry {attempt})", attempt)
        attempt += 1
