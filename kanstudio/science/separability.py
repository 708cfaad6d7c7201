"""Hypothesis tests on a learned function (KAN 2.0): separability and symmetry.

* ``hessian_matrix``: normalised Hessian H_ij = median_B |d2f/dxi dxj| * std(xi) * std(xj).
  Per-sample gradients come from autograd; the second derivative is a
  central difference of those gradients (step 1e-4*std(xi); 1e-2 in float32).  Exact
  double-backward is not used because a KAN's spline basis carries only a
  first derivative through autograd (its backward treats dB/dx as constant).
* ``test_separability``: additive on f, multiplicative on log|f|; variables are
  grouped into the connected components of {H_ij / max(H) > threshold}.
* ``test_symmetry``: f(x_A, x_B) = g(h(x_A), x_B) iff the direction of grad_A f
  does not depend on x_B; score = median_B max_b ||d(grad_A f/|grad_A f|)/dx_b|| * std(x_b).
Every test returns a verdict string; none raises because nothing separates.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import sympy
import torch

from ..model import KAN

__all__ = ["formula_function", "hessian_matrix", "SeparabilityResult", "test_separability",
           "SymmetryResult", "test_symmetry", "find_symmetries"]


# ---------------------------------------------------------------- callables
def formula_function(expr: sympy.Expr, names: Sequence[str]) -> Callable:
    """A torch callable x[B, n] -> f[B] for a sympy formula over ``names`` (no eval)."""
    from ..symbolic import evaluate_torch
    from ..symbolic import symbol_index
    col = symbol_index(names)
    missing = [s.name for s in expr.free_symbols if s.name not in col]
    if missing:
        raise ValueError(f"the formula uses {', '.join(sorted(missing))}, which are not among the inputs")

    def fn(x: torch.Tensor) -> torch.Tensor:
        vals = {s: x[:, col[s.name]] for s in expr.free_symbols}
        out = evaluate_torch(expr, vals)
        return out.expand(x.shape[0]) if out.ndim == 0 else out
    return fn


def _callable(f, x: torch.Tensor, output: int = 0, names=None) -> tuple[Callable, float]:
    """(float64 callable x[B, n] -> f[B], relative difference step for its precision)."""
    if isinstance(f, sympy.Expr):
        return formula_function(f, _names(names, x.shape[1])), 1e-4
    if isinstance(f, KAN):
        fn = lambda z: f(z.to(f.device, f.dtype))[:, output].to(z.device, z.dtype)  # noqa: E731
        return fn, (1e-4 if f.dtype == torch.float64 else 1e-2)
    with torch.no_grad():
        low = f(x[:2]).dtype != torch.float64
    return (lambda z: f(z).reshape(z.shape[0], -1)[:, output].to(z.dtype)), (1e-2 if low else 1e-4)


def _grad(fn: Callable, x: torch.Tensor) -> torch.Tensor:
    """Per-row gradients (rows are independent, so grad of the sum is enough)."""
    with torch.enable_grad():
        xr = x.detach().clone().requires_grad_(True)
        (g,) = torch.autograd.grad(fn(xr).sum(), xr, allow_unused=True)
    return torch.zeros_like(x) if g is None else g.detach()


def _prepare(x) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.as_tensor(np.asarray(x, dtype=np.float64)) if not isinstance(x, torch.Tensor) else x
    x = x.detach().to(torch.float64)
    std = x.std(0, unbiased=False) if x.shape[0] > 1 else torch.ones(x.shape[1], dtype=x.dtype)
    return x, std


def _steps(std: torch.Tensor, rel: float) -> torch.Tensor:
    return torch.where(std > 0, std, torch.ones_like(std)) * rel


def _sample_hessians(fn: Callable, x: torch.Tensor, std: torch.Tensor, rel: float) -> torch.Tensor:
    """[B, n, n] by central differences of autograd gradients, symmetrised."""
    h = _steps(std, rel)
    cols = []
    for j in range(x.shape[1]):
        e = torch.zeros_like(x)
        e[:, j] = h[j]
        cols.append((_grad(fn, x + e) - _grad(fn, x - e)) / (2 * h[j]))
    H = torch.stack(cols, dim=2)
    return 0.5 * (H + H.transpose(1, 2))


def hessian_matrix(f, x, mode: str = "additive", output: int = 0, names=None) -> np.ndarray:
    """Normalised Hessian [n, n] of f: a KAN, a torch callable [B, n] -> [B] or
    [B, 1], or a sympy formula over ``names``.  Mode "multiplicative" takes it
    of log|f| over the rows where |f| is not tiny."""
    return _hessian(f, x, mode, output, names)[0]


def _hessian(f, x, mode: str, output: int, names=None):
    if mode not in ("additive", "multiplicative"):
        raise ValueError("mode must be 'additive' or 'multiplicative'")
    x, std = _prepare(x)
    base, rel = _callable(f, x, output, names)
    rows = torch.ones(x.shape[0], dtype=torch.bool)
    fn = base
    if mode == "multiplicative":
        with torch.no_grad():
            a = base(x).abs()
        rows = a > 0.05 * a.median()
        fn = lambda z: torch.log(base(z).abs().clamp_min(1e-300))  # noqa: E731
    H = _sample_hessians(fn, x[rows], std, rel) if rows.any() else torch.zeros(1, x.shape[1], x.shape[1])
    med = H.abs().median(0).values * std[:, None] * std[None, :]
    return med.numpy(), int(rows.sum())


# ---------------------------------------------------------------- separability
@dataclass
class SeparabilityResult:
    groups: list                 # list of lists of variable indices
    score: float                 # off-block curvature / total curvature of this grouping
    verdict: str
    matrix: np.ndarray           # normalised Hessian / its max
    mode: str = "additive"
    separable: bool = False
    split_level: float = 0.0     # largest coupling a split into two blocks must ignore
    names: list = field(default_factory=list)


def _components(adj: np.ndarray) -> list[list[int]]:
    """Connected components (union-find), each sorted, ordered by first member."""
    parent = list(range(adj.shape[0]))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i
    for i, j in zip(*np.nonzero(adj)):
        parent[root(int(i))] = root(int(j))
    groups: dict = {}
    for i in range(adj.shape[0]):
        groups.setdefault(root(i), []).append(i)
    return sorted(groups.values())


def _bottleneck(M: np.ndarray) -> float:
    """Smallest edge of the maximum spanning tree: the threshold where the variables split."""
    n = M.shape[0]
    if n < 2:
        return 0.0
    inside, best = {0}, np.inf
    while len(inside) < n:
        w, j = max((M[i, j], j) for i in inside for j in range(n) if j not in inside)
        best = min(best, w)
        inside.add(j)
    return float(best)


def _names(names, n):
    return list(names) if names is not None else [f"x{i + 1}" for i in range(n)]


def test_separability(f, x, mode: str = "additive", threshold: float = 0.1,
                      names: Optional[Sequence[str]] = None, output: int = 0) -> SeparabilityResult:
    """Group variables into additively (f = sum f_k(x_Gk)) or multiplicatively
    (f = prod f_k(x_Gk)) separable blocks; always returns a verdict."""
    H, n_rows = _hessian(f, x, mode, output, names)
    n = H.shape[0]
    names = _names(names, n)
    op = "+" if mode == "additive" else "·"
    top = float(H.max()) if H.size else 0.0
    if n_rows == 0:
        return SeparabilityResult([list(range(n))], 0.0, "cannot test: f is (nearly) zero everywhere",
                                  np.zeros_like(H), mode, False, 0.0, names)
    if n == 1:
        return SeparabilityResult([[0]], 0.0, "nothing to separate: f has one variable",
                                  np.ones_like(H), mode, False, 0.0, names)
    if top <= 1e-12 * max(1.0, float(np.abs(H).sum())) or top == 0.0:
        what = "linear" if mode == "additive" else "an exponential of a linear function"
        return SeparabilityResult([[i] for i in range(n)], 0.0,
                                  f"{mode}ly separable in every variable: f is {what} (no curvature)",
                                  np.zeros_like(H), mode, n > 1, 0.0, names)
    M = H / top
    off = M - np.diag(np.diag(M))
    groups = _components(off > threshold)
    label = np.empty(n, dtype=int)
    for g, idx in enumerate(groups):
        label[idx] = g
    off_block = float(M[label[:, None] != label[None, :]].sum())
    score = off_block / float(M.sum())
    split = _bottleneck(off)
    blocks = f" {op} ".join("f(" + ", ".join(names[i] for i in g) + ")" for g in groups)
    if len(groups) > 1:
        verdict = (f"{mode}ly separable: f = {blocks} (off-block curvature {100 * score:.2g}% "
                   f"of the total)")
    else:
        verdict = (f"not {mode}ly separable: all variables interact (a split would ignore "
                   f"couplings up to {100 * split:.3g}% of the largest curvature)")
    return SeparabilityResult(groups, score, verdict, M, mode, len(groups) > 1, split, names)


# ---------------------------------------------------------------- symmetry
@dataclass
class SymmetryResult:
    group_a: list
    group_b: list
    score: float                 # median rate of change of the gradient direction
    symmetric: bool
    verdict: str


def _shifted_grads(f, x, output, names):
    """Gradients at x and at x +- h e_b for every variable b (shared by all groups)."""
    x, std = _prepare(x)
    fn, rel = _callable(f, x, output, names)
    h = _steps(std, rel)
    shifted = []
    for b in range(x.shape[1]):
        e = torch.zeros_like(x)
        e[:, b] = h[b]
        shifted.append((_grad(fn, x + e), _grad(fn, x - e)))
    return _grad(fn, x), shifted, h, std


def _direction_change(A, B, grads) -> float:
    """median over rows of max_b ||d(g_A/|g_A|)/dx_b|| * std(x_b) (nan: g_A vanishes)."""
    g0, shifted, h, std = grads
    n0 = g0[:, A].norm(dim=1)
    tiny = 1e-6 * n0.median()
    valid = n0 > tiny
    rates = []
    for b in B:
        gp, gm = shifted[b][0][:, A], shifted[b][1][:, A]
        np_, nm = gp.norm(dim=1, keepdim=True), gm.norm(dim=1, keepdim=True)
        valid &= (np_[:, 0] > tiny) & (nm[:, 0] > tiny)
        diff = gp / np_.clamp_min(1e-300) - gm / nm.clamp_min(1e-300)
        rates.append(diff.norm(dim=1) / (2 * h[b]) * std[b])
    rate = torch.stack(rates, 1).max(1).values
    return float(rate[valid].median()) if valid.any() else float("nan")


def test_symmetry(f, x, group_a: Sequence[int], group_b: Optional[Sequence[int]] = None,
                  threshold: float = 0.1, names: Optional[Sequence[str]] = None,
                  output: int = 0, _grads=None) -> SymmetryResult:
    """Does f depend on the variables of group A only through one combination
    h(x_A), whatever x_B (default: all other variables)?"""
    n = _prepare(x)[0].shape[1]
    names = _names(names, n)
    A = sorted(set(int(i) for i in group_a))
    B = sorted(set(range(n)) - set(A)) if group_b is None else sorted(set(int(i) for i in group_b))
    if not A or any(i < 0 or i >= n for i in A + B):
        raise ValueError(f"groups must hold variable indices 0..{n - 1}")
    if set(A) & set(B):
        raise ValueError("the two groups overlap")
    fa = "(" + ", ".join(names[i] for i in A) + ")"
    if not B:
        return SymmetryResult(A, B, 0.0, True, f"trivial: f depends on {fa} and nothing else")
    if len(A) == 1:
        return SymmetryResult(A, B, 0.0, True, f"trivial: a group of one variable ({names[A[0]]})")
    score = _direction_change(A, B, _grads or _shifted_grads(f, x, output, names))
    ok = score <= threshold          # False for nan
    fb = ", ".join(names[i] for i in B)
    if np.isnan(score):
        verdict = f"cannot test: the gradient with respect to {fa} vanishes"
    elif ok:
        verdict = (f"symmetric: f depends on {fa} only through one combination h{fa} "
                   f"(direction change {score:.2g} <= {threshold:g} when {fb} vary)")
    else:
        verdict = (f"not symmetric in {fa}: the direction of its gradient changes with {fb} "
                   f"(score {score:.2g} > {threshold:g})")
    return SymmetryResult(A, B, score, ok, verdict)


def find_symmetries(f, x, threshold: float = 0.1, names: Optional[Sequence[str]] = None,
                    output: int = 0) -> list[SymmetryResult]:
    """test_symmetry for every pair of variables against all the others, best first."""
    n = _prepare(x)[0].shape[1]
    if n < 3:
        return []
    grads = _shifted_grads(f, x, output, names)
    out = [test_symmetry(f, x, [i, j], None, threshold, names, output, _grads=grads)
           for i, j in itertools.combinations(range(n), 2)]
    return sorted(out, key=lambda r: (not r.symmetric, np.nan_to_num(r.score, nan=np.inf)))


# Not test functions, whatever pytest thinks of names that start with "test_".
for _f in (test_separability, test_symmetry):
    _f.__test__ = False
