"""kanstudio-cli discover-batch: tables as Ray tasks on a local 2-worker Ray,
a results table, resuming, and a clear line without Ray."""
import csv
import json
import sys

import numpy as np
import pytest

from kanstudio.cli import main

RNG = np.random.default_rng(5)


def _tables(folder):
    folder.mkdir()
    x = RNG.uniform(1, 3, (120, 2))
    (folder / "product.csv").write_text("a,b,y\n" + "".join(f"{p},{q},{2 * p * q}\n" for p, q in x))
    (folder / "ratio.csv").write_text("u,v,note,w\n" + "".join(f"{p},{q},n{k},{p / q}\n"
                                                               for k, (p, q) in enumerate(x)))
    (folder / "broken.csv").write_text("just one column\n1\n2\n")
    return folder


def _rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.slow
def test_a_folder_runs_as_ray_tasks_and_resumes(tmp_path, capsys):
    pytest.importorskip("ray")
    folder = _tables(tmp_path / "tables")
    out = tmp_path / "results.csv"
    args = ["discover-batch", str(folder), "--budget-seconds", "6", "--num-cpus", "2", "--out", str(out)]
    assert main(args) == 0
    rows = {r["file"].split("/")[-1]: r for r in _rows(out)}
    assert set(rows) == {"product.csv", "ratio.csv", "broken.csv"}
    assert rows["product.csv"]["status"] == "exact" and rows["product.csv"]["target"] == "y"
    assert rows["ratio.csv"]["status"] == "exact" and "u/v" in rows["ratio.csv"]["formula"].replace(" ", "")
    assert rows["broken.csv"]["status"] == "error" and "one column" in rows["broken.csv"]["message"]
    assert all(r["host"] and float(r["seconds"]) >= 0 for r in rows.values())
    assert float(rows["product.csv"]["seconds"]) > 0 and float(rows["product.csv"]["error"]) < 1e-9
    printed = capsys.readouterr().out
    assert "[3/3]" in printed
    # started again: every job is in the table already, nothing runs twice
    assert main(args) == 0
    assert len(_rows(out)) == 3
    assert "already in results.csv" in capsys.readouterr().out


def test_listings_name_files_targets_and_seeds(tmp_path):
    from kanstudio.api.batch import BatchError, jobs_from_spec
    folder = _tables(tmp_path / "t")
    listing = folder / "jobs.json"
    listing.write_text(json.dumps([{"file": "product.csv", "target": "y", "budget_seconds": 5},
                                   {"file": "ratio.csv", "seed": 7, "inputs": "u,v"}]))
    jobs = jobs_from_spec(listing, seeds=2)
    assert [(j.file.split("/")[-1], j.target, j.seed, j.budget_seconds) for j in jobs] == [
        ("product.csv", "y", 0, 5.0), ("product.csv", "y", 1, 5.0), ("ratio.csv", None, 7, 60.0)]
    assert jobs[2].inputs == ["u", "v"]
    (folder / "list.csv").write_text("file,target\nproduct.csv,y\n")
    assert [j.target for j in jobs_from_spec(folder / "list.csv")] == ["y"]
    with pytest.raises(BatchError, match="'file' column"):
        jobs_from_spec(folder / "product.csv")
    with pytest.raises(BatchError, match="no such file"):
        jobs_from_spec(folder / "nope")


def test_without_ray_the_command_says_so_in_one_line(tmp_path, monkeypatch, capsys):
    folder = _tables(tmp_path / "t")
    monkeypatch.setitem(sys.modules, "ray", None)          # import ray -> ImportError
    assert main(["discover-batch", str(folder)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "kanstudio-cli: error: discover-batch needs Ray: pip install 'kanstudio[ray]'"
