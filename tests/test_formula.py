"""Network -> formula, constants, exports (symbolic/formula.py, symbolic/constants.py)."""
import math

import numpy as np
import pytest
import sympy
import torch

from kanstudio.data import DataError, Dataset
from kanstudio.symbolic import formula as F
from kanstudio.model.network import KAN
from kanstudio.symbolic.constants import polish, snap_verified


def _symbolic_hello_world():
    """[2,1,1] fixed to exp(sin(pi*x) + y^2) in raw (unnormalised) units."""
    m = KAN([2, 1, 1], seed=0)
    m.fix_symbolic(0, 0, 0, "sin", (math.pi, 0.0, 1.0, 0.0))
    m.fix_symbolic(0, 1, 0, "x^2", (1.0, 0.0, 1.0, 0.0))
    m.fix_symbolic(1, 0, 0, "exp", (1.0, 0.0, 1.0, 0.0))
    return m


def test_incomplete_formula_names_the_numeric_edges():
    m = KAN([2, 1, 1], seed=0)
    m.fix_symbolic(0, 0, 0, "sin", (1.0, 0.0, 1.0, 0.0))
    with pytest.raises(F.FormulaIncomplete) as err:
        F.model_formula(m)
    assert set(err.value.edges) == {(0, 1, 0), (1, 0, 0)}
    assert "(0,1,0)" in str(err.value)
    m.set_edge_mask(0, 1, 0, 0.0)          # a pruned edge needs no formula
    with pytest.raises(F.FormulaIncomplete):
        F.model_formula(m)
    m.fix_symbolic(1, 0, 0, "x", (1.0, 0.0, 2.0, 0.5))
    res = F.model_formula(m)
    x1 = res.symbols[0]
    assert sympy.simplify(res.exprs[0] - (2 * sympy.sin(x1) + sympy.Rational(1, 2))) == 0


def test_formula_in_original_units_matches_the_model():
    rng = np.random.default_rng(0)
    X = rng.uniform([0.0, 10.0], [2.0, 30.0], size=(200, 2))
    Y = (3 * X[:, 0] + 0.1 * X[:, 1])[:, None]
    ds = Dataset.from_arrays(X, Y, ["mass (kg)", "T"], ["E"], seed=0)
    m = KAN([2, 1], seed=0)
    m.fix_symbolic(0, 0, 0, "x^2", (0.8, 0.2, 1.3, -0.1))
    m.fix_symbolic(0, 1, 0, "sin", (0.5, 0.1, 0.7, 0.0))
    res = F.model_formula(m, ds, digits=15)
    assert [s.name for s in res.symbols] == ["mass_kg", "T"]
    xt = torch.as_tensor(ds.normalize_x(X))
    with torch.no_grad():
        expected = ds.denormalize_y(m(xt).numpy())[:, 0]
    got = F.evaluate(res.exprs[0], ds.input_names, X)
    np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-9)
    assert res.latex[0] == F.to_latex(res.exprs[0]) and res.complexity > 0
    assert "\\mathrm{mass}_{\\mathrm{kg}}" in res.latex[0]      # one variable, not m*a*s*s


def test_mult_node_formula():
    m = KAN([2, [0, 1], 1], seed=0)
    m.fix_symbolic(0, 0, 0, "x", (1.0, 0.0, 1.0, 0.0))
    m.fix_symbolic(0, 1, 1, "sin", (1.0, 0.0, 1.0, 0.0))
    m.set_edge_mask(0, 0, 1, 0.0)
    m.set_edge_mask(0, 1, 0, 0.0)
    m.fix_symbolic(1, 0, 0, "x", (1.0, 0.0, 1.0, 0.0))
    res = F.model_formula(m)
    x1, x2 = res.symbols
    assert sympy.simplify(res.exprs[0] - x1 * sympy.sin(x2)) == 0


