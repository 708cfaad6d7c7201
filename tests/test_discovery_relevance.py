"""Inputs the target does not depend on (kanstudio/discovery/relevance.py):
found on the stand-in network, confirmed on held-out rows, left out of the
search with a note and a derivation step."""
from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import sympy

from kanstudio.discovery import DiscoverConfig, discover_arrays
from kanstudio.discovery.relevance import LIMIT, irrelevant_inputs


def _ctx(predict, X, err):
    """A stand-in Context whose 'network' is ``predict``, with test error ``err``."""
    return SimpleNamespace(predict=predict, has_oracle=lambda: True, oracle_rmse=lambda: err, n_in=X.shape[1],
                           X_train=X[:400], X_test=X[400:], kan_rows=np.arange(400), y_train=predict(X[:400]),
                           cfg=SimpleNamespace(seed=0))


def test_an_input_within_the_networks_error_is_irrelevant_and_a_weak_real_one_is_not():
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 3, size=(500, 3))
    err = 1e-3
    # the network's own error wiggles along the unused input x2, as a fitted one does
    net = lambda Z: Z[:, 0] * Z[:, 1] + err * np.sin(37 * Z[:, 2])  # noqa: E731
    found = irrelevant_inputs(_ctx(net, X, err))
    assert [i for i, _ in found] == [2] and found[0][1] <= LIMIT
    # a near miss: x2 changes y by a few times the network's error, which is a real effect
    weak = lambda Z: Z[:, 0] * Z[:, 1] + 10 * err * Z[:, 2]  # noqa: E731
    assert irrelevant_inputs(_ctx(weak, X, err)) == []
    # a stand-in whose error is a tenth of y's spread cannot tell: no input is called irrelevant
    assert irrelevant_inputs(_ctx(weak, X, 0.1 * float(np.std(weak(X))))) == []
    # without held-out rows nothing can be confirmed
    ctx = _ctx(net, X, err)
    ctx.X_test = ctx.X_train
    assert irrelevant_inputs(ctx) == []


def test_discovery_leaves_an_irrelevant_column_out_and_says_so():
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 3, size=(600, 3))
    y = X[:, 0] ** 2 / X[:, 1]                     # the third column (a temperature) plays no part
    res = discover_arrays(X[:480], y[:480], X[480:], y[480:], ["p", "m", "temp"], "E",
                          DiscoverConfig(budget_seconds=20, seed=0))
    p, m = sympy.symbols("p m", positive=True)
    assert res.formula is not None and sympy.simplify(res.formula - p ** 2 / m) == 0
    assert any("temp left out" in n for n in res.notes)
    assert res.derivation[0].kind == "irrelevant inputs" and res.derivation[0].details["dropped"] == ["temp"]
