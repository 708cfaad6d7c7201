"""The symbolic function library: names, guards, sympy forms, user functions."""
from __future__ import annotations

import dataclasses
import math

import pytest
import sympy
import torch

from kanstudio.model import functions as sl
from kanstudio.model.functions import CONSTANT, DEFAULT_LIBRARY, Y_TH, get_function, library_names, register_function, to_sympy, unregister_function

EXPECTED = ("x", "x^2", "x^3", "x^4", "x^5", "1/x", "1/x^2", "1/x^3", "sqrt", "1/sqrt(x)",
            "x^1.5", "exp", "log", "sin", "cos", "tan", "tanh", "abs", "sgn", "arcsin",
            "arctan", "arctanh", "gaussian")
NASTY = [0.0, -0.0, 1.0, -1.0, 1e-12, -1e-12, 1e-5, -1e-5, 0.5, -0.5, math.pi / 2,
         -math.pi / 2, 3 * math.pi / 2, 3.0, -3.0, 1 - 1e-9, -1 + 1e-9, 1e4, -1e4, 1e15,
         -1e15, 1e30, -1e30, 3e38, -3e38]
X = sympy.Symbol("x")


@pytest.fixture
def user_registry():
    """Leave the user registry as it was, whatever the test does."""
    saved = dict(sl._USER)
    yield
    sl._USER.clear()
    sl._USER.update(saved)


def test_default_library_names():
    assert DEFAULT_LIBRARY == EXPECTED
    assert CONSTANT == "0" and CONSTANT not in DEFAULT_LIBRARY
    assert CONSTANT not in library_names()
    zero = get_function("0")
    assert zero.complexity == 0
    assert zero.sympy_fn(X) == 0
    assert torch.equal(zero.torch_fn(torch.ones(3)), torch.zeros(3))
    for name in DEFAULT_LIBRARY:
        fn = get_function(name)
        assert fn.name == name and isinstance(fn.complexity, int) and fn.complexity >= 1
    assert get_function("x").complexity == 1
    assert get_function("x^2").complexity < get_function("x^3").complexity


@pytest.mark.parametrize("alias,name", [
    ("x**2", "x^2"), ("X^2", "x^2"), (" x ** 3 ", "x^3"), ("sin(x)", "sin"), ("SIN", "sin"),
    ("exp(x)", "exp"), ("x^0.5", "sqrt"), ("sqrt(x)", "sqrt"), ("1/x**2", "1/x^2"),
    ("x**-1", "1/x"), ("1/sqrt(x)", "1/sqrt(x)"), ("x^-0.5", "1/sqrt(x)"), ("asin", "arcsin"),
    ("atanh(x)", "arctanh"), ("sign", "sgn"), ("ln", "log"), ("exp(-x^2)", "gaussian"),
    ("abs(x)", "abs"), ("x**1.5", "x^1.5"),
])
def test_aliases(alias, name):
    assert get_function(alias).name == name


def test_unknown_name_lists_valid_names():
    with pytest.raises(KeyError) as err:
        get_function("cosh")
    assert isinstance(err.value, ValueError)
    msg = str(err.value)
    assert "cosh" in msg and "sin" in msg and "gaussian" in msg


