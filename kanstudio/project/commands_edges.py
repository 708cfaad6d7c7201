"""Structural and symbolic edits: prune, fix/unfix symbolic, auto-symbolic,
grid refinement.  See ``commands`` for the undo and worker pattern.

The engine's pruning/symbolic modules are imported inside the methods, so
this module loads even before those exist and stays cheap to import."""
from __future__ import annotations

import math
from typing import Optional, Sequence

from ..defaults import (EDGE_TH, NODE_TH, RETRAIN_LAMB, SYMBOLIC_ENGINE_SECONDS, SYMBOLIC_REFIT_STEPS,
                        WEIGHT_SIMPLE)
from .commands import (CommandError, ComputedCommand, ModelCommand, _train_x, edge_name,
                       node_name, register_command)

__all__ = ["PruneEdge", "PruneNode", "AutoPrune", "FixSymbolic", "Unfix", "AutoSymbolic",
           "RefineGrid"]


def _edge(d: dict) -> tuple[int, int, int]:
    return int(d["layer"]), int(d["i"]), int(d["j"])


def _train_x_or_none(project):
    return project.dataset.tensors("train")[0] if project.dataset is not None else None


def _fmt(v: float) -> str:
    return f"{v:.3g}"


@register_command
class PruneEdge(ModelCommand):
    """Mask one edge (i of level ``layer`` -> subnode j of the next level)."""
    type = "prune_edge"

    def __init__(self, layer: int, i: int, j: int, label: Optional[str] = None):
        super().__init__(label)
        self.layer, self.i, self.j = int(layer), int(i), int(j)
        self._name = f"({self.layer},{self.i},{self.j})"

    def default_label(self) -> str:
        return f"Prune edge {self._name}"

    def _label_from(self, model):
        self._name = edge_name(model, self.layer, self.i, self.j)

    def _edit(self, project, model):
        model.set_edge_mask(self.layer, self.i, self.j, 0.0)
        return model

    def params(self) -> dict:
        return {"layer": self.layer, "i": self.i, "j": self.j}

    @classmethod
    def from_json(cls, d):
        return cls(*_edge(d))


@register_command
class FixSymbolic(ModelCommand):
    """Fix an edge to c*f(a*x+b)+d.  ``params=None``: (a,b,c,d) are fitted to
    the edge's values over the training rows (``prepare`` does that fit off
    the UI thread); the fitted parameters are kept, so redo and replay are
    exact and instant."""
    type = "fix_symbolic"

    def __init__(self, layer: int, i: int, j: int, name: str, params: Optional[Sequence[float]] = None,
                 label: Optional[str] = None, r2: Optional[float] = None):
        super().__init__(label)
        self.layer, self.i, self.j = int(layer), int(i), int(j)
        self.name = str(name)
        self.fn_params = None if params is None else tuple(float(p) for p in params)
        if self.fn_params is not None and (len(self.fn_params) != 4
                                           or not all(math.isfinite(p) for p in self.fn_params)):
            raise ValueError("params must be four finite numbers (a, b, c, d)")
        self.r2 = None if r2 is None else float(r2)
        self._edge_label = f"({self.layer},{self.i},{self.j})"

    def default_label(self) -> str:
        return f"Fix edge {self._edge_label} to {self.name}"

    def _label_from(self, model):
        self._edge_label = edge_name(model, self.layer, self.i, self.j)

    def _fit(self, model, x) -> None:
        from ..symbolic import fix
        cand = fix(model, x, self.layer, self.i, self.j, self.name)
        self.name = cand.name
        self.fn_params = tuple(float(p) for p in cand.params)
        self.r2 = float(cand.r2)

    @property
    def computed(self) -> bool:
        return self.fn_params is not None

    def begin(self, project) -> None:
        """UI thread, cheap: copy the model and the training rows for ``run``."""
        if project.model is None:
            raise CommandError(f"{self.label}: there is no model yet (fit one first)")
        if self._label is None:
            self._label_from(project.model)
        self._inputs = (project.model.copy(), _train_x(project)) if self.fn_params is None else None

    def run(self, progress=None, cancel=None) -> None:
        """Worker thread: fit (a, b, c, d) on the copy made by ``begin``."""
        inputs, self._inputs = getattr(self, "_inputs", None), None
        if inputs is not None:
            self._fit(*inputs)

    def prepare(self, project, progress=None, cancel=None) -> None:
        if self.fn_params is None:
            self.begin(project)
            self.run(progress, cancel)

    def _edit(self, project, model):
        if self.fn_params is None:
            self._fit(model, _train_x(project))     # fits and fixes in one go
        else:
            from ..model import get_function
            try:
                self.name = get_function(self.name).name      # canonical name; unknown ones refused
            except (KeyError, ValueError) as exc:
                raise CommandError(str(exc)) from None
            model.fix_symbolic(self.layer, self.i, self.j, self.name, self.fn_params)
        return model

    def params(self) -> dict:
        return {"layer": self.layer, "i": self.i, "j": self.j, "name": self.name,
                "params": None if self.fn_params is None else list(self.fn_params), "r2": self.r2}

    @classmethod
    def from_json(cls, d):
        return cls(*_edge(d), str(d["name"]), d.get("params"), r2=d.get("r2"))


