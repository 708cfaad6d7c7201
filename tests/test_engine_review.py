"""Review of the fast training path: edge cases where it must still agree
with the plain maths (Cox-de Boor, the per-edge path, torch's L-BFGS)."""
import pytest
import torch

from kanstudio.model import spline


def test_uniform_shortcut_keeps_float32_accuracy_on_fine_grids():
    """A refined float32 grid (uniform up to round-off) takes the floor
    shortcut; its interval length must not come from one rounded knot gap,
    or the position error grows with the interval index."""
    gen = torch.Generator().manual_seed(0)
    for num in (100, 1000):
        grid = spline.interpolate_grid(spline.uniform_grid(2, 5, 3, dtype=torch.float32), 3, num)
        tab = spline.knot_tables(grid, 3)
        assert tab.uniform
        x = torch.rand(1000, 2, generator=gen) * 2.2 - 1.1
        fast = spline.dense_t(spline.window_t(x.T, tab, False), tab).permute(2, 0, 1)
        ref = spline._cox_de_boor(x.double(), grid.double(), 3)
        # what is left is the rounding of x itself, measured in intervals
        assert (fast.double() - ref).abs().max() < 2 * torch.finfo(torch.float32).eps * num


def _quadratic_problem():
    target = torch.linspace(-1, 1, 6, dtype=torch.float64)
    p = torch.nn.Parameter(torch.zeros(6, dtype=torch.float64))

    def closure():
        p.grad = None
        loss = ((p - target) ** 2).sum() + (p ** 4).sum()
        loss.backward()
        return loss
    return p, closure


def test_flat_lbfgs_keeps_moving_the_parameters_after_release():
    """release() gives the parameters their own storage; a later step must
    alias them again instead of moving a flat copy nobody reads."""
    from kanstudio.training.lbfgs import FlatLBFGS
    p, closure = _quadratic_problem()
    opt = FlatLBFGS([p], max_iter=2)
    opt.step(closure)
    opt.release()
    before = p.detach().clone()
    loss_before = float(closure().detach())
    opt.step(closure)
    assert not torch.equal(p.detach(), before)
    assert float(closure().detach()) < loss_before


