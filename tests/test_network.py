import math

import pytest
import torch

from kanstudio.model.network import KAN, normalize_width, parse_width
from kanstudio.training.loop import fit


def hello(x):
    return torch.exp(torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2)


@pytest.fixture(scope="module")
def hello_data():
    g = torch.Generator().manual_seed(0)
    xtr = torch.rand(1000, 2, generator=g, dtype=torch.float64) * 2 - 1
    xte = torch.rand(1000, 2, generator=g, dtype=torch.float64) * 2 - 1
    return xtr, hello(xtr), xte, hello(xte)


def test_width_specs():
    assert normalize_width([2, [3, 2], 1]) == [[2, 0], [3, 2], [1, 0]]
    assert parse_width("2,[3,2],1") == [2, [3, 2], 1]
    with pytest.raises(ValueError):
        normalize_width([2])
    with pytest.raises(ValueError):
        parse_width("2,(3")
    m = KAN([2, [3, 2], 1], grid=3)
    assert m.n_subnodes(1) == 3 + 2 * 2
    assert m.layers[0].out_dim == 7 and m.layers[1].in_dim == 5
    assert m.mult_operands(1) == [[3, 4], [5, 6]]


def test_construction_does_not_touch_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    KAN([3, 4, 1], seed=7)
    assert torch.equal(torch.rand(3), expected)


def test_fast_path_equals_edge_path():
    m = KAN([3, [2, 2], 2], grid=4, seed=1)
    m.fix_symbolic(0, 1, 2, "sin", (1.5, 0.2, 0.7, -0.1))
    m.set_edge_mask(0, 0, 0, 0.0)
    x = torch.randn(50, 3, dtype=torch.float64)
    y_fast = m(x)
    y_edges, edges = m(x, with_edges=True)
    assert torch.allclose(y_fast, y_edges, atol=1e-12)
    assert edges[0].edges[:, 0, 0].abs().max() == 0  # a pruned edge contributes nothing
    assert torch.allclose(edges[0].edges[:, 1, 2], 0.7 * torch.sin(1.5 * x[:, 1] + 0.2) - 0.1, atol=1e-12)


def test_fit_hello_world_lbfgs(hello_data):
    xtr, ytr, xte, yte = hello_data
    m = KAN([2, 5, 1], grid=5, seed=0)
    r = fit(m, xtr, ytr, xte, yte, steps=50)
    assert r.reason == "completed"
    assert r.final.test_rmse <= 1e-2
    # grid extension 5 -> 10 -> 20 keeps improving
    for g in (10, 20):
        before = float(torch.sqrt(((m(xte).detach() - yte) ** 2).mean()))
        m.refine(g, xtr)
        after = float(torch.sqrt(((m(xte).detach() - yte) ** 2).mean()))
        assert abs(after - before) < 1e-3 * float(yte.max() - yte.min())  # refine keeps the function
        r = fit(m, xtr, ytr, xte, yte, steps=50, update_grid=False)
    assert r.final.test_rmse <= 1e-3


def test_refine_keeps_function_within_1e_3_of_range():
    g = torch.Generator().manual_seed(1)
    m = KAN([2, 3, 1], grid=5, seed=2, noise_scale=3.0)
    x = torch.rand(800, 2, generator=g, dtype=torch.float64) * 2 - 1
    m.update_grid_from_samples(x)
    y0 = m(x).detach()
    for new in (10, 20, 40):
        m.refine(new, x)
        y1 = m(x).detach()
        assert float((y1 - y0).abs().max()) <= 1e-3 * float(y0.max() - y0.min())
    assert m.layers[0].num == 40 and m.grid_size == 40


def test_mult_node_learns_product():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1000, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = x[:, [0]] * x[:, [1]]
    m = KAN([2, [0, 1]], grid=5, seed=0)  # the output node multiplies two sums
    r = fit(m, x, y, steps=50)
    assert r.final.train_rmse <= 1e-3


def test_multi_output():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(600, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.cat([torch.sin(math.pi * x[:, [0]]), x[:, [0]] + x[:, [1]] ** 2], 1)
    m = KAN([2, 5, 2], grid=5, seed=0)
    r = fit(m, x, y, steps=30)
    assert m(x).shape == (600, 2)
    assert r.final.train_rmse <= 2e-2


def test_copy_is_independent_and_identical():
    m = KAN([2, 3, 1], grid=4, seed=5)
    m.fix_symbolic(0, 0, 1, "x^2", (1.0, 0.1, 2.0, 0.0))
    m.refine(6)
    c = m.copy()
    x = torch.randn(20, 2, dtype=torch.float64)
    assert torch.equal(m(x), c(x))
    with torch.no_grad():
        c.layers[0].coef.add_(1.0)
    assert not torch.equal(m(x), c(x))
