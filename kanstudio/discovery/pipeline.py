"""Headless formula discovery: fit -> prune -> refit -> auto-symbolic ->
constant refit and snapping -> formula, with a Pareto list of candidates.

The pipeline tries cheap, structured hypotheses before the general one, all
with KANs on standardised data (see discover_variants / discover_views):

1. power law: log|y| as a sum of functions of log(x) for the positive columns
   (a monomial C*prod x^p is linear there);
2. product: log|y| as a sum of functions of x, whose edges are also read as the
   factors of y = K*prod g_i(x_i);
3. additive: y as a sum of functions of x;
4. reciprocal: 1/y as a sum of functions of log(x) (positive data only);
5. general: a [n, 2n+1, 1] KAN trained with sparsity regularisation (lambda),
   pruned by attribution and cut to its 1 and 2 strongest hidden nodes, each
   refitted and made symbolic -- in the coordinates where the additive model of
   steps 1-4 came closest first, then the others; right after the first one a
   "factorised" hypothesis reads y = K*prod g_i(x_i) off the best network along
   each variable (products of factors of any sign), and separability splits
   (discover_split) take off the inputs that factor out of y, or add to y or to
   1/y, and solve the rest as a smaller problem on the network's values;
6. retries of the general stage with other seeds / shapes while the budget
   lasts and no readable formula is as accurate as a flexible unregularised
   network.

Every formula has its constants refitted on the training rows in original
units (Levenberg-Marquardt) and snapped to 0, integers, simple rationals and
multiples of pi when the data cannot tell the difference; candidates are
scored on the test rows.  The search stops early on a formula exact to
round-off.  ``DiscoverResult.pick(tol)`` returns the simplest candidate within
``tol`` (relative) of the best error.  Small tables (< 50 rows) train on all
rows and report a k-fold "leave-out" error of the chosen formula's structure.

The GUI runs this in a worker thread: ``progress(stage, fraction)`` is called
at the start of every stage and ``cancel()`` (a callable or threading.Event)
is polled between stages and inside training.
"""
from __future__ import annotations

import dataclasses
import math
import time

from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import sympy

from .judgement import aliased, EXACT, judge, NO_LAW, noise_structure
from .clock import Cancelled, Clock, StageTime
from .config import EXACT_REL, DiscoverConfig
from .derivation import as_json
from .judgement import FormulaCandidate, pareto_front, pick as pick_candidate
from .rescale import rescaling, unscale_result

__all__ = ["DiscoverConfig", "DiscoverResult", "StageTime", "discover", "discover_arrays"]

KFOLD_ROWS = 200      # tables smaller than this are judged on k-fold errors
MIN_ROWS = 6          # fewer rows cannot test any formula with constants
ROWS_PER_CONSTANT = 3  # a formula needs this many rows per fitted constant to be judged at all
JUDGE_SECONDS = 4.0   # the k-fold judgement's share, kept out of the search's budget
LAST_STAGE_SECONDS = 2.0   # kept for the last stage's overrun (one started with seconds left: a network
                           # on a formula's residuals, a factor's reading) and the judgement of the test rows

