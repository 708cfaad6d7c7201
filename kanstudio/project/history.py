"""The project's edit history: applied commands, a redo stack and the clean
(saved) state, like a QUndoStack without Qt.

The GUI keeps one QUndoStack in step with it by wrapping each command::

    class ProjectCommand(QUndoCommand):           # in kanstudio.gui
        def redo(self):  # QUndoStack.push calls this first
            history.redo() if self.done_once else history.do(self.cmd)
            self.done_once = True; self.setText(self.cmd.label)
        def undo(self):
            history.undo()

and mirrors ``setClean()`` with ``history.set_clean()`` (``save_project``
does that).  Records loaded from a saved project are kept in ``past``: they
are shown and saved again, but cannot be undone.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from .commands import Command, CommandError, command_from_json

__all__ = ["History", "replay"]


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class History:
    def __init__(self, project, limit: int = 200):
        self._project = project
        self._done: list[Command] = []
        self._redo: list[Command] = []
        self.past: list[dict] = []          # records from before the project was loaded
        self._clean: Optional[int] = 0      # len(_done) at the clean state; None: unreachable
        self.limit = int(limit)             # undoable commands kept (older ones become records)

    # ------------------------------------------------------------ stacks
    def do(self, cmd: Command) -> Command:
        """Apply ``cmd`` and push it; drops the redo stack."""
        if any(c is cmd for c in self._done) or any(c is cmd for c in self._redo):
            raise CommandError(f"'{cmd.label}' is already in the history (use redo())")
        project, model_before = self._project, self._project.model
        try:
            cmd.apply(project)
        except BaseException:
            if project.model is not model_before:   # the command restored a snapshot
                project.notify("model")
            raise
        if cmd.timestamp is None:
            cmd.timestamp = _now()
        if self._redo and self._clean is not None and self._clean > len(self._done):
            self._clean = None                      # the saved state was on the dropped branch
        self._redo.clear()
        self._done.append(cmd)
        self._trim()
        self._changed(cmd)
        return cmd

    def undo(self) -> Command:
        if not self._done:
            raise CommandError("nothing to undo")
        cmd = self._done[-1]
        cmd.revert(self._project)
        self._redo.append(self._done.pop())
        self._changed(cmd)
        return cmd

    def redo(self) -> Command:
        if not self._redo:
            raise CommandError("nothing to redo")
        cmd = self._redo[-1]
        cmd.apply(self._project)
        self._done.append(self._redo.pop())
        self._changed(cmd)
        return cmd

    def _trim(self):
        while len(self._done) > max(1, self.limit):
            self.past.append(self._done.pop(0).to_json())
            if self._clean is not None:
                self._clean = self._clean - 1 if self._clean > 0 else None

    def _changed(self, cmd: Command):
        for reason in cmd.changes:
            self._project.notify(reason)
        self._project.notify("history")
        self._project._check_modified()

    def clear(self, past: Optional[list] = None):
        """Forget every command (and set the loaded records); the state is clean."""
        self._done.clear()
        self._redo.clear()
        self.past = [dict(r) for r in (past or [])]
        self._clean = 0
        self._project.notify("history")
        self._project._check_modified()

    # ---------------------------------------------------------- queries
    @property
    def can_undo(self) -> bool:
        return bool(self._done)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    @property
    def undo_label(self) -> str:
        return self._done[-1].label if self._done else ""

    @property
    def redo_label(self) -> str:
        return self._redo[-1].label if self._redo else ""

    @property
    def commands(self) -> tuple[Command, ...]:
        """The applied (undoable) commands, oldest first."""
        return tuple(self._done)

    @property
    def redo_commands(self) -> tuple[Command, ...]:
        """Undone commands, next to redo last."""
        return tuple(self._redo)

    @property
    def index(self) -> int:
        return len(self._done)

    def __len__(self) -> int:
        return len(self.past) + len(self._done)

    # ------------------------------------------------------------ clean
    @property
    def clean_index(self) -> Optional[int]:
        return self._clean

    @property
    def is_clean(self) -> bool:
        return self._clean == len(self._done)

    def set_clean(self):
        self._clean = len(self._done)
        self._project._check_modified()

    # ------------------------------------------------------------- JSON
    def to_json(self) -> list[dict]:
        """Records of the current state's lineage: loaded ones, then applied
        commands (each {"type", "label", "time", parameters...})."""
        return [dict(r) for r in self.past] + [c.to_json() for c in self._done]

    def labels(self) -> list[str]:
        return [str(r.get("label", r.get("type", "?"))) for r in self.to_json()]


def replay(project, records: list[dict], progress=None, cancel=None) -> list[Command]:
    """Apply history records to ``project`` one by one (CLI: rerun a recipe).
    Commands are rebuilt with ``command_from_json``; precomputed results are
    not stored in records, so stochastic steps are recomputed."""
    done = []
    for n, rec in enumerate(records):
        if cancel is not None and (cancel.is_set() if hasattr(cancel, "is_set") else cancel()):
            break
        cmd = command_from_json(rec)
        if progress is not None:
            progress(n / max(1, len(records)), cmd.label)
        done.append(project.history.do(cmd))
    return done
