"""Fit c*f(a*x+b)+d to the samples of many edges and many library functions.

Edges are a batch axis throughout; Python loops run over functions only.

1. Each edge's x is mapped onto u = (x - centre) / half_range in [-1, 1]; the
   (a, b) search runs in u, so a_range / b_range mean the same whatever the
   scale of x (they are the raw ranges when x spans [-1, 1]).
2. Coarse grid on a sorted-quantile subsample (<= max_points per edge, float32):
   r^2 = squared Pearson correlation of f(a*u+b) with y.  Families where a or b
   is redundant scan one axis (SymbolicFunction.search); bounded domains scan
   the argument range's endpoints; argument ranges that leave the domain (or
   touch a guard zone) are excluded, so no fit relies on a singularity guard.
3. The best few *local maxima* of the grid (distinct basins -- a single argmax
   followed by zooms often lands on a ridge of the wrong basin) are zoomed
   (clipped at the range boundary), given (c, d) by least squares and refined
   by batched Levenberg-Marquardt on the subsample; the best start per edge is
   then refined by LM on all samples (float64).  LM steps are kept only when
   they lower the error and stay in the domain, so refining never makes a fit
   worse than its start.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from ..model import SymbolicFunction, args_within, get_function, library_names

__all__ = ["Candidate", "FitResult", "fit_functions", "rank_candidates", "suggest",
           "selection_score", "TIE_EPS"]

TIE_EPS = 0.01   # ranking nudge by list position: near-ties (~3% of 1-r^2) go first-listed


@dataclass(frozen=True)
class Candidate:
    name: str
    r2: float
    complexity: int
    params: tuple[float, float, float, float]   # (a, b, c, d): c*f(a*x+b)+d
    score: float                                # lower is better


def selection_score(r2: float, complexity: float, weight_simple: float = 0.8) -> float:
    """w*complexity + (1-w)*log2(1 + 1e-5 - r2), r2 clipped to [0, 1]."""
    r2 = min(max(float(r2), 0.0), 1.0)
    return weight_simple * complexity + (1.0 - weight_simple) * math.log2(1.0 + 1e-5 - r2)


def rank_candidates(r2_row, names: Sequence[str], weight_simple: float = 0.8,
                    top_k: int | None = None, params_row=None) -> list[Candidate]:
    """Candidates sorted best (lowest score) first.  The sort key adds at most
    TIE_EPS (by position in ``names``) to the score, so near-ties go to the entry
    listed earlier -- x^2 beats a low-frequency cos that mimics it -- and between
    sin and cos (one family shifted by pi/2) to the smaller phase |b|."""
    r2_row = r2_row.tolist() if hasattr(r2_row, "tolist") else list(r2_row)
    if params_row is None:
        params_row = [(1.0, 0.0, 1.0, 0.0)] * len(names)
    params_row = params_row.tolist() if hasattr(params_row, "tolist") else list(params_row)
    fns = [get_function(n) for n in names]
    first_of_period: dict[float, int] = {}
    keyed = []
    for i, (fn, r2, p) in enumerate(zip(fns, r2_row, params_row)):
        r2 = min(max(float(r2), 0.0), 1.0)
        s = selection_score(r2, fn.complexity, weight_simple)
        rank = float(i)
        if fn.period is not None:     # periodic functions share one slot, phase decides
            rank = first_of_period.setdefault(fn.period, i) + 0.5 * min(
                abs(p[1]) / (fn.period / 2), 1.0)
        cand = Candidate(fn.name, r2, fn.complexity, tuple(float(v) for v in p), s)
        keyed.append((s + TIE_EPS * rank / max(len(fns), 1), i, cand))
    out = [c for _, _, c in sorted(keyed, key=lambda t: t[:2])]
    return out if top_k is None else out[:top_k]


@dataclass
class FitResult:
    names: tuple[str, ...]
    r2: Tensor       # [E, F] float64, in [0, 1]
    params: Tensor   # [E, F, 4] float64, (a, b, c, d) in the raw x coordinates

    def candidates(self, edge: int, weight_simple: float = 0.8,
                   top_k: int | None = None) -> list[Candidate]:
        return rank_candidates(self.r2[edge], self.names, weight_simple, top_k,
                               params_row=self.params[edge])

    def best(self, weight_simple: float = 0.8) -> list[Candidate]:
        """The top candidate of every edge."""
        return [self.candidates(e, weight_simple, 1)[0] for e in range(self.r2.shape[0])]


# ------------------------------------------------------------------ helpers
def _valid(bounds, a: Tensor, b: Tensor) -> Tensor:
    """Does a*u+b, u in [-1, 1], stay inside the domain (see arg_bounds)?"""
    return args_within(bounds, b - a.abs(), b + a.abs())


def _spread(lo: float, hi: float, n: int) -> Tensor:
    """n axis values over [lo, hi]; sinh-spaced (denser near 0, where shapes change
    fastest) when the range is [-R, R] or [0, R]."""
    lo, hi = float(lo), float(hi)
    if n < 3 or not (lo == -hi or lo == 0.0) or hi <= 0:
        return torch.linspace(lo, hi, n, dtype=torch.float64)
    t = torch.linspace(-1.0 if lo < 0 else 0.0, 1.0, n, dtype=torch.float64)
    return hi * torch.sinh(3 * t) / math.sinh(3)


def _axes(fn: SymbolicFunction, a_range, b_range, grid: int):
    """The coarse grid as two axes of values, and whether it is in (a, b) or in
    window endpoints (p, q) = (b - a, b + a)."""
    lin = lambda lo, hi, n: torch.linspace(float(lo), float(hi), n, dtype=torch.float64)
    sym = a_range[0] == -a_range[1] and b_range[0] == -b_range[1]
    half = fn.parity != 0 and sym     # f(-a*u-b) = +-f(a*u+b): a >= 0 suffices
    if fn.search == "shift":   # only b/a matters; a large |a| keeps poles' guards small
        S = float(max(abs(a_range[0]), abs(a_range[1])))
        signs = lin(S, S, 1) if half else lin(-S, S, 2)
        return signs, lin(S * b_range[0], S * b_range[1], 3 * grid), False
    if fn.search == "scale":
        return lin(*a_range, 3 * grid), lin(0, 0, 1), False
    if fn.search == "window":
        dlo, dhi = fn.domain
        m = fn.guard + 1e-3 * (dhi - dlo)
        return lin(dlo + m, dhi - m, grid), lin(dlo + m, dhi - m, grid), True
    a_axis = _spread(0, a_range[1], grid // 2 + 1) if half else _spread(*a_range, grid)
    return a_axis, _spread(*b_range, grid), False


def _score(fn, bounds, p, q, us, yhat, window):
    """r^2 of f(a*u+b) against y for grid points p, q [E or 1, G]; -1 where invalid."""
    a, b = ((q - p) / 2, (q + p) / 2) if window else (p, q)
    f = fn.torch_fn(a.float()[..., None] * us[:, None, :] + b.float()[..., None])
    f = f - f.mean(-1, keepdim=True)           # centred: no cancellation in var
    cov = (f @ yhat[:, :, None]).squeeze(-1)
    r2 = (cov * cov / (f * f).sum(-1).clamp_min(1e-30)).double()
    ok = _valid(bounds, a, b).expand_as(r2) & torch.isfinite(r2)
    if window and fn.parity:
        ok = ok & (b >= 0)                     # the mirror image (b < 0) is equivalent
    return torch.where(ok, r2, torch.full_like(r2, -1.0))


def _search(fn, us, yhat, a_range, b_range, grid, zooms, starts):
    """Coarse grid, then local maxima zoomed `zooms` times (nz x nz around each,
    +-1 coarse cell, shrinking); the best `starts` of them are returned as
    (a, b) [E, K] in u coordinates with their r^2 (-1: no valid point)."""
    E = us.shape[0]
    bounds = fn.arg_bounds()
    axes = _axes(fn, a_range, b_range, grid)
    window = axes[2]
    n0, n1 = axes[0].numel(), axes[1].numel()
    p = axes[0][:, None].expand(n0, n1).reshape(1, -1)
    q = axes[1][None, :].expand(n0, n1).reshape(1, -1)
    r2 = _score(fn, bounds, p, q, us, yhat, window)
    # local maxima, best first: distinct basins.  Zoom more than are kept: on
    # sigmoid-like ridges the right basin's coarse point can rank low.
    grid2 = r2.view(E, 1, n0, n1).float()
    peak = grid2 >= torch.nn.functional.max_pool2d(grid2, 3, 1, 1)
    k = min(2 * starts if zooms else starts, n0 * n1)
    best, idx = torch.where(peak.view(E, -1), r2, torch.full_like(r2, -2.0)).topk(k, dim=1)
    cs = [p[0, idx], q[0, idx]]                                          # [E, K]
    spans = []   # per axis: (lo, hi) [E, K] of the zoom window, None when fixed
    for ax, i in zip(axes[:2], (idx // n1, idx % n1)):
        n = ax.numel()
        spans.append(None if n == 1 else (ax[(i - 1).clamp(min=0)], ax[(i + 1).clamp(max=n - 1)]))
    nz = 7
    for _ in range(zooms):
        vals = [c.reshape(-1, 1) if sp is None else
                sp[0].reshape(-1, 1) + (sp[1] - sp[0]).reshape(-1, 1)
                * torch.linspace(0, 1, nz, dtype=torch.float64) for c, sp in zip(cs, spans)]
        m0, m1 = vals[0].shape[1], vals[1].shape[1]
        zp = vals[0][:, :, None].expand(-1, m0, m1).reshape(E * k, -1)
        zq = vals[1][:, None, :].expand(-1, m0, m1).reshape(E * k, -1)
        zr2 = _score(fn, bounds, zp, zq, us.repeat_interleave(k, 0),
                     yhat.repeat_interleave(k, 0), window)
        zbest, zi = zr2.max(1)
        better = (zbest > best.reshape(-1)).view(E, k)
        cs = [torch.where(better, z.gather(1, zi[:, None]).view(E, k), c)
              for z, c in ((zp, cs[0]), (zq, cs[1]))]
        best = torch.maximum(best, zbest.view(E, k))
        spans = [None if sp is None else
                 ((c - (sp[1] - sp[0]) / (nz - 1)).clamp(min=ax[0].item()),
                  (c + (sp[1] - sp[0]) / (nz - 1)).clamp(max=ax[-1].item()))
                 for c, sp, ax in zip(cs, spans, axes[:2])]
    best, keep = best.topk(min(starts, k), dim=1)
    c0, c1 = cs[0].gather(1, keep), cs[1].gather(1, keep)
    a, b = ((c1 - c0) / 2, (c1 + c0) / 2) if window else (c0, c1)
    return a, b, best


def _cd(f: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """Least-squares c, d of c*f + d ~ y along the last axis."""
    fm, ym = f.mean(-1, keepdim=True), y.mean(-1, keepdim=True)
    fc = f - fm
    c = (fc * (y - ym)).sum(-1) / (fc * fc).sum(-1).clamp_min(1e-300)
    return c, (ym - c[..., None] * fm)[..., 0]


def _eval(fns, th, u, y):
    """f, f' at a*u+b for every function (th: [F, E, 4]) and the residual of c*f+d."""
    zs = [(t[:, 0:1] * u + t[:, 1:2]).detach().requires_grad_(True) for t in th.detach()]
    with torch.enable_grad():    # one leaf per function: no [F, E, N] zero-fill per slice
        fs = [fn.torch_fn(z) for fn, z in zip(fns, zs)]
        gs = torch.autograd.grad(sum(v.sum() for v in fs), zs, allow_unused=True)
    f = torch.stack(fs).detach()
    g = torch.stack([torch.zeros_like(z) if v is None else v for v, z in zip(gs, zs)])
    r = th[..., 2:3] * f + th[..., 3:4] - y
    return f, g, r, (r * r).sum(-1)


