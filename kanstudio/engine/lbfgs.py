"""L-BFGS with a strong-Wolfe line search over one flat parameter vector.

Same algorithm and defaults as ``torch.optim.LBFGS(line_search_fn="strong_wolfe")``
(two-loop recursion, cubic-interpolation bracketing and zoom of Nocedal &
Wright, Alg. 3.5/3.6), written for small networks where the optimiser's own
bookkeeping, not the model, used to be the cost: the parameters are views
into one flat tensor, so moving to a trial point is one copy instead of a
loop over parameters, scalars stay Python floats, and the history lives in two
preallocated [m, n] matrices.  It only touches the parameters it is given
(frozen ones are never moved).
"""
from __future__ import annotations

import math
from typing import Callable, Sequence

import torch

__all__ = ["FlatLBFGS"]


class FlatLBFGS:
    def __init__(self, params: Sequence[torch.Tensor], lr: float = 1.0, max_iter: int = 20,
                 history_size: int = 10, tolerance_grad: float = 1e-7, tolerance_change: float = 1e-9,
                 max_eval: int | None = None, line_search: bool = True, tolerance_ys: float = 1e-10):
        self.params = [p for p in params]
        if not self.params:
            raise ValueError("FlatLBFGS needs at least one parameter")
        self.lr, self.max_iter, self.m = float(lr), int(max_iter), int(history_size)
        self.max_eval = int(max_eval) if max_eval is not None else self.max_iter * 5 // 4
        self.tol_grad, self.tol_change, self.line_search = tolerance_grad, tolerance_change, line_search
        self.tol_ys = tolerance_ys        # curvature pairs with s.y at or below this are skipped
        ref = self.params[0]
        self.n = sum(p.numel() for p in self.params)
        self.x = torch.empty(self.n, dtype=ref.dtype, device=ref.device)
        self._views: list = []
        self._bind()
        self.S = self.x.new_zeros(self.m, self.n)     # steps s_i (ring buffer)
        self.Y = self.x.new_zeros(self.m, self.n)     # gradient changes y_i
        self.rho: list = [0.0] * self.m
        self.count, self.head = 0, 0                  # stored pairs, next slot
        self.d = None
        self.t = 0.0
        self.prev_g = None
        self.prev_loss = None
        self.h_diag = 1.0
        self.n_iter = 0
        self.func_evals = 0
        self.last_loss = None         # loss where step() left the parameters (None: not evaluated)

    # ------------------------------------------------------------ parameters
    def _bind(self):
        """Make every parameter a view of self.x (copying its current value)."""
        off, views = 0, []
        for p in self.params:
            k = p.numel()
            v = self.x[off:off + k]
            v.copy_(p.detach().reshape(-1))
            p.data = v.view_as(p)
            views.append((p, v.data_ptr()))
            off += k
        self._views = views

    def _ensure_bound(self):
        # Someone may have replaced p.data (grid updates, restoring a state):
        # pick up the new values and re-alias; the curvature pairs stay valid
        # only while the shapes do.
        # (no views at all: release() was called and training goes on)
        if not self._views or any(p.data_ptr() != ptr for p, ptr in self._views):
            if sum(p.numel() for p in self.params) != self.n:
                raise ValueError("parameter shapes changed: make a new optimizer")
            self._bind()

    def release(self):
        """Give every parameter its own storage again (after training: nothing
        outside should see parameters that share one buffer)."""
        for p, ptr in self._views:
            if p.data_ptr() == ptr:
                p.data = p.data.clone()
        self._views = []

    def zero_grad(self, set_to_none: bool = True):
        for p in self.params:
            p.grad = None

    def _flat_grad(self) -> torch.Tensor:
        return torch.cat([p.grad.reshape(-1) if p.grad is not None else p.new_zeros(p.numel())
                          for p in self.params])

    def _evaluate(self, closure) -> tuple[float, torch.Tensor]:
        loss = float(closure().detach())
        self.func_evals += 1
        return loss, self._flat_grad()

    # ------------------------------------------------------------ the step
    def step(self, closure: Callable[[], torch.Tensor]):
        """Up to ``max_iter`` iterations; ``closure`` zeroes grads, computes
        the loss, calls backward and returns the loss.  Returns the loss at
        the start of the step (as torch's LBFGS does); ``last_loss`` is the
        one at the end (a line search that met NaN ends on a NaN point)."""
        self._ensure_bound()
        with torch.enable_grad():
            loss, g = self._evaluate(closure)
        first_loss = loss
        self.last_loss = loss
        evals = 1
        if float(g.abs().max()) <= self.tol_grad:
            return torch.tensor(first_loss, dtype=torch.float64)   # float32 would overflow past 3e38
        it = 0
        while it < self.max_iter:
            it += 1
            self.n_iter += 1
            if self.n_iter == 1:
                d = g.neg()
                self.count, self.head, self.h_diag = 0, 0, 1.0
            else:
                y = g - self.prev_g
                s = self.d * self.t
                ys = float(y.dot(s))
                if ys > self.tol_ys:
                    self.S[self.head].copy_(s)
                    self.Y[self.head].copy_(y)
                    self.rho[self.head] = 1.0 / ys
                    self.head = (self.head + 1) % self.m
                    self.count = min(self.count + 1, self.m)
                    self.h_diag = ys / float(y.dot(y))
                d = self._two_loop(g)
            self.prev_g = g.clone()
            self.prev_loss = loss
            t = min(1.0, 1.0 / float(g.abs().sum())) * self.lr if self.n_iter == 1 else self.lr
            gtd = float(g.dot(d))
            if gtd > -self.tol_change:          # not a descent direction
                break
            x0 = self.x.clone()
            if self.line_search:
                loss, g, t, n_ls = self._strong_wolfe(closure, x0, t, d, loss, g, gtd)
                self.x.copy_(x0.add_(d, alpha=t))
                self.last_loss = loss
            else:
                self.x.add_(d, alpha=t)
                n_ls = 0
                self.last_loss = None
                if it != self.max_iter:
                    with torch.enable_grad():
                        loss, g = self._evaluate(closure)
                    n_ls = 1
                    self.last_loss = loss
            self.d, self.t = d, t
            evals += n_ls
            if it == self.max_iter or evals >= self.max_eval:
                break
            if float(g.abs().max()) <= self.tol_grad:
                break
            if float(d.abs().max()) * abs(t) <= self.tol_change:
                break
            if abs(loss - self.prev_loss) < self.tol_change:
                break
        return torch.tensor(first_loss, dtype=torch.float64)

    def _two_loop(self, g: torch.Tensor) -> torch.Tensor:
        """-H g for the L-BFGS inverse Hessian H, in the compact form of Byrd,
        Nocedal & Schnabel (1994): the same vector as the two-loop recursion,
        from a dozen small matrix operations instead of 4m dot/axpy calls.
        With S, Y the stored pairs (oldest first), R = triu(S Y^T),
        D = diag(S Y^T), gamma = h_diag:
            H g = gamma g + S^T p1 + gamma Y^T p2,
            p2 = -R^-1 (S g),  p1 = R^-T ((D + gamma Y Y^T) R^-1 (S g) - gamma Y g)."""
        c, gamma = self.count, self.h_diag
        if c == 0:
            return g.mul(-gamma)
        order = self._order()
        S, Y = self.S.index_select(0, order), self.Y.index_select(0, order)   # [c, n]
        sy = S @ Y.T
        R = torch.triu(sy)
        sg, yg = S @ g, Y @ g
        v = torch.linalg.solve_triangular(R, sg[:, None], upper=True)[:, 0]
        w = sy.diagonal() * v + gamma * (Y @ (Y.T @ v)) - gamma * yg
        p1 = torch.linalg.solve_triangular(R.T, w[:, None], upper=False)[:, 0]
        hg = torch.addmv(torch.addmv(g.mul(gamma), S.T, p1), Y.T, v, alpha=-gamma)
        return hg.neg_()

    def _order(self) -> torch.Tensor:
        key = (self.head, self.count)
        if getattr(self, "_order_key", None) != key:
            idx = [(self.head - self.count + i) % self.m for i in range(self.count)]
            self._order_idx = torch.tensor(idx, device=self.x.device)
            self._order_key = key
        return self._order_idx

    def _at(self, closure, x0, t, d):
        self.x.copy_(x0)
        self.x.add_(d, alpha=t)
        with torch.enable_grad():
            return self._evaluate(closure)

    def _strong_wolfe(self, closure, x0, t, d, f, g, gtd, c1=1e-4, c2=0.9, max_ls=25, tol_bracket=1e-9):
        """Returns (f, g, t, evaluations) at a step satisfying the strong Wolfe
        conditions (or the best bracket end found)."""
        d_norm = float(d.abs().max())
        f_new, g_new = self._at(closure, x0, t, d)
        evals = 1
        gtd_new = float(g_new.dot(d))
        t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g, gtd
        done = False
        ls_iter = 0
        bracket = None
        while ls_iter < max_ls:
            if f_new > f + c1 * t * gtd or (ls_iter > 1 and f_new >= f_prev):
                bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
                break
            if abs(gtd_new) <= -c2 * gtd:
                bracket = [[t, f_new, g_new, gtd_new]]
                done = True
                break
            if gtd_new >= 0:
                bracket = [[t_prev, f_prev, g_prev, gtd_prev], [t, f_new, g_new, gtd_new]]
                break
            lo_b, hi_b = t + 0.01 * (t - t_prev), t * 10
            t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new, (lo_b, hi_b))
            t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new, gtd_new
            t = t_next
            f_new, g_new = self._at(closure, x0, t, d)
            evals += 1
            gtd_new = float(g_new.dot(d))
            ls_iter += 1
        if bracket is None:       # ran out of evaluations while expanding
            bracket = [[0.0, f, g, gtd], [t, f_new, g_new, gtd_new]]
        if len(bracket) == 1:
            b = bracket[0]
            return b[1], b[2], b[0], evals
        # zoom
        insufficient = False
        low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
        while not done and ls_iter < max_ls:
            if abs(bracket[1][0] - bracket[0][0]) * d_norm < tol_bracket:
                break
            (t0, f0, _, d0), (t1, f1, _, d1) = bracket
            t = _cubic_min(t0, f0, d0, t1, f1, d1)
            b_hi, b_lo = max(t0, t1), min(t0, t1)
            eps = 0.1 * (b_hi - b_lo)
            if min(b_hi - t, t - b_lo) < eps:
                # too close to an end: unless the last try was too, move inside by eps
                if insufficient or t >= b_hi or t <= b_lo:
                    t = b_hi - eps if abs(t - b_hi) < abs(t - b_lo) else b_lo + eps
                    insufficient = False
                else:
                    insufficient = True
            else:
                insufficient = False
            f_new, g_new = self._at(closure, x0, t, d)
            evals += 1
            gtd_new = float(g_new.dot(d))
            ls_iter += 1
            if f_new > f + c1 * t * gtd or f_new >= bracket[low][1]:
                bracket[high] = [t, f_new, g_new, gtd_new]
                low, high = (0, 1) if bracket[0][1] <= bracket[1][1] else (1, 0)
            else:
                if abs(gtd_new) <= -c2 * gtd:
                    done = True
                elif gtd_new * (bracket[high][0] - bracket[low][0]) >= 0:
                    bracket[high] = bracket[low]
                bracket[low] = [t, f_new, g_new, gtd_new]
        b = bracket[low]
        return b[1], b[2], b[0], evals


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None) -> float:
    """Minimiser of the cubic through two points with their slopes, clipped to
    ``bounds`` (default: the interval between the points); bisection when the
    cubic has no real minimiser."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2) if x1 != x2 else math.inf
    disc = d1 * d1 - g1 * g2
    if math.isfinite(disc) and disc >= 0:
        d2 = math.sqrt(disc)
        if x1 <= x2:
            t = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
        else:
            t = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2))
        if math.isfinite(t):
            return min(max(t, lo), hi)
    return (lo + hi) / 2
