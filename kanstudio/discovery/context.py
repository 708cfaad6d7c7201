"""What every stage of a discovery shares: the rows (training, polishing, test),
the best network so far, the candidate formulas and how they are scored."""
from __future__ import annotations

import math
import time
from typing import Optional

import numpy as np
import sympy
import torch

from ..symbolic import (complexity, evaluate_numpy, finish, FormulaIncomplete, network_expressions, parametrize,
                        polish, refit_constants, snap_verified)
from ..model import KAN, library_names
from ..training import FitConfig, fit
from .judgement import (far_below, floor_agrees, FormulaCandidate, HEADLINE_SIZE, noise_structure, probe_points,
                        readable, unstructured)
from .config import EXACT_REL
from .views import View

__all__ = ["Context", "ORACLE_REL"]

MAX_DIGITS = 16       # significant digits a printed constant may need (float64 round-off)
DEFERRED_SNAPS = 2    # candidates waiting for the noise floor that are snapped once it is known
ORACLE_REL = 1e-2     # a formula stands in for f (symmetry and separability tests) within this of std(y)
ROUNDOFF = 1e-6       # a printed constant this close to an integer (relative) may be that integer
NEAR_EXACT = 1e-6     # a fit this close (relative to std(y)) is snapped however large it prints
RESIDUAL_STEPS = 3    # times the usual LBFGS steps for a network on a formula's residuals (as the stand-ins)
RESIDUAL_SECONDS = 3.0      # at most this long for it ...
MIN_RESIDUAL_SECONDS = 0.5  # ... and not started with less time than this left


