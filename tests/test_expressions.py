import math

import numpy as np
import pytest
import sympy

from kanstudio.data import DataError, evaluate_expression, parse_expression, safe_symbol_name


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


def test_power_caret_and_functions_match_numpy():
    x = np.linspace(0.1, 0.9, 5)
    cols = {"x": x, "y": x[::-1]}
    cases = {"x^2": x ** 2, "x^-1 + y": 1 / x + x[::-1], "ln(x) + arctan(y)": np.log(x) + np.arctan(x[::-1]),
             "sgn(x - 0.5) * abs(y - 0.5)": np.sign(x - 0.5) * np.abs(x[::-1] - 0.5),
             "erf(x) + arctanh(y/2) + e^x": [math.erf(v) for v in x] + np.arctanh(x[::-1] / 2) + np.exp(x)}
    for text, expected in cases.items():
        np.testing.assert_allclose(evaluate_expression(parse_expression(text, ["x", "y"]), cols), expected)


def test_backticks_unicode_and_reserved_words():
    expr = parse_expression("`m (kg)` * `lambda` + µ", ["m (kg)", "lambda", "µ"])
    assert {str(s) for s in expr.free_symbols} == {"m (kg)", "lambda", "µ"}   # the columns' own spelling
    out = evaluate_expression(expr, {"m (kg)": np.array([2.0]), "lambda": np.array([3.0]), "µ": np.array([1.0])})
    assert out[0] == 7.0
    assert parse_expression("a + b") == sympy.Symbol("a", real=True) + sympy.Symbol("b", real=True)


@pytest.mark.parametrize("text,message", [
    ("z + 1", r"unknown name 'z' \(allowed: x, y\)"),
    ("x.__class__", "attribute access is not allowed"),
    ("().__class__", "attribute access is not allowed"),
    ("lambda: 1", "a lambda is not allowed"),
    ("[x for x in y]", "a list comprehension is not allowed"),
    ("__import__('os')", "unknown function '__import__'"),
    ("open('f')", "unknown function 'open'"),
    ("x[0]", "indexing is not allowed"),
    ("x // y", "operator // is not allowed"),
    ("`q` * x", "unknown column `q`"),
    ("`x * 2", "unmatched backtick"),
    ("sqrt(-1) * x", "not real-valued"),
    ("x / 0", "divides by zero"),
    ("((2**99)**99)**99 * x", "too large"),
    ("x**1000", "exponents larger than 100"),
    ("x +* y", "cannot parse the formula"),
])
def test_refusals_say_what_is_wrong(text, message):
    with pytest.raises(DataError, match=message):
        parse_expression(text, ["x", "y"])


def test_limits_are_cheap():
    with pytest.raises(DataError, match="too long"):
        parse_expression("x+" * 5000 + "x")
    with pytest.raises(DataError):
        parse_expression("-" * 490 + "x", ["x"])
    assert parse_expression("x+" * 200 + "x", ["x"]) == 201 * sympy.Symbol("x", real=True)


def test_evaluate_checks_columns():
    expr = parse_expression("x*y", ["x", "y"])
    with pytest.raises(DataError, match="unknown column"):
        evaluate_expression(expr, {"x": np.ones(3)})
    with pytest.raises(DataError, match="different lengths"):
        evaluate_expression(expr, {"x": np.ones(3), "y": np.ones(4)})
    np.testing.assert_allclose(evaluate_expression(parse_expression("2*pi"), {"x": np.ones(3)}), [2 * np.pi] * 3)


@pytest.mark.parametrize("column,expected", [("m (kg)", "m_kg"), ("2x", "c_2x"), ("lambda", "lambda_"),
                                             ("_id", "id"), ("µ", "μ")])
def test_safe_symbol_name(column, expected):
    name = safe_symbol_name(column)
    assert name == expected and name.isidentifier()
