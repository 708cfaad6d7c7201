"""``kanstudio-cli compile`` and ``kanstudio-cli structure`` (KAN 2.0 tools, headless).

compile:   parse a formula over a CSV's input columns, compile it into a KAN
           (kanpiler), print the network's width and its RMSE against the target.
structure: fit a quick KAN to a CSV, then print additive / multiplicative
           separability and symmetry findings (text, and JSON on request).
User errors raise ValueError: the main CLI prints one line and exits with 2.
"""
from __future__ import annotations

import json
import math

__all__ = ["add_structure_parsers", "run_compile", "run_structure"]


def add_structure_parsers(subparsers) -> None:
    from .cli_common import add_data_arguments

    p = subparsers.add_parser("compile", help="compile a formula into a KAN and check it against a CSV")
    p.add_argument("formula", help='formula over the CSV\'s input columns, e.g. "(u+v)/(1+u*v)"')
    p.add_argument("--data", required=True, help="CSV file")
    p.add_argument("--target", help="target column (default: the last numeric column)")
    p.add_argument("--save", help="write the compiled model here (.kan); with the data's scaling, "
                                  "like the models `fit --save` writes")
    p.add_argument("--json", help="write a JSON summary here")
    p.set_defaults(func=run_compile)

    p = subparsers.add_parser("structure", help="separability and symmetry tests on a fitted KAN")
    add_data_arguments(p)
    p.add_argument("--steps", type=int, default=50, help="LBFGS steps of the quick fit (default 50)")
    p.add_argument("--grid", type=int, default=3,
                   help="grid of the quick fit (default 3: smoother fits give cleaner derivatives)")
    p.add_argument("--threshold", type=float, default=0.1,
                   help="relative coupling below which variables count as separate (default 0.1)")
    p.add_argument("--json", help="write the findings as JSON here")
    p.set_defaults(func=run_structure)


def _width_text(width) -> str:
    return "[" + ", ".join(str(a) if b == 0 else f"[{a},{b}]" for a, b in width) + "]"


def _write_json(path: str, obj) -> None:
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2)
    except OSError as exc:
        raise ValueError(f"cannot write {path}: {exc.strerror}") from None


def run_compile(args) -> int:
    import numpy as np
    import torch
    from .data import load_csv
    from .data.expressions import parse_expression
    from .engine.compiler import compile_for_dataset, compile_formula

    ds = load_csv(args.data, target=args.target)
    if len(ds.target_names) != 1:
        raise ValueError("compile needs exactly one target column")
    expr = parse_expression(args.formula, list(ds.input_names))
    model = compile_formula(expr, list(ds.input_names), ds.target_names[0])
    with torch.no_grad():
        pred = model(torch.as_tensor(ds.X, dtype=model.dtype))[:, 0].numpy()
    y = np.asarray(ds.Y, dtype=np.float64)[:, 0]
    finite = np.isfinite(pred)
    rmse = float(np.sqrt(np.mean((pred[finite] - y[finite]) ** 2))) if finite.any() else math.nan
    rel = rmse / float(np.std(y)) if np.std(y) > 0 else math.nan
    target = ds.target_names[0]
    print(f"compiled {target} = {expr}")
    print(f"network width {_width_text(model.width)}, depth {model.depth}, {model.edge_count()} "
          f"fixed edges (raw inputs: {', '.join(ds.input_names)})")
    print(f"RMSE against {target} on {int(finite.sum())} rows: {rmse:.4g} "
          f"({rel:.3g} of the target's standard deviation)")
    if not finite.all():
        print(f"note: the formula is not finite on {int((~finite).sum())} row(s) (outside its domain)")
    summary = {"formula": str(expr), "target": target, "width": model.width, "depth": model.depth,
               "edges": model.edge_count(), "rmse": rmse, "relative_rmse": rel,
               "nonfinite_rows": int((~finite).sum())}
    if args.save:
        from .engine import io
        io.save(compile_for_dataset(expr, ds), args.save, scaling=io.Scaling.of(ds))
        print(f"model saved to {args.save}")
    if args.json:
        _write_json(args.json, summary)
    return 0


def run_structure(args) -> int:
    import numpy as np
    import torch
    from .cli_common import load_dataset
    from .engine.network import KAN
    from .engine.train import fit
    from .engine import structure as st

    ds = load_dataset(args)
    if len(ds.target_names) != 1:
        raise ValueError("structure needs exactly one target column")
    if args.threshold <= 0 or not math.isfinite(args.threshold):
        raise ValueError("--threshold must be a positive number")
    names = list(ds.input_names)
    n = len(names)
    if ds.n_rows * n < 200_000:
        # A small fit runs several times faster on one thread than on cores
        # shared with other work (measured 7x on a loaded 2-core machine).
        torch.set_num_threads(1)
    model = KAN([n, 2 * n + 1, 1], grid=args.grid, seed=args.seed)
    model.set_names(names, ds.target_names)
    x_tr, y_tr = ds.tensors("train")
    x_te, y_te = ds.tensors("test")
    result = fit(model, x_tr, y_tr, x_te, y_te, steps=args.steps, seed=args.seed)
    rel = result.final.test_rmse  # normalised units: a fraction of the target's spread
    ym, ys = float(ds.y_mean[0]), float(ds.y_scale[0])

    def f_raw(x: torch.Tensor) -> torch.Tensor:
        # the target in its own units: log|f| (multiplicative test) needs them
        return model(x)[:, 0] * ys + ym

    add = st.test_separability(f_raw, x_tr, "additive", args.threshold, names)
    mul = st.test_separability(f_raw, x_tr, "multiplicative", args.threshold, names)
    syms = st.find_symmetries(f_raw, x_tr, args.threshold, names) if n > 2 else []
    target = ds.target_names[0]
    print(f"quick fit {_width_text(model.width)}: test RMSE {rel:.3g} of the spread of {target} "
          f"({result.final.step} steps)")
    if not rel < 0.05:
        print("warning: the fit is rough, so the findings below are only indicative")
    print(f"additive:       {add.verdict}")
    print(f"multiplicative: {mul.verdict}")
    def implied(s):
        # a pair split from the others by a separability found above is trivially symmetric
        return any(r.separable and not any(set(g) & set(s.group_a) and set(g) & set(s.group_b)
                                           for g in r.groups) for r in (add, mul))
    found = [s for s in syms if s.symmetric and not implied(s)]
    for s in found:
        print(f"symmetry:       {s.verdict}")
    n_implied = sum(1 for s in syms if s.symmetric and implied(s))
    if n_implied:
        more = "more " if found else ""
        print(f"symmetry:       {n_implied} {more}symmetric pair(s), all implied by the separability above")
    if n > 2 and not found and not n_implied:
        print("symmetry:       no pair of variables enters only through one combination")

    def sep_json(r):
        return {"separable": r.separable, "groups": [[names[i] for i in g] for g in r.groups],
                "score": r.score, "split_level": r.split_level, "verdict": r.verdict,
                "matrix": np.round(r.matrix, 6).tolist()}
    report = {"target": target, "inputs": names, "fit_test_rmse_normalized": rel,
              "additive": sep_json(add), "multiplicative": sep_json(mul),
              "symmetries": [{"group": [names[i] for i in s.group_a], "symmetric": s.symmetric,
                              "implied_by_separability": s.symmetric and implied(s),
                              "score": None if math.isnan(s.score) else s.score, "verdict": s.verdict}
                             for s in syms]}
    if args.json:
        _write_json(args.json, report)
    return 0
