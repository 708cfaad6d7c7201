"""Training settings (``FitConfig``), torch-free so the GUI can check what
the user typed, and build the job, before the engine is imported."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

__all__ = ["FitConfig"]


@dataclass
class FitConfig:
    steps: int = 50
    optimizer: str = "lbfgs"            # "lbfgs" | "adam"
    lr: Optional[float] = None          # default: 1.0 (LBFGS), 1e-2 (Adam)
    lamb: float = 0.0                   # overall regularisation strength
    lamb_l1: float = 1.0
    lamb_entropy: float = 2.0
    # what the penalty measures on each edge: "activation", the spread of its
    # whole numeric activation (scale_base*silu + scale_sp*spline), as the KAN
    # reference's default does; "spline", the spread of the unscaled spline
    # alone (kanstudio's earlier penalty: compiled, but the scales and the SiLU
    # branch escape it, so a fit with lambda stays dense)
    reg_metric: str = "activation"
    update_grid: bool = True
    grid_update_num: int = 10           # grid updates during the first part of training
    stop_grid_update_step: int = 50
    grid_eps: float = 0.02
    batch_size: int = -1                # -1: full batch
    seed: int = 0
    snapshot_every: int = 1
    lbfgs_max_iter: int = 20
    lbfgs_history: int = 10
    engine: str = "auto"                # "auto": compiled kernels where they apply | "torch": autograd only

    def __post_init__(self):
        if self.optimizer not in ("lbfgs", "adam"):
            raise ValueError(f"unknown optimizer {self.optimizer!r}: use 'lbfgs' or 'adam'")
        if self.reg_metric not in ("activation", "spline"):
            raise ValueError(f"unknown reg_metric {self.reg_metric!r}: use 'activation' or 'spline'")
        if self.engine not in ("auto", "torch"):
            raise ValueError(f"unknown engine {self.engine!r}: use 'auto' or 'torch'")
        if self.steps < 0:
            raise ValueError("steps must be >= 0")
        if self.lamb < 0 or not math.isfinite(self.lamb):
            raise ValueError("lamb must be a finite number >= 0")

    @property
    def learning_rate(self) -> float:
        return self.lr if self.lr is not None else (1.0 if self.optimizer == "lbfgs" else 1e-2)

    @property
    def grid_update_freq(self) -> int:
        # Guard against 0 (the reference divides by it).
        return max(1, self.stop_grid_update_step // max(1, self.grid_update_num))
