"""Trustworthy discovery: the status of a result, the choice from the Pareto
front, the symbolic engine behind one interface, the derivation and the CLI's
JSON (kanstudio/discovery/)."""
from __future__ import annotations

import json
import math
from types import SimpleNamespace

import numpy as np
import pytest
import sympy

from kanstudio.discovery import DiscoverConfig, discover_arrays
from kanstudio.discovery.search.engines import OperonEngine, engine_symbols
from kanstudio.discovery.judgement.pareto import FormulaCandidate
from kanstudio.discovery.split import _split_error, split_tolerance
from kanstudio.discovery.judgement.status import (APPROXIMATE, EXACT, NO_LAW, STRUCTURE_MAX, choose, floor_agrees,
                                                  judge, noise_structure, residual_structure)
from kanstudio.symbolic.interpreter import evaluate_numpy

RNG = np.random.default_rng(7)


def _cand(expr, size, err):
    return FormulaCandidate(sympy.sympify(expr), size, err)


def test_residual_structure_tells_noise_from_a_missing_term():
    X = RNG.uniform(-1, 1, size=(800, 2))
    noise = RNG.normal(0, 1, 800)
    missing = 0.3 * np.sin(3 * X[:, 0]) * X[:, 1]
    assert residual_structure(X, noise) < 0.1
    assert residual_structure(X, missing) > 0.8
    assert residual_structure(X, missing + 0.1 * noise) > 0.5


def test_noise_structure_sees_a_formula_off_where_y_is_small_under_relative_noise():
    # 1% relative noise on a target spanning 0.1..3: a formula a few percent off at
    # small y hides in the absolute residuals (the large rows dominate them) but not
    # in the relative ones; the law's residuals are noise either way
    x = np.sort(RNG.uniform(0.05, 2.0, 1000))[:, None]
    law = np.log(x[:, 0] + 1) + np.log(x[:, 0] ** 2 + 1)
    y = law * (1 + 0.01 * RNG.normal(size=len(law)))
    off = law * (1 + 0.03 * np.cos(2 * x[:, 0]) * np.exp(-2 * x[:, 0]))
    assert noise_structure(x, y - law, y) < 0.1
    assert residual_structure(x, y - off) < STRUCTURE_MAX < noise_structure(x, y - off, y)
    # absolute noise: the relative reading adds nothing a law would fail
    ya = law + 0.01 * RNG.normal(size=len(law))
    assert noise_structure(x, ya - law, ya) < 0.1


def test_the_choice_takes_the_big_drop_in_error_not_the_smallest_error():
    front = [_cand("x", 1, 1.0), _cand("x**2", 3, 1e-12), _cand("x**2 + 1e-9*x", 7, 0.9e-12)]
    assert choose(front, floor=1e-10).formula == sympy.sympify("x**2")
    # noisy data: the law and an over-fitted extension are within the window; the law
    # bought its drop with two nodes, the extension a sliver with four
    front = [_cand("x", 1, 1.0), _cand("x**2", 3, 0.0101), _cand("x**2 + 0.01*sin(9*x)", 9, 0.0100)]
    assert choose(front, floor=1e-12).formula == sympy.sympify("x**2")
    # PySR's window is on the loss, the mean squared error: 1.5x in MSE is 1.22x in
    # RMSE.  A formula 1.4x the best RMSE (2x its MSE) is out of it, however good its
    # score (stormer's table: the simpler formula without the offset in Wt was chosen)
    front = [_cand("w", 1, 58.6), _cand("v/w", 3, 7.2), _cand("v/(w - 2)", 5, 5.16)]
    assert choose(front, floor=1e-12).formula == sympy.sympify("v/(w - 2)")
    front = [_cand("w", 1, 58.6), _cand("v/w", 3, 6.0), _cand("v/(w - 2)", 5, 5.16)]
    assert choose(front, floor=1e-12).formula == sympy.sympify("v/w")


def test_of_two_formulas_exact_to_round_off_the_front_keeps_the_one_with_fewer_constants():
    """At round-off the data cannot tell the fitted constants from the snapped ones:
    the headline is the snapped form, whichever of the two the optimiser left a
    hair closer."""
    from kanstudio.discovery.judgement import pareto_front
    fitted = _cand("5.271442389*s/(1.281253359*i + 0.4392868658*s + 1.53750403)", 11, 3e-12)
    snapped = _cand("5*s/(1.2152778*i + 5*s/12 + 1.4583333)", 11, 8e-12)
    assert pareto_front([fitted, snapped])[0] is fitted           # no floor: the smaller error
    assert pareto_front([fitted, snapped], floor=1e-9)[0] is snapped
    assert choose(pareto_front([fitted, snapped], floor=1e-9), floor=1e-9) is snapped


