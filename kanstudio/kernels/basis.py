"""Compiled (numba) B-spline kernels: the dense basis for BLAS products,
the closed-form basis of uniform grids (and a whole single-output layer in
closed form), and the knot tables (which row of a table each sample falls
in).  the kernels package imports (and re-exports) them where numba is available."""
from __future__ import annotations

import math
import os

import numpy as np
from numba import njit

_CACHE = os.path.isfile(__file__)   # no source file (a frozen app): no disk cache
_jit = njit(cache=_CACHE, nogil=True, error_model="numpy")
# fused multiply-adds in the closed-form kernels (~15% faster, rounding only)
_jit_fma = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath={"contract"})


# ------------------------------------------------------------------ knot tables
@njit(cache=_CACHE, nogil=True, inline="never")
def _bisect(knots, i, x):
    lo, hi = 0, knots.shape[1]
    while lo < hi:
        mid = (lo + hi) >> 1
        if knots[i, mid] <= x:
            lo = mid + 1
        else:
            hi = mid
    return lo


@njit(cache=_CACHE, nogil=True, inline="always")
def _count_rows(X, knots, POS):
    """POS[b, i] = number of knots <= X[b, i] (the table row), input by
    input: this order runs ~2.5x faster than locating inside the edge loop."""
    B, n_in = X.shape
    nk = knots.shape[1]
    for i in range(n_in):
        if nk > 48:
            for b in range(B):
                POS[b, i] = _bisect(knots, i, X[b, i])
        else:      # a branch-free count vectorises; faster than bisection on small grids
            for b in range(B):
                x = X[b, i]
                p = 0
                for j in range(nk):
                    p += knots[i, j] <= x
                POS[b, i] = p


@_jit
def effective_coefs(coef, ws, wb, CE, CET):
    """CE [in * nb (+ in), out]: coef [in, out, nb] times ws, input-major
    (the dense basis's row order), then (when CE has the rows) wb; CET
    (when not empty) its transpose, the forward products' operand."""
    n_in, n_out, nb = coef.shape
    with_base = CE.shape[0] > n_in * nb
    for i in range(n_in):
        for m in range(nb):
            for o in range(n_out):
                CE[i * nb + m, o] = coef[i, o, m] * ws[i, o]
        if with_base:
            for o in range(n_out):
                CE[n_in * nb + i, o] = wb[i, o]
    if CET.shape[0]:
        for r in range(CE.shape[0]):
            for o in range(n_out):
                CET[o, r] = CE[r, o]

@_jit
def dense_param_grads(G, GB, coef, ws, w, GC, GSP, GWB):
    """A dense-mode layer's parameter gradients from G = D^T dL/dY (rows
    i * nb + m: dL/d(ws * coef)) and GB = dL/dwb [in, out]: GC = G * ws
    [in, out, nb], GSP = sum_m G * coef * w and GWB = GB * w (w: the masks)."""
    n_in, n_out, nb = coef.shape
    for i in range(n_in):
        for o in range(n_out):
            acc = 0.0
            for m in range(nb):
                g = G[i * nb + m, o]
                GC[i, o, m] = g * ws[i, o]
                acc += g * coef[i, o, m]
            GSP[i, o] = acc * w[i, o]
            GWB[i, o] = GB[i, o] * w[i, o]


@_jit
def dense_basis(X, knots, rows, nb, D, POS, DER, want_der):
    """The basis as a dense matrix in the first in * nb columns of D
    [B, >= in * nb] (further columns are left alone), with every (sample,
    input)'s table row in POS and, when ``want_der``, the 4 non-zero basis
    derivatives in DER [B, in, 4]."""
    B, n_in = X.shape
    top = nb - 1
    nk = knots.shape[1]
    _count_rows(X, knots, POS)
    for b in range(B):
        for c in range(n_in * nb):
            D[b, c] = 0.0
        for i in range(n_in):
            pos = POS[b, i]
            ih = rows[i, pos, 1]
            x = X[b, i]
            u = (x - rows[i, pos, 0]) * ih
            if pos == 0 or pos == nk:       # outside: an all-zero row (no 0 * inf)
                u = ih if x == x else x     # NaN stays NaN
            base = i * nb
            for r in range(4):
                q0, q1 = rows[i, pos, 2 + r], rows[i, pos, 6 + r]
                q2, q3 = rows[i, pos, 10 + r], rows[i, pos, 14 + r]
                # missing functions near the ends hold 0: add at a clamped column
                D[b, base + min(max(pos - 4 + r, 0), top)] += ((q3 * u + q2) * u + q1) * u + q0
                if want_der:
                    DER[b, i, r] = (((q3 + q3 + q3) * u + (q2 + q2)) * u + q1) * ih

@_jit
def dense_grad_x(GD, POS, DER, GX):
    """GX[b, i] += sum_r GD[b, i*nb + column of slot r] * DER[b, i, r]: the
    spline part of dL/dX from dL/dD."""
    B, n_in = GX.shape
    nb = GD.shape[1] // n_in
    top = nb - 1
    for b in range(B):
        for i in range(n_in):
            pos = POS[b, i]
            base = i * nb
            acc = 0.0
            for r in range(4):
                acc += GD[b, base + min(max(pos - 4 + r, 0), top)] * DER[b, i, r]
            GX[b, i] += acc

