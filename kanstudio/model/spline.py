"""B-spline machinery shared by every KAN layer.

Conventions: each input node i of a layer owns one knot vector ``grid[i]`` of
length G + 2k + 1 (G intervals inside the data range plus k extension knots on
each side).  That gives G + k basis functions per input.  Everything here is
batched over inputs; nothing loops over edges in Python.
"""
from __future__ import annotations

import warnings

import numpy as np
import torch

from .. import kernels

__all__ = [
    "extend_grid",
    "uniform_grid",
    "bspline_basis",
    "basis_t",
    "knot_tables",
    "window_t",
    "dense_t",
    "spline_grad_t",
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
    """B-spline basis of every sample and input at once.

    x: [B, in], grid: [in, G+2k+1]  ->  [B, in, G+k].  Outside the extended
    knots every basis function is exactly zero.  Differentiable in x through
    the analytic derivative (one autograd node).  ``tables`` =
    knot_tables(grid, k), precomputed by callers that reuse a grid.
    """
    if tables is None:
        tables = knot_tables(grid, k)
    fast = _compiled_basis(x, tables)
    if fast is not None:
        return fast
    return basis_t(x.T, tables).permute(2, 0, 1)


def _compiled_basis(x: torch.Tensor, tab: "KnotTables"):
    """bspline_basis from the compiled kernel (CPU, cubic, no gradient), or
    None where it does not apply.  ~30x faster on the sizes grid updates and
    curve fits use."""
    if x.requires_grad or x.device.type != "cpu" or tab.k != 3 or x.dtype != tab.knots.dtype or x.ndim != 2:
        return None
    if not kernels.available() or x.shape[1] != tab.n_in:
        return None
    xs = np.ascontiguousarray(x.detach().numpy())
    B, n_in, nb = xs.shape[0], tab.n_in, tab.n_basis
    D = np.empty((B, n_in * nb), dtype=xs.dtype)
    try:
        kernels.dense_basis(xs, tab.knots.numpy(), tab.rows.numpy(), nb, D, np.empty((B, n_in), dtype=np.int64),
                            np.empty((0, 0, 0), dtype=xs.dtype), False)
    except Exception as exc:           # a kernel that cannot be built here: torch from now on
        warnings.warn(f"compiled B-spline kernel unavailable ({type(exc).__name__}: {exc}); using torch")
        kernels.disable()
        return None
    return torch.from_numpy(D).view(B, n_in, nb)


def basis_t(x_t: torch.Tensor, tab: "KnotTables") -> torch.Tensor:
    """The basis in feature-major layout: x_t [in, B] -> [in, G+k, B]
    (contiguous; ``.view(in*(G+k), B)`` is the left factor of the layer's
    matrix product).  Differentiable in x_t."""
    if x_t.requires_grad:
        return _BasisT.apply(x_t, tab)
    return dense_t(window_t(x_t, tab, False), tab)


class KnotTables:
    """Grid-only work, done once per grid instead of once per forward pass.

    Only k+1 basis functions are non-zero at any x.  For every input and every
    row (a knot interval, plus an all-zero row on each side for points outside
    the knots) the table holds the interval's left knot, the reciprocal of its
    length and the polynomial coefficients, in the local coordinate
    u = (x - t_j)/(t_{j+1} - t_j), of those k+1 basis functions (zero for the
    ones that do not exist near the ends).  Evaluating the basis is then one
    searchsorted, one row gather and Horner's rule on [k+1, B*in] tensors,
    instead of the full Cox-de Boor recursion over [B, in, G+2k]: 3-5x fewer
    element operations, and no per-order knot differences.

    On a uniform grid (before any grid update, or with grid_eps = 1) every
    interval holds the same pieces: the interval comes from a floor and the
    gather and the search disappear (``uniform``).
    """

    def __init__(self, grid: torch.Tensor, k: int):
        self.grid, self.k, self.kk = grid, k, k + 1
        n_in, n_knots = grid.shape
        self.n_in, self.n_basis = n_in, n_knots - k - 1
        self.knots = grid.detach().contiguous()
        rows = _piece_table_any(self.knots.to(torch.float64), k).to(grid.dtype)  # [in, n_knots+1, C]
        self.n_rows = rows.shape[1]
        self.rows = rows.contiguous()            # row-major, for the compiled kernels
        # column-major: one gather yields [C, in*B], each coefficient a contiguous row
        self.table = rows.reshape(n_in * self.n_rows, -1).T.contiguous()
        self.row_offset = (torch.arange(n_in, device=grid.device) * self.n_rows)[:, None]   # [in, 1]
        self.window = torch.arange(-k, 1, device=grid.device)[None, :, None]             # [1, k+1, 1]
        h = self.knots[:, 1:] - self.knots[:, :-1]
        n_int = n_knots - 1
        start, span = self.knots[:, :1], self.knots[:, -1:] - self.knots[:, :1]
        # Uniform = every knot within the knots' own round-off of start + j*span/n_int.
        # Compare positions, not gaps (gaps within tolerance can still drift), and
        # take h from the whole span: one rounded gap, times j, drifts by j ulps.
        j = torch.arange(n_knots, dtype=grid.dtype, device=grid.device)
        dev = (self.knots - (start + span * (j / n_int))).abs().amax(1)
        tol = 16 * torch.finfo(grid.dtype).eps * self.knots.abs().amax(1)
        self.uniform = bool((dev <= tol).all() and (h.min() > 0))
        if self.uniform:
            self.start = start.contiguous()                                  # [in, 1]
            self.inv_h = (n_int / span).contiguous()                         # [in, 1]
            # knot j+1 of interval j = -1 .. n_int (+inf right of the knots)
            self.knots_next = torch.cat([self.knots, torch.full_like(start, float("inf"))], 1)
            mid = rows[0, 1 + k]                                             # interval k: all k+1 functions exist
            self.q_const = mid[2:2 + self.kk * self.kk].view(self.kk, self.kk, 1).contiguous()   # [d, r, 1]


def knot_tables(grid: torch.Tensor, k: int) -> KnotTables:
    return KnotTables(grid, k)


def _piece_table_any(grid: torch.Tensor, k: int) -> torch.Tensor:
    """_piece_table from the compiled kernel on the CPU (a grid update builds
    one per layer; ~1 ms in torch), else in torch."""
    if grid.device.type == "cpu" and kernels.available():
        kk = k + 1
        us = (np.arange(kk) + 0.5) / kk
        vinv = np.linalg.inv(us[:, None] ** np.arange(kk)[None, :])
        rows = np.zeros((grid.shape[0], grid.shape[1] + 1, 2 + kk * kk))
        try:
            kernels.piece_table(np.ascontiguousarray(grid.numpy()), k, vinv, rows)
            return torch.from_numpy(rows)
        except Exception as exc:           # a kernel that cannot be built here: torch from now on
            warnings.warn(f"compiled knot-table kernel unavailable ({type(exc).__name__}: {exc}); using torch")
            kernels.disable()
    return _piece_table(grid, k)


def _piece_table(grid: torch.Tensor, k: int) -> torch.Tensor:
    """[in, n_knots+1, 2 + (k+1)^2] rows (t_j, 1/h_j, Q[d, r]) with
    basis_r(x) = sum_d Q[d, r] u^d on interval j (basis index j - k + r)."""
    n_in, n_knots = grid.shape
    kk, n_int = k + 1, n_knots - 1
    lo, h = grid[:, :-1], grid[:, 1:] - grid[:, :-1]                        # [in, n_int]
    # k+1 interior points per interval determine each polynomial piece exactly
    us = (torch.arange(kk, dtype=grid.dtype, device=grid.device) + 0.5) / kk
    pts = lo[:, :, None] + h[:, :, None] * us                               # [in, n_int, kk]
    dense = _cox_de_boor(pts.permute(1, 2, 0).reshape(-1, n_in), grid, k)   # [n_int*kk, in, nb]
    nb = dense.shape[-1]
    dense = dense.reshape(n_int, kk, n_in, nb).permute(2, 0, 1, 3)          # [in, n_int, pts, nb]
    idx = torch.arange(n_int, device=grid.device)[:, None] - k + torch.arange(kk, device=grid.device)
    valid = (idx >= 0) & (idx < nb)
    win = torch.gather(dense, 3, idx.clamp(0, nb - 1)[None, :, None, :].expand(n_in, n_int, kk, kk))
    win = win * valid[None, :, None, :]                                     # [in, n_int, pts, r]
    vander = us[:, None] ** torch.arange(kk, dtype=grid.dtype, device=grid.device)[None, :]
    q = torch.linalg.solve(vander, win)                                     # [in, n_int, d, r]
    ok = h > 0                                                              # zero-length intervals hold no x
    inv_h = torch.where(ok, 1.0 / torch.where(ok, h, torch.ones_like(h)), torch.zeros_like(h))
    q = q * ok[..., None, None]
    body = torch.cat([lo[..., None], inv_h[..., None], q.flatten(2)], dim=-1)
    zero = body.new_zeros(n_in, 1, body.shape[-1])
    return torch.cat([zero, body, zero], dim=1)                            # rows 0 and n_knots: outside


def window_t(x_t: torch.Tensor, tab: KnotTables, need_deriv: bool):
    """The k+1 non-zero basis functions at every point: (basis index
    [in, k+1, B], values [in, k+1, B], x-derivatives [in, k+1, B] or None)."""
    x_t = x_t.detach()
    if x_t.dtype != tab.knots.dtype:          # searchsorted needs one dtype for both
        x_t = x_t.to(tab.knots.dtype)
    n_in, B = x_t.shape
    kk = tab.kk
    if tab.uniform:
        return _window_uniform(x_t, tab, need_deriv)
    # number of knots <= x: 0 (left of the knots) .. n_knots (at or right of the last)
    pos = torch.searchsorted(tab.knots, x_t.contiguous(), right=True)      # [in, B]
    flat = (pos + tab.row_offset).view(1, -1)
    rows = torch.gather(tab.table, 1, flat.expand(tab.table.shape[0], -1))   # [C, in*B]
    # outside rows hold t = 0, 1/h = 0: clamp +-inf so that 0 * inf does not make NaN
    big = torch.finfo(x_t.dtype).max
    u = (x_t.reshape(-1).clamp(-big, big) - rows[0]) * rows[1]              # [in*B]
    q = rows[2:].view(kk, kk, -1)                                           # [d, r, in*B]
    val = q[kk - 1]
    for d in range(kk - 2, -1, -1):                                         # Horner
        val = torch.addcmul(q[d], val, u)
    idx = ((pos - 1).unsqueeze(1) + tab.window).clamp_(0, tab.n_basis - 1)
    # (slots of basis functions that do not exist carry zeros: adding them is harmless)
    val = val.view(kk, n_in, B).transpose(0, 1)
    if not need_deriv:
        return idx, val, None
    der = q[kk - 1] * (kk - 1)
    for d in range(kk - 2, 0, -1):
        der = torch.addcmul(q[d] * d, der, u)
    der = (der * rows[1]).view(kk, n_in, B).transpose(0, 1)
    return idx, val, der


def _window_uniform(x_t: torch.Tensor, tab: KnotTables, need_deriv: bool):
    """window_t on a uniform grid: the same polynomial pieces everywhere."""
    n_in, B = x_t.shape
    kk = tab.kk
    s = (x_t - tab.start) * tab.inv_h                                       # position in intervals
    n_int = tab.knots.shape[1] - 1
    j = s.floor().clamp_(-1.0, float(n_int)).long().clamp_(-1, n_int)   # -1 / n_int: left / right
    # s is rounded: a point exactly on a knot can land one interval low; move it
    # up as searchsorted(right=True) does (values and k=1 slopes at knots agree)
    j += x_t >= tab.knots_next.gather(1, j + 1)
    u = (s - j).clamp_(0.0, 1.0).reshape(-1)     # far-away points: no overflow (their slots are zeroed)
    q = tab.q_const
    val = q[kk - 1].expand(kk, u.shape[0])
    for d in range(kk - 2, -1, -1):
        val = torch.addcmul(q[d], val, u)
    idx = j.unsqueeze(1) + tab.window                                     # basis index j - k + r
    valid = ((idx >= 0) & (idx < tab.n_basis)).to(x_t.dtype)              # outside: none valid
    idx = idx.clamp_(0, tab.n_basis - 1)
    val = val.view(kk, n_in, B).transpose(0, 1) * valid
    if not need_deriv:
        return idx, val, None
    der = (q[kk - 1] * (kk - 1)).expand(kk, u.shape[0])
    for d in range(kk - 2, 0, -1):
        der = torch.addcmul(q[d] * d, der, u)
    der = der.view(kk, n_in, B).transpose(0, 1) * (valid * tab.inv_h.unsqueeze(1))
    return idx, val, der


def dense_t(window, tab: KnotTables) -> torch.Tensor:
    """[in, G+k, B] from window_t's sparse form (one scatter)."""
    idx, val, _ = window
    return val.new_zeros(val.shape[0], tab.n_basis, val.shape[2]).scatter_add_(1, idx, val)


def spline_grad_t(grad_t: torch.Tensor, window) -> torch.Tensor:
    """d/dx of sum(grad_t * basis): grad_t [in, G+k, B] -> [in, B]."""
    idx, _, der = window
    return (grad_t.gather(1, idx) * der).sum(1)


class _BasisT(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x_t, tab):
        win = window_t(x_t, tab, True)
        ctx.save_for_backward(win[0], win[2])
        return dense_t(win, tab)

    @staticmethod
    def backward(ctx, grad):
        idx, der = ctx.saved_tensors
        return spline_grad_t(grad, (idx, None, der)), None


def _cox_de_boor(x: torch.Tensor, grid: torch.Tensor, k: int) -> torch.Tensor:
    """Textbook recursion over all basis functions (used to build the tables)."""
    xe, g = x.unsqueeze(-1), grid.unsqueeze(0)
    b = ((xe >= g[..., :-1]) & (xe < g[..., 1:])).to(x.dtype)
    for p in range(1, k + 1):
        left = _reciprocal(g[..., p:-1] - g[..., :-(p + 1)])
        right = _reciprocal(g[..., p + 1:] - g[..., 1:-p])
        b = (xe - g[..., :-(p + 1)]) * left * b[..., :-1] + (g[..., p + 1:] - xe) * right * b[..., 1:]
    return b


def _reciprocal(d: torch.Tensor) -> torch.Tensor:
    # Coincident knots (zero span) contribute nothing instead of 0/0.
    return torch.where(d > 0, 1.0 / torch.where(d > 0, d, torch.ones_like(d)), torch.zeros_like(d))


def coef_to_curve(x: torch.Tensor, grid: torch.Tensor, coef: torch.Tensor, k: int) -> torch.Tensor:
    """Spline values of every edge: x [B, in], coef [in, out, G+k] -> [B, in, out]."""
    return torch.einsum("bim,iom->bio", bspline_basis(x, grid, k), coef)


def curve_to_coef(x: torch.Tensor, y: torch.Tensor, grid: torch.Tensor, k: int,
                  ridge: float = 1e-10, tables: "KnotTables" = None) -> torch.Tensor:
    """Least-squares coefficients so that the spline through ``grid`` matches y.

    x: [B, in], y: [B, in, out] -> coef [in, out, G+k].  Solved through the
    normal equations with a tiny relative ridge: it works on every device (CUDA
    lstsq only has the full-rank 'gels' driver) and keeps basis functions with
    no samples under them at zero instead of blowing up.
    """
    basis = bspline_basis(x, grid, k, tables).permute(1, 0, 2)  # [in, B, nb]
    gram = basis.transpose(1, 2) @ basis                          # [in, nb, nb]
    rhs = basis.transpose(1, 2) @ y.permute(1, 0, 2)              # [in, nb, out]
    scale = gram.diagonal(dim1=1, dim2=2).mean(-1).clamp_min(1e-12)
    eye = torch.eye(gram.shape[-1], dtype=gram.dtype, device=gram.device)
    # a ridge below the dtype's round-off is lost when added: in float32, with fewer
    # samples than basis functions (a fresh layer's G+1 points), the LU then meets
    # an exact zero pivot on some CPUs' LAPACK ("input matrix is singular")
    ridge = max(ridge, 10 * torch.finfo(gram.dtype).eps)
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
