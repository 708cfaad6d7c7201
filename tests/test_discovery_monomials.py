"""Sparse sums of monomials (kanstudio/discovery/search/monomials.py): AI
Feynman's polynomial fit with integer powers of either sign, in y and in
transforms of it."""
from __future__ import annotations

import numpy as np
import sympy

from kanstudio.discovery.search.dictionary import MAX_ATOMS, atom_count, exponent_vectors, radius_for
from kanstudio.discovery.search.monomials import held_out, sparse_monomials
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
    expr, target, err, *_ = found[0]
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
    expr, target, err, *_ = sparse_monomials(X, law(X), syms)[0]
    assert target == "1/y^2" and err < 1e-9
    assert _max_rel(expr, syms, law, rng) < 1e-6


def test_a_sum_of_logarithms_is_a_polynomial_in_exp_y():
    rng = np.random.default_rng(6)
    x = sympy.Symbol("x", positive=True)
    law = lambda X: np.log(X[:, 0] + 1) + np.log(X[:, 0] ** 2 + 1)  # noqa: E731
    X = rng.uniform(0.1, 2.0, size=(300, 1))
    expr, target, err, *_ = sparse_monomials(X, law(X), [x])[0]
    assert target == "exp y" and err < 1e-9
    assert _max_rel(expr, [x], law, rng, lo=0.1, hi=2.0) < 1e-6


def test_a_law_that_is_no_short_sum_of_monomials_is_not_fitted_exactly():
    rng = np.random.default_rng(5)
    syms = sympy.symbols("a b", positive=True)
    X = rng.uniform(1, 3, size=(400, 2))
    y = np.exp(X[:, 0] * X[:, 1]) / (1 + X[:, 1])   # a near miss: smooth, but no short sum of the columns
    found = sparse_monomials(X, y, syms)
    # the richer forms approximate log(1 + b) closely (about 1e-5), but not to round-off
    assert found and min(f.error for f in found) > 1e-7


def _ratio_poles(expr, symbols, X) -> bool:
    """Whether expr's denominator changes sign or nearly vanishes on the rows."""
    _, den = sympy.fraction(sympy.together(expr))
    q = np.broadcast_to(evaluate_numpy(den, dict(zip(symbols, X.T))), (len(X),))
    return not (np.all(q > 0) or np.all(q < 0)) or np.abs(q).min() < 1e-6 * np.abs(q).max()


def test_a_ratio_of_two_short_sums_is_recovered_exactly():
    rng = np.random.default_rng(7)
    syms = sympy.symbols("u v", positive=True)

    def law(X):                       # velocities added relativistically (c = 1)
        u, v = X.T
        return (u + v) / (1 + u * v)

    X = rng.uniform(0.1, 0.9, size=(300, 2))
    found = sparse_monomials(X, law(X), syms)
    best = found[0]
    assert best.error < 1e-9 and best.form == "ratio"
    assert _max_rel(best.expr, syms, law, rng, lo=0.1, hi=0.9) < 1e-6
    # no ratio handed back has a pole among the rows (P = Q = 0 fits are scored as P / Q)
    assert not any(_ratio_poles(f.expr, syms, X) for f in found if f.form == "ratio")


def test_products_with_an_exponential_in_a_ratio_give_plancks_law():
    rng = np.random.default_rng(8)
    x = sympy.Symbol("x", positive=True)
    law = lambda X: X[:, 0] ** 3 / (np.exp(X[:, 0]) - 1)  # noqa: E731
    X = rng.uniform(0.5, 5.0, size=(300, 1))
    best = sparse_monomials(X, law(X), [x])[0]
    assert best.error < 1e-9 and best.functions
    assert best.expr.has(sympy.exp)
    assert _max_rel(best.expr, [x], law, rng, lo=0.5, hi=5.0) < 1e-6


def test_richer_forms_only_for_small_problems():
    rng = np.random.default_rng(9)
    X = rng.uniform(1, 3, size=(200, 4))
    y = X[:, 0] * X[:, 1] + X[:, 2] / X[:, 3]
    found = sparse_monomials(X, y, sympy.symbols("a b c d", positive=True))
    assert found and all(f.form == "sum" and not f.functions for f in found)


def test_a_piece_left_on_the_data_is_fitted_without_the_engine():
    """peel.py divides the other pieces out of the data and searches what is left:
    a small exact piece is found by the sparse fit, with or without an engine."""
    from types import SimpleNamespace

    from kanstudio.discovery.search import search_piece
    clock = SimpleNamespace(left=lambda: 30.0, stop_training=lambda: False)
    ctx = SimpleNamespace(engine=None, clock=clock, cfg=SimpleNamespace(seed=0))
    rng = np.random.default_rng(10)
    a = sympy.Symbol("a", positive=True)
    law = lambda X: (1 - np.cos(X[:, 0])) / X[:, 0] ** 2  # noqa: E731  (a diffraction envelope)
    X = rng.uniform(0.5, 3.0, size=(300, 1))
    found = search_piece(ctx, X, law(X), [a])
    assert found and _max_rel(found[0], [a], law, rng, lo=0.5, hi=3.0) < 1e-6
    assert found[0].has(sympy.cos)


def test_fits_are_judged_in_y_on_rows_they_did_not_see():
    fit, judged = held_out(1000)
    assert len(fit) == 120 and len(judged) == 120 and not set(fit) & set(judged)
    assert fit.min() == 0 and fit.max() == 999 and judged.max() - judged.min() > 900   # spread, not a block
    fit, judged = held_out(30)
    assert len(judged) == 10 and not set(fit) & set(judged)
    fit, judged = held_out(12)            # too few to spare a third: judged on its own rows
    assert np.array_equal(fit, judged) and len(fit) == 12


def test_under_noise_the_shortest_fit_the_held_out_rows_cannot_tell_from_the_best_comes_first():
    # 1% relative noise on a law with a short form in 1/y^2: fits of every transform
    # reach the noise floor, and one in 1/y^2 looks better there than it is in y.
    # Compared in y on held-out rows, the shortest fit within the floor's spread leads
    rng = np.random.default_rng(11)
    syms = sympy.symbols("a b", positive=True)

    def law(X):
        a, b = X.T
        return 1 / np.sqrt(a ** 2 + 2 * b)

    X = rng.uniform(1, 3, size=(1000, 2))
    y = law(X) * (1 + 0.01 * rng.standard_normal(1000))
    found = sparse_monomials(X, y, syms)
    best = min(f.error for f in found)
    first = found[0]
    assert first.error <= best * (1 + 1 / np.sqrt(2 * 120)) and first.size == min(
        f.size for f in found if f.error <= best * (1 + 1 / np.sqrt(2 * 120)))
    assert first.error < 0.2                           # at the noise floor, in y: not a compromise
    got = np.broadcast_to(evaluate_numpy(first.expr, dict(zip(syms, X.T))), (1000,))
    assert np.sqrt(np.mean((got / law(X) - 1) ** 2)) < 3e-3    # the law, within the noise's reach
