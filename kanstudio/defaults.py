"""The defaults of the KAN loop -- fit with a sparsity penalty, prune by
attribution, make the edges symbolic, retrain -- in one place.  The training
panel, projects, the CLI and discovery read them here; nothing else spells
these numbers.  Torch-free, so the GUI can read them before the engine loads.

They follow the KAN paper's loop (Liu et al. 2024; pykan's README):
fit(lamb=0.01) -> prune(node_th=1e-2, edge_th=3e-2) -> auto_symbolic() -> fit().
"""
from __future__ import annotations

__all__ = ["default_width", "GRID", "K", "STEPS", "LAMB", "RETRAIN_LAMB", "NODE_TH", "EDGE_TH", "ONE_NODE_TOLERANCE", "WEIGHT_SIMPLE", "SYMBOLIC_REFIT_STEPS",
           "SYMBOLIC_ENGINE_SECONDS", "DISCOVERY_EDGE_TH", "FIT_SETTINGS"]

GRID = 5                # B-spline grid intervals
K = 3                   # spline order (cubic)
STEPS = 50              # LBFGS steps of a fit
LAMB = 1e-2             # fit: strength of the L1 + entropy penalty, so that pruning has something to cut
RETRAIN_LAMB = 0.0      # retrain after pruning and fixing edges: the structure is chosen, no penalty
NODE_TH = 1e-2          # prune: hidden nodes whose attribution score is at most this go ...
EDGE_TH = 3e-2          # ... then the edges scoring at most this
ONE_NODE_TOLERANCE = 1.1  # ... and one hidden node replaces several left when its held-out error is at
                          # most this times theirs, both refitted alike (science.prune.one_hidden_node)
WEIGHT_SIMPLE = 0.8     # auto-symbolic: weight of a function's simplicity against its fit
# auto-symbolic first refits the numeric network this many steps without the
# penalty: the penalty shrinks every edge, and a shrunken, still-wrong edge reads
# as the wrong function (x*y/(x+y) after prune: 1/x^2 at relative error 5e-2,
# 1/x once refitted to 3e-3).  The KAN paper's loop refits after pruning too.
SYMBOLIC_REFIT_STEPS = STEPS
# auto-symbolic: an edge no library function fits is handed to the symbolic
# engine (Operon) for this long; 0 leaves such edges numeric at once
SYMBOLIC_ENGINE_SECONDS = 2.0
# discovery cuts edges more lightly: it prunes [n, 1] models and sparse networks
# whose weak edges may still carry a real term, and refits every candidate (at
# 3e-2 it lost laws on devbench it had found at 1e-2)
DISCOVERY_EDGE_TH = 1e-2



def default_width(n_in: int, n_out: int) -> list:
    """The network a fit starts from when the user names none: inputs, 2*inputs+1
    hidden sum nodes (the Kolmogorov-Arnold theorem's shape), outputs."""
    return [int(n_in), 2 * int(n_in) + 1, int(n_out)]


# a project's fit settings (JSON-able; the training panel edits them)
FIT_SETTINGS = {"width": "", "grid": GRID, "k": K, "optimizer": "lbfgs", "steps": STEPS, "lamb": LAMB,
                "lr": 0.0, "seed": 0, "device": "cpu", "dtype": "float64", "update_grid": True,
                "batch_size": -1}
