"""Symbolic-regression engines behind one small interface.

A ``SearchEngine`` takes rows (X, y) and returns candidate expressions in the
symbols ``x0 .. x{n-1}``, simplest first; what it searches with is its own
business.  Operon (pyoperon: C++, genetic programming with Levenberg-Marquardt
constant fitting and an NSGA-II front of error against length) is the one
used; another engine only needs ``name``, ``unavailable()`` and ``search()``.

The search runs in short slices of a few generations, each continuing the
last one's population (Operon's warm start), so a cancel or the budget is
noticed within a slice (well under a second on 500 rows).  After
``restart_generations`` a fresh population starts (another seed); the fronts
of all runs are pooled.  Slices have a fixed size and seed, so a given seed
and number of slices give the same candidates.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from typing import Callable, Optional, Protocol

import numpy as np
import sympy

__all__ = ["SearchEngine", "OperonEngine", "engine_symbols"]

# Operators a physical law is made of.  pow and the inverse trigonometric
# functions are left out: they enlarge the search far more than they help
# (x^a of a fitted a is written x*x, sqrt(x) or 1/x; asin is rare).
OPERATORS = "add,sub,mul,div,constant,variable,sin,cos,exp,log,sqrt,square"


def usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:          # pragma: no cover - macOS and Windows
        return max(1, os.cpu_count() or 1)


def engine_symbols(n: int) -> list:
    """The symbols an engine's expressions are written in."""
    return [sympy.Symbol(f"x{i}", real=True) for i in range(n)]


class SearchEngine(Protocol):
    name: str

    def unavailable(self) -> Optional[str]:
        """None when the engine can run here, else one line saying why not."""

    def search(self, X: np.ndarray, y: np.ndarray, seconds: float, seed: int,
               stop: Callable[[], bool]) -> list:
        """Candidate expressions in ``engine_symbols(X.shape[1])``, simplest first."""

    def start(self, X: np.ndarray, y: np.ndarray, seed: int):
        """A search to advance in slices: ``advance(seconds, stop)`` (True once
        over), ``expressions()`` (as ``search`` returns them) and ``exact`` (a
        formula at the engine's round-off was found)."""


class OperonEngine:
    name = "operon"

    def __init__(self, operators: str = OPERATORS, max_length: int = 40, population: int = 1000,
                 generations_per_slice: int = 2, restart_generations: int = 40,
                 threads: Optional[int] = None):
        self.operators = operators
        self.max_length = max_length
        # Operon's own default; on benchmarks/heldout_laws.HARD (20 s, 2 threads) a
        # population of 1000 put the law on the front for 9 of 16 laws, 500 for 5
        self.population = population
        self.generations_per_slice = generations_per_slice
        # a run that has not found the law in this many generations rarely does:
        # a fresh population (another seed) is the better use of the time
        self.restart_generations = restart_generations
        # every core the process may use: Operon's result does not depend on the
        # thread count (same seed, same front), only its speed does
        self.threads = threads or usable_cores()

    def unavailable(self) -> Optional[str]:
        try:
            import pyoperon.sklearn  # noqa: F401  (optional: a platform may have no wheel)
        except ImportError as exc:     # pragma: no cover - depends on the platform
            return f"pyoperon is not installed here ({exc}); searching with the KAN library only"
        return None

    def _regressor(self, seed: int):
        from pyoperon.sklearn import SymbolicRegressor
        return SymbolicRegressor(
            allowed_symbols=self.operators, max_length=self.max_length, max_depth=12,
            population_size=self.population, pool_size=self.population,
            generations=self.generations_per_slice, max_evaluations=10 ** 12,
            optimizer_iterations=10, objectives=["r2", "length"], n_threads=self.threads,
            random_state=seed, warm_start=True)

    def search(self, X, y, seconds, seed, stop) -> list:
        run = self.start(X, y, seed)
        run.advance(seconds, stop)
        return run.expressions()

    def start(self, X, y, seed) -> "OperonRun":
        """A search that can be advanced a few seconds at a time, keeping its
        population between calls (several targets can share the time)."""
        return OperonRun(self, X, y, seed)

    @staticmethod
    def expressions_of(reg, front, n: int) -> list:
        import pyoperon as op
        from ...data import parse_expression

        names = {h: f"x{i}" for i, h in enumerate(reg.variables_)}
        allowed = [f"x{i}" for i in range(n)]
        syms = {s.name: s for s in engine_symbols(n)}
        out = []
        for d in sorted(front, key=lambda d: (d["length"], d["mean_squared_error"])):
            if not math.isfinite(d["mean_squared_error"]):
                continue
            text = op.InfixFormatter.Format(d["tree"], names, 12)
            try:
                expr = parse_expression(text, allowed_names=allowed)
            except ValueError:
                continue       # an operator our parser does not take: leave the candidate out
            out.append(expr.xreplace({s: syms[s.name] for s in expr.free_symbols}))
        return out


class OperonRun:
    """One Operon search on one target, advanced in slices; its fronts (one per
    restart) are pooled.  ``advance`` returns True once the search is over (a
    formula at float32 round-off, or rows it cannot use)."""

    def __init__(self, engine: OperonEngine, X, y, seed: int):
        self.engine, self.seed = engine, int(seed)
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.y = np.ascontiguousarray(y, dtype=np.float32)   # Operon evaluates in float32
        self.done = not (np.isfinite(self.X).all() and np.isfinite(self.y).all()) or float(np.std(self.y)) == 0
        self.var = float(np.var(self.y.astype(np.float64)))
        self.per_run = max(1, engine.restart_generations // engine.generations_per_slice)
        self.run, self.k = 0, 0          # restart number, slice within it
        self.reg, self.front = None, []
        self.pooled: list = []           # expressions of finished restarts
        self.slices = 0                  # slices run so far (over all restarts)
        self.exact = False               # a formula at float32 round-off was found

    def _finish_restart(self):
        if self.front:
            self.pooled += self.engine.expressions_of(self.reg, self.front, self.X.shape[1])
        self.reg, self.front = None, []
        self.run, self.k = self.run + 1, 0

    def advance(self, seconds: float, stop: Callable[[], bool]) -> bool:
        if self.done:
            return True
        deadline = time.perf_counter() + float(seconds)
        ran = False
        while True:
            # the run's first slice always runs; later ones only within the time
            # given, and one slice per call at least, so short calls still progress
            if self.slices and stop():
                return False
            if ran and time.perf_counter() >= deadline:
                return False
            ran = True
            if self.reg is None:
                self.reg = self.engine._regressor(self.seed)
            self.reg.set_params(random_state=(self.seed * 1_000_003 + self.run) * 10_007 + self.k)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.reg.fit(self.X, self.y)
            self.front = self.reg.pareto_front_
            self.k += 1
            self.slices += 1
            # float32 round-off: nothing better is left to find on these rows
            if self.front and min(d["mean_squared_error"] for d in self.front) <= 1e-11 * self.var:
                self.done = self.exact = True
                return True
            if self.k >= self.per_run:
                self._finish_restart()

    def expressions(self) -> list:
        """Every distinct expression on the fronts so far, simplest first."""
        current = self.engine.expressions_of(self.reg, self.front, self.X.shape[1]) if self.front else []
        out, seen = [], set()
        for e in self.pooled + current:
            if e not in seen:
                seen.add(e)
                out.append(e)
        return sorted(out, key=lambda e: sympy.count_ops(e))
