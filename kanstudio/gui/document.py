"""The open project as the GUI sees it: a ``kanstudio.project.Project``, its
``History`` mirrored by one QUndoStack, and Qt signals for its changes.

Every model edit is a project command.  ``Document.push(cmd)`` applies it
through ``project.history.do`` first (so a command that fails never enters the
stack) and then pushes a ``ProjectCommand`` whose first ``redo`` is a no-op;
later redo/undo go through ``history.redo()`` / ``history.undo()``.  Heavy
commands are computed in the worker beforehand (``cmd.begin`` in the UI
thread, ``cmd.run`` in the worker), so ``push`` is always instant.

The stack's clean state mirrors the history's (``save`` marks both).
Records loaded from a saved project cannot be undone: they are listed as
``past_labels()`` above the stack in the History panel.
"""
from __future__ import annotations

import copy
import threading
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoCommand, QUndoStack

from ..project import Project

__all__ = ["ProjectCommand", "Document"]


class ProjectCommand(QUndoCommand):
    """A QUndoCommand over an already-applied project command."""

    def __init__(self, doc: "Document", cmd):
        super().__init__(cmd.label)
        self.doc, self.cmd = doc, cmd
        self._first = True

    def redo(self):
        if self._first:          # history.do already applied it
            self._first = False
            return
        self.doc._history_step("redo")
        self.setText(self.cmd.label)

    def undo(self):
        self.doc._history_step("undo")