def _refine(fns, u, y, th, steps):
    """Levenberg-Marquardt on (a, b, c, d), batched over functions x edges.
    Monotone (a step is kept only if it lowers the error) and domain-respecting."""
    bounds = [torch.tensor(v, dtype=u.dtype)[:, None]
              for v in zip(*(fn.arg_bounds() for fn in fns))]
    f, g, r, loss = _eval(fns, th, u, y)
    lam = torch.full_like(loss, 1e-3)
    n = torch.full_like(loss, u.shape[-1])
    for _ in range(steps):
        # J = [c f' u, c f', f, 1]; build J^T J from a 3-row block (rows contiguous)
        w = th[..., 2:3] * g
        P = torch.stack([w * u, w, f], -2)                           # [F, E, 3, N]
        s = P.sum(-1)
        A = torch.cat([torch.cat([P @ P.transpose(-1, -2), s[..., None]], -1),
                       torch.cat([s, n[..., None]], -1)[..., None, :]], -2)
        grad = torch.cat([(P @ r[..., None])[..., 0], r.sum(-1, keepdim=True)], -1)
        diag = A.diagonal(dim1=-2, dim2=-1)
        damp = lam[..., None] * (diag + 1e-9 * diag.amax(-1, keepdim=True) + 1e-30)
        step, info = torch.linalg.solve_ex(A + torch.diag_embed(damp), -grad)
        cand = th + torch.nan_to_num(step)
        f2, g2, r2, loss2 = _eval(fns, cand, u, y)
        ok = ((info == 0) & (loss2 < loss) & torch.isfinite(loss2)
              & _valid(bounds, cand[..., 0], cand[..., 1]))
        th = torch.where(ok[..., None], cand, th)
        f, g, r = (torch.where(ok[..., None], new, old)
                   for new, old in ((f2, f), (g2, g), (r2, r)))
        loss = torch.where(ok, loss2, loss)
        lam = torch.where(ok, lam * 0.3, lam * 4.0).clamp(1e-12, 1e12)
        if not bool(ok.any()):
            break   # every problem rejected its step: converged (or stuck)
    return th, loss


