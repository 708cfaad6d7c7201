"""FlatLBFGS with numpy bookkeeping: the evaluate= hook, zero-copy parameter
views of ``opt.x``, argument checks, float32, and the device (copying) path."""
import numpy as np
import pytest
import torch

from kanstudio.training import lbfgs
from kanstudio.kernels import lbfgs as lbfgs_kernels
from kanstudio.training.lbfgs import FlatLBFGS

N = 12


def _rosen_torch(p):
    """Rosenbrock chain plus a quadratic, on the flat vector p."""
    return 10 * ((p[1:] - p[:-1] ** 2) ** 2).sum() + ((1 - p[:-1]) ** 2).sum() + 0.1 * (p ** 2).sum()


def _rosen_numpy(x):
    a = x[1:] - x[:-1] ** 2
    b = 1 - x[:-1]
    f = 10 * (a @ a) + b @ b + 0.1 * (x @ x)
    g = 0.2 * x
    g[1:] += 20 * a
    g[:-1] += -40 * a * x[:-1] - 2 * b
    return float(f), g


def _start(dtype=torch.float64):
    return torch.linspace(-1.2, 1.1, N, dtype=dtype)


def _split(flat):
    """The flat vector as three parameters of different shapes (order: a, b, c)."""
    a, b, c = flat[:6].reshape(2, 3), flat[6:8], flat[8:].reshape(2, 2)
    return [torch.nn.Parameter(t.clone()) for t in (a, b, c)]


def _cat(ps):
    return torch.cat([p.detach().reshape(-1) for p in ps])


def _closure_for(opt, ps):
    def closure():
        opt.zero_grad()
        loss = _rosen_torch(torch.cat([p.reshape(-1) for p in ps]))
        loss.backward()
        return loss
    return closure


def test_evaluate_follows_the_closure_iterate_for_iterate():
    kw = dict(max_iter=5, history_size=4, tolerance_grad=1e-32, tolerance_change=1e-32)
    ps_a = _split(_start())
    opt_a = FlatLBFGS(ps_a, **kw)
    closure = _closure_for(opt_a, ps_a)
    ps_b = _split(_start())
    opt_b = FlatLBFGS(ps_b, **kw)
    calls = []

    def evaluate():
        calls.append(1)
        return _rosen_numpy(opt_b.x)

    for _ in range(8):    # 40 iterations: the ring buffer wraps several times
        la = opt_a.step(closure)
        lb = opt_b.step(evaluate=evaluate)
        assert float(la) == pytest.approx(float(lb), rel=1e-12, abs=1e-300)
        assert opt_a.last_loss == pytest.approx(opt_b.last_loss, rel=1e-12, abs=1e-300)
        assert opt_a.func_evals == opt_b.func_evals == len(calls)
        assert opt_a.n_iter == opt_b.n_iter
        np.testing.assert_allclose(opt_a.x, opt_b.x, rtol=1e-10, atol=1e-12)
        # the parameters of both are where x is
        np.testing.assert_array_equal(_cat(ps_b).numpy(), opt_b.x)
    assert la.dtype == torch.float64
    # and it made progress towards the minimum
    assert opt_b.last_loss < 0.05 * _rosen_numpy(_start().numpy())[0]


def test_cpu_params_are_views_of_x_during_training_and_own_storage_after_release():
    ps = _split(_start())
    opt = FlatLBFGS(ps, max_iter=3)
    seen = []

    def evaluate():
        # during the step the model sees x itself, also at line-search trial points
        seen.append(np.array_equal(_cat(ps).numpy(), opt.x))
        return _rosen_numpy(opt.x)

    opt.step(evaluate=evaluate)
    assert seen and all(seen)
    x_ptr = opt.x.ctypes.data
    itemsize = opt.x.itemsize
    off = 0
    for p in ps:
        assert p.data_ptr() == x_ptr + off * itemsize
        off += p.numel()
    opt.x[0] = 42.0                    # zero copy: the model sees it at once
    assert float(ps[0].detach().reshape(-1)[0]) == 42.0
    opt.step(_closure_for(opt, ps))    # the closure path moves them too
    assert np.array_equal(_cat(ps).numpy(), opt.x)
    opt.release()
    for p in ps:
        assert not np.shares_memory(p.detach().numpy(), opt.x)
    before = _cat(ps).clone()
    opt.x[:] = 0.0
    assert torch.equal(_cat(ps), before)
    # a later step binds them again (and picks up their values)
    opt.step(evaluate=lambda: _rosen_numpy(opt.x))
    assert np.array_equal(_cat(ps).numpy(), opt.x)
    assert not torch.equal(_cat(ps), before)


def test_replaced_parameter_data_is_picked_up_and_shape_changes_raise():
    ps = _split(_start())
    opt = FlatLBFGS(ps, max_iter=2)
    opt.step(evaluate=lambda: _rosen_numpy(opt.x))
    ps[1].data = torch.tensor([0.25, -0.5], dtype=torch.float64)     # e.g. a grid update
    seen = []

    def evaluate():
        seen.append(opt.x[6:8].copy())
        return _rosen_numpy(opt.x)

    opt.step(evaluate=evaluate)
    np.testing.assert_array_equal(seen[0], [0.25, -0.5])
    assert np.shares_memory(ps[1].detach().numpy(), opt.x)
    ps[2].data = torch.zeros(3, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="shapes changed"):
        opt.step(evaluate=lambda: _rosen_numpy(opt.x))


