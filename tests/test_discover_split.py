"""Separability splits and the 1/y view of the discovery pipeline (fast: no training)."""
import math
from types import SimpleNamespace

import numpy as np
import sympy

from kanstudio.discovery.split import _split_error, split_tolerance
from kanstudio.discovery.views import View, reciprocal_ok


def _ctx(fn, X):
    """A stand-in Context whose 'best network' is the true function."""
    y = fn(X)
    return SimpleNamespace(predict=fn, best_net_rmse=0.0, y_train=y)


def test_multiplicative_and_additive_splits_are_told_apart():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 5, size=(400, 5))             # kappa, T1, T2, A, d
    heat = lambda Z: Z[:, 0] * (Z[:, 2] - Z[:, 1]) * Z[:, 3] / Z[:, 4]  # noqa: E731
    ctx = _ctx(heat, X)
    tol = split_tolerance(ctx)
    mul = [_split_error(ctx, X, np.random.default_rng(1), i, "mul") for i in range(5)]
    assert [e <= tol for e in mul] == [True, False, False, True, True], mul
    lorentz = lambda Z: Z[:, 0] + Z[:, 1] * np.sin(Z[:, 2])  # noqa: E731 - Ef + v*sin(theta)
    ctx = _ctx(lorentz, X[:, :3])
    add = [_split_error(ctx, X[:, :3], np.random.default_rng(1), i, "add") for i in range(3)]
    assert add[0] <= tol and min(add[1:]) > tol, add


def test_inverse_view_round_trips_and_is_only_offered_when_safe():
    rng = np.random.default_rng(2)
    X = rng.uniform(1, 10, size=(200, 2))
    y = X[:, 0] * X[:, 1] / (X[:, 0] + X[:, 1])
    syms = sympy.symbols("R1 R2", positive=True)
    v = View("inverse", X, y, syms, [True, True], False, inv_target=True)
    z = v.y_tensor(y).numpy()[:, 0]
    np.testing.assert_allclose(v.untransform(z), y, rtol=1e-12)
    o = sympy.Symbol("o")
    back = sympy.lambdify(o, v.output_expr(o))(z)
    np.testing.assert_allclose(back, y, rtol=1e-12)
    assert v.describe()["inv_target"] is True
    assert reciprocal_ok(y)
    assert not reciprocal_ok(np.r_[y, -1.0])                    # mixed sign
    assert not reciprocal_ok(np.r_[y, 1e-9])                    # a value near 0: 1/y would explode
    assert math.isfinite(float(v.y_scale))
