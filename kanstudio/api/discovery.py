"""``kanstudio.discover(df, target)``: the app's Discover in one call, and what
it returns (``Discovery``).

The search is ``discovery.discover`` (the same pipeline as the app's Discover
button and ``kanstudio-cli discover``); this module only turns a DataFrame or
array into the Dataset it takes and gives its result the shape a notebook
expects: a sympy formula, a status, a derivation, a Pareto table, exports.
"""
from __future__ import annotations

import dataclasses
import html
import math
import warnings
from typing import Callable, Mapping, Optional, Sequence

import numpy as np

from . import exports
from .tables import dataset_from

__all__ = ["Discovery", "discover"]


def discover(data, target=None, inputs: Optional[Sequence[str]] = None, units: Optional[Mapping[str, str]] = None,
             budget_seconds: float = 60.0, seed: int = 0, *, names: Optional[Sequence[str]] = None,
             test_fraction: float = 0.2, progress: Optional[Callable[[str, float], None]] = None,
             cancel=None, **settings) -> "Discovery":
    """Search for a formula of ``target`` in the other columns of ``data``.

    ``data``: a pandas DataFrame, or a 2-D NumPy array with ``names`` (one per
    column; default x1, x2, ..., y).  ``target``: a column name (default: the
    last numeric column).  ``inputs``: the columns to use (default: every other
    numeric column; text and id columns are left out with a note).
    ``units``: {column: pint unit}, also read from headers like 'v [m/s]'.
    ``settings``: any field of ``discovery.DiscoverConfig`` (``lamb``, ``lib``,
    ``engine``, ``device``, ...).  ``progress(stage, fraction)`` is called per
    stage; ``cancel`` (a callable or threading.Event) stops the search early,
    with the best result so far.
    """
    from ..discovery import DiscoverConfig, discover as run

    fields = {f.name for f in dataclasses.fields(DiscoverConfig)}
    unknown = sorted(set(settings) - fields)
    if unknown:
        raise TypeError(f"unknown discovery setting(s) {', '.join(unknown)}; the settings are "
                        f"{', '.join(sorted(fields - {'budget_seconds', 'seed'}))}")
    if not budget_seconds > 0:
        raise ValueError("budget_seconds must be positive")
    ds = dataset_from(data, target, inputs, names=names, units=units, test_fraction=test_fraction, seed=seed)
    cfg = DiscoverConfig(budget_seconds=float(budget_seconds), seed=int(seed), **settings)
    result = run(ds, cfg, progress=progress, cancel=cancel)
    return Discovery(result, ds)


