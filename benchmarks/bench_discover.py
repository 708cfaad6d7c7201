"""Formula discovery: kanstudio's `discover` vs pykan 0.2.8's fit -> prune -> auto_symbolic.

    python benchmarks/bench_discover.py                 # sample datasets + extra laws
    python benchmarks/bench_discover.py --only samples  # just sample_datasets/*.csv
    python benchmarks/bench_discover.py --no-pykan
    python benchmarks/bench_discover.py --only heldout --filter lens   # held-out laws + variants
    python benchmarks/bench_discover.py --pykan-python /tmp/pykanenv/bin/python

Per dataset: whether the formula is exactly recovered (numerically equivalent:
max relative error < 1e-3 on 2000 fresh points from the same ranges) and the
seconds spent per stage, for both tools; totals at the end.  pykan runs (when
importable) in a child process per dataset, inside a temporary working
directory (it writes ./model/), with its defaults: KAN(width=[n, 2n+1, 1],
grid=5, seed=1), fit(steps=50, lamb=1e-3), prune(), fit(steps=50),
auto_symbolic(), fit(steps=50), symbolic_formula().  Also times auto_symbolic
over every edge of a [4, 5, 1] network (target: under 1 s).
Nothing is written to the current directory.
"""
from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.heldout_laws import LAWS as EXTRA_LAWS, NOISE, NOISY, SMALL, SMALL_ROWS  # noqa: E402

STAGE_KINDS = [("refit constants", "constants"), ("snap", "snap"), ("auto-symbolic", "symbolic"),
               ("factor", "symbolic"), ("prune", "prune"), ("fit [", "train"), ("refit [", "train"),
               ("leave-out", "other")]


def _kind(stage_name: str) -> str:
    for key, kind in STAGE_KINDS:
        if key in stage_name:
            return kind
    return "other"


