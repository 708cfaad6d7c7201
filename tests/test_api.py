"""kanstudio as a library: kanstudio.discover, KANRegressor, projects, exports."""
import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest
import sympy
import torch

import kanstudio
from kanstudio.api import exports

RNG = np.random.default_rng(3)


def test_import_kanstudio_loads_neither_torch_nor_qt():
    code = ("import sys, kanstudio; assert callable(kanstudio.__getattr__); "
            "bad = [m for m in ('torch', 'PySide6', 'sympy', 'numba') if m in sys.modules]; "
            "assert not bad, bad; print(kanstudio.__version__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == kanstudio.__version__
    with pytest.raises(AttributeError):
        kanstudio.no_such_thing


@pytest.fixture(scope="module")
def power_law():
    """A DataFrame as a scientist has one: units in a header, an id column."""
    n = 400
    m = RNG.uniform(1, 5, n)
    v = RNG.uniform(1, 10, n)
    return pd.DataFrame({"sample": [f"s{k}" for k in range(n)], "m [kg]": m, "v [m/s]": v,
                         "E [J]": 0.5 * m * v ** 2})


@pytest.fixture(scope="module")
def found(power_law):
    return kanstudio.discover(power_law, "E", budget_seconds=15, seed=0)


def test_discover_a_dataframe(found, power_law):
    m, v = sympy.symbols("m v", positive=True)
    assert found.status == "exact", found
    assert sympy.simplify(found.formula - m * v ** 2 / 2) == 0
    assert found.inputs == ["m", "v"] and found.target == "E"
    assert found.unit == "J"
    assert any("sample" in n for n in found.notes)          # the id column was left out, with a note
    assert found.derivation and all("text" in s for s in found.derivation)
    X = pd.DataFrame({"m": [2.0, 3.0], "v": [4.0, 1.0]})
    assert np.allclose(found.predict(X), [16.0, 1.5])
    assert np.allclose(found.predict(np.array([[2.0, 4.0]])), [16.0])
    # the Pareto table: simplest first, the headline marked, errors falling
    front = found.pareto
    assert list(front.columns[:5]) == ["formula", "size", "error", "status", "headline"]
    assert front["headline"].sum() == 1 and front.loc[front.headline, "status"].item() == "exact"
    assert front["size"].is_monotonic_increasing and front["error"].is_monotonic_decreasing
    assert "frac" in found.latex() and found._repr_latex_().startswith("$")
    assert "exact" in found._repr_html_() and "<table>" in found._repr_html_()
    assert "exact" in repr(found)


def test_discovery_exports_agree_with_the_formula(found):
    X = np.column_stack([RNG.uniform(1, 5, 50), RNG.uniform(1, 10, 50)])
    truth = 0.5 * X[:, 0] * X[:, 1] ** 2
    assert np.allclose(found.to_numpy()(X), truth)
    ns = {}
    exec(found.to_python(), ns)                       # our own generated source
    assert np.allclose(ns["formula"](X[:, 0], X[:, 1]), truth)
    module = found.to_torch()
    assert isinstance(module, torch.nn.Module)
    assert np.allclose(module(torch.as_tensor(X)).detach().numpy(), truth)
    assert found.to_sympy() == found.formula


def test_discovery_network_and_saved_project(found, tmp_path):
    net = found.network
    ds = found.dataset
    X = ds.X[:20]
    with torch.no_grad():
        y = ds.denormalize_y(net(torch.as_tensor(ds.normalize_x(X))).numpy())[:, 0]
    assert np.allclose(y, 0.5 * X[:, 0] * X[:, 1] ** 2, rtol=1e-6)
    path = found.save(tmp_path / "energy.kanproj")
    project = kanstudio.open_project(path)
    assert project.model is not None and project.pareto
    assert len(project.history.labels()) == 1 and "Discover (exact)" in project.history.labels()[0]
    m, v = sympy.symbols("m v", positive=True)
    assert sympy.simplify(project.formula().exprs[0] - m * v ** 2 / 2) == 0


def test_discover_an_array_and_bad_calls():
    x = RNG.uniform(0.5, 2, (200, 2))
    data = np.column_stack([x, x[:, 0] / x[:, 1]])
    d = kanstudio.discover(data, "ratio", names=["a", "b", "ratio"], budget_seconds=8)
    a, b = sympy.symbols("a b", positive=True)
    assert d.status == "exact" and sympy.simplify(d.formula - a / b) == 0
    with pytest.raises(TypeError, match="unknown discovery setting"):
        kanstudio.discover(data, "ratio", names=["a", "b", "ratio"], lambda_=0.1)
    with pytest.raises(ValueError, match="column 'nope' not found"):
        kanstudio.discover(data, "nope", names=["a", "b", "ratio"])
    with pytest.raises(ValueError, match="not a unit pint knows"):
        kanstudio.discover(data, "ratio", names=["a", "b", "ratio"], units={"a": "furlongs per gnat"})


def test_no_law_predicts_with_the_closest_formula_and_says_so():
    from kanstudio.api.discovery import Discovery
    from kanstudio.discovery.judgement.pareto import FormulaCandidate
    from kanstudio.discovery.pipeline import DiscoverResult
    from kanstudio.data import Dataset
    x = sympy.Symbol("x")
    close = FormulaCandidate(2 * x, 3, 0.5)
    res = DiscoverResult(None, "", "", 0.01, np.inf, 0, [close], status="no law found", closest=close)
    d = Discovery(res, Dataset.from_arrays(np.arange(10.0)[:, None], np.arange(10.0), ["x"], ["y"]))
    assert d.formula is None and d.closest == 2 * x
    with pytest.warns(UserWarning, match="no law was found"):
        assert np.allclose(d.predict(np.array([[1.0], [2.0]])), [2.0, 4.0])


def test_torch_export_constants_are_parameters():
    x, y = sympy.symbols("x y")
    expr = sympy.Float(1.5) * sympy.sin(x) + sympy.sqrt(y) * sympy.exp(-x) + sympy.pi
    mod = exports.to_torch(expr, ["x", "y"])
    X = RNG.uniform(0.1, 2, (30, 2))
    want = 1.5 * np.sin(X[:, 0]) + np.sqrt(X[:, 1]) * np.exp(-X[:, 0]) + np.pi
    assert np.allclose(mod(torch.as_tensor(X)).detach().numpy(), want)
    assert sum(p.numel() for p in mod.parameters()) == 1
    with pytest.raises(ValueError, match="not among the inputs"):
        exports.to_torch(expr, ["x"])


# ------------------------------------------------------------------ KANRegressor
def _table(n=300):
    X = RNG.uniform(-1, 1, (n, 2))
    return X, np.exp(X[:, 0]) + X[:, 1] ** 2


def test_regressor_fits_and_runs_the_kan_loop(tmp_path):
    X, y = _table()
    reg = kanstudio.KANRegressor(seed=0).fit(X, y)
    assert reg.score(X, y) > 0.999
    reg.prune().auto_symbolic().refit()
    assert not reg.numeric_edges_
    x1, x2 = sympy.symbols("x1 x2")
    f = sympy.lambdify((x1, x2), reg.formula_, "numpy")
    Xn, yn = _table(200)
    assert np.sqrt(np.mean((f(Xn[:, 0], Xn[:, 1]) - yn) ** 2)) < 1e-2 * np.std(yn)
    assert [h.split(" ")[0] for h in reg.history_] == ["Fit", "Auto-prune", "Auto-symbolic", "Retrain"]
    assert np.allclose(reg.to_numpy()(Xn), f(Xn[:, 0], Xn[:, 1]))
    # .kan (network + the data's scaling) and .kanproj round trips
    p = reg.save(tmp_path / "m.kan")
    back = kanstudio.KANRegressor.load(p)
    assert np.allclose(back.predict(Xn), reg.predict(Xn))
    # without the rows, the loaded formula is not tidied against data (tiny terms stay), but it is the same function
    g = sympy.lambdify((x1, x2), back.formula_, "numpy")
    assert np.allclose(g(Xn[:, 0], Xn[:, 1]), f(Xn[:, 0], Xn[:, 1]), rtol=1e-3)
    q = reg.save(tmp_path / "m.kanproj")
    assert kanstudio.open_project(q).history.labels() == reg.history_
    assert np.allclose(kanstudio.KANRegressor.load(q).predict(Xn), reg.predict(Xn))


def test_regressor_in_sklearn_tools():
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    X, y = _table(200)
    reg = kanstudio.KANRegressor(steps=15, grid=3)
    assert clone(reg).get_params() == reg.get_params()
    assert reg.set_params(grid=4).grid == 4
    scores = cross_val_score(make_pipeline(StandardScaler(), reg), X, y, cv=3)
    assert scores.min() > 0.95
    search = GridSearchCV(kanstudio.KANRegressor(steps=10), {"grid": [2, 4]}, cv=2).fit(X, y)
    assert search.best_params_["grid"] in (2, 4)
    df = pd.DataFrame(X, columns=["speed", "angle"])
    fitted = kanstudio.KANRegressor(steps=10).fit(df, y)
    assert list(fitted.feature_names_in_) == ["speed", "angle"]
    with pytest.raises(ValueError):
        fitted.predict(np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        kanstudio.KANRegressor().fit(np.array([[1.0], [np.nan], [2.0]]), [1.0, 2.0, 3.0])


def test_regressor_passes_sklearn_estimator_checks():
    from sklearn.utils.estimator_checks import check_estimator
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        failed = check_estimator(kanstudio.KANRegressor(steps=5, grid=3), on_fail=None)
    bad = [r for r in failed if r["status"] == "failed"]
    assert not bad, [(r["check_name"], str(r["exception"])[:200]) for r in bad]
