"""Generate the physics sample datasets (KAN 2.0 paper examples).

Run from anywhere:  python sample_datasets/physics/make_physics.py
Deterministic: one numpy Generator seeded with SEED; re-running rewrites the
same bytes.  Each CSV's formula, ranges and noise are in README.md.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

SEED = 2024
HERE = Path(__file__).resolve().parent


def write_csv(name: str, columns: dict) -> None:
    names = list(columns)
    rows = np.column_stack([np.asarray(columns[n], dtype=np.float64) for n in names])
    lines = [",".join(names)] + [",".join(f"{v:.10g}" for v in row) for row in rows]
    (HERE / name).write_text("\n".join(lines) + "\n", encoding="utf-8")


def oscillator(rng: np.random.Generator, n_traj: int = 50, per_traj: int = 8):
    """States of a 2-D isotropic harmonic oscillator (m = k = 1) sampled along
    exact trajectories: q(t) = q0 cos t + p0 sin t, p(t) = -q0 sin t + p0 cos t."""
    q0 = rng.uniform(-1, 1, size=(n_traj, 2))
    p0 = rng.uniform(-1, 1, size=(n_traj, 2))
    t = rng.uniform(0, 2 * np.pi, size=(n_traj, per_traj))[..., None]
    q = q0[:, None, :] * np.cos(t) + p0[:, None, :] * np.sin(t)
    p = -q0[:, None, :] * np.sin(t) + p0[:, None, :] * np.cos(t)
    return q.reshape(-1, 2), p.reshape(-1, 2)


def main() -> None:
    rng = np.random.default_rng(SEED)
    q, p = oscillator(rng)
    x, y, px, py = q[:, 0], q[:, 1], p[:, 0], p[:, 1]
    write_csv("oscillator_energy.csv",
              {"x": x, "y": y, "px": px, "py": py, "E": (px**2 + py**2) / 2 + (x**2 + y**2) / 2})
    write_csv("oscillator_angular_momentum.csv",
              {"x": x, "y": y, "px": px, "py": py, "L": x * py - y * px})

    u = rng.uniform(-0.9, 0.9, size=400)
    v = rng.uniform(-0.9, 0.9, size=400)
    write_csv("relativistic_velocity_addition.csv", {"u": u, "v": v, "w": (u + v) / (1 + u * v)})

    k, k3, sigma = 1.5, 0.4, 0.05
    xs = rng.uniform(-2, 2, size=300)
    force = -k * xs - k3 * xs**3 + rng.normal(0.0, sigma, size=300)
    write_csv("nonlinear_spring.csv", {"x": xs, "F": force})


if __name__ == "__main__":
    main()
