"""Whole-model commands: FitModel (a new network from the fit settings),
Retrain (continue training the current one) and SetModel (any model computed
elsewhere, e.g. by the GUI's own worker loop).  See ``commands`` for the undo
and worker pattern; both training commands are ``ComputedCommand``s whose
``run`` also accepts ``on_snapshot(snapshot, live_model)``, called from the
training generator between steps (the model is consistent there, so a GUI
worker may read it to draw curves)."""
from __future__ import annotations

from typing import Callable, Optional

from ..defaults import FIT_SETTINGS, RETRAIN_LAMB
from .commands import (CommandError, ComputedCommand, ModelState, register_command)

__all__ = ["FitModel", "Retrain", "SetModel", "FIT_DEFAULTS", "resolve_width", "fit_config"]

# Keys of the fit settings (the GUI's training panel uses the same names).
FIT_DEFAULTS = dict(FIT_SETTINGS)
_CONFIG_KEYS = ("steps", "optimizer", "lr", "lamb", "update_grid", "batch_size", "seed")


def resolve_width(width, n_in: int, n_out: int) -> list:
    """The width setting as a list; '' -> defaults.default_width.  Checks
    that the ends match the data (CommandError otherwise)."""
    from ..model import check_width
    if width in (None, "", []):
        from ..defaults import default_width
        width = default_width(n_in, n_out)
    try:
        w = check_width(width, n_in, n_out)
    except ValueError as exc:
        raise CommandError(f"the network does not fit the data: {exc}") from None
    return [a if b == 0 else [a, b] for a, b in w]


def fit_config(settings: dict, **overrides):
    """engine FitConfig from fit settings (lr 0 or None = the optimiser's default)."""
    from ..training import FitConfig
    merged = {**FIT_DEFAULTS, **(settings or {}), **{k: v for k, v in overrides.items() if v is not None}}
    kw = {k: merged[k] for k in _CONFIG_KEYS}
    kw["lr"] = float(kw["lr"]) if kw["lr"] else None
    kw["steps"], kw["batch_size"], kw["seed"] = int(kw["steps"]), int(kw["batch_size"]), int(kw["seed"])
    kw["lamb"], kw["update_grid"] = float(kw["lamb"]), bool(kw["update_grid"])
    try:
        return FitConfig(**kw)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _check_device(device: str) -> str:
    from ..model import check_device
    try:
        return check_device(device)
    except ValueError as exc:
        raise CommandError(str(exc)) from None


def _data_tensors(project) -> dict:
    # The dataset itself (edits replace it, never change it): the tensors are
    # made on the worker, so pressing Fit never imports torch on the UI thread.
    ds = project.dataset
    if ds is None:
        raise CommandError("open a dataset before training")
    return {"dataset": ds}


def train_rows(model, data: dict, cfg, progress, cancel, on_snapshot) -> dict:
    """Train ``model`` on the dataset's training rows (test rows for the test
    RMSE); the outcome as JSON: reason, steps, RMSEs, seconds."""
    from ..training import fit_steps
    ds = data["dataset"]
    (x, y), (xt, yt) = ds.tensors("train"), ds.tensors("test")
    last = None
    for snap in fit_steps(model, x, y, xt, yt, cfg, cancel):
        last = snap
        if progress is not None and not snap.done:
            progress(snap.step / max(1, snap.total_steps),
                     f"step {snap.step} / {snap.total_steps}, train RMSE {snap.train_rmse:.4g}")
        if on_snapshot is not None:
            on_snapshot(snap, model)
    return {"reason": last.reason or "completed", "steps": int(last.step), "total_steps": int(last.total_steps),
            "train_rmse": _finite(last.train_rmse), "test_rmse": _finite(last.test_rmse),
            "seconds": round(float(last.seconds), 3)}


def _finite(v):
    import math
    return float(v) if v is not None and math.isfinite(v) else None


def _outcome(result: Optional[dict]) -> str:
    if not result:
        return ""
    reason = result.get("reason", "completed")
    if reason == "cancelled":
        return f", stopped at step {result['steps']} of {result['total_steps']}"
    if reason.startswith("diverged"):
        return f", diverged at step {result['steps'] + 1}"
    return ""


def _width_text(width) -> str:
    return ",".join(str(w) if isinstance(w, int) else f"[{w[0]},{w[1]}]" for w in width)