@dataclass
class DiscoverResult:
    formula: object                      # sympy.Expr or None
    latex: str
    sympy_str: str
    test_rmse: float                     # best network, target units, test rows
    formula_test_rmse: float
    complexity: int
    pareto: list                         # FormulaCandidate, simplest first (non-dominated)
    stages: list = field(default_factory=list)   # StageTime
    model: object = None                 # the KAN behind the formula (or the best network)
    candidates: list = field(default_factory=list)
    leave_out_rmse: Optional[float] = None   # small tables: k-fold error of the formula
    input_names: list = field(default_factory=list)
    target_name: str = "y"
    cancelled: bool = False
    exact: bool = False                  # error at round-off level on the test rows
    y_std: float = 1.0
    model_view: Optional[dict] = None    # coordinates of ``model`` (View.describe(): which
                                         # columns are logged, standardisation constants)
    status: str = NO_LAW                 # status.EXACT / APPROXIMATE / NO_LAW
    status_reason: str = ""
    derivation: tuple = ()               # derivation.Step of the headline formula
    closest: Optional[FormulaCandidate] = None   # best readable formula when no law was found
    chosen: Optional[FormulaCandidate] = None    # the headline candidate (one of ``pareto``)
    error_kind: str = "test rows"        # what the candidates' errors were judged on ("k-fold")
    notes: list = field(default_factory=list)   # things the user should know (one line each)
    unit: Optional[str] = None           # the target's unit (pint), when known

    def pick(self, tolerance: float = 0.05) -> Optional[FormulaCandidate]:
        return pick_candidate(self.candidates, tolerance, scale=self.y_std)

    def shown(self) -> Optional[FormulaCandidate]:
        """The candidate to show: the headline, or the closest readable formula when
        no law was found."""
        return self.chosen if self.chosen is not None else self.closest

    def to_dict(self) -> dict:
        def f(v):
            return float(v) if v is not None and math.isfinite(v) else None
        return {"formula": self.sympy_str, "latex": self.latex, "test_rmse": f(self.test_rmse),
                "formula_test_rmse": f(self.formula_test_rmse), "complexity": int(self.complexity),
                "leave_out_rmse": f(self.leave_out_rmse) if self.leave_out_rmse is not None else None,
                "target": self.target_name, "inputs": list(self.input_names),
                "pareto": [{"formula": c.sympy_str, "complexity": int(c.complexity),
                            "test_rmse": f(c.test_rmse)} for c in self.pareto],
                "stages": [s.as_dict() for s in self.stages],
                "cancelled": self.cancelled,
                "status": self.status, "status_reason": self.status_reason,
                "derivation": as_json(self.derivation),
                "closest_formula": self.closest.sympy_str if self.closest is not None else None,
                "error_kind": self.error_kind, "notes": list(self.notes), "unit": self.unit}


def discover(dataset, config: Optional[DiscoverConfig] = None,
             progress: Optional[Callable[[str, float], None]] = None,
             cancel=None) -> DiscoverResult:
    """Discover a formula for the dataset's (first) target from its inputs."""
    X = np.asarray(dataset.X, dtype=np.float64)
    Y = np.asarray(dataset.Y, dtype=np.float64)
    y = Y[:, 0] if Y.ndim == 2 else Y
    n = len(X)
    if n == 0:
        raise ValueError("the table has no rows")
    if n < MIN_ROWS:
        from ..data import DataError
        raise DataError(f"discovery needs at least {MIN_ROWS} rows, the table has {n}: a formula's constants "
                        f"fitted to fewer rows say nothing about the law")
    small = bool(getattr(dataset, "small_table", False)) or n < 50
    if small:
        tr = te = np.arange(n)
    else:
        tr = np.asarray(dataset.train_idx, dtype=int)
        te = np.asarray(dataset.test_idx, dtype=int)
        if len(te) == 0:
            te = tr
    names = list(dataset.input_names)
    target = list(getattr(dataset, "target_names", ["y"]))[0]
    return discover_arrays(X[tr], y[tr], X[te], y[te], names, target, config, progress, cancel,
                           small_table=small, units=dict(getattr(dataset, "units", {}) or {}))


def discover_arrays(X_train, y_train, X_test, y_test, input_names: Sequence[str], target_name: str = "y",
                    config: Optional[DiscoverConfig] = None,
                    progress: Optional[Callable[[str, float], None]] = None, cancel=None,
                    small_table: bool = False, units: Optional[dict] = None) -> DiscoverResult:
    """The pipeline on plain arrays (original units); see the module doc.  ``units``
    maps column names (inputs and target) to pint unit strings, where known."""
    from . import hypotheses as V
    from .context import Context
    from ..symbolic import input_symbols, renamed_columns

    cfg = config or DiscoverConfig()
    X_train = np.asarray(X_train, dtype=np.float64).reshape(len(X_train), -1)
    X_test = np.asarray(X_test, dtype=np.float64).reshape(len(X_test), -1)
    y_train = np.asarray(y_train, dtype=np.float64).reshape(-1)
    y_test = np.asarray(y_test, dtype=np.float64).reshape(-1)
    if X_train.shape[1] != len(input_names):
        raise ValueError(f"{len(input_names)} input names for {X_train.shape[1]} input columns")
    if len(X_train) == 0:
        raise ValueError("no training rows")
    if not (np.isfinite(X_train).all() and np.isfinite(y_train).all()):
        raise ValueError("the data contains NaN or infinite values")
    if cfg.device == "cpu":
        # the compiled kernels' first build (once per install) is not search
        # time: inside the budget it would make a first run find less than later ones
        from ..training import warm_up
        if progress is not None:
            progress("preparing the training kernels", 0.0)
        warm_up(("float64",))
    # columns in extreme units are searched in units near 1 (rescale.py)
    scaling = rescaling(np.vstack([X_train, X_test]), np.concatenate([y_train, y_test]))
    if scaling.active:
        X_train, y_train = scaling.apply(X_train, y_train)
        X_test, y_test = scaling.apply(X_test, y_test)
    # the final judgement needs a few seconds of the budget
    clock = Clock(max(0.5 * cfg.budget_seconds, cfg.budget_seconds - _judge_reserve(len(X_train) + len(X_test))),
                  progress, cancel)
    positive = list((X_train > 0).all(0) & (X_test > 0).all(0))
    syms = input_symbols(input_names, positive)
    engine, why = _engine(cfg)
    ctx = Context(cfg, clock, X_train, y_train, X_test, y_test, syms, list(input_names), V.run_all, engine)
    if why:
        ctx.notes.append(why)
    renamed = renamed_columns(input_names)
    if renamed:
        ctx.notes.append("in the formulas, " + ", ".join(f"'{c}' is {s}" for c, s in renamed.items()))
    units = {k: v for k, v in (units or {}).items() if v}
    if units:
        _use_units(ctx, units, list(input_names), target_name)
    cancelled = False
    try:
        # thousands of candidate formulas are evaluated, many far off: their
        # overflows score as inf, and must not print numpy warnings at the user
        with np.errstate(all="ignore"):
            V.run_all(ctx)
    except Cancelled:
        cancelled = True
    cancelled = cancelled or clock.cancelled
    with np.errstate(all="ignore"):
        res = _result(ctx, cfg, clock, small_table, cancelled, list(input_names), target_name)
    if scaling.active:
        res = unscale_result(res, scaling, syms, list(input_names), cfg.digits)
        if res.formula is not None:
            res.model, res.model_view = _compiled(res.formula, list(input_names))
    return res