def _load_generators():
    spec = importlib.util.spec_from_file_location("make_datasets", ROOT / "sample_datasets" / "make_datasets.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _problems(only: str, pick: str = ""):
    """(name, input names, target, sympy truth, ranges, X_train, y_train, X_test, y_test, small).
    Held-out laws: 1000 clean rows (800 train), the NOISY ones again with 1% noise
    on the target, the SMALL ones as 30-row tables (train and score on all rows)."""
    out = []
    if only in ("all", "samples"):
        gen = _load_generators()
        from kanstudio.data import load_csv
        for name, (target, _fn, text, ranges, *_rest) in gen.DATASETS.items():
            ds = load_csv(ROOT / "sample_datasets" / f"{name}.csv", target=target)
            X, y = ds.X, ds.Y[:, 0]
            out.append((name, ds.input_names, target, text, ranges, X[ds.train_idx], y[ds.train_idx],
                        X[ds.test_idx], y[ds.test_idx], False))
    if only in ("all", "laws", "heldout"):
        variants = [("", None)] + ([("noisy", NOISY), ("small", SMALL)] if only != "laws" else [])
        for kind, subset in variants:
            for k, (name, (text, ranges)) in enumerate(EXTRA_LAWS.items()):
                if subset is not None and name not in subset:
                    continue
                f = _truth_fn(text, list(ranges))
                rng = np.random.default_rng(1000 + k)
                rows = SMALL_ROWS if kind == "small" else 1000
                X = np.column_stack([rng.uniform(lo, hi, rows) for lo, hi in ranges.values()])
                y = f(X)
                label = f"{name} [{kind}]" if kind else name
                if kind == "noisy":
                    y = y + NOISE * np.std(y) * rng.standard_normal(rows)
                if kind == "small":
                    out.append((label, list(ranges), "y", text, ranges, X, y, X, y, True))
                else:
                    out.append((label, list(ranges), "y", text, ranges, X[:800], y[:800], X[800:], y[800:],
                                False))
    return [p for p in out if pick.lower() in p[0].lower()]


def _truth_fn(text, names):
    import sympy
    from kanstudio.engine.expr_eval import evaluate_numpy
    syms = [sympy.Symbol(n) for n in names]
    expr = sympy.sympify(text, locals={n: s for n, s in zip(names, syms)})
    return lambda X: evaluate_numpy(expr, {s: X[:, k] for k, s in enumerate(syms)})


def _fresh_rel_error(expr_eval, text, ranges, names) -> float:
    truth = _truth_fn(text, names)
    rng = np.random.default_rng(12345)
    X = np.column_stack([rng.uniform(lo, hi, 2000) for lo, hi in ranges.values()])
    t = truth(X)
    with np.errstate(all="ignore"):
        p = expr_eval(X)
    if not np.all(np.isfinite(p)):
        return float("inf")
    return float(np.max(np.abs(p - t)) / np.max(np.abs(t)))


# ------------------------------------------------------------------ ours
def run_ours(prob, budget):
    from kanstudio.engine.discover import DiscoverConfig, discover_arrays
    from kanstudio.engine.formula import evaluate
    name, names, target, text, ranges, Xtr, ytr, Xte, yte, small = prob
    t0 = time.perf_counter()
    try:
        res = discover_arrays(Xtr, ytr, Xte, yte, names, target, DiscoverConfig(budget_seconds=budget),
                              small_table=small)
    except Exception as exc:  # noqa: BLE001 - a crash on valid data is a bug: report it, go on
        return {"formula": None, "error": f"CRASH {type(exc).__name__}: {exc}", "rel_error": float("inf"),
                "exact": False, "seconds": time.perf_counter() - t0, "stages": {}}
    total = time.perf_counter() - t0
    stages = {}
    for st in res.stages:
        stages[_kind(st.name)] = stages.get(_kind(st.name), 0.0) + st.seconds
    err = _fresh_rel_error(lambda X: evaluate(res.formula, names, X), text, ranges, names) \
        if res.formula is not None else float("inf")
    return {"formula": res.sympy_str, "rel_error": err, "exact": err < 1e-3, "seconds": total,
            "stages": stages}


# ------------------------------------------------------------------ pykan
def pykan_available(python: str) -> bool:
    """pykan importable by the interpreter that runs the pykan children (a separate
    environment: pykan is never installed into the project's)."""
    if python == sys.executable:
        return importlib.util.find_spec("kan") is not None
    try:
        return subprocess.run([python, "-c", "import kan"], capture_output=True, timeout=120).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _pykan_child(payload: dict) -> dict:
    """Runs inside a child process whose cwd is a temporary directory."""
    import torch
    torch.set_num_threads(int(payload.get("threads", 1)))
    from kan import KAN
    Xtr, ytr = np.asarray(payload["Xtr"]), np.asarray(payload["ytr"])
    Xte, yte = np.asarray(payload["Xte"]), np.asarray(payload["yte"])
    n = Xtr.shape[1]
    t = lambda a: torch.tensor(a, dtype=torch.float32)  # noqa: E731 - pykan's default dtype
    data = {"train_input": t(Xtr), "train_label": t(ytr[:, None]),
            "test_input": t(Xte), "test_label": t(yte[:, None])}
    stages, out = {}, {"formula": None, "error": None}
    quiet = io.StringIO()
    try:
        with contextlib.redirect_stdout(quiet), contextlib.redirect_stderr(quiet):
            s = time.perf_counter()
            model = KAN(width=[n, 2 * n + 1, 1], grid=5, k=3, seed=1)
            model.fit(data, opt="LBFGS", steps=50, lamb=1e-3)
            stages["train"] = time.perf_counter() - s
            s = time.perf_counter()
            model = model.prune()
            stages["prune"] = time.perf_counter() - s
            s = time.perf_counter()
            model.fit(data, opt="LBFGS", steps=50)
            stages["train"] += time.perf_counter() - s
            s = time.perf_counter()
            model.auto_symbolic()
            stages["symbolic"] = time.perf_counter() - s
            s = time.perf_counter()
            model.fit(data, opt="LBFGS", steps=50)
            stages["constants"] = time.perf_counter() - s
            s = time.perf_counter()
            formula = model.symbolic_formula()[0][0]
            stages["other"] = time.perf_counter() - s
        out["formula"] = str(formula)
    except Exception as exc:  # noqa: BLE001 - report pykan's crash and go on
        out["error"] = f"{type(exc).__name__}: {' '.join(str(exc).split())[:160]}"
    out["stages"] = stages
    return out


def run_pykan(prob, timeout, python=sys.executable, threads=1):
    name, names, target, text, ranges, Xtr, ytr, Xte, yte, _small = prob
    payload = {"Xtr": Xtr.tolist(), "ytr": ytr.tolist(), "Xte": Xte.tolist(), "yte": yte.tolist(),
               "threads": threads}
    with tempfile.TemporaryDirectory() as tmp:
        inp = Path(tmp) / "in.json"
        inp.write_text(json.dumps(payload))
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([python, os.path.abspath(__file__), "--pykan-child", str(inp)],
                                  cwd=tmp, capture_output=True, text=True, timeout=timeout)
            res = json.loads(proc.stdout.strip().splitlines()[-1]) if proc.stdout.strip() else \
                {"formula": None, "error": (proc.stderr.strip().splitlines() or ["crashed"])[-1], "stages": {}}
        except subprocess.TimeoutExpired:
            res = {"formula": None, "error": f"timed out after {timeout} s", "stages": {}}
        res["seconds"] = time.perf_counter() - t0
    res["rel_error"] = float("inf")
    if res.get("formula"):
        import sympy
        from kanstudio.engine.expr_eval import evaluate_numpy
        try:
            expr = sympy.sympify(res["formula"])     # pykan's own output text, not user input
            syms = {s.name: s for s in expr.free_symbols}
            xs = [syms.get(f"x_{k + 1}") for k in range(len(names))]
            res["rel_error"] = _fresh_rel_error(
                lambda X: evaluate_numpy(expr, {s: X[:, k] for k, s in enumerate(xs) if s is not None})
                * np.ones(len(X)), text, ranges, names)
        except Exception as exc:  # noqa: BLE001
            res["error"] = f"formula not evaluable: {exc}"
    res["exact"] = res["rel_error"] < 1e-3
    return res


# ------------------------------------------------------------------ auto_symbolic timing
def time_auto_symbolic() -> float:
    import torch
    from kanstudio.engine.network import KAN
    from kanstudio.engine.symbolic import auto_symbolic
    from kanstudio.engine.symbolic_lib import DEFAULT_LIBRARY
    x = torch.rand(1000, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    model = KAN([4, 5, 1], seed=0)
    auto_symbolic(model.copy(), x[:100], lib=list(DEFAULT_LIBRARY)[:3])   # warm-up (imports)
    t0 = time.perf_counter()
    fixed = auto_symbolic(model, x, lib=list(DEFAULT_LIBRARY))
    dt = time.perf_counter() - t0
    print(f"auto_symbolic on every edge of [4,5,1] ({len(fixed)} edges, {len(DEFAULT_LIBRARY)} functions, "
          f"1000 rows): {dt:.3f} s (target < 1 s)")
    return dt


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["all", "samples", "laws", "heldout"], default="all",
                    help="laws: the clean held-out laws; heldout: those plus their noisy and 30-row variants")
    ap.add_argument("--filter", default="", help="only datasets whose name contains this")
    ap.add_argument("--pykan-python", default=sys.executable,
                    help="interpreter of a separate environment with pykan 0.2.8")
    ap.add_argument("--json", help="write the per-dataset results here")
    ap.add_argument("--budget", type=float, default=60.0, help="our budget per dataset (s)")
    ap.add_argument("--no-pykan", action="store_true")
    ap.add_argument("--no-ours", action="store_true", help="only run pykan (and the timing)")
    ap.add_argument("--pykan-timeout", type=float, default=600.0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--pykan-child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pykan_child:
        payload = json.loads(Path(args.pykan_child).read_text())
        print(json.dumps(_pykan_child(payload)))
        return 0
    import torch
    torch.set_num_threads(args.threads)
    time_auto_symbolic()
    use_pykan = not args.no_pykan and pykan_available(args.pykan_python)
    if not use_pykan:
        print("pykan not importable (or --no-pykan): skipping the pykan comparison "
              "(pip install pykan==0.2.8 --no-deps into a separate target to enable it)")
    totals = {"ours": [0, 0.0, {}], "pykan": [0, 0.0, {}]}
    probs = _problems(args.only, args.filter)
    results = []
    for prob in probs:
        rows = [] if args.no_ours else [("ours", run_ours(prob, args.budget))]
        if use_pykan:
            rows.append(("pykan", run_pykan(prob, args.pykan_timeout, args.pykan_python, args.threads)))
        results.append({"name": prob[0], "truth": prob[3], **{who: r for who, r in rows}})
        print(f"\n{prob[0]}   truth: {prob[3]}")
        for who, r in rows:
            tot = totals[who]
            tot[0] += bool(r["exact"])
            tot[1] += r["seconds"]
            for k, v in r.get("stages", {}).items():
                tot[2][k] = tot[2].get(k, 0.0) + v
            st = ", ".join(f"{k} {v:.1f}" for k, v in sorted(r.get("stages", {}).items()))
            what = r.get("formula") or f"(no formula: {r.get('error')})"
            print(f"  {who:5s} exact={'yes' if r['exact'] else 'no '} rel.err={r['rel_error']:.1e} "
                  f"{r['seconds']:6.1f} s [{st}]  {what[:150]}", flush=True)
    print("\nTOTALS")
    for who, (ok, secs, st) in totals.items():
        if (who == "pykan" and not use_pykan) or (who == "ours" and args.no_ours):
            continue
        stt = ", ".join(f"{k} {v:.1f}" for k, v in sorted(st.items()))
        print(f"  {who:5s} exact {ok}/{len(probs)}, {secs:.1f} s in all [{stt}]")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
