"""The whole-model actions (``ModelJobs``, a part of ``Jobs``): fit and retrain
with live curves and drawing, auto-prune, auto-symbolic, node pruning, grid
refinement, Discover, and the Pareto list of candidate formulas.

Each is a project command: ``begin`` in the UI thread, the heavy part in the
worker, then an instant push on the undo stack when the result comes back.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QTimer

from ..panels import ParetoRow
from .worker_jobs import candidate_job, command_job, discover_job, training_job

__all__ = ["ModelJobs"]


class ModelJobs:
    """Owns the Pareto list's state (``pareto_choice``, the candidates' sympy
    forms, Discover's verdict); reads the model revision, the selected edge and
    the helpers (``_begin``, ``_push``, ``_fail``, ``_quiet_fail``, ``_x``,
    ``aux``) of the ``Jobs`` it belongs to."""

    # what Jobs answers for (the window's actions and panels call these)
    ACTIONS = ("fit", "retrain", "auto_prune", "auto_symbolic", "prune_nodes", "refine", "discover",
               "open_formula", "use_pareto", "choose_pareto")

    def __init__(self, jobs):
        self.jobs = jobs
        self.w, self.doc, self.runner = jobs.w, jobs.doc, jobs.runner
        self.pareto_choice: Optional[int] = None
        self._pareto_exprs: list = []       # sympy forms of this session's Discover candidates
        self._verdict = None
        self.last_auto_symbolic = None

    def forget_pareto(self):
        self.pareto_choice = None
        self._pareto_exprs = []

    def _sync_settings(self) -> bool:
        err = self.w.training_panel.validate()
        if err:
            self.w.show_error("Check the training settings", err)
            return False
        self.doc.set_settings(self.w.training_panel.settings())
        return True

    def fit(self):
        from ...project import FitModel
        if self.runner.busy or not self.doc.has_data or not self._sync_settings():
            return
        self._train(FitModel(), "Fit")

    def retrain(self):
        from ...project import Retrain
        if self.runner.busy or not self.doc.has_model or not self._sync_settings():
            return
        self._train(Retrain(), "Retrain")

    def _train(self, cmd, title: str):
        if not self.jobs._begin(cmd, f"Cannot start {title.lower()}"):
            return
        loss = self.w.training_panel.loss
        loss.begin_run(title, int(self.w.training_panel.settings()["steps"]))
        view = self.w.network_view

        def show_picture(pic):
            view.set_picture(pic)
            if self.jobs.selected is not None:
                self.jobs.request_detail(*self.jobs.selected)

        def partial(p):
            loss.add_snapshots(p.snaps)
            if p.picture is None:
                return
            if view.needs_rebuild(p.picture):
                # a new scene in its own event-loop turn: the loss plot's repaint
                # and the rebuild together would stall the UI past 50 ms
                QTimer.singleShot(0, lambda pic=p.picture: show_picture(pic))
            else:
                show_picture(p.picture)

        def done(pending):
            loss.add_snapshots(pending)
            res = getattr(cmd, "result", None) or {}
            reason = res.get("reason", "completed")
            final = loss.last_snapshot()
            loss.end_run(final, "" if reason == "completed" else reason.split(":")[0])
            if reason == "cancelled" and not res.get("steps"):
                self.w.show_status(f"{title} stopped before the first step; the model is unchanged.", 8000)
                return
            if self.jobs._push(cmd, f"{title} failed") is not None:
                msg = f"{title} finished" if reason == "completed" else f"{title}: {reason}"
                rm = res.get("test_rmse")
                ds = self.doc.dataset
                # a table too small to split has no test rows: its error is a training error
                what = ds.error_name if ds is not None else "training RMSE (no held-out rows)"
                self.w.show_status(msg + (f" \u2014 {what} {rm:.4g} (normalised)" if rm is not None else ""), 10000)

        def failed(message, details):
            loss.end_run(None, "failed")
            self.w.show_error(f"{title} failed", message, details)

        self.runner.submit(title, training_job(cmd, self.jobs._x(), checkpoint=self.doc.training_checkpoint()),
                           keep_on_cancel=True, on_partial=partial,
                           on_done=done, on_error=failed)

    def _computed(self, cmd, title: str, text: str, after=None):
        if self.runner.busy or not self.doc.has_model or not self.jobs._begin(cmd, f"Cannot run {title.lower()}"):
            return

        def done(c):
            if self.jobs._push(c, f"{title} failed") is not None:
                self.w.show_status(c.label, 8000)
                if after:
                    after(c)
        self.runner.submit(title, command_job(cmd, text), on_done=done, on_error=self.jobs._fail(f"{title} failed"))

    def auto_prune(self):
        from ...project import AutoPrune
        self._computed(AutoPrune(), "Prune", "Pruning weak nodes and edges\u2026")

    def auto_symbolic(self):
        from ...project import AutoSymbolic

        def after(c):
            self.last_auto_symbolic = c
            found = sum(1 for f in c.fixed or () if not _library_name(f["name"]))
            parts = [c.label]
            if found:
                parts.append(f"{found} edge(s) fixed to a formula the symbolic engine found")
            if c.skipped:
                parts.append(f"{len(c.skipped)} edge(s) left numeric: no library function or "
                             f"engine formula fits them")
            if c.engine_note:
                parts.append(c.engine_note)
            if len(parts) > 1:
                self.w.show_status("; ".join(parts), 10000)
        self._computed(AutoSymbolic(), "Auto-symbolic", "Fitting library functions to every edge\u2026", after)

    def prune_nodes(self, nodes: list):
        """Remove hidden nodes, one undoable command each; the highest index of a
        level goes first so the others keep their numbers."""
        from ...project import PruneNode
        todo = sorted({(int(l), int(n)) for l, n in nodes}, key=lambda t: (t[0], -t[1]))

        def step(rest):
            if not rest or self.doc.model is None:
                return
            (level, node), rest = rest[0], rest[1:]
            cmd = PruneNode(level, node)
            if not self.jobs._begin(cmd, "Cannot prune the node"):
                return

            def done(c):
                if self.jobs._push(c, "Cannot prune the node") is not None:
                    self.w.show_status(c.label, 6000)
                    step(rest)
            self.runner.submit(f"Prune node {node + 1}", command_job(cmd, "Removing a node\u2026"),
                               on_done=done, on_error=self.jobs._fail("Cannot prune the node"))
        step(todo)

    def refine(self, new_grid: int):
        from ...project import RefineGrid
        m = self.doc.model
        if m is None:
            return
        if int(new_grid) <= m.grid_size:
            self.w.show_error("Refine grid", f"The new grid must be finer than the current one ({m.grid_size}).")
            return
        self._computed(RefineGrid(int(new_grid)), "Refine grid", f"Refining the grid to {new_grid}\u2026")

    def discover(self, budget_seconds: Optional[float] = None):
        if self.runner.busy or not self.doc.has_data:
            return
        s = self.w.training_panel.settings()
        # DiscoverConfig's fields: the config is built in the worker, where importing
        # the discovery package cannot hold up the window
        cfg = {"seed": int(s["seed"]), "device": str(s["device"]), "digits": self.w.formula_panel.digits()}
        if budget_seconds is not None:
            cfg["budget_seconds"] = float(budget_seconds)

        def done(result):
            self._pareto_exprs = [c.formula for c in result.pareto]
            rows = getattr(result, "pareto_rows", None) or result.pareto
            self.doc.project.set_pareto(rows)
            shown = result.shown()
            idx = next((k for k, c in enumerate(result.pareto) if shown is not None and c is shown), None)
            if idx is None and result.pareto and result.formula is not None:
                idx = 0
            panel = self.w.formula_panel
            if idx is not None:
                self.choose_pareto(idx)
                self.w.show_status(f"Discover: {result.status}; {len(result.pareto)} candidate formulas"
                                   + (" (stopped early)" if result.cancelled else ""), 10000)
            else:
                panel.show_message("Discover found no readable formula for this table.")
                self.w.show_status("Discover: no law found" + (" (stopped)" if result.cancelled else ""), 10000)
            derivation = shown.derivation if shown is not None else ()
            self._verdict = (idx, result.status, result.status_reason, [s.text for s in derivation])
            panel.set_verdict(*self._verdict[1:])
            # a law (or a first model) opens as a network one can edit, one History entry;
            # "no law found" does not replace a network the user already has
            if idx is not None and shown is not None and not result.cancelled and (
                    result.status != "no law found" or not self.doc.has_model):
                text = rows[idx]["formula"] if isinstance(rows[idx], dict) else shown.sympy_str
                self.open_formula(text, f"Discover ({result.status}): {text}", idx)

        self.runner.submit("Discover", discover_job(self.doc.dataset, cfg, self.jobs.aux()), keep_on_cancel=True,
                           on_done=done, on_error=self.jobs._fail("Discover failed"))

    def open_formula(self, text: str, label: str, pareto_index: Optional[int] = None):
        """Replace the network by one computing ``text`` exactly (its edges fixed to
        the formula's functions), as one undoable command; the formula panel keeps
        showing Pareto candidate ``pareto_index`` (with Discover's verdict)."""
        from ...project import CompileFormula
        cmd = CompileFormula(text, label=label)
        if not self.doc.has_data or not self.jobs._begin(cmd, "Cannot open the formula as a network"):
            return

        def done(c):
            if self.doc.project is None or c.is_stale(self.doc.project):
                self.w.show_status("The model changed while the formula's network was built; "
                                   "nothing was applied.", 8000)
                return
            if self.jobs._push(c, "Cannot open the formula as a network") is not None:
                if pareto_index is not None:
                    self.choose_pareto(pareto_index)
                self.w.show_status(c.label, 10000)

        def failed(message, _details):
            self.w.show_status(f"The formula could not be opened as a network: {message}", 10000)
        self.runner.submit("Open formula", command_job(cmd, "Building the formula's network\u2026"),
                           on_done=done, on_error=failed)

    # ------------------------------------------------------------ Pareto
    def use_pareto(self, index: int):
        """'Use this formula': candidate ``index`` becomes the network (undoable)."""
        rows = (self.doc.project.pareto if self.doc.project is not None else None) or []
        if not (0 <= index < len(rows)) or self.runner.busy:
            return
        text = str(rows[index].get("formula", ""))
        if text:
            self.open_formula(text, f"Use formula: {text}", index)

    def _pareto_rows(self) -> list:
        """project.pareto as shown: already in the original columns (Project.set_pareto)."""
        rows = (self.doc.project.pareto if self.doc.project is not None else None) or []
        return [ParetoRow(int(r.get("complexity", 0)), float(r["test_rmse"]) if r.get("test_rmse") is not None
                          else float("nan"), str(r.get("latex", "")), str(r.get("formula", ""))) for r in rows]

    def show_pareto(self, raise_dock: bool = False):
        rows = self._pareto_rows()
        self.w.pareto_panel.set_rows(rows)
        if raise_dock and rows:         # a new front: its tab comes to the front of the right column,
            # in its own event-loop turn (its plot's first paint would add to the result's)
            QTimer.singleShot(0, self.w.panels.dock_pareto.raise_)

    def choose_pareto(self, index: int):
        rows = (self.doc.project.pareto if self.doc.project is not None else None) or []
        if not (0 <= index < len(rows)):
            return
        self.pareto_choice = index
        self.w.pareto_panel.select(index)
        panel = self.w.formula_panel
        verdict = self._verdict
        if verdict is not None and verdict[0] == index:
            panel.set_verdict(*verdict[1:])
        else:
            panel.clear_verdict()         # the verdict was on Discover's headline, not on this one
        expr = self._pareto_exprs[index] if index < len(self._pareto_exprs) else None
        rev = self.jobs.rev

        def show(info):
            if rev == self.jobs.rev and self.pareto_choice == index:
                info.source = str(rows[index].get("stage", "discover")) or "discover"
                panel.show_formula(info)
                self.jobs.formula_rev = rev
                self.w.update_actions()
        self.runner.submit("Formula", candidate_job(rows[index], expr, self.doc.dataset, panel.digits(),
                                                    panel.text_colour(), panel.devicePixelRatioF(), self.jobs.aux()),
                           side=True, on_done=show, on_error=self.jobs._quiet_fail(rev, "show that formula"))


def _library_name(name: str) -> bool:
    """Whether an edge's function is one of the built-in library's (not a formula
    the symbolic engine found, which is named by its own text)."""
    from ...model import get_function
    try:
        return get_function(name).builtin
    except ValueError:
        return False
