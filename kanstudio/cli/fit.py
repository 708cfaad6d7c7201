"""``kanstudio-cli fit``: train a KAN on a table and save it (``--save``), with
its formula and errors; a diverging fit exits with status 3."""
from __future__ import annotations

import argparse
import sys
import time

from .. import defaults
from .common import (DIVERGED_RMSE, EXIT_INTERRUPTED, CliError, FitDiverged, add_data_arguments, interruptible,
                     load_dataset, prepare_kernels, width_text, write_json)

__all__ = ["add_fit_parser", "run_fit"]


def _width_arg(text: str):
    from ..model import parse_width
    try:
        return parse_width(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_fit_parser(sub):
    p = sub.add_parser("fit", help="fit a KAN to a CSV and report its accuracy")
    add_data_arguments(p)
    p.add_argument("--width", type=_width_arg, help="layer widths, e.g. 2,5,1 or 2,[3,2],1 (default: inputs,2*inputs+1,outputs)")
    p.add_argument("--grid", type=int, default=defaults.GRID)
    p.add_argument("--k", type=int, default=defaults.K)
    p.add_argument("--steps", type=int, default=defaults.STEPS)
    p.add_argument("--optimizer", choices=["lbfgs", "adam"], default="lbfgs")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--lamb", type=float, default=defaults.LAMB,
                   help=f"sparsity regularisation strength (default {defaults.LAMB:g}, as in the KAN paper's loop)")
    p.add_argument("--batch-size", type=int, default=-1)
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    p.add_argument("--save", help="write the fitted model here (.kan, safetensors)")
    p.add_argument("--json", help="write a JSON summary here")
    p.set_defaults(func=run_fit)


def run_fit(args) -> int:
    from ..data import SMALL_TABLE_ROWS
    from ..model import KAN
    from ..training import FitConfig, fit
    from ..model import Scaling, save

    ds = load_dataset(args)
    device = _check_device(args.device)
    n_in, n_out = len(ds.input_names), len(ds.target_names)
    width = args.width or defaults.default_width(n_in, n_out)
    _check_width(width, n_in, n_out)
    try:
        model = KAN(width, grid=args.grid, k=args.k, seed=args.seed, dtype=args.dtype, device=device)
        cfg = FitConfig(steps=args.steps, optimizer=args.optimizer, lr=args.lr, lamb=args.lamb,
                        batch_size=args.batch_size, seed=args.seed)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    model.set_names(ds.input_names, ds.target_names)
    x_tr, y_tr = ds.tensors("train")
    x_te, y_te = ds.tensors("test")
    if device == "cpu":
        prepare_kernels(args.dtype)     # (fit_seconds is the training loop's time alone)
    t0 = time.perf_counter()
    with interruptible("fit") as stop:
        result = fit(model, x_tr, y_tr, x_te, y_te, config=cfg, cancel=stop.is_set)
    seconds = time.perf_counter() - t0
    final = result.final
    # RMSE in the target's own units (the network trains on normalised data).
    scale = float(abs(ds.y_scale[0])) if n_out == 1 else 1.0
    held = ds.held_out            # test rows disjoint from the training rows
    summary = {
        "train_rmse": final.train_rmse * scale,
        "test_rmse": final.test_rmse * scale if held else None,
        "train_rmse_normalized": final.train_rmse,
        "test_rmse_normalized": final.test_rmse if held else None,
        "held_out_rows": len(ds.test_idx) if held else 0,
        "fit_seconds": seconds,
        "steps": final.step,
        "n_params": model.n_params,
        "width": model.width,
        "reason": result.reason,
    }
    print(f"fitted {width_text(model.width)} on {len(ds.train_idx)} rows in {seconds:.2f} s "
          f"({final.step} {args.optimizer} steps, {model.n_params} parameters)")
    if held:
        print(f"train RMSE {summary['train_rmse']:.4g}, test RMSE {summary['test_rmse']:.4g} "
              f"(in units of {ds.target_names[0]})")
    else:
        print(f"train RMSE {summary['train_rmse']:.4g} (in units of {ds.target_names[0]}); no test RMSE: all "
              f"{ds.n_rows} rows train the network (tables under {SMALL_TABLE_ROWS} rows are not split)")
    if model.n_params >= len(ds.train_idx):
        print(f"warning: {len(ds.train_idx)} rows for {model.n_params} parameters: the network can pass through "
              f"every row, so its error says nothing about new data", file=sys.stderr)
    if _diverged(final, ds):
        summary["reason"] = "diverged"
        if args.json:
            write_json(args.json, summary)
        raise FitDiverged(f"training diverged (train RMSE {summary['train_rmse']:.3g}, worse than predicting the "
                          f"mean of {ds.target_names[0]}); nothing saved; try a smaller --lr or fewer --steps")
    if stop.is_set():
        summary["reason"] = "interrupted"
        print(f"interrupted after {final.step} steps: the figures above are the model's at that point"
              + ("; it is saved" if args.save or args.json else ""))
    elif result.reason != "completed":
        print(f"note: training ended early: {result.reason}")
    if args.save:
        save(model, args.save, scaling=Scaling.of(ds))
        print(f"model saved to {args.save}")
    if args.json:
        write_json(args.json, summary)
    return EXIT_INTERRUPTED if stop.is_set() else 0


def _diverged(final, ds) -> bool:
    """A fit that ended non-finite, or far worse than the mean of the target (about
    1 in the normalised units it trains in)."""
    import math
    err = final.train_rmse
    return not math.isfinite(err) or err > DIVERGED_RMSE * max(1e-300, _mean_rmse(ds))


def _mean_rmse(ds) -> float:
    """RMSE of predicting the training mean, in normalised target units."""
    import numpy as np
    y = ds.normalize_y(ds.Y[ds.train_idx])
    return float(np.sqrt(np.mean((y - y.mean(0)) ** 2))) or 1.0


def _check_device(device: str) -> str:
    from ..model import check_device
    try:
        return check_device(device)
    except ValueError as exc:
        raise CliError(f"--device: {exc}") from None


def _check_width(width, n_in: int, n_out: int):
    from ..model import check_width
    try:
        check_width(width, n_in, n_out)
    except ValueError as exc:
        raise CliError(f"--width: {exc}") from None
