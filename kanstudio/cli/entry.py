"""The ``kanstudio-cli`` command: its parser (one sub-command per module of
this package) and ``main``, which turns every failure a user can cause into
one readable line and an exit status (2; 3 for a diverged fit; 130 when
interrupted)."""
from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Optional, Sequence

from ..errors import KanstudioError
from .common import EXIT_DIVERGED, EXIT_USAGE, FitDiverged
from .fit import add_fit_parser

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kanstudio-cli",
                                     description="Fit Kolmogorov-Arnold Networks to tables and extract formulas.")
    from ..version import __version__
    parser.add_argument("--version", action="version", version=f"kanstudio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    add_fit_parser(sub)
    from .batch import add_batch_parser
    from .discover import add_discover_parser
    from .export import add_export_parser
    from .structure import add_structure_parsers
    add_discover_parser(sub)
    add_structure_parsers(sub)
    add_export_parser(sub)
    add_batch_parser(sub)
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
    except KanstudioError as exc:       # every failure a user can cause: one readable line
        print(f"kanstudio-cli: error: {exc}", file=sys.stderr)
        return EXIT_DIVERGED if isinstance(exc, FitDiverged) else EXIT_USAGE
    except MemoryError:
        print("kanstudio-cli: error: out of memory; try fewer rows or columns, a smaller --width or --grid",
              file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, OSError) as exc:  # argument and file-system problems: one readable line
        print(f"kanstudio-cli: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("kanstudio-cli: interrupted", file=sys.stderr)
        return 130