def test_entries_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        get_function("sin").complexity = 1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", EXPECTED + (CONSTANT,))
def test_safe_functions_finite_with_finite_gradients(name, dtype):
    vals = NASTY + ([1e300, -1e300] if dtype == torch.float64 else [])
    x = torch.tensor(vals, dtype=dtype, requires_grad=True)
    y = get_function(name).torch_fn(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert y.shape == x.shape and y.dtype == dtype
    assert torch.isfinite(y).all(), (name, y)
    assert torch.isfinite(g).all(), (name, g)


@pytest.mark.parametrize("name", EXPECTED)
def test_any_shape(name):
    x = torch.linspace(-2, 2, 24).reshape(2, 3, 4).requires_grad_(True)
    y = get_function(name).torch_fn(x)
    assert y.shape == (2, 3, 4)
    y.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


@pytest.mark.parametrize("name", EXPECTED)
def test_torch_form_matches_sympy_form_inside_domain(name):
    fn = get_function(name)
    lo, hi, g = fn.arg_bounds()
    pts = [v for v in (-2.7, -1.3, -0.9, -0.4, -0.05, 0.05, 0.3, 0.8, 0.95, 1.4, 2.2, 3.1)
           if lo <= v <= hi and (v >= g or v <= -g) and not (name == "tan" and abs(v) > 1.5)]
    assert len(pts) >= 4
    got = fn.torch_fn(torch.tensor(pts, dtype=torch.float64))
    want = [float(fn.sympy_fn(sympy.Float(v)).evalf()) for v in pts]
    assert torch.allclose(got, torch.tensor(want, dtype=torch.float64), rtol=1e-9, atol=1e-12)


def test_guards_behave_as_documented():
    f = lambda name, v: get_function(name).torch_fn(torch.tensor(v, dtype=torch.float64)).item()
    eps = 1.0 / Y_TH                               # 1/x: linear core, continuous at eps
    assert f("1/x", eps * (1 + 1e-9)) == pytest.approx(f("1/x", eps * (1 - 1e-9)), rel=1e-6)
    assert f("1/x", 0.0) == 0.0 and f("1/x", -2.0) == -0.5
    assert f("1/x^2", 0.0) == pytest.approx(Y_TH)
    assert f("log", 0.0) == pytest.approx(math.log(sl.LOG_EPS))
    assert f("log", -5.0) == pytest.approx(math.log(sl.LOG_EPS))
    assert f("sqrt", -4.0) == pytest.approx(-2.0)  # odd extension
    assert f("x^1.5", -4.0) == pytest.approx(-8.0)
    assert f("arcsin", 1.0) == pytest.approx(math.pi / 2, abs=1e-2)
    assert f("arcsin", 7.0) == f("arcsin", 1.0)
    assert abs(f("arctanh", 1.0)) < 10
    for v in (math.pi / 2, -math.pi / 2, 101 * math.pi / 2):
        assert abs(f("tan", v)) <= Y_TH * 1.001
    assert f("tan", math.pi + 0.3) == pytest.approx(math.tan(0.3))
    assert f("exp", 1e6) < 1e27


def test_register_and_unregister_user_function(user_registry):
    expr = X * sympy.exp(-X)
    fn = register_function("xexp", expr, X)
    assert fn.complexity == sympy.count_ops(expr) + 1
    assert "xexp" in library_names() and get_function("xexp") is fn
    assert get_function(" xexp ") is fn
    x = torch.linspace(-1, 3, 9, dtype=torch.float64)
    assert torch.allclose(fn.torch_fn(x), x * torch.exp(-x))
    assert fn.sympy_fn(2 * X + 1) == (2 * X + 1) * sympy.exp(-(2 * X + 1))
    assert register_function("xexp", expr, X, complexity=7).complexity == 7   # replace
    unregister_function("xexp")
    assert "xexp" not in library_names()
    with pytest.raises(KeyError):
        get_function("xexp")


def test_user_function_is_made_safe(user_registry):
    fn = register_function("mylog", sympy.log(X) + sympy.sqrt(X), X)
    x = torch.tensor([-2.0, 0.0, 1e-30, 4.0, 1e30], requires_grad=True)
    y = fn.torch_fn(x)
    (g,) = torch.autograd.grad(y.sum(), x)
    assert torch.isfinite(y).all() and torch.isfinite(g).all()
    assert y.abs().max() <= Y_TH
    assert y[3].item() == pytest.approx(math.log(4) + 2)
    const = register_function("three", sympy.Integer(3) + 0 * X, X)
    xs = torch.zeros(2, 2, requires_grad=True)
    out = const.torch_fn(xs)
    assert out.shape == (2, 2) and torch.all(out == 3)


def test_register_refuses_bad_input(user_registry):
    y = sympy.Symbol("y")
    with pytest.raises(ValueError):
        register_function("sin", sympy.sin(X), X)          # built-in
    with pytest.raises(ValueError):
        register_function("x**2", X**2, X)                 # alias of a built-in
    with pytest.raises(ValueError):
        register_function("two", X * y, X)                 # other symbols
    with pytest.raises(TypeError):
        register_function("str", "x**2", X)                # strings are never parsed here
    with pytest.raises(ValueError):
        unregister_function("sin")


def test_to_sympy():
    assert to_sympy("x^2", (2, 1, 3, 4), X) == 3 * (2 * X + 1) ** 2 + 4
    assert to_sympy("x", (1, 0, 1, 0), X) == X
    e = to_sympy("gaussian", torch.tensor([1.5, -0.5, 2.0, 0.25]), X)
    assert sympy.simplify(e - (2 * sympy.exp(-(1.5 * X - 0.5) ** 2) + 0.25)) == 0
    e = to_sympy("sin(x)", (2.0, 0.5, -1.0, 0.0), X)
    assert e == -sympy.sin(2 * X + sympy.Float(0.5))
    assert to_sympy("0", (1, 0, 1, 2.5), X) == sympy.Float(2.5)
    assert to_sympy("log", (1, 2, 1, 0), X) == sympy.log(X + 2)


@pytest.mark.parametrize("name", ["sin", "cos", "exp", "x^2", "x^3", "1/x", "sqrt", "log",
                                  "gaussian", "tanh", "abs"])
def test_canonical_params_keep_the_function(name):
    fn = get_function(name)
    x = torch.linspace(0.5, 2.0, 50, dtype=torch.float64)
    p = torch.tensor([-1.7, -0.2 if fn.domain or fn.pole_at_zero else 2.9, 1.3, 0.4],
                     dtype=torch.float64)
    if fn.domain or fn.pole_at_zero:      # keep the argument in the domain
        p[:2] = torch.tensor([1.7, -0.3], dtype=torch.float64)
    q = fn.canonical_params(p, x.min(), x.max())
    val = lambda t: t[2] * fn.torch_fn(t[0] * x + t[1]) + t[3]
    assert torch.allclose(val(p), val(q), rtol=1e-10, atol=1e-10)
    if fn.parity:
        assert q[0] >= 0
    if fn.degree is not None or name == "log":
        assert abs(q[0]) == pytest.approx(1.0)
    if fn.period:
        assert abs(q[1]) <= math.pi / 2 + 1e-12
    if name == "exp":
        assert q[1] == 0
