"""KAN 2.0 "science" edits as undoable commands: auxiliary inputs, modules,
compiling a formula into a network, growing it (width / depth) and
auto-swapping hidden nodes.  See ``commands`` for the undo pattern.

Every command parses user text with ``kanstudio.data.parse_expression`` (never
eval); a bad formula raises ``DataError`` (a ValueError) with the parser's
sentence.  ``AddAuxInput`` is the one edit that also changes the data: it
keeps both the old dataset (datasets are never mutated, so a reference is a
snapshot) and the old model bytes.

Import this module to register the command types with ``command_from_json``
(``commands._SUBMODULES`` does not list it yet).
"""
from __future__ import annotations

from typing import Optional

from .commands import Command, CommandError, ComputedCommand, ModelCommand, ModelState, register_command

__all__ = ["AddAuxInput", "PruneInputs", "weakest_inputs", "DefineModule", "CompileFormula", "ExpandWidth",
           "ExpandDepth", "AutoSwap"]


def _need_data(project, what: str):
    if project.dataset is None:
        raise CommandError(f"{what}: open a dataset first")
    return project.dataset


class _DataAndModelEdit(Command):
    """An edit of both the data and the model: keeps the old dataset (datasets
    are never mutated, so a reference is a snapshot) and the old model bytes;
    redo reuses the computed pair.  Subclasses give ``_compute(project) ->
    (dataset, model)``."""
    changes = ("data", "model")

    def __init__(self, label: Optional[str] = None):
        super().__init__(label)
        self._before = None        # (dataset, ModelState)
        self._after = None         # (dataset, ModelState)

    def _compute(self, project):
        raise NotImplementedError

    def apply(self, project) -> None:
        before = (project.dataset, ModelState.capture(project.model))
        if self._after is None:
            new_ds, new_model = self._compute(project)
            self._after = (new_ds, ModelState.capture(new_model))
        else:
            new_ds, new_model = self._after[0], self._after[1].restore()
        self._before = before
        project.dataset = new_ds
        project._replace_model(new_model)

    def revert(self, project) -> None:
        if self._before is None:
            raise CommandError(f"cannot undo '{self.label}': it was never applied")
        project.dataset = self._before[0]
        project._replace_model(self._before[1].restore())


@register_command
class AddAuxInput(_DataAndModelEdit):
    """A new input column ``name`` = expression of the input columns.  With a
    model, the network gets one more input whose edges start at zero output
    (the function is unchanged until retrained); without one only the data
    changes.  Redo reuses the computed dataset and model."""
    type = "add_aux_input"

    def __init__(self, name: str, expr_text: str, label: Optional[str] = None):
        super().__init__(label)
        self.name, self.expr_text = str(name).strip(), str(expr_text)

    def default_label(self) -> str:
        return f"Add input {self.name} = {self.expr_text}"

    def _compute(self, project):
        from ..data import parse_expression
        from ..science import add_auxiliary_input, aux_values
        ds = _need_data(project, "Add auxiliary input")
        if not self.name:
            raise CommandError("an auxiliary input needs a name")
        if self.name in list(ds.input_names) + list(ds.target_names):
            raise CommandError(f"there is already a column named '{self.name}'")
        # Inputs only: a formula over the target would leak the answer into the inputs.
        expr = parse_expression(self.expr_text, list(ds.input_names))
        model = project.model
        if model is None:
            import numpy as np
            values = aux_values(ds, expr)
            if np.ptp(values[ds.train_idx]) == 0:
                raise CommandError(f"'{self.name}' is constant on the training rows: it adds nothing")
            return ds.with_column(self.name, values), None
        new_model, new_ds = add_auxiliary_input(model, ds, self.name, expr)
        return new_ds, new_model

    def params(self) -> dict:
        return {"name": self.name, "expr": self.expr_text}

    @classmethod
    def from_json(cls, d):
        return cls(str(d["name"]), str(d["expr"]))


def weakest_inputs(model, x, names, threshold: float) -> list:
    """Input columns whose attribution score on ``x`` is below ``threshold``,
    weakest first; at least one input is always left out of the list."""
    from ..science import input_scores
    scores = input_scores(model, x)
    order = sorted(range(len(scores)), key=lambda i: scores[i])
    weak = [names[i] for i in order if scores[i] < threshold]
    return weak[:max(0, len(names) - 1)]


@register_command
class PruneInputs(_DataAndModelEdit):
    """Remove input columns (e.g. the weakest by attribution): the network
    loses their input nodes (their mean contribution folds into the biases)
    and the dataset their columns.  The names are the parameters, so redo and
    replays remove the same columns; undo restores both snapshots."""
    type = "prune_inputs"

    def __init__(self, names, label: Optional[str] = None):
        super().__init__(label)
        self.names = [str(n) for n in names]

    def default_label(self) -> str:
        return f"Prune input{'s' if len(self.names) != 1 else ''} {', '.join(self.names)}"

    def _compute(self, project):
        from ..science import prune_nodes
        ds = _need_data(project, "Prune inputs")
        model = project.model
        if model is None:
            raise CommandError("Prune inputs: there is no model yet (fit one first)")
        if not self.names:
            raise CommandError("Prune inputs: no input named")
        unknown = [n for n in self.names if n not in ds.input_names]
        if unknown:
            raise CommandError(f"Prune inputs: there is no input column {', '.join(unknown)}")
        keep = [i for i, n in enumerate(ds.input_names) if n not in set(self.names)]
        if not keep:
            raise CommandError("Prune inputs: at least one input must stay")
        levels = [keep] + [list(range(model.n_nodes(l))) for l in range(1, model.depth + 1)]
        new_model = prune_nodes(model, levels, ds.tensors("train")[0])
        return ds.without_inputs(self.names), new_model

    def params(self) -> dict:
        return {"names": list(self.names)}

    @classmethod
    def from_json(cls, d):
        names = d.get("names")
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise CommandError("a prune_inputs record needs a list of column names")
        return cls(names)


