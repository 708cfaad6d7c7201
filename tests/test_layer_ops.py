"""The hand-written backward passes of the training hot path must agree with
autograd over the plain maths (the per-edge path), for values and gradients,
with masks, mult nodes and symbolic edges present."""
import torch

from kanstudio.training.lbfgs import FlatLBFGS
from kanstudio.model.network import KAN
from kanstudio.training.loop import regularization


def _model_and_data():
    gen = torch.Generator().manual_seed(0)
    m = KAN([3, [4, 2], 2], grid=6, seed=1)
    x = torch.rand(300, 3, generator=gen, dtype=torch.float64) * 2.4 - 1.2
    m.update_grid_from_samples(x)
    m.set_edge_mask(0, 1, 2, 0.0)
    m.fix_symbolic(1, 0, 1, "sin", (1.2, 0.1, 0.7, 0.05))
    y = torch.rand(300, 2, generator=gen, dtype=torch.float64)
    return m, x, y


def _grads(model, loss_fn):
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.grad = None
    loss = loss_fn()
    loss.backward()
    return float(loss.detach()), [p.grad for p in params]


def _reference_objective(m, x, y, lamb):
    pred, edges = m(x, with_edges=True)
    inputs = [x]
    for l, ev in enumerate(edges[:-1]):
        inputs.append(m._after_layer(l, ev.edges.sum(1)))
    spreads = [ev.spline.std(0) for ev in edges]
    return ((pred - y) ** 2).mean() + lamb * regularization(spreads, inputs)


def _assert_same(a, b):
    la, ga = a
    lb, gb = b
    assert abs(la - lb) < 1e-12
    for u, v in zip(ga, gb):
        assert (u is None) == (v is None)
        if u is not None:
            assert torch.allclose(u, v, atol=1e-12, rtol=1e-9)


def test_fast_forward_and_backward_match_autograd():
    m, x, y = _model_and_data()
    fast = _grads(m, lambda: ((m(x) - y) ** 2).mean())
    ref = _grads(m, lambda: _reference_objective(m, x, y, 0.0))
    _assert_same(fast, ref)


def test_regulariser_path_matches_autograd():
    m, x, y = _model_and_data()

    def fast_objective():
        pred, inputs, spreads = m.forward_with_spread(x)
        return ((pred - y) ** 2).mean() + 0.01 * regularization(spreads, inputs)

    _assert_same(_grads(m, fast_objective), _grads(m, lambda: _reference_objective(m, x, y, 0.01)))


def test_flat_lbfgs_follows_torch_lbfgs():
    """Same algorithm as torch.optim.LBFGS(strong_wolfe): same iterates on a smooth problem."""
    gen = torch.Generator().manual_seed(0)
    n = 40
    a = torch.randn(n, n, generator=gen, dtype=torch.float64)
    a = a @ a.T / n + torch.eye(n, dtype=torch.float64)
    start = torch.randn(n, generator=gen, dtype=torch.float64) * 2

    def run(make):
        p = torch.nn.Parameter(start.clone())
        opt = make([p])
        losses = []

        def closure():
            opt.zero_grad()
            loss = 0.5 * p @ a @ p + torch.cos(p).sum() + 0.1 * ((p[1:] - p[:-1] ** 2) ** 2).sum()
            loss.backward()
            return loss

        for _ in range(2):
            opt.step(closure)
            losses.append(float(closure().detach()))
        return losses, p.detach().clone()

    ours, p_ours = run(lambda ps: FlatLBFGS(ps, max_iter=20, history_size=10, tolerance_grad=1e-32,
                                            tolerance_change=1e-32))
    ref, p_ref = run(lambda ps: torch.optim.LBFGS(ps, max_iter=20, history_size=10, line_search_fn="strong_wolfe",
                                                  tolerance_grad=1e-32, tolerance_change=1e-32))
    assert ours == [__import__("pytest").approx(v, rel=1e-9) for v in ref]
    assert torch.allclose(p_ours, p_ref, atol=1e-6)
