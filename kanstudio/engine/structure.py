"""Structure of a learned function (KAN 2.0): hypothesis tests, modules, auto-swap.

* ``hessian_matrix``: normalised Hessian H_ij = median_B |d2f/dxi dxj| * std(xi) * std(xj).
  Per-sample gradients come from autograd; the second derivative is a
  central difference of those gradients (step 1e-4*std(xi); 1e-2 in float32).  Exact
  double-backward is not used because a KAN's spline basis carries only a
  first derivative through autograd (its backward treats dB/dx as constant).
* ``test_separability``: additive on f, multiplicative on log|f|; variables are
  grouped into the connected components of {H_ij / max(H) > threshold}.
* ``test_symmetry``: f(x_A, x_B) = g(h(x_A), x_B) iff the direction of grad_A f
  does not depend on x_B; score = median_B max_b ||d(grad_A f/|grad_A f|)/dx_b|| * std(x_b).
* modules: mask edges so that a chain of node groups only talks to itself.
* ``auto_swap``: reorder hidden nodes to lower the connection cost.
* formula hypotheses: fix a function on an edge (or compare a whole formula)
  and compare losses with the unconstrained model.
Every test returns a verdict string; none raises because nothing separates.
"""
from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import sympy
import torch

from .network import KAN

__all__ = ["formula_function", "hessian_matrix", "SeparabilityResult", "test_separability",
           "SymmetryResult", "test_symmetry", "find_symmetries", "ModuleSpec", "parse_module_spec",
           "define_module", "auto_swap", "HypothesisResult", "test_formula_hypothesis",
           "test_output_hypothesis", "module_edges"]


# ---------------------------------------------------------------- callables
def formula_function(expr: sympy.Expr, names: Sequence[str]) -> Callable:
    """A torch callable x[B, n] -> f[B] for a sympy formula over ``names`` (no eval)."""
    from .expr_eval import evaluate_torch
    from .formula import safe_name
    col = {}
    for k, n in enumerate(names):
        col.setdefault(str(n), k)
        col.setdefault(safe_name(n), k)
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


# ---------------------------------------------------------------- modules
@dataclass
class ModuleSpec:
    """A chain of node groups: ``nodes[k]`` are node indices at level start_level + k.

    Text form: groups separated by "->", nodes by commas, e.g. "x1,x2->h0,h1->y".
    A token is an input name (first group at level 0), an output name (a group at
    the output level), "h<k>" / "n<k>" or a plain integer k (node k of that level).
    "@2: 0,1 -> 3" starts the chain at level 2 instead of 0."""
    start_level: int
    nodes: list


def parse_module_spec(text: str, model: KAN) -> ModuleSpec:
    t = text.strip()
    start = 0
    m = re.match(r"^@\s*(\d+)\s*:(.*)$", t, re.S)
    if m:
        start, t = int(m.group(1)), m.group(2)
    groups = [g.strip() for g in t.split("->")]
    if len(groups) < 2 or any(not g for g in groups):
        raise ValueError(f"cannot read module {text!r}: write it like x1,x2->h0,h1")
    if start + len(groups) - 1 > model.depth:
        raise ValueError(f"module {text!r} needs {len(groups)} levels from level {start}, "
                         f"the network has {model.depth + 1}")
    nodes = []
    for k, g in enumerate(groups):
        lvl, idx = start + k, []
        named = model.input_names if lvl == 0 else (model.output_names if lvl == model.depth else [])
        for tok in (s.strip() for s in g.split(",")):
            mm = re.fullmatch(r"[hnxy]?(\d+)", tok)
            if tok in named:
                idx.append(list(named).index(tok))
            elif mm and not (lvl == 0 and tok.startswith("x")):
                idx.append(int(mm.group(1)))
            elif lvl == 0 and re.fullmatch(r"x(\d+)", tok):   # x1 = first input (1-based)
                idx.append(int(tok[1:]) - 1)
            else:
                raise ValueError(f"unknown node {tok!r} at level {lvl} in module {text!r}")
            if not 0 <= idx[-1] < model.n_nodes(lvl):
                raise ValueError(f"node {tok!r} out of range at level {lvl} ({model.n_nodes(lvl)} nodes)")
        nodes.append(sorted(set(idx)))
    return ModuleSpec(start, nodes)


