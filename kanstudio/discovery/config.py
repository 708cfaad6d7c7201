"""The settings of a discovery, in one place."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

from ..defaults import DISCOVERY_EDGE_TH, GRID, K, LAMB, NODE_TH, WEIGHT_SIMPLE

__all__ = ["DiscoverConfig", "EXACT_REL", "EXACT_MAX_REL"]

EXACT_REL = 1e-8     # a formula this close (relative to std(y)) is taken as exact ...
EXACT_MAX_REL = 1e-6  # ... if no row is off by more than this (relative to |y|): a target spanning many
                      # decades has rows that the RMSE does not see


@dataclass
class DiscoverConfig:
    width: Optional[Sequence] = None     # fixed shape for the general stage (else tried automatically)
    lib: Optional[Sequence[str]] = None  # symbolic library (default: the whole built-in one)
    digits: int = 4                      # significant digits of printed constants
    budget_seconds: float = 60.0
    seed: int = 0
    grid: int = GRID
    k: int = K
    lamb: float = LAMB                   # sparsity regularisation of the general stage
    # what that penalty measures (FitConfig.reg_metric): discovery keeps the compiled
    # "spline" penalty it was measured with on devbench; the app's loop uses "activation"
    reg_metric: str = "spline"
    steps: int = 30                      # LBFGS steps per training stage
    max_train_rows: int = 500            # rows used to train the networks
    max_polish_rows: int = 2000          # rows used to refit formula constants
    tolerance: float = 0.05              # pick: relative slack on the best error
    log_space: bool = True               # try log-space (power law / product) hypotheses
    weight_simple: float = WEIGHT_SIMPLE
    edge_th: float = DISCOVERY_EDGE_TH   # edges scoring at or below this are pruned
    node_th: float = NODE_TH
    snap: bool = True
    device: str = "cpu"
    threads: Optional[int] = None        # cores the symbolic engine may use (default: every usable one;
                                         # a batch running several discoveries on one machine gives each its share)
    engine: str = "operon"               # symbolic-search engine ("none": the KAN library only)
    search_share: float = 0.25           # share of the time left that the first symbolic search may take ...
    resume_share: float = 0.4            # ... and that it goes on for after the decomposition (whole
                                         # problem only: the engine keeps its population, so the pause
                                         # costs nothing and the sub-problems get their time first) ...
    sub_search_share: float = 0.7        # ... in a sub-problem split off by a decomposition: fewer inputs,
                                         # so a smaller space for the engine and little left to decompose
    target_transforms: bool = True       # a second symbolic search races y^2, 1/y, 1/y^2, log|y| (see
                                         # target_transforms.py) ...
    transform_share: float = 0.3         # ... in this share of the time left after the first
