"""KAN 2.0 science commands: apply -> revert is exact, redo works, JSON round-trips,
bad formulas raise a clear error."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from kanstudio.data import DataError, Dataset
from kanstudio.model.network import KAN
from kanstudio.project import CommandError, Project, command_from_json
from kanstudio.project import load_project, save_project
from kanstudio.project.aux_formula import aux_definitions, aux_expressions, substitute_pareto_row, substitute_text
from kanstudio.project.commands_science import (AddAuxInput, AutoSwap, CompileFormula, DefineModule, ExpandDepth,
                                                ExpandWidth, PruneInputs, weakest_inputs)


def make_project(with_model=True) -> Project:
    rng = np.random.default_rng(0)
    X = rng.uniform(-0.9, 0.9, size=(120, 2))
    Y = ((X[:, 0] + X[:, 1]) / (1 + X[:, 0] * X[:, 1]))[:, None]
    ds = Dataset.from_arrays(X, Y, ["u", "v"], ["w"])
    model = None
    if with_model:
        model = KAN([2, 3, 1], grid=5, seed=1)
        model.set_names(["u", "v"], ["w"])
    return Project(dataset=ds, model=model)


def outputs(p: Project) -> np.ndarray:
    with torch.no_grad():
        return p.model(p.tensors("all")[0]).numpy().copy()


@pytest.mark.parametrize("make", [
    lambda: AddAuxInput("uv", "u*v"),
    lambda: DefineModule("x1->h0,h1"),
    lambda: ExpandWidth(1, 2, "sum"),
    lambda: ExpandWidth(1, 1, "mult"),
    lambda: ExpandDepth(),
    lambda: AutoSwap(),
    lambda: CompileFormula("(u+v)/(1+u*v)"),
    lambda: PruneInputs(["v"]),
])
def test_apply_revert_redo_json(make):
    p = make_project()
    cmd = make()
    before, ds_before, n_in = outputs(p), p.dataset, p.model.n_inputs
    p.do(cmd)
    after = outputs(p)
    p.undo()
    assert p.dataset is ds_before and p.model.n_inputs == n_in
    assert np.array_equal(outputs(p), before)
    p.redo()
    assert np.array_equal(outputs(p), after)
    rec = cmd.to_json()
    assert rec["type"] == cmd.type and rec["label"] == cmd.label
    again = command_from_json(rec)
    assert type(again) is type(cmd) and again.params().keys() == cmd.params().keys()
    # a rebuilt command replays on a fresh project and gives the same result
    q = make_project()
    q.do(command_from_json({k: v for k, v in rec.items() if k not in ("masked", "perms")}))
    assert np.allclose(outputs(q), after)


def test_structure_edits_keep_the_function():
    for cmd in (AddAuxInput("uv", "u*v"), ExpandWidth(1, 2, "sum"), ExpandDepth(), AutoSwap()):
        p = make_project()
        before = outputs(p)
        p.do(cmd)
        assert np.allclose(outputs(p), before, atol=1e-8), cmd.label


def test_aux_input_changes_data_and_model():
    p = make_project()
    reasons = []
    p.on_changed.append(reasons.append)
    p.do(AddAuxInput("uv", "u * v"))
    assert p.dataset.input_names[-1] == "uv" and p.model.n_inputs == 3
    assert np.allclose(p.dataset.X[:, 2], p.dataset.X[:, 0] * p.dataset.X[:, 1])
    assert "data" in reasons and "model" in reasons
    p.undo()
    assert list(p.dataset.input_names) == ["u", "v"] and p.model.n_inputs == 2


def test_aux_input_without_model_changes_only_data():
    p = make_project(with_model=False)
    p.do(AddAuxInput("s", "u + v"))
    assert p.model is None and list(p.dataset.input_names) == ["u", "v", "s"]
    p.undo()
    assert list(p.dataset.input_names) == ["u", "v"]


def test_compile_is_exact_and_needs_no_model():
    p = make_project(with_model=False)
    p.do(CompileFormula("(u+v)/(1+u*v)"))
    ds = p.dataset
    pred = ds.denormalize_y(outputs(p))[:, 0]
    assert np.max(np.abs(pred - ds.Y[:, 0])) < 1e-9
    p.undo()
    assert p.model is None


@pytest.mark.parametrize("cmd", [CompileFormula("u +* v"), CompileFormula("__import__('os')"),
                                 CompileFormula("w * 2"), AddAuxInput("z", "u +"), AddAuxInput("z", "w*u"),
                                 AddAuxInput("z", "bogus(u)")])
def test_bad_formula_is_a_clear_error(cmd):
    p = make_project()
    before = outputs(p)
    with pytest.raises(DataError) as info:
        p.do(cmd)
    assert str(info.value) and "Traceback" not in str(info.value)
    assert np.array_equal(outputs(p), before) and len(p.history.commands) == 0


@pytest.mark.parametrize("cmd", [AddAuxInput("u", "v*2"), AddAuxInput("c", "u*0 + 1"), DefineModule("nonsense"),
                                 ExpandWidth(0, 1), ExpandWidth(1, 1, "max")])
def test_invalid_parameters_raise_value_error(cmd):
    p = make_project()
    with pytest.raises(ValueError):
        p.do(cmd)
    assert list(p.dataset.input_names) == ["u", "v"] and p.model.n_inputs == 2


def test_model_commands_need_a_model():
    p = make_project(with_model=False)
    for cmd in (DefineModule("x1->h0"), ExpandWidth(1), ExpandDepth(), AutoSwap()):
        with pytest.raises(CommandError):
            p.do(cmd)


def test_worker_split_begin_run_apply():
    p = make_project()
    cmd = AutoSwap()
    cmd.begin(p)
    cmd.run()
    assert cmd.computed and not cmd.is_stale(p)
    p.do(cmd)
    assert cmd.perms is not None and len(cmd.perms) == p.model.depth + 1


def test_prune_inputs_changes_data_and_model():
    p = make_project(with_model=False)
    p.do(AddAuxInput("uv", "u*v"))
    p.do(CompileFormula("u + v + 0.001*uv"))
    x = p.tensors("train")[0]
    assert weakest_inputs(p.model, x, list(p.dataset.input_names), 0.05) == ["uv"]
    assert len(weakest_inputs(p.model, x, list(p.dataset.input_names), 1e9)) == 2    # one input always stays
    before = outputs(p)
    p.do(PruneInputs(["uv"]))
    assert list(p.dataset.input_names) == ["u", "v"] and p.model.input_names == ["u", "v"]
    assert np.allclose(outputs(p), before, atol=0.01)    # only the weak input's variation is lost
    p.undo()
    assert list(p.dataset.input_names) == ["u", "v", "uv"] and p.model.n_inputs == 3
    for bad in (PruneInputs(["nope"]), PruneInputs(["u", "v", "uv"]), PruneInputs([])):
        with pytest.raises(CommandError):
            p.do(bad)
    with pytest.raises(CommandError):
        command_from_json({"type": "prune_inputs", "names": "u"})


def test_aux_definitions_follow_the_history():
    p = make_project()
    p.do(AddAuxInput("uv", "u*v"))
    p.do(AddAuxInput("q", "uv + u"))           # defined over an earlier auxiliary input
    assert aux_definitions(p) == {"uv": "u*v", "q": "uv + u"}
    ex = aux_expressions(p)
    u, v = (s for s in sorted(ex["uv"].free_symbols, key=lambda s: s.name))
    assert ex["uv"] == u * v and ex["q"] == u * v + u
    e = substitute_text("2*uv + sin(q) + Abs(uv)", p.dataset.input_names, ex)
    assert {s.name for s in e.free_symbols} == {"u", "v"}
    assert "uv" not in str(e) and "q" not in str(e)
    assert substitute_text("u + v", p.dataset.input_names, ex) is None       # nothing to replace
    row = {"complexity": 3, "test_rmse": 0.1, "formula": "2*uv", "latex": "2 uv"}
    new = substitute_pareto_row(row, p.dataset.input_names, ex)
    assert new["formula"] == "2*u*v" and new["latex"] == "2 u v" and new["complexity"] == 3
    p.undo()
    assert aux_definitions(p) == {"uv": "u*v"}
    p.do(PruneInputs(["uv"]))                  # a removed column is no longer an auxiliary input
    assert aux_definitions(p) == {}


def test_science_edits_round_trip_through_kanproj(tmp_path):
    """A project with auxiliary inputs, a compiled and grown network, pruned
    inputs and auto-swap saves and reloads exactly, history and aux
    definitions included."""
    p = make_project(with_model=False)
    for cmd in (AddAuxInput("uv", "u*v"), AddAuxInput("s", "u + v"), CompileFormula("(u+v)/(1+uv)"),
                ExpandDepth(), ExpandWidth(1, 1, "sum"), AutoSwap(), PruneInputs(["s"])):
        p.do(cmd)
    before = outputs(p)
    path = save_project(p, tmp_path / "science.kanproj")
    q = load_project(path)
    assert list(q.dataset.input_names) == ["u", "v", "uv"] and q.model.input_names == ["u", "v", "uv"]
    assert np.array_equal(outputs(q), before)
    assert [r["type"] for r in q.history.to_json()] == [
        "add_aux_input", "add_aux_input", "compile_formula", "expand_depth", "expand_width", "auto_swap",
        "prune_inputs"]
    assert aux_definitions(q) == {"uv": "u*v"}
    # and the formula of the reloaded model reads in the original columns
    ex = aux_expressions(q)
    e = substitute_text("(u + v)/(uv + 1)", q.dataset.input_names, ex)
    assert "uv" not in str(e) and {s.name for s in e.free_symbols} == {"u", "v"}


def test_project_formula_reads_aux_inputs_as_expressions():
    p = make_project(with_model=False)
    p.do(AddAuxInput("uv", "u*v"))
    p.do(CompileFormula("(u+v)/(1+uv)"))
    res = p.formula()
    names = {s.name for s in res.exprs[0].free_symbols}
    assert names == {"u", "v"} and "uv" not in res.sympy_str[0] and "u v" in res.latex[0]
    X = p.dataset.X
    from kanstudio.symbolic.formula import evaluate
    assert np.allclose(evaluate(res.exprs[0], p.dataset.input_names, X), p.dataset.Y[:, 0], atol=1e-6)


def test_pareto_and_discovery_read_in_original_columns(tmp_path):
    """project.pareto is kept in the original columns (set, saved and loaded);
    a Discover result is substituted once, and pick() still finds its choice."""
    import sympy
    from kanstudio.discovery.pipeline import DiscoverResult
    from kanstudio.discovery.judgement.pareto import FormulaCandidate
    from kanstudio.project.aux_formula import substitute_discovery
    p = make_project(with_model=False)
    p.do(AddAuxInput("uv", "u*v"))
    p.set_pareto([{"complexity": 5, "test_rmse": 0.01, "formula": "2*uv + u", "latex": "2 uv + u"},
                  {"complexity": 1, "test_rmse": 0.5, "formula": "u", "latex": "u"}])
    assert [r["formula"] for r in p.pareto] == ["2*u*v + u", "u"] and p.pareto[0]["latex"] == "2 u v + u"
    assert p.pareto[0]["complexity"] == 5
    q = load_project(save_project(p, tmp_path / "p.kanproj"))
    assert q.pareto == p.pareto
    u, v, uv = sympy.symbols("u v uv", real=True)
    cands = [FormulaCandidate(u, 1, 0.5), FormulaCandidate(2 * uv + u, 5, 0.0)]
    res = DiscoverResult(cands[1].formula, cands[1].latex, cands[1].sympy_str, 0.0, 0.0, 5, list(cands), [],
                         candidates=list(cands), input_names=["u", "v", "uv"], target_name="w")
    out = substitute_discovery(res, aux_expressions(p))
    assert [c.sympy_str for c in out.pareto] == ["u", "2*u*v + u"] and out.sympy_str == "2*u*v + u"
    assert "uv" not in out.latex and out.pick() is out.pareto[1] and out.pareto[1].complexity == 5