@register_command
class Unfix(ModelCommand):
    """Return a symbolic edge to its learned spline."""
    type = "unfix"

    def __init__(self, layer: int, i: int, j: int, label: Optional[str] = None):
        super().__init__(label)
        self.layer, self.i, self.j = int(layer), int(i), int(j)
        self._edge_label = f"({self.layer},{self.i},{self.j})"
        self.previous: Optional[str] = None   # the function the edge had (for the label)

    def default_label(self) -> str:
        was = f" (was {self.previous})" if self.previous else ""
        return f"Unfix edge {self._edge_label}{was}"

    def _label_from(self, model):
        self._edge_label = edge_name(model, self.layer, self.i, self.j)
        try:
            self.previous = model.layers[self.layer].symbolic_name(self.i, self.j)
        except (IndexError, AttributeError):
            self.previous = None

    def _edit(self, project, model):
        model.unfix_symbolic(self.layer, self.i, self.j)
        return model

    def params(self) -> dict:
        return {"layer": self.layer, "i": self.i, "j": self.j, "previous": self.previous}

    @classmethod
    def from_json(cls, d):
        cmd = cls(*_edge(d))
        cmd.previous = d.get("previous")
        return cmd


@register_command
class PruneNode(ComputedCommand):
    """Remove one hidden node (a new, smaller network; what it fed on average
    is folded into the downstream biases when data is available)."""
    type = "prune_node"

    def __init__(self, level: int, node: int, label: Optional[str] = None):
        super().__init__(label)
        self.level, self.node = int(level), int(node)
        self._node_label = f"{self.node} of level {self.level}"

    def default_label(self) -> str:
        return f"Prune node {self._node_label}"

    def _label_from(self, model):
        self._node_label = node_name(model, self.level, self.node)

    def _gather(self, project):
        if project.model is None:
            raise CommandError(f"{self.label}: there is no model yet (fit one first)")
        return {"model": project.model.copy(), "x": _train_x_or_none(project)}

    def _compute(self, inputs, progress, cancel):
        from ..science import prune_node
        return prune_node(inputs["model"], self.level, self.node, inputs["x"])

    def params(self) -> dict:
        return {"level": self.level, "node": self.node}

    @classmethod
    def from_json(cls, d):
        return cls(int(d["level"]), int(d["node"]))


