""".kanproj save/load, validation of damaged files, and crash recovery."""
from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch

from kanstudio.data import load_csv
from kanstudio.model.io import to_bytes
from kanstudio.model.network import KAN
from kanstudio.data import Dataset
from kanstudio.project import (FixSymbolic, Project, ProjectError, PruneEdge, RefineGrid, SetModel,
                               default_recovery_dir,
                               discard_project_recovery, discard_recovery, find_recovery, load_project,
                               load_recovery, recovery_info, save_project, write_recovery)
from kanstudio.project import kanproj

FIT = {"grid": 3, "k": 3, "steps": 4, "optimizer": "adam", "lr": 0.05, "seed": 0}


def make_dataset(n: int = 120, seed: int = 3) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    Y = np.sin(np.pi * X[:, 0]) + X[:, 1]
    return Dataset.from_arrays(X, Y, ["a", "b"], ["y"], test_fraction=0.25, seed=seed)


def outputs(p: Project) -> torch.Tensor:
    x, _ = p.tensors("all")
    with torch.no_grad():
        return p.model(x).clone()


@pytest.fixture
def project():
    """A small project whose every edge is symbolic (so it has a formula)."""
    ds = make_dataset()
    model = KAN([2, 2, 1], grid=3, seed=1)
    model.set_names(ds.input_names, ds.target_names)
    p = Project(dataset=ds, model=model, settings={**FIT, "width": "2,2,1"}, ui={"score_mode": "activation"})
    p.do(PruneEdge(0, 1, 1))
    fns = {(0, 0, 0): "sin", (0, 1, 0): "x", (0, 0, 1): "x^2", (1, 0, 0): "x", (1, 1, 0): "exp"}
    for (l, i, j), name in fns.items():
        p.do(FixSymbolic(l, i, j, name, (1.25, 0.125, 0.5 + i, -0.25 * j)))
    p.set_pareto([{"formula": "sin(a) + b", "complexity": 4, "test_rmse": 0.01, "stage": "test"}])
    return p


def saved(project, tmp_path, name="demo.kanproj", **kw) -> Path:
    return save_project(project, tmp_path / name, **kw)


def test_round_trip_is_exact(project, tmp_path):
    path = saved(project, tmp_path)
    assert not project.modified and project.path == path
    assert sorted(os.listdir(tmp_path)) == ["demo.kanproj"]          # no temporary left behind
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["data.csv", "model.safetensors", "project.json"]
        doc = json.loads(zf.read("project.json"))
    assert doc["format"] == "kanstudio-project" and doc["schema"] == 1 and doc["model"] == {"file": "model.safetensors"}

    q = load_project(path)
    assert not q.modified and q.path == path
    assert torch.equal(outputs(q), outputs(project))
    assert to_bytes(q.model) == to_bytes(project.model)
    a, b = project.dataset, q.dataset
    assert np.array_equal(a.X, b.X) and np.array_equal(a.Y, b.Y)
    assert np.array_equal(a.train_idx, b.train_idx) and np.array_equal(a.test_idx, b.test_idx)
    for key in ("x_mean", "x_scale", "y_mean", "y_scale"):
        assert np.array_equal(getattr(a, key), getattr(b, key))
    assert b.input_names == ["a", "b"] and b.target_names == ["y"] and b.normalization == a.normalization
    assert q.settings == project.settings and q.ui == project.ui and q.pareto == project.pareto
    assert q.history.to_json() == project.history.to_json()
    assert q.history.labels()[0] == "Prune edge b → h2" and not q.history.can_undo
    assert q.formula().sympy_str == project.formula().sympy_str


def test_reloaded_project_keeps_editing_and_saving(project, tmp_path):
    q = load_project(saved(project, tmp_path))
    q.do(RefineGrid(4))
    assert q.modified and len(q.history) == len(project.history) + 1
    save_project(q)
    r = load_project(q.path)
    assert len(r.history) == len(q.history) and torch.equal(outputs(r), outputs(q))


