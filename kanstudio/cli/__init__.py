"""Headless entry point: ``kanstudio-cli fit|discover|discover-batch|compile|structure|export ...``.

One module per sub-command (``fit``, ``discover``, ``structure`` with
``compile``, ``export``, ``batch``), ``common`` for what they share, and
``entry`` for the parser and the exit statuses.  Every user error (missing
file or column, non-numeric data, bad option) exits with status 2 and one
readable line on stderr; no tracebacks.
"""
from __future__ import annotations

from .common import (DIVERGED_RMSE, EXIT_DIVERGED, EXIT_INTERRUPTED, EXIT_USAGE, CliError,
                     FitDiverged)
from .entry import build_parser, main

__all__ = ["build_parser", "main", "CliError", "FitDiverged", "DIVERGED_RMSE", "EXIT_DIVERGED", "EXIT_INTERRUPTED",
           "EXIT_USAGE"]
