"""Edit commands: every change to a project's model is one command object.

A command has a human-readable ``label``, ``apply(project)`` / ``revert(project)``
and a JSON form (``to_json()`` -> {"type": ..., "label": ..., parameters};
``command_from_json(d)`` rebuilds it, so the CLI can replay a history).
Commands are driven through ``project.history`` (``history.do(cmd)``,
``undo()``, ``redo()``); they never notify observers themselves.

Undo is generic: on its first ``apply`` a command captures the model as
safetensors bytes (``ModelState``) and ``revert`` restores those bytes, so
undo is exact whatever the edit did (masks, symbolic fixes, a smaller
network after pruning, new grids).  Redo is exact too:

* cheap deterministic edits (PruneEdge, FixSymbolic with known parameters,
  Unfix) simply run again on the restored model;
* expensive or stochastic ones (FitModel, Retrain, AutoSymbolic, AutoPrune,
  PruneNode, RefineGrid, SetModel) keep the after-state bytes and redo just
  loads them.

Heavy work off the UI thread (the pattern the GUI follows)::

    cmd = Retrain(steps=50)                 # any ComputedCommand, or FixSymbolic
    cmd.begin(project)                      # UI thread, cheap: copies model + data
    runner.submit(lambda ctx: cmd.run(progress=ctx.progress, cancel=ctx.cancel),
                  on_done=lambda _: project.history.do(cmd))   # apply: instant
    # cmd.prepare(project, progress, cancel) == begin + run, for the CLI.

``run`` never touches the project; ``apply`` only swaps in the precomputed
model and captures the before-state (a few ms).  A result computed in some
other way (e.g. the GUI's own live training loop) is pushed with
``SetModel(label, model, kind=..., params=...)``.  If the project's model
changed between ``begin`` and ``apply``, ``cmd.is_stale(project)`` says so;
applying still works (undo goes back to the state right before ``apply``).
Calling ``apply`` without ``begin``/``run`` computes synchronously.

Labels name edges by the network's node names ("Prune edge x1 → h2"); they
are filled in from the model on the first ``apply`` unless given explicitly.
"""
from __future__ import annotations

import hashlib
import importlib
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Optional

from ..errors import KanstudioError

__all__ = ["Command", "ModelCommand", "ComputedCommand", "ModelState", "CommandError",
           "register_command", "command_from_json", "command_types", "node_name", "edge_name"]

ProgressFn = Optional[Callable[[float, str], None]]
_REGISTRY: dict[str, type] = {}
_SUBMODULES = ("kanstudio.project.commands_edges", "kanstudio.project.commands_model",
               "kanstudio.project.commands_science")


class CommandError(KanstudioError, ValueError):
    """A command cannot run here (no data, no model, bad JSON record...)."""


def register_command(cls):
    """Class decorator: make ``cls`` rebuildable by ``command_from_json``."""
    if not cls.type or cls.type in _REGISTRY and _REGISTRY[cls.type] is not cls:
        raise ValueError(f"command type {cls.type!r} is empty or already registered")
    _REGISTRY[cls.type] = cls
    return cls


def _load_submodules():
    for name in _SUBMODULES:
        importlib.import_module(name)


def command_types() -> dict[str, type]:
    _load_submodules()
    return dict(_REGISTRY)


def command_from_json(d: dict) -> "Command":
    """Rebuild a command from its ``to_json()`` record (CommandError if invalid)."""
    if not isinstance(d, dict) or not isinstance(d.get("type"), str):
        raise CommandError("a history record must be an object with a 'type'")
    cls = command_types().get(d["type"])
    if cls is None:
        raise CommandError(f"unknown edit command type {d['type']!r}")
    try:
        cmd = cls.from_json(d)
    except (KeyError, TypeError, ValueError) as exc:
        raise CommandError(f"invalid '{d['type']}' record: {exc}") from None
    if isinstance(d.get("label"), str):
        cmd._label = d["label"]
    if isinstance(d.get("time"), str):
        cmd.timestamp = d["time"]
    return cmd


# ------------------------------------------------------------------ names
def node_name(model, level: int, node: int) -> str:
    """Display name of a node: inputs/outputs by their column names, hidden
    nodes h1, h2... (one hidden layer) or h2.3 (level 2, node 3)."""
    if level == 0 and node < len(model.input_names):
        return model.input_names[node]
    if level == model.depth and node < len(model.output_names):
        return model.output_names[node]
    return f"h{node + 1}" if model.depth == 2 else f"h{level}.{node + 1}"


def edge_name(model, layer: int, i: int, j: int) -> str:
    """'x1 → h2' for the edge from node i of level ``layer`` to subnode j of the next."""
    try:
        owner = model.subnode_owner(layer + 1)[j]
        return f"{node_name(model, layer, i)} → {node_name(model, layer + 1, owner)}"
    except (IndexError, AttributeError):
        return f"({layer},{i},{j})"


# ----------------------------------------------------------- model state
@dataclass(frozen=True)
class ModelState:
    """An immutable snapshot of a model (or of 'no model')."""
    data: Optional[bytes]
    device: str = "cpu"

    @classmethod
    def capture(cls, model) -> "ModelState":
        if model is None:
            return cls(None)
        from ..model import to_bytes
        return cls(to_bytes(model), str(model.device))

    def restore(self):
        if self.data is None:
            return None
        from ..model import from_bytes
        return from_bytes(self.data, device=self.device, source="undo snapshot")

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.data or b"").hexdigest()


