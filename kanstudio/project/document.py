"""The project document: data + model + settings + edit history.  Plain Python
(no Qt): the GUI and the CLI share it.

Observers: ``project.on_changed`` is a list of callables, each called with a
reason string after a change: "model", "data", "history", "settings", "ui",
"results", "path", "modified" (the modified flag flipped).  The GUI adapts
them to Qt signals.  Model edits go through ``project.history.do(command)``
(see ``commands``); other changes through the setters below, which mark the
project modified without entering the undo history.
"""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Callable, Optional

from .commands_model import FIT_DEFAULTS
from .history import History

__all__ = ["Project", "DEFAULT_SETTINGS", "DEFAULT_UI"]

# Fit settings (keys shared with the GUI's training panel) + result display.
DEFAULT_SETTINGS = {**FIT_DEFAULTS, "digits": 4}
DEFAULT_UI = {"score_mode": "attribution"}


class Project:
    def __init__(self, dataset=None, model=None, settings: Optional[dict] = None, ui: Optional[dict] = None,
                 path=None, source_path=None, embed_data: bool = True, history_limit: int = 200):
        self.dataset = dataset
        self.model = model
        self.settings: dict = {**DEFAULT_SETTINGS, **(settings or {})}
        self.ui: dict = {**DEFAULT_UI, **(ui or {})}
        self.path: Optional[Path] = Path(path) if path else None
        self.source_path: Optional[str] = str(source_path) if source_path else None   # the CSV it came from
        self.embed_data = bool(embed_data)
        self.load_notes: list[str] = []            # what was wrong in the file it was opened from (one line each)
        self.pareto: Optional[list[dict]] = None   # JSON-able formula candidates (discovery.judgement.FormulaCandidate.as_dict)
        self.formula_cache: dict = {}              # anything derived from the model; cleared on model change
        self.model_revision = 0                    # +1 on every model swap: the cheap "did it change?"
        self.on_changed: list[Callable[[str], None]] = []
        self.uid = uuid.uuid4().hex[:12]           # names this session's recovery file
        self.history = History(self, limit=history_limit)
        self._dirty = False                        # changes outside the history (settings, data...)
        self._was_modified = False

    # ---------------------------------------------------------- observers
    def notify(self, reason: str) -> None:
        for fn in list(self.on_changed):
            fn(reason)

    def _check_modified(self) -> None:
        now = self.modified
        if now != self._was_modified:
            self._was_modified = now
            self.notify("modified")

    def _touch(self, *reasons: str) -> None:
        self._dirty = True
        for r in reasons:
            self.notify(r)
        self._check_modified()

    @property
    def modified(self) -> bool:
        return self._dirty or not self.history.is_clean

    def mark_saved(self, path=None) -> None:
        """The current state is what is on disk (called by save_project)."""
        if path is not None and (self.path is None or Path(path) != self.path):
            self.path = Path(path)
            self.notify("path")
        self._dirty = False
        self.history.set_clean()
        self._check_modified()

    @property
    def title(self) -> str:
        return self.path.name if self.path else "Untitled"

    # ------------------------------------------------------------- model
    def _replace_model(self, model) -> None:
        """Commands only: swap the model (History notifies afterwards)."""
        self.model = model
        self.model_revision += 1
        self.formula_cache.clear()

    def do(self, cmd):
        return self.history.do(cmd)

    def undo(self):
        return self.history.undo()

    def redo(self):
        return self.history.redo()

    # -------------------------------------------------------------- data
    def set_dataset(self, dataset, source_path=None) -> None:
        """Use new data.  A model that does not match its columns (input and
        target counts) is dropped and the history cleared, since no edit of
        the old model applies to the new columns."""
        self.dataset = dataset
        self.source_path = str(source_path) if source_path else None
        reasons = ["data"]
        m = self.model
        if m is not None and dataset is not None and (
                m.n_inputs != len(dataset.input_names) or m.n_outputs != len(dataset.target_names)):
            self._replace_model(None)
            self.history.clear()
            self.pareto = None
            reasons += ["model", "results"]
        self.formula_cache.clear()
        self._touch(*reasons)

    def tensors(self, split: str = "train"):
        """Normalised (x, y) torch tensors of a split ("train", "test", "all")."""
        if self.dataset is None:
            raise ValueError("the project has no data: open a CSV file first")
        return self.dataset.tensors(split)

    # ------------------------------------------------------ settings / ui
    def update_settings(self, **values) -> None:
        changed = {k: v for k, v in values.items() if self.settings.get(k, object()) != v}
        if changed:
            self.settings.update(changed)
            self._touch("settings")

    def set_settings(self, settings: dict) -> None:
        new = {**self.settings, **(settings or {})}
        if new != self.settings:
            self.settings = new
            self._touch("settings")

    def update_ui(self, **values) -> None:
        """UI state (score mode, panel choices): saved with the project but,
        like a view change, it does not mark the project modified."""
        self.ui.update(values)
        self.notify("ui")

    def set_pareto(self, candidates: Optional[list]) -> None:
        """Formula candidates, as JSON-able dicts (or objects with as_dict()),
        kept in the original columns (auxiliary inputs read as their
        expressions; rows without one cost no parse)."""
        from .aux_formula import substitute_pareto
        self.pareto = None if candidates is None else substitute_pareto([
            c.as_dict() if hasattr(c, "as_dict") else dict(c) for c in candidates], self)
        self._touch("results")

    # ----------------------------------------------------------- formula
    def formula(self, digits: Optional[int] = None, simplify: bool = True):
        """engine.formula.model_formula of the current model in the data's
        units and original columns (auxiliary inputs read as their
        expressions), cached until the model changes (FormulaIncomplete when
        some alive edge is not symbolic yet)."""
        if self.model is None:
            raise ValueError("the project has no model yet")
        digits = int(self.settings.get("digits", 4) if digits is None else digits)
        key = ("formula", digits, simplify)
        if key not in self.formula_cache:
            from ..symbolic import model_formula
            from .aux_formula import aux_expressions, substitute_result
            res = model_formula(self.model, self.dataset, digits=digits, simplify=simplify)
            self.formula_cache[key] = substitute_result(res, aux_expressions(self))
        return self.formula_cache[key]

    def __repr__(self):
        return (f"<Project {self.title!r} model={'yes' if self.model is not None else 'no'} "
                f"data={'yes' if self.dataset is not None else 'no'} edits={len(self.history)}>")
