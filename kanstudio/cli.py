"""Headless entry point: ``kanstudio-cli fit|discover|export ...``.

Every user error (missing file or column, non-numeric data, bad option)
exits with status 2 and one readable line on stderr; no tracebacks.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Optional, Sequence

from .engine import defaults

EXIT_USAGE = 2
KERNEL_NOTE_AFTER_S = 1.5      # a longer wait for the kernels is a first build: say so


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _width_arg(text: str):
    from .engine.width import parse_width
    try:
        return parse_width(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _columns_arg(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def add_data_arguments(p: argparse.ArgumentParser):
    p.add_argument("data", help="CSV file")
    p.add_argument("--target", help="target column (default: the last numeric column)")
    p.add_argument("--inputs", type=_columns_arg, help="comma-separated input columns (default: all other numeric columns)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="fraction of rows held out for testing (default 0.2)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split and the initialisation")
    p.add_argument("--normalization", choices=["standard", "minmax", "none"], default="standard")


def load_dataset(args):
    from .data import load_csv
    return load_csv(args.data, target=args.target, inputs=args.inputs, test_fraction=args.test_fraction,
                    seed=args.seed, normalization=args.normalization)


def _add_fit_parser(sub):
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
    from .engine.network import KAN
    from .engine.train import FitConfig, fit
    from .engine import io

    ds = load_dataset(args)
    device = _check_device(args.device)
    n_in, n_out = len(ds.input_names), len(ds.target_names)
    width = args.width or [n_in, 2 * n_in + 1, n_out]
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
    result = fit(model, x_tr, y_tr, x_te, y_te, config=cfg)
    seconds = time.perf_counter() - t0
    final = result.final
    # RMSE in the target's own units (the network trains on normalised data).
    scale = float(abs(ds.y_scale[0])) if n_out == 1 else 1.0
    summary = {
        "train_rmse": final.train_rmse * scale,
        "test_rmse": final.test_rmse * scale,
        "train_rmse_normalized": final.train_rmse,
        "test_rmse_normalized": final.test_rmse,
        "fit_seconds": seconds,
        "steps": final.step,
        "n_params": model.n_params,
        "width": model.width,
        "reason": result.reason,
    }
    print(f"fitted {_width_text(model.width)} on {len(ds.train_idx)} rows in {seconds:.2f} s "
          f"({final.step} {args.optimizer} steps, {model.n_params} parameters)")
    print(f"train RMSE {summary['train_rmse']:.4g}, test RMSE {summary['test_rmse']:.4g} "
          f"(in units of {ds.target_names[0]})")
    if result.reason != "completed":
        print(f"note: training ended early: {result.reason}")
    if args.save:
        io.save(model, args.save)
        print(f"model saved to {args.save}")
    if args.json:
        _write_json(args.json, summary)
    return 0


def prepare_kernels(dtype: str = "float64"):
    """Load the compiled training kernels, saying why we wait when that
    takes a while: the first run after an install compiles them."""
    import threading
    from .engine import fused
    note = threading.Timer(KERNEL_NOTE_AFTER_S, print,
                           ("compiling the training kernels (once per install; up to a minute)...",),
                           {"file": sys.stderr, "flush": True})
    note.daemon = True
    note.start()
    try:
        fused.warm_up((dtype,))
    finally:
        note.cancel()


def _check_device(device: str) -> str:
    import torch
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise CliError("--device cuda was asked for but no CUDA GPU is available; use --device cpu")
    if not (device == "cpu" or device.startswith("cuda")):
        raise CliError(f"unknown device {device!r}: use cpu or cuda")
    return device


def _check_width(width, n_in: int, n_out: int):
    from .engine.width import normalize_width
    try:
        w = normalize_width(width)
    except ValueError as exc:
        raise CliError(str(exc)) from None
    if w[0][0] != n_in or sum(w[-1]) != n_out:
        raise CliError(f"--width starts with {w[0][0]} and ends with {sum(w[-1])} nodes, but the data has "
                       f"{n_in} input(s) and {n_out} target(s)")


def _width_text(width) -> str:
    return "[" + ", ".join(str(a) if b == 0 else f"[{a},{b}]" for a, b in width) + "]"


def _write_json(path: str, obj):
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kanstudio-cli",
                                     description="Fit Kolmogorov-Arnold Networks to tables and extract formulas.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"kanstudio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_fit_parser(sub)
    for mod_name, adder in (("cli_discover", "add_discover_parser"), ("cli_structure", "add_structure_parsers"),
                            ("cli_export", "add_export_parser")):
        try:
            mod = __import__(f"kanstudio.{mod_name}", fromlist=[adder])
        except ImportError:
            continue
        getattr(mod, adder)(sub)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    started = time.perf_counter()
    parser = build_parser()
    args = parser.parse_args(argv)
    # when the command started: a time budget counts from here (importing torch,
    # numba and sympy takes seconds of it)
    args.started = started
    try:
        import torch
        torch.set_num_threads(max(1, os.cpu_count() or 1))
        func = getattr(args, "func", None)
        if func is None:  # subcommands from other modules register run_* through set_defaults
            parser.error("unknown command")
        return int(func(args) or 0)
    except CliError as exc:
        print(f"kanstudio-cli: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, OSError) as exc:  # DataError is a ValueError: one readable line
        print(f"kanstudio-cli: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("kanstudio-cli: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
