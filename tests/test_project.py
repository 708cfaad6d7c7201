"""Project document, edit commands and history (no Qt)."""
from __future__ import annotations

import json
import math
import threading

import numpy as np
import pytest
import torch

from kanstudio.data import Dataset
from kanstudio.model.io import from_bytes, to_bytes
from kanstudio.project import (AutoPrune, AutoSymbolic, CommandError, FitModel, FixSymbolic, Project, PruneEdge,
                               PruneNode, RefineGrid, Retrain, SetModel, Unfix, command_from_json, command_types,
                               edge_name, replay)

FIT = {"width": "2,3,1", "grid": 3, "k": 3, "steps": 4, "optimizer": "adam", "lr": 0.05, "seed": 0}


def make_dataset(n: int = 120, seed: int = 3) -> Dataset:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, size=(n, 2))
    Y = np.sin(math.pi * X[:, 0]) + X[:, 1]
    return Dataset.from_arrays(X, Y, ["a", "b"], ["y"], test_fraction=0.25, seed=seed)


@pytest.fixture(scope="module")
def fitted():
    """(dataset, bytes of a small fitted model), built once."""
    ds = make_dataset()
    p = Project(dataset=ds, settings=FIT)
    p.do(FitModel())
    return ds, to_bytes(p.model)


@pytest.fixture
def project(fitted):
    ds, blob = fitted
    return Project(dataset=ds, model=from_bytes(blob), settings=FIT)


def outputs(p: Project) -> torch.Tensor:
    x, _ = p.tensors("all")
    with torch.no_grad():
        return p.model(x).clone()


def check_undo_redo(p: Project, cmd):
    """apply -> revert restores the model bit for bit; re-apply gives the same result."""
    before_out, before_bytes = outputs(p), to_bytes(p.model)
    p.do(cmd)
    after_out, after_bytes = outputs(p), to_bytes(p.model)
    p.undo()
    assert torch.equal(outputs(p), before_out)
    assert to_bytes(p.model) == before_bytes
    p.redo()
    assert torch.equal(outputs(p), after_out)
    assert to_bytes(p.model) == after_bytes
    # and once more, to be sure snapshots are not consumed
    p.undo()
    p.redo()
    assert to_bytes(p.model) == after_bytes
    return before_out, after_out


# ------------------------------------------------------------- commands
def test_prune_edge(project):
    cmd = PruneEdge(0, 1, 2)
    before, after = check_undo_redo(project, cmd)
    assert not torch.equal(before, after)
    assert float(project.model.layers[0].mask[1, 2]) == 0.0
    assert cmd.label == "Prune edge b → h3"


def test_fix_symbolic_explicit_and_unfix(project):
    fix = FixSymbolic(0, 0, 1, "sin", (2.0, 0.1, 0.5, -0.2))
    check_undo_redo(project, fix)
    assert project.model.layers[0].symbolic_name(0, 1) == "sin"
    assert fix.label == "Fix edge a → h2 to sin"
    unfix = Unfix(0, 0, 1)
    check_undo_redo(project, unfix)
    assert project.model.layers[0].symbolic_name(0, 1) is None
    assert "was sin" in unfix.label


def test_fix_symbolic_fitted(project):
    pytest.importorskip("kanstudio.symbolic.edges")
    cmd = FixSymbolic(0, 0, 0, "sin")
    check_undo_redo(project, cmd)
    assert cmd.fn_params is not None and len(cmd.fn_params) == 4
    assert 0.0 <= cmd.r2 <= 1.0 + 1e-9


def test_fix_symbolic_prepare_off_thread_matches(project, fitted):
    pytest.importorskip("kanstudio.symbolic.edges")
    twin = Project(dataset=fitted[0], model=from_bytes(fitted[1]), settings=FIT)
    sync = FixSymbolic(0, 1, 0, "x")
    twin.do(sync)
    cmd = FixSymbolic(0, 1, 0, "x")
    cmd.begin(project)
    t = threading.Thread(target=cmd.run)
    t.start()
    t.join()
    assert cmd.computed
    project.do(cmd)
    assert cmd.fn_params == sync.fn_params
    assert torch.equal(outputs(project), outputs(twin))


