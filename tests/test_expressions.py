import numpy as np
import pytest
import sympy

from kanstudio.data import DataError, evaluate_expression, parse_expression


@pytest.mark.parametrize("text,cols,expected", [
    ("m*v**2", {"m": 2.0, "v": 3.0}, 18.0),
    ("x1/x2", {"x1": 1.0, "x2": 4.0}, 0.25),
    ("sqrt(x**2+y**2)", {"x": 3.0, "y": 4.0}, 5.0),
    ("x^2 + sin(pi*x)", {"x": 0.5}, 1.25),
    ("`m (kg)` * 2", {"m (kg)": 1.5}, 3.0),
])
def test_valid_formulas_evaluate(text, cols, expected):
    expr = parse_expression(text, list(cols))
    out = evaluate_expression(expr, {k: np.array([v]) for k, v in cols.items()})
    assert out[0] == pytest.approx(expected)


@pytest.mark.parametrize("text", [
    "__import__('os')", "x.__class__", "().__class__", "lambda: 1", "open('f')",
    "[x for x in y]", "z + 1", "x" * 10_000, "x if x else y", "'abc'", "_x", "x[0]",
    "exp(x, y)", "sin(x=1)",
])
def test_unsafe_or_unknown_text_refused(text):
    with pytest.raises(DataError):
        parse_expression(text, ["x", "y"])


def test_symbols_are_real_and_named():
    expr = parse_expression("a*b", ["a", "b"])
    assert {str(s) for s in expr.free_symbols} == {"a", "b"}
    assert all(s.is_real for s in expr.free_symbols)
    assert expr == sympy.Symbol("a", real=True) * sympy.Symbol("b", real=True)


def test_non_finite_results_reported():
    expr = parse_expression("log(x)", ["x"])
    with pytest.raises(DataError, match="not finite on 1 of 2"):
        evaluate_expression(expr, {"x": np.array([1.0, -1.0])})