def module_edges(model: KAN, spec: ModuleSpec) -> list[tuple[int, int, int]]:
    """Alive edges (layer, i, j) to mask: between consecutive module levels, edges
    from outside into the module and from the module to outside."""
    out = []
    for k in range(len(spec.nodes) - 1):
        l = spec.start_level + k
        src = set(spec.nodes[k])
        dst = set(spec.nodes[k + 1])
        owner = model.subnode_owner(l + 1)
        mask = model.layers[l].mask
        for i in range(model.n_nodes(l)):
            for j, o in enumerate(owner):
                if (i in src) != (o in dst) and float(mask[i, j]) > 0:
                    out.append((l, i, j))
    return out


def define_module(model: KAN, level_in_nodes: Sequence[int], hidden_nodes_by_level: Sequence[Sequence[int]],
                  start_level: int = 0) -> list[tuple[int, int, int]]:
    """Make the nodes a module, in place; returns the edges it masked (for undo)."""
    spec = ModuleSpec(start_level, [sorted(level_in_nodes)] + [sorted(g) for g in hidden_nodes_by_level])
    edges = module_edges(model, spec)
    for l, i, j in edges:
        model.layers[l].mask[i, j] = 0.0
    model.invalidate()
    return edges


# ---------------------------------------------------------------- auto-swap
def _edge_weights(model: KAN, x) -> list[np.ndarray]:
    """Node-to-node weights [n_nodes(l), n_nodes(l+1)] from the edge scores."""
    from .attribution import edge_scores
    out = []
    for l, e in enumerate(edge_scores(model, x)):
        owner = np.asarray(model.subnode_owner(l + 1))
        w = np.zeros((model.n_nodes(l), model.n_nodes(l + 1)))
        np.add.at(w.T, owner, np.asarray(e).T)
        out.append(w)
    return out


def auto_swap(model: KAN, x, max_sweeps: int = 20):
    """Reorder the nodes of each hidden level (sum nodes among sum nodes, mult
    nodes among mult nodes) to minimise the connection cost
    sum |pos_j - pos_i| * E_ij.  Returns (new model, perms) with perms[level][new] = old."""
    W = _edge_weights(model, x)
    order = [list(range(model.n_nodes(l))) for l in range(model.depth + 1)]

    def pos(level):
        p = np.empty(len(order[level]))
        p[order[level]] = (np.arange(len(order[level])) + 0.5) / len(order[level])
        return p

    def cost_near(level):
        c, p = 0.0, pos(level)
        if level > 0:
            c += float((W[level - 1] * np.abs(pos(level - 1)[:, None] - p[None, :])).sum())
        if level < model.depth:
            c += float((W[level] * np.abs(p[:, None] - pos(level + 1)[None, :])).sum())
        return c

    for _ in range(max_sweeps):
        improved = False
        for lvl in range(1, model.depth):
            n_sum = model.width[lvl][0]
            for a, b in itertools.combinations(range(model.n_nodes(lvl)), 2):
                if (a < n_sum) != (b < n_sum):
                    continue
                before = cost_near(lvl)
                order[lvl][a], order[lvl][b] = order[lvl][b], order[lvl][a]
                if cost_near(lvl) < before - 1e-12 * max(1.0, before):
                    improved = True
                else:
                    order[lvl][a], order[lvl][b] = order[lvl][b], order[lvl][a]
        if not improved:
            break
    from .compiler import remap_model
    arity = [[model.mult_arity[l][o - model.width[l][0]] for o in order[l] if o >= model.width[l][0]]
             for l in range(model.depth + 1)]
    return remap_model(model, model.width, arity, order), order


