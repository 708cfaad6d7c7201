"""Time the batched symbolic fit: 25 edges x the default library, 1000 samples per edge.

Target (DESIGN.md section 5): under 1 s on 2 CPU cores.  Run from the repo root:
    python benchmarks/bench_symbolic.py
"""
from __future__ import annotations

import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from kanstudio.symbolic.fitting import fit_functions  # noqa: E402
from kanstudio.model.functions import DEFAULT_LIBRARY, get_function  # noqa: E402


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


def _time(x, y, threads: int, repeats: int = 5) -> tuple[float, float, object]:
    torch.set_num_threads(threads)
    fit_functions(x[:2], y[:2], DEFAULT_LIBRARY)          # warm-up (allocator, kernels)
    times, res = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        res = fit_functions(x, y, DEFAULT_LIBRARY)
        times.append(time.perf_counter() - t0)
    return min(times), sorted(times)[len(times) // 2], res


def main() -> None:
    x, y, truth = make_edges()
    print(f"symbolic fit: {x.shape[0]} edges x {len(DEFAULT_LIBRARY)} functions x "
          f"{x.shape[1]} samples per edge")
    for threads in (2, 1):
        best, median, res = _time(x, y, threads)
        tag = "  (target < 1 s)" if threads == 2 else ""
        print(f"  {threads} thread(s): best {best:.3f} s, median {median:.3f} s{tag}")
    hits = sum(c.name == t for c, t in zip(res.best(), truth))
    print(f"  true function ranked first on {hits}/{len(truth)} edges "
          f"(misses: a simpler function fits within the complexity trade-off)")


if __name__ == "__main__":
    main()