def test_cached_basis_is_not_reused_for_new_knot_tables(monkeypatch):
    """The layer-0 basis cache must follow the knot tables it was built from.
    CPython reuses the id() of freed objects; make every id collide to see it."""
    from kanstudio.model import layer as layer_mod
    from kanstudio.model.network import KAN
    monkeypatch.setattr(layer_mod, "id", lambda obj: 0, raising=False)
    m = KAN([2, 1], grid=5, seed=0)
    x = torch.rand(40, 2, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        m(x)
        m.layers[0].grid.mul_(1.3)            # in place: new knot tables, same x
        fast = m(x)
        ref = m(x.clone())                    # a new tensor: no cache
    assert torch.allclose(fast, ref, atol=1e-12)


def _overflow_beyond(m, monkeypatch, limit=50.0):
    """Make the loss NaN once any parameter exceeds ``limit`` (stands for a
    float overflow far from the start), on both engines: the autograd
    forward and the fused loss-and-gradient."""
    from kanstudio.training import fused
    plain = m.forward

    def too_big():
        return max(float(p.detach().abs().max()) for p in m.parameters()) > limit

    def overflowing(x, **kw):
        y = plain(x, **kw)
        return y * float("nan") if too_big() else y

    m.forward = overflowing
    plain_eval, plain_rmse = fused.FusedObjective.evaluate, fused.FusedObjective.rmse

    def evaluate(self):
        loss, grad = plain_eval(self)
        return (float("nan"), grad * float("nan")) if too_big() else (loss, grad)

    def rmse(self, x, y):
        return float("nan") if too_big() else plain_rmse(self, x, y)

    monkeypatch.setattr(fused.FusedObjective, "evaluate", evaluate)
    monkeypatch.setattr(fused.FusedObjective, "rmse", rmse)


@pytest.mark.parametrize("engine", ["auto", "torch"])
def test_nan_guard_catches_a_line_search_that_ends_on_nan(engine, monkeypatch):
    """A strong-Wolfe line search that meets a NaN loss ends there with finite
    parameters.  The step's returned loss is the start one, so the guard must
    look at where the step ended, or it saves that point as the good state."""
    from kanstudio.model.network import KAN
    from kanstudio.training.loop import fit
    m = KAN([1, 1], grid=3, seed=0)
    _overflow_beyond(m, monkeypatch)
    x = torch.linspace(-1, 1, 30, dtype=torch.float64)[:, None]
    res = fit(m, x, 3 * x, steps=3, lr=1e4, update_grid=False, engine=engine)
    assert res.diverged
    assert torch.isfinite(m(x)).all()
    assert all(float(p.detach().abs().max()) <= 50 for p in m.parameters())


@pytest.mark.parametrize("engine", ["auto", "torch"])
def test_nan_guard_checks_where_the_last_adam_step_landed(engine, monkeypatch):
    """Adam never evaluates the point its last step lands on: the final
    model must still be a finite one."""
    from kanstudio.model.network import KAN
    from kanstudio.training.loop import fit
    m = KAN([1, 1], grid=3, seed=0)
    _overflow_beyond(m, monkeypatch)
    x = torch.linspace(-1, 1, 30, dtype=torch.float64)[:, None]
    for steps in (1, 3):
        res = fit(m, x, 3 * x, steps=steps, optimizer="adam", lr=100.0, update_grid=False, engine=engine)
        assert res.diverged and torch.isfinite(m(x)).all() and __import__("math").isfinite(res.final.train_rmse)


def test_float32_spread_of_a_nearly_constant_edge():
    """spread = sqrt(c^T Cov c): with float32 sums, an edge sitting on a
    constant (what the L1 penalty leaves behind) reads round-off of c_mean^2
    instead of its small variation.  Must match the std of its values."""
    from kanstudio.model.network import KAN
    gen = torch.Generator().manual_seed(0)
    m = KAN([2, 3], grid=10, dtype="float32", seed=0)
    layer = m.layers[0]
    x = torch.rand(1000, 2, generator=gen) * 2 - 1
    with torch.no_grad():
        layer.coef.copy_(10 + 1e-3 * torch.randn(layer.coef.shape, generator=gen))
    _, spread = layer.forward_with_spread(x)
    values = spline.coef_to_curve(x.double(), layer.grid.double(), layer.coef.detach().double(), layer.k)
    ref = values.std(0)
    assert ((spread.double() - ref).abs() / ref).max() < 1e-3


def test_infinite_inputs_have_a_zero_basis_on_every_grid():
    """Outside the knots every basis function is 0, also at +-inf (the
    uniform shortcut already does so; the table path made 0 * inf = NaN)."""
    gen = torch.Generator().manual_seed(1)
    adaptive = spline.grid_from_samples(torch.randn(100, 2, generator=gen, dtype=torch.float64), 5, 3)
    for grid in (adaptive, spline.uniform_grid(2, 5, 3, dtype=torch.float64)):
        tab = spline.knot_tables(grid, 3)
        x = torch.tensor([[float("inf"), -float("inf")], [-float("inf"), float("inf")]], dtype=torch.float64)
        win = spline.window_t(x.T, tab, True)
        assert spline.dense_t(win, tab).eq(0).all()
        assert spline.spline_grad_t(torch.ones(2, tab.n_basis, 2, dtype=torch.float64), win).eq(0).all()


def test_regularised_fit_on_a_single_row_does_not_diverge():
    """With one row the spread path already counts a zero spread; the input
    std must not turn the regulariser into NaN (0/0 degrees of freedom)."""
    from kanstudio.model.network import KAN
    from kanstudio.training.loop import fit
    x = torch.tensor([[0.3, -0.2]], dtype=torch.float64)
    m = KAN([2, 2, 1], grid=3, seed=0)
    res = fit(m, x, x.sum(1, keepdim=True), steps=3, lamb=0.01)
    assert res.reason == "completed"


def test_lbfgs_step_returns_a_float64_loss_beyond_float32_range():
    """float64 targets of 1e20 give an MSE of ~1e40: finite in the model's
    dtype, inf once squeezed into a float32 tensor (read as divergence)."""
    from kanstudio.model.network import KAN
    from kanstudio.training.loop import fit
    x = torch.linspace(-1, 1, 20, dtype=torch.float64)[:, None]
    m = KAN([1, 1], grid=3, seed=0)
    res = fit(m, x, 1e20 * (x + 2), steps=2, update_grid=False)
    assert not res.diverged, res.reason
