"""What a project's ``settings`` and ``ui`` may hold, checked when a file is read.

A project file can come from anyone: a value of the wrong type or out of range
(grid = 10^9, steps = "many", a score mode nobody knows) must not reach the
training panel, the loss plot or a fit.  Each bad value is replaced by its
default and named in one note; unknown keys are dropped.  Nothing here raises:
a project with odd settings still opens, with its data and model intact.
"""
from __future__ import annotations

import math
from typing import Callable

from ..model import MAX_DEPTH, MAX_GRID, MAX_K, MAX_NODES, normalize_width, parse_width

__all__ = ["check_settings", "check_ui", "SCORE_MODES"]

SCORE_MODES = ("attribution", "activation")
MAX_STEPS = 1_000_000
MAX_SEED = 2**32 - 1


def _int(lo: int, hi: int) -> Callable:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi


def _float(lo: float, hi: float) -> Callable:
    return lambda v: (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
                      and lo <= v <= hi)


def _width(v) -> bool:
    if v in ("", None, []):
        return True
    try:
        w = normalize_width(parse_width(v) if isinstance(v, str) else v)
    except (TypeError, ValueError, RecursionError):
        return False
    return len(w) <= MAX_DEPTH and max(sum(a) for a in w) <= MAX_NODES


_SETTINGS = {
    "width": _width,
    "grid": _int(1, MAX_GRID),
    "k": _int(1, MAX_K),
    "optimizer": lambda v: v in ("lbfgs", "adam"),
    "steps": _int(1, MAX_STEPS),
    "lamb": _float(0.0, 1e3),
    "lr": _float(0.0, 1e6),
    "seed": _int(0, MAX_SEED),
    "device": lambda v: v in ("cpu", "cuda"),
    "dtype": lambda v: v in ("float64", "float32"),
    "update_grid": lambda v: isinstance(v, bool),
    "batch_size": lambda v: isinstance(v, int) and not isinstance(v, bool) and (v == -1 or 1 <= v <= 10**9),
    "digits": _int(1, 17),
}

MAX_RUNS = 10_000           # training runs in the loss plot ...
MAX_POINTS = 2_000_000      # ... and points in all of them


def _number_or_none(v) -> bool:
    return v is None or (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))


def _curves(v) -> bool:
    """The loss plot's runs (loss_plot.curves()): labels, start steps, and per
    step the train / test / penalty values (finite numbers or null)."""
    if v is None:
        return True
    if not isinstance(v, dict) or not _int(0, 10**9)(v.get("offset", 0)):
        return False
    runs = v.get("runs", [])
    if not isinstance(runs, list) or len(runs) > MAX_RUNS:
        return False
    points = 0
    for r in runs:
        if not (isinstance(r, dict) and isinstance(r.get("label", ""), str) and _int(0, 10**9)(r.get("start"))):
            return False
        steps = r.get("steps")
        if not isinstance(steps, list) or not all(_int(0, 10**9)(s) for s in steps):
            return False
        for key in ("train", "test", "reg"):
            vals = r.get(key)
            if not isinstance(vals, list) or len(vals) != len(steps) or not all(map(_number_or_none, vals)):
                return False
        points += len(steps)
        if points > MAX_POINTS:
            return False
    return True


_UI = {
    "training": lambda v: isinstance(v, dict),      # its values: check_ui checks them as settings
    "curves": _curves,
    "show_pruned": lambda v: isinstance(v, bool),
    "score_mode": lambda v: v in SCORE_MODES,
    "selected_edge": lambda v: v is None or (isinstance(v, list) and len(v) == 3 and all(_int(0, 10**6)(e) for e in v)),
    "pareto_choice": lambda v: v is None or _int(0, 10**6)(v),
    "digits": _int(1, 17),
}


def _check(values, rules: dict, defaults: dict, what: str) -> tuple[dict, list]:
    if not isinstance(values, dict):
        return dict(defaults), ([f"ignored the saved {what} (not a set of named values)"] if values is not None else [])
    out, bad = {}, []
    for key, value in values.items():
        ok = rules.get(key)
        if ok is None:
            continue                   # a key this version does not use
        if ok(value):
            out[key] = value
        else:
            text = repr(value)
            bad.append(f"{key}={text if len(text) <= 40 else text[:37] + '...'}")
    notes = [f"ignored invalid {what} ({', '.join(bad)}): the defaults are used"] if bad else []
    return {**defaults, **out}, notes


def check_settings(settings, defaults: dict) -> tuple[dict, list]:
    """(settings with every bad value replaced by its default, notes naming them)."""
    return _check(settings, _SETTINGS, defaults, "settings")


def check_ui(ui, defaults: dict) -> tuple[dict, list]:
    """(view state with every bad value replaced by its default, notes naming them)."""
    out, notes = _check(ui, _UI, defaults, "view settings")
    if "training" in out:
        out["training"], more = _check(out["training"], _SETTINGS, {}, "training-panel settings")
        notes += more
    return out, notes