def test_custom_split_and_empty_project(tmp_path):
    ds = make_dataset(n=80)
    ds.train_idx, ds.test_idx = np.arange(0, 60), np.arange(60, 80)
    p = Project(dataset=ds)
    q = load_project(save_project(p, tmp_path / "split.kanproj"))
    assert q.model is None
    assert np.array_equal(q.dataset.train_idx, np.arange(60)) and np.array_equal(q.dataset.test_idx, np.arange(60, 80))
    empty = load_project(save_project(Project(), tmp_path / "empty.kanproj"))
    assert empty.dataset is None and empty.model is None


def test_external_data_reference(simple_csv, tmp_path):
    ds = load_csv(simple_csv, target="y", seed=2)
    p = Project(dataset=ds, source_path=simple_csv)
    model = KAN([2, 3, 1], grid=3)
    p.do(SetModel("Start", model))
    path = save_project(p, tmp_path / "ref.kanproj", embed_data=False)
    with zipfile.ZipFile(path) as zf:
        assert "data.csv" not in zf.namelist()
    q = load_project(path)
    assert np.array_equal(q.dataset.X, ds.X) and np.array_equal(q.dataset.train_idx, ds.train_idx)
    assert not q.embed_data and q.source_path == str(simple_csv)
    moved = tmp_path / "moved.csv"
    simple_csv.rename(moved)
    with pytest.raises(ProjectError, match="ref.kanproj: its data file .* was not found"):
        load_project(path)
    assert np.array_equal(load_project(path, data_path=moved).dataset.X, ds.X)
    moved.write_text("a,b,y\n1,2,3\n")
    with pytest.raises(ProjectError, match="has changed"):
        load_project(path, data_path=moved)


