"""Formula discovery: kanstudio's `discover` vs pyoperon alone, pykan 0.2.8's fit -> prune ->
auto_symbolic and the previous pipeline's recorded figures.

    python benchmarks/bench_discover.py                 # sample datasets + extra laws + devbench
    python benchmarks/bench_discover.py --only samples  # just sample_datasets/*.csv
    python benchmarks/bench_discover.py --only devbench --budget 60 --no-pykan \
        --baseline benchmarks/results/devbench_before_issue19.json
    python benchmarks/bench_discover.py --no-pykan --no-operon
    python benchmarks/bench_discover.py --only heldout --filter lens   # held-out laws + variants
    python benchmarks/bench_discover.py --pykan-python /tmp/pykanenv/bin/python

Per dataset: whether the formula is exactly recovered (numerically equivalent:
max relative error < 1e-3 on 2000 fresh points from the same ranges; for
devbench cases its own scorer, check.py: "explained" for its real tables),
kanstudio's status, the formula's size and the seconds spent per stage, for
each tool; totals at the end.  "operon" is pyoperon's SymbolicRegressor alone
with the operators kanstudio gives it, its own model selection (MDL), the same
rows and the same time budget.  ``--baseline`` reads a devbench results file
(``run.py --out``) of an earlier pipeline and prints its figures beside.  pykan runs (when
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


DEVBENCH = ROOT.parent / "shared" / "devbench"


def _devbench_problems(folder: Path):
    """devbench cases as problems: the CSV through our loader (every numeric column an
    input, as the CLI does), the split of the CLI, and the case name for check.py."""
    from kanstudio.data import load_csv
    man = json.loads((folder / "manifest.json").read_text())
    out = []
    for case in man["cases"] if isinstance(man, dict) else man:
        ds = load_csv(folder / case["file"], target=case["target"])
        X, y = ds.X, ds.Y[:, 0]
        small = bool(ds.small_table)
        tr, te = (np.arange(len(X)),) * 2 if small else (ds.train_idx, ds.test_idx)
        out.append((f"devbench:{case['name']}", ds.input_names, case["target"], case["formula"], None,
                    X[tr], y[tr], X[te], y[te], small, case["name"]))
    return out


def _devbench_check(folder: Path):
    sys.path.insert(0, str(folder))
    from check import check     # devbench's own scorer (numpy + sympy only)
    return check


def _problems(only: str, pick: str = "", devbench: Path = DEVBENCH):
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
    if only in ("all", "devbench") and (devbench / "manifest.json").exists():
        out += _devbench_problems(devbench)
    out = [p if len(p) == 11 else p + (None,) for p in out]
    return [p for p in out if pick.lower() in p[0].lower()]


def _score(prob, formula: str, expr_eval) -> tuple[bool, float]:
    """(exact / explained, relative error or nan) of a formula for a problem."""
    name, names, target, text, ranges, *_rest, case = prob
    if formula is None:
        return False, float("inf")
    if case is not None:
        r = _devbench_check(DEVBENCH)(case, formula)
        return bool(r.get("ok")), float(r.get("max_rel_error", r.get("error", float("nan"))) or float("nan"))
    err = _fresh_rel_error(expr_eval, text, ranges, names)
    return err < 1e-3, err


def _truth_fn(text, names):
    import sympy
    from kanstudio.symbolic.interpreter import evaluate_numpy
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
    from kanstudio.discovery.pipeline import DiscoverConfig, discover_arrays
    from kanstudio.symbolic.formula import evaluate
    name, names, target, text, ranges, Xtr, ytr, Xte, yte, small, _case = prob
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
    ok, err = _score(prob, res.sympy_str if res.formula is not None else None,
                     lambda X: evaluate(res.formula, names, X))
    return {"formula": res.sympy_str if res.formula is not None else None, "rel_error": err, "exact": ok,
            "seconds": total, "stages": stages, "status": res.status, "size": res.complexity}


# ------------------------------------------------------------------ pyoperon alone
def run_operon(prob, budget, threads=1):
    """pyoperon's SymbolicRegressor alone: kanstudio's operators, its own model selection."""
    import warnings
    import sympy
    from pyoperon.sklearn import SymbolicRegressor
    from kanstudio.data.expressions import parse_expression
    from kanstudio.discovery.search.engines import OPERATORS
    from kanstudio.symbolic.formula import complexity, evaluate
    name, names, target, text, ranges, Xtr, ytr, Xte, yte, small, _case = prob
    t0 = time.perf_counter()
    reg = SymbolicRegressor(allowed_symbols=OPERATORS, max_length=40, population_size=500, pool_size=500,
                            generations=10 ** 6, max_evaluations=10 ** 12, optimizer_iterations=10,
                            objectives=["r2", "length"], n_threads=threads, random_state=0,
                            max_time=max(1, int(budget)))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reg.fit(np.asarray(Xtr, np.float32), np.asarray(ytr, np.float32))
    safe = [f"x{k}" for k in range(len(names))]
    text_f = reg.get_model_string(reg.model_, 8, names=safe)
    try:
        expr = parse_expression(text_f, allowed_names=safe)
        expr = expr.xreplace({s: sympy.Symbol(names[safe.index(s.name)]) for s in expr.free_symbols})
    except ValueError as exc:
        return {"formula": None, "error": str(exc), "rel_error": float("inf"), "exact": False,
                "seconds": time.perf_counter() - t0}
    formula = str(expr)
    ok, err = _score(prob, formula, lambda X: evaluate(expr, names, X))
    return {"formula": formula, "rel_error": err, "exact": ok, "seconds": time.perf_counter() - t0,
            "size": complexity(expr)}


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
        from kanstudio.symbolic.interpreter import evaluate_numpy
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
    from kanstudio.model.network import KAN
    from kanstudio.symbolic.edges import auto_symbolic
    from kanstudio.model.functions import DEFAULT_LIBRARY
    x = torch.rand(1000, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    model = KAN([4, 5, 1], seed=0)
    auto_symbolic(model.copy(), x[:100], lib=list(DEFAULT_LIBRARY)[:3])   # warm-up (imports)
    t0 = time.perf_counter()
    fixed = auto_symbolic(model, x, lib=list(DEFAULT_LIBRARY))
    dt = time.perf_counter() - t0
    print(f"auto_symbolic on every edge of [4,5,1] ({len(fixed)} edges, {len(DEFAULT_LIBRARY)} functions, "
          f"1000 rows): {dt:.3f} s (target < 1 s)")
    return dt


def _baseline(path) -> dict:
    """case -> result row from a devbench results file of an earlier pipeline."""
    if not path:
        return {}
    data = json.loads(Path(path).read_text())
    rows = data.get("results", data) if isinstance(data, dict) else data
    return {r["name"]: {"formula": r.get("formula"), "exact": bool(r.get("ok")), "seconds": r.get("seconds") or 0.0,
                        "rel_error": float("nan"), "error": r.get("error")} for r in rows}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["all", "samples", "laws", "heldout", "devbench"], default="all",
                    help="laws: the clean held-out laws; heldout: those plus their noisy and 30-row variants; "
                         "devbench: ../shared/devbench")
    ap.add_argument("--no-operon", action="store_true", help="skip pyoperon alone")
    ap.add_argument("--baseline", help="devbench results (run.py --out) of an earlier pipeline, printed beside")
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
    totals = {"ours": [0, 0.0, {}], "operon": [0, 0.0, {}], "pykan": [0, 0.0, {}], "before": [0, 0.0, {}]}
    probs = _problems(args.only, args.filter)
    before = _baseline(args.baseline)
    results = []
    for prob in probs:
        rows = [] if args.no_ours else [("ours", run_ours(prob, args.budget))]
        if not args.no_operon:
            rows.append(("operon", run_operon(prob, args.budget, args.threads)))
        if use_pykan:
            rows.append(("pykan", run_pykan(prob, args.pykan_timeout, args.pykan_python, args.threads)))
        if prob[-1] in before:
            rows.append(("before", before[prob[-1]]))
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
            status = f" {r['status']:12s}" if "status" in r else " " * 13
            size = f" size {r['size']:3d}" if r.get("size") is not None else " " * 9
            print(f"  {who:6s} exact={'yes' if r['exact'] else 'no '} rel.err={r['rel_error']:.1e}{status}{size} "
                  f"{r['seconds']:6.1f} s [{st}]  {what[:150]}", flush=True)
    print("\nTOTALS (exact laws, or explained real tables)")
    for who, (ok, secs, st) in totals.items():
        if (who == "pykan" and not use_pykan) or (who == "ours" and args.no_ours) or \
                (who == "operon" and args.no_operon) or (who == "before" and not before):
            continue
        stt = ", ".join(f"{k} {v:.1f}" for k, v in sorted(st.items()))
        n = len(probs) if who != "before" else sum(p[-1] in before for p in probs)
        print(f"  {who:6s} exact {ok}/{n}, {secs:.1f} s in all [{stt}]")
    ours = [r["ours"] for r in results if "ours" in r]
    if ours:
        wrong = sum(1 for r in ours if not r["exact"] and r.get("status") == "exact")
        print(f"  ours: misses labelled 'exact': {wrong}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
