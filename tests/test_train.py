import threading

import torch

from kanstudio.model.network import KAN
from kanstudio.training.loop import FitConfig, fit, fit_steps


def _data(n=300, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 2, generator=g, dtype=torch.float64) * 2 - 1
    return x, torch.sin(2 * x[:, [0]]) + x[:, [1]] ** 2


def test_fit_steps_yields_snapshots_and_final():
    x, y = _data()
    m = KAN([2, 3, 1], grid=3, seed=0)
    snaps = list(fit_steps(m, x, y, x, y, FitConfig(steps=6, snapshot_every=2)))
    assert [s.step for s in snaps] == [2, 4, 6]
    assert snaps[-1].done and snaps[-1].reason == "completed"
    assert snaps[-1].train_rmse < snaps[0].train_rmse * 1.5
    assert all(s.total_steps == 6 for s in snaps)


def test_cancel_stops_within_one_step():
    x, y = _data()
    m = KAN([2, 3, 1], grid=3, seed=0)
    cancel = threading.Event()
    gen = fit_steps(m, x, y, config=FitConfig(steps=100, optimizer="adam"), cancel=cancel)
    first = next(gen)
    cancel.set()
    rest = list(gen)
    assert len(rest) == 1 and rest[0].done and rest[0].reason == "cancelled"
    assert rest[0].step <= first.step + 1
    assert torch.isfinite(m(x)).all()


def test_cancel_inside_lbfgs_step_restores_consistent_model():
    x, y = _data()
    m = KAN([2, 3, 1], grid=3, seed=0)
    calls = {"n": 0}

    def cancel():
        calls["n"] += 1
        return calls["n"] > 30  # fires in the middle of an LBFGS step

    r = fit(m, x, y, steps=50, cancel=cancel)
    assert r.reason == "cancelled"
    assert torch.isfinite(m(x)).all()


def test_nan_guard_restores_last_good_state():
    x, y = _data()
    m = KAN([2, 3, 1], grid=3, seed=0)
    fit(m, x, y, steps=3, optimizer="adam")
    good = m(x).detach().clone()
    # An absurd learning rate makes Adam produce non-finite parameters.
    r = fit(m, x, y * 1e300, steps=5, optimizer="adam", lr=1e308, update_grid=False)
    assert r.diverged
    assert "restored" in r.reason
    assert torch.isfinite(m(x)).all()
    assert torch.allclose(m(x), good)


def test_regularisation_sparsifies_and_is_reported():
    x, y = _data()
    m = KAN([2, 4, 1], grid=3, seed=0)
    r = fit(m, x, y, steps=20, lamb=0.01)
    assert r.final.reg > 0
    assert r.reason == "completed"


def test_minibatch_adam_and_seed_reproducibility():
    x, y = _data(500)
    outs = []
    for _ in range(2):
        m = KAN([2, 3, 1], grid=3, seed=4)
        fit(m, x, y, steps=10, optimizer="adam", batch_size=64, seed=9)
        outs.append(m(x).detach())
    assert torch.equal(outs[0], outs[1])


def test_bad_data_rejected():
    m = KAN([2, 3, 1], grid=3)
    x, y = _data(10)
    x[0, 0] = float("nan")
    try:
        fit(m, x, y, steps=1)
    except ValueError as exc:
        assert "NaN" in str(exc)
    else:
        raise AssertionError("NaN data must be refused")


def test_the_activation_penalty_measures_whole_edges_so_the_scales_cannot_escape_it():
    """FitConfig.reg_metric "activation" (the KAN reference's default): each
    edge's spread is that of its whole numeric activation, so the penalty's
    gradient reaches scale_base and scale_sp, not only the spline coefficients."""
    from kanstudio.training.loop import regularization
    x, _ = _data(200)
    m = KAN([2, 3, 1], grid=5, seed=0)
    _, inputs, spreads = m.forward_with_spread(x, "activation")
    _, edges = m(x, with_edges=True)
    for spread, ev in zip(spreads, edges):
        assert torch.allclose(spread, ev.edges.std(0), rtol=1e-9)
    regularization(spreads, inputs).backward()
    layer = m.layers[-1]          # (its output is no layer's input: only its own spread counts)
    assert layer.scale_base.grad.abs().sum() > 0 and layer.scale_sp.grad.abs().sum() > 0
    # the "spline" penalty leaves the scales alone
    m.zero_grad()
    _, inputs, spreads = m.forward_with_spread(x, "spline")
    regularization(spreads, inputs).backward()
    assert layer.scale_base.grad is None or layer.scale_base.grad.abs().sum() == 0


def test_a_fit_with_the_activation_penalty_leaves_few_hidden_nodes():
    """y = sin(pi a) + b^2 on [2, 5, 1] with lambda 0.01 (the loop's default):
    the penalty on whole activations leaves at most 2 hidden nodes above the
    pruning threshold; the one on unscaled splines kept all 5 (measured)."""
    import math
    import numpy as np
    from kanstudio.science.attribution import node_scores
    from kanstudio.defaults import LAMB, NODE_TH
    g = torch.Generator().manual_seed(1)
    x = torch.rand(600, 2, generator=g, dtype=torch.float64) * 2 - 1
    y = torch.sin(math.pi * x[:, [0]]) + x[:, [1]] ** 2
    y = (y - y.mean()) / y.std()
    m = KAN([2, 5, 1], grid=5, seed=0)
    fit(m, x, y, config=FitConfig(steps=50, lamb=LAMB))
    assert int(np.sum(node_scores(m, x)[1] > NODE_TH)) <= 2
