import torch

from kanstudio.model import spline


def _naive_basis(x, grid, k):
    """Textbook Cox–de Boor, the reference the fast version must match."""
    xe, g = x.unsqueeze(-1), grid.unsqueeze(0)
    b = ((xe >= g[..., :-1]) & (xe < g[..., 1:])).to(x.dtype)
    for p in range(1, k + 1):
        b = (xe - g[..., :-(p + 1)]) / (g[..., p:-1] - g[..., :-(p + 1)]) * b[..., :-1] + \
            (g[..., p + 1:] - xe) / (g[..., p + 1:] - g[..., 1:-p]) * b[..., 1:]
    return b


def test_basis_is_partition_of_unity_inside_grid():
    for k in (1, 2, 3, 4):
        grid = spline.uniform_grid(3, 7, k, -1.0, 1.0, dtype=torch.float64)
        x = torch.rand(2000, 3, dtype=torch.float64) * 2 - 1
        b = spline.bspline_basis(x, grid, k)
        assert b.shape == (2000, 3, 7 + k)
        assert torch.allclose(b.sum(-1), torch.ones(2000, 3, dtype=torch.float64), atol=1e-12)
        assert (b >= -1e-15).all()


def test_basis_zero_outside_extended_grid():
    grid = spline.uniform_grid(1, 5, 3, dtype=torch.float64)
    x = torch.tensor([[-5.0], [5.0]], dtype=torch.float64)
    assert spline.bspline_basis(x, grid, 3).abs().max() == 0


def test_basis_and_derivative_match_reference_on_adaptive_grids():
    gen = torch.Generator().manual_seed(3)
    for k in (1, 2, 3):
        grid = spline.grid_from_samples(torch.randn(300, 2, generator=gen, dtype=torch.float64), 6, k)
        x = (torch.randn(400, 2, generator=gen, dtype=torch.float64) * 1.5).requires_grad_(True)
        b = spline.bspline_basis(x, grid, k)
        xr = x.detach().clone().requires_grad_(True)
        ref = _naive_basis(xr, grid, k)
        assert torch.allclose(b, ref, atol=1e-13)
        w = torch.randn(b.shape, generator=gen, dtype=torch.float64)
        (b * w).sum().backward()
        (ref * w).sum().backward()
        assert torch.allclose(x.grad, xr.grad, atol=1e-10)


def test_curve_to_coef_reproduces_a_spline_exactly():
    k, num = 3, 8
    grid = spline.uniform_grid(2, num, k, dtype=torch.float64)
    coef = torch.randn(2, 3, num + k, dtype=torch.float64)
    x = torch.rand(500, 2, dtype=torch.float64) * 2 - 1
    y = spline.coef_to_curve(x, grid, coef, k)
    fitted = spline.curve_to_coef(x, y, grid, k)
    assert torch.allclose(spline.coef_to_curve(x, grid, fitted, k), y, atol=1e-6)


def test_grid_from_samples_follows_quantiles_and_is_increasing():
    x = torch.cat([torch.zeros(500, 1), torch.linspace(0, 1, 500)[:, None]], 1).double()
    g = spline.grid_from_samples(x, 5, 3)
    assert g.shape == (2, 5 + 7)
    assert (g[:, 1:] > g[:, :-1]).all()  # a constant column still gets a valid grid
    assert abs(float(g[1, 3]) - 0.0) < 0.05 and abs(float(g[1, -4]) - 1.0) < 0.05


def test_uniform_grid_shortcut_matches_the_general_evaluation():
    """On a uniform grid the basis comes from a floor instead of a table
    search; values and derivatives must equal the general path's, inside,
    near the knots and outside the grid."""
    for k in (1, 2, 3):
        grid = spline.uniform_grid(3, 7, k, -1.0, 1.0, dtype=torch.float64)
        tab = spline.knot_tables(grid, k)
        assert tab.uniform
        knots = grid[0]
        x = torch.cat([torch.rand(500, 3, dtype=torch.float64) * 3 - 1.5,
                       knots[:, None].expand(-1, 3), torch.tensor([[1e30, -1e30, 0.0]], dtype=torch.float64)])
        fast = spline.window_t(x.T, tab, True)
        tab.uniform = False                     # force the general path on the same tables
        slow = spline.window_t(x.T, tab, True)
        dense = [spline.dense_t(w, tab) for w in (fast, slow)]
        assert torch.allclose(dense[0], dense[1], atol=1e-12)
        grad = torch.randn(dense[0].shape, dtype=torch.float64)
        assert torch.allclose(spline.spline_grad_t(grad, fast), spline.spline_grad_t(grad, slow), atol=1e-10)
    adaptive = spline.grid_from_samples(torch.randn(200, 2, dtype=torch.float64), 5, 3)
    assert not spline.knot_tables(adaptive, 3).uniform
