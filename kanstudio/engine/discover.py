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

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np

from .pareto import FormulaCandidate, pareto_front, pick as pick_candidate

__all__ = ["DiscoverConfig", "DiscoverResult", "StageTime", "discover", "discover_arrays"]

EXACT_REL = 1e-8     # a formula this close (relative to std(y)) is taken as exact


@dataclass
class DiscoverConfig:
    width: Optional[Sequence] = None     # fixed shape for the general stage (else tried automatically)
    lib: Optional[Sequence[str]] = None  # symbolic library (default: the whole built-in one)
    digits: int = 4                      # significant digits of printed constants
    budget_seconds: float = 60.0
    seed: int = 0
    grid: int = 5
    k: int = 3
    lamb: float = 1e-2                   # sparsity regularisation of the general stage
    steps: int = 30                      # LBFGS steps per training stage
    max_train_rows: int = 500            # rows used to train the networks
    max_polish_rows: int = 2000          # rows used to refit formula constants
    tolerance: float = 0.05              # pick: relative slack on the best error
    log_space: bool = True               # try log-space (power law / product) hypotheses
    weight_simple: float = 0.8
    edge_th: float = 1e-2                # edges scoring at or below this are pruned
    node_th: float = 1e-2
    snap: bool = True
    device: str = "cpu"


@dataclass
class StageTime:
    name: str
    seconds: float

    def as_dict(self) -> dict:
        return {"name": self.name, "seconds": round(float(self.seconds), 4)}


@dataclass
class DiscoverResult:
    formula: object                      # sympy.Expr or None
    latex: str
    sympy_str: str
    test_rmse: float                     # best network, target units, test rows
    formula_test_rmse: float
    complexity: int
    pareto: list                         # FormulaCandidate, simplest first (non-dominated)
    stages: list                         # StageTime
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

    def pick(self, tolerance: float = 0.05) -> Optional[FormulaCandidate]:
        return pick_candidate(self.candidates, tolerance, scale=self.y_std)

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
                "cancelled": self.cancelled}


class _Cancelled(Exception):
    pass


class _Clock:
    """Budget, cancellation, progress and per-stage timing in one place."""

    def __init__(self, budget, progress, cancel):
        self.t0 = time.perf_counter()
        self.deadline = self.t0 + float(budget)
        self.budget = float(budget)
        self.progress, self.user_cancel = progress, cancel
        self.stages: list[StageTime] = []
        self.cancelled = False

    def left(self) -> float:
        return self.deadline - time.perf_counter()

    def user_cancelled(self) -> bool:
        if self.user_cancel is None:
            return False
        c = self.user_cancel
        flag = c.is_set() if hasattr(c, "is_set") else bool(c())
        self.cancelled = self.cancelled or flag
        return flag

    def stop_training(self) -> bool:
        """Cancel flag for training loops: user cancel or budget spent."""
        return self.user_cancelled() or self.left() <= 0

    def check(self):
        if self.user_cancelled():
            raise _Cancelled

    def stage(self, name: str):
        clock = self

        class _S:
            def __enter__(self):
                clock.check()
                if clock.progress is not None:
                    clock.progress(name, min(1.0, (time.perf_counter() - clock.t0) / max(clock.budget, 1e-9)))
                self.t = time.perf_counter()
                return self

            def __exit__(self, *exc):
                clock.stages.append(StageTime(name, time.perf_counter() - self.t))
                return False
        return _S()


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
                           small_table=small)


def discover_arrays(X_train, y_train, X_test, y_test, input_names: Sequence[str], target_name: str = "y",
                    config: Optional[DiscoverConfig] = None,
                    progress: Optional[Callable[[str, float], None]] = None, cancel=None,
                    small_table: bool = False) -> DiscoverResult:
    """The pipeline on plain arrays (original units); see the module doc."""
    from . import discover_variants as V
    from .formula import input_symbols

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
        from . import fused
        if progress is not None:
            progress("preparing the training kernels", 0.0)
        fused.warm_up(("float64",))
    clock = _Clock(cfg.budget_seconds, progress, cancel)
    positive = list((X_train > 0).all(0) & (X_test > 0).all(0))
    syms = input_symbols(input_names, positive)
    ctx = V.Context(cfg, clock, X_train, y_train, X_test, y_test, syms, list(input_names))
    cancelled = False
    try:
        V.run_all(ctx)
    except _Cancelled:
        cancelled = True
    cancelled = cancelled or clock.cancelled
    return _result(ctx, cfg, clock, small_table, cancelled, list(input_names), target_name)


def _result(ctx, cfg, clock, small, cancelled, names, target) -> DiscoverResult:
    from .formula import complexity as cx
    y_std = float(np.std(ctx.y_train)) or 1.0
    chosen = pick_candidate(ctx.candidates, cfg.tolerance, scale=y_std)
    front = pareto_front(ctx.candidates)
    if chosen is None:
        res = DiscoverResult(None, "", "", ctx.best_net_rmse, math.inf, 0, front, clock.stages,
                             ctx.best_net, list(ctx.candidates), None, names, target, cancelled,
                             False, y_std)
        res.model_view = ctx.best_view.describe() if ctx.best_view is not None else None
        return res
    leave = None
    if small:
        with clock.stage("leave-out error"):
            leave = ctx.leave_out_rmse(chosen.formula)
    exact = min(chosen.test_rmse, chosen.unrounded_rmse) <= EXACT_REL * y_std
    res = DiscoverResult(chosen.formula, chosen.latex, chosen.sympy_str, ctx.best_net_rmse,
                         chosen.test_rmse, cx(chosen.formula), front, clock.stages,
                         chosen.model if chosen.model is not None else ctx.best_net,
                         list(ctx.candidates), leave, names, target, cancelled, exact, y_std)
    if chosen.model is not None:
        res.model_view = chosen.view
    elif ctx.best_view is not None:
        res.model_view = ctx.best_view.describe()
    return res
