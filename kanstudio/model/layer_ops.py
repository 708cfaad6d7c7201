"""The training hot path of a KAN layer as autograd Functions with
hand-written backward passes.

    y = silu(x) @ (w_b * m) + basis(x) @ (c * w_s * m)        [B, out]
    spread[i, j] = m_ij * std_B(sum_k c_ijk B_k(x_i))           [in, out]

(m = numeric-edge mask).  ``numeric_edges`` gives y, ``numeric_edges_spread``
also the per-edge spread the regulariser needs, computed from the [in, nb, nb]
covariance of the basis (in float64) instead of a [B, in, out] tensor.  One
autograd node per layer and a dozen tensor operations in each direction,
where autograd would record ~40 for the same maths; on small networks that
bookkeeping, not arithmetic, is the cost.  The basis works in feature-major layout
[in, nb, B] (spline.window_t / dense_t), so both matrix products read it
without a copy.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from . import spline

__all__ = ["numeric_edges", "numeric_edges_spread"]


def numeric_edges(x, coef, scale_base, scale_sp, w, tab, cached=None):
    """y [B, out].  ``cached`` = (basis [in*nb, B], silu(x)) for an input that
    needs no gradient (the layer caches it across LBFGS closure calls)."""
    return _Edges.apply(x, coef, scale_base, scale_sp, w, tab, cached)


def numeric_edges_spread(x, coef, scale_base, scale_sp, w, tab, cached=None):
    """(y [B, out], spread [in, out])."""
    return _EdgesSpread.apply(x, coef, scale_base, scale_sp, w, tab, cached)


def _forward(x, coef, scale_base, scale_sp, w, tab, cached, need_x_grad):
    n_in, n_out, nb = coef.shape
    win = None
    if cached is None:
        win = spline.window_t(x.T, tab, need_x_grad)
        basis = spline.dense_t(win, tab).view(n_in * nb, -1)                  # [in*nb, B]
        silu = F.silu(x)
    else:
        basis, silu = cached
    wb, ws = scale_base * w, scale_sp * w
    eff = (coef * ws.unsqueeze(-1)).transpose(1, 2).reshape(n_in * nb, n_out)
    y = torch.addmm(silu @ wb, basis.T, eff)
    idx, der = (win[0], win[2]) if win is not None and need_x_grad else (None, None)
    return y, basis, silu, wb, ws, eff, idx, der


def _backward(need, gy, x, coef, w, basis, silu, wb, ws, eff, extra_coef=None, extra_basis=None,
              window=None):
    """Gradients of y's contribution (plus optional extra terms from the
    spread) with respect to (x, coef, scale_base, scale_sp)."""
    n_in, n_out, nb = coef.shape
    g_x = g_coef = g_sb = g_sp = None
    if need[1] or need[3]:
        g_eff = (basis @ gy).view(n_in, nb, n_out).transpose(1, 2)              # [in, out, nb]
        if need[1]:
            g_coef = g_eff * ws.unsqueeze(-1)
            if extra_coef is not None:
                g_coef = g_coef + extra_coef
        if need[3]:
            g_sp = (g_eff * coef).sum(-1) * w
    elif need[1] and extra_coef is not None:
        g_coef = extra_coef
    if need[2]:
        g_sb = (silu.T @ gy) * w
    if need[0]:
        sig = torch.sigmoid(x)
        g_x = (gy @ wb.T) * (sig * (1 + x * (1 - sig)))
        g_basis = (eff @ gy.T).view(n_in, nb, -1)                              # [in, nb, B]
        if extra_basis is not None:
            g_basis = g_basis + extra_basis
        g_x = g_x + spline.spline_grad_t(g_basis, window).T
    return g_x, g_coef, g_sb, g_sp


class _Edges(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale_base, scale_sp, w, tab, cached):
        y, basis, silu, wb, ws, eff, idx, der = _forward(x, coef, scale_base, scale_sp, w, tab, cached,
                                                         ctx.needs_input_grad[0])
        ctx.save_for_backward(x, coef, w, basis, silu, wb, ws, eff, idx, der)
        return y

    @staticmethod
    def backward(ctx, gy):
        x, coef, w, basis, silu, wb, ws, eff, idx, der = ctx.saved_tensors
        grads = _backward(ctx.needs_input_grad, gy, x, coef, w, basis, silu, wb, ws, eff,
                          window=(idx, None, der))
        return (*grads, None, None, None)


class _EdgesSpread(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, coef, scale_base, scale_sp, w, tab, cached):
        y, basis, silu, wb, ws, eff, idx, der = _forward(x, coef, scale_base, scale_sp, w, tab, cached,
                                                         ctx.needs_input_grad[0])
        n_in, n_out, nb = coef.shape
        # In float64: c^T Cov c cancels terms of size c_mean^2, so float32 sums
        # bury the small spread of an edge sitting on a constant (what L1 leaves).
        b3 = basis.view(n_in, nb, -1).to(torch.float64)
        c64 = coef.to(torch.float64)
        n = b3.shape[-1]
        centred = b3 - b3.mean(-1, keepdim=True)
        cov = centred @ centred.transpose(1, 2) / max(n - 1, 1)                 # [in, nb, nb]
        cv = c64 @ cov                                                          # [in, out, nb]
        var = (cv * c64).sum(-1)
        # round-off can make a zero variance slightly negative: no gradient there
        live = var > 1e-30
        std = torch.sqrt(torch.where(live, var, torch.ones_like(var))) * live
        ctx.save_for_backward(x, coef, w, basis, silu, wb, ws, eff, idx, der, centred, cv, std, live)
        ctx.n = n
        return y, (std * w).to(coef.dtype)

    @staticmethod
    def backward(ctx, gy, g_spread):
        x, coef, w, basis, silu, wb, ws, eff, idx, der, centred, cv, std, live = ctx.saved_tensors
        need = ctx.needs_input_grad
        # d std / d var = 1 / (2 std); var = c^T cov c
        g_var = torch.where(live, g_spread * w / (2 * torch.where(live, std, torch.ones_like(std))),
                            torch.zeros_like(std))                              # [in, out], float64
        extra_coef = (2 * cv * g_var.unsqueeze(-1)).to(coef.dtype) if need[1] else None
        extra_basis = None
        if need[0]:
            # d(c^T C C^T c)/dC = 2 c c^T C, summed over outputs; then undo the centring
            c64 = coef.to(torch.float64)
            m = (c64 * g_var.unsqueeze(-1)).transpose(1, 2) @ c64               # [in, nb, nb]
            g_c = (m @ centred) * (2.0 / max(ctx.n - 1, 1))
            extra_basis = (g_c - g_c.mean(-1, keepdim=True)).to(coef.dtype)
        if gy is None:
            gy = torch.zeros(x.shape[0], coef.shape[1], dtype=x.dtype, device=x.device)
        grads = _backward(need, gy, x, coef, w, basis, silu, wb, ws, eff, extra_coef, extra_basis,
                          window=(idx, None, der))
        return (*grads, None, None, None)
