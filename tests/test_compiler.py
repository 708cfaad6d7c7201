"""kanpiler: formulas compile to KANs that reproduce them; expand width/depth keep the function."""
import numpy as np
import pytest
import sympy as sp
import torch

from kanstudio.symbolic.compiler import compile_for_dataset, compile_formula, expand_depth, expand_width
from kanstudio.symbolic.interpreter import evaluate_numpy
from kanstudio.model.network import KAN

x, y, z, w, u, v = sp.symbols("x y z w u v")


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def _data(names, lo, hi, n=400, seed=0):
    return np.random.default_rng(seed).uniform(lo, hi, size=(n, len(names)))


def _reference(expr, names, X):
    cols = {sp.Symbol(nm): X[:, k] for k, nm in enumerate(names)}
    return evaluate_numpy(expr, {s: cols[sp.Symbol(s.name)] for s in expr.free_symbols})


CASES = [
    (x * y + sp.sin(z), "xyz", -2, 2),
    (sp.exp(-x**2 / 2) / sp.sqrt(2 * sp.pi) * w, "xw", -3, 3),
    (sp.sqrt(x**2 + y**2), "xy", -1, 1),
    ((u + v) / (1 + u * v), "uv", -0.9, 0.9),
    (x + x**2 - 3 * sp.cos(2 * x + 1), "x", -1, 1),        # several edges from one leaf into one node
    (sp.log(x) * sp.atan(y) + sp.tanh(x * y) ** 2, "xy", 0.2, 2),
    (2**x * y**z + x**6 + y ** sp.Rational(1, 4), "xyz", 0.1, 2),   # variable powers, composed powers
    (sp.acos(x / 2) * sp.exp(-(x + 1) ** 2) + sp.Abs(y) * sp.sign(x), "xy", -1.5, 1.5),
    (z * (x + y) - 7, "xyz", -1, 1),
    (sp.Integer(5), "x", -1, 1),
]


@pytest.mark.parametrize("expr,names,lo,hi", CASES, ids=[str(c[0]) for c in CASES])
def test_compiled_network_reproduces_formula(expr, names, lo, hi):
    names = list(names)
    model = compile_formula(expr, names)
    X = _data(names, lo, hi)
    with torch.no_grad():
        out = model(torch.as_tensor(X))[:, 0].numpy()
    np.testing.assert_allclose(out, _reference(expr, names, X), atol=1e-6, rtol=1e-6)
    assert model.input_names == names and model.output_names == ["y"]


def test_tree_shape_and_masks():
    m = compile_formula(sp.sqrt(x**2 + y**2), ["x", "y"])
    assert m.width == [[2, 0], [1, 0], [1, 0]]
    assert m.layers[0].symbolic_name(0, 0) == "x^2" and m.layers[0].symbolic_name(1, 0) == "x^2"
    assert m.layers[1].symbolic_name(0, 0) == "sqrt"
    m = compile_formula(x * y + sp.sin(z), ["x", "y", "z"])
    # every alive edge is fixed; everything off the tree is masked
    for layer in m.layers:
        assert torch.equal(layer.mask, layer.sym_mask)
    assert m.edge_count() == 5                    # x, y -> product; z -> pad; product, pad -> sum
    g = compile_formula(sp.exp(-x**2) * y, ["x", "y"])
    assert "gaussian" in g.layers[0].sym_names


def test_compiled_formula_round_trip():
    from kanstudio.symbolic.formula import evaluate, model_formula
    for expr, names in [(x * y + sp.sin(z), "xyz"), ((u + v) / (1 + u * v), "uv")]:
        names = list(names)
        got = model_formula(compile_formula(expr, names)).exprs[0]
        X = _data(names, -0.9, 0.9, n=50)
        np.testing.assert_allclose(evaluate(got, names, X), _reference(expr, names, X), atol=1e-9)


def test_refused_functions_give_clear_errors():
    with pytest.raises(ValueError, match=r"^x\*\*\(1/3\) has no library function; add one to the library"):
        compile_formula(x ** sp.Rational(1, 3), ["x"])
    with pytest.raises(ValueError, match="cosh has no library function"):
        compile_formula(sp.cosh(x) + y, ["x", "y"])
    with pytest.raises(ValueError, match="x\\*\\*7 has no library function"):
        compile_formula(x**7, ["x"])
    with pytest.raises(ValueError, match="unknown variable 'q'"):
        compile_formula(sp.Symbol("q") * x, ["x"])
    with pytest.raises(ValueError, match="not supported"):
        compile_formula(sp.Max(x, y), ["x", "y"])


