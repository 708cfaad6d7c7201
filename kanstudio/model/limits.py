"""How big a network kanstudio builds, and how much memory it may take.

Every size that comes from outside (a file, an option, a table's width) is
checked here before anything is allocated: a description claiming grid = 10^9
is refused in microseconds instead of after 17 GB.  The memory estimate is
deliberately rough (within a factor of about two of the measured peak): its job
is to turn "killed by the OS" into one readable sentence.
"""
from __future__ import annotations

import os

from ..errors import ResourceLimitError
from .width import normalize_width

__all__ = ["MAX_GRID", "MAX_K", "MAX_NODES", "MAX_DEPTH", "memory_limit_bytes", "network_bytes",
           "training_bytes", "check_network", "check_training"]

MAX_GRID = 1000        # spline intervals per edge (the KAN papers use up to 200)
MAX_K = 10             # spline order (3 is the default; higher is numerically unhelpful)
MAX_NODES = 100_000    # nodes in one layer
MAX_DEPTH = 64         # layers
LBFGS_HISTORY = 10     # pairs of parameter-sized vectors LBFGS keeps (training/lbfgs.py)
DEFAULT_MEMORY_GB = 4.0
MEMORY_ENV = "KANSTUDIO_MEMORY_GB"   # the user's own cap, in GB


def memory_limit_bytes() -> int:
    """The most memory one network and its training may take: KANSTUDIO_MEMORY_GB
    if set, else 4 GB."""
    raw = os.environ.get(MEMORY_ENV, "")
    try:
        gb = float(raw) if raw else DEFAULT_MEMORY_GB
    except ValueError:
        gb = DEFAULT_MEMORY_GB
    return int(max(0.1, gb) * 2**30)


def _layers(width):
    w = normalize_width(width)
    return [(sum(w[l]), sum(w[l + 1])) for l in range(len(w) - 1)]


def _check_shape(width, grid, k) -> list:
    for name, v, hi in (("grid", grid, MAX_GRID), ("k", k, MAX_K)):
        if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= hi:
            raise ResourceLimitError(f"{name} = {v!r} is out of range: use a whole number from 1 to {hi}")
    try:
        layers = _layers(width)
    except (TypeError, ValueError) as exc:
        raise ResourceLimitError(f"invalid width: {exc}") from None
    if len(layers) > MAX_DEPTH:
        raise ResourceLimitError(f"{len(layers)} layers is more than kanstudio builds ({MAX_DEPTH})")
    big = max(max(a, b) for a, b in layers)
    if big > MAX_NODES:
        raise ResourceLimitError(f"a layer of {big} nodes is more than kanstudio builds ({MAX_NODES})")
    return layers


def network_bytes(width, grid: int, k: int, itemsize: int = 8) -> int:
    """Bytes of a network's tensors: per edge its spline coefficients, two scales,
    two masks, the symbolic index and four symbolic parameters."""
    return sum(a * b * (grid + k + 9) for a, b in _check_shape(width, grid, k)) * itemsize


def training_bytes(width, grid: int, k: int, rows: int, itemsize: int = 8) -> int:
    """Rough peak of a fit on ``rows`` rows: the network, LBFGS's history and
    gradients (parameter-sized), and per row every layer's basis values and edge
    activations (kept for the backward pass)."""
    layers = _check_shape(width, grid, k)
    params = sum(a * b * (grid + k + 2) for a, b in layers)
    per_row = sum(a * (grid + k) + 3 * a * b for a, b in layers)
    return (network_bytes(width, grid, k, itemsize) + (2 * LBFGS_HISTORY + 4) * params * itemsize
            + int(rows) * per_row * itemsize)


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB"


def check_network(width, grid: int, k: int, what: str = "the network") -> None:
    """Refuse a network whose tensors alone would not fit the memory limit."""
    need = network_bytes(width, grid, k)
    if need > memory_limit_bytes():
        raise ResourceLimitError(f"{what} would need {_gb(need)} (width {normalize_width(width)}, grid {grid}, "
                                 f"k {k}); kanstudio allows {_gb(memory_limit_bytes())} "
                                 f"(set {MEMORY_ENV} to change it)")


def check_training(width, grid: int, k: int, rows: int) -> None:
    """Refuse a fit that would need more memory than the limit, before it starts."""
    need = training_bytes(width, grid, k, rows)
    if need > memory_limit_bytes():
        n_in = normalize_width(width)[0][0]
        hint = " (choose fewer input columns)" if n_in > 100 else " (use a smaller width or grid)"
        raise ResourceLimitError(f"fitting {n_in} inputs on {rows} rows with width {normalize_width(width)} and "
                                 f"grid {grid} would need about {_gb(need)}; kanstudio allows "
                                 f"{_gb(memory_limit_bytes())}{hint}; set {MEMORY_ENV} to change the limit")