class Context:
    """``solver`` runs the whole search on a Context; sub-problems (``child``) are
    solved by the same one, so a split never needs to know what the search is."""

    def __init__(self, cfg, clock, X_train, y_train, X_test, y_test, symbols, names, solver=None,
                 engine=None):
        self.solver = solver
        self.trail: tuple = ()        # derivation steps that led to this (sub-)problem
        self.notes: list = []         # one-line notes for the user
        self.dims = None              # units.Dimensions: candidates must be consistent with them
        self.pi = None                # units.PiReduction of this problem, if the units give one
        self.target_unit = None       # the target's unit text, where known
        self.rejected_units = 0       # candidates dropped as dimensionally inconsistent
        self.peeled: set = set()      # candidates already peeled (peel.py)
        self.searches: dict = {}      # symbolic searches on y that can be resumed, by label
        self.engine = engine          # a SearchEngine, or None (KAN library only)
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
        self._noise: dict = {}        # id(candidate) -> its residuals look like noise (accurate_found)
        self._residual_floor: dict = {}   # formula text -> residual_floor
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

    # ------------------------------------------------------------ sub-problems
    def child(self, X_train, y_train, X_test, y_test, columns, budget: float, step=None,
              symbols=None, names=None) -> "Context":
        """A smaller problem on the inputs ``columns`` (or on new variables ``symbols``
        called ``names``), with a budget of its own; ``step`` (a derivation.Step)
        says how it was split off."""
        clock = type(self.clock)(budget, None, self.clock.user_cancel)
        if symbols is None:
            symbols, names = [self.symbols[k] for k in columns], [self.names[k] for k in columns]
        sub = Context(self.cfg, clock, X_train, y_train, X_test, y_test, list(symbols), list(names),
                      self.solver, self.engine)
        sub.depth = self.depth + 1
        sub.trail = self.trail + ((step,) if step is not None else ())
        return sub

    def solve(self, sub: "Context", label: str):
        """Run the search on a sub-problem; its stage times count under ``label``."""
        try:
            self.solver(sub)
        finally:
            self.clock.stages += [type(s)(f"{label}: {s.name}", s.seconds) for s in sub.clock.stages]

    # ------------------------------------------------------------ evaluation
    def rmse(self, expr, X, y) -> float:
        vals = {s: X[:, k] for k, s in enumerate(self.symbols)}
        try:
            pred = evaluate_numpy(expr, vals)
        except Exception:  # noqa: BLE001 - an expression we cannot evaluate scores as useless
            return math.inf
        with np.errstate(all="ignore"):     # a formula far off squares past float range: inf, no warning
            err = np.broadcast_to(pred, y.shape) - y
            if not np.isfinite(err).all():
                return math.inf
            return float(np.sqrt(np.mean(err * err)))

    def exact_found(self, any_size: bool = False) -> bool:
        """A readable formula exact to round-off: nothing left to search for (an exact
        but sprawling one leaves the search going for a smaller form, unless
        ``any_size``)."""
        return any((any_size or c.complexity <= HEADLINE_SIZE) and c.at_roundoff(EXACT_REL * self.y_std)
                   for c in self.candidates)

    def accurate_found(self) -> bool:
        """Some readable formula is at the noise floor, as the final judgement
        would call it (status.floor_agrees against the best network, or against a
        network on the formula's own residuals where it beats every network by far,
        and unstructured residuals): nothing left to search for.  A formula that
        merely matches a flexible network, or beats a poor one, with residuals
        that nearby rows predict (noiseless data, wrong structure) is no reason to
        stop searching; nor is a sprawling one."""
        if self.exact_found():
            return True
        net = min(self.flex_rmse, self.best_net_rmse)
        far_better = []
        for c in self.candidates:
            if not readable(c.formula, c.complexity):
                continue
            if floor_agrees(c.test_rmse, net) and self._noise_residuals(c):
                return True
            if far_below(c.test_rmse, net):
                far_better.append(c)
        # the best of them only: each check fits a network
        best = min(far_better, key=lambda c: c.test_rmse, default=None)
        return best is not None and self._noise_residuals(best) and floor_agrees(best.test_rmse,
                                                                                 self.residual_floor(best))

    def residual_floor(self, c, seconds: float = RESIDUAL_SECONDS) -> float:
        """Test error of candidate c plus an unregularised network fitted to its
        training residuals: the noise floor a flexible model shows when the
        stand-in networks alone are poorer than the formula (a steep law on noisy
        rows).  Residuals with a shape the formula missed are learned (the error
        drops); noise is not.  inf when there is no time for it; a fit cut short
        by the time errs high, i.e. against calling the formula exact."""
        key = c.sympy_str
        if key in self._residual_floor:
            return self._residual_floor[key]
        seconds = min(seconds, self.clock.left())
        if seconds < MIN_RESIDUAL_SECONDS:
            return math.inf
        r_train = self.residuals(c.formula, self.X_train, self.y_train)
        r_test = self.residuals(c.formula, self.X_test, self.y_test)
        if not (np.isfinite(r_train).all() and np.isfinite(r_test).all()):
            return math.inf
        with self.clock.stage(f"noise floor: a network on the residuals of {key[:40]}"):
            view = View("residuals", self.X_train, r_train, self.symbols, [False] * self.n_in, False)
            n, rows = self.n_in, self.kan_rows
            model = KAN([n, 2 * n + 1, 1], grid=self.grid, k=self.cfg.k, seed=self.cfg.seed, device=self.cfg.device)
            deadline = time.perf_counter() + seconds
            fit(model, view.x_tensor(self.X_train[rows], device=model.device),
                view.y_tensor(r_train[rows], device=model.device),
                config=FitConfig(steps=RESIDUAL_STEPS * self.cfg.steps, seed=self.cfg.seed,
                                 reg_metric=self.cfg.reg_metric),
                cancel=lambda: self.clock.stop_training() or time.perf_counter() > deadline)
            with torch.no_grad():
                out = model(view.x_tensor(self.X_test, device=model.device)).cpu().numpy()
            err = r_test - view.untransform(out)
            floor = float(np.sqrt(np.mean(err * err))) if np.isfinite(err).all() else math.inf
        self.clock.check()
        self._residual_floor[key] = floor
        return floor

    def _noise_residuals(self, c) -> bool:
        """The candidate's test residuals look like noise; too few rows to tell
        counts as noise (the search stops, as it did before the test existed)."""
        key = id(c)
        if key not in self._noise:
            s = noise_structure(self.X_test, self.residuals(c.formula, self.X_test, self.y_test), self.y_test)
            self._noise[key] = unstructured(s) or not math.isfinite(s)
        return self._noise[key]

    # ------------------------------------------------------------ networks
    def rows_for(self, view: View) -> np.ndarray:
        """Training rows for networks on this view (a log target skips y of the wrong sign)."""
        return self.kan_rows[view.valid(self.y_train[self.kan_rows])]

    def train(self, model: KAN, view: View, lamb: float = 0.0, steps: Optional[int] = None,
              seed: int = 0, update_grid: bool = True):
        rows = self.rows_for(view)
        xs = view.x_tensor(self.X_train[rows], device=model.device)
        ys = view.y_tensor(self.y_train[rows], device=model.device)
        cfg = FitConfig(steps=steps or self.cfg.steps, lamb=lamb, seed=seed, update_grid=update_grid,
                        reg_metric=self.cfg.reg_metric)
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

    def _oracle_formula(self):
        """The best candidate formula, when it stands in for f better than the best
        network: more accurate, and within ORACLE_REL of the target's spread."""
        good = [c for c in self.candidates if math.isfinite(c.test_rmse)]
        if not good:
            return None
        best = min(good, key=lambda c: c.test_rmse)
        if best.test_rmse < self.best_net_rmse and best.test_rmse <= ORACLE_REL * self.y_std:
            return best
        return None

    def oracle_rmse(self) -> float:
        """Test error of what ``predict`` evaluates."""
        f = self._oracle_formula()
        return f.test_rmse if f is not None else self.best_net_rmse

    def has_oracle(self) -> bool:
        return self.best_net is not None or self._oracle_formula() is not None

    def predict(self, X) -> np.ndarray:
        """The best model of the target so far (a network, or a formula that beats
        every network) as a function of the original inputs."""
        f = self._oracle_formula()
        if f is not None:
            with np.errstate(all="ignore"):
                v = evaluate_numpy(f.formula, {s: X[:, k] for k, s in enumerate(self.symbols)})
            return np.broadcast_to(np.asarray(v, dtype=np.float64), (len(X),)).copy()
        model, view = self.best_net, self.best_view
        with torch.no_grad():
            out = model(view.x_tensor(X, device=model.device)).cpu().numpy()
        return view.untransform(out)

    # ------------------------------------------------------------ formulas
    def add_structure(self, expr, stage: str, model=None, view=None, net_rmse: float = math.inf,
                      steps=(), derivation=None):
        """Refit constants, snap, score; adds up to two candidates.  Their derivation
        is ``derivation`` when given, else this problem's trail and then ``steps``."""
        steps = tuple(derivation) if derivation is not None else self.trail + tuple(steps)
        if expr is None or expr.has(sympy.zoo, sympy.nan, sympy.oo, -sympy.oo):
            return
        if self.clock.left() <= 0.2:
            return
        with self.clock.stage(f"{stage}: refit constants"):
            pol = polish(expr, self.pol_data, self.pol_y,
                         deadline=time.perf_counter() + max(0.2, min(8.0, self.clock.left())))
        if not math.isfinite(pol.rmse):
            return
        fitted = self._finished(pol.expr)
        self._add(fitted, stage + " (fitted)", (model, view), pol.expr, steps)
        # snapping pays only for formulas that are near exact, or (noisy data) as good
        # as a flexible network; the latter is known only after the first general
        # stage, so until then such candidates wait in self.deferred
        if not self.cfg.snap:
            return
        floor = self.flex_rmse if self.general_done else 0.0
        if complexity(fitted) > HEADLINE_SIZE and pol.rmse > NEAR_EXACT * self.y_std:
            # snapping costs seconds, and a sprawling formula is never the law anyway;
            # unless it fits to round-off: then the sprawl is redundancy that snapping
            # folds away (0.96*x/(0.96 - 0.96*x**2), cos(0.036*x) - 0.9993*x**2)
            return
        if pol.rmse <= max(1e-3 * self.y_std, 1.2 * floor):
            self._snap(pol, stage, model, view, steps)
        elif not self.general_done and pol.rmse <= 1.2 * net_rmse:
            self.deferred.append((pol, stage, model, view, steps))

    def _snap(self, pol, stage, model, view, steps=()):
        if self.clock.left() <= 0.3:
            return
        with self.clock.stage(f"{stage}: snap constants"):
            deadline = time.perf_counter() + min(3.0, self.clock.left())
            sn = snap_verified(pol.expr, self.pol_data, self.pol_y, deadline=deadline)
        if math.isfinite(sn.rmse):
            self._add(self._finished(sn.expr), stage + " (snapped)",
                      (model, view), sn.expr, steps)

    def _finished(self, expr):
        """The formula as printed: constants to ``cfg.digits`` significant digits,
        or to as many more as keep the accuracy the fit has.  Four digits of a
        coefficient inside exp(-120.279*Ea/T) (about 17 there) move y by 1e-3,
        and snap it to 1323/11: the printed formula is what the status vouches for."""
        rows = self.X_train[self.pol_rows]
        limit = max(1.1 * self.rmse(expr, rows, self.pol_y), EXACT_REL * self.y_std)
        expr = self._roundoff_tidied(expr, rows, limit)
        # the digits are chosen on the formula as rounded, and sympy's rewrites
        # (up to a second a formula) run once, on the rounding chosen: run for
        # every number of digits tried they took a sixth of a discovery's budget
        out = expr
        for digits in range(self.cfg.digits, MAX_DIGITS + 1, 2):
            out = finish(expr, digits, self.pol_data, simplify=False)
            if self.rmse(out, rows, self.pol_y) <= limit:
                break
        tidied = finish(out, digits, self.pol_data)
        return tidied if self.rmse(tidied, rows, self.pol_y) <= limit else out

    def _roundoff_tidied(self, expr, rows, limit):
        """Constants a round-off away from an integer (0.9999999996, 2.9e-10) taken as
        that integer, one at a time, while the formula stays within ``limit`` on the
        rows: an exact fit's last digits are the optimiser's noise, not the law's."""
        floats = sorted(expr.atoms(sympy.Float), key=lambda f: abs(float(f) - round(float(f))))
        for f in floats:
            v = float(f)
            if abs(v - round(v)) > ROUNDOFF * max(1.0, abs(v)):
                break
            trial = expr.xreplace({f: sympy.Integer(round(v))})
            if self.rmse(trial, rows, self.pol_y) <= limit:
                expr = trial
        return expr

    def flush_deferred(self):
        """Snap the waiting candidates that reach the noise floor (best first)."""
        # snapping costs up to seconds a formula: the few best only
        todo = sorted(self.deferred, key=lambda t: t[0].rmse)[:DEFERRED_SNAPS]
        self.deferred = []
        for pol, stage, model, view, steps in todo:
            if pol.rmse <= 1.2 * self.flex_rmse and not self.exact_found():
                self._snap(pol, stage, model, view, steps)

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

    def _add(self, expr, stage, model_view, unrounded=None, steps=()):
        if self.dims is not None and not self.dims.consistent(expr):
            self.rejected_units += 1
            return
        te = self.rmse(expr, self.X_test, self.y_test)
        if not math.isfinite(te) or self.explodes(expr):
            return
        tr = self.rmse(expr, self.X_train[self.pol_rows], self.pol_y)
        raw = self.rmse(unrounded, self.X_test, self.y_test) if unrounded is not None else te
        model, view = model_view
        self.candidates.append(FormulaCandidate(expr, complexity(expr), te, tr, stage, model, raw,
                                                view.describe() if view is not None else None,
                                                tuple(steps), self._max_rel(unrounded if unrounded is not None
                                                                            else expr)))

    def _max_rel(self, expr) -> float:
        """Largest |error| / |y| over the test rows with y != 0."""
        r = self.residuals(expr, self.X_test, self.y_test)
        nz = self.y_test != 0
        if not nz.any():
            return math.nan
        with np.errstate(all="ignore"):
            v = np.abs(r[nz] / self.y_test[nz])
        return float(v.max()) if np.isfinite(v).all() else math.inf

    def model_formula(self, model: KAN, view: View):
        try:
            out = network_expressions(model, view.input_exprs())[0]
        except FormulaIncomplete:
            return None
        return view.output_expr(out)

    def leave_out_rmse(self, expr, folds: int = 5, X=None, y=None) -> float:
        """k-fold error of the formula's structure: constants refitted without each
        fold (on the training rows, or on X, y)."""
        X = self.X_train if X is None else X
        y = self.y_train if y is None else y
        n = len(X)
        folds = max(2, min(folds, n))
        order = np.random.default_rng(self.cfg.seed).permutation(n)
        template, params, p0 = parametrize(expr)
        sq = []
        for f in range(folds):
            hold = order[f::folds]
            keep = np.setdiff1d(order, hold)
            data = {s: X[keep, k] for k, s in enumerate(self.symbols)}
            p, _ = refit_constants(template, params, p0, data, y[keep], steps=40)
            fe = template.xreplace({s: sympy.Float(float(v)) for s, v in zip(params, p)})
            r = self.rmse(fe, X[hold], y[hold])
            sq.append(r * r * len(hold))
        return float(math.sqrt(sum(sq) / n))

    def residuals(self, expr, X, y) -> np.ndarray:
        """y - expr(X); NaN where the formula cannot be evaluated."""
        try:
            with np.errstate(all="ignore"):
                pred = evaluate_numpy(expr, {s: X[:, k] for k, s in enumerate(self.symbols)})
        except Exception:  # noqa: BLE001 - an expression we cannot evaluate has no residuals
            return np.full(len(y), np.nan)
        return y - np.broadcast_to(pred, y.shape)
