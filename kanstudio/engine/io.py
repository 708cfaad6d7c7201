"""Saving and loading models: a safetensors file whose metadata holds the
model description as JSON.  No pickle anywhere: loading a file can never run
code, and every problem becomes a ValueError naming what is wrong."""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load, save as st_save

from .network import KAN, SCHEMA_VERSION

_META_KEY = "kanstudio_model"


def to_bytes(model: KAN) -> bytes:
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    trainable = {n: p.requires_grad for n, p in model.named_parameters()}
    meta = {"description": model.description(), "requires_grad": trainable}
    return st_save(tensors, metadata={_META_KEY: json.dumps(meta)})


def from_bytes(data: bytes, device="cpu", source: str = "model data") -> KAN:
    try:
        tensors = st_load(data)
        meta_raw = _read_metadata(data)
    except (SafetensorError, ValueError, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{source} is not a readable kanstudio model (corrupt or truncated): {exc}") from None
    if meta_raw is None:
        raise ValueError(f"{source} is a safetensors file but not a kanstudio model (no model description)")
    try:
        meta = json.loads(meta_raw)
        desc = meta["description"]
    except (json.JSONDecodeError, KeyError, TypeError):
        raise ValueError(f"{source}: the model description is damaged") from None
    schema = desc.get("schema")
    if not isinstance(schema, int) or schema > SCHEMA_VERSION:
        raise ValueError(f"{source} was written by a newer kanstudio (model schema {schema}, "
                         f"this version reads up to {SCHEMA_VERSION}); please update kanstudio")
    try:
        model = KAN.from_description(desc, device=device)
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{source}: invalid model description ({exc})") from None
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise ValueError(f"{source}: tensors do not match the description (missing: {missing[:3]}, "
                         f"unexpected: {extra[:3]})")
    for name, ref in expected.items():
        t = tensors[name]
        if tuple(t.shape) != tuple(ref.shape):
            raise ValueError(f"{source}: tensor '{name}' has shape {tuple(t.shape)}, "
                             f"expected {tuple(ref.shape)}")
        if t.dtype != ref.dtype:
            raise ValueError(f"{source}: tensor '{name}' has dtype {t.dtype}, expected {ref.dtype}")
        if t.is_floating_point() and not torch.isfinite(t).all():
            raise ValueError(f"{source}: tensor '{name}' contains NaN or infinite values")
    model.load_state_dict({k: v.to(device) for k, v in tensors.items()})
    for n, p in model.named_parameters():
        p.requires_grad_(bool(meta.get("requires_grad", {}).get(n, p.requires_grad)))
    model.invalidate()
    return model


def save(model: KAN, path) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(to_bytes(model))
    tmp.replace(path)  # atomic: a crash never leaves half a model behind


def load(path, device="cpu") -> KAN:
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"model file not found: {path}")
    return from_bytes(path.read_bytes(), device=device, source=str(path))


def _read_metadata(data: bytes):
    # safetensors layout: 8-byte little-endian header size, then a JSON header.
    if len(data) < 8:
        raise ValueError("file too short")
    n = int.from_bytes(data[:8], "little")
    if n <= 0 or 8 + n > len(data):
        raise ValueError("header size out of range")
    header = json.loads(data[8:8 + n].decode("utf-8"))
    return (header.get("__metadata__") or {}).get(_META_KEY)
