"""Regenerate the synthetic sample datasets (deterministic: fixed seeds).

    python sample_datasets/make_datasets.py            # writes next to this file
    python sample_datasets/make_datasets.py OUTDIR

Each dataset is drawn from a known formula with inputs uniform in the ranges
listed below; the ``noise`` ones add Gaussian noise of the given fraction of
the target's standard deviation.  The noiseless ones are the recovery
fixtures of tests/test_discover.py and benchmarks/bench_discover.py.
"""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

# name: (target, formula (numpy, for generation), sympy text (for checks),
#        {input: (lo, hi)}, rows, noise fraction, seed)
DATASETS = {
    "hello_world": ("f", lambda x, y: np.exp(np.sin(np.pi * x) + y ** 2),
                    "exp(sin(pi*x) + y**2)", {"x": (-1, 1), "y": (-1, 1)}, 1000, 0.0, 1),
    "gravitation": ("F", lambda m1, m2, r: 6.674e-11 * m1 * m2 / r ** 2,
                    "6.674e-11*m1*m2/r**2", {"m1": (1, 5), "m2": (1, 5), "r": (1, 3)}, 800, 0.0, 3),
    "pendulum_period": ("T", lambda L, g: 2 * np.pi * np.sqrt(L / g),
                        "2*pi*sqrt(L/g)", {"L": (0.1, 2), "g": (1, 20)}, 600, 0.0, 4),
    "normal_pdf": ("p", lambda z: np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi),
                   "exp(-z**2/2)/sqrt(2*pi)", {"z": (-3, 3)}, 500, 0.0, 5),
    "distance": ("d", lambda dx, dy: np.sqrt(dx ** 2 + dy ** 2),
                 "sqrt(dx**2 + dy**2)", {"dx": (1, 5), "dy": (1, 5)}, 800, 0.0, 6),
    "parallel_resistance": ("R", lambda R1, R2: R1 * R2 / (R1 + R2),
                            "R1*R2/(R1 + R2)", {"R1": (1, 10), "R2": (1, 10)}, 800, 0.0, 7),
    "lorentz_force": ("F", lambda q, v, B, theta: q * v * B * np.sin(theta),
                      "q*v*B*sin(theta)", {"q": (1, 5), "v": (1, 5), "B": (1, 5), "theta": (0.2, 1.5)},
                      1000, 0.0, 8),
    "specific_energy": ("e", lambda v, h: v ** 2 / 2 + 9.81 * h,
                        "v**2/2 + 9.81*h", {"v": (0, 10), "h": (0, 20)}, 700, 0.0, 9),
    "kinetic_energy_noisy": ("E", lambda m, v: m * v ** 2 / 2,
                             "m*v**2/2", {"m": (1, 5), "v": (1, 5)}, 800, 0.01, 10),
    "electric_power_noisy": ("P", lambda V, R: V ** 2 / R,
                             "V**2/R", {"V": (1, 12), "R": (1, 10)}, 600, 0.02, 11),
}

NOISELESS = [k for k, v in DATASETS.items() if v[5] == 0.0]


def generate(name: str):
    """(column names, data [rows, inputs+1]) of one dataset."""
    target, fn, _, ranges, rows, noise, seed = DATASETS[name]
    rng = np.random.default_rng(seed)
    cols = {c: rng.uniform(lo, hi, rows) for c, (lo, hi) in ranges.items()}
    y = fn(*cols.values())
    if noise:
        y = y + noise * np.std(y) * rng.standard_normal(rows)
    return list(ranges) + [target], np.column_stack(list(cols.values()) + [y])


def write(name: str, folder: Path) -> Path:
    header, data = generate(name)
    path = folder / f"{name}.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for row in data:
            w.writerow([repr(float(v)) for v in row])
    return path


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    folder = Path(argv[0]) if argv else Path(__file__).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    for name in DATASETS:
        print(write(name, folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
