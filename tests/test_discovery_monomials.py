"""Sparse sums of monomials (kanstudio/discovery/search/monomials.py): AI
Feynman's polynomial fit with integer powers of either sign, in y and in
transforms of it."""
from __future__ import annotations

import numpy as np
import sympy

from kanstudio.discovery.search.monomials import (MAX_ATOMS, atom_count, exponent_vectors, radius_for,
                                                  sparse_monomials)
from kanstudio.symbolic.interpreter import evaluate_numpy


def _max_rel(expr, symbols, f, rng, n=2000, lo=1.0, hi=3.0):
    """Largest relative error of expr against f on fresh points (not the fitted rows)."""
    X = rng.uniform(lo, hi, size=(n, len(symbols)))
    got = np.broadcast_to(evaluate_numpy(expr, dict(zip(symbols, X.T))), (n,))
    want = f(X)
    return float(np.max(np.abs(got - want) / np.abs(want)))


def test_the_dictionary_is_every_exponent_vector_within_the_radius_and_stays_bounded():
    for n in (1, 2, 3, 4, 6):
        r = radius_for(n)
        assert atom_count(n, r) <= MAX_ATOMS
        E = exponent_vectors(n, min(r, 3))
        assert len(E) == atom_count(n, min(r, 3))
        assert (np.abs(E).sum(1) <= min(r, 3)).all() and not np.abs(E[0]).any()
        assert len({tuple(v) for v in E}) == len(E)
    assert radius_for(1) == 24 and radius_for(6) >= 8   # x^24 in one variable; 8 in six


def test_a_sum_of_three_monomials_in_four_variables_is_recovered_exactly():
    rng = np.random.default_rng(3)
    syms = sympy.symbols("a b c d", positive=True)

    def law(X):
        a, b, c, d = X.T
        return 3 * a * b ** 2 - 2 * c / a + 0.7 * b * d / c ** 2

    X = rng.uniform(1, 3, size=(400, 4))
    found = sparse_monomials(X, law(X), syms)
    expr, target, err = found[0]
    assert target == "y" and err < 1e-9
    assert _max_rel(expr, syms, law, rng) < 1e-6
    a, b, c, d = syms
    powers = {term.as_coeff_Mul()[1] for term in sympy.Add.make_args(expr) if abs(term.as_coeff_Mul()[0]) > 1e-6}
    assert powers == {a * b ** 2, c / a, b * d / c ** 2}


def test_a_law_that_is_a_sum_of_monomials_in_one_over_y_squared_is_read_back_as_y():
    rng = np.random.default_rng(4)
    syms = sympy.symbols("m w k", positive=True)

    def law(X):                       # an amplitude: 1/A^2 = m^2 w^4 + k^2/w^2
        m, w, k = X.T
        return 1 / np.sqrt(m ** 2 * w ** 4 + k ** 2 / w ** 2)

    X = rng.uniform(1, 3, size=(400, 3))
    expr, target, err = sparse_monomials(X, law(X), syms)[0]
    assert target == "1/y^2" and err < 1e-9
    assert _max_rel(expr, syms, law, rng) < 1e-6


def test_a_sum_of_logarithms_is_a_polynomial_in_exp_y():
    rng = np.random.default_rng(6)
    x = sympy.Symbol("x", positive=True)
    law = lambda X: np.log(X[:, 0] + 1) + np.log(X[:, 0] ** 2 + 1)  # noqa: E731
    X = rng.uniform(0.1, 2.0, size=(300, 1))
    expr, target, err = sparse_monomials(X, law(X), [x])[0]
    assert target == "exp y" and err < 1e-9
    assert _max_rel(expr, [x], law, rng, lo=0.1, hi=2.0) < 1e-6


def test_a_law_that_is_no_short_sum_of_monomials_is_not_fitted_exactly():
    rng = np.random.default_rng(5)
    syms = sympy.symbols("a b", positive=True)
    X = rng.uniform(1, 3, size=(400, 2))
    y = np.exp(X[:, 0] * X[:, 1]) / (1 + X[:, 1])   # a near miss: smooth, but no short sum of the columns
    found = sparse_monomials(X, y, syms)
    assert found and min(err for _, _, err in found) > 1e-5
