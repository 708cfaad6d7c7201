"""Network-level symbolic edits (symbolic/edges.py)."""

import numpy as np
import pytest
import torch

from kanstudio.symbolic import edges as symbolic
from kanstudio.model.network import KAN
from kanstudio.model.spline import curve_to_coef


def _spline_model(width, x, values, grid):
    """A one-layer KAN whose edges are splines fitted to values(x) [N, in, out] (no training)."""
    model = KAN(width, grid=grid, seed=0)
    model.update_grid_from_samples(x)
    layer = model.layers[0]
    with torch.no_grad():
        layer.scale_base.zero_()
        layer.scale_sp.fill_(1.0)
        layer.coef.data = curve_to_coef(x, values(x), layer.grid, layer.k)
    model.invalidate()
    return model


def _edge_model(fn, lo, hi, n=200, grid=20):
    """A [1,1] KAN whose single edge is a spline fitted to fn on [lo, hi] (no training)."""
    x = torch.linspace(lo, hi, n, dtype=torch.float64)[:, None]
    return _spline_model([1, 1], x, lambda z: fn(z)[:, :, None], grid), x


@pytest.mark.parametrize("name,fn,lo,hi", [
    ("x^2", lambda x: 0.7 * (x - 0.3) ** 2 - 1.0, -1.0, 1.0),
    ("sin", lambda x: 2.0 * torch.sin(2.5 * x + 0.4), -1.5, 1.5),
    ("exp", lambda x: 0.5 * torch.exp(1.3 * x) + 0.2, -1.0, 1.0),
    ("log", lambda x: torch.log(2.0 * x + 0.5), 0.2, 3.0),
])
def test_suggest_ranks_the_true_function_first(name, fn, lo, hi):
    model, x = _edge_model(fn, lo, hi)
    cands = symbolic.suggest(model, x, 0, 0, 0, top_k=5)
    assert cands[0].name == name, [(c.name, round(c.r2, 6)) for c in cands]
    assert cands[0].r2 > 0.9999


def test_fix_unfix_and_edge_samples():
    model, x = _edge_model(lambda t: torch.sin(3 * t), -1, 1)
    xs, ys = symbolic.edge_samples(model, x, 0, 0, 0)
    assert xs.shape == ys.shape == (x.shape[0],)
    with torch.no_grad():
        spline_out = model(x).clone()
    cand = symbolic.fix(model, x, 0, 0, 0, "sin")
    assert cand.name == "sin" and model.layers[0].symbolic_name(0, 0) == "sin"
    a, b, c, d = cand.params
    with torch.no_grad():
        np.testing.assert_allclose(model(x)[:, 0].numpy(), (c * torch.sin(a * x + b) + d)[:, 0].numpy(),
                                   atol=1e-12)
        assert float((model(x) - spline_out).abs().max()) < 1e-3
    symbolic.unfix(model, 0, 0, 0)
    assert model.layers[0].symbolic_name(0, 0) is None
    with torch.no_grad():
        assert float((model(x) - spline_out).abs().max()) < 1e-12
    with pytest.raises(IndexError):
        symbolic.suggest(model, x, 0, 1, 0)
    with pytest.raises(KeyError):
        symbolic.fix(model, x, 0, 0, 0, "no_such_function")


