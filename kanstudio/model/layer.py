"""One KAN layer: every edge of the layer evaluated at once.

Edge i->j computes  phi_ij(x_i) = w_b[i,j]*silu(x_i) + w_s[i,j]*sum_m c[i,j,m] B_m(x_i)
(numeric edges) or  psi_ij(x_i) = c*f(a*x_i+b)+d  (edges fixed to a symbolic
function).  ``mask`` removes pruned edges, ``sym_mask`` switches an edge from
its spline to its symbolic form.  Two evaluation paths:

* fast path (training without regularisation): one matrix product over the
  flattened (input, basis) axis, no [B, in, out] tensor is materialised;
* edge path: returns the per-edge values [B, in, out] (regularisation,
  attribution scores, drawing).

Symbolic edges are evaluated grouped by function (a Python loop over the few
distinct functions, never over edges) and the branch is skipped entirely when
no edge is fixed.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import nn
import torch.nn.functional as F

from . import spline
from .layer_ops import numeric_edges, numeric_edges_spread

_BASIS_CACHE_LIMIT = 20_000_000  # elements; above this, recompute instead of caching


@dataclass
class EdgeValues:
    """Per-edge quantities of one forward pass (all [B, in, out])."""
    edges: torch.Tensor          # full edge output (numeric + symbolic, masked)
    spline: torch.Tensor         # unscaled spline part of numeric edges (regulariser input)
    symbolic: Optional[torch.Tensor]  # symbolic part only (None when no edge is fixed)


class KANLayer(nn.Module):
    def __init__(self, in_dim: int, out_dim: int, num: int = 5, k: int = 3,
                 noise_scale: float = 0.3, grid_range=(-1.0, 1.0),
                 generator: Optional[torch.Generator] = None,
                 dtype=torch.float64, device=None, init: bool = True):
        super().__init__()
        self.in_dim, self.out_dim, self.num, self.k = in_dim, out_dim, num, k
        fk = dict(dtype=dtype, device=device)
        self.register_buffer("grid", spline.uniform_grid(in_dim, num, k, *grid_range, **fk))
        if init:
            # Small random curves: fit coefficients to noise at the interior knots.
            knots = self.grid[:, k:num + k + 1].T.contiguous()              # [num+1, in]
            noise = (torch.rand(num + 1, in_dim, out_dim, generator=generator, dtype=dtype) - 0.5)
            noise = (noise * noise_scale / num).to(device)
            coef = spline.curve_to_coef(knots, noise, self.grid, k)
            base = (torch.rand(in_dim, out_dim, generator=generator, dtype=dtype) * 2 - 1).to(device)
        else:    # the tensors are about to be loaded: no RNG, no least squares
            coef = torch.zeros(in_dim, out_dim, num + k, **fk)
            base = torch.zeros(in_dim, out_dim, **fk)
        self.coef = nn.Parameter(coef)
        self.scale_base = nn.Parameter(base / in_dim ** 0.5)
        self.scale_sp = nn.Parameter(torch.full((in_dim, out_dim), 1.0 / in_dim ** 0.5, **fk))
        self.register_buffer("mask", torch.ones(in_dim, out_dim, **fk))
        self.register_buffer("sym_mask", torch.zeros(in_dim, out_dim, **fk))
        # Index into self.sym_names (-1 = not fixed); params are (a, b, c, d).
        self.register_buffer("sym_fn", torch.full((in_dim, out_dim), -1, dtype=torch.long, device=device))
        self.sym_params = nn.Parameter(torch.tensor([1.0, 0.0, 1.0, 0.0], **fk).repeat(in_dim, out_dim, 1))
        self.sym_names: list[str] = []
        self._sym_groups = None  # cached [(function, in_idx, out_idx)]
        self._tables = None      # cached knot tables of the current grid
        self._basis_cache = None
        self._weight_cache = None

    # ------------------------------------------------------------------ forward
    @property
    def n_basis(self) -> int:
        return self.num + self.k

    def has_symbolic(self) -> bool:
        return bool(self.sym_names) and bool((self.sym_mask * self.mask).any())

    def numeric_weight(self) -> torch.Tensor:
        """mask * (1 - sym_mask), cached until either buffer changes."""
        key = (self.mask._version, self.sym_mask._version, self.mask.data_ptr(), self.sym_mask.data_ptr())
        c = self._weight_cache
        if c is None or c[0] != key:
            w = self.mask * (1.0 - self.sym_mask)
            c = self._weight_cache = (key, w, bool(self.sym_names) and bool((self.sym_mask * self.mask).any()))
        return c[1]

    def forward(self, x: torch.Tensor, with_edges: bool = False):
        """x [B, in] -> y [B, out] (and EdgeValues when with_edges)."""
        w = self.numeric_weight()
        sym = self._symbolic_edges(x) if self._weight_cache[2] else None
        if not with_edges:
            y = numeric_edges(x, self.coef, self.scale_base, self.scale_sp, w, self.tables(),
                              self._cached_basis(x))
            return y if sym is None else y + sym.sum(1)
        basis = self.basis_t(x)                                                # [in, nb, B]
        spl = torch.einsum("imb,iom->bio", basis, self.coef)                   # [B, in, out]
        edges = w * (self.scale_base * F.silu(x).unsqueeze(-1) + self.scale_sp * spl)
        if sym is not None:
            edges = edges + sym
        return edges.sum(1), EdgeValues(edges=edges, spline=spl * w, symbolic=sym)

    def forward_with_spread(self, x: torch.Tensor):
        """(y [B, out], spread [in, out]) for the regulariser: spread = std over
        the batch of each numeric edge's (unscaled) spline part."""
        w = self.numeric_weight()
        y, spread = numeric_edges_spread(x, self.coef, self.scale_base, self.scale_sp, w, self.tables(),
                                         self._cached_basis(x))
        if self._weight_cache[2]:
            y = y + self._symbolic_edges(x).sum(1)
        return y, spread

    def forward_with_activation_spread(self, x: torch.Tensor):
        """(y [B, out], spread [in, out]): spread = std over the batch of each
        numeric edge's whole activation, scale_base * silu(x) + scale_sp *
        spline(x) (what the KAN reference's default penalty measures; the
        scales and the SiLU branch cannot escape it)."""
        w = self.numeric_weight()
        spl = torch.einsum("imb,iom->bio", self.basis_t(x), self.coef)        # [B, in, out]
        num = w * (self.scale_base * F.silu(x).unsqueeze(-1) + self.scale_sp * spl)
        y = num.sum(1)
        if self._weight_cache[2]:
            y = y + self._symbolic_edges(x).sum(1)
        B = num.shape[0]
        # sqrt(var + tiny): a masked edge (all zeros) has a finite gradient
        var = num.var(0, correction=1) if B > 1 else torch.zeros_like(num[0])
        return y, torch.sqrt(var + 1e-30)

    def tables(self) -> spline.KnotTables:
        # identity, not id(): the tables hold their grid, so it cannot be a reused address
        t = self._tables
        if t is None or t[1].grid is not self.grid or t[0] != self.grid._version:
            t = self._tables = (self.grid._version, spline.knot_tables(self.grid, self.k))
        return t[1]

    def basis_t(self, x: torch.Tensor) -> torch.Tensor:
        """Basis [in, nb, B] of x [B, in] (differentiable in x)."""
        if x.requires_grad:
            return spline.basis_t(x.T, self.tables())
        return self._cached_basis(x)[0].view(self.in_dim, self.n_basis, -1)

    def _cached_basis(self, x: torch.Tensor):
        """(basis [in*nb, B], silu [B, in]) of an input that does not require
        grad, kept while the same tensor comes back (the first layer sees the
        same data on every LBFGS closure call); None when x requires grad."""
        if x.requires_grad:
            return None
        tab = self.tables()
        c = self._basis_cache
        # the tables by identity: a freed KnotTables' id() can come back for new ones
        if c is not None and c[0] is x and c[1] == x._version and c[3] is tab:
            return c[2]
        basis = spline.dense_t(spline.window_t(x.T, tab, False), tab).view(self.in_dim * self.n_basis, -1)
        out = (basis, F.silu(x))
        if basis.numel() <= _BASIS_CACHE_LIMIT:
            self._basis_cache = (x, x._version, out, tab)
        return out

    def _symbolic_edges(self, x: torch.Tensor) -> torch.Tensor:
        """Values of the fixed edges, [B, in, out], zeros elsewhere."""
        from .functions import get_function  # lazy: the library imports sympy

        out = x.new_zeros(x.shape[0], self.in_dim, self.out_dim)
        for name, ii, oo in self._groups():
            p = self.sym_params[ii, oo]                                        # [E, 4]
            xs = x[:, ii]                                                      # [B, E]
            val = p[:, 2] * get_function(name).torch_fn(p[:, 0] * xs + p[:, 1]) + p[:, 3]
            out = out.index_put((torch.arange(x.shape[0], device=x.device)[:, None], ii, oo), val)
        return out

    def _groups(self):
        if self._sym_groups is None:
            active = (self.sym_mask * self.mask) > 0
            groups = []
            for idx, name in enumerate(self.sym_names):
                ii, oo = torch.nonzero(active & (self.sym_fn == idx), as_tuple=True)
                if ii.numel():
                    groups.append((name, ii, oo))
            self._sym_groups = groups
        return self._sym_groups

    def release_basis(self):
        """Forget the cached basis of the last input (its memory)."""
        self._basis_cache = None

    def invalidate(self):
        """Call after changing masks, symbolic assignments or the grid."""
        self._sym_groups = None
        self._tables = None
        self._basis_cache = None
        self._weight_cache = None

    # --------------------------------------------------------------- edits
    @torch.no_grad()
    def set_symbolic(self, i: int, j: int, name: str, params=(1.0, 0.0, 1.0, 0.0)):
        if name not in self.sym_names:
            self.sym_names.append(name)
        self.sym_fn[i, j] = self.sym_names.index(name)
        self.sym_params[i, j] = torch.as_tensor(params, dtype=self.sym_params.dtype)
        self.sym_mask[i, j] = 1.0
        self.invalidate()

    @torch.no_grad()
    def unset_symbolic(self, i: int, j: int):
        self.sym_mask[i, j] = 0.0
        self.sym_fn[i, j] = -1
        self.sym_params[i, j] = torch.tensor([1.0, 0.0, 1.0, 0.0], dtype=self.sym_params.dtype)
        self.invalidate()

    def symbolic_name(self, i: int, j: int) -> Optional[str]:
        idx = int(self.sym_fn[i, j])
        return self.sym_names[idx] if idx >= 0 and self.sym_mask[i, j] > 0 else None

    @torch.no_grad()
    def set_mask(self, i: int, j: int, value: float):
        self.mask[i, j] = value
        self.invalidate()

    # ------------------------------------------------------------ grids
    @torch.no_grad()
    def spline_values(self, x: torch.Tensor) -> torch.Tensor:
        basis = spline.bspline_basis(x, self.grid, self.k, self.tables())
        return torch.einsum("bim,iom->bio", basis, self.coef)

    @torch.no_grad()
    def set_grid(self, new_grid: torch.Tensor, x: torch.Tensor, num: Optional[int] = None):
        """Move to new knots keeping the spline: least squares at samples x."""
        y = self.spline_values(x)
        self.grid = new_grid.contiguous()
        self.invalidate()
        if num is not None:
            self.num = num
        tab = self.tables()          # built once, kept for the training that follows
        # .data keeps the Parameter object (and its requires_grad) alive.
        self.coef.data = spline.curve_to_coef(x, y, self.grid, self.k, tables=tab)

    @torch.no_grad()
    def update_grid_from_samples(self, x: torch.Tensor, eps: float = 0.02):
        self.set_grid(spline.grid_from_samples(x, self.num, self.k, eps), x)

    @torch.no_grad()
    def refine(self, new_num: int, x: torch.Tensor):
        self.set_grid(spline.interpolate_grid(self.grid, self.k, new_num), x, num=new_num)

    # ------------------------------------------------------------- subsets
    @torch.no_grad()
    def subset(self, in_idx, out_idx) -> "KANLayer":
        """A new layer with only the given inputs and outputs (used by pruning)."""
        in_idx = torch.as_tensor(in_idx, dtype=torch.long)
        out_idx = torch.as_tensor(out_idx, dtype=torch.long)
        new = KANLayer.__new__(KANLayer)
        nn.Module.__init__(new)
        new.in_dim, new.out_dim, new.num, new.k = len(in_idx), len(out_idx), self.num, self.k
        new.register_buffer("grid", self.grid[in_idx].clone())
        sel = lambda t: t[in_idx][:, out_idx].clone()  # noqa: E731
        new.coef = nn.Parameter(sel(self.coef))
        new.scale_base = nn.Parameter(sel(self.scale_base))
        new.scale_sp = nn.Parameter(sel(self.scale_sp))
        new.register_buffer("mask", sel(self.mask))
        new.register_buffer("sym_mask", sel(self.sym_mask))
        new.register_buffer("sym_fn", sel(self.sym_fn))
        new.sym_params = nn.Parameter(sel(self.sym_params))
        new.sym_names = list(self.sym_names)
        new._sym_groups = None
        new._tables = None
        new._basis_cache = None
        new._weight_cache = None
        return new

