"""engine.curves: the numpy snapshot the network view and the inspector draw."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from kanstudio.picture import edge_curves, edge_detail, network_picture
from kanstudio.model.network import KAN
from kanstudio.training.loop import fit


def _data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1
    return x, torch.sin(2 * x[:, [0]]) + x[:, [1]] ** 2


@pytest.fixture(scope="module")
def trained():
    x, y = _data()
    model = KAN([2, 3, 1], grid=3, seed=0)
    fit(model, x, y, steps=5)
    model.set_names(["alpha", "beta"], ["out"])
    return model, x


def test_picture_shapes_and_names(trained):
    model, x = trained
    pic = network_picture(model, x, n_points=25)
    assert pic.width == [[2, 0], [3, 0], [1, 0]]
    assert pic.input_names == ["alpha", "beta"] and pic.output_names == ["out"]
    assert [lp.shape for lp in pic.layers] == [(2, 3), (3, 1)]
    lp = pic.layers[0]
    assert lp.xs.shape == (2, 25) and lp.ys.shape == (2, 3, 25)
    for arr in (lp.scores, lp.activation, lp.mask, lp.sym_r2):
        assert arr.shape == (2, 3)
    assert lp.sym_params.shape == (2, 3, 4)
    assert [len(s) for s in pic.node_scores] == [2, 3, 1]
    assert pic.n_edges() == 9
    assert pic.edge_label(0, 1, 2) == "beta \u2192 h3"
    assert pic.node_name(2, 0) == "out"


def test_xs_span_the_data_and_ys_are_the_edge_functions(trained):
    model, x = trained
    pic = network_picture(model, x, n_points=30)
    xs = pic.layers[0].xs
    np.testing.assert_allclose(xs[:, 0], x.min(0).values.numpy())
    np.testing.assert_allclose(xs[:, -1], x.max(0).values.numpy())
    # edge (0, 1, 2) evaluated directly through the layer
    with torch.no_grad():
        _, ev = model.layers[0](torch.as_tensor(xs.T.copy()), with_edges=True)
    np.testing.assert_allclose(pic.layers[0].ys[1, 2], ev.edges[:, 1, 2].numpy(), atol=1e-12)
    # layer 1's range is the hidden nodes' data range
    with torch.no_grad():
        model.forward(x, cache=True)
        h = model.cache.inputs[1]
    np.testing.assert_allclose(pic.layers[1].xs[:, 0], h.min(0).values.numpy(), atol=1e-12)


def test_scores_modes(trained):
    model, x = trained
    from kanstudio.science.attribution import activation_scores, edge_scores
    act = network_picture(model, x, score_mode="activation")
    att = network_picture(model, x, score_mode="attribution")
    for l in range(2):
        np.testing.assert_allclose(act.layers[l].scores, activation_scores(model, x)[l], rtol=1e-9)
        np.testing.assert_allclose(att.layers[l].scores, edge_scores(model, x)[l], rtol=1e-9)
        np.testing.assert_allclose(att.layers[l].activation, act.layers[l].activation)
    with pytest.raises(ValueError):
        network_picture(model, x, score_mode="magic")


def test_symbolic_and_pruned_edges_are_reported(trained):
    model, x = trained
    m = model.copy()
    m.fix_symbolic(0, 0, 1, "sin", (2.0, 0.0, 1.0, 0.0))
    m.set_edge_mask(0, 1, 2, 0.0)
    pic = network_picture(m, x)
    lp = pic.layers[0]
    assert lp.symbolic[0][1] == "sin" and lp.symbolic[0][0] is None
    np.testing.assert_allclose(lp.sym_params[0, 1], [2.0, 0.0, 1.0, 0.0])
    assert np.isfinite(lp.sym_r2[0, 1]) and np.isnan(lp.sym_r2[0, 0])
    assert lp.mask[1, 2] == 0 and np.all(lp.ys[1, 2] == 0)
    np.testing.assert_allclose(lp.ys[0, 1], np.sin(2 * lp.xs[0]), atol=1e-12)


def test_topology_key(trained):
    model, x = trained
    a, b = network_picture(model, x), network_picture(model, x[:50])
    assert hash(a.topology_key) == hash(b.topology_key) and a.topology_key == b.topology_key
    c = network_picture(KAN([2, 4, 1], grid=3), x)
    d = network_picture(KAN([2, [2, 1], 1], grid=3), x)
    assert len({a.topology_key, c.topology_key, d.topology_key}) == 3


def test_picture_is_a_copy(trained):
    model, x = trained
    m = model.copy()
    pic = network_picture(m, x)
    before = pic.layers[0].ys.copy()
    with torch.no_grad():
        m.layers[0].coef.add_(1.0)
    np.testing.assert_array_equal(pic.layers[0].ys, before)


def test_row_thinning_is_deterministic(trained):
    model, _ = trained
    x, _ = _data(5000, seed=3)
    a = network_picture(model, x, max_rows=500)
    b = network_picture(model, x, max_rows=500)
    np.testing.assert_array_equal(a.layers[0].scores, b.layers[0].scores)
    full = network_picture(model, x, max_rows=None)
    np.testing.assert_allclose(a.layers[0].scores, full.layers[0].scores, rtol=0.2, atol=1e-3)


def test_mult_nodes(trained):
    _, x = trained
    m = KAN([2, [2, 2], 1], grid=3, seed=0)
    pic = network_picture(m, x)
    assert pic.mult_operands[1] == [[2, 3], [4, 5]]
    assert pic.subnode_owner[1] == [0, 1, 2, 2, 3, 3]
    assert pic.layers[0].shape == (2, 6)
    assert pic.subnode_name(1, 5) == "h4[2]"


def test_edge_detail(trained):
    model, _ = trained
    x, _ = _data(5000, seed=1)
    m = model.copy()
    m.fix_symbolic(0, 1, 0, "x^2", (1.0, 0.0, 0.5, 0.1))
    d = edge_detail(m, x, 0, 1, 0, n_points=120)
    assert d.xs.shape == d.ys.shape == d.numeric_ys.shape == (120,)
    assert d.sample_x.shape == d.sample_y.shape and len(d.sample_x) <= 2000
    assert d.hist_counts.sum() == 5000 and len(d.hist_edges) == len(d.hist_counts) + 1
    assert d.symbolic_name == "x^2" and d.symbolic_params == (1.0, 0.0, 0.5, 0.1)
    np.testing.assert_allclose(d.ys, 0.5 * d.xs ** 2 + 0.1, atol=1e-12)
    np.testing.assert_allclose(d.sample_y, 0.5 * d.sample_x ** 2 + 0.1, atol=1e-12)
    assert d.names == ("beta", "h1") and d.label == "beta \u2192 h1" and not d.masked
    plain = edge_detail(model, x, 1, 2, 0)
    assert plain.symbolic_name is None and plain.symbolic_params is None
    np.testing.assert_allclose(plain.ys, plain.numeric_ys, atol=1e-12)
    with pytest.raises(IndexError):
        edge_detail(model, x, 0, 5, 0)


def test_edge_curves(trained):
    model, x = trained
    curves = edge_curves(model, x, n_points=10)
    assert [(c[0].shape, c[1].shape) for c in curves] == [((2, 10), (2, 3, 10)), ((3, 10), (3, 1, 10))]


def test_curves_module_is_qt_free():
    code = ("import sys, kanstudio.picture; "
            "bad = [m for m in sys.modules if m.startswith(('PySide6', 'pyqtgraph'))]; "
            "sys.exit(1 if bad else 0)")
    root = Path(__file__).resolve().parents[1]
    assert subprocess.run([sys.executable, "-c", code], cwd=root).returncode == 0