@njit(cache=_CACHE, nogil=True, inline="always")
def _cardinal_arg(t, fm, two):
    """q = t - m - 2 and s = |q| for basis m (t: x in grid units from the
    first knot): the cardinal cubic N (support [0, 4], symmetric about 2)
    is evaluated at distance s from its centre."""
    q = t - fm - two
    return q, abs(q)

@_jit_fma
def uniform_basis_t(HT, SIGT, start, inv_h, C, nb, TT, DT):
    """The basis of a uniform grid in feature-major layout, from the layer's
    input HT [in, B] (feature-major too; SIGT its sigmoid): TT [in, B]
    receives it in grid units, (x - t_0) / h, rows 0 .. in*nb - 1 of DT
    [in*nb + in, B] the basis and its last in rows silu = x sig (one product
    then gives both parts of the layer).  The uniform kernels take x and
    sig(x) and make silu themselves: no silu array is written and read back.  On uniform knots every B_m is the same cardinal cubic N,
    so each row is one closed-form expression over a contiguous run of
    samples, which the compiler turns into SIMD code: no search, gather or
    scatter, and no division (the 1/6 is a constant).  C: kernels.UNIFORM_CONSTS in
    the data's dtype: with float literals float32 maths would silently
    become float64 and lose half the SIMD width."""
    n_in, B = HT.shape
    zero, one, two, half, sixth, two_thirds = C[0], C[1], C[2], C[4], C[5], C[6]
    for i in range(n_in):
        t0, ih = start[i], inv_h[i]
        for b in range(B):
            x = HT[i, b]
            TT[i, b] = (x - t0) * ih
            DT[n_in * nb + i, b] = x * SIGT[i, b]
        fm = zero
        for m in range(nb):
            row = i * nb + m
            for b in range(B):
                q, s = _cardinal_arg(TT[i, b], fm, two)
                r = two - s
                # N = (2 - s)^3 / 6 on 1 <= s < 2, 2/3 - s^2 + s^3 / 2 on s < 1
                v = r * r * r * sixth if s >= one else s * s * (half * s - one) + two_thirds
                DT[row, b] = v if s < two else zero
            fm += one

@_jit_fma
def uniform_grad_x(TT, SIGT, HT, inv_h, C, nb, GDT, GXT):
    """GXT [in, B] = dL/dx, feature-major, from GDT = dL/dDT
    (uniform_basis_t's layout, TT its inputs in grid units): the basis rows
    times dB_m/dx (recomputed, not stored) plus the silu rows times
    silu'(x) = sig + silu - silu sig (HT: x, SIGT: sigmoid(x), feature-major)."""
    n_in, B = TT.shape
    zero, one, two, three_halves, half = C[0], C[1], C[2], C[3], C[4]
    for i in range(n_in):
        for b in range(B):
            GXT[i, b] = zero
        fm = zero
        for m in range(nb):
            row = i * nb + m
            for b in range(B):
                q, s = _cardinal_arg(TT[i, b], fm, two)
                r = two - s
                # dN/dt = sign(q) dN/ds: -(2 - s)^2 / 2 on 1 <= s < 2, (3s/2 - 2) s on s < 1
                d = math.copysign(half * r * r, -q) if s >= one else (three_halves * s - two) * q
                GXT[i, b] += GDT[row, b] * d if s < two else zero
            fm += one
        ih = inv_h[i]
        for b in range(B):
            sig = SIGT[i, b]
            sl = HT[i, b] * sig
            GXT[i, b] = GXT[i, b] * ih + GDT[n_in * nb + i, b] * (sig + sl - sl * sig)

# the single-output kernels' sums over samples vectorise only if they may be reassociated
_jit_sum = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath={"contract", "reassoc"})


@njit(cache=_CACHE, nogil=True, inline="always")
def _cardinal_parts(q, zero, two, k):
    """a = (2 - |q|)+ and e = k (1 - |q|)+ with k = 4^(1/3): the cardinal
    cubic is N = (a^3 - e^3) / 6 and its slope dN/dq = sign(q) (2 e^2 / k^2
    - a^2 / 2), one expression on all of its support (no branches to select
    between; k saves the multiplication by 4)."""
    s = abs(q)
    return max(two - s, zero), max(k - k * s, zero)

