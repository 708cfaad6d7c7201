"""Compiled (numba) CPU kernels: a KAN layer's forward and backward passes,
the B-spline basis, the knot tables and the regulariser.

Torch runs a KAN layer as ~40 small tensor operations per direction, each
with a fixed dispatch cost of several microseconds; on the small networks
scientists fit, that cost, not arithmetic, is the training time.  These
kernels do a whole layer in one call; ``training/fused`` chains them into the
network's loss and gradient.

Each edge's cubic spline is first rewritten, per knot interval, as a cubic in
the interval's local coordinate u (``edge_polys``, from the layer's
polynomial tables spline.KnotTables.rows).  A (sample, input) then costs one
interval search and, per edge, one Horner evaluation; the backward pass
accumulates dL/d(polynomial coefficients), which ``edge_polys_backward``
maps back to the spline coefficients.

Edge i->o of a layer:  phi(x) = wb[i,o] * silu(x) + ws[i,o] * sp_io(x).  With
``spread`` the forward pass also accumulates, per edge, the sums of
(sp - shift) and (sp - shift)^2 over the batch (shift = the first sample's
value: no cancellation of a large mean).

Written for speed under numba's compiler: scalar indexing only (an array
view inside a loop costs an atomic reference count), cubic splines only in
the layer and basis kernels (other orders use the torch path; the knot-table
kernel takes any order), sigmoid computed by the caller (torch and numpy
vectorise exp; numba does not).
The kernels release the GIL, so the GUI thread keeps running, and are cached
on disk after their first compilation.  The basis and knot-table kernels live
in kernels/basis.py, the regulariser's in kernels/loss.py; both are re-exported here.
"""
from __future__ import annotations

import os

import numpy as np

from . import numba_config

try:  # numba is a dependency, but the engine must still work without it
    if os.environ.get("KANSTUDIO_NO_NUMBA"):
        raise ImportError("disabled by KANSTUDIO_NO_NUMBA")
    numba_config.configure()
    from numba import njit
    _HAVE_NUMBA = True
except ImportError:  # pragma: no cover - exercised only where numba is absent
    _HAVE_NUMBA = False

__all__ = ["available", "disable", "edge_polys", "edge_polys_backward", "effective_coefs", "layer_forward", "layer_backward",
           "layer_backward_finish", "residual", "add_cov_grad",
           "spread_variance", "cov_spread", "spread_penalty", "dense_basis", "dense_grad_x", "dense_param_grads", "uniform_basis_t",
           "uniform_grad_x", "uniform_out1_forward", "uniform_out1_backward", "piece_table", "ORDER", "UNIFORM_CONSTS"]

ORDER = 3          # the spline order the kernels are written for

# the uniform-grid kernels' constants C (passed in the data's dtype)
UNIFORM_CONSTS = (0.0, 1.0, 2.0, 1.5, 0.5, 1.0 / 6.0, 2.0 / 3.0, 4.0 ** (1.0 / 3.0), 2.0 / 4.0 ** (2.0 / 3.0))


def available() -> bool:
    return _HAVE_NUMBA


def disable():
    """Stop using the kernels (they failed to build here): the torch paths take over."""
    global _HAVE_NUMBA
    _HAVE_NUMBA = False