def test_snapping_rounding_and_negligible_terms():
    x, y = sympy.symbols("x y", real=True)
    e = sympy.Float(1.999999) * x ** 2 + sympy.Float(0.3333334) * y + sympy.Float(3.14159271) * x
    s = F.snap_constants(e, digits=4)
    assert s.has(sympy.Rational(1, 3)) and sympy.Integer(2) * x ** 2 in s.args
    r = F.round_constants(sympy.Float(3.14159271) * x, 3)
    assert r == sympy.Float(3.14, 3) * x
    data = {x: np.linspace(-1, 1, 50)}
    d = F.drop_negligible(sympy.sin(sympy.Float(3.0) * x + sympy.Float(1e-9)), data, 1e-5)
    assert d == sympy.sin(sympy.Float(3.0) * x)
    # what a constant optimiser leaves of terms and factors the law does not have
    t, c = sympy.symbols("t c", positive=True)
    data2 = {x: np.linspace(1, 2, 50), t: np.linspace(250, 350, 50), c: np.linspace(1, 2, 50)}
    leftovers = (sympy.Float(0.0028) * x + sympy.Float(4e-12) * c) * t ** sympy.Float(1.6e-9) \
        * sympy.exp(sympy.Float(-2e-11) * c)
    assert F.drop_negligible(leftovers, data2, 1e-5) == sympy.Float(0.0028) * x
    real = sympy.Float(0.5) * x * t ** sympy.Float(0.3)          # factors that vary are kept
    assert F.drop_negligible(real, data2, 1e-5) == real
    big = F.snap_constants(sympy.Float(8987742438.0) * x, 4)   # a measured constant, not an integer
    assert big.atoms(sympy.Float)


def test_python_export_round_trip_and_latex():
    m = _symbolic_hello_world()
    res = F.model_formula(m, digits=6)
    expr = res.exprs[0]
    src = F.to_python_source(expr, ["x1", "x2"], func_name="hello")
    namespace = {}
    exec(compile(src, "<formula>", "exec"), namespace)       # the test runs the exported code
    X = np.random.default_rng(1).uniform(-1, 1, size=(50, 2))
    expected = np.exp(np.sin(np.pi * X[:, 0]) + X[:, 1] ** 2)
    np.testing.assert_allclose(namespace["hello"](X[:, 0], X[:, 1]), expected, rtol=1e-5)
    np.testing.assert_allclose(F.evaluate(expr, ["x1", "x2"], X), expected, rtol=1e-5)
    assert "\\sin" in res.latex[0] and "\\pi" in res.latex[0]
    try:
        from sympy.parsing.latex import parse_latex
        back = parse_latex(res.latex[0])
    except (ImportError, ModuleNotFoundError) as exc:
        pytest.skip(f"LaTeX parsing not available here ({exc})")
    plain = {s.name.replace("_", ""): s for s in res.symbols}     # LaTeX writes x1 as x_{1}
    plain.update({"e": sympy.E, "pi": sympy.pi})                   # the parser reads them as symbols
    back = back.xreplace({s: plain.get(s.name.translate(str.maketrans("", "", "_{}")), s)
                          for s in back.free_symbols})
    np.testing.assert_allclose(F.evaluate(back, ["x1", "x2"], X), expected, rtol=1e-4)


def test_latex_keeps_multi_letter_names_whole():
    px, x = sympy.symbols("px x", real=True)
    tex = F.to_latex(px ** 2 / 2 + x)
    assert "\\mathrm{px}^{2}" in tex and "px" not in tex.replace("\\mathrm{px}", "")
    names = {"x1": "x_{1}", "m_1": "m_{1}", "theta": "\\theta", "lambda_": "\\lambda", "alpha2": "\\alpha_{2}",
             "v_max": "v_{\\mathrm{max}}", "Re": "\\mathrm{Re}", "x__2": "x_{2}", "T": "T", "xbar": "\\mathrm{xbar}"}
    assert {n: F.latex_symbol(n) for n in names} == names
    # the Pareto list and the CLI print candidates with the same function
    from kanstudio.discovery.judgement.pareto import FormulaCandidate
    assert FormulaCandidate(px ** 2 / 2 + x, 7, 0.0).latex == tex
    mathtext = pytest.importorskip("matplotlib.mathtext")
    mathtext.MathTextParser("path").parse(f"${tex}$")          # the panel's renderer accepts it


