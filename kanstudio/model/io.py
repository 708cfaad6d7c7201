"""Saving and loading models: a safetensors file whose metadata holds the
model description as JSON and a SHA-256 of the tensors.  No pickle anywhere:
loading a file can never run code.  Every problem becomes a ModelFileError
naming what is wrong, and the description is checked completely -- sizes
against the limits and against the tensors the file really holds, function
names against the library -- before anything is allocated."""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load, save as st_save

from ..errors import ModelFileError
from . import limits
from .network import KAN, SCHEMA_VERSION
from .functions import UnknownFunctionError, get_function

_META_KEY = "kanstudio_model"
MAX_NAME = 1000       # characters in one input/output/function name


@dataclass(frozen=True)
class Scaling:
    """The data's normalisation a model was trained under (x_norm = (x - x_mean) /
    x_scale, y likewise) and the columns' names: with it a .kan file predicts and
    writes its formula in the data's own units."""
    input_names: tuple
    target_names: tuple
    x_mean: tuple
    x_scale: tuple
    y_mean: tuple
    y_scale: tuple

    @classmethod
    def of(cls, dataset) -> "Scaling":
        return cls(tuple(dataset.input_names), tuple(dataset.target_names),
                   *(tuple(float(v) for v in getattr(dataset, a)) for a in ("x_mean", "x_scale", "y_mean", "y_scale")))

    def as_dict(self) -> dict:
        return {k: list(getattr(self, k)) for k in self.__dataclass_fields__}

    @classmethod
    def from_dict(cls, d, model: KAN, source: str) -> "Scaling":
        bad = ModelFileError(f"{source}: the stored data scaling is damaged")
        if not isinstance(d, dict):
            raise bad
        sizes = {"input_names": model.n_inputs, "x_mean": model.n_inputs, "x_scale": model.n_inputs,
                 "target_names": model.n_outputs, "y_mean": model.n_outputs, "y_scale": model.n_outputs}
        out = {}
        for key, n in sizes.items():
            v = d.get(key)
            if not isinstance(v, list) or len(v) != n:
                raise bad
            if key.endswith("names"):
                if not all(isinstance(x, str) and 0 < len(x) <= MAX_NAME for x in v):
                    raise bad
            elif not all(isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)
                         and (x > 0 or not key.endswith("scale")) for x in v):
                raise bad
            out[key] = tuple(v)
        return cls(**out)

    def empty_dataset(self):
        """A Dataset with these columns and this scaling but no rows (what a model
        file knows of the data it was fitted on)."""
        import numpy as np
        from ..data import Dataset
        n_in, n_out = len(self.input_names), len(self.target_names)
        return Dataset(list(self.input_names), list(self.target_names), np.empty((0, n_in)), np.empty((0, n_out)),
                       train_idx=np.empty(0, dtype=int), test_idx=np.empty(0, dtype=int),
                       x_mean=np.asarray(self.x_mean), x_scale=np.asarray(self.x_scale),
                       y_mean=np.asarray(self.y_mean), y_scale=np.asarray(self.y_scale))


