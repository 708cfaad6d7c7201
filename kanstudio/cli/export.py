"""``kanstudio-cli export MODEL.kan|PROJECT.kanproj --format F [-o FILE]``: a
model's formula (or a project's Pareto list) in a form other programs take.

Formats: latex, sympy, python (math), numpy, torch (api.exports), and
pareto-csv (a project's formula candidates: formula, size, error, LaTeX).
The formula is in the data's columns and units: a project has its data, a
.kan file written by ``fit --save`` / ``compile --save`` (or
``KANRegressor.save``) its data scaling; an older .kan without one is in the
network's normalised variables, with a note.
"""
from __future__ import annotations

import csv
import io as _io
import sys
from pathlib import Path

from .common import CliError

__all__ = ["add_export_parser", "run_export"]

FORMATS = ("latex", "sympy", "python", "numpy", "torch", "pareto-csv")


def add_export_parser(subparsers) -> None:
    p = subparsers.add_parser("export", help="write a model's formula (or a project's Pareto list) as "
                                             "LaTeX, sympy, Python, NumPy, torch or CSV")
    p.add_argument("source", help="a model (.kan) or a project (.kanproj)")
    p.add_argument("--format", "-f", required=True, choices=FORMATS)
    p.add_argument("-o", "--output", help="write here (default: standard output)")
    p.add_argument("--digits", type=int, default=None,
                   help="significant digits of the constants (default: the project's setting, else 4)")
    p.set_defaults(func=run_export)


def _open(path: Path, digits):
    """(formula source: a callable giving the FormulaResult, pareto rows or None, notes)."""
    from ..symbolic import model_formula
    notes = []
    if path.suffix.lower() == ".kanproj":
        from ..project import load_project
        project = load_project(path)
        notes += project.load_notes
        if project.model is None:
            return None, project.pareto, notes
        return (lambda: project.formula(digits)), project.pareto, notes
    from ..model import read
    model, scaling = read(path)
    if scaling is None:
        notes.append(f"{path.name} has no data scaling (an older file): the formula is in the network's "
                     f"normalised variables")
        data = None
    else:
        data = scaling.empty_dataset()
    d = 4 if digits is None else digits
    return (lambda: model_formula(model, data, digits=d)), None, notes


def _pareto_csv(rows) -> str:
    out = _io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["formula", "size", "error", "latex", "stage"])
    for r in rows:
        err = r.get("test_rmse")
        w.writerow([r.get("formula", ""), r.get("complexity", ""), "" if err is None else repr(float(err)),
                    r.get("latex", ""), r.get("stage", "")])
    return out.getvalue()


def run_export(args) -> int:
    from ..api import export_text
    from ..symbolic import FormulaIncomplete

    path = Path(args.source)
    if not path.is_file():
        raise CliError(f"{path}: no such file")
    if args.digits is not None and not 1 <= args.digits <= 15:
        raise CliError("--digits must be between 1 and 15")
    formula, pareto, notes = _open(path, args.digits)
    for n in notes:
        print(f"note: {n}", file=sys.stderr)
    if args.format == "pareto-csv":
        if not pareto:
            what = "a model file holds none" if path.suffix.lower() != ".kanproj" else "run Discover first"
            raise CliError(f"{path.name} has no Pareto list of formulas ({what})")
        text = _pareto_csv(pareto)
    else:
        if formula is None:
            raise CliError(f"{path.name} has no model yet: fit one in the app first")
        try:
            res = formula()
        except FormulaIncomplete as exc:
            raise CliError(f"{path.name}: {exc}") from None
        names = [s.name for s in res.symbols]
        if len(res.exprs) != 1:
            raise CliError(f"{path.name} has {len(res.exprs)} outputs; export writes one formula")
        try:
            text = export_text(res.exprs[0], names, args.format)
        except ValueError as exc:
            raise CliError(f"{path.name}: {exc}") from None
    if args.output:
        try:
            Path(args.output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror}") from None
        print(f"{args.format} written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0
