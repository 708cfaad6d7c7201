"""FlatAdam (training/adam.py) against torch.optim.Adam, and inside fits."""
import numpy as np
import pytest
import torch

from kanstudio.training import loop as train
from kanstudio.training.adam import FlatAdam
from kanstudio.model.network import KAN


def test_flat_adam_follows_torch_adam_step_for_step():
    gen = torch.Generator().manual_seed(0)
    shapes = [(3, 4, 5), (3, 4), (7,)]
    ours = [torch.randn(s, generator=gen, dtype=torch.float64) for s in shapes]
    theirs = [p.clone().requires_grad_(True) for p in ours]
    ours = [p.clone().requires_grad_(True) for p in ours]
    flat, ref = FlatAdam(ours, lr=0.01), torch.optim.Adam(theirs, lr=0.01)
    for step in range(30):
        grads = [torch.randn(s, generator=gen, dtype=torch.float64) * 10 ** (step % 3 - 1) for s in shapes]
        for p, g in zip(theirs, grads):
            p.grad = g.clone()
        ref.step()
        assert flat.step(torch.cat([g.reshape(-1) for g in grads]).numpy())
    for p, q in zip(ours, theirs):
        assert torch.allclose(p.detach(), q.detach(), rtol=1e-12, atol=1e-14)
    flat.release()
    before = ours[0].detach().clone()
    flat.x[:] = 0.0                     # released: the parameters no longer see x
    assert torch.equal(ours[0].detach(), before)


def test_flat_adam_reports_a_non_finite_step():
    p = torch.zeros(4, dtype=torch.float64, requires_grad=True)
    opt = FlatAdam([p], lr=1.0)
    assert opt.step(np.ones(4))
    assert not opt.step(np.array([1.0, np.nan, 1.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        opt.step(np.ones(3))


def test_an_adam_fit_with_the_kernels_matches_the_autograd_fit():
    gen = torch.Generator().manual_seed(3)
    x = torch.rand(400, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.sin(x[:, :1] * 2) + x[:, 1:] ** 2
    fits = {}
    for engine in ("auto", "torch"):
        m = KAN([2, 8, 1], grid=5, seed=0)
        r = train.fit(m, x, y, steps=40, optimizer="adam", lr=0.01, update_grid=True, grid_update_num=3,
                      stop_grid_update_step=30, engine=engine)
        fits[engine] = (m, r)
    (m1, r1), (m2, r2) = fits["auto"], fits["torch"]
    assert r1.final.train_rmse == pytest.approx(r2.final.train_rmse, rel=1e-6)
    for a, b in zip(m1.parameters(), m2.parameters()):
        assert torch.allclose(a, b, rtol=1e-6, atol=1e-9)
    assert r1.final.train_rmse < 0.6 * r1.history[0].train_rmse          # it learnt


def test_the_nan_guard_of_a_flat_adam_fit_restores_the_state_after_the_last_good_step(monkeypatch):
    """With the kernels, Adam's guard keeps flat copies of the parameters
    (and a full state only when the grid moves): a NaN loss at the 9th
    evaluation condemns the 8th step's point and restores the model exactly
    as 7 steps left it, grid update at step 5 included."""
    from kanstudio.training import fused
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(300, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.exp(x[:, :1]) * x[:, 1:]
    kw = dict(optimizer="adam", lr=0.02, update_grid=True, grid_update_num=10, stop_grid_update_step=50)
    ref = KAN([2, 4, 1], grid=5, seed=0)
    train.fit(ref, x, y, steps=7, **kw)
    m = KAN([2, 4, 1], grid=5, seed=0)
    calls = []
    real = fused.FusedObjective.evaluate

    def failing(self):
        calls.append(1)
        loss, grad = real(self)
        return (float("nan"), grad) if len(calls) == 9 else (loss, grad)
    monkeypatch.setattr(fused.FusedObjective, "evaluate", failing)
    r = train.fit(m, x, y, steps=20, **kw)
    assert r.diverged and len(calls) == 9
    for (name, a), b in zip(m.state_dict().items(), ref.state_dict().values()):
        assert torch.equal(a, b), name
    assert torch.equal(m(x), ref(x))


def test_an_overflowing_step_warns_nothing(recwarn):
    p = torch.zeros(3, dtype=torch.float32, requires_grad=True)
    opt = FlatAdam([p], lr=1e38)
    assert not opt.step(np.array([3e38, 1.0, np.inf], dtype=np.float32))
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_the_compiled_adam_update_rounds_as_the_numpy_one(dtype, monkeypatch):
    """adam_kernels.update is the numpy update in one pass: the same
    parameters bit for bit, in float32 as in float64, and the same verdict
    on a step that meets NaN."""
    from kanstudio.kernels import adam as adam_kernels
    if not adam_kernels.available():
        pytest.skip("numba missing")
    gen = torch.Generator().manual_seed(1)
    start = torch.randn(500, generator=gen, dtype=dtype)
    grads = [torch.randn(500, generator=gen, dtype=dtype).numpy() * 10.0 ** (k % 5 - 2) for k in range(20)]
    runs = {}
    for compiled in (True, False):
        monkeypatch.setattr(adam_kernels, "available", lambda: compiled)
        p = start.clone().requires_grad_(True)
        opt = FlatAdam([p], lr=0.01)
        assert all(opt.step(g) for g in grads)
        bad = grads[0].copy()
        bad[7] = np.nan
        runs[compiled] = (p.detach().clone(), opt.step(grads[0] * 0), FlatAdam([p.detach().clone()]).step(bad))
        opt.release()
    (p1, ok1, big1), (p2, ok2, big2) = runs[True], runs[False]
    assert torch.equal(p1, p2)
    assert ok1 and ok2 and not big1 and not big2