class Document(QObject):
    """Signals: ``changed(reason)`` with the project's reasons ("model",
    "data", "history", "settings", "ui", "results", "path", "modified") and
    "project" when a whole project is opened, created or closed."""
    changed = Signal(str)

    def __init__(self, parent: Optional[QObject] = None):
        super().__init__(parent)
        self.stack = QUndoStack(self)
        self.stack.setUndoLimit(0)
        self.project: Optional[Project] = None
        self._tensors: dict = {}
        self._tensors_lock = threading.Lock()
        self._snapshot: tuple = (None, None)      # (project id, model revision), model copy
        self._recovered_from: Optional[Path] = None

    # -------------------------------------------------------------- state
    @property
    def dataset(self):
        return self.project.dataset if self.project is not None else None

    @property
    def model(self):
        return self.project.model if self.project is not None else None

    @property
    def has_data(self) -> bool:
        return self.dataset is not None

    @property
    def has_model(self) -> bool:
        return self.model is not None

    def model_snapshot(self):
        """A copy of the model for the worker's read-only jobs (drawing, the
        formula, attribution, an edge's detail), one per model revision and
        shared by them: a change of model used to copy it three times in one
        turn of the UI thread.  None without a model."""
        p = self.project
        if p is None or p.model is None:
            return None
        key = (id(p), p.model_revision)
        if self._snapshot[0] != key:
            p.model.cache = None          # not the last forward's activations
            self._snapshot = (key, copy.deepcopy(p.model))
        return self._snapshot[1]

    @property
    def path(self) -> Optional[Path]:
        return self.project.path if self.project is not None else None

    def display_name(self) -> str:
        if self.project is None or self.dataset is None:
            return ""
        if self.project.path is not None:
            return self.project.path.name
        src = self.project.source_path or self.dataset.source_path
        return f"{Path(src).stem} (unsaved)" if src else "Untitled"

    def suggested_name(self) -> str:
        if self.project is not None and self.project.path is not None:
            return self.project.path.stem
        src = (self.project.source_path if self.project else None) or (self.dataset.source_path if self.dataset else None)
        return Path(src).stem if src else "untitled"

    def width_text(self) -> str:
        m = self.model
        if m is None:
            return ""
        return "[" + ", ".join(str(a) if b == 0 else f"[{a},{b}]" for a, b in m.width) + "]"

    def data_summary(self) -> str:
        ds = self.dataset
        if ds is None:
            return ""
        return (f"{ds.n_rows} rows, inputs {', '.join(ds.input_names)} \u2192 "
                f"{', '.join(ds.target_names)}")

    def tensors(self, split: str = "train"):
        """Normalised (x, y) tensors of a split, cached per dataset (read-only:
        they are shared with worker jobs)."""
        ds = self.dataset
        if ds is None:
            raise ValueError("no data is open")
        key = (id(ds), split)
        with self._tensors_lock:        # the worker and the UI thread both ask
            if key not in self._tensors:
                self._tensors = {k: v for k, v in self._tensors.items() if k[0] == id(ds)}
                self._tensors[key] = ds.tensors(split)
            return self._tensors[key]

    # ----------------------------------------------------------- projects
    def _attach(self, project: Optional[Project]):
        self.clear_recovery()       # the old project was saved or knowingly discarded
        if self.project is not None:
            try:
                self.project.on_changed.remove(self._on_project_changed)
            except ValueError:
                pass
        self.project = project
        self._tensors = {}
        self.stack.clear()
        if project is not None:
            project.on_changed.append(self._on_project_changed)
        self.stack.setClean()
        self.changed.emit("project")

    def new_project(self, dataset, source: Optional[str] = None, settings: Optional[dict] = None):
        self._attach(Project(dataset=dataset, source_path=source, settings=settings))

    def close(self):
        self._attach(None)

    def load(self, path) -> dict:
        """Open a .kanproj (ValueError with a clear message otherwise); returns its UI state."""
        from ..project import load_project
        project = load_project(path)
        self._attach(project)
        return dict(project.ui or {})

    def recover(self, path) -> dict:
        """Open a crash-recovery file as an unsaved project; the file is kept
        until this project is saved or closed cleanly."""
        from ..project import load_recovery
        project = load_recovery(path)
        self._attach(project)
        self._recovered_from = Path(path)
        return dict(project.ui or {})

    def save(self, path, ui: Optional[dict] = None):
        from ..project import save_project
        if self.project is None:
            raise ValueError("nothing to save: open a CSV file first")
        if ui is not None:
            self.project.ui.update(ui)
        save_project(self.project, path)
        self.stack.setClean()
        self.clear_recovery()
        self.changed.emit("path")

    def past_labels(self) -> list[str]:
        if self.project is None:
            return []
        return [str(r.get("label", r.get("type", "?"))) for r in self.project.history.past]

    # ------------------------------------------------------------ editing
    def push(self, cmd):
        """Apply a (precomputed) project command and put it on the undo stack."""
        if self.project is None:
            raise ValueError("no project is open")
        self.project.history.do(cmd)
        self.stack.push(ProjectCommand(self, cmd))
        return cmd

    def _history_step(self, which: str):
        h = self.project.history
        if which == "undo" and h.can_undo:
            h.undo()
        elif which == "redo" and h.can_redo:
            h.redo()

    def set_settings(self, settings: dict):
        if self.project is not None:
            self.project.set_settings(settings)

    def update_ui(self, **values):
        if self.project is not None:
            self.project.update_ui(**values)

    def _on_project_changed(self, reason: str):
        self.changed.emit(reason)

    # ----------------------------------------------------------- recovery
    def recovery_writer(self):
        """A job function writing this state's crash-recovery file in the
        worker, or None when there is nothing to recover.  What it writes is a
        snapshot taken now (UI thread): the model is deep-copied, history and
        settings are copied as JSON, the dataset is shared (never mutated)."""
        p = self.project
        if p is None or (p.dataset is None and p.model is None):
            return None
        from ..project import write_recovery
        snap = Project(dataset=p.dataset, model=_model_copy(p.model), settings=dict(p.settings),
                       ui=dict(p.ui), path=p.path, source_path=p.source_path)
        snap.uid, snap.pareto = p.uid, copy.deepcopy(p.pareto)
        snap.history.clear(past=p.history.to_json())
        # The data's CSV text is cached on the project by the writer: carry it
        # over so recovery writes do not serialise unchanged data again.
        if getattr(p, "_csv_cache", None) is not None:
            snap._csv_cache = p._csv_cache

        def run(ctx):
            if self.project is not p:       # closed or replaced meanwhile: nothing to keep
                return snap, None
            return snap, write_recovery(snap)

        def keep_cache(result):
            s, _ = result
            if self.project is p and getattr(s, "_csv_cache", None) is not None:
                p._csv_cache = s._csv_cache
        return run, keep_cache

    def training_checkpoint(self):
        """A function for the worker: write the crash-recovery file with a given
        model (a running fit's live state) and the rest of the project as it is
        now (the fit changes only the model); None when there is no data."""
        p = self.project
        if p is None or p.dataset is None:
            return None
        from ..project import write_recovery
        base = Project(dataset=p.dataset, model=None, settings=dict(p.settings), ui=dict(p.ui), path=p.path,
                       source_path=p.source_path)
        base.uid, base.pareto = p.uid, copy.deepcopy(p.pareto)
        base.history.clear(past=p.history.to_json())
        if getattr(p, "_csv_cache", None) is not None:
            base._csv_cache = p._csv_cache

        def write(model):
            if self.project is p:           # not closed or replaced meanwhile
                base.model = model
                write_recovery(base)
        return write

    def clear_recovery(self):
        """Forget this session's recovery file (saved, or closed cleanly)."""
        from ..project import discard_project_recovery, discard_recovery
        try:
            if self.project is not None:
                discard_project_recovery(self.project)
            if self._recovered_from is not None:
                discard_recovery(self._recovered_from)
                self._recovered_from = None
        except (OSError, ValueError):
            pass


def _model_copy(model):
    if model is None:
        return None
    model.cache = None
    return copy.deepcopy(model)
