"""Many discoveries at once: one per table (and per seed), as Ray tasks, on this
machine or on a cluster.  Ray schedules; this module only says what to run,
runs one discovery in a worker and keeps the results table.

A batch is a list of ``BatchJob``s (from a folder of CSVs or a listing, see
``jobs_from_spec``).  Each task receives its table's bytes, so a cluster's
workers need no shared file system.  The results table (CSV) gets one row as
each task finishes; a batch started again with the same output skips the jobs
already in it, so an interrupted batch resumes where it stopped.
"""
from __future__ import annotations

import csv
import json
import math
import os
import socket
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

from ..errors import KanstudioError

__all__ = ["BatchError", "BatchJob", "RESULT_COLUMNS", "jobs_from_spec", "run_batch", "run_job"]

RESULT_COLUMNS = ["file", "target", "seed", "status", "formula", "error", "size", "seconds", "host", "message"]
NEEDS_RAY = "discover-batch needs Ray: pip install 'kanstudio[ray]'"


class BatchError(KanstudioError):
    """A batch that cannot start: no Ray, a bad listing, no tables."""


@dataclass
class BatchJob:
    file: str                            # path of the table (CSV)
    target: Optional[str] = None         # column (default: the table's last numeric column)
    seed: int = 0
    budget_seconds: float = 60.0
    inputs: Optional[list] = None        # columns (default: every other numeric column)
    units: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple:
        return (str(Path(self.file)), self.target or "", int(self.seed))


