"""L-BFGS with a strong-Wolfe line search over one flat parameter vector.

Same algorithm and defaults as ``torch.optim.LBFGS(line_search_fn="strong_wolfe")``
(cubic-interpolation bracketing and zoom of Nocedal & Wright, Alg. 3.5/3.6;
the direction from the compact form of the inverse Hessian, the same vector
as torch's two-loop recursion), written for small networks where the
optimiser's own bookkeeping, not the model, used to be the cost.

The bookkeeping runs in **numpy**: on vectors of 100-10,000 entries an op is
dominated by its fixed cost, ~5 us of dispatch for a torch op against ~1 us for
a numpy one, and an iteration needs a few dozen of them.  The current point
``x`` is one 1-D numpy array; CPU parameters are zero-copy views of it (moving
to a trial point is one in-place write, the model sees it at once), other
devices get a device copy before every evaluation.  Scalars stay Python floats,
the history lives in one preallocated [2m, n] matrix (steps above, gradient
changes below) and the small matrices of the compact form are updated in place
as pairs come and go.  Only the parameters given are touched (frozen ones are
never moved).  Where numba is available the direction and the pair update run
compiled (kernels/lbfgs.py), the numpy methods here being their reference;
the line search lives in line_search.py.
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch

from ..kernels import lbfgs as lbfgs_kernels
from . import line_search
from .flat_params import FlatParams

__all__ = ["FlatLBFGS"]


def _compiled():
    """The compiled bookkeeping (kernels/lbfgs.py), or None: the numpy
    methods below (numba missing, or the kernels were switched off)."""
    return lbfgs_kernels if lbfgs_kernels.available() else None


class FlatLBFGS(FlatParams):
    """L-BFGS over the flat concatenation of ``params`` (in the order given).

    Two ways to evaluate the objective, exactly one per :meth:`step` call:

    * ``step(closure)``: as ``torch.optim.LBFGS``; ``closure()`` zeroes the
      grads, computes the loss, calls ``backward()`` and returns the loss
      tensor.  The gradient is gathered from ``p.grad`` (``None`` counts as
      zeros).
    * ``step(evaluate=fn)``: no autograd.  ``fn()`` takes no arguments, reads
      the parameters from their bound storage (for CPU parameters that is
      ``self.x``, of which they are views) and returns ``(loss, grad)``:
      ``loss`` a float, ``grad`` a *new* 1-D numpy array of length ``n`` in the
      same flat order as the parameters (the optimiser keeps it, so it must not
      be overwritten later).  This is the hook for fused loss-and-gradient
      evaluators.

    ``x`` is a 1-D numpy array in the parameters' dtype (float32 or float64)
    holding the current values; ``release()`` gives every parameter its own
    storage again.  ``last_loss`` is the loss where the last step left the
    parameters, ``func_evals`` counts evaluations and ``n_iter`` iterations.
    """

    def __init__(self, params: Sequence[torch.Tensor], lr: float = 1.0, max_iter: int = 20,
                 history_size: int = 10, tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 max_eval: int | None = None, line_search: bool = True, tolerance_ys: float = 1e-10):
        self._bind_flat(params, "FlatLBFGS")
        self.lr, self.max_iter, self.m = float(lr), int(max_iter), int(history_size)
        self.max_eval = int(max_eval) if max_eval is not None else self.max_iter * 5 // 4
        self.tol_grad, self.tol_change, self.line_search = tolerance_grad, tolerance_change, line_search
        self.tol_ys = tolerance_ys        # curvature pairs with s.y at or below this are skipped
        self._x0 = np.empty_like(self.x)              # line-search origin (reused)
        m = self.m
        self.W = np.zeros((2 * m, self.n), dtype=self.dtype)   # [S; Y] (ring buffer, slot i in rows i, m+i)
        self.S, self.Y = self.W[:m], self.W[m:]       # steps s_i, gradient changes y_i
        # compact-form matrices, in physical slot order (see _add_pair)
        self._Rinv = np.zeros((m, m), dtype=self.dtype)   # R^-1, R = triu(S Y^T) oldest first
        self._YY = np.zeros((m, m), dtype=self.dtype)     # y_i . y_j
        self._D = np.zeros(m, dtype=self.dtype)           # s_i . y_i
        self._coef = np.zeros(2 * m, dtype=self.dtype)    # [p1; gamma p2] (scratch)
        self.rho: list = [0.0] * m
        self.count, self.head = 0, 0                  # stored pairs, next slot
        self.d = None
        self.t = 0.0
        self.prev_g = None
        self.prev_loss = None
        self.h_diag = 1.0
        self.n_iter = 0
        self.func_evals = 0
        self.last_loss = None         # loss where step() left the parameters (None: not evaluated)
        self._closure = self._fn = None   # the objective of the step in progress

    def zero_grad(self, set_to_none: bool = True):
        for p in self.params:
            p.grad = None

    def _flat_grad(self) -> np.ndarray:
        """A new numpy array with the gradients in p.grad (None: zeros)."""
        grads = [p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel()) for p in self.params]
        if self._cpu:
            g = np.empty(self.n, dtype=self.dtype)
            torch.cat(grads, out=torch.from_numpy(g))
            return g
        return torch.cat(grads).cpu().numpy()

    def _eval_closure(self) -> tuple[float, np.ndarray]:
        self._push()
        with torch.enable_grad():
            loss = float(self._closure().detach())
        self.func_evals += 1
        return loss, self._flat_grad()

    def _eval_fn(self) -> tuple[float, np.ndarray]:
        self._push()
        loss, g = self._fn()
        g = np.asarray(g, dtype=self.dtype)
        if g.shape != (self.n,):
            raise ValueError(f"evaluate() returned a gradient of shape {g.shape}, expected ({self.n},)")
        self.func_evals += 1
        return float(loss), g

    # ------------------------------------------------------------ the step
    def step(self, closure: Callable[[], torch.Tensor] | None = None, *,
             evaluate: Callable[[], tuple[float, np.ndarray]] | None = None):
        """Up to ``max_iter`` iterations.  Give exactly one of ``closure``
        (zeroes grads, computes the loss, calls backward and returns the loss)
        or ``evaluate`` (returns ``(loss, grad)``, see the class docstring).
        Returns the loss at the start of the step as a float64 tensor (as
        torch's LBFGS does); ``last_loss`` is the one at the end (a line
        search that met NaN ends on a NaN point)."""
        if (closure is None) == (evaluate is None):
            raise ValueError("FlatLBFGS.step: give exactly one of closure or evaluate")
        self._ensure_bound()
        self._pull()
        if closure is not None:
            self._closure, ev = closure, self._eval_closure
        else:
            self._fn, ev = evaluate, self._eval_fn
        try:
            return self._run(ev)
        finally:
            self._closure = self._fn = None
            self._push()              # the device parameters end where x does

    def _run(self, ev):
        x = self.x
        loss, g = ev()
        first_loss = loss
        self.last_loss = loss
        evals = 1
        if float(np.abs(g).max()) <= self.tol_grad:
            return torch.tensor(first_loss, dtype=torch.float64)   # float32 would overflow past 3e38
        it = 0
        while it < self.max_iter:
            it += 1
            self.n_iter += 1
            if self.n_iter == 1:
                d = -g
                self._reset_history()
            else:
                y = g - self.prev_g
                s = self.d * self.t
                ys = float(y @ s)
                if ys > self.tol_ys:
                    self._add_pair(s, y, ys)
                d = self._direction(g)
            self.prev_g = g               # every evaluation returns a new array
            self.prev_loss = loss
            t = min(1.0, 1.0 / float(np.abs(g).sum())) * self.lr if self.n_iter == 1 else self.lr
            gtd = float(g @ d)
            if gtd > -self.tol_change:          # not a descent direction
                break
            if self.line_search:
                x0 = self._x0
                np.copyto(x0, x)
                loss, g, t, n_ls = self._strong_wolfe(ev, x0, t, d, loss, g, gtd)
                np.multiply(d, t, out=x)
                x += x0
                self.last_loss = loss
            else:
                x += d * t
                n_ls = 0
                self.last_loss = None
                if it != self.max_iter:
                    loss, g = ev()
                    n_ls = 1
                    self.last_loss = loss
            self.d, self.t = d, t
            evals += n_ls
            if it == self.max_iter or evals >= self.max_eval:
                break
            if float(np.abs(g).max()) <= self.tol_grad:
                break
            if float(np.abs(d).max()) * abs(t) <= self.tol_change:
                break
            if abs(loss - self.prev_loss) < self.tol_change:
                break
        return torch.tensor(first_loss, dtype=torch.float64)

    # ------------------------------------------------------------ the direction
    # The compact form needs R^-1 (R = triu(S Y^T) in chronological order),
    # D = diag(S Y^T) and Y Y^T.  They are kept in the ring buffer's physical
    # slot order: a permuted triangular matrix multiplies a permuted vector
    # just as well, so no gather/scatter is ever needed, and empty slots are
    # zero rows and columns.  Appending the newest pair (last in time) adds one
    # column to R^-1: [[A, r], [0, ys]]^-1 = [[A^-1, -A^-1 r / ys], [0, 1 / ys]];
    # dropping the oldest (first in time) keeps the trailing block of R^-1,
    # which is the inverse of R's trailing block: zero its row and column.
    def _reset_history(self):
        self.count, self.head, self.h_diag = 0, 0, 1.0
        self.W.fill(0)
        self._Rinv.fill(0)
        self._YY.fill(0)
        self._D.fill(0)

    def _add_pair(self, s: np.ndarray, y: np.ndarray, ys: float):
        ck = _compiled()
        if ck is None:
            return self._add_pair_numpy(s, y, ys)
        h = self.head
        self.h_diag = float(ck.add_pair(self.W, self._Rinv, self._YY, self._D, h, self.count == self.m,
                                               s, y, ys))
        self.rho[h] = 1.0 / ys
        self.head = (h + 1) % self.m
        self.count = min(self.count + 1, self.m)

    def _direction(self, g: np.ndarray) -> np.ndarray:
        ck = _compiled()
        if ck is None or self.count == 0:
            return self._direction_numpy(g)
        out = np.empty_like(g)
        ck.direction(self.W, self._Rinv, self._YY, self._D, self.h_diag, g, self._coef, out)
        return out

    def _add_pair_numpy(self, s: np.ndarray, y: np.ndarray, ys: float):
        """Store (s, y) in slot ``head`` and update R^-1, D and Y Y^T: one
        [2m, n] matrix-vector product (W y = [S y; Y y]) and m x m updates."""
        m, h = self.m, self.head
        Rinv = self._Rinv
        if self.count == m:              # slot h holds the oldest pair: drop it
            Rinv[h] = 0
            Rinv[:, h] = 0
        self.S[h] = s
        self.Y[h] = y
        self.rho[h] = 1.0 / ys
        self.head = (h + 1) % m
        self.count = min(self.count + 1, m)
        a = self.W @ y
        col = Rinv @ a[:m]               # column h of Rinv is zero: a[h] (= s.y) is ignored
        col *= -1.0 / ys
        col[h] = 1.0 / ys
        Rinv[:, h] = col
        yy = a[m:]
        self._YY[h] = yy
        self._YY[:, h] = yy
        self._D[h] = ys
        self.h_diag = ys / float(yy[h])

    def _direction_numpy(self, g: np.ndarray) -> np.ndarray:
        """-H g for the L-BFGS inverse Hessian H, in the compact form of Byrd,
        Nocedal & Schnabel (1994): the same vector as the two-loop recursion,
        from two [2m, n] matrix-vector products and a few m x m ones instead
        of 4m dot/axpy calls (in numpy, the cheaper of the two at every size).
        With S, Y the stored pairs, R = triu(S Y^T) (oldest first),
        D = diag(S Y^T), gamma = h_diag:
            H g = gamma g + S^T p1 + gamma Y^T p2,
            p2 = -R^-1 (S g),  p1 = R^-T ((D + gamma Y Y^T) R^-1 (S g) - gamma Y g)."""
        gamma = self.h_diag
        if self.count == 0:
            return g * -gamma
        m, Rinv, coef = self.m, self._Rinv, self._coef
        wg = self.W @ g                  # [S g; Y g]
        v = Rinv @ wg[:m]                # -p2
        w = self._YY @ v
        w -= wg[m:]
        w *= gamma
        w += self._D * v
        np.matmul(w, Rinv, out=coef[:m])     # p1 = R^-T w
        np.multiply(v, -gamma, out=coef[m:])
        hg = coef @ self.W
        hg += g * gamma
        return np.negative(hg, out=hg)

    # ------------------------------------------------------------ line search
    def _strong_wolfe(self, ev, x0, t, d, f, g, gtd):
        x = self.x

        def at(t):
            np.multiply(d, t, out=x)
            np.add(x, x0, out=x)
            return ev()
        return line_search.strong_wolfe(at, t, d, f, g, gtd)