@_jit_sum
def uniform_out1_forward(HT, SIGT, start, inv_h, C, nb, CE, TT, Y):
    """A layer with one output on a uniform grid, in closed form: Y [B, 1] =
    sum_i CE[in*nb + i] silu(x_i) + sum_{i, m} CE[i*nb + m] B_m(x_i), with
    CE [in*(nb+1), 1] in _ceff's layout (coefficients times ws, then wb).
    Inputs feature-major (HT and its sigmoid SIGT [in, B]) and every loop over samples,
    vectorised: no interval search and no table gathers, which an edge
    kernel's per-sample loop cannot avoid.  TT [in, B] receives the inputs
    in grid units, for the backward pass."""
    n_in, B = HT.shape
    zero, one, two, sixth, k = C[0], C[1], C[2], C[5], C[7]
    for b in range(B):
        Y[b, 0] = zero
    for i in range(n_in):
        t0, ih, wb = start[i], inv_h[i], CE[n_in * nb + i, 0]
        for b in range(B):
            x = HT[i, b]
            TT[i, b] = (x - t0) * ih
            Y[b, 0] += wb * (x * SIGT[i, b])
        fm = two                    # basis m is centred on t = m + 2
        for m in range(nb):
            c = CE[i * nb + m, 0] * sixth
            for b in range(B):
                a, e = _cardinal_parts(TT[i, b] - fm, zero, two, k)
                Y[b, 0] += c * (a * a * a - e * e * e)
            fm += one

@_jit_sum
def uniform_out1_backward(TT, SIGT, HT, inv_h, C, nb, CE, GY, need_x, G, GXT, first):
    """uniform_out1_forward's gradients from GY = dL/dY [B, 1]: G [in*(nb+1), 1]
    receives (``first``) or adds the sums over samples of GY times each
    basis function and each silu (dL/dCE); GXT [in, B], when ``need_x``,
    dL/dx feature-major (the basis slopes recomputed, not stored; HT: x,
    SIGT: sigmoid(x))."""
    n_in, B = TT.shape
    zero, one, two, half, sixth, k, two_k2 = C[0], C[1], C[2], C[4], C[5], C[7], C[8]
    if first:
        for r in range(G.shape[0]):
            G[r, 0] = zero
    for i in range(n_in):
        fm = two
        if need_x:
            for b in range(B):
                GXT[i, b] = zero
        for m in range(nb):
            c = CE[i * nb + m, 0]
            g = zero
            if need_x:
                for b in range(B):
                    q = TT[i, b] - fm
                    a, e = _cardinal_parts(q, zero, two, k)
                    a2, e2 = a * a, e * e
                    g += GY[b, 0] * (a2 * a - e2 * e)
                    d = two_k2 * e2 - half * a2
                    GXT[i, b] += c * (d if q >= zero else -d)
            else:
                for b in range(B):
                    a, e = _cardinal_parts(TT[i, b] - fm, zero, two, k)
                    g += GY[b, 0] * (a * a * a - e * e * e)
            G[i * nb + m, 0] += g * sixth
            fm += one
        ih, wb = inv_h[i], CE[n_in * nb + i, 0]
        gs = zero
        for b in range(B):
            sig, gy = SIGT[i, b], GY[b, 0]
            sl = HT[i, b] * sig
            gs += gy * sl
            if need_x:          # silu'(x) = sig + silu - silu sig
                GXT[i, b] = gy * (GXT[i, b] * ih + wb * (sig + sl - sl * sig))
        G[n_in * nb + i, 0] += gs

@_jit
def piece_table(grid, k, vinv, rows):
    """spline._piece_table in one call: rows [in, n_knots+1, 2 + (k+1)^2]
    (zeroed by the caller) with (t_j, 1/h_j, Q[d, r]) on interval j (row
    j + 1), basis_{j-k+r}(x) = sum_d Q[d, r] u^d, u = (x - t_j)/h_j; zero
    for basis functions that do not exist and for zero-length intervals.
    The k+1 pieces come from local Cox-de Boor at k+1 points per interval
    and vinv, the inverse of their Vandermonde matrix (any order k)."""
    n_in, nk = grid.shape
    kk = k + 1
    nb = nk - k - 1
    N = np.zeros(kk + 1)
    vals = np.zeros((kk, kk))                 # [point, r]
    for i in range(n_in):
        for j in range(nk - 1):
            t0, t1 = grid[i, j], grid[i, j + 1]
            h = t1 - t0
            rows[i, j + 1, 0] = t0
            if not h > 0.0:            # holds no x: 1/h and the pieces stay 0
                continue
            for p in range(kk):
                x = t0 + h * (p + 0.5) / kk
                # N[q] holds N_{j-k+q, order} for q = 0..k; order 0 is 1 on interval j only
                for q in range(kk + 1):
                    N[q] = 0.0
                N[k] = 1.0
                for order in range(1, k + 1):
                    for q in range(kk):
                        m = j - k + q
                        v = 0.0
                        if 0 <= m and m + order + 1 < nk:
                            dl = grid[i, m + order] - grid[i, m]
                            dr = grid[i, m + order + 1] - grid[i, m + 1]
                            if dl > 0.0:
                                v += (x - grid[i, m]) / dl * N[q]
                            if dr > 0.0:
                                v += (grid[i, m + order + 1] - x) / dr * N[q + 1]
                        N[q] = v
                for r in range(kk):
                    m = j - k + r
                    vals[p, r] = N[r] if 0 <= m < nb else 0.0
            row = j + 1
            rows[i, row, 1] = 1.0 / h
            for d in range(kk):
                for r in range(kk):
                    acc = 0.0
                    for p in range(kk):
                        acc += vinv[d, p] * vals[p, r]
                    rows[i, row, 2 + d * kk + r] = acc