@register_command
class DefineModule(ModelCommand):
    """Mask the edges between a chain of node groups and the rest of the
    network (engine.structure), e.g. "x1,x2->h0,h1".  In place; undo restores
    the snapshot, redo parses and masks again (deterministic)."""
    type = "define_module"

    def __init__(self, spec_text: str, label: Optional[str] = None):
        super().__init__(label)
        self.spec_text = str(spec_text)
        self.masked: list = []

    def default_label(self) -> str:
        return f"Define module {self.spec_text.strip()}"

    def _edit(self, project, model):
        from ..science import define_module, parse_module_spec
        spec = parse_module_spec(self.spec_text, model)
        self.masked = [list(e) for e in define_module(model, spec.nodes[0], spec.nodes[1:], spec.start_level)]
        return model

    def params(self) -> dict:
        return {"spec": self.spec_text, "masked": self.masked}

    @classmethod
    def from_json(cls, d):
        return cls(str(d["spec"]))


@register_command
class CompileFormula(ComputedCommand):
    """Replace the model by a network that computes a formula of the input
    columns exactly (engine.compiler.compile_for_dataset), ready to retrain."""
    type = "compile_formula"
    needs_model = False

    def __init__(self, formula_text: str, label: Optional[str] = None):
        super().__init__(label)
        self.formula_text = str(formula_text)

    def default_label(self) -> str:
        return f"Compile {self.formula_text.strip()}"

    def _gather(self, project):
        ds = _need_data(project, "Compile formula")
        return {"text": self.formula_text, "dataset": ds}

    def _compute(self, inputs, progress, cancel):
        # parsed here, in the worker: sympy's parse is tens of milliseconds
        from ..data import parse_expression
        from ..symbolic import compile_for_dataset
        ds = inputs["dataset"]
        return compile_for_dataset(parse_expression(inputs["text"], list(ds.input_names)), ds)

    def params(self) -> dict:
        return {"formula": self.formula_text}

    @classmethod
    def from_json(cls, d):
        return cls(str(d["formula"]))


@register_command
class ExpandWidth(ComputedCommand):
    """Add ``n_new`` fresh nodes ("sum" or "mult") at hidden ``level``; their
    outgoing edges start at zero, so the function is unchanged."""
    type = "expand_width"

    def __init__(self, level: int, n_new: int = 1, kind: str = "sum", arity: int = 2, seed: int = 0,
                 label: Optional[str] = None):
        super().__init__(label)
        self.level, self.n_new, self.kind = int(level), int(n_new), str(kind)
        self.arity, self.seed = int(arity), int(seed)

    def default_label(self) -> str:
        return f"Add {self.n_new} {self.kind} node(s) at level {self.level}"

    def _gather(self, project):
        if project.model is None:
            raise CommandError(f"{self.label}: there is no model yet (fit one first)")
        return {"model": project.model.copy()}

    def _compute(self, inputs, progress, cancel):
        from ..model import expand_width
        return expand_width(inputs["model"], self.level, self.n_new, self.kind, self.arity, self.seed)

    def params(self) -> dict:
        return {"level": self.level, "n_new": self.n_new, "kind": self.kind, "arity": self.arity,
                "seed": self.seed}

    @classmethod
    def from_json(cls, d):
        return cls(int(d["level"]), int(d.get("n_new", 1)), str(d.get("kind", "sum")),
                   int(d.get("arity", 2)), int(d.get("seed", 0)))


@register_command
class ExpandDepth(ComputedCommand):
    """Add a layer on top whose edges start as the identity (same function)."""
    type = "expand_depth"

    def default_label(self) -> str:
        return "Add a layer"

    def _compute(self, inputs, progress, cancel):
        from ..model import expand_depth
        return expand_depth(inputs["model"], inputs["x"])


@register_command
class AutoSwap(ComputedCommand):
    """Reorder hidden nodes to lower the connection cost (same function)."""
    type = "auto_swap"

    def __init__(self, label: Optional[str] = None):
        super().__init__(label)
        self.perms: Optional[list] = None

    def default_label(self) -> str:
        return "Auto-swap hidden nodes"

    def _compute(self, inputs, progress, cancel):
        from ..science import auto_swap
        model, perms = auto_swap(inputs["model"], inputs["x"])
        self.perms = [[int(v) for v in p] for p in perms]
        return model

    def params(self) -> dict:
        return {"perms": self.perms}