@register_command
class FitModel(ComputedCommand):
    """Build a new network from the fit settings and train it on the training
    rows.  ``settings`` overrides ``project.settings`` (keys of FIT_DEFAULTS);
    the resolved settings are kept for the history / replay."""
    type = "fit"
    needs_model = False

    def __init__(self, settings: Optional[dict] = None, label: Optional[str] = None):
        super().__init__(label)
        self.settings = dict(settings or {})
        self.result: Optional[dict] = None

    def default_label(self) -> str:
        s = {**FIT_DEFAULTS, **self.settings}
        width = _width_text(s["width"]) if isinstance(s["width"], list) else (s["width"] or "default")
        return f"Fit [{width}] ({s['steps']} {str(s['optimizer']).upper()} steps{_outcome(self.result)})"

    def _gather(self, project):
        data = _data_tensors(project)
        s = {**FIT_DEFAULTS, **{k: v for k, v in project.settings.items() if k in FIT_DEFAULTS},
             **self.settings}
        ds = project.dataset
        s["width"] = resolve_width(s["width"], len(ds.input_names), len(ds.target_names))
        s["device"] = _check_device(s["device"])
        self.settings = s
        return {**data, "names": (list(ds.input_names), list(ds.target_names)),
                "config": fit_config(s)}

    def _compute(self, inputs, progress, cancel, on_snapshot: Optional[Callable] = None):
        from ..model import KAN
        s = self.settings
        try:
            model = KAN(s["width"], grid=int(s["grid"]), k=int(s["k"]), seed=int(s["seed"]),
                        dtype=s.get("dtype", "float64"), device=s["device"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        model.set_names(*inputs["names"])
        self.result = train_rows(model, inputs, inputs["config"], progress, cancel, on_snapshot)
        return model

    def params(self) -> dict:
        return {"settings": self.settings, "result": self.result}

    @classmethod
    def from_json(cls, d):
        settings = d.get("settings") or {}
        if not isinstance(settings, dict):
            raise TypeError("settings must be an object")
        cmd = cls(settings)
        cmd.result = d.get("result") if isinstance(d.get("result"), dict) else None
        return cmd


@register_command
class Retrain(ComputedCommand):
    """Continue training the current model on the training rows.  Symbolic
    edges only train their (a, b, c, d): the engine masks the spline part of a
    fixed edge, so its spline parameters receive no gradient.  Unset options
    come from the project's fit settings, except ``update_grid``, off by
    default (the grid was already adapted by the first fit), and ``lamb``,
    ``defaults.RETRAIN_LAMB`` (the KAN loop retrains its chosen structure
    without the sparsity penalty)."""
    type = "retrain"

    def __init__(self, steps: Optional[int] = None, optimizer: Optional[str] = None,
                 lr: Optional[float] = None, lamb: Optional[float] = RETRAIN_LAMB, update_grid: bool = False,
                 batch_size: Optional[int] = None, seed: Optional[int] = None, label: Optional[str] = None):
        super().__init__(label)
        self.options = {"steps": steps, "optimizer": optimizer, "lr": lr, "lamb": lamb,
                        "update_grid": bool(update_grid), "batch_size": batch_size, "seed": seed}
        self.result: Optional[dict] = None

    def default_label(self) -> str:
        steps = self.options.get("steps")
        what = f"{steps} steps" if steps is not None else "settings' steps"
        return f"Retrain ({what}{_outcome(self.result)})"

    def _gather(self, project):
        if project.model is None:
            raise CommandError("Retrain: there is no model yet (fit one first)")
        data = _data_tensors(project)
        cfg = fit_config(project.settings, **self.options)
        self.options = {k: getattr(cfg, k) for k in _CONFIG_KEYS}
        return {**data, "model": project.model.copy(), "config": cfg}

    def _compute(self, inputs, progress, cancel, on_snapshot: Optional[Callable] = None):
        model = inputs["model"]
        self.result = train_rows(model, inputs, inputs["config"], progress, cancel, on_snapshot)
        return model

    def params(self) -> dict:
        return {"options": self.options, "result": self.result}

    @classmethod
    def from_json(cls, d):
        opts = d.get("options") or {}
        if not isinstance(opts, dict):
            raise TypeError("options must be an object")
        known = {k: opts.get(k) for k in _CONFIG_KEYS}
        cmd = cls(**{k: v for k, v in known.items() if v is not None})
        cmd.result = d.get("result") if isinstance(d.get("result"), dict) else None
        return cmd


@register_command
class SetModel(ComputedCommand):
    """Replace the model by one computed elsewhere (a worker thread, the
    discovery pipeline, a loaded file).  ``model=None`` removes the model.
    ``kind`` and ``params`` describe where it came from, for the history.
    Rebuilt from JSON it has no model and cannot be replayed."""
    type = "set_model"
    needs_model = False

    def __init__(self, label: str = "Replace model", model=None, kind: str = "set_model",
                 params: Optional[dict] = None, *, after_bytes: Optional[bytes] = None):
        super().__init__(label)
        self.kind, self.extra = str(kind), dict(params or {})
        if after_bytes is not None:
            self._after = ModelState(bytes(after_bytes), str(model.device) if model is not None else "cpu")
        elif model is not None or kind != "replay":
            self._after = ModelState.capture(model)

    def _gather(self, project):
        raise CommandError(f"'{self.label}' was loaded from a history record: the model it set "
                           "is not stored, so it cannot be replayed")

    def params(self) -> dict:
        return {"kind": self.kind, "params": self.extra}

    @classmethod
    def from_json(cls, d):
        extra = d.get("params") or {}
        if not isinstance(extra, dict):
            raise TypeError("params must be an object")
        cmd = cls(str(d.get("label") or "Replace model"), None, "replay", extra)
        cmd.kind = str(d.get("kind", "set_model"))
        return cmd