@register_command
class AutoPrune(ComputedCommand):
    """Drop hidden nodes scoring <= node_th, then mask edges scoring <= edge_th.
    With ``one_node``, a one-hidden-layer network left with several hidden
    nodes is also tried through a single one, y = g(sum phi_i(x_i)), or a
    single multiplication node, y = g(prod phi_i(x_i)) (``product_node``), each
    refitted without the penalty: as good on the held-out rows, the single node
    is kept (science.prune.one_hidden_node)."""
    type = "auto_prune"

    def __init__(self, node_th: float = NODE_TH, edge_th: float = EDGE_TH, label: Optional[str] = None,
                 one_node: bool = True, product_node: bool = True):
        super().__init__(label)
        self.node_th, self.edge_th = float(node_th), float(edge_th)
        self.one_node = bool(one_node)
        self.product_node = bool(product_node)
        self.summary: Optional[dict] = None

    def _gather(self, project) -> dict:
        inputs = super()._gather(project)
        if self.one_node and project.dataset is not None:
            from .commands_model import fit_config
            inputs["dataset"] = project.dataset
            inputs["config"] = fit_config(project.settings, steps=SYMBOLIC_REFIT_STEPS, lamb=RETRAIN_LAMB,
                                          update_grid=True)
        return inputs

    def default_label(self) -> str:
        s = self.summary
        if s:
            merged = s.get("one_node")
            node = "one multiplication node" if merged and merged.get("kind") == "product" else "one hidden node"
            more = (f"; {node} does the work of {merged['hidden_nodes']}"
                    if merged and merged.get("used") else "")
            return f"Auto-prune ({s['edges_before']} → {s['edges_after']} edges{more})"
        return f"Auto-prune (nodes ≤ {_fmt(self.node_th)}, edges ≤ {_fmt(self.edge_th)})"

    def _compute(self, inputs, progress, cancel):
        from ..science import auto_prune, one_hidden_node, prune_edges_below
        model = inputs["model"]
        if progress:
            progress(-1.0, "Pruning…")
        new = auto_prune(model, inputs["x"], node_th=self.node_th, edge_th=self.edge_th)
        merged = None
        if inputs.get("config") is not None:
            ds = inputs["dataset"]
            (x, y), (xt, yt) = ds.tensors("train"), ds.tensors("test")
            if progress:
                progress(-1.0, "Trying one hidden node…")
            one, info = one_hidden_node(new, x, y, xt, yt, inputs["config"], cancel, product=self.product_node)
            if info:
                merged = {**info, "used": one is not None}
            if one is not None:
                prune_edges_below(one, x, self.edge_th)
                new = one
        self.summary = {"edges_before": model.edge_count(), "edges_after": new.edge_count(),
                        "width_before": model.width, "width_after": new.width, "one_node": merged}
        return new

    def params(self) -> dict:
        return {"node_th": self.node_th, "edge_th": self.edge_th, "one_node": self.one_node,
                "product_node": self.product_node, "summary": self.summary}

    @classmethod
    def from_json(cls, d):
        # projects from before the one-node test (or its multiplication node)
        # replay as they were made: without it
        cmd = cls(float(d.get("node_th", NODE_TH)), float(d.get("edge_th", EDGE_TH)),
                  one_node=bool(d.get("one_node", False)), product_node=bool(d.get("product_node", False)))
        cmd.summary = d.get("summary") if isinstance(d.get("summary"), dict) else None
        return cmd