def test_status_exact_noisy_approximate_and_no_law():
    never = lambda c: math.nan  # noqa: E731 - no residual test needed
    exact = judge([_cand("x", 1, 0.5), _cand("x**2", 3, 1e-15)], 1e-9, 1e-3, never)
    assert exact.status == EXACT and exact.chosen.formula == sympy.sympify("x**2")

    # noise: unstructured residuals at the network's error level
    noisy = judge([_cand("x", 1, 0.5), _cand("x**2", 3, 0.0101)], 1e-9, 0.0102, lambda c: -0.1)
    assert noisy.status == EXACT and "noise" in noisy.reason
    # far better than the network: the network is poor, it shows no noise floor
    poor = judge([_cand("x", 1, 0.5), _cand("x**2", 3, 0.0101)], 1e-9, 0.08, lambda c: -0.1)
    assert poor.status == APPROXIMATE
    # ... unless a network fitted to the formula's residuals shows the floor: it learns nothing
    refloored = judge([_cand("x", 1, 0.5), _cand("x**2", 3, 0.0101)], 1e-9, 0.08, lambda c: -0.1,
                      refloor=lambda c: 0.0100)
    assert refloored.status == EXACT and "fitted to its residuals" in refloored.reason
    # a network that learns a shape the formula missed shows none
    learned = judge([_cand("x", 1, 0.5), _cand("x**2", 3, 0.0101)], 1e-9, 0.08, lambda c: -0.1,
                    refloor=lambda c: 0.006)
    assert learned.status == APPROXIMATE
    # same error, but the residuals have structure: a missing term, not noise
    off = judge([_cand("x", 1, 0.5), _cand("x**2", 3, 0.0101)], 1e-9, 0.0102, lambda c: 0.9)
    assert off.status == APPROXIMATE

    # the network beats every readable formula clearly; a sprawling formula as good as
    # the network is never the headline
    big = _cand("+".join(f"sin({k}*x)" for k in range(1, 9)), 40, 1e-3)
    none = judge([_cand("x", 1, 0.5), _cand("x**2", 3, 0.2), big], 1e-9, 1e-3, lambda c: 0.9,
                 baseline=1.0)
    assert none.status == NO_LAW and none.chosen is None
    assert none.closest.formula == sympy.sympify("x**2")
    # nothing clearly better than the mean of y
    flat = judge([_cand("x", 1, 0.95)], 1e-9, math.inf, never, small_table=True, baseline=1.0)
    assert flat.status == NO_LAW


def test_of_the_formulas_the_choice_cannot_tell_apart_the_one_at_the_noise_floor_is_the_law():
    # PySR's score takes the 3-node formula (a large drop in error for few nodes), but
    # its residuals still have a shape; the 6-node one, inside the choice's window,
    # leaves noise: it is the law, and the status says so
    front = [_cand("x", 1, 0.5), _cand("x**2", 3, 0.0112), _cand("x**2 + sin(x)/9", 6, 0.0101)]
    shape = {sympy.sympify("x**2"): 0.8, sympy.sympify("x**2 + sin(x)/9"): -0.05}
    v = judge(front, 1e-9, 0.0102, lambda c: shape.get(c.formula, 0.9))
    assert v.status == EXACT and v.chosen.formula == sympy.sympify("x**2 + sin(x)/9")
    # with no formula at the floor, PySR's choice stands, as an approximation
    v = judge(front, 1e-9, 0.0102, lambda c: 0.8)
    assert v.status == APPROXIMATE and v.chosen.formula == sympy.sympify("x**2")


def test_a_near_miss_of_separability_is_rejected():
    X = RNG.uniform(1, 3, size=(400, 2))
    exact = lambda Z: Z[:, 0] ** 2 * np.sin(Z[:, 1])  # noqa: E731
    near = lambda Z: Z[:, 0] ** 2 * np.sin(Z[:, 1]) * (1 + 0.3 * np.sin(Z[:, 0] * Z[:, 1]))  # noqa: E731
    for fn, separable in ((exact, True), (near, False)):
        ctx = SimpleNamespace(predict=fn, best_net_rmse=1e-4, y_train=fn(X))
        e = _split_error(ctx, X, np.random.default_rng(0), 0, "mul")
        assert (e <= split_tolerance(ctx)) is separable, e


