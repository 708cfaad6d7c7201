"""B-spline machinery shared by every KAN layer.

Conventions: each input node i of a layer owns one knot vector ``grid[i]`` of
length G + 2k + 1 (G intervals inside the data range plus k extension knots on
each side).  That gives G + k basis functions per input.  Everything here is
batched over inputs; nothing loops over edges in Python.
"""
from __future__ import annotations

import torch

__all__ = [
    "extend_grid",
    "uniform_grid",
    "bspline_basis",
    "coef_to_curve",
    "curve_to_coef",
    "grid_from_samples",
    "interpolate_grid",
]


def extend_grid(interior: torch.Tensor, k: int) -> torch.Tensor:
    """Add k knots on each side at the mean interior spacing.

    interior: [in, G+1] sorted knots -> [in, G+2k+1].
    """
    if k == 0:
        return interior
    spacing = (interior[:, -1:] - interior[:, :1]) / (interior.shape[1] - 1)
    steps = torch.arange(1, k + 1, dtype=interior.dtype, device=interior.device)
    left = interior[:, :1] - spacing * steps.flip(0)
    right = interior[:, -1:] + spacing * steps
    return torch.cat([left, interior, right], dim=1)


def uniform_grid(n_in: int, num: int, k: int, lo: float = -1.0, hi: float = 1.0,
                 dtype=None, device=None) -> torch.Tensor:
    """Extended uniform knots over [lo, hi] for every input: [n_in, num+2k+1]."""
    interior = torch.linspace(lo, hi, num + 1, dtype=dtype, device=device)
    return extend_grid(interior.expand(n_in, -1).contiguous(), k)


def bspline_basis(x: torch.Tensor, grid: torch.Tensor, k: int, tables=None) -> torch.Tensor:
    """Cox–de Boor recursion for every sample and input at once.

    x: [B, in], grid: [in, G+2k+1]  ->  [B, in, G+k].  Outside the extended
    knots every basis function is exactly zero.  Differentiable in x through
    the analytic B-spline derivative (one autograd node instead of ~25).
    ``tables`` = knot_tables(grid, k), precomputed by callers that reuse a grid.
    """
    if tables is None:
        tables = knot_tables(grid, k)
    if x.requires_grad:
        return _Basis.apply(x, grid, k, tables)
    return _basis(x, grid, k, tables, False)[0]


def knot_tables(grid: torch.Tensor, k: int):
    """Grid-only work of the recursion, done once per grid instead of once per
    forward pass: for each order p, the left knots t_m and 1/(t_{m+p} - t_m)."""
    g = grid.unsqueeze(0)
    out = []
    for p in range(1, k + 1):
        tl = g[..., :-p]
        out.append((tl.contiguous(), _reciprocal(g[..., p:] - tl)))
    return grid, out


def _reciprocal(d: torch.Tensor) -> torch.Tensor:
    # Coincident knots (zero span) contribute nothing instead of 0/0.
    return torch.where(d > 0, 1.0 / torch.where(d > 0, d, torch.ones_like(d)), torch.zeros_like(d))


def _basis(x, grid, k, tables, need_deriv):
    """Cox–de Boor in the omega form B_{m,p} = w_m B_{m,p-1} + (1 - w_{m+1}) B_{m+1,p-1},
    w_m = (x - t_m)/(t_{m+p} - t_m): five fused ops per order instead of seven.
    When asked, also the analytic derivative from the order k-1 basis."""
    g = tables[0].unsqueeze(0)
    xe = x.unsqueeze(-1)
    b = ((xe >= g[..., :-1]) & (xe < g[..., 1:])).to(x.dtype)
    prev = b
    for tl, inv in tables[1]:
        prev = b
        w = (xe - tl) * inv
        hi = b[..., 1:]
        b = torch.addcmul(hi - w[..., 1:] * hi, w[..., :-1], b[..., :-1])
    if not need_deriv:
        return b, None
    inv = tables[1][-1][1]
    # d/dx B_{m,k} = k * (B_{m,k-1} / (t_{m+k} - t_m) - B_{m+1,k-1} / (t_{m+k+1} - t_{m+1}))
    scaled = prev * inv
    return b, k * (scaled[..., :-1] - scaled[..., 1:])