@register_command
class AutoSymbolic(ComputedCommand):
    """Fix every alive numeric edge to the library function that serves the
    whole network best (its loss on the training rows, simplest among near
    ties); an edge that no function fits stays numeric and is listed in
    ``skipped``.  First the network is refitted ``refit_steps`` steps without
    the sparsity penalty (``defaults.SYMBOLIC_REFIT_STEPS``; 0: read the edges
    as they are), so each edge is read at its true shape, not the shrunken one
    the penalty left.  An edge no library function serves goes to the symbolic
    engine for ``engine_seconds`` (``defaults.SYMBOLIC_ENGINE_SECONDS``; 0: it
    stays numeric); the formula it finds is judged the same way and, when it
    serves, fixed as a function named by its own text."""
    type = "auto_symbolic"

    def __init__(self, lib: Optional[Sequence[str]] = None, weight_simple: float = WEIGHT_SIMPLE,
                 r2_threshold: float = 0.0, label: Optional[str] = None,
                 refit_steps: int = SYMBOLIC_REFIT_STEPS, engine_seconds: float = SYMBOLIC_ENGINE_SECONDS):
        super().__init__(label)
        self.lib = None if lib is None else [str(n) for n in lib]
        self.weight_simple, self.r2_threshold = float(weight_simple), float(r2_threshold)
        self.refit_steps = max(0, int(refit_steps))
        self.engine_seconds = max(0.0, float(engine_seconds))
        self.engine_note: Optional[str] = None     # why the engine did not run, when it did not
        self.fixed: Optional[list[dict]] = None    # [{"edge": [l,i,j], "name", "r2", "params"}]
        self.skipped: Optional[list[dict]] = None
        self.refit: Optional[dict] = None          # the refit's outcome (steps, RMSE)

    def _gather(self, project) -> dict:
        inputs = {**super()._gather(project), "y": project.dataset.tensors("train")[1]}
        if self.refit_steps:
            from .commands_model import fit_config
            inputs["dataset"] = project.dataset
            inputs["config"] = fit_config(project.settings, steps=self.refit_steps, lamb=RETRAIN_LAMB,
                                          update_grid=False)
        return inputs

    def default_label(self) -> str:
        if self.fixed is None:
            return "Auto-symbolic"
        n = len(self.fixed)
        return f"Auto-symbolic ({n} edge{'s' if n != 1 else ''} fixed)"

    def _compute(self, inputs, progress, cancel):
        from ..symbolic import auto_symbolic, numeric_edges
        model = inputs["model"]
        if inputs.get("config") is not None and numeric_edges(model):
            from .commands_model import train_rows
            self.refit = train_rows(model, inputs, inputs["config"], progress, cancel, None)
            if self.refit["reason"] == "cancelled":
                return model            # the worker drops a cancelled command's result
        if progress:
            progress(-1.0, "Fitting symbolic functions…")
        # each edge's function chosen by the whole network's loss on the training rows
        res = auto_symbolic(model, inputs["x"], lib=self.lib, weight_simple=self.weight_simple,
                            r2_threshold=self.r2_threshold, y=inputs.get("y"),
                            search=self._engine(progress, cancel))

        def rec(entry):
            l, i, j, c = entry
            return {"edge": [int(l), int(i), int(j)], "name": c.name, "r2": float(c.r2),
                    "params": [float(p) for p in c.params]}
        self.fixed = [rec(e) for e in res]
        self.skipped = [rec(e) for e in getattr(res, "skipped", [])]
        return model

    def _engine(self, progress, cancel):
        """The symbolic engine's search for edges the library leaves numeric, or None."""
        if self.engine_seconds <= 0:
            return None
        from ..discovery import edge_search
        stop = (cancel.is_set if hasattr(cancel, "is_set") else cancel) if cancel is not None else None
        search = edge_search(self.engine_seconds, stop=stop)
        if search is None:
            self.engine_note = "the symbolic engine (pyoperon) is not installed here: library functions only"
            return None

        def announced(x, values):
            if progress:
                progress(-1.0, "No library function fits an edge: searching a formula for it…")
            return search(x, values)
        return announced

    def params(self) -> dict:
        return {"lib": self.lib, "weight_simple": self.weight_simple, "r2_threshold": self.r2_threshold,
                "refit_steps": self.refit_steps, "engine_seconds": self.engine_seconds, "refit": self.refit,
                "fixed": self.fixed, "skipped": self.skipped, "engine_note": self.engine_note}

    @classmethod
    def from_json(cls, d):
        lib = d.get("lib")
        # projects from before the refit (or the engine) replay as they were made: without it
        cmd = cls(None if lib is None else list(lib), float(d.get("weight_simple", WEIGHT_SIMPLE)),
                  float(d.get("r2_threshold", 0.0)), refit_steps=int(d.get("refit_steps", 0)),
                  engine_seconds=float(d.get("engine_seconds", 0.0)))
        cmd.engine_note = d.get("engine_note") if isinstance(d.get("engine_note"), str) else None
        cmd.fixed = d.get("fixed") if isinstance(d.get("fixed"), list) else None
        cmd.skipped = d.get("skipped") if isinstance(d.get("skipped"), list) else None
        cmd.refit = d.get("refit") if isinstance(d.get("refit"), dict) else None
        return cmd


@register_command
class RefineGrid(ComputedCommand):
    """Grid extension to ``new_grid`` intervals, keeping the learned functions
    (coefficients fitted at the training rows)."""
    type = "refine_grid"

    def __init__(self, new_grid: int, label: Optional[str] = None):
        super().__init__(label)
        self.new_grid = int(new_grid)
        if self.new_grid < 1:
            raise ValueError("the grid needs at least 1 interval")
        self.old_grid: Optional[int] = None

    def default_label(self) -> str:
        old = f"{self.old_grid} → " if self.old_grid is not None else ""
        return f"Refine grid {old}{self.new_grid}"

    def _label_from(self, model):
        self.old_grid = int(model.grid_size)

    def _gather(self, project):
        if project.model is None:
            raise CommandError(f"{self.label}: there is no model yet (fit one first)")
        return {"model": project.model.copy(), "x": _train_x_or_none(project)}

    def _compute(self, inputs, progress, cancel):
        model, x = inputs["model"], inputs["x"]
        if x is not None:
            x = x.to(device=model.device, dtype=model.dtype)
        model.refine(self.new_grid, x)
        return model

    def params(self) -> dict:
        return {"new_grid": self.new_grid, "old_grid": self.old_grid}

    @classmethod
    def from_json(cls, d):
        cmd = cls(int(d["new_grid"]))
        cmd.old_grid = d.get("old_grid")
        return cmd