def test_the_operon_adapter_finds_a_law_within_its_budget():
    engine = OperonEngine()
    assert engine.unavailable() is None
    X = RNG.uniform(1, 3, size=(300, 2))
    y = X[:, 0] * X[:, 1] + 2.0
    exprs = engine.search(X, y, 8.0, 0, lambda: False)
    assert exprs and all(e.free_symbols <= set(engine_symbols(2)) for e in exprs)
    x0, x1 = engine_symbols(2)
    errs = [float(np.max(np.abs(evaluate_numpy(e, {x0: X[:, 0], x1: X[:, 1]}) - y))) for e in exprs]
    assert min(errs) < 1e-3 * np.std(y)
    # the thread count changes the speed, not the result (the search stopped at
    # round-off, so both ran the same slices)
    assert OperonEngine(threads=1).search(X, y, 8.0, 0, lambda: False) == exprs
    # a cancel is noticed within a slice
    import time
    t0 = time.perf_counter()
    engine.search(X, y, 30.0, 0, lambda: True)
    assert time.perf_counter() - t0 < 3.0


def _law(n=600, seed=3):
    rng = np.random.default_rng(seed)
    X = rng.uniform(1, 3, size=(n, 2))
    return X, X[:, 0] * np.sin(X[:, 1])


def test_exact_law_has_status_derivation_and_the_same_formula_for_the_same_seed():
    X, y = _law()
    runs = [discover_arrays(X[:480], y[:480], X[480:], y[480:], ["m", "theta"], "F",
                            DiscoverConfig(budget_seconds=20, seed=4)) for _ in range(2)]
    a, b = runs
    m, theta = sympy.symbols("m theta", positive=True)
    assert sympy.simplify(a.formula - m * sympy.sin(theta)) == 0
    assert a.status == EXACT and a.exact
    assert a.derivation and all(s.text for s in a.derivation)
    assert a.sympy_str == b.sympy_str
    d = a.to_dict()
    assert d["status"] == "exact" and d["derivation"][0]["kind"]
    assert a.model is not None          # a network one can open and edit, even for an engine's formula


def test_a_target_without_a_law_is_reported_as_such():
    rng = np.random.default_rng(11)
    X = rng.uniform(0, 1, size=(300, 2))
    y = rng.normal(0, 1, 300)           # nothing in X explains y
    res = discover_arrays(X[:240], y[:240], X[240:], y[240:], ["a", "b"], "y", DiscoverConfig(budget_seconds=10))
    assert res.status == NO_LAW and res.formula is None and not res.exact


def test_cli_json_carries_status_and_derivation(tmp_path, capsys):
    from kanstudio.cli import main
    X, y = _law(200)
    csv = tmp_path / "law.csv"
    csv.write_text("m,theta,F\n" + "\n".join(f"{a:.17g},{b:.17g},{c:.17g}" for (a, b), c in zip(X, y)))
    out = tmp_path / "out.json"
    rc = main(["discover", str(csv), "--target", "F", "--budget-seconds", "20", "--json", str(out)])
    text = capsys.readouterr().out
    assert rc == 0
    assert "status: exact" in text.splitlines()[-1]
    d = json.loads(out.read_text())
    for key in ("formula", "latex", "test_rmse", "formula_test_rmse", "complexity", "pareto", "stages",
                "status", "status_reason", "derivation", "closest_formula", "error_kind", "notes"):
        assert key in d, key
    assert d["status"] == "exact" and isinstance(d["derivation"], list) and d["derivation"]
    assert {"kind", "text", "variables"} <= set(d["derivation"][0])


@pytest.mark.parametrize("engine", ["none"])
def test_without_an_engine_discovery_still_runs_on_the_kan_library(engine):
    X, y = _law(300)
    res = discover_arrays(X[:240], y[:240], X[240:], y[240:], ["m", "theta"], "F",
                          DiscoverConfig(budget_seconds=15, engine=engine))
    assert res.formula is not None and res.status in (EXACT, APPROXIMATE)


def test_a_near_miss_is_split_into_pieces_on_separate_variables():
    from kanstudio.discovery.peel import pieces
    z1, z2, e, th = sympy.symbols("Z1 Z2 E theta", positive=True)
    near = sympy.Float(2.1) * z1 ** 2 * z2 ** 2 * sympy.exp(sympy.Float(0.18) * th ** 2) / (e ** 2 * th ** 4)
    kind, parts = pieces(near, [z1, z2, e, th])
    assert kind == "mul"
    by_vars = {tuple(sorted(map(str, v))): p for v, p in parts}
    assert set(by_vars) == {("Z1",), ("Z2",), ("E",), ("theta",)}
    assert by_vars[("theta",)] == sympy.exp(sympy.Float(0.18) * th ** 2) / th ** 4   # both theta factors, one piece
    kind, parts = pieces(z1 * z2 + sympy.sin(th) + 3, [z1, z2, th])
    assert kind == "add" and {frozenset(v) for v, _ in parts} == {frozenset({z1, z2}), frozenset({th})}
    assert pieces(z1 / (z1 + th), [z1, th]) == ("", [])          # no separate pieces: nothing to peel