class _Basis(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, grid, k, tables):
        b, db = _basis(x.detach(), grid, k, tables, True)
        ctx.save_for_backward(db)
        return b

    @staticmethod
    def backward(ctx, grad):
        (db,) = ctx.saved_tensors
        return (grad * db).sum(-1), None, None, None


def coef_to_curve(x: torch.Tensor, grid: torch.Tensor, coef: torch.Tensor, k: int) -> torch.Tensor:
    """Spline values of every edge: x [B, in], coef [in, out, G+k] -> [B, in, out]."""
    return torch.einsum("bim,iom->bio", bspline_basis(x, grid, k), coef)


def curve_to_coef(x: torch.Tensor, y: torch.Tensor, grid: torch.Tensor, k: int,
                  ridge: float = 1e-10) -> torch.Tensor:
    """Least-squares coefficients so that the spline through ``grid`` matches y.

    x: [B, in], y: [B, in, out] -> coef [in, out, G+k].  Solved through the
    normal equations with a tiny relative ridge: it works on every device (CUDA
    lstsq only has the full-rank 'gels' driver) and keeps basis functions with
    no samples under them at zero instead of blowing up.
    """
    basis = bspline_basis(x, grid, k).permute(1, 0, 2)          # [in, B, nb]
    gram = basis.transpose(1, 2) @ basis                          # [in, nb, nb]
    rhs = basis.transpose(1, 2) @ y.permute(1, 0, 2)              # [in, nb, out]
    scale = gram.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-12)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    gram = gram + (ridge * scale)[:, None, None] * eye
    coef = torch.linalg.solve(gram, rhs)                          # [in, nb, out]
    return coef.permute(0, 2, 1).contiguous()


def grid_from_samples(x: torch.Tensor, num: int, k: int, eps: float = 0.02) -> torch.Tensor:
    """Knots that follow the data: quantile knots mixed with a uniform grid.

    x: [B, in] -> extended grid [in, num+2k+1].  ``eps`` = weight of the
    uniform grid (0 = purely adaptive).
    """
    xs = torch.sort(x, dim=0).values                               # [B, in]
    n = xs.shape[0]
    idx = torch.linspace(0, n - 1, num + 1, device=x.device).round().long()
    adaptive = xs[idx].T                                           # [in, num+1]
    lo, hi = xs[0], xs[-1]
    frac = torch.linspace(0, 1, num + 1, dtype=x.dtype, device=x.device)
    uniform = lo[:, None] + (hi - lo)[:, None] * frac[None, :]
    interior = eps * uniform + (1 - eps) * adaptive
    # A constant (or nearly constant) column would give coincident knots and
    # 0/0 in the recursion: widen it to a small symmetric interval.
    width = interior[:, -1] - interior[:, 0]
    tiny = width < 1e-8 * (1 + hi.abs())
    if tiny.any():
        centre = ((lo + hi) / 2)[tiny]
        half = 1e-3 * (1 + centre.abs())
        interior[tiny] = centre[:, None] - half[:, None] + 2 * half[:, None] * frac[None, :]
    # Quantiles of data with repeated values can coincide; enforce a minimal
    # spacing so every interval has positive length.
    interior = _enforce_increasing(interior)
    return extend_grid(interior, k)


def interpolate_grid(grid: torch.Tensor, k: int, new_num: int) -> torch.Tensor:
    """Refined knots: interpolate the old interior knots at new_num+1 equally
    spaced fractional positions (an adaptive grid stays adaptive)."""
    interior = grid[:, k:grid.shape[1] - k] if k > 0 else grid
    old_num = interior.shape[1] - 1
    pos = torch.linspace(0, old_num, new_num + 1, dtype=grid.dtype, device=grid.device)
    lo_idx = pos.floor().long().clamp(max=old_num - 1)
    frac = pos - lo_idx.to(grid.dtype)
    new_interior = interior[:, lo_idx] * (1 - frac) + interior[:, lo_idx + 1] * frac
    return extend_grid(new_interior, k)


def _enforce_increasing(interior: torch.Tensor) -> torch.Tensor:
    """Make knots strictly increasing by a minimal gap (cummax trick, no loop)."""
    span = (interior[:, -1] - interior[:, 0]).clamp_min(1e-12)
    gap = (span / interior.shape[1] * 1e-3)[:, None]
    ramp = torch.arange(interior.shape[1], dtype=interior.dtype, device=interior.device)[None, :]
    return torch.cummax(interior - gap * ramp, dim=1).values + gap * ramp