def test_compile_for_dataset_takes_normalised_values():
    from kanstudio.data.dataset import Dataset
    X = _data("uv", -0.9, 0.9, n=120, seed=3)
    Y = (X[:, 0] + X[:, 1]) / (1 + X[:, 0] * X[:, 1])
    ds = Dataset.from_arrays(X, Y, ["u", "v"], ["w"])
    model = compile_for_dataset((u + v) / (1 + u * v), ds)
    xn, yn = ds.tensors("all")
    with torch.no_grad():
        assert torch.allclose(model(xn), yn, atol=1e-9)
    assert model.output_names == ["w"]


def _rand_x(n_in, n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, n_in, generator=g, dtype=torch.float64) * 2 - 1


@pytest.mark.parametrize("kind", ["sum", "mult"])
def test_expand_width_keeps_function(kind):
    xs = _rand_x(3)
    m = KAN([3, [3, 2], [2, 1], 1], seed=1)
    m.fix_symbolic(1, 0, 1, "sin", (1.0, 0.2, 0.5, 0.0))
    for level in (1, 2):
        m2 = expand_width(m, level, 2, kind)
        with torch.no_grad():
            assert (m2(xs) - m(xs)).abs().max() < 1e-12
        assert m2.n_nodes(level) == m.n_nodes(level) + 2
        assert m2.layers[1].symbolic_name(0, 1) == "sin"          # fixes move with their nodes
    c = compile_formula(x * y + sp.sin(z), ["x", "y", "z"])
    c2 = expand_width(c, 1, 1, kind)
    with torch.no_grad():
        assert (c2(xs) - c(xs)).abs().max() < 1e-12
    # the new node's outgoing edges start at zero but learn
    from kanstudio.training.loop import fit
    target = c(xs).detach() + 0.3 * xs[:, :1] ** 2
    fit(c2, xs, target, steps=3, optimizer="adam", update_grid=False)
    new = c2.width[1][0] - 1 if kind == "sum" else c2.n_nodes(1) - 1
    assert c2.layers[1].coef[new].abs().max() > 0
    with pytest.raises(ValueError):
        expand_width(m, 0)


def test_expand_depth_keeps_function():
    xs = _rand_x(3)
    m = KAN([3, [2, 2], 2], seed=2)
    m2 = expand_depth(m, xs)
    assert m2.depth == m.depth + 1 and m2.width[-1] == [2, 0]
    with torch.no_grad():
        assert (m2(xs) - m(xs)).abs().max() < 1e-6
    c = compile_formula((u + v) / (1 + u * v), ["u", "v"])
    xs2 = xs[:, :2] * 0.9
    with torch.no_grad():
        assert (expand_depth(c, xs2)(xs2) - c(xs2)).abs().max() < 1e-6


def test_compiled_model_survives_save_and_load():
    from kanstudio.model import io
    m = compile_formula(sp.exp(-x**2 / 2) * w + sp.log(1 + w**2), ["x", "w"])
    m2 = io.from_bytes(io.to_bytes(m))
    xs = _rand_x(2, 50)
    with torch.no_grad():
        assert torch.allclose(m(xs), m2(xs), atol=1e-12)


def test_cli_compile(tmp_path, capsys):
    from kanstudio.cli import main
    rng = np.random.default_rng(4)
    uv = rng.uniform(-0.9, 0.9, size=(60, 2))
    wv = (uv[:, 0] + uv[:, 1]) / (1 + uv[:, 0] * uv[:, 1])
    csv = tmp_path / "rel.csv"
    csv.write_text("u,v,w\n" + "".join(f"{p:.12g},{q:.12g},{r:.12g}\n" for p, q, r in zip(uv[:, 0], uv[:, 1], wv)))
    out = tmp_path / "m.kan"
    assert main(["compile", "(u+v)/(1+u*v)", "--data", str(csv), "--target", "w", "--save", str(out)]) == 0
    text = capsys.readouterr().out
    assert "width [2, [2,1], [0,1]]" in text and "RMSE against w on 60 rows" in text
    from kanstudio.model import io
    assert io.load(str(out)).n_inputs == 2
    assert main(["compile", "u**(1/3)", "--data", str(csv)]) == 2
    assert "u**(1/3) has no library function" in capsys.readouterr().err