if _HAVE_NUMBA:
    # numba caches next to the source file; a frozen app has none (then compile per run)
    _CACHE = os.path.isfile(__file__)
    _jit = njit(cache=_CACHE, nogil=True, error_model="numpy")
    # the layer loops' sums over outputs vectorise only if they may be reassociated
    _jit_fast = njit(cache=_CACHE, nogil=True, error_model="numpy", fastmath={"reassoc", "contract"})

    # the knot tables and the basis kernels (kernels/basis.py) and the loss's (kernels/loss.py), re-exported here
    from .basis import _bisect, dense_basis, dense_grad_x, dense_param_grads, effective_coefs, piece_table, uniform_basis_t, uniform_grad_x, uniform_out1_backward, uniform_out1_forward
    from .loss import add_cov_grad, cov_spread, residual, spread_penalty, spread_variance  # noqa: F401

    @_jit
    def edge_polys(rows, coef, A):
        """A[i, row, d, o]: edge i->o's spline on a table row as a cubic in u,
        sum_d A[..., d, o] u^d, from the coefficients coef [in, out, nb].
        Outputs last: the layer kernels' inner loops run over them."""
        n_in, n_out, nb = coef.shape
        n_rows = rows.shape[1]
        A[:] = 0.0
        for i in range(n_in):
            for row in range(n_rows):
                for r in range(4):
                    m = row - 4 + r          # basis index of slot r (row = interval + 1)
                    if 0 <= m < nb:
                        for d in range(4):
                            q = rows[i, row, 2 + d * 4 + r]
                            if q != 0.0:
                                for o in range(n_out):
                                    A[i, row, d, o] += q * coef[i, o, m]

    @_jit
    def edge_polys_backward(rows, GA, GC):
        """GC [in, out, nb] = d/dcoef of sum(GA * A) (the transpose of edge_polys)."""
        n_in, n_out, nb = GC.shape
        n_rows = rows.shape[1]
        GC[:] = 0.0
        for i in range(n_in):
            for row in range(n_rows):
                for r in range(4):
                    m = row - 4 + r
                    if 0 <= m < nb:
                        for d in range(4):
                            q = rows[i, row, 2 + d * 4 + r]
                            if q != 0.0:
                                for o in range(n_out):
                                    GC[i, o, m] += q * GA[i, row, d, o]

    @njit(cache=_CACHE, nogil=True, inline="always")
    def _transpose(X, XT, row0):
        """XT[row0 + i, b] = X[b, i], in blocks of samples that stay in the L1
        cache while each input's column is read out of them (read column by
        column, a [1000, 20] matrix is fetched from L2 twenty times over)."""
        B, n_in = X.shape
        for b0 in range(0, B, 32):
            b1 = min(B, b0 + 32)
            for i in range(n_in):
                for b in range(b0, b1):
                    XT[row0 + i, b] = X[b, i]

    @njit(cache=_CACHE, nogil=True, inline="always")
    def _locate(X, knots, rows, ustart, uinv_h, POS, U):
        """Every (sample, input)'s table row POS and local coordinate U, both
        [in, B] (input-major: the per-input loops below then run over
        contiguous memory and vectorise).  U first holds the input's column.
        On a uniform grid (ustart / uinv_h [in], else empty) the row and u
        come from a floor; else U is counted against one knot at a time (branch-free,
        vectorised over samples: ~3x faster than a count per sample), or
        bisected on big grids.  Next to a knot the floor may pick the
        neighbouring row: u is then a rounding error outside [0, 1], where
        that row's cubic meets this one's (the spline is continuous)."""
        B, n_in = X.shape
        nk = knots.shape[1]
        last = nk - 1
        _transpose(X, U, 0)
        for i in range(n_in):
            if ustart.shape[0]:
                # u is t's fractional part: no table reads, so this loop vectorises
                t0, ih = ustart[i], uinv_h[i]
                # (typed: literals would make float32 maths float64; float32 holds any knot count)
                zero, top = ih - ih, np.float32(last)
                for b in range(B):
                    t = (U[i, b] - t0) * ih
                    j = np.floor(t)
                    inside = (t >= zero) & (t < top)        # false for NaN: row 0, like the count
                    POS[i, b] = np.int32(j) + 1 if inside else (nk if t >= top else 0)
                    # outside: an all-zero row, u = 0 (NaN stays NaN)
                    U[i, b] = t - j if inside else (zero if t == t else t)
                continue
            if nk > 48:
                for b in range(B):
                    POS[i, b] = _bisect(knots, i, U[i, b])
            else:
                for b in range(B):
                    POS[i, b] = 0
                for j in range(nk):
                    kj = knots[i, j]
                    for b in range(B):
                        POS[i, b] += U[i, b] >= kj
            for b in range(B):
                pos = POS[i, b]
                x = U[i, b]
                u = (x - rows[i, pos, 0]) * rows[i, pos, 1]
                if pos == 0 or pos == nk:   # outside: an all-zero row; its 1/h = 0 (no 0 * inf)
                    u = rows[i, pos, 1] if x == x else x      # NaN stays NaN
                U[i, b] = u

    @_jit_fast
    def layer_forward(X, SILU, knots, rows, ustart, uinv_h, A, wb, ws, Y, POS, U, have_basis, spread, shift, S1, S2):
        """Y[b, o] = sum_i phi_io(X[b, i]).

        POS / U [in, B] receive every (sample, input)'s table row and local
        coordinate (see _locate), or already hold them when ``have_basis`` (an input that
        does not change between calls: the data).  With ``spread``,
        shift / S1 / S2 [in, out] (float64, zeroed) receive the spread sums."""
        B, n_in = X.shape
        n_out = Y.shape[1]
        if not have_basis:
            _locate(X, knots, rows, ustart, uinv_h, POS, U)
        Y[:] = 0.0
        if spread:
            for i in range(n_in):
                pos, u = POS[i, 0], U[i, 0]
                for o in range(n_out):
                    shift[i, o] = ((A[i, pos, 3, o] * u + A[i, pos, 2, o]) * u + A[i, pos, 1, o]) * u + A[i, pos, 0, o]
        if spread and n_out == 1:       # input by input: the sums stay in registers
            for i in range(n_in):
                c, s1, s2 = shift[i, 0], 0.0, 0.0
                for b in range(B):
                    pos, u = POS[i, b], U[i, b]
                    sp = ((A[i, pos, 3, 0] * u + A[i, pos, 2, 0]) * u + A[i, pos, 1, 0]) * u + A[i, pos, 0, 0]
                    Y[b, 0] += wb[i, 0] * SILU[b, i] + ws[i, 0] * sp
                    d = sp - c
                    s1 += d
                    s2 += d * d
                S1[i, 0] = s1
                S2[i, 0] = s2
        elif spread:
            for b in range(B):
                for i in range(n_in):
                    pos, u, s = POS[i, b], U[i, b], SILU[b, i]
                    for o in range(n_out):
                        sp = ((A[i, pos, 3, o] * u + A[i, pos, 2, o]) * u + A[i, pos, 1, o]) * u + A[i, pos, 0, o]
                        Y[b, o] += wb[i, o] * s + ws[i, o] * sp
                        d = sp - shift[i, o]
                        S1[i, o] += d
                        S2[i, o] += d * d
        elif n_out == 1:        # the usual output layer, input by input: no inner loop over outputs
            for i in range(n_in):
                wbi, wsi = wb[i, 0], ws[i, 0]
                for b in range(B):
                    pos, u = POS[i, b], U[i, b]
                    sp = ((A[i, pos, 3, 0] * u + A[i, pos, 2, 0]) * u + A[i, pos, 1, 0]) * u + A[i, pos, 0, 0]
                    Y[b, 0] += wbi * SILU[b, i] + wsi * sp
        else:
            for b in range(B):
                for i in range(n_in):
                    pos, u, s = POS[i, b], U[i, b], SILU[b, i]
                    for o in range(n_out):
                        sp = ((A[i, pos, 3, o] * u + A[i, pos, 2, o]) * u + A[i, pos, 1, o]) * u + A[i, pos, 0, o]
                        Y[b, o] += wb[i, o] * s + ws[i, o] * sp

    @_jit_fast
    def layer_backward(X, SILU, SIG, rows, A, wb, ws, w, POS, U, GY, need_x, reg, greg, centre, xmean, gxc,
                       GX, GA, GSB, GSP, first):
        """Gradients of one layer from GY = dL/dY [B, out], with the rows and
        coordinates of the forward pass.

        GA [in, rows, 4, out], GSB / GSP [in, out] accumulate (zeroed when
        ``first``; the chunks of one batch add up) what layer_backward_finish turns
        into dL/dA (edge_polys_backward maps that to dL/dcoef) and the sums of
        GY * silu(x) and GY * sp times the masks w (dL/dscale_base,
        dL/dscale_sp); GX [B, in] receives dL/dX when ``need_x``
        (SIG = sigmoid(X) gives silu's slope).  With ``reg`` the regulariser's
        terms are added: dL/dsp[b,i,o] += greg[i,o] * (sp - centre[i,o]), and
        through std(X) dL/dX[b,i] += gxc[i] * (X[b,i] - xmean[i])."""
        B, n_in = SILU.shape
        n_out = GY.shape[1]
        if first:
            GA[:] = 0.0
            GSB[:] = 0.0
            GSP[:] = 0.0
        zero = np.zeros(1, dtype=GSB.dtype)[0]   # typed: a float literal would turn float32 sums into float64
        if n_out == 1:
            _one_output_backward(X, SILU, SIG, rows, A, wb, ws, POS, U, GY, need_x, reg, greg, centre, xmean, gxc,
                                 GX, GA, GSB, GSP)
            B = 0                   # (skips the general loop)
        for b in range(B):
            for i in range(n_in):
                pos, u, s = POS[i, b], U[i, b], SILU[b, i]
                u2 = u * u
                u3 = u2 * u
                gx = zero
                gbase = zero
                if reg:
                    for o in range(n_out):
                        sp = ((A[i, pos, 3, o] * u + A[i, pos, 2, o]) * u + A[i, pos, 1, o]) * u + A[i, pos, 0, o]
                        gy = GY[b, o]
                        GSB[i, o] += gy * s
                        GSP[i, o] += gy * sp
                        g = gy * ws[i, o] + greg[i, o] * (sp - centre[i, o])
                        GA[i, pos, 0, o] += g
                        GA[i, pos, 1, o] += g * u
                        GA[i, pos, 2, o] += g * u2
                        GA[i, pos, 3, o] += g * u3
                        # (constants as sums: a float literal would turn float32 maths into float64)
                        gx += g * (A[i, pos, 1, o] + (A[i, pos, 2, o] + A[i, pos, 2, o]) * u
                                   + (A[i, pos, 3, o] + A[i, pos, 3, o] + A[i, pos, 3, o]) * u2)
                        gbase += gy * wb[i, o]
                else:
                    # dL/dA before ws (applied once at the end); GSP then follows from it
                    for o in range(n_out):
                        gy = GY[b, o]
                        GSB[i, o] += gy * s
                        GA[i, pos, 0, o] += gy
                        GA[i, pos, 1, o] += gy * u
                        GA[i, pos, 2, o] += gy * u2
                        GA[i, pos, 3, o] += gy * u3
                    if need_x:
                        for o in range(n_out):
                            gy = GY[b, o]
                            gx += gy * ws[i, o] * (A[i, pos, 1, o] + (A[i, pos, 2, o] + A[i, pos, 2, o]) * u
                                                   + (A[i, pos, 3, o] + A[i, pos, 3, o] + A[i, pos, 3, o]) * u2)
                            gbase += gy * wb[i, o]
                if need_x:
                    # du/dx = 1/h of the row (0 outside the knots)
                    sig = SIG[b, i]                 # silu'(x) = sig (1 + x (1 - sig)) = sig + silu - silu sig
                    gx = gx * rows[i, pos, 1] + gbase * (sig + s - s * sig)
                    if reg:
                        gx += gxc[i] * (X[b, i] - xmean[i])
                    GX[b, i] = gx

    @_jit
    def layer_backward_finish(A, ws, w, reg, GA, GSB, GSP, OSB, OSP):
        """After the last layer_backward of a batch (all are linear in the
        sums, so once for all chunks): without the regulariser and with
        several outputs GA still lacks ws and GSP is sum_b gy * sp = the sum
        over rows and powers of GA * A; both sums times the masks are then
        added to OSB / OSP (dL/dscale_base, dL/dscale_sp)."""
        n_in, n_rows, _, n_out = GA.shape
        if not reg and n_out > 1:
            for i in range(n_in):
                for row in range(n_rows):
                    for d in range(4):
                        for o in range(n_out):
                            GSP[i, o] += GA[i, row, d, o] * A[i, row, d, o]
                            GA[i, row, d, o] *= ws[i, o]
        for i in range(n_in):
            for o in range(n_out):
                OSB[i, o] += GSB[i, o] * w[i, o]
                OSP[i, o] += GSP[i, o] * w[i, o]

    @njit(cache=_CACHE, nogil=True, error_model="numpy", inline="always")
    def _one_output_backward(X, SILU, SIG, rows, A, wb, ws, POS, U, GY, need_x, reg, greg, centre, xmean, gxc,
                             GX, GA, GSB, GSP):
        """layer_backward's loop for a single output, input by input (the
        sums stay in registers; GSP and GA come out whole, with ws)."""
        B, n_in = SILU.shape
        for i in range(n_in):
            # no float literals: they would turn float32 loops into float64
            gsb, gsp = GSB[i, 0], GSP[i, 0]          # (running sums: zeroed by the caller)
            wsi, wbi = ws[i, 0], wb[i, 0]
            if reg:
                gr, ce, xm, gc = greg[i, 0], centre[i, 0], xmean[i], gxc[i]
                for b in range(B):
                    pos, u = POS[i, b], U[i, b]
                    a1, a2, a3 = A[i, pos, 1, 0], A[i, pos, 2, 0], A[i, pos, 3, 0]
                    sp = ((a3 * u + a2) * u + a1) * u + A[i, pos, 0, 0]
                    gy = GY[b, 0]
                    gsb += gy * SILU[b, i]
                    gsp += gy * sp
                    g = gy * wsi + gr * (sp - ce)
                    _scatter_cubic(GA, i, pos, 0, g, u)
                    if need_x:
                        sig, s, x = SIG[b, i], SILU[b, i], X[b, i]
                        d = a1 + ((a2 + a2) + (a3 + a3 + a3) * u) * u
                        GX[b, i] = g * d * rows[i, pos, 1] + gy * wbi * (sig + s - s * sig) + gc * (x - xm)
            else:
                for b in range(B):
                    pos, u = POS[i, b], U[i, b]
                    a1, a2, a3 = A[i, pos, 1, 0], A[i, pos, 2, 0], A[i, pos, 3, 0]
                    gy = GY[b, 0]
                    gsb += gy * SILU[b, i]
                    gsp += gy * (((a3 * u + a2) * u + a1) * u + A[i, pos, 0, 0])
                    g = gy * wsi
                    _scatter_cubic(GA, i, pos, 0, g, u)
                    if need_x:       # silu'(x) = sig (1 + x (1 - sig)) = sig + silu - silu sig
                        sig, s = SIG[b, i], SILU[b, i]
                        d = a1 + ((a2 + a2) + (a3 + a3 + a3) * u) * u
                        GX[b, i] = g * d * rows[i, pos, 1] + gy * wbi * (sig + s - s * sig)
            GSB[i, 0] = gsb
            GSP[i, 0] = gsp

    @njit(cache=_CACHE, nogil=True, inline="always")
    def _scatter_cubic(GA, i, pos, o, g, u):
        """GA[i, pos, d, o] += g u^d."""
        t = g
        GA[i, pos, 0, o] += t
        t *= u
        GA[i, pos, 1, o] += t
        t *= u
        GA[i, pos, 2, o] += t
        t *= u
        GA[i, pos, 3, o] += t