def test_step_needs_exactly_one_of_closure_and_evaluate():
    ps = _split(_start())
    opt = FlatLBFGS(ps)
    closure = _closure_for(opt, ps)
    with pytest.raises(ValueError):
        opt.step()
    with pytest.raises(ValueError):
        opt.step(closure, evaluate=lambda: _rosen_numpy(opt.x))
    with pytest.raises(TypeError):      # evaluate is keyword-only
        opt.step(None, lambda: _rosen_numpy(opt.x))
    assert opt.func_evals == 0
    with pytest.raises(ValueError, match="shape"):
        opt.step(evaluate=lambda: (1.0, np.zeros(N - 1)))


def test_float32_parameters():
    ps = _split(_start(torch.float32))
    opt = FlatLBFGS(ps, max_iter=10)
    assert opt.x.dtype == np.float32
    assert opt.S.dtype == opt.Y.dtype == np.float32
    closure = _closure_for(opt, ps)
    first = float(opt.step(closure))
    for _ in range(4):
        loss = opt.step(closure)
    assert loss.dtype == torch.float64
    assert all(p.dtype == torch.float32 for p in ps)
    assert np.array_equal(_cat(ps).numpy(), opt.x) and opt.x.dtype == np.float32
    assert opt.last_loss < 0.05 * first
    # the evaluate path keeps float32 too (a float64 gradient is cast)
    ps2 = _split(_start(torch.float32))
    opt2 = FlatLBFGS(ps2, max_iter=10)
    opt2.step(evaluate=lambda: _rosen_numpy(opt2.x.astype(np.float64)))
    assert opt2.x.dtype == np.float32 and opt2.prev_g.dtype == np.float32
    assert np.isfinite(opt2.last_loss) and opt2.last_loss < first


def test_none_grad_counts_as_zeros_and_frozen_part_does_not_move():
    used = torch.nn.Parameter(torch.tensor([2.0, -1.0], dtype=torch.float64))
    unused = torch.nn.Parameter(torch.tensor([5.0], dtype=torch.float64))
    opt = FlatLBFGS([used, unused], max_iter=10)

    def closure():
        opt.zero_grad()
        loss = ((used - 0.5) ** 2).sum()
        loss.backward()          # unused.grad stays None
        return loss

    opt.step(closure)
    assert float(unused.detach()) == 5.0
    assert torch.allclose(used.detach(), torch.tensor([0.5, 0.5], dtype=torch.float64))


class _CopyingLBFGS(FlatLBFGS):
    """The path non-CPU parameters take (a separate flat store synced around
    every evaluation), forced on CPU."""

    @staticmethod
    def _zero_copy(device):
        return False


def test_copying_path_matches_the_zero_copy_path():
    kw = dict(max_iter=6, history_size=3, tolerance_grad=1e-32, tolerance_change=1e-32)
    ps_a, ps_b = _split(_start()), _split(_start())
    opt_a, opt_b = FlatLBFGS(ps_a, **kw), _CopyingLBFGS(ps_b, **kw)
    assert not np.shares_memory(ps_b[0].detach().numpy(), opt_b.x)
    ca, cb = _closure_for(opt_a, ps_a), _closure_for(opt_b, ps_b)
    for i in range(4):
        if i == 2:               # in-place edits of the parameters are seen by both
            with torch.no_grad():
                ps_a[1].mul_(0.5)
                ps_b[1].mul_(0.5)
        assert float(opt_a.step(ca)) == float(opt_b.step(cb))
        np.testing.assert_array_equal(opt_a.x, opt_b.x)
        assert torch.equal(_cat(ps_b), torch.from_numpy(opt_b.x))   # synced after the step
    # the evaluate path reads the parameters from the store
    opt_b.step(evaluate=lambda: _rosen_numpy(_cat(ps_b).numpy()))
    assert torch.equal(_cat(ps_b), torch.from_numpy(opt_b.x))
    opt_b.release()
    assert torch.equal(_cat(ps_b), torch.from_numpy(opt_b.x))


@pytest.mark.skipif(not lbfgs_kernels.available(), reason="compiled kernels unavailable")
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_compiled_bookkeeping_matches_the_numpy_one(monkeypatch, dtype):
    """The compiled direction / pair update (kernels/lbfgs.py) and the numpy
    reference take the same iterates, through several wraps of the history."""
    xs = {}
    for compiled in (True, False):
        if not compiled:
            monkeypatch.setattr(lbfgs, "_compiled", lambda: None)
        ps = _split(_start(dtype))
        opt = FlatLBFGS(ps, max_iter=5, history_size=3, tolerance_grad=1e-32, tolerance_change=1e-32)
        for _ in range(6):
            opt.step(evaluate=lambda: _rosen_numpy(opt.x))
        xs[compiled] = (opt.x.copy(), opt.n_iter)
    assert xs[True][1] == xs[False][1] > 20
    tol = 1e-9 if dtype == torch.float64 else 2e-4
    np.testing.assert_allclose(xs[True][0], xs[False][0], rtol=tol, atol=tol)