def test_symmetry_tests_find_the_difference_and_reject_the_rest():
    from kanstudio.discovery.symmetry import TOLERANCE, symmetry_error
    X = RNG.uniform(1, 3, size=(400, 3))
    f = lambda Z: np.cos(Z[:, 0] - Z[:, 1]) * Z[:, 2] ** 2  # noqa: E731
    assert symmetry_error(f, X, 0, 1, "difference") < 1e-9
    for kind in ("sum", "ratio", "product"):
        assert symmetry_error(f, X, 0, 1, kind) > TOLERANCE, kind
    assert symmetry_error(f, X, 0, 2, "difference") > TOLERANCE
    g = lambda Z: Z[:, 0] / Z[:, 1] + Z[:, 2]  # noqa: E731
    assert symmetry_error(g, X, 0, 1, "ratio") < 1e-9
    # a near miss: almost a function of x0 - x1, but not quite
    h = lambda Z: np.cos(Z[:, 0] - Z[:, 1]) + 0.5 * Z[:, 0]  # noqa: E731
    assert symmetry_error(h, X, 0, 1, "difference") > TOLERANCE


def _context(X, y, names, budget=20.0, engine=None):
    from kanstudio.discovery import hypotheses
    from kanstudio.discovery.clock import Clock
    from kanstudio.discovery.context import Context
    from kanstudio.symbolic.formula import input_symbols
    n = int(0.8 * len(X))
    syms = input_symbols(names, list((X > 0).all(0)))
    return Context(DiscoverConfig(budget_seconds=budget), Clock(budget, None, None), X[:n], y[:n], X[n:], y[n:],
                   syms, list(names), hypotheses.run_all, engine)


def test_compositionality_is_found_through_a_one_node_bottleneck():
    """sqrt(1 + p^2 + q^2): no view makes it a sum; g(h) with h = p^2 + q^2 does.
    The bottleneck is tested on held-out rows, h solved as its own problem, g read
    on the real rows."""
    from kanstudio.discovery import hypotheses
    from kanstudio.discovery.compose import compose
    from kanstudio.discovery.views import View
    rng = np.random.default_rng(5)
    X = rng.uniform(-2, 2, size=(600, 2))
    y = np.sqrt(1 + X[:, 0] ** 2 + X[:, 1] ** 2)
    ctx = _context(X, y, ["p", "q"], budget=30)
    hypotheses.shallow(ctx, View("raw", ctx.X_train, ctx.y_train, ctx.symbols, [False, False], False), "additive")
    assert not ctx.exact_found()                   # an additive model does not do it
    compose(ctx)
    p, q = ctx.symbols
    found = [c for c in ctx.candidates if c.stage.startswith("composition")
             and sympy.simplify(c.formula - sympy.sqrt(1 + p ** 2 + q ** 2)) == 0]
    assert found and found[0].test_rmse < 1e-9
    kinds = [s.kind for s in found[0].derivation]
    assert kinds[0] == "compositionality" and kinds[-1] == "outer function"
    assert found[0].derivation[0].error < 1e-2 * ctx.y_std     # the bottleneck's held-out error


def test_compositionality_is_rejected_when_no_single_sum_carries_the_inputs():
    from kanstudio.discovery import hypotheses
    from kanstudio.discovery.compose import compose
    from kanstudio.discovery.views import View
    rng = np.random.default_rng(6)
    X = rng.uniform(-2, 2, size=(600, 2))
    y = np.sin(X[:, 0] * X[:, 1]) + X[:, 0] ** 2       # needs two hidden nodes
    ctx = _context(X, y, ["a", "b"])
    hypotheses.shallow(ctx, View("raw", ctx.X_train, ctx.y_train, ctx.symbols, [False, False], False), "additive")
    compose(ctx)
    names = [s.name for s in ctx.clock.stages]
    assert any(n.startswith("composition: fit") for n in names)       # the test ran ...
    assert not any(n.startswith("composition: h") for n in names)     # ... and said no
    assert not any(c.stage.startswith("composition") for c in ctx.candidates)