def test_prune_node_and_refine(project):
    cmd = PruneNode(1, 1)
    check_undo_redo(project, cmd)
    assert project.model.width[1] == [2, 0]
    assert cmd.label == "Prune node h2"
    ref = RefineGrid(6)
    check_undo_redo(project, ref)
    assert project.model.grid_size == 6 and ref.label == "Refine grid 3 → 6"


def test_auto_prune(project):
    pytest.importorskip("kanstudio.science.prune")
    cmd = AutoPrune(node_th=1e-2, edge_th=3e-2)
    check_undo_redo(project, cmd)
    assert cmd.summary["edges_before"] >= cmd.summary["edges_after"]


def test_auto_symbolic(project):
    pytest.importorskip("kanstudio.symbolic.edges")
    cmd = AutoSymbolic(lib=["x", "x^2", "sin"], weight_simple=0.8, engine_seconds=0)
    check_undo_redo(project, cmd)
    assert len(cmd.fixed) == project.model.edge_count()
    assert "edges fixed" in cmd.label


def test_auto_symbolic_records_the_engine_time_and_old_projects_replay_without_the_engine():
    cmd = AutoSymbolic(engine_seconds=1.5)
    assert AutoSymbolic.from_json(cmd.params()).engine_seconds == 1.5
    assert AutoSymbolic.from_json({"lib": None}).engine_seconds == 0.0
    assert AutoSymbolic().engine_seconds > 0          # on by default (defaults.SYMBOLIC_ENGINE_SECONDS)


def test_retrain_is_exact_on_redo(project):
    before = outputs(project)
    cmd = Retrain(steps=2, optimizer="adam", lr=0.01)
    _, after = check_undo_redo(project, cmd)
    assert not torch.equal(before, after)
    assert cmd.result["reason"] == "completed" and cmd.options["steps"] == 2


def test_retrain_symbolic_edges_train_only_affine(project):
    project.do(FixSymbolic(0, 0, 0, "sin", (1.0, 0.0, 1.0, 0.0)))
    coef = project.model.layers[0].coef.detach()[0, 0].clone()
    project.do(Retrain(steps=2, optimizer="adam", lr=0.05))
    layer = project.model.layers[0]
    assert torch.equal(layer.coef.detach()[0, 0], coef)                  # spline untouched
    assert not torch.equal(layer.sym_params.detach()[0, 0], torch.tensor([1.0, 0.0, 1.0, 0.0],
                                                                         dtype=torch.float64))


def test_fit_model_from_nothing_and_worker_pattern(fitted):
    ds, blob = fitted
    p = Project(dataset=ds, settings=FIT)
    assert p.model is None
    snaps = []
    cmd = FitModel({"steps": 3})
    cmd.begin(p)
    t = threading.Thread(target=cmd.run, kwargs={"on_snapshot": lambda s, m: snaps.append(s.step)})
    t.start()
    t.join()
    assert p.model is None and cmd.computed        # run never touches the project
    p.do(cmd)
    assert p.model is not None and p.model.input_names == ["a", "b"] and p.model.output_names == ["y"]
    assert snaps[-1] == 3 and cmd.settings["width"] == [2, 3, 1]
    out = outputs(p)
    p.undo()
    assert p.model is None
    p.redo()
    assert torch.equal(outputs(p), out)


def test_fit_cancel_keeps_partial_model(fitted):
    p = Project(dataset=fitted[0], settings={**FIT, "steps": 50})
    cancel = threading.Event()
    cmd = FitModel()
    cmd.begin(p)
    cmd.run(cancel=cancel, on_snapshot=lambda s, m: cancel.set() if s.step >= 2 else None)
    p.do(cmd)
    assert cmd.result["reason"] == "cancelled" and "stopped at step" in cmd.label
    assert p.model is not None