def _use_units(ctx, units: dict, names: list, target: str):
    """Candidates must be dimensionally consistent; with every unit known, the
    problem is also tried in its dimensionless groups."""
    from .units import Dimensions, pi_reduction
    by_name = dict(zip(names, ctx.symbols))
    ctx.dims = Dimensions(units, by_name, units.get(target))
    ctx.pi = pi_reduction(units, names, ctx.symbols, target, units.get(target))
    ctx.target_unit = units.get(target)


def _judge_reserve(rows: int) -> float:
    return JUDGE_SECONDS + 0.5 if rows < KFOLD_ROWS else LAST_STAGE_SECONDS


def _engine(cfg):
    """The symbolic-search engine, or None: with none installed, discovery says so
    once and searches with the KAN library alone."""
    if cfg.engine == "none":
        return None, None
    from .search import OperonEngine
    if cfg.engine != "operon":
        raise ValueError(f"unknown symbolic-search engine {cfg.engine!r} (known: operon, none)")
    engine = OperonEngine(threads=cfg.threads)
    why = engine.unavailable()
    return (None, why) if why is not None else (engine, None)


def _rows(ctx):
    """All distinct rows the search saw (training and test), for the final judgement."""
    if ctx.X_test is ctx.X_train or (len(ctx.X_test) == len(ctx.X_train)
                                     and np.array_equal(ctx.X_test, ctx.X_train)):
        return ctx.X_train, ctx.y_train
    return np.vstack([ctx.X_train, ctx.X_test]), np.concatenate([ctx.y_train, ctx.y_test])


def _judge(ctx, front, small, y_std, kfold: bool = True):
    """status.judge on the front; tables under KFOLD_ROWS rows are judged on k-fold
    errors (constants refitted without each fold) instead of a few test rows."""
    X_all, y_all = _rows(ctx)
    kfold = kfold and len(X_all) < KFOLD_ROWS
    if kfold:
        deadline = time.perf_counter() + JUDGE_SECONDS
        scored = []
        for c in front:
            if time.perf_counter() > deadline:
                break
            scored.append(dataclasses.replace(c, test_rmse=ctx.leave_out_rmse(c.formula, X=X_all, y=y_all)))
        front = pareto_front(scored)
    if kfold or small:
        network = math.inf          # no honest held-out error of the network here
    else:
        network = ctx.best_net_rmse
    X_te, y_te = (X_all, y_all) if kfold else (ctx.X_test, ctx.y_test)

    def structure(c):
        return noise_structure(X_te, ctx.residuals(c.formula, X_te, y_te), y_te)
    # predicting the training mean, on the rows the candidates are judged on
    baseline = float(np.sqrt(np.mean((y_te - np.mean(ctx.y_train)) ** 2)))
    if kfold:
        baseline *= math.sqrt(len(y_te) / max(1, len(y_te) - 1))
    # a network on a formula's residuals, as the search fitted it for its early stop
    # (residual_floor); one is fitted here only while the search's budget lasts
    refloor = None if kfold or small else (lambda c: ctx.residual_floor(c))
    verdict = judge(front, EXACT_REL * y_std, network, structure, small_table=kfold or small, baseline=baseline,
                    refloor=refloor)
    return verdict, ("k-fold" if kfold else "test rows")


