"""``kanstudio-cli discover-batch SPEC``: one discovery per table (and per seed)
as Ray tasks, here or on a cluster (``--address``); see api.batch."""
from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["add_batch_parser", "run_discover_batch"]


def add_batch_parser(subparsers) -> None:
    p = subparsers.add_parser("discover-batch", help="discover formulas for many tables at once (Ray: here or "
                                                     "on a cluster)")
    p.add_argument("spec", help="a folder of CSV tables, or a listing (CSV or JSON) with a 'file' column and "
                                "optional target, seed, budget_seconds, inputs")
    p.add_argument("--target", help="target column for every table (default: each table's last numeric column)")
    p.add_argument("--seeds", type=int, default=1, help="run each table with seeds 0..N-1 (default 1)")
    p.add_argument("--budget-seconds", type=float, default=60.0, help="search time per discovery (default 60)")
    p.add_argument("--out", default=None, help="results table (CSV; default SPEC's folder/discoveries.csv). "
                                               "Jobs already in it are skipped: a stopped batch resumes")
    p.add_argument("--address", help="a running Ray cluster (e.g. ray://head:10001 or auto); default: Ray on "
                                     "this machine")
    p.add_argument("--cpus-per-task", type=int, default=1, help="cores each discovery uses (default 1)")
    p.add_argument("--num-cpus", type=int, default=None, help="cores of the local Ray (default: all)")
    p.set_defaults(func=run_discover_batch)


def run_discover_batch(args) -> int:
    from ..api import jobs_from_spec, run_batch
    from .common import CliError

    if not args.budget_seconds > 0:
        raise CliError("--budget-seconds must be positive")
    if args.cpus_per_task < 1 or (args.num_cpus is not None and args.num_cpus < 1):
        raise CliError("--cpus-per-task and --num-cpus must be at least 1")
    spec = Path(args.spec)
    out = Path(args.out) if args.out else (spec if spec.is_dir() else spec.parent) / "discoveries.csv"
    jobs = jobs_from_spec(spec, args.target, args.seeds, args.budget_seconds, results=out)
    print(f"{len(jobs)} discoveries ({args.budget_seconds:g} s each) -> {out}", file=sys.stderr)
    rows = run_batch(jobs, out, address=args.address, cpus_per_task=args.cpus_per_task, num_cpus=args.num_cpus,
                     progress=lambda line: print(line, flush=True))
    failed = sum(1 for r in rows if r.get("status") == "error")
    print(f"done: {len(rows)} new result(s) in {out}" + (f", {failed} failed" if failed else ""), file=sys.stderr)
    return 0
