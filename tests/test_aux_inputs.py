"""Auxiliary inputs: a new column from an expression; the network is unchanged until retrained."""
import numpy as np
import pytest
import sympy as sp
import torch

from kanstudio.data.dataset import Dataset
from kanstudio.science.aux_inputs import add_auxiliary_input, aux_values, substitute_aux
from kanstudio.model.network import KAN
from kanstudio.training.loop import fit

a, b = sp.symbols("a b")


@pytest.fixture(autouse=True)
def one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture
def dataset():
    X = np.random.default_rng(0).uniform(-1, 2, size=(150, 2))
    return Dataset.from_arrays(X, X[:, 0] * X[:, 1] + X[:, 0], ["a", "b"], ["y"])


def test_new_input_keeps_the_function(dataset):
    m = KAN([2, [3, 1], 1], seed=0)
    m.set_names(["a", "b"], ["y"])
    m.fix_symbolic(0, 1, 2, "sin", (1.0, 0.1, 0.5, 0.0))
    m2, ds2 = add_auxiliary_input(m, dataset, "ab", a * b)
    assert ds2.input_names == ["a", "b", "ab"] and m2.input_names == ["a", "b", "ab"]
    assert m2.width[0] == [3, 0] and m2.width[1:] == m.width[1:]
    np.testing.assert_allclose(ds2.X[:, 2], dataset.X[:, 0] * dataset.X[:, 1])
    x1, _ = dataset.tensors("all")
    x2, _ = ds2.tensors("all")
    assert abs(float(x2[ds2.train_idx, 2].mean())) < 1e-9       # normalised like the other columns
    with torch.no_grad():
        assert (m2(x2) - m(x1)).abs().max() < 1e-12
    assert m2.layers[0].symbolic_name(1, 2) == "sin"
    # the new input's knots cover its data, and its edges learn
    grid = m2.layers[0].grid[2]
    assert grid[0] < float(x2[:, 2].min()) and grid[-1] > float(x2[:, 2].max())
    fit(m2, *ds2.tensors("train"), steps=3, optimizer="adam", update_grid=False)
    assert m2.layers[0].coef[2].abs().max() > 0


def test_parsed_expression_and_errors(dataset):
    from kanstudio.data.expressions import parse_expression
    m = KAN([2, 3, 1])
    m.set_names(["a", "b"], ["y"])
    expr = parse_expression("a**2 + exp(b)", ["a", "b"])
    np.testing.assert_allclose(aux_values(dataset, expr), dataset.X[:, 0] ** 2 + np.exp(dataset.X[:, 1]))
    _, ds2 = add_auxiliary_input(m, dataset, "q", expr)
    with pytest.raises(ValueError):
        add_auxiliary_input(m, dataset, "a", a * b)                 # name taken
    with pytest.raises(ValueError):
        add_auxiliary_input(m, dataset, "c", a * 0 + 3)            # constant column
    with pytest.raises(ValueError):
        add_auxiliary_input(m, ds2, "c", a * b)                     # model does not match the data


def test_substitute_aux_puts_expressions_back():
    ab = sp.Symbol("ab", real=True)
    ar, br = sp.Symbol("a", real=True), sp.Symbol("b", real=True)
    formula = 2 * ab + ar
    out = substitute_aux(formula, {"ab": a * b})
    assert sp.simplify(out - (2 * ar * br + ar)) == 0
    assert out.free_symbols == {ar, br}
    assert substitute_aux(formula, {"other": a}) == formula
