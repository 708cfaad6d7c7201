"""The KAN paper's point-and-click loop with the app's defaults, headless:
Fit -> Prune (auto) -> Auto-symbolic -> Retrain, the same project commands the
window's actions run.  A law is landed when the final formula's relative RMSE
is at most 1e-2 and it has at most 3x the law's operations + 6 (the issue "The
point-and-click loop lands on the law").

Two-input laws on 1000 clean rows, each with several seeds (which structure a
penalised fit settles on depends on the seed).  The baseline, run in the same
invocation, is the loop as it was at the start of session 10: Prune without
the multiplication node (``AutoPrune(product_node=False)``) and Auto-symbolic
without the symbolic engine for the edges no library function fits
(``AutoSymbolic(engine_seconds=0)``).  Earlier baselines: Prune without the one-node test, 15/26 against
22/26 with it (session 8); Auto-symbolic without its refit, 5/18 against 9/18
with it (session 5).

    python benchmarks/bench_loop.py [--seeds 0,1] [--only exp,harmonic]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import sympy

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kanstudio.defaults import SYMBOLIC_ENGINE_SECONDS  # noqa: E402

# name -> (law, inputs, box); the GUI test's laws and others of the same kind
LAWS = {
    "exp": ("exp(sin(pi*x) + y**2)", ("x", "y"), (-1.0, 1.0)),
    "harmonic": ("x*y/(x + y)", ("x", "y"), (0.5, 2.0)),
    "sqrt": ("sqrt(1 + p**2 + q**2)", ("p", "q"), (-1.0, 1.0)),
    "gauss": ("exp(-(a**2 + b**2))", ("a", "b"), (-1.5, 1.5)),
    "a*sin(b)": ("a*sin(b)", ("a", "b"), (-1.5, 1.5)),
    "ratio": ("(a + 1)/(b + 2)", ("a", "b"), (0.0, 2.0)),
    "decay": ("a*exp(-b)", ("a", "b"), (0.5, 2.0)),
    "hypot": ("sqrt(a**2 + b**2)", ("a", "b"), (0.5, 2.0)),
    "sin(ab)": ("sin(a*b)", ("a", "b"), (-1.5, 1.5)),
    # added in session 7, before the one-node test was first run on them
    "lorentz": ("1/(1 + a**2 + b**2)", ("a", "b"), (-1.5, 1.5)),
    "log": ("log(2 + a**2 + b)", ("a", "b"), (-1.0, 1.0)),
    "additive": ("sin(a) + b**2", ("a", "b"), (-1.5, 1.5)),
    "a^2 b": ("a**2*b", ("a", "b"), (0.5, 2.0)),
}


def _dataset(law: sympy.Expr, names, box, seed: int = 0, n: int = 1000):
    from kanstudio.data import Dataset
    rng = np.random.default_rng(seed)
    X = rng.uniform(*box, size=(n, len(names)))
    y = sympy.lambdify(sympy.symbols(names), law, "numpy")(*X.T)
    return Dataset.from_arrays(X, np.asarray(y, float)[:, None], list(names), ["out"])


def run_loop(name: str, seed: int, new: bool) -> dict:
    from kanstudio.symbolic.formula import FormulaIncomplete, evaluate
    from kanstudio.project import FitModel, Project, Retrain
    from kanstudio.project.commands_edges import AutoPrune, AutoSymbolic
    text, names, box = LAWS[name]
    law = sympy.sympify(text)
    ds = _dataset(law, names, box)
    p = Project(dataset=ds)
    p.settings["seed"] = seed
    t0 = time.perf_counter()
    engine_seconds = SYMBOLIC_ENGINE_SECONDS if new else 0.0
    for cmd in (FitModel(), AutoPrune(product_node=new), AutoSymbolic(engine_seconds=engine_seconds), Retrain()):
        p.do(cmd)
    seconds = time.perf_counter() - t0
    try:
        expr = p.formula().exprs[0]
    except FormulaIncomplete:
        return {"landed": False, "rel": None, "ops": None, "seconds": seconds, "formula": "(edges left numeric)"}
    y = ds.Y[:, 0]
    rel = float(np.sqrt(np.mean((evaluate(expr, list(names), ds.X) - y) ** 2)) / np.std(y))
    ops = int(sympy.count_ops(expr))
    landed = rel <= 1e-2 and ops <= 3 * int(sympy.count_ops(law)) + 6
    return {"landed": landed, "rel": rel, "ops": ops, "seconds": seconds, "formula": str(expr)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--only", default="", help="comma-separated law names")
    args = ap.parse_args(argv)
    seeds = [int(s) for s in args.seeds.split(",") if s]
    names = [n for n in LAWS if not args.only or n in args.only.split(",")]
    totals = {"loop": 0, "baseline": 0}
    print(f"{'law':10} {'seed':>4}  {'loop':>26}  {'baseline (session 9 loop)':>26}")
    for name in names:
        for seed in seeds:
            cells = []
            for key, new in (("loop", True), ("baseline", False)):
                r = run_loop(name, seed, new)
                totals[key] += r["landed"]
                rel = f"{r['rel']:.1e}" if r["rel"] is not None else "numeric"
                cells.append(f"{'LANDED' if r['landed'] else 'missed':6} {rel:>8} {str(r['ops']):>4} {r['seconds']:4.1f}s")
            print(f"{name:10} {seed:>4}  {cells[0]:>26}  {cells[1]:>26}", flush=True)
    n = len(names) * len(seeds)
    print(f"\nlanded: loop {totals['loop']}/{n}, baseline {totals['baseline']}/{n} "
          f"(ratio {totals['loop'] / max(1, totals['baseline']):.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