def test_the_cli_budget_counts_from_the_start_of_the_command(tmp_path, monkeypatch, capsys):
    """Start-up (imports, reading the table) comes out of --budget-seconds: the
    command, not only the search, ends within it."""
    import time
    from kanstudio import cli, discovery
    X, y = _law(60)
    csv = tmp_path / "law.csv"
    csv.write_text("m,theta,F\n" + "\n".join(f"{a:.17g},{b:.17g},{c:.17g}" for (a, b), c in zip(X, y)))
    seen = {}

    def fake(ds, cfg, *a, **k):
        seen["budget"] = cfg.budget_seconds
        raise ValueError("stop here")
    monkeypatch.setattr(discovery, "discover", fake)
    args = cli.build_parser().parse_args(["discover", str(csv), "--target", "F", "--budget-seconds", "40"])
    args.started = time.perf_counter() - 12.0          # as if start-up had taken 12 s
    assert args.func(args) == 2
    assert "stop here" in capsys.readouterr().err
    assert 40 - 12 - 2.5 < seen["budget"] < 40 - 12


def test_target_transforms_are_offered_only_where_defined_and_read_back_exactly():
    from kanstudio.discovery.search.target_transforms import usable_transforms
    pos = np.linspace(1.0, 3.0, 50)
    mixed = np.linspace(-1.0, 1.0, 50)
    # no log or 1/y of a sign change; an angle in [-1, 1] is read back by asin, not by acos;
    # exp y of a target spanning a few units
    assert [t.name for t in usable_transforms(mixed)] == ["y", "sin y", "exp y"]
    assert "exp y" not in [t.name for t in usable_transforms(np.linspace(0.0, 50.0, 50))]
    assert "cos y" in [t.name for t in usable_transforms(pos)]              # inside [0, pi]
    assert not {"sin y", "cos y"} & {t.name for t in usable_transforms(3 * pos)}   # no branch holds it
    names = [t.name for t in usable_transforms(pos)]
    assert names[0] == "y" and {"y^2", "1/y", "1/y^2", "log|y|"} <= set(names)
    near_zero = np.concatenate([pos, [1e-6]])
    assert "1/y" not in [t.name for t in usable_transforms(near_zero)]
    # logit y only for a fraction: strictly inside (0, 1)
    fraction = np.linspace(1e-5, 0.9999, 50)
    assert "logit y" in [t.name for t in usable_transforms(fraction)]
    assert "logit y" not in [t.name for t in usable_transforms(pos)]
    assert "logit y" not in [t.name for t in usable_transforms(np.concatenate([fraction, [1.0]]))]
    t = sympy.Symbol("t")
    for sign, y in ((1, pos), (-1, -pos), (0, mixed), (1, fraction)):
        for tr in usable_transforms(y):
            back = tr.read_back(t, y)
            # y -> T(y) -> back gives y again on every row
            vals = evaluate_numpy(back, {t: tr.apply(y)})
            assert np.allclose(np.broadcast_to(vals, y.shape), y, rtol=1e-12), (tr.name, sign)


def test_the_symbolic_search_races_transforms_of_the_target():
    """sqrt(a^2 + b^2 + 1) is a short polynomial in y^2: the race finds it in a
    transform of y and reads it back as y.  A race too short to tell the
    targets apart, or one switched off, does not run."""
    from kanstudio.discovery.search.stage import symbolic_search
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 5, size=(400, 2))
    y = np.sqrt(X[:, 0] ** 2 + X[:, 1] ** 2 + 1)
    ctx = _context(X, y, ["a", "b"], budget=30, engine=OperonEngine())
    assert symbolic_search(ctx, 12.0, transforms=True) > 0
    assert ctx.exact_found()
    best = min(ctx.candidates, key=lambda c: c.test_rmse)
    assert best.test_rmse < 1e-6 * np.std(y)
    assert "(operon, y)" not in best.stage and best.derivation[0].kind == "symbolic search"
    assert "read back as y" in best.derivation[0].text
    assert symbolic_search(_context(X, y, ["a", "b"], engine=OperonEngine()), 3.0, transforms=True) == 0
    off = _context(X, y, ["a", "b"], engine=OperonEngine())
    off.cfg.target_transforms = False
    assert symbolic_search(off, 12.0, transforms=True) == 0 and not off.candidates