def test_fit_needs_data_and_matching_width():
    p = Project(settings=FIT)
    with pytest.raises(CommandError, match="dataset"):
        p.do(FitModel())
    p = Project(dataset=make_dataset(), settings={**FIT, "width": "3,2,1"})
    with pytest.raises(CommandError, match="first layer must have 2 node"):
        p.do(FitModel())
    assert p.model is None and not p.history.can_undo


def test_stale_detection(project):
    cmd = Retrain(steps=1, optimizer="adam")
    cmd.begin(project)
    cmd.run()
    assert not cmd.is_stale(project)
    project.do(PruneEdge(0, 0, 0))
    assert cmd.is_stale(project)
    project.do(cmd)                        # still applicable; undo returns to the pruned state
    pruned = to_bytes(from_bytes(project.history.commands[-1]._before.data))
    project.undo()
    assert to_bytes(project.model) == pruned


def test_set_model(project, fitted):
    other = from_bytes(fitted[1])
    other.set_edge_mask(0, 0, 0, 0.0)
    cmd = SetModel("Discovery result", other, kind="discover", params={"stage": "final"})
    check_undo_redo(project, cmd)
    assert torch.equal(project.model.layers[0].mask, other.layers[0].mask)
    rebuilt = command_from_json(json.loads(json.dumps(cmd.to_json())))
    assert rebuilt.kind == "discover" and rebuilt.extra == {"stage": "final"}
    with pytest.raises(CommandError, match="cannot be replayed"):
        Project(dataset=fitted[0], model=from_bytes(fitted[1])).do(rebuilt)


def test_failed_command_changes_nothing(project):
    before = to_bytes(project.model)
    with pytest.raises(IndexError):
        project.do(PruneEdge(0, 7, 0))
    assert to_bytes(project.model) == before and not project.history.can_undo
    with pytest.raises(CommandError, match="no model"):
        Project(dataset=project.dataset).do(PruneEdge(0, 0, 0))
    with pytest.raises(CommandError, match="unknown symbolic function"):
        project.do(FixSymbolic(0, 0, 0, "no_such_fn", (1, 0, 1, 0)))
    assert to_bytes(project.model) == before and not project.history.can_undo


# --------------------------------------------------------------- history
def test_history_undo_redo_clean_and_notifications(project):
    seen = []
    project.on_changed.append(seen.append)
    h = project.history
    assert h.is_clean and not project.modified and not h.can_undo
    project.do(PruneEdge(0, 0, 0))
    project.do(PruneEdge(0, 1, 0))
    assert seen[:3] == ["model", "history", "modified"] and project.modified
    assert h.undo_label == "Prune edge b → h1"
    project.mark_saved()
    assert h.is_clean and not project.modified and seen[-1] == "modified"
    h.undo()
    assert project.modified and h.can_redo and h.redo_label == "Prune edge b → h1"
    h.redo()
    assert not project.modified
    h.undo()
    project.do(PruneEdge(0, 1, 1))         # a new branch: the saved state is unreachable
    assert not h.can_redo and h.clean_index is None and project.modified
    assert len(h) == 2 and h.labels() == ["Prune edge a → h1", "Prune edge b → h2"]
    with pytest.raises(CommandError):
        Project().history.undo()


def test_history_limit_moves_old_commands_to_records(project):
    project.history.limit = 2
    for j in range(3):
        project.do(PruneEdge(0, 0, j))
    assert len(project.history.commands) == 2 and len(project.history.past) == 1
    assert len(project.history) == 3 and project.history.past[0]["type"] == "prune_edge"


def test_settings_changes_mark_modified(project):
    seen = []
    project.on_changed.append(seen.append)
    project.update_settings(steps=10)
    assert project.modified and seen == ["settings", "modified"]
    project.update_ui(score_mode="activation")      # view state: not a modification
    project.mark_saved()
    project.update_ui(score_mode="attribution")
    assert not project.modified