def test_polish_and_verified_snapping_recover_exact_constants():
    rng = np.random.default_rng(2)
    x, t = sympy.symbols("x t", real=True)
    X = rng.uniform(0.5, 2.0, size=(300, 2))
    y = 2.5 * np.exp(-X[:, 1] / 2) * np.sin(3 * X[:, 0])
    rough = (sympy.Float(2.4) * sympy.exp(sympy.Float(-0.48) * t + sympy.Float(0.01))
             * sympy.sin(sympy.Float(3.05) * x + sympy.Float(-0.02)))
    data = {x: X[:, 0], t: X[:, 1]}
    pol = polish(rough, data, y)
    assert pol.rmse < 1e-10
    sn = snap_verified(pol.expr, data, y)
    clean = F.finish(sn.expr, 4, data)
    assert sympy.simplify(clean - sympy.Rational(5, 2) * sympy.exp(-t / 2) * sympy.sin(3 * x)) == 0


def test_unsafe_library_expressions_are_refused():
    from kanstudio.cli.discover import parse_library

    for bad in ["__import__('os').system('true')", "x.__class__", "().__class__", "lambda: 1"]:
        with pytest.raises(DataError):
            parse_library(bad)
    assert parse_library("x,x^2,sin") == ["x", "x^2", "sin"]
    from kanstudio.model.functions import get_function, unregister_function
    names = parse_library("x^2+1")
    try:
        fn = get_function(names[0])
        assert float(fn.torch_fn(torch.tensor([2.0], dtype=torch.float64))[0]) == pytest.approx(5.0)
    finally:
        unregister_function(names[0])


def test_the_jacobian_in_the_constants_matches_finite_differences():
    """The refit's forward-mode Jacobian (every node type the formulas use) against
    central differences; a node it has no rule for is refused up front."""
    from kanstudio.symbolic import UnsupportedExpression
    from kanstudio.symbolic.constants import parametrize
    from kanstudio.symbolic import FormulaJacobian
    x, z = sympy.symbols("x z", positive=True)
    expr = (sympy.Float(1.3) * sympy.sin(sympy.Float(0.7) * x) * sympy.exp(-sympy.Float(0.2) * z)
            + sympy.sqrt(sympy.Float(2.1) + x ** 2) / (sympy.Float(0.5) + z) ** sympy.Float(1.5)
            + sympy.log(sympy.Float(3.0) * x) * sympy.tanh(sympy.Float(0.4) * z)
            + sympy.atan(sympy.Float(0.3) * x * z) + sympy.Abs(x - sympy.Float(1.2))
            + x ** sympy.Float(0.8) + sympy.erf(sympy.Float(0.6) * z))
    template, params, p0 = parametrize(expr)
    rng = np.random.default_rng(1)
    data = {x: rng.uniform(0.5, 2.0, 50), z: rng.uniform(0.5, 2.0, 50)}
    f = FormulaJacobian(template, params, data)
    v, J = f.value_and_jacobian(p0)
    assert J.shape == (50, len(params))
    np.testing.assert_allclose(v, F.evaluate_numpy(expr, data), rtol=1e-12)
    for k in range(len(params)):
        h = 1e-6 * max(1.0, abs(p0[k]))
        up, down = p0.copy(), p0.copy()
        up[k] += h
        down[k] -= h
        np.testing.assert_allclose(J[:, k], (f.value(up) - f.value(down)) / (2 * h), rtol=1e-5, atol=1e-7)
    with pytest.raises(UnsupportedExpression):
        FormulaJacobian(sympy.gamma(sympy.Float(1.5) * x), [], data)