def test_a_fraction_is_searched_in_logit_y():
    """Hill's occupancy L^n/(K^n + L^n) is n log(L/K) in logit y = log(y/(1 - y)):
    the race finds it there and reads it back as y."""
    from kanstudio.discovery.search.stage import symbolic_search
    rng = np.random.default_rng(3)
    X = rng.uniform([0.2, 0.5, 1.0], [5.0, 3.0, 3.0], size=(400, 3))
    y = X[:, 0] ** X[:, 2] / (X[:, 1] ** X[:, 2] + X[:, 0] ** X[:, 2])
    ctx = _context(X, y, ["L", "K", "n"], budget=30, engine=OperonEngine())
    assert symbolic_search(ctx, 12.0, transforms=True) > 0
    best = min(ctx.candidates, key=lambda c: c.test_rmse)
    assert best.test_rmse < 1e-6 * np.std(y), best.formula
    assert "logit y" in best.derivation[0].text


def test_a_paused_search_goes_on_where_it_stopped():
    """The whole problem's search pauses while the sub-problems run and then
    resumes: the same engine run (no new start, its slices counted on), only
    formulas new on its front refitted; a search never started is not resumed."""
    from kanstudio.discovery.search.stage import symbolic_search
    rng = np.random.default_rng(3)
    X = rng.uniform(1, 3, size=(400, 3))
    y = X[:, 0] * np.exp(-X[:, 1] / X[:, 2]) + np.sin(X[:, 2])
    starts = []

    class Counting(OperonEngine):
        def start(self, *a, **k):
            starts.append(1)
            return super().start(*a, **k)
    ctx = _context(X, y, ["a", "b", "c"], budget=30, engine=Counting())
    assert symbolic_search(ctx, 0.6, resume=True) == 0 and not starts
    symbolic_search(ctx, 1.0)
    run = ctx.searches["symbolic search"]["runs"][0][1]
    slices, polished = run.slices, set(ctx.searches["symbolic search"]["polished"])
    added = len(ctx.candidates)
    symbolic_search(ctx, 2.0, resume=True)
    assert len(starts) == 1 and run.slices > slices
    assert polished <= ctx.searches["symbolic search"]["polished"]
    stages = [s.name for s in ctx.clock.stages]
    assert any("resumed" in n for n in stages)
    assert len(ctx.candidates) >= added


def test_discovery_in_a_child_process_reports_progress_answers_and_fails_in_one_line():
    from kanstudio.data import Dataset
    from kanstudio.discovery.child_process import ChildFailed, discover_in_child
    X = RNG.uniform(1, 2, size=(200, 2))
    ds = Dataset.from_arrays(X, 3 * X[:, 0] + X[:, 1], ["a", "b"], ["y"], test_fraction=0.2, seed=0)
    stages = []
    res = discover_in_child(ds, DiscoverConfig(budget_seconds=8), progress=lambda s, f: stages.append(s))
    assert res.status == EXACT and stages
    a, b = sympy.symbols("a b", positive=True)
    assert float(res.formula.subs({a: 1.5, b: 1.25})) == pytest.approx(5.75, rel=1e-9)
    # a cancel answers at once with what the child has
    import threading
    import time
    flag = threading.Event()
    flag.set()
    t0 = time.perf_counter()
    res = discover_in_child(ds, DiscoverConfig(budget_seconds=60), cancel=flag)
    assert res.cancelled and time.perf_counter() - t0 < 15
    empty = SimpleNamespace(X=X[:0], Y=X[:0, 0], input_names=["a", "b"], target_names=["y"])
    with pytest.raises(ChildFailed, match="no rows"):
        discover_in_child(empty, DiscoverConfig(budget_seconds=5))


def test_the_knee_of_the_engines_front_is_refitted_even_below_an_overfitted_best():
    # a small table: the engine's front holds three copies of a line (other constants),
    # the law (short, far better than anything shorter) and long formulas that fit the
    # rows 25x better than the law; the law is refitted, one copy of the line is enough
    from kanstudio.discovery.search.stage import structure_key, worth_polishing
    v, w = sympy.symbols("v w")
    exprs = [137.5 - 0.941 * w, 137.4 - 0.942 * w, 137.6 - 0.940 * w, 31.78 * v / w + 1.43,
             v * sympy.sin(2.5 * v) + 33 * v / w] + [sum(sympy.cos(k * v) for k in range(1, j)) * v / w
                                                     for j in range(3, 11)]
    errors = [58.6, 58.6, 58.6, 7.2, 3.1] + [0.3 - 0.01 * j for j in range(8)]
    exprs_sorted = sorted(range(len(exprs)), key=lambda i: sympy.count_ops(exprs[i]))
    ex = [exprs[i] for i in exprs_sorted]
    er = [errors[i] for i in exprs_sorted]
    keep = worth_polishing(er, [sympy.count_ops(e) for e in ex], [structure_key(e) for e in ex])
    kept = [ex[i] for i in keep]
    assert 31.78 * v / w + 1.43 in kept
    assert sum(1 for e in kept if e.free_symbols == {w}) == 1
    # the old rule (within 10x of the best error) would have dropped it
    assert 7.2 > 10 * min(errors)