def _as_2d(v) -> Tensor:
    t = torch.as_tensor(np.asarray(v) if not isinstance(v, Tensor) else v)
    return t.reshape(1, -1) if t.dim() == 1 else t


# ------------------------------------------------------------------ public
_BLOCK = 64   # edges fitted together: bounds memory ([block, grid, points] per op)


def fit_functions(x: Tensor, y: Tensor, names: Sequence[str], *,
                  a_range=(-10.0, 10.0), b_range=(-10.0, 10.0), grid: int = 21,
                  zooms: int = 1, starts: int = 3, search_steps: int = 10,
                  refine_steps: int = 4, max_points: int = 128) -> FitResult:
    """Fit every function in ``names`` to every edge: x, y are [E, N] (or [N]).

    grid: coarse points per axis (1-D searches use 3*grid); starts: local maxima
    of the coarse grid followed further; zooms: 7x7 zoom stages around each;
    search_steps: LM iterations per start on the subsample; refine_steps: LM
    iterations of the winning start on all samples.  Runs on the CPU in float64
    (the grid in float32); results are CPU tensors.
    """
    x, y = _as_2d(x).detach().cpu().double(), _as_2d(y).detach().cpu().double()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    fns = [get_function(n) for n in names]
    opts = (a_range, b_range, grid, zooms, max(1, starts), search_steps, refine_steps,
            max(2, max_points))
    parts = [_fit_block(x[i:i + _BLOCK], y[i:i + _BLOCK], fns, *opts)
             for i in range(0, x.shape[0], _BLOCK)]
    r2 = torch.cat([p[0] for p in parts]) if parts else torch.zeros(0, len(fns)).double()
    par = torch.cat([p[1] for p in parts]) if parts else torch.zeros(0, len(fns), 4).double()
    return FitResult(tuple(fn.name for fn in fns), r2, par)