def _digest(meta: dict, tensors: dict) -> str:
    """SHA-256 over the description (canonical JSON) and the tensors in name order
    (name, dtype, shape, bytes): a flipped bit anywhere that matters is caught.
    The data scaling counts where the file has one (older files have none)."""
    h = hashlib.sha256()
    keys = ("description", "requires_grad") + (("scaling",) if "scaling" in meta else ())
    h.update(json.dumps({k: meta.get(k) for k in keys}, sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous().reshape(-1)
        h.update(f"|{name}|{t.dtype}|{tuple(tensors[name].shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def to_bytes(model: KAN, scaling: Optional[Scaling] = None) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    trainable = {n: p.requires_grad for n, p in model.named_parameters()}
    meta = {"description": model.description(), "requires_grad": trainable}
    if scaling is not None:
        meta["scaling"] = scaling.as_dict()
    meta["sha256"] = _digest(meta, tensors)
    return st_save(tensors, metadata={_META_KEY: json.dumps(meta)})


def from_bytes(data: bytes, device="cpu", source: str = "model data") -> KAN:
    return read_bytes(data, device, source)[0]


def read_bytes(data: bytes, device="cpu", source: str = "model data") -> tuple[KAN, Optional[Scaling]]:
    """The model and, where the file stores one, the data scaling it was fitted under."""
    try:
        tensors = st_load(data)
        meta_raw = _read_metadata(data)
    except (SafetensorError, ValueError, OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise ModelFileError(f"{source} is not a readable kanstudio model (corrupt or truncated): {exc}") from None
    if meta_raw is None:
        raise ModelFileError(f"{source} is a safetensors file but not a kanstudio model (no model description)")
    try:
        meta = json.loads(meta_raw)
        desc = meta["description"]
    except (json.JSONDecodeError, KeyError, TypeError, RecursionError):
        raise ModelFileError(f"{source}: the model description is damaged") from None
    if not isinstance(meta, dict) or not isinstance(desc, dict):
        raise ModelFileError(f"{source}: the model description is damaged")
    schema = desc.get("schema")
    if not isinstance(schema, int) or isinstance(schema, bool) or schema > SCHEMA_VERSION:
        raise ModelFileError(f"{source} was written by a newer kanstudio (model schema {schema}, "
                             f"this version reads up to {SCHEMA_VERSION}); please update kanstudio")
    digest = meta.get("sha256")
    if digest is not None and digest != _digest(meta, tensors):
        raise ModelFileError(f"{source} was modified or damaged after it was saved (its checksum does not match)")
    _check_description(desc, tensors, source)
    try:
        model = KAN.from_description(desc, device=device)
    except (KeyError, TypeError, ValueError, OverflowError) as exc:
        raise ModelFileError(f"{source}: invalid model description ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ModelFileError(f"{source}: tensors do not match the description (missing: {missing[:3]}, "
                             f"unexpected: {extra[:3]})")
    for name, ref in expected.items():
        t = tensors[name]
        if tuple(t.shape) != tuple(ref.shape):
            raise ModelFileError(f"{source}: tensor '{name}' has shape {tuple(t.shape)}, "
                                 f"expected {tuple(ref.shape)}")
        if t.dtype != ref.dtype:
            raise ModelFileError(f"{source}: tensor '{name}' has dtype {t.dtype}, expected {ref.dtype}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ModelFileError(f"{source}: tensor '{name}' contains NaN or infinite values")
    _check_symbolic(desc, tensors, source)
    model.load_state_dict({k: v.to(device) for k, v in tensors.items()})
    trainable = meta.get("requires_grad", {})
    trainable = trainable if isinstance(trainable, dict) else {}
    for n, p in model.named_parameters():
        p.requires_grad_(bool(trainable.get(n, p.requires_grad)))
    model.invalidate()
    scaling = Scaling.from_dict(meta["scaling"], model, source) if "scaling" in meta else None
    return model, scaling


def _check_description(desc: dict, tensors: dict, source: str) -> None:
    """Every field a model is built from, checked before it is built: types, the
    limits (model/limits.py), and sizes against the tensors the file really holds
    -- a description claiming more than that is refused before allocating it."""
    def bad(what):
        return ModelFileError(f"{source}: invalid model description ({what})")
    for key in ("width", "grid", "k", "mult_arity"):
        if key not in desc:
            raise bad(f"no '{key}'")
    try:
        limits.network_bytes(desc["width"], desc["grid"], desc["k"])
        width = limits.normalize_width(desc["width"])
    except (limits.ResourceLimitError, TypeError, ValueError, OverflowError) as exc:
        raise bad(exc) from None
    depth = len(width) - 1
    grids = desc.get("layer_grids", [desc["grid"]] * depth)
    if not isinstance(grids, list) or len(grids) != depth:
        raise bad("'layer_grids' does not match the width")
    for g in grids:
        if isinstance(g, bool) or not isinstance(g, int) or not 1 <= g <= limits.MAX_GRID:
            raise bad(f"layer grid {g!r} out of range 1..{limits.MAX_GRID}")
    k = desc["k"]
    claimed = sum(sum(width[l]) * sum(width[l + 1]) * (g + k) for l, g in enumerate(grids))
    held = sum(t.numel() for t in tensors.values())
    if claimed > held:
        raise bad(f"it describes {claimed} spline coefficients, the file holds {held} numbers")
    gr = desc.get("grid_range", [-1, 1])
    if (not isinstance(gr, (list, tuple)) or len(gr) != 2
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in gr)
            or not gr[0] < gr[1]):
        raise bad(f"grid range {gr!r}")
    if desc.get("dtype", "float64") not in ("float32", "float64"):
        raise bad(f"dtype {desc.get('dtype')!r}")
    arity = desc["mult_arity"]
    flat = [arity] if isinstance(arity, int) else [a for row in arity for a in row] \
        if isinstance(arity, list) and all(isinstance(r, list) for r in arity) else None
    if flat is None or not all(isinstance(a, int) and not isinstance(a, bool) and 2 <= a <= 64 for a in flat):
        raise bad(f"multiplication arity {str(arity)[:60]}")
    names = [desc.get("input_names", []), desc.get("output_names", [])]
    if not all(isinstance(ns, list) and all(isinstance(n, str) and len(n) <= MAX_NAME for n in ns) for ns in names):
        raise bad("input or output names")
    if names[0] and len(names[0]) != width[0][0] or names[1] and len(names[1]) != sum(width[-1]):
        raise bad("the number of input or output names does not match the width")
    sym = desc.get("sym_names", [[] for _ in range(depth)])
    if not isinstance(sym, list) or len(sym) != depth or not all(isinstance(s, list) for s in sym):
        raise bad("'sym_names' does not match the width")
    for layer in sym:
        for name in layer:
            if not isinstance(name, str) or len(name) > MAX_NAME:
                raise bad("a symbolic function name")
            try:
                get_function(name)
            except UnknownFunctionError:
                raise ModelFileError(f"{source}: an edge is fixed to the function {name[:60]!r}, which this "
                                     f"kanstudio does not know (register it first)") from None


def _check_symbolic(desc: dict, tensors: dict, source: str) -> None:
    """Each fixed edge's function index must name one of its layer's functions."""
    for l, names in enumerate(desc.get("sym_names", [])):
        idx = tensors.get(f"layers.{l}.sym_fn")
        if idx is None:
            continue
        if idx.numel() and (int(idx.min()) < -1 or int(idx.max()) >= len(names)):
            raise ModelFileError(f"{source}: layer {l} refers to a symbolic function that the file does not list")


def save(model: KAN, path, scaling: Optional[Scaling] = None) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(to_bytes(model, scaling))
    tmp.replace(path)  # atomic: a crash never leaves half a model behind


def load(path, device="cpu") -> KAN:
    return read(path, device)[0]


def read(path, device="cpu") -> tuple[KAN, Optional[Scaling]]:
    """The model of a .kan file and its data scaling (None where the file has none)."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    if path.stat().st_size > limits.memory_limit_bytes():
        raise ModelFileError(f"{path} is larger than any model kanstudio writes "
                             f"({path.stat().st_size / 2**30:.1f} GB)")
    return read_bytes(path.read_bytes(), device=device, source=str(path))


def _read_metadata(data: bytes):
    # safetensors layout: 8-byte little-endian header size, then a JSON header.
    if len(data) < 8:
        raise ValueError("file too short")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ValueError("header size out of range")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if meta is not None and not isinstance(meta, dict):
        raise ValueError("metadata is not a mapping")
    value = (meta or {}).get(_META_KEY)
    if value is not None and not isinstance(value, str):
        raise ValueError("model description is not text")
    return value