def test_a_sine_faster_than_the_rows_sample_it_is_aliased():
    from kanstudio.discovery.judgement.checks import aliased
    v, w = sympy.symbols("v w", positive=True)
    few = np.column_stack([np.linspace(15, 300, 23), np.linspace(20, 100, 23)])
    many = np.column_stack([np.linspace(15, 300, 2000), np.linspace(20, 100, 2000)])
    fast = 30 * v / w + 0.1 * v * sympy.sin(0.95 * v)        # 42 periods over 23 rows
    assert aliased(fast, [v, w], few)
    assert not aliased(fast, [v, w], many)                      # 2000 rows do sample it
    assert not aliased(30 * v / w + sympy.sin(0.02 * v), [v, w], few)   # one slow wave: measured
    assert not aliased(30 * v / (w - 2.2), [v, w], few)         # no wave at all
    # 2000 rows at 8 settings of v sample the wave at 8 points only
    repeated = np.column_stack([np.repeat(np.linspace(15, 300, 8), 250), np.linspace(20, 100, 2000)])
    assert aliased(fast, [v, w], repeated)


def test_the_search_stops_only_on_a_formula_the_judgement_would_call_the_noise_floor():
    # noiseless data: a formula that beats a poor network tenfold, or matches a good
    # one, with residuals nearby rows predict, is no reason to stop searching; the
    # law on noisy data, as accurate as the network, is
    from kanstudio.discovery.clock import Clock
    from kanstudio.discovery.context import Context
    X = RNG.uniform(1, 3, size=(600, 2))
    a, b = sympy.symbols("a b", positive=True)
    law = a / b + sympy.sin(a)
    clean = evaluate_numpy(law, {a: X[:, 0], b: X[:, 1]})

    def context(y):
        ctx = Context(DiscoverConfig(), Clock(10, None, None), X[:400], y[:400], X[400:], y[400:], [a, b],
                      ["a", "b"])
        ctx.general_done = True
        return ctx

    def candidate(ctx, expr):
        c = FormulaCandidate(expr, 6, ctx.rmse(expr, ctx.X_test, ctx.y_test))
        ctx.candidates.append(c)
        return c

    ctx = context(clean)
    near = candidate(ctx, a / b + sympy.Float(0.98) * sympy.sin(a))     # off by a smooth 2% of sin(a)
    ctx.flex_rmse = 10 * near.test_rmse        # a poor network: the formula beats it tenfold
    assert not ctx.accurate_found()
    ctx.flex_rmse = near.test_rmse             # a network no better than the formula
    assert not ctx.accurate_found()
    noisy = clean + 0.01 * RNG.normal(size=len(clean))
    ctx = context(noisy)
    found = candidate(ctx, law)
    ctx.flex_rmse = 1.05 * found.test_rmse
    assert ctx.accurate_found()


def test_an_exact_fit_is_printed_with_the_digits_it_needs_to_stay_exact():
    # four significant digits of the coefficient inside exp(-Ea/(0.008314*T)) (about
    # -17 there) move y by 1e-3 and snap 120.279 to 1323/11: the formula as printed
    # must be the exact one the status vouches for
    from kanstudio.discovery.clock import Clock
    from kanstudio.discovery.config import EXACT_REL
    from kanstudio.discovery.context import Context
    rng = np.random.default_rng(1)
    X = np.column_stack([rng.uniform(20, 40, 800), rng.uniform(280, 380, 800)])
    Ea, T = sympy.symbols("Ea T", positive=True)
    law = sympy.Float(1e4) * sympy.exp(-Ea / (sympy.Float(0.008314) * T))
    y = evaluate_numpy(law, {Ea: X[:, 0], T: X[:, 1]})
    ctx = Context(DiscoverConfig(), Clock(30, None, None), X[:600], y[:600], X[600:], y[600:], [Ea, T],
                  ["Ea", "T"])
    ctx.add_structure(sympy.Float(10000.3) * sympy.exp(sympy.Float(-120.28) * Ea / T), "test")
    best = min(ctx.candidates, key=lambda c: c.test_rmse)
    printed = evaluate_numpy(best.formula, {Ea: X[600:, 0], T: X[600:, 1]})
    assert best.test_rmse <= EXACT_REL * ctx.y_std
    assert np.max(np.abs(printed / y[600:] - 1)) < 1e-6, best.formula
    assert sympy.Rational(1323, 11) not in best.formula.atoms(sympy.Rational)


