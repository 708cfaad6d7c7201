"""Fit c*f(a*x+b)+d to the samples of many edges and many library functions.

Per function (a Python loop over functions only; edges are a batch axis):

1. Each edge's inputs are mapped onto u = (x - centre) / half_range in [-1, 1];
   the (a, b) search runs in u, so a_range / b_range mean the same thing
   whatever the scale of x (they equal raw ranges for x spanning [-1, 1]).
2. Grid search on a quantile subsample (<= max_points per edge, float32):
   r^2 = squared Pearson correlation of f(a*u+b) with y, maximised over a
   grid that is zoomed around the best cell (clipped at the range boundary).
   Families where one of (a, b) is redundant scan one axis only (see
   SymbolicFunction.search); bounded-domain functions scan the endpoints of
   the argument range inside the domain; points whose argument range leaves
   the domain are excluded, so a fit never relies on a singularity guard.
3. (c, d) by least squares, then batched Levenberg-Marquardt on (a, b, c, d)
   over all samples (float64); a step is only taken when it lowers the error
   and stays in the domain, so the result is never worse than the grid's.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import Tensor

from .symbolic_lib import SymbolicFunction, get_function, library_names

__all__ = ["Candidate", "FitResult", "fit_functions", "rank_candidates", "suggest",
           "selection_score", "TIE_EPS"]

TIE_EPS = 0.01   # scores closer than this (~3% of 1-r^2) count as a tie


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
    """Candidates sorted best (lowest score) first.

    Near-ties (score difference < TIE_EPS) go to the entry listed earlier in
    ``names`` -- so x^2 beats a cos with a tiny frequency that mimics it -- and
    between sin and cos (the same family shifted by pi/2) to the smaller phase |b|.
    """
    r2_row = [float(v) for v in (r2_row.tolist() if hasattr(r2_row, "tolist") else r2_row)]
    if params_row is None:
        params_row = [(1.0, 0.0, 1.0, 0.0)] * len(names)
    elif hasattr(params_row, "tolist"):
        params_row = params_row.tolist()
    fns = [get_function(n) for n in names]
    first_of_period: dict[float, int] = {}
    keyed = []
    for i, (fn, r2, p) in enumerate(zip(fns, r2_row, params_row)):
        r2 = min(max(r2, 0.0), 1.0)
        s = selection_score(r2, fn.complexity, weight_simple)
        rank = float(i)
        if fn.period is not None:     # periodic functions share one slot, phase decides
            rank = first_of_period.setdefault(fn.period, i) + 0.5 * min(
                abs(p[1]) / (fn.period / 2), 1.0)
        cand = Candidate(fn.name, r2, fn.complexity, tuple(float(v) for v in p), s)
        keyed.append((s + TIE_EPS * rank / max(len(fns), 1), i, cand))
    keyed.sort(key=lambda t: (t[0], t[1]))
    out = [c for _, _, c in keyed]
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
def _bounds(fn: SymbolicFunction) -> tuple[float, float, float]:
    """(lowest arg, highest arg, pole guard) allowed for fn's argument range;
    the pole guard g means the range must stay in [g, inf) or (-inf, -g]."""
    lo, hi, g = -math.inf, math.inf, -math.inf
    if fn.domain is not None:
        lo = fn.domain[0] + (0.0 if fn.closed else fn.guard)
        hi = fn.domain[1] - fn.guard
    if fn.pole_at_zero:
        g = fn.guard
    return lo, hi, g


def _valid(bounds, a: Tensor, b: Tensor) -> Tensor:
    """Does a*u+b, u in [-1, 1], stay inside the domain? bounds: floats or tensors."""
    lo, hi, g = bounds
    amin, amax = b - a.abs(), b + a.abs()
    return (amin >= lo) & (amax <= hi) & ((amin >= g) | (amax <= -g))


def _axes(fn: SymbolicFunction, a_range, b_range, grid: int):
    """Two search axes: ("zoom", lo, hi, n) scans and refines; ("set", values) is
    scanned once and then fixed at its best value."""
    n1 = 3 * grid   # 1-D searches are cheap: scan them finer
    if fn.search == "shift":
        return ("set", (-1.0, 1.0)), ("zoom", *b_range, n1)
    if fn.search == "scale":
        return ("zoom", *a_range, n1), ("set", (0.0,))
    if fn.search == "window":
        dlo, dhi = fn.domain
        m = fn.guard + 1e-3 * (dhi - dlo)
        return ("zoom", dlo + m, dhi - m, grid), ("zoom", dlo + m, dhi - m, grid)
    return ("zoom", *a_range, grid), ("zoom", *b_range, grid)


def _grid_search(fn, us, yhat, a_range, b_range, grid, zooms):
    """Best (a, b) in u coordinates per edge, and its r^2 (-1 where no valid point)."""
    E, dev = us.shape[0], us.device
    bounds = _bounds(fn)
    vals, limits = [], []
    for ax in _axes(fn, a_range, b_range, grid):   # per-edge axis values [E, n]
        if ax[0] == "set":
            vals.append(torch.tensor(ax[1], device=dev).expand(E, -1))
            limits.append(None)
        else:
            vals.append(torch.linspace(ax[1], ax[2], ax[3], device=dev).expand(E, -1))
            limits.append(ax[1:3])
    for stage in range(zooms + 1):
        v0, v1 = vals
        n0, n1 = v0.shape[1], v1.shape[1]
        p = v0[:, :, None].expand(E, n0, n1).reshape(E, -1)
        q = v1[:, None, :].expand(E, n0, n1).reshape(E, -1)
        a, b = ((q - p) / 2, (q + p) / 2) if fn.search == "window" else (p, q)
        f = fn.torch_fn(torch.baddbmm(b[:, :, None], a[:, :, None], us[:, None, :]))
        f = f - f.mean(-1, keepdim=True)         # centred: no cancellation in var
        cov = torch.bmm(f, yhat[:, :, None]).squeeze(-1)
        var = (f * f).sum(-1)
        r2 = cov * cov / var.clamp_min(1e-30)
        r2 = torch.where(_valid(bounds, a, b) & torch.isfinite(r2), r2,
                         torch.full_like(r2, -1.0))
        best_r2, best = r2.max(1)
        i0, i1 = best // n1, best % n1
        if stage == zooms:
            break
        new = []
        for v, i, lim in ((v0, i0, limits[0]), (v1, i1, limits[1])):
            c = v.gather(1, i[:, None])
            if lim is None:
                new.append(c)
                continue
            # zoom to +-1 cell (shifted inside the range) with a grid half as
            # fine as the first one: each zoom shrinks the cell ~ (n-1)/4-fold
            step = v[:, 1:2] - v[:, 0:1]
            lo = torch.minimum(c - step, lim[1] - 2 * step).clamp_min(lim[0])
            n = v.shape[1] if stage else (v.shape[1] + 1) // 2
            new.append(lo + 2 * step * torch.linspace(0, 1, n, device=dev))
        vals = new
    a = vals[0].gather(1, i0[:, None])[:, 0]
    b = vals[1].gather(1, i1[:, None])[:, 0]
    if fn.search == "window":
        a, b = (b - a) / 2, (b + a) / 2
    return a.double(), b.double(), best_r2.double()


def _eval(fns, th, u, y):
    """f, f' at a*u+b for every function (th: [F, E, 4]) and the residual of c*f+d."""
    zs = [(t[:, 0:1] * u + t[:, 1:2]).detach().requires_grad_(True) for t in th.detach()]
    with torch.enable_grad():    # one leaf per function: no [F, E, N] zero-fill per slice
        fs = [fn.torch_fn(z) for fn, z in zip(fns, zs)]
        need = [k for k, v in enumerate(fs) if v.requires_grad]
        gs = [torch.zeros_like(z) for z in zs]
        if need:
            out = torch.autograd.grad(sum(fs[k].sum() for k in need), [zs[k] for k in need])
            for k, v in zip(need, out):
                gs[k] = v
    f, g = torch.stack(fs).detach(), torch.stack(gs)
    r = th[..., 2:3] * f + th[..., 3:4] - y
    return f, g, r, (r * r).sum(-1)


