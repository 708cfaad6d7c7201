"""Time the batched symbolic fit: 25 edges x the default library, 1000 samples per edge.

Target (DESIGN.md section 5): under 1 s on 2 CPU cores.  Run from the repo root:
    python benchmarks/bench_symbolic.py
"""
from __future__ import annotations

import time

import torch

from kanstudio.engine.symbolic_fit import fit_functions
from kanstudio.engine.symbolic_lib import DEFAULT_LIBRARY, get_function


def make_edges(n_edges: int = 25, n_samples: int = 1000, seed: int = 0):
    """Edges drawn from the library itself with random affine parameters."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n_edges, n_samples, generator=g, dtype=torch.float64) * 2 - 1
    names = ["x^2", "sin", "exp", "tanh", "gaussian"]
    y = torch.empty_like(x)
    truth = []
    for e in range(n_edges):
        name = names[e % len(names)]
        a, c = (0.5 + 1.5 * torch.rand(2, generator=g, dtype=torch.float64)).tolist()
        b, d = (torch.rand(2, generator=g, dtype=torch.float64) - 0.5).tolist()
        y[e] = c * get_function(name).torch_fn(a * x[e] + b) + d
        truth.append(name)
    return x, y, truth


def main() -> None:
    torch.set_num_threads(2)
    x, y, truth = make_edges()
    fit_functions(x[:2], y[:2], DEFAULT_LIBRARY)          # warm-up (allocator, kernels)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        res = fit_functions(x, y, DEFAULT_LIBRARY)
        times.append(time.perf_counter() - t0)
    hits = sum(c.name == t for c, t in zip(res.best(), truth))
    print(f"symbolic fit: {x.shape[0]} edges x {len(DEFAULT_LIBRARY)} functions x "
          f"{x.shape[1]} samples, {torch.get_num_threads()} threads")
    print(f"  best {min(times):.3f} s, median {sorted(times)[len(times) // 2]:.3f} s "
          f"(target < 1 s); true function ranked first on {hits}/{len(truth)} edges")


if __name__ == "__main__":
    main()
