"""Hypothesis tests (separability, symmetry, formula hypotheses), modules and auto-swap."""
import numpy as np
import pytest
import sympy as sp
import torch

from kanstudio.science import structure as st
from kanstudio.symbolic.compiler import compile_formula
from kanstudio.model.network import KAN
from kanstudio.training.loop import fit

x, y, z = sp.symbols("x y z")


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _x(n_in, n=300, seed=0, lo=-1.0, hi=1.0):
    g = torch.Generator().manual_seed(seed)
    return lo + (hi - lo) * torch.rand(n, n_in, generator=g, dtype=torch.float64)


def _f(expr, names="xyz"):
    return st.formula_function(expr, list(names))


def test_additive_separability():
    r = st.test_separability(_f(x * y + z), _x(3), "additive", names=list("xyz"))
    assert r.separable and r.groups == [[0, 1], [2]]
    assert r.score < 1e-6 and "f(x, y) + f(z)" in r.verdict
    assert r.matrix.shape == (3, 3)
    r = st.test_separability(_f(sp.sin(x + y), "xy"), _x(2), "additive")
    assert not r.separable and r.groups == [[0, 1]] and r.verdict.startswith("not additively separable")
    assert r.split_level > 0.5


def test_multiplicative_separability():
    r = st.test_separability(_f(x * sp.exp(y), "xy"), _x(2), "multiplicative")
    assert r.separable and r.groups == [[0], [1]]
    r = st.test_separability(_f(x * sp.exp(y) + 1, "xy"), _x(2), "multiplicative")
    assert not r.separable


def test_separability_always_gives_a_verdict():
    lin = st.test_separability(_f(2 * x - y + 3 * z), _x(3))
    assert "no curvature" in lin.verdict and lin.groups == [[0], [1], [2]]
    zero = st.test_separability(lambda t: t[:, 0] * 0.0, _x(2), "multiplicative")
    assert zero.verdict.startswith("cannot test")
    with pytest.raises(ValueError):
        st.test_separability(_f(x), _x(3), "sideways")


def test_separability_on_a_compiled_network():
    model = compile_formula(x * y + sp.sin(z), list("xyz"))
    H = st.hessian_matrix(model, _x(3))
    assert H.shape == (3, 3) and np.isfinite(H).all()
    assert st.test_separability(model, _x(3)).groups == [[0, 1], [2]]


def test_symmetry():
    f = _f(sp.exp(-(x**2 + y**2)) + z)
    xs = _x(3)
    assert st.test_symmetry(f, xs, [0, 1]).symmetric
    r = st.test_symmetry(f, xs, [0, 2])
    assert not r.symmetric and r.score > 0.1 and r.verdict.startswith("not symmetric")
    found = st.find_symmetries(f, xs, names=list("xyz"))
    assert [s.group_a for s in found if s.symmetric] == [[0, 1]]
    assert "h(x, y)" in found[0].verdict
    # f(x1^2 + x2^2) times a third variable: still a function of x1^2 + x2^2
    assert st.test_symmetry(_f(sp.exp(-(x**2 + y**2)) * z), _x(3, lo=0.2), [0, 1]).symmetric
    assert "trivial" in st.test_symmetry(f, xs, [2]).verdict


def test_module_masks_hold_after_training():
    m = KAN([3, 4, 2, 1], seed=0)
    spec = st.parse_module_spec("x1,x2->h0,h1->0", m)
    assert spec.start_level == 0 and spec.nodes == [[0, 1], [0, 1], [0]]
    masked = st.define_module(m, spec.nodes[0], spec.nodes[1:])
    assert (0, 2, 0) in masked and (0, 0, 2) in masked and (1, 2, 0) in masked and (1, 0, 1) in masked
    xs = _x(3, 100)
    fit(m, xs, torch.sin(xs[:, :1]) * xs[:, 2:], steps=4, optimizer="adam", lr=0.05)
    _, edges = m(xs, with_edges=True)
    for layer, i, j in masked:
        assert float(m.layers[layer].mask[i, j]) == 0
        assert edges[layer].edges[:, i, j].abs().max() == 0
    named = KAN([2, 3, 1])
    named.set_names(["mass", "v"], ["E"])
    assert st.parse_module_spec("mass,v -> 2", named).nodes == [[0, 1], [2]]
    assert st.parse_module_spec("@1: h0,h2 -> E", named).nodes == [[0, 2], [0]]
    with pytest.raises(ValueError):
        st.parse_module_spec("x1 -> h9", named)