def _result(ctx, cfg, clock, small, cancelled, names, target) -> DiscoverResult:
    from ..symbolic import complexity as cx
    y_std = float(np.std(ctx.y_train)) or 1.0
    front = pareto_front(ctx.candidates, floor=EXACT_REL * y_std)
    n_rows = len(_rows(ctx)[1])
    supported = [c for c in front if fitted_constants(c.formula) * ROWS_PER_CONSTANT <= n_rows]
    if len(supported) < len(front):
        ctx.notes.append(f"formulas with more than {n_rows // ROWS_PER_CONSTANT} fitted constants were left out: "
                         f"{n_rows} rows cannot support them")
        front = supported
    X_all = _rows(ctx)[0]
    resolved = [c for c in front if not aliased(c.formula, ctx.symbols, X_all)]
    if len(resolved) < len(front):
        ctx.notes.append(f"{len(front) - len(resolved)} formula(s) with a sine or cosine faster than the rows "
                         f"sample it were left out: between the rows such a term is noise")
        front = resolved
    if cancelled:       # answer at once: no k-fold refits
        verdict, error_kind = _judge(ctx, front, small, y_std, kfold=False)
    else:
        with clock.stage("judge the formulas"):
            verdict, error_kind = _judge(ctx, front, small, y_std)
    # the candidates as found (errors on the test rows, objects of the front), not k-fold copies
    chosen, closest = (next((c for c in front if c.formula == v.formula), v) if v is not None else None
                       for v in (verdict.chosen, verdict.closest))
    common = dict(stages=clock.stages, candidates=list(ctx.candidates), input_names=names, target_name=target,
                  cancelled=cancelled, y_std=y_std, status=verdict.status, status_reason=verdict.reason,
                  closest=closest, chosen=chosen, error_kind=error_kind, notes=_notes(ctx),
                  unit=getattr(ctx, "target_unit", None))
    if chosen is None:
        res = DiscoverResult(None, "", "", ctx.best_net_rmse, math.inf, 0, front, model=ctx.best_net, **common)
        res.model_view = ctx.best_view.describe() if ctx.best_view is not None else None
        return res
    leave = None
    if small:
        with clock.stage("leave-out error"):
            leave = ctx.leave_out_rmse(chosen.formula)
    exact = verdict.status == EXACT
    res = DiscoverResult(chosen.formula, chosen.latex, chosen.sympy_str, ctx.best_net_rmse,
                         chosen.test_rmse, cx(chosen.formula), front,
                         model=chosen.model if chosen.model is not None else ctx.best_net,
                         leave_out_rmse=leave, exact=exact, derivation=tuple(chosen.derivation), **common)
    if chosen.model is not None:
        res.model_view = chosen.view
    else:
        # a formula found by the symbolic engine: kanpiled, so it is a network one can edit
        res.model, res.model_view = _compiled(chosen.formula, names)
        if res.model is None:
            res.model = ctx.best_net
            res.model_view = ctx.best_view.describe() if ctx.best_view is not None else None
    return res


def fitted_constants(expr) -> int:
    """Constants a formula's fit chose (its floating-point numbers; exact integers,
    fractions and pi were snapped to and are not counted)."""
    return len(expr.atoms(sympy.Float)) if expr is not None else 0


def _notes(ctx) -> list:
    notes = list(ctx.notes)
    if ctx.rejected_units:
        notes.append(f"{ctx.rejected_units} candidate formula(s) rejected: their units do not add up")
    return notes


def _compiled(expr, names):
    """(KAN computing expr on the raw columns, its View-style description) or (None, None)."""
    from ..symbolic import compile_formula
    try:
        model = compile_formula(expr, names)
    except (ValueError, TypeError, NotImplementedError):
        return None, None
    n = len(names)
    return model, {"name": "formula", "log_inputs": [False] * n, "log_target": False, "inv_target": False,
                   "sign": 1, "x_mean": [0.0] * n, "x_scale": [1.0] * n, "y_mean": 0.0, "y_scale": 1.0}