def _refine(fns, u, y, th, steps):
    """Levenberg-Marquardt on (a, b, c, d), batched over functions x edges.
    Monotone (a step is kept only if it lowers the error) and domain-respecting."""
    bounds = [torch.tensor(v, dtype=u.dtype)[:, None]
              for v in zip(*(_bounds(fn) for fn in fns))]
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


def _canonical(fn: SymbolicFunction, p: Tensor) -> Tensor:
    """Equivalent, tidier parameters: exp absorbs b into c; sin/cos phase in (-pi/2, pi/2]."""
    a, b, c, d = p.unbind(-1)
    if fn.search == "scale":
        keep = b.abs() < 50
        c, b = torch.where(keep, c * torch.exp(b.clamp(-50, 50)), c), torch.where(keep, 0 * b, b)
    if fn.period is not None:
        per = fn.period
        b = b - per * torch.round(b / per)                      # (-per/2, per/2]
        if fn.antiperiodic:
            flip = b.abs() > per / 4
            b = torch.where(flip, b - torch.sign(b) * per / 2, b)
            c = torch.where(flip, -c, c)
    return torch.stack([a, b, c, d], -1)


def _as_2d(v) -> Tensor:
    t = torch.as_tensor(np.asarray(v) if not isinstance(v, Tensor) else v)
    return t.reshape(1, -1) if t.dim() == 1 else t


