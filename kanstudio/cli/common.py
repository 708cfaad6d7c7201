"""What every ``kanstudio-cli`` subcommand shares: its errors and exit codes,
Ctrl-C that keeps the work done so far, the data arguments, and the wait for
the compiled kernels."""
from __future__ import annotations

import argparse
import contextlib
import sys

from ..errors import KanstudioError

__all__ = ["EXIT_USAGE", "EXIT_DIVERGED", "EXIT_INTERRUPTED", "DIVERGED_RMSE", "KERNEL_NOTE_AFTER_S",
           "CliError", "FitDiverged", "interruptible", "add_data_arguments", "load_dataset", "prepare_kernels"]

EXIT_USAGE = 2
EXIT_DIVERGED = 3
DIVERGED_RMSE = 10.0           # a fit this many times worse than predicting the mean has diverged
KERNEL_NOTE_AFTER_S = 1.5      # a longer wait for the kernels is a first build: say so


class CliError(KanstudioError):
    """A problem with the command line itself; printed as one line, exit status 2."""


class FitDiverged(KanstudioError):
    """Training blew up; printed as one line, exit status 3."""


EXIT_INTERRUPTED = 130


@contextlib.contextmanager
def interruptible(what: str):
    """A threading.Event set by the first Ctrl-C, so that long work ends at its next
    check and keeps what it has (a second Ctrl-C stops at once)."""
    import signal
    import threading
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return

    def handler(signum, frame):
        if event.is_set():
            raise KeyboardInterrupt
        event.set()
        print(f"kanstudio-cli: interrupted: ending the {what} with the best result so far "
              f"(Ctrl-C again to quit at once)", file=sys.stderr, flush=True)
    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


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
    from ..data import load_csv
    return load_csv(args.data, target=args.target, inputs=args.inputs, test_fraction=args.test_fraction,
                    seed=args.seed, normalization=args.normalization)


def prepare_kernels(dtype: str = "float64"):
    """Load the compiled training kernels, saying why we wait when that
    takes a while: the first run after an install compiles them."""
    import threading
    from ..training import warm_up
    note = threading.Timer(KERNEL_NOTE_AFTER_S, print,
                           ("compiling the training kernels (once per install; up to a minute)...",),
                           {"file": sys.stderr, "flush": True})
    note.daemon = True
    note.start()
    try:
        warm_up((dtype,))
    finally:
        note.cancel()


def width_text(width) -> str:
    """A network's width as the command line writes it: [2, [3,2], 1]."""
    return "[" + ", ".join(str(a) if b == 0 else f"[{a},{b}]" for a, b in width) + "]"


def write_json(path: str, obj) -> None:
    """Write a command's JSON summary; a path that cannot be written is a CliError."""
    import json
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(obj, fh, indent=2)
    except OSError as exc:
        raise CliError(f"cannot write {path}: {exc.strerror}") from None