def test_a_near_miss_is_peeled_through_its_outer_function():
    """d + c*sqrt(A(G, rho) + B(k, a)): inner's pieces are peeled against
    ((y - d)/c)^2, where they add up exactly; the wrap gives the whole back."""
    from kanstudio.discovery.peel import pieces, shells
    from kanstudio.symbolic import evaluate_numpy
    G, rho, k, a = sympy.symbols("G rho k a", positive=True)
    rng = np.random.default_rng(4)
    vals = {s: rng.uniform(1, 2, 200) for s in (G, rho, k, a)}
    law = 3 + 2 * sympy.sqrt(8 * G * rho + k / a ** 2)
    near = 3 + 2 * sympy.sqrt(8 * G * rho + sympy.Float(0.9) * k * sympy.exp(-sympy.Float(0.6) * a))
    y = evaluate_numpy(law, vals)
    layers = shells(near, y)
    assert len(layers) == 2 and layers[0][0] == near
    inner, target, wrap, what = layers[1]
    assert what == "((y - d)/c)^2"
    np.testing.assert_allclose(target, evaluate_numpy(8 * G * rho + k / a ** 2, vals), rtol=1e-12)
    kind, parts = pieces(inner, [G, rho, k, a])
    assert kind == "add" and {frozenset(v) for v, _ in parts} == {frozenset({G, rho}), frozenset({k, a})}
    assert sympy.simplify(wrap(8 * G * rho + k / a ** 2) - law) == 0
    # no invertible outer function: nothing below the formula itself
    assert len(shells(G * rho + sympy.sin(k), y)) == 1


def test_a_network_on_a_formulas_residuals_shows_the_noise_floor_a_poor_network_hides():
    # V^2/R on noisy rows: the stand-in networks are poor on the steep law (the formula
    # beats them fourfold) and show no noise floor.  A network fitted to the law's
    # residuals finds nothing to learn; one fitted to a formula missing a term learns it
    from kanstudio.discovery.clock import Clock
    from kanstudio.discovery.context import Context
    rng = np.random.default_rng(11)
    X = rng.uniform([1.0, 1.0], [12.0, 10.0], size=(600, 2))
    V, R = sympy.symbols("V R", positive=True)
    law = V ** 2 / R
    y = evaluate_numpy(law, {V: X[:, 0], R: X[:, 1]}) + 0.3 * rng.normal(size=600)
    ctx = Context(DiscoverConfig(), Clock(30, None, None), X[:480], y[:480], X[480:], y[480:], [V, R], ["V", "R"])
    ctx.general_done = True
    found = FormulaCandidate(law, 5, ctx.rmse(law, ctx.X_test, ctx.y_test))
    ctx.candidates.append(found)
    ctx.flex_rmse = 4 * found.test_rmse
    assert ctx.accurate_found()
    floor = ctx.residual_floor(found)
    assert floor >= 0.95 * found.test_rmse and floor_agrees(found.test_rmse, floor)   # noise: nothing learned
    off = law - sympy.Float(0.6) * sympy.sin(2 * V)      # misses a term as large as the noise
    missing = FormulaCandidate(off, 10, ctx.rmse(off, ctx.X_test, ctx.y_test))
    assert not floor_agrees(missing.test_rmse, ctx.residual_floor(missing))


def test_an_exact_law_larger_than_a_headline_ends_the_search_once_the_engine_has_had_its_turn():
    # (p^2/m + m w^2 x^2 (1 + a x / s))/2 is 30 nodes and exact in the sparse fit's
    # first seconds; the search looks for a smaller form through the engine's search of
    # the whole problem, then stops, instead of going on to the budget
    rng = np.random.default_rng(5)
    X = rng.uniform(1, 3, size=(600, 6))
    p, m, w, x, a, s = X.T
    y = (p ** 2 / m + m * w ** 2 * x ** 2 * (1 + a * x / s)) / 2
    res = discover_arrays(X[:480], y[:480], X[480:], y[480:], ["p", "m", "w", "x", "a", "s"], "H",
                          DiscoverConfig(budget_seconds=40))
    assert res.status == EXACT and res.complexity > 25
    names = [st.name for st in res.stages]
    first = next(i for i, n in enumerate(names) if n.startswith("symbolic search ("))
    # after the engine's search only its candidates' refits and the judgement: no
    # decomposition, no KAN hypotheses
    assert all(n.startswith(("symbolic search (operon, y)", "peel", "judge")) for n in names[first + 1:]), names
