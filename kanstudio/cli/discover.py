"""``kanstudio-cli discover DATA.csv --target COL``: fit, prune, symbolify, print the formula.

Prints the formula in the CSV's column names and original units, and its test
RMSE; ``--json`` writes a summary with the Pareto list and stage timings.
Bad input exits with status 2 and one readable line on stderr.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

EXIT_USAGE = 2
REPORT_SECONDS = 1.0    # the report after the search: formula, LaTeX, the JSON summary

__all__ = ["add_discover_parser", "run_discover", "parse_library"]


def add_discover_parser(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "discover", help="find a symbolic formula for a column of a CSV",
        description="Fit a KAN, prune it, make it symbolic and print the formula "
                    "(in the CSV's column names and units) with its test RMSE.")
    p.add_argument("data", help="CSV file")
    p.add_argument("--target", help="target column (default: the last numeric column)")
    p.add_argument("--inputs", help="comma-separated input columns (default: all other numeric columns)")
    p.add_argument("--width", help="shape of the general network, e.g. 2,5,1 or 2,[3,2],1 "
                                   "(default: tried automatically)")
    p.add_argument("--lib", help="comma-separated symbolic library: names such as x,x^2,sin,exp "
                                 "or expressions in x such as x^2+1 (default: the built-in library)")
    p.add_argument("--units", help="units of columns, e.g. v=m/s,m=kg,F=N (pint syntax; added to units in "
                                   "headers such as 'v [m/s]'); used for dimensional analysis")
    p.add_argument("--digits", type=int, default=4, help="significant digits of constants (default 4)")
    p.add_argument("--latex", action="store_true", help="also print the formula as LaTeX")
    p.add_argument("--json", help="write a JSON summary (formula, errors, Pareto list, stages) here")
    p.add_argument("--budget-seconds", type=float, default=60.0,
                   help="time budget of the command, start-up included (default 60; the first run after "
                        "an install also compiles the training kernels, outside it)")
    p.add_argument("--seed", type=int, default=0, help="seed for the split and the networks")
    p.add_argument("--test-fraction", type=float, default=0.2, help="rows held out for testing (default 0.2)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--verbose", action="store_true", help="print the stages and the Pareto list to stderr")
    p.set_defaults(func=run_discover)
    return p


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or exc.__class__.__name__


def parse_library(text):
    """Library names from --lib; entries that are not library names are parsed
    (safely) as expressions in x and registered as user functions."""
    if text is None:
        return None
    from ..data import parse_expression
    from ..model import UnknownFunctionError, get_function, register_function

    names = []
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        try:
            names.append(get_function(entry).name)
            continue
        except UnknownFunctionError:
            pass
        expr = parse_expression(entry, allowed_names=["x"])
        syms = list(expr.free_symbols)
        if len(syms) != 1:
            raise ValueError(f"library entry {entry!r} is neither a known function nor an expression in x")
        names.append(register_function(entry, expr, syms[0]).name)
    if not names:
        raise ValueError("--lib is empty")
    return names


def run_discover(args) -> int:
    try:
        return _run(args)
    except (ValueError, OSError, KeyError) as exc:   # DataError is a ValueError
        print(f"kanstudio-cli discover: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_USAGE


def _run(args) -> int:
    from ..data import load_csv
    from ..discovery import DiscoverConfig, discover
    from ..discovery import unit_text
    from ..model import check_width

    if args.digits < 1 or args.digits > 15:
        raise ValueError("--digits must be between 1 and 15")
    if not args.budget_seconds > 0:
        raise ValueError("--budget-seconds must be positive")
    if args.device != "cpu":
        from ..model import check_device
        check_device(args.device)
    inputs = [c.strip() for c in args.inputs.split(",") if c.strip()] if args.inputs else None
    ds = load_csv(args.data, target=args.target, inputs=inputs, test_fraction=args.test_fraction,
                  seed=args.seed)
    if args.units:
        from ..data import parse_units_option
        ds.units.update(parse_units_option(args.units, list(ds.input_names) + list(ds.target_names)))
    width = None
    if args.width:
        try:
            width = check_width(args.width, len(ds.input_names), 1)
        except ValueError as exc:
            raise ValueError(f"--width: {exc}") from None
    from .common import KERNEL_NOTE_AFTER_S, prepare_kernels
    compiling = 0.0
    if args.device == "cpu":
        k0 = time.perf_counter()
        prepare_kernels()
        took = time.perf_counter() - k0
        compiling = took if took > KERNEL_NOTE_AFTER_S else 0.0    # once per install: not the search's time
    # the command, not only the search, ends within the budget: start-up (imports,
    # reading the table) and the report afterwards come out of it
    spent = time.perf_counter() - getattr(args, "started", time.perf_counter()) - compiling
    budget = max(0.25 * args.budget_seconds, args.budget_seconds - spent - REPORT_SECONDS)
    cfg = DiscoverConfig(width=width, lib=parse_library(args.lib), digits=args.digits,
                         budget_seconds=budget, seed=args.seed, device=args.device)
    from .common import EXIT_INTERRUPTED, interruptible
    t0 = time.perf_counter()
    with interruptible("search") as stop:
        res = discover(ds, cfg, cancel=stop)
    seconds = time.perf_counter() - t0
    target = ds.target_names[0]
    status = 0
    for note in list(ds.notes) + list(res.notes):
        print(f"note: {note}", file=sys.stderr)
    unit = f"  [{unit_text(res.unit)}]" if res.unit else ""
    if res.formula is None:
        print(f"no law found for {target} within {args.budget_seconds:g} s "
              f"(best network test RMSE {res.test_rmse:.4g})")
        if res.closest is not None:
            print(f"closest readable formula: {target} = {res.closest.sympy_str} "
                  f"(test RMSE {res.closest.test_rmse:.4g}; not a law)")
        status = 1
    else:
        print(f"{target} = {res.sympy_str}{unit}")
        if args.latex:
            print(res.latex)
        where = "all rows (small table)" if ds.small_table else f"{len(ds.test_idx)} held-out rows"
        net = f"network {res.test_rmse:.4g}" if math.isfinite(res.test_rmse) else "no network needed"
        print(f"test RMSE {res.formula_test_rmse:.4g} on {where} ({net}); "
              f"complexity {res.complexity}; {seconds:.1f} s")
        if res.leave_out_rmse is not None:
            print(f"leave-out RMSE {res.leave_out_rmse:.4g} (constants refitted without each fold)")
    print(f"status: {res.status} ({res.status_reason})")
    if res.cancelled:
        print("interrupted: this is the best result found before the interruption"
              + (f"; written to {args.json}" if args.json else ""))
        status = EXIT_INTERRUPTED
    if args.verbose:
        for k, step in enumerate(res.derivation):
            print(f"  derivation {k + 1}. {step.text}", file=sys.stderr)
        for st in res.stages:
            print(f"  {st.seconds:7.2f} s  {st.name}", file=sys.stderr)
        for c in res.pareto:
            print(f"  pareto: complexity {c.complexity:3d}  rmse {c.test_rmse:.4g}  {c.sympy_str}",
                  file=sys.stderr)
    if args.json:
        summary = res.to_dict()
        summary["seconds"] = seconds
        try:
            with open(args.json, "w", encoding="utf-8") as fh:
                json.dump(summary, fh, indent=2)
        except OSError as exc:
            raise ValueError(f"cannot write {args.json}: {exc.strerror or exc}") from None
    return status