def test_auto_symbolic_skips_fixed_and_pruned_edges():
    model = KAN([3, 2, 1], seed=0)
    x = torch.rand(100, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 2 - 1
    model.set_edge_mask(0, 0, 0, 0.0)
    model.fix_symbolic(0, 1, 1, "exp", (1.0, 0.0, 1.0, 0.0))
    todo = symbolic.numeric_edges(model)
    assert (0, 0, 0) not in todo and (0, 1, 1) not in todo and len(todo) == 6 - 2 + 2
    res = symbolic.auto_symbolic(model, x, lib=["x", "x^2", "sin", "tanh"])
    assert sorted((l, i, j) for l, i, j, _ in res) == sorted(todo)
    assert symbolic.numeric_edges(model) == []
    assert model.layers[0].symbolic_name(1, 1) == "exp"          # untouched
    assert float(model.layers[0].mask[0, 0]) == 0.0


def test_auto_symbolic_threshold_leaves_edges_numeric():
    model = KAN([2, 1], seed=0)
    x = torch.rand(80, 2, dtype=torch.float64) * 2 - 1
    res = symbolic.auto_symbolic(model, x, lib=["x", "sin"], r2_threshold=1.5)
    assert list(res) == [] and len(res.skipped) == 2
    assert len(symbolic.numeric_edges(model)) == 2


def _two_edge_model(f0, f1, lo=-1.0, hi=1.0, n=400, grid=30):
    """A [2,1] KAN whose edges are splines fitted to f0(x0) and f1(x1); y = their sum."""
    g = torch.Generator().manual_seed(2)
    x = torch.rand(n, 2, dtype=torch.float64, generator=g) * (hi - lo) + lo
    model = _spline_model([2, 1], x, lambda z: torch.stack([f0(z[:, 0]), f1(z[:, 1])], 1)[:, :, None], grid)
    with torch.no_grad():
        y = model(x)[:, 0].clone()
    return model, x, y


def test_auto_symbolic_by_the_network_fixes_what_fits_and_leaves_the_rest_numeric():
    # x0's edge is a parabola; x1's edge is a wiggle no library function follows
    wiggle = lambda t: torch.sin(9 * t) + 0.8 * torch.sin(23 * t + 1) + 0.6 * torch.cos(37 * t)  # noqa: E731
    model, x, y = _two_edge_model(lambda t: 0.7 * t ** 2 - 0.2, wiggle)
    res = symbolic.auto_symbolic(model, x, y=y)
    assert [(l, i, j, c.name) for l, i, j, c in res] == [(0, 0, 0, "x^2")]
    assert [(l, i, j) for l, i, j, _ in res.skipped] == [(0, 1, 0)]      # said so, and left numeric
    assert symbolic.numeric_edges(model) == [(0, 1, 0)]
    with torch.no_grad():
        err = float(torch.sqrt(torch.mean((model(x)[:, 0] - y) ** 2)))
    assert err < 1e-3 * float(torch.std(y))                             # the network still computes y
    # judged edge by edge (the R^2 rule) the wiggle gets a function all the same
    model2, x2, _ = _two_edge_model(lambda t: 0.7 * t ** 2 - 0.2, wiggle)
    assert len(symbolic.auto_symbolic(model2, x2)) == 2


def test_an_edge_no_library_function_fits_goes_to_the_symbolic_engine_and_survives_a_save():
    """x0's edge is exp(-x)*sin(4x), which no c*f(a*x+b)+d of the library follows:
    the library leaves it numeric; the engine finds a formula for it, judged by
    the network, fixed as a function named by its own text; the model saved and
    loaded in a session that has not seen that function computes the same."""
    from kanstudio.discovery import edge_search
    from kanstudio.model import from_bytes, to_bytes
    from kanstudio.model import functions as F
    damped = lambda t: torch.exp(-t) * torch.sin(4 * t)  # noqa: E731
    model, x, y = _two_edge_model(damped, lambda t: 0.7 * t ** 2 - 0.2)
    library_only = model.copy()
    res = symbolic.auto_symbolic(library_only, x, y=y)
    assert [(l, i, j) for l, i, j, _ in res.skipped] == [(0, 0, 0)]
    res = symbolic.auto_symbolic(model, x, y=y, search=edge_search(3.0))
    assert not res.skipped and symbolic.numeric_edges(model) == []
    name = next(c.name for l, i, j, c in res if (l, i, j) == (0, 0, 0))
    assert not F.get_function(name).builtin and "x" in name
    with torch.no_grad():
        out = model(x)[:, 0]
        err = float(torch.sqrt(torch.mean((out - y) ** 2)))
    assert err < 1e-2 * float(torch.std(y))
    data = to_bytes(model)
    F.unregister_function(name)                    # a fresh session knows only the library
    again = from_bytes(data)
    with torch.no_grad():
        assert torch.allclose(again(x)[:, 0], out, rtol=1e-9, atol=1e-12)
    assert not F.get_function(name).builtin


def test_a_function_name_that_is_not_a_formula_in_x_is_still_unknown():
    from kanstudio.model import UnknownFunctionError, get_function
    for name in ("no_such_function", "max", "x + y", "__import__('os')", "exp(x)*" * 200):
        with pytest.raises(UnknownFunctionError):
            get_function(name)