class Discovery:
    """The outcome of ``discover``: the headline formula (or none), how far it
    can be trusted (``status``), how it was found (``derivation``), every
    candidate (``pareto``) and the formula in the forms a program takes."""

    def __init__(self, result, dataset):
        self.result, self.dataset = result, dataset
        self._network = None

    # ---------------------------------------------------------------- what was found
    @property
    def formula(self):
        """The headline formula (sympy, in the columns' names), or None when no law was found."""
        return self.result.chosen.formula if self.result.chosen is not None else None

    @property
    def closest(self):
        """The best readable formula, also when it is not a law (``status`` says which)."""
        shown = self.result.shown()
        return shown.formula if shown is not None else None

    @property
    def status(self) -> str:
        """'exact', 'approximate' or 'no law found'."""
        return self.result.status

    @property
    def status_reason(self) -> str:
        return self.result.status_reason

    @property
    def derivation(self) -> list:
        """The accepted steps that led to the headline (or closest) formula, as dicts."""
        shown = self.result.shown()
        return [s.as_dict() for s in (shown.derivation if shown is not None else ())]

    @property
    def notes(self) -> list:
        return list(self.dataset.notes) + list(self.result.notes)

    @property
    def inputs(self) -> list:
        return list(self.dataset.input_names)

    @property
    def target(self) -> str:
        return self.dataset.target_names[0]

    @property
    def unit(self) -> Optional[str]:
        """The target's unit (pint), when the units were known."""
        return self.result.unit

    @property
    def error(self) -> float:
        """RMSE of the shown formula on the rows it was judged on (``error_kind``)."""
        shown = self.result.shown()
        return float(shown.test_rmse) if shown is not None else math.inf

    @property
    def error_kind(self) -> str:
        return self.result.error_kind

    @property
    def pareto(self):
        """Every non-dominated candidate, simplest first: a DataFrame of formula,
        size, error, status and whether it is the headline."""
        import pandas as pd
        from ..discovery import EXACT_REL
        res = self.result
        exact_at = EXACT_REL * res.y_std
        rows = []
        for c in res.pareto:
            if c is res.chosen:
                status = res.status
            elif c.at_roundoff(exact_at):
                status = "exact"
            else:
                status = "candidate"
            rows.append({"formula": c.sympy_str, "size": int(c.complexity), "error": float(c.test_rmse),
                         "status": status, "headline": c is res.chosen, "latex": c.latex})
        return pd.DataFrame(rows, columns=["formula", "size", "error", "status", "headline", "latex"])

    # ---------------------------------------------------------------- using it
    def _expr(self, why: str):
        if self.formula is not None:
            return self.formula
        if self.closest is None:
            raise ValueError(f"no formula was found for {self.target}, so there is nothing to {why}")
        warnings.warn(f"no law was found for {self.target}: using the closest readable formula "
                      f"({self.closest}), which is not one", UserWarning, stacklevel=3)
        return self.closest

    def predict(self, X) -> np.ndarray:
        """The formula's values on rows X (array with the inputs' columns in order,
        or a DataFrame holding them by name)."""
        return exports.to_numpy(self._expr("predict with"), self.inputs)(X)

    def latex(self) -> str:
        return exports.to_latex(self._expr("write"))

    def to_sympy(self):
        return self._expr("export")

    def to_python(self, func_name: str = "formula") -> str:
        return exports.to_python(self._expr("export"), self.inputs, func_name)

    def to_numpy(self):
        return exports.to_numpy(self._expr("export"), self.inputs)

    def to_torch(self):
        return exports.to_torch(self._expr("export"), self.inputs)

    @property
    def network(self):
        """The KAN behind the result: the formula compiled to a network with its edges
        fixed to the formula's functions (editable and retrainable, as in the app),
        or, when no law was found, the best network the search fitted."""
        if self._network is None:
            expr = self.formula
            if expr is not None:
                from ..symbolic import compile_for_dataset
                self._network = compile_for_dataset(expr, self.dataset)
            else:
                self._network = self.result.model
        return self._network

    def project(self):
        """A project (the app's document) holding the data, the formula's network as
        one History entry, and the Pareto candidates."""
        from ..project import Project
        from ..project import CompileFormula
        p = Project(dataset=self.dataset)
        p.set_pareto(self.result.pareto)
        expr = self.formula
        if expr is not None:
            cmd = CompileFormula(str(expr), label=f"Discover ({self.status}): {expr}")
            cmd.begin(p)
            cmd.run()
            p.do(cmd)
        return p

    def save(self, path) -> str:
        """Write a .kanproj the app opens (data, network, Pareto list); the path written."""
        from ..project import save_project
        return str(save_project(self.project(), path, embed_data=True))

    # ---------------------------------------------------------------- display
    def __repr__(self):
        shown = self.closest
        head = f"{self.target} = {shown}" if shown is not None else f"{self.target}: no formula"
        return f"<Discovery {self.status}: {head} (error {self.error:.4g}, {self.error_kind})>"

    def _repr_latex_(self):
        shown = self.closest
        if shown is None:
            return None
        from ..symbolic import latex_symbol
        return f"$\\displaystyle {latex_symbol(self.target)} = {exports.to_latex(shown)}$"

    def _repr_html_(self):
        shown = self.closest
        formula = html.escape(f"{self.target} = {shown}" if shown is not None else "no readable formula")
        steps = "".join(f"<li>{html.escape(s['text'])}</li>" for s in self.derivation)
        rows = "".join(f"<tr><td>{r.size}</td><td>{r.error:.4g}</td><td>{html.escape(r.status)}</td>"
                       f"<td><code>{html.escape(r.formula)}</code></td></tr>" for r in self.pareto.itertuples())
        return (f"<div><b>{html.escape(self.status)}</b>: <code>{formula}</code>"
                f"<br><small>{html.escape(self.status_reason)}</small>"
                + (f"<ol>{steps}</ol>" if steps else "")
                + f"<table><tr><th>size</th><th>error</th><th>status</th><th>formula</th></tr>{rows}</table></div>")