# ---------------------------------------------------------------- hypotheses
@dataclass
class HypothesisResult:
    hypothesis: str
    loss_reference: float        # unconstrained (model retrained as long), RMSE
    loss_before: float           # constrained, before retraining
    loss_after: float            # constrained, after retraining
    ratio: float                 # loss_after / loss_reference (with a tiny floor)
    supported: bool
    verdict: str
    model: Optional[KAN] = None  # the constrained, retrained model


def _verdict(ratio: float, tol: float) -> tuple[bool, str]:
    change = 100 * (ratio - 1)
    if ratio < 1:
        return True, f"supported: loss changed by {change:+.0f}% (the hypothesis fits better)"
    if ratio <= 1 + tol:
        return True, f"supported: loss changed by {change:+.0f}% (≤ tolerance {100 * tol:.0f}%)"
    if ratio >= 2:
        return False, f"rejected: loss {ratio:.3g}x higher"
    return False, f"rejected: loss changed by {change:+.0f}% (> tolerance {100 * tol:.0f}%)"


def _rmse(model: KAN, x, y) -> float:
    with torch.no_grad():
        return float(torch.sqrt(torch.mean((model(x) - y.reshape(len(y), -1)) ** 2)))


def test_formula_hypothesis(model: KAN, x, y, layer: int, i: int, j: int, name: str, steps: int = 20,
                            tolerance: float = 0.25, x_test=None, y_test=None) -> HypothesisResult:
    """Is edge (layer, i, j) the library function ``name``?  Fix it (a, b, c, d
    fitted to the edge), retrain everything for ``steps`` and compare the RMSE
    with a copy of the model retrained as long without the constraint."""
    from .symbolic import fix
    from .train import fit
    xe, ye = (x, y) if x_test is None else (x_test, y_test)
    floor = 1e-6 * float(torch.as_tensor(y).std()) + 1e-12
    free = model.copy()
    fit(free, x, y, steps=steps, update_grid=False)
    hyp = model.copy()
    fix(hyp, x, layer, i, j, name)
    before = _rmse(hyp, xe, ye)
    fit(hyp, x, y, steps=steps, update_grid=False)
    ref, after = _rmse(free, xe, ye), _rmse(hyp, xe, ye)
    ratio = (after + floor) / (ref + floor)
    ok, text = _verdict(ratio, tolerance)
    return HypothesisResult(f"edge ({layer},{i},{j}) = {name}", ref, before, after, ratio, ok, text, hyp)


def test_output_hypothesis(model: KAN, dataset, expr: sympy.Expr, tolerance: float = 0.25,
                           split: str = "test") -> HypothesisResult:
    """Is the whole output ``expr`` (in the data's variables and units)?  Compares
    the formula's RMSE with the model's on the dataset's ``split`` rows."""
    idx = np.asarray(dataset.test_idx if split == "test" else dataset.train_idx)
    X, Y = np.asarray(dataset.X, dtype=np.float64)[idx], np.asarray(dataset.Y, dtype=np.float64)[idx, 0]
    fn = formula_function(expr, list(dataset.input_names))
    with torch.no_grad():
        pred = fn(torch.as_tensor(X)).numpy()
    f_rmse = float(np.sqrt(np.mean((pred - Y) ** 2))) if np.all(np.isfinite(pred)) else float("inf")
    xt, yt = dataset.tensors(split)
    m_rmse = _rmse(model, xt, yt) * float(abs(np.asarray(dataset.y_scale).reshape(-1)[0]))
    floor = 1e-6 * float(np.std(Y)) + 1e-12
    ratio = (f_rmse + floor) / (m_rmse + floor)
    ok, text = _verdict(ratio, tolerance)
    return HypothesisResult(f"y = {sympy.sstr(expr)}", m_rmse, f_rmse, f_rmse, ratio, ok, text, None)


# Not test functions, whatever pytest thinks of names that start with "test_".
for _f in (test_separability, test_symmetry, test_formula_hypothesis, test_output_hypothesis):
    _f.__test__ = False
