"""What the window asks of the worker, and what it does with the answers.

``Jobs`` keeps the views in step with the document (network picture, formula,
edge inspector, history, recovery file) and runs the edits of single edges;
the whole-model actions (fit, prune, auto-symbolic, refine, discover, the
Pareto list) are its part ``model`` (``model_jobs.ModelJobs``), whose
actions it answers for.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, QTimer

from .model_jobs import ModelJobs
from .worker_jobs import command_job, edge_detail_job, formula_job, picture_job, suggest_job

__all__ = ["Jobs"]


class Jobs(QObject):
    """What the window asks of the worker, and what it does with the answers.

    ``rev`` counts model changes: an answer computed for an older model is
    dropped.  Edits are project commands: cheap ones are pushed at once, heavy
    ones are computed in the worker (``cmd.begin`` here, ``cmd.run`` there) and
    pushed when they come back."""

    def __init__(self, win):
        """``win``: the MainWindow whose panels and actions this drives (not
        imported here: the window imports this module)."""
        super().__init__(win)
        self.w, self.doc, self.runner = win, win.doc, win.runner
        self.score_mode = "attribution"
        self.rev = 0
        self.formula_rev = -1        # the model revision the formula panel's formula was built for
        self.selected: Optional[tuple] = None
        self._restore_edge: Optional[tuple] = None
        self._recovery_timer = QTimer(self)
        self._recovery_timer.setSingleShot(True)
        # the next event-loop turn: edits in one burst share a write, and an edit is
        # on disk milliseconds after it is made (a 300 ms debounce lost the last ones)
        self._recovery_timer.setInterval(0)
        self._recovery_timer.timeout.connect(self._write_recovery)
        self.model = ModelJobs(self)
        for name in ModelJobs.ACTIONS:          # jobs.fit(), jobs.discover(), ... as before
            setattr(self, name, getattr(self.model, name))

    # ------------------------------------------------------------ helpers
    def model_copy(self):
        """The model as the worker's read-only jobs see it (Document.model_snapshot)."""
        return self.doc.model_snapshot()

    def _x(self):
        """The training rows' inputs, made in the worker (see worker_jobs._rows):
        the first tensors of a session import torch, seconds the UI thread must
        not wait."""
        doc, ds = self.doc, self.doc.dataset
        # the rows of the data open now, even if another table is open by then
        return lambda: (doc.tensors("train") if doc.dataset is ds else ds.tensors("train"))[0]

    def aux(self) -> dict:
        """The auxiliary inputs' expressions, for the worker jobs to put into
        formulas (cheap: a few short parses)."""
        from ...project import aux_expressions
        project = self.doc.project
        try:
            return aux_expressions(project) if project is not None else {}
        except ValueError:
            return {}

    def _fail(self, title: str):
        return lambda message, details: self.w.show_error(title, message, details)

    def _quiet_fail(self, rev: int, what: str):
        def on_error(message, details):
            if rev == self.rev:
                self.w.show_status(f"Could not {what}: {message}", 8000)
        return on_error

    def _begin(self, cmd, title: str) -> bool:
        try:
            cmd.begin(self.doc.project)
        except ValueError as exc:
            self.w.show_error(title, str(exc))
            return False
        return True

    def _push(self, cmd, title: str):
        try:
            self.doc.push(cmd)
        except ValueError as exc:
            self.w.show_error(title, str(exc))
            return None
        return cmd

    # ------------------------------------------------------- doc changes
    def on_document_changed(self, reason: str):
        w = self.w
        if reason in ("project", "data"):
            ds = self.doc.dataset
            w.data_panel.set_dataset(ds, (self.doc.project.source_path or "") if self.doc.project else "")
            held_out = ds is None or ds.held_out
            w.training_panel.loss.set_held_out(held_out)
            w.formula_panel.error_name = ds.error_name if ds is not None else "test RMSE"
            if reason == "project":
                self.rev += 1
                self.selected = None
                self.model.forget_pareto()
                w.edge_inspector.clear()
                w.network_view.clear()
                if self.doc.project is not None:
                    w.training_panel.set_settings(self.doc.project.settings)
                    if ds is not None:
                        w.training_panel.set_io(len(ds.input_names), len(ds.target_names))
                self.model.show_pareto()
                self.refresh_all()
        if reason == "model":
            self.rev += 1
            self.model.pareto_choice = None
            w.pareto_panel.select(None)
            self.refresh_all()
        if reason in ("history", "project"):
            w.history_panel.set_past(self.doc.past_labels())
            self._recovery_timer.start()
        if reason == "results":
            self.model.show_pareto(raise_dock=True)
        if reason in ("modified", "path", "project"):
            w.update_title()

    def refresh_all(self):
        self.refresh_picture()
        self.refresh_formula()
        if self.selected is not None:
            self.request_detail(*self.selected)

    def refresh_picture(self):
        if self.doc.model is None:
            self.w.network_view.clear()
            return
        rev = self.rev
        self.runner.submit("Draw network", picture_job(self.model_copy(), self._x(), self.score_mode), side=True,
                           on_done=lambda pic: self._show_picture(pic, rev),
                           on_error=self._quiet_fail(rev, "draw the network"))

    def _show_picture(self, pic, rev: int):
        if rev != self.rev:
            return
        view = self.w.network_view
        view.set_picture(pic)
        want = self._restore_edge or self.selected
        self._restore_edge = None
        if want is not None and view.edge_item(*want) is not None:
            view.select_edge(*want)
            if self.selected != want:
                self.select_edge(*want)
        elif self.selected is not None:
            self.select_edge(-1, -1, -1)
        self.w.update_actions()

    def refresh_formula(self):
        panel = self.w.formula_panel
        if self.doc.model is None:
            panel.show_message("No model yet. Press Fit to train a network; the formula appears here once "
                               "every edge is symbolic.")
            self.w.update_actions()
            return
        if self.model.pareto_choice is not None:
            self.model.choose_pareto(self.model.pareto_choice)
            return
        rev = self.rev
        self.runner.submit("Formula", formula_job(self.model_copy(), self.doc.dataset, panel.digits(),
                                                  panel.text_colour(), panel.devicePixelRatioF(), self.aux()),
                           side=True, on_done=lambda r: self._show_formula(r, rev),
                           on_error=self._quiet_fail(rev, "build the formula"))

    def _show_formula(self, result, rev: int):
        if rev != self.rev or self.model.pareto_choice is not None:
            return
        if isinstance(result, tuple):
            _, n, model_rmse = result
            self.w.formula_panel.show_incomplete(n, model_rmse)
        else:
            self.w.formula_panel.show_formula(result)
        self.formula_rev = rev
        self.w.update_actions()

    def formula_current(self) -> bool:
        """Whether the formula panel shows a formula of the model as it is now
        (after an edit the old one stays up until the new one is built)."""
        return self.formula_rev == self.rev and self.w.formula_panel.info() is not None

    # ------------------------------------------------------------- edges
    def select_edge(self, layer: int, i: int, j: int):
        if layer < 0:
            self.selected = None
            self.w.edge_inspector.clear()
        else:
            if self.selected != (layer, i, j):
                self.w.panels.dock_inspector.raise_()      # the inspector shares its column with the Pareto front
            self.selected = (layer, i, j)
            self.request_detail(layer, i, j)
        self.w.update_actions()

    def request_detail(self, layer: int, i: int, j: int):
        if self.doc.model is None:
            return
        rev, key = self.rev, (layer, i, j)

        def show(detail):
            if self.selected == key and (rev == self.rev or self.runner.busy):
                self.w.edge_inspector.show_edge(detail, layer, i, j, detail.names)
        self.runner.submit("Edge detail", edge_detail_job(self.model_copy(), self._x(), layer, i, j), side=True,
                           on_done=show, on_error=self._quiet_fail(rev, "inspect the edge"))

    def suggest(self, layer: int, i: int, j: int):
        if self.doc.model is None or self.runner.busy:
            return
        rev, key = self.rev, (layer, i, j)

        def done(cands):
            if rev == self.rev and self.w.edge_inspector.current_edge() == key:
                self.w.edge_inspector.set_candidates(cands)
                if cands:
                    self.w.show_status(f"Best candidate: {cands[0].name} (R\u00b2 = {cands[0].r2:.4f})", 6000)
        self.runner.submit("Suggest functions", suggest_job(self.model_copy(), self._x(), layer, i, j),
                           on_done=done, on_error=self._fail("Cannot suggest functions"))

    def fix_with_params(self, layer: int, i: int, j: int, name: str, params):
        if self.runner.busy:
            return
        from ...project import FixSymbolic
        r2 = None
        for c in self.w.edge_inspector.candidates():
            if c.name == name:
                r2 = float(c.r2)
        self._push(FixSymbolic(layer, i, j, name, tuple(params), r2=r2), "Cannot fix the edge")

    def fix_by_name(self, layer: int, i: int, j: int, name: str):
        from ...project import FixSymbolic
        cmd = FixSymbolic(layer, i, j, name)
        if self.runner.busy or not self._begin(cmd, "Cannot fix the edge"):
            return
        self.runner.submit(f"Fit {name} to the edge", command_job(cmd),
                           on_done=lambda c: self._push(c, "Cannot fix the edge"),
                           on_error=self._fail("Cannot fix the edge"))

    def unfix(self, layer: int, i: int, j: int):
        from ...project import Unfix
        if not self.runner.busy:
            self._push(Unfix(layer, i, j), "Cannot unfix the edge")

    def prune_edge(self, layer: int, i: int, j: int):
        from ...project import PruneEdge
        if not self.runner.busy:
            self._push(PruneEdge(layer, i, j), "Cannot prune the edge")

    def edge_action(self, action: str, layer: int, i: int, j: int, arg: str):
        if action in ("inspect", "suggest"):
            self.w.network_view.select_edge(layer, i, j)
            self.select_edge(layer, i, j)
            if action == "suggest":
                self.suggest(layer, i, j)
        elif action == "prune":
            self.prune_edge(layer, i, j)
        elif action == "unfix":
            self.unfix(layer, i, j)
        elif action == "fix" and arg:
            self.fix_by_name(layer, i, j, arg)


    # ----------------------------------------------------------- view state
    def set_score_mode(self, mode: str):
        self.score_mode = mode
        self.doc.update_ui(score_mode=mode)
        self.refresh_picture()

    def ui_state(self) -> dict:
        return {"selected_edge": list(self.selected) if self.selected else None, "pareto_choice": self.model.pareto_choice}

    def restore(self, ui: dict):
        self.score_mode = ui.get("score_mode", "attribution")
        sel = ui.get("selected_edge")
        self._restore_edge = tuple(int(v) for v in sel) if isinstance(sel, (list, tuple)) and len(sel) == 3 else None
        choice = ui.get("pareto_choice")
        self.rev += 1
        self.model.pareto_choice = int(choice) if isinstance(choice, int) else None
        self.refresh_all()


    # ----------------------------------------------------------- recovery
    def _write_recovery(self):
        """After each edit (debounced): the crash-recovery file, in the worker."""
        project = self.doc.project
        # nothing to lose: no project, or one saved to its file and unchanged since
        # (an imported table that was never saved is work too: its roles, split, notes)
        if self.runner.is_shut or project is None or (
                self.doc.stack.isClean() and not project.modified and project.path is not None):
            return
        job = self.doc.recovery_writer()
        if job is not None:
            run, done = job
            self.runner.submit("Recovery", run, side=True, on_done=done,
                               on_error=lambda m, d: self.w.show_status(f"Could not write the recovery file: {m}", 8000))