# --------------------------------------------------------------- commands
class Command:
    """Base class.  Subclasses set ``type`` and implement apply/revert and
    ``params()`` (the JSON parameters) / ``from_json``."""
    type: ClassVar[str] = ""
    changes: ClassVar[tuple[str, ...]] = ("model",)   # reasons History notifies

    def __init__(self, label: Optional[str] = None):
        self._label = label
        self.timestamp: Optional[str] = None   # ISO time of the first apply (set by History)

    @property
    def label(self) -> str:
        return self._label or self.default_label()

    def default_label(self) -> str:
        return self.type

    def apply(self, project) -> None:
        raise NotImplementedError

    def revert(self, project) -> None:
        raise NotImplementedError

    def params(self) -> dict:
        return {}

    def to_json(self) -> dict:
        d = {"type": self.type, "label": self.label}
        if self.timestamp:
            d["time"] = self.timestamp
        d.update(self.params())
        return d

    @classmethod
    def from_json(cls, d: dict) -> "Command":
        return cls()

    def prepare(self, project, progress: ProgressFn = None, cancel=None) -> None:
        """Do the expensive part now (no project mutation).  Default: nothing."""

    def __repr__(self):
        return f"<{type(self).__name__} {self.label!r}>"


class ModelCommand(Command):
    """A command that edits ``project.model``; undo restores a snapshot.

    Subclasses implement ``_edit(project, model) -> model`` (mutate in place
    and return it, or return a new model).  With ``store_after`` the result is
    kept as bytes and redo loads it instead of editing again."""
    store_after: ClassVar[bool] = False
    needs_model: ClassVar[bool] = True
    mutates_in_place: ClassVar[bool] = True

    def __init__(self, label: Optional[str] = None):
        super().__init__(label)
        self._before: Optional[ModelState] = None
        self._after: Optional[ModelState] = None

    @property
    def applied_once(self) -> bool:
        return self._before is not None

    def _edit(self, project, model):
        raise NotImplementedError

    def _label_from(self, model) -> None:
        """Hook: fill in a label from the model (called before the edit)."""

    def apply(self, project) -> None:
        model = project.model
        if self.needs_model and model is None:
            raise CommandError(f"{self.label}: there is no model yet (fit one first)")
        if self._after is not None:                 # redo, or precomputed result
            if self._before is None:
                self._before = ModelState.capture(model)
            # the worker's own result the first time (nothing else holds it),
            # saving the UI thread a deserialisation; the snapshot after that
            fresh, self._fresh = getattr(self, "_fresh", None), None
            project._replace_model(fresh if fresh is not None else self._after.restore())
            return
        if self._label is None and model is not None:
            self._label_from(model)
        before = self._before or ModelState.capture(model)
        try:
            new = self._edit(project, model)
        except BaseException:
            if model is not None and self.mutates_in_place:   # may be half-edited
                project._replace_model(before.restore())
            raise
        self._before = before
        if self.store_after and self._after is None:
            self._after = ModelState.capture(new)
        project._replace_model(new)

    def revert(self, project) -> None:
        if self._before is None:
            raise CommandError(f"cannot undo '{self.label}': it was never applied")
        project._replace_model(self._before.restore())


def _train_x(project):
    """Normalised training inputs (statistics for pruning/symbolic fits come
    from the training rows only)."""
    if project.dataset is None:
        raise CommandError("this edit needs data: open a dataset first")
    return project.dataset.tensors("train")[0]


class ComputedCommand(ModelCommand):
    """An expensive edit, splittable for a worker thread: ``begin`` (UI thread,
    copies the inputs), ``run`` (worker, no project access), then an instant
    ``apply``.  Subclasses implement ``_gather(project) -> dict`` and
    ``_compute(inputs, progress, cancel) -> model``."""
    store_after = True
    mutates_in_place = False      # works on copies: a failure leaves the model alone

    def __init__(self, label: Optional[str] = None):
        super().__init__(label)
        self._inputs: Optional[dict] = None
        self._base: Optional[tuple] = None        # (project id, its model_revision) at ``begin``
        self._fresh = None                        # the model ``run`` made, until the first apply

    @property
    def computed(self) -> bool:
        return self._after is not None

    def _gather(self, project) -> dict:
        model = project.model
        if self.needs_model and model is None:
            raise CommandError(f"{self.label}: there is no model yet (fit one first)")
        return {"model": model.copy() if model is not None else None, "x": _train_x(project)}

    def _compute(self, inputs: dict, progress: ProgressFn, cancel) -> Any:
        raise NotImplementedError

    def begin(self, project) -> None:
        """UI thread, cheap: copy what ``run`` needs."""
        if self._label is None and project.model is not None:
            self._label_from(project.model)
        self._inputs = self._gather(project)
        # a revision number, not a digest of the model: serialising and hashing
        # the model twice per command cost the UI thread tens of milliseconds
        self._base = (id(project), project.model_revision)

    def run(self, progress: ProgressFn = None, cancel=None, **options) -> None:
        """Worker thread: the heavy part.  Touches only what ``begin`` copied.
        ``options`` go to ``_compute`` (training commands take ``on_snapshot``)."""
        if self._inputs is None:
            raise CommandError(f"{self.label}: call begin(project) before run()")
        inputs, self._inputs = self._inputs, None
        model = self._compute(inputs, progress, cancel, **options)
        self._after = ModelState.capture(model)
        self._fresh = model

    def prepare(self, project, progress: ProgressFn = None, cancel=None) -> None:
        if not self.computed:
            self.begin(project)
            self.run(progress, cancel)

    def is_stale(self, project) -> bool:
        """True when the project's model changed (or another project is open)
        since ``begin``."""
        return (self._base is not None and not self.applied_once
                and self._base != (id(project), project.model_revision))

    def _edit(self, project, model):
        self.begin(project)
        self.run()
        fresh, self._fresh = self._fresh, None
        return fresh