def test_set_dataset_incompatible_drops_model(project, fitted):
    project.do(PruneEdge(0, 0, 0))
    rng = np.random.default_rng(0)
    ds3 = Dataset.from_arrays(rng.normal(size=(60, 3)), rng.normal(size=60), ["p", "q", "r"], ["z"])
    project.set_dataset(ds3)
    assert project.model is None and not project.history.can_undo and project.modified
    same_cols = make_dataset(seed=5)
    p2 = Project(dataset=fitted[0], model=from_bytes(fitted[1]))
    p2.set_dataset(same_cols)
    assert p2.dataset is same_cols and p2.model is not None


# ------------------------------------------------------------------ JSON
ALL_COMMANDS = [PruneEdge(0, 1, 2), PruneNode(1, 0), AutoPrune(0.02, 0.05), FixSymbolic(0, 0, 1, "sin", (1, 2, 3, 4)),
                FixSymbolic(1, 2, 0, "x^2"), Unfix(0, 1, 1), AutoSymbolic(["x", "sin"], 0.5, 0.9),
                RefineGrid(10), FitModel({"width": "2,3,1", "steps": 7}), Retrain(steps=5, lamb=0.01),
                SetModel("Imported", None)]


@pytest.mark.parametrize("cmd", ALL_COMMANDS, ids=lambda c: c.type)
def test_command_json_round_trip(cmd):
    rec = json.loads(json.dumps(cmd.to_json()))
    again = command_from_json(rec)
    assert type(again) is type(cmd)
    assert again.to_json() == rec


def test_every_registered_type_is_covered():
    # The KAN 2.0 commands have their own round-trip tests (test_commands_science.py).
    from kanstudio.project import commands_science
    science = {obj.type for obj in vars(commands_science).values()
               if isinstance(obj, type) and getattr(obj, "__module__", "") == commands_science.__name__
               and isinstance(getattr(obj, "type", None), str)}
    assert set(command_types()) - science == {c.type for c in ALL_COMMANDS}


def test_bad_records_are_refused():
    for bad in ({}, {"type": "nope"}, {"type": "prune_edge", "layer": 0}, "text",
                {"type": "fix_symbolic", "layer": 0, "i": 0, "j": 0, "name": "sin", "params": [1, 2]}):
        with pytest.raises(CommandError):
            command_from_json(bad)


def test_history_json_round_trips_and_replays(project, fitted):
    project.do(PruneEdge(0, 1, 2))
    project.do(FixSymbolic(0, 0, 0, "sin", (1.5, 0.0, 0.7, 0.1)))
    project.do(RefineGrid(5))
    project.do(Unfix(0, 0, 0))
    records = json.loads(json.dumps(project.history.to_json()))
    assert [r["label"] for r in records] == project.history.labels()
    assert all("time" in r for r in records)
    assert [command_from_json(r).to_json() for r in records] == records
    fresh = Project(dataset=fitted[0], model=from_bytes(fitted[1]))
    replay(fresh, records)
    assert torch.equal(outputs(fresh), outputs(project))


def test_edge_names_with_mult_nodes():
    from kanstudio.model.network import KAN
    m = KAN([2, [1, 1], 1], grid=3)
    m.set_names(["u", "v"], ["w"])
    assert edge_name(m, 0, 1, 0) == "v → h1"
    assert edge_name(m, 0, 0, 2) == "u → h2"         # subnode 2 is the mult node's 2nd operand
    assert edge_name(m, 1, 1, 0) == "h2 → w"


def test_starting_a_fit_needs_no_torch(tmp_path):
    """begin() runs on the UI thread: it must not import torch (a Fit pressed
    while the worker is still warming up would freeze the window for seconds)."""
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    code = (
        "import sys\n"
        "from kanstudio.data import load_csv\n"
        "from kanstudio.project.document import Project\n"
        "from kanstudio.project.commands_model import FitModel\n"
        f"ds = load_csv({str(root / 'sample_datasets' / 'hello_world.csv')!r}, target='f')\n"
        "cmd = FitModel({'width': '2,5,1', 'steps': 5})\n"
        "cmd.begin(Project(dataset=ds))\n"
        "print('torch' in sys.modules)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=str(tmp_path), capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "False"