def test_auto_swap_lowers_connection_cost_and_keeps_outputs():
    from kanstudio.science.attribution import connection_cost
    xs = _x(2, 200)
    m = KAN([2, 2, 2], seed=3)
    for l, alive in ((0, [(0, 1), (1, 0)]), (1, [(1, 0), (0, 1)])):   # crossed wiring
        for i in range(2):
            for j in range(2):
                if (i, j) not in alive:
                    m.set_edge_mask(l, i, j, 0.0)
    new, perms = st.auto_swap(m, xs)
    assert perms[1] == [1, 0] and perms[0] == [0, 1] and perms[2] == [0, 1]
    assert connection_cost(new, xs) < 0.5 * connection_cost(m, xs)
    with torch.no_grad():
        assert (new(xs) - m(xs)).abs().max() < 1e-12
    big = KAN([3, [3, 2], [2, 1], 1], seed=5)
    big.fix_symbolic(1, 3, 0, "sin")
    xs3 = _x(3, 200)
    new, perms = st.auto_swap(big, xs3)
    assert connection_cost(new, xs3) <= connection_cost(big, xs3) + 1e-12
    with torch.no_grad():
        assert (new(xs3) - big(xs3)).abs().max() < 1e-12


def test_formula_hypothesis_on_an_edge():
    xs = _x(2, 200, seed=1)
    ys = torch.sin(2 * xs[:, :1]) + xs[:, 1:] ** 2
    m = KAN([2, 1], grid=5, seed=0)
    fit(m, xs, ys, steps=15)
    good = st.test_formula_hypothesis(m, xs, ys, 0, 1, 0, "x^2", steps=5)
    assert good.supported and good.verdict.startswith("supported")
    bad = st.test_formula_hypothesis(m, xs, ys, 0, 0, 0, "x^2", steps=5)
    assert not bad.supported and bad.verdict.startswith("rejected") and bad.ratio > 2


def test_output_hypothesis():
    from kanstudio.data.dataset import Dataset
    X = _x(2, 200, seed=2).numpy()
    ds = Dataset.from_arrays(X, X[:, 0] * X[:, 1] + X[:, 1], ["a", "b"], ["y"])
    m = KAN([2, 3, 1], seed=0)
    fit(m, *ds.tensors("train"), steps=10)
    a, b = sp.symbols("a b")
    assert st.test_output_hypothesis(m, ds, a * b + b).supported
    r = st.test_output_hypothesis(m, ds, a + b)
    assert not r.supported and "rejected" in r.verdict


def test_cli_structure(tmp_path, capsys):
    import json
    from kanstudio.cli import main
    rng = np.random.default_rng(5)
    X = rng.uniform(-1, 1, size=(150, 3))
    f = X[:, 0] * X[:, 1] + np.sin(X[:, 2])
    csv = tmp_path / "s.csv"
    csv.write_text("p,q,r,f\n" + "".join(",".join(f"{v:.12g}" for v in row) + "\n" for row in np.column_stack([X, f])))
    report = tmp_path / "s.json"
    old = torch.get_num_threads()
    try:
        assert main(["structure", str(csv), "--target", "f", "--steps", "20", "--json", str(report)]) == 0
    finally:
        torch.set_num_threads(old)
    text = capsys.readouterr().out
    assert "additive:" in text and "multiplicative:" in text
    data = json.loads(report.read_text())
    assert data["additive"]["groups"] == [["p", "q"], ["r"]]
    assert main(["structure", str(csv), "--target", "f", "--threshold", "-1"]) == 2
