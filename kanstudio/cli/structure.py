"""``kanstudio-cli compile`` and ``kanstudio-cli structure`` (KAN 2.0 tools, headless).

compile:   parse a formula over a CSV's input columns, compile it into a KAN
           (kanpiler), print the network's width and its RMSE against the target.
structure: fit a quick KAN to a CSV, then print additive / multiplicative
           separability and symmetry findings (text, and JSON on request).
User errors raise ValueError: the main CLI prints one line and exits with 2.
"""
from __future__ import annotations

import math

from .common import width_text, write_json

__all__ = ["add_structure_parsers", "run_compile", "run_structure"]


def add_structure_parsers(subparsers) -> None:
    from .common import add_data_arguments

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


def run_compile(args) -> int:
    import numpy as np
    import torch
    from ..data import load_csv
    from ..data import parse_expression
    from ..symbolic import compile_for_dataset, compile_formula

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
    print(f"network width {width_text(model.width)}, depth {model.depth}, {model.edge_count()} "
          f"fixed edges (raw inputs: {', '.join(ds.input_names)})")
    print(f"RMSE against {target} on {int(finite.sum())} rows: {rmse:.4g} "
          f"({rel:.3g} of the target's standard deviation)")
    if not finite.all():
        print(f"note: the formula is not finite on {int((~finite).sum())} row(s) (outside its domain)")
    summary = {"formula": str(expr), "target": target, "width": model.width, "depth": model.depth,
               "edges": model.edge_count(), "rmse": rmse, "relative_rmse": rel,
               "nonfinite_rows": int((~finite).sum())}
    if args.save:
        from ..model import Scaling, save
        save(compile_for_dataset(expr, ds), args.save, scaling=Scaling.of(ds))
        print(f"model saved to {args.save}")
    if args.json:
        write_json(args.json, summary)
    return 0


def run_structure(args) -> int:
    import torch
    from .common import load_dataset
    from ..model import KAN
    from ..training import fit
    from ..science import structure_report

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
    rep = structure_report(model, ds, args.threshold)
    print(f"quick fit {width_text(model.width)}: test RMSE {rel:.3g} of the spread of {rep.target} "
          f"({result.final.step} steps)")
    if not rel < 0.05:
        print("warning: the fit is rough, so the findings below are only indicative")
    for line in rep.lines():
        print(line)
    report = {**rep.as_json(), "fit_test_rmse_normalized": rel}
    if args.json:
        write_json(args.json, report)
    return 0