# ----------------------------------------------------------- damaged files
def rewrite(path: Path, out: Path, change=None, drop=(), add=None) -> Path:
    """Copy a project zip, editing project.json with ``change(doc)``."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n not in drop}
    if change is not None:
        doc = json.loads(members["project.json"])
        change(doc)
        members["project.json"] = json.dumps(doc).encode()
    members.update(add or {})
    with zipfile.ZipFile(out, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return out


def refused(path, *patterns):
    with pytest.raises(ProjectError) as info:
        load_project(path)
    msg = str(info.value)
    assert "\n" not in msg and Path(path).name in msg, msg
    for pat in patterns:
        assert pat in msg, msg
    return msg


def test_corrupt_files_are_refused(project, tmp_path):
    good = saved(project, tmp_path)
    blob = good.read_bytes()
    rng = np.random.default_rng(0)

    noise = tmp_path / "noise.kanproj"
    noise.write_bytes(rng.bytes(5000))
    refused(noise, "not a kanstudio project", "not a zip file")

    half = tmp_path / "half.kanproj"
    half.write_bytes(blob[: len(blob) // 2])
    refused(half, "not a zip file")

    refused(tmp_path / "missing.kanproj", "does not exist")
    refused(rewrite(good, tmp_path / "nojson.kanproj", drop=["project.json"]), "no project.json")
    refused(rewrite(good, tmp_path / "extra.kanproj", add={"../evil.py": b"x"}), "unexpected file")
    refused(rewrite(good, tmp_path / "badjson.kanproj", add={"project.json": b"{nope"}), "not valid JSON")
    refused(rewrite(good, tmp_path / "newer.kanproj", lambda d: d.update(schema=3)),
            "newer kanstudio (schema 3")
    refused(rewrite(good, tmp_path / "format.kanproj", lambda d: d.update(format="other")), "not a kanstudio project")
    refused(rewrite(good, tmp_path / "types.kanproj", lambda d: d.update(history={"a": 1})), "'history'")
    refused(rewrite(good, tmp_path / "rec.kanproj", lambda d: d["history"].append(3)), "history entry")
    refused(rewrite(good, tmp_path / "idx.kanproj", lambda d: d["data"].update(train_idx=[0, 10 ** 6])),
            "rows the data does not have")
    refused(rewrite(good, tmp_path / "nomodel.kanproj", drop=["model.safetensors"]), "model.safetensors is missing")
    refused(rewrite(good, tmp_path / "nodata.kanproj", drop=["data.csv"]), "data.csv is missing")
    refused(rewrite(good, tmp_path / "garbage_model.kanproj", add={"model.safetensors": b"\x00" * 64}),
            "not a readable kanstudio model")
    refused(rewrite(good, tmp_path / "cols.kanproj", add={"data.csv": b"p,q,r\n1,2,3\n"}), "columns")


def test_wrong_tensor_shapes_and_mismatched_model(project, tmp_path):
    good = saved(project, tmp_path)
    # tensors of a [2,4,1] network under the description of a [2,2,1] one
    from safetensors.torch import load as st_load, save as st_save
    meta_src = to_bytes(project.model)
    n = int.from_bytes(meta_src[:8], "little")
    metadata = json.loads(meta_src[8:8 + n])["__metadata__"]
    other = KAN([2, 4, 1], grid=3)
    bad = st_save({k: v.contiguous() for k, v in st_load(to_bytes(other)).items()}, metadata=metadata)
    refused(rewrite(good, tmp_path / "shapes.kanproj", add={"model.safetensors": bad}), "shape")
    # a valid model with 3 inputs next to 2 input columns
    three = KAN([3, 2, 1], grid=3)
    refused(rewrite(good, tmp_path / "inputs.kanproj", add={"model.safetensors": to_bytes(three)}),
            "3 inputs", "2 input")


def test_zip_bomb_is_refused(project, tmp_path, monkeypatch):
    good = saved(project, tmp_path)
    bomb = tmp_path / "bomb.kanproj"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zipfile.ZipFile(good) as src:
            for n in src.namelist():
                padding = b" " * 20_000_000 if n == "project.json" else b""   # valid JSON, 20 MB unpacked
                zf.writestr(n, src.read(n) + padding)
    assert bomb.stat().st_size < 200_000
    # refused on its packing ratio, before anything is unpacked ...
    refused(bomb, "would unpack to", "times its packed size")
    # ... and on its total size
    monkeypatch.setattr(kanproj, "MAX_RATIO", 10 ** 9)
    monkeypatch.setattr(kanproj, "MAX_TOTAL_BYTES", 10_000_000)
    refused(bomb, "would unpack to more than")


def test_save_failure_keeps_the_old_file(project, tmp_path, monkeypatch):
    path = saved(project, tmp_path)
    old = path.read_bytes()
    project.do(PruneEdge(0, 0, 0))

    def boom(model):
        raise RuntimeError("disk on fire")
    monkeypatch.setattr("kanstudio.model.io.to_bytes", boom)
    with pytest.raises(RuntimeError):
        save_project(project)
    assert path.read_bytes() == old and sorted(os.listdir(tmp_path)) == ["demo.kanproj"]
    assert project.modified


# ---------------------------------------------------------------- recovery
def test_recovery_write_find_load_discard(project, tmp_path):
    rdir = tmp_path / "recovery"
    assert find_recovery(rdir) == [] and write_recovery(Project(), rdir) is None
    save_project(project, tmp_path / "mine.kanproj")
    project.do(PruneEdge(0, 0, 1))
    first = write_recovery(project, rdir)
    project.do(RefineGrid(4))
    again = write_recovery(project, rdir)
    assert first == again and find_recovery(rdir) == [again]          # one file per session
    assert [p.name for p in rdir.iterdir()] == [again.name]           # no temporaries
    info = recovery_info(again)
    assert info["original_path"] == str(tmp_path / "mine.kanproj") and info["edits"] == len(project.history)
    rec = load_recovery(again)
    assert rec.modified and rec.path == tmp_path / "mine.kanproj"
    assert torch.equal(outputs(rec), outputs(project))
    discard_recovery(again)
    assert find_recovery(rdir) == []
    write_recovery(project, rdir)
    discard_project_recovery(project, rdir)
    assert find_recovery(rdir) == []
    with pytest.raises(ProjectError):
        discard_recovery(tmp_path / "mine.kanproj")                   # never deletes user files


def test_default_recovery_dir(monkeypatch, tmp_path):
    monkeypatch.delenv("KANSTUDIO_RECOVERY_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    d = default_recovery_dir()
    assert d.is_absolute() and Path.cwd() not in (d, d.parent)
    if os.name == "posix" and not str(d).startswith(str(Path.home() / "Library")):
        assert d == tmp_path / "state" / "kanstudio" / "recovery"
    monkeypatch.setenv("KANSTUDIO_RECOVERY_DIR", str(tmp_path / "r"))
    assert default_recovery_dir() == tmp_path / "r"