# ------------------------------------------------------------------ public
def fit_functions(x: Tensor, y: Tensor, names: Sequence[str], *,
                  a_range=(-10.0, 10.0), b_range=(-10.0, 10.0), grid: int = 21,
                  zooms: int = 3, refine_steps: int = 12,
                  max_points: int = 128) -> FitResult:
    """Fit every function in ``names`` to every edge: x, y are [E, N] (or [N])."""
    x, y = _as_2d(x).detach().double(), _as_2d(y).detach().double()
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} "
                         f"and {tuple(y.shape)}")
    E, N = x.shape
    fns = [get_function(n) for n in names]
    lo, hi = x.amin(1), x.amax(1)
    m, h = (lo + hi) / 2, (hi - lo) / 2
    h = torch.where(h > 0, h, torch.ones_like(h))               # constant x: u = 0
    u = (x - m[:, None]) / h[:, None]
    ym = y.mean(1, keepdim=True)
    yc = y - ym
    sst = (yc * yc).sum(1)
    live = sst > 1e-300 * N                                     # constant y: r^2 = 0
    # sorted quantile subsample bounds the search cost; it keeps min and max of x
    if N > max_points:
        pick = torch.linspace(0, N - 1, max_points, device=x.device).round().long()
        sel = torch.argsort(x, dim=1)[:, pick]
        us, ys = u.gather(1, sel), yc.gather(1, sel)
    else:
        us, ys = u, yc
    ys = ys - ys.mean(1, keepdim=True)
    norm = ys.norm(dim=1, keepdim=True)
    yhat = torch.where(norm > 0, ys / norm.clamp_min(1e-300), torch.zeros_like(ys)).float()
    us32 = us.float()

    F = len(fns)
    r2_all = torch.zeros(E, F, dtype=torch.float64, device=x.device)
    par_all = torch.zeros(E, F, 4, dtype=torch.float64, device=x.device)
    dead = torch.stack([torch.ones_like(m), 0 * m, 0 * m, ym[:, 0]], -1)   # c*f+d == mean
    searched: dict[str, tuple[Tensor, Tensor]] = {}
    fit_k, fit_th, fit_found = [], [], []
    for k, fn in enumerate(fns):
        if fn.search == "const":
            par_all[:, k] = dead
            continue
        if fn.search == "affine":   # x itself: ordinary least squares in closed form
            xc = x - x.mean(1, keepdim=True)
            vx = (xc * xc).sum(1)
            c = (xc * yc).sum(1) / vx.clamp_min(1e-300)
            d = ym[:, 0] - c * x.mean(1)
            sse = ((c[:, None] * x + d[:, None] - y) ** 2).sum(1)
            r2_all[:, k] = 1 - sse / sst.clamp_min(1e-300)
            par_all[:, k] = torch.stack([torch.ones_like(c), 0 * c, c, d], -1)
            continue
        base = fn.shifted[0] if fn.shifted else None
        if base in searched:       # f(z) = base(z + s): reuse base's (a, b)
            a, b = searched[base][0], searched[base][1] - fn.shifted[1]
            best = searched[base][2]
        else:
            a, b, best = _grid_search(fn, us32, yhat, a_range, b_range, grid, zooms)
            searched[fn.name] = (a, b + (fn.shifted[1] if fn.shifted else 0.0), best)
        f = fn.torch_fn(a[:, None] * u + b[:, None])           # (c, d) by least squares
        fc = f - f.mean(1, keepdim=True)
        c = (fc * yc).sum(1) / (fc * fc).sum(1).clamp_min(1e-300)
        d = ym[:, 0] - c * f.mean(1)
        fit_k.append(k)
        fit_th.append(torch.stack([a, b, c, d], -1))
        fit_found.append(best >= 0)
    if fit_k:
        sub = [fns[k] for k in fit_k]
        th, sse = _refine(sub, u, y, torch.stack(fit_th), refine_steps)
        for j, (k, fn) in enumerate(zip(fit_k, sub)):
            ok = fit_found[j] & torch.isfinite(sse[j])
            r2_all[:, k] = torch.where(ok, 1 - sse[j] / sst.clamp_min(1e-300), 0 * sse[j])
            a_u, b_u, c, d = th[j].unbind(-1)
            raw = torch.stack([a_u / h, b_u - a_u * m / h, c, d], -1)   # to x coordinates
            par_all[:, k] = torch.where(ok[:, None], _canonical(fn, raw), dead)
    r2_all = torch.where(live[:, None], r2_all.clamp(0.0, 1.0), torch.zeros_like(r2_all))
    return FitResult(tuple(fn.name for fn in fns), r2_all, par_all)


def suggest(x, y, names: Sequence[str] | None = None, weight_simple: float = 0.8,
            top_k: int | None = 5, **fit_kw) -> list[Candidate]:
    """Ranked candidates for one edge's samples (tensors or arrays of shape [N])."""
    x, y = _as_2d(x).reshape(1, -1), _as_2d(y).reshape(1, -1)
    res = fit_functions(x, y, library_names() if names is None else names, **fit_kw)
    return res.candidates(0, weight_simple, top_k)