def _fit_block(x, y, fns, a_range, b_range, grid, zooms, starts, search_steps,
               refine_steps, max_points):
    E, N = x.shape
    finite = torch.isfinite(x).all(1) & torch.isfinite(y).all(1)    # else: r^2 = 0
    x, y = torch.where(finite[:, None], x, 0.0), torch.where(finite[:, None], y, 0.0)
    lo, hi = x.amin(1), x.amax(1)
    m, h = (lo + hi) / 2, (hi - lo) / 2
    h = torch.where(h > 0, h, torch.ones_like(h))               # constant x: u = 0
    u = (x - m[:, None]) / h[:, None]
    ym = y.mean(1, keepdim=True)
    yc = y - ym
    sst = (yc * yc).sum(1)
    live = (sst > 0) & (hi > lo) & finite   # constant y or constant x: r^2 = 0
    # sorted quantile subsample bounds the search cost; it keeps min and max of x
    if N > max_points:
        pick = torch.linspace(0, N - 1, max_points).round().long()
        sel = torch.argsort(x, dim=1)[:, pick]
        us, ys = u.gather(1, sel), y.gather(1, sel)
    else:
        us, ys = u, y
    yhat = ys - ys.mean(1, keepdim=True)
    yhat = (yhat / yhat.norm(dim=1, keepdim=True).clamp_min(1e-300)).float()

    F = len(fns)
    r2_all = torch.zeros(E, F, dtype=torch.float64)
    par_all = torch.zeros(E, F, 4, dtype=torch.float64)
    dead = torch.stack([torch.ones_like(m), 0 * m, 0 * m, ym[:, 0]], -1)   # c*f+d == mean
    todo = [k for k, fn in enumerate(fns) if fn.search not in ("const", "affine")]
    names_set = {fns[k].name for k in todo}
    alias = {k for k in todo if fns[k].shifted and fns[k].shifted[0] in names_set}
    todo = [k for k in todo if k not in alias]   # cos = sin shifted: fitted once
    for k, fn in enumerate(fns):
        if fn.search == "const":
            par_all[:, k] = dead
        elif fn.search == "affine":   # x itself: ordinary least squares in closed form
            c, d = _cd(x, y)
            sse = ((c[:, None] * x + d[:, None] - y) ** 2).sum(1)
            r2_all[:, k] = 1 - sse / sst.clamp_min(1e-300)
            par_all[:, k] = torch.stack([torch.ones_like(c), 0 * c, c, d], -1)
    if todo:
        sub = [fns[k] for k in todo]
        ths, found, us32 = [], [], us.float()
        for fn in sub:
            a, b, best = _search(fn, us32, yhat, a_range, b_range, grid, zooms, starts)
            c, d = _cd(fn.torch_fn(a[..., None] * us[:, None, :] + b[..., None]), ys[:, None])
            ths.append(torch.stack([a, b, c, d], -1).reshape(-1, 4))   # [E*K, 4]
            found.append(best.reshape(-1) >= 0)
        K = ths[0].shape[0] // E
        th, loss = _refine(sub, us.repeat_interleave(K, 0), ys.repeat_interleave(K, 0),
                           torch.stack(ths), search_steps)
        loss = torch.where(torch.stack(found), loss, torch.full_like(loss, math.inf))
        win = loss.view(len(sub), E, K).argmin(-1)                      # best start
        th = th.view(len(sub), E, K, 4).gather(2, win[..., None, None].expand(-1, -1, 1, 4))
        ok_start = torch.isfinite(loss.view(len(sub), E, K).amin(-1))
        th, sse = _refine(sub, u, y, th[:, :, 0], refine_steps)
        fitted = {fns[k].name: j for j, k in enumerate(todo)}
        for k in todo + sorted(alias):
            fn = fns[k]
            j = fitted[fn.shifted[0]] if k in alias else fitted[fn.name]
            a_u, b_u, c, d = th[j].unbind(-1)
            if k in alias:
                b_u = b_u - fn.shifted[1]
            ok = ok_start[j] & torch.isfinite(sse[j])
            r2_all[:, k] = torch.where(ok, 1 - sse[j] / sst.clamp_min(1e-300), 0 * sse[j])
            raw = torch.stack([a_u / h, b_u - a_u * m / h, c, d], -1)   # to x coordinates
            par_all[:, k] = torch.where(ok[:, None], fn.canonical_params(raw, lo, hi), dead)
    r2_all = torch.where(live[:, None], r2_all.clamp(0.0, 1.0), torch.zeros_like(r2_all))
    return r2_all, torch.where(live[:, None, None], par_all, dead[:, None, :])


def suggest(x, y, names: Sequence[str] | None = None, weight_simple: float = 0.8,
            top_k: int | None = 5, **fit_kw) -> list[Candidate]:
    """Ranked candidates for one edge's samples (tensors or arrays of shape [N])."""
    x, y = _as_2d(x).reshape(1, -1), _as_2d(y).reshape(1, -1)
    res = fit_functions(x, y, library_names() if names is None else names, **fit_kw)
    return res.candidates(0, weight_simple, top_k)