def _listing_rows(spec: Path) -> list[dict]:
    if spec.suffix.lower() == ".json":
        try:
            rows = json.loads(spec.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise BatchError(f"{spec.name} is not a readable JSON listing: {exc}") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise BatchError(f"{spec.name} must hold a list of objects with a 'file' each")
        return rows
    with spec.open(newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    if not rows or "file" not in rows[0]:
        raise BatchError(f"{spec.name} is not a listing: it needs a 'file' column (a table to run on is "
                         f"given by the folder that holds it)")
    return rows


def jobs_from_spec(spec, target: Optional[str] = None, seeds: int = 1, budget_seconds: float = 60.0,
                   results: Optional[Path] = None) -> list[BatchJob]:
    """Jobs from a folder of CSVs (every *.csv, the results file excepted) or a
    listing (CSV or JSON) with a 'file' column and optional 'target', 'seed',
    'budget_seconds', 'inputs' (comma-separated) and, in JSON, 'units'.  Paths in
    a listing are relative to it; ``seeds`` > 1 runs each table with seeds
    0..seeds-1 where the listing names none."""
    spec = Path(spec)
    if not spec.exists():
        raise BatchError(f"{spec}: no such file or folder")
    if seeds < 1:
        raise BatchError("--seeds must be at least 1")
    if spec.is_dir():
        skip = {results.resolve()} if results is not None else set()
        files = sorted(p for p in spec.glob("*.csv") if p.resolve() not in skip)
        if not files:
            raise BatchError(f"{spec} holds no .csv tables")
        rows = [{"file": str(p)} for p in files]
        base = Path(".")
    else:
        rows, base = _listing_rows(spec), spec.parent
    jobs = []
    for k, r in enumerate(rows):
        name = str(r.get("file") or "").strip()
        if not name:
            raise BatchError(f"{spec.name}: entry {k + 1} names no file")
        path = Path(name) if Path(name).is_absolute() else base / name
        try:
            budget = float(r.get("budget_seconds") or budget_seconds)
            listed_seed = r.get("seed")
            seed_list = [int(listed_seed)] if listed_seed not in (None, "") else list(range(seeds))
        except (TypeError, ValueError):
            raise BatchError(f"{spec.name}: entry {k + 1} has a budget or seed that is not a number") from None
        if not budget > 0:
            raise BatchError(f"{spec.name}: entry {k + 1}: the budget must be positive")
        inputs = r.get("inputs")
        if isinstance(inputs, str):
            inputs = [c.strip() for c in inputs.split(",") if c.strip()] or None
        units = r.get("units") if isinstance(r.get("units"), dict) else {}
        for s in seed_list:
            jobs.append(BatchJob(str(path), (r.get("target") or target or None), s, budget, inputs, dict(units)))
    return jobs


def run_job(job: dict, data: bytes, threads: int = 1) -> dict:
    """One discovery, in a worker: the results table's row (errors in the table's
    data are a row with status 'error', not a failed task)."""
    from ..data import DataError, build_dataset, read_table_bytes
    from ..data import check_units
    from ..discovery import DiscoverConfig, discover
    import torch
    torch.set_num_threads(max(1, int(threads)))
    row = {"file": job["file"], "target": job.get("target") or "", "seed": int(job["seed"]), "status": "error",
           "formula": "", "error": "", "size": "", "seconds": 0.0, "host": socket.gethostname(), "message": ""}
    t0 = time.perf_counter()
    try:
        raw = read_table_bytes(data, name=Path(job["file"]).name, path=job["file"])
        ds = build_dataset(raw, job.get("inputs"), job.get("target"), seed=int(job["seed"]))
        if job.get("units"):
            ds.units.update(check_units(job["units"], list(ds.input_names) + list(ds.target_names)))
        row["target"] = ds.target_names[0]
        res = discover(ds, DiscoverConfig(budget_seconds=float(job["budget_seconds"]), seed=int(job["seed"]),
                                          threads=max(1, int(threads))))
    except (DataError, ValueError, MemoryError) as exc:
        row["message"] = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        row["seconds"] = round(time.perf_counter() - t0, 2)
        return row
    shown = res.shown()
    row.update(status=res.status, message=res.status_reason, seconds=round(time.perf_counter() - t0, 2))
    if shown is not None:
        row.update(formula=shown.sympy_str, size=int(shown.complexity),
                   error=float(shown.test_rmse) if math.isfinite(shown.test_rmse) else "")
    return row


def _done(out: Path) -> dict:
    """Rows already in the results table, by job key."""
    if not out.is_file():
        return {}
    with out.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    done = {}
    for r in rows:
        try:
            done[(str(Path(r["file"])), r.get("job_target", r.get("target", "")), int(r["seed"]))] = r
        except (KeyError, TypeError, ValueError):
            continue
    return done


def run_batch(jobs: Sequence[BatchJob], out, address: Optional[str] = None, cpus_per_task: int = 1,
              num_cpus: Optional[int] = None, progress: Optional[Callable[[str], None]] = None) -> list[dict]:
    """Run the jobs not yet in ``out`` as Ray tasks (``address``: a cluster's, e.g.
    'ray://head:10001' or 'auto'; default a Ray started here with ``num_cpus``),
    appending each result to ``out`` as it arrives.  Returns the new rows."""
    try:
        import ray
    except ImportError:
        raise BatchError(NEEDS_RAY) from None
    out = Path(out)
    done = _done(out)
    todo = [j for j in jobs if (j.key[0], j.target or "", j.key[2]) not in done]
    say = progress or (lambda line: None)
    if len(todo) < len(jobs):
        say(f"{len(jobs) - len(todo)} of {len(jobs)} jobs are already in {out.name}: resuming")
    if not todo:
        return []
    payloads = []
    for j in todo:
        try:
            payloads.append(Path(j.file).read_bytes())
        except OSError as exc:
            raise BatchError(f"cannot read {j.file}: {exc.strerror}") from None
    started = not ray.is_initialized()
    if started:
        kw = {"address": address} if address else {"num_cpus": num_cpus or os.cpu_count() or 1}
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False, **kw)
    new_rows = []
    try:
        task = ray.remote(num_cpus=cpus_per_task, max_retries=1)(run_job)
        pending = {task.remote(asdict(j), data, cpus_per_task): j for j, data in zip(todo, payloads)}
        write_header = not out.is_file() or out.stat().st_size == 0
        with out.open("a", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=RESULT_COLUMNS + ["job_target"], extrasaction="ignore")
            if write_header:
                w.writeheader()
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                job = pending.pop(ready[0])
                try:
                    row = ray.get(ready[0])
                except Exception as exc:  # noqa: BLE001 - a task that died (worker lost, crash): recorded, batch goes on
                    row = {"file": job.file, "target": job.target or "", "seed": job.seed, "status": "error",
                           "message": f"the task failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"}
                row["job_target"] = job.target or ""
                w.writerow(row)
                f.flush()
                new_rows.append(row)
                shown = f"{row.get('target')} = {row['formula']}" if row.get("formula") else row.get("message", "")
                say(f"[{len(done) + len(new_rows)}/{len(jobs)}] {Path(job.file).name} (seed {job.seed}): "
                    f"{row['status']}: {shown}")
    finally:
        if started:
            ray.shutdown()
    return new_rows
