"""Compiled (numba) kernels of the loss: the squared error's residual, and
the regulariser (L1 + entropy on the edges' spreads, as in the KAN paper; see docs/architecture.md):
per-edge variances and the penalty with its gradients.  Part of the kernels package,
which imports (and re-exports) them where numba is available."""
from __future__ import annotations

import os

import numpy as np
from numba import njit

_CACHE = os.path.isfile(__file__)   # no source file (a frozen app): no disk cache
_jit = njit(cache=_CACHE, nogil=True, error_model="numpy")


@_jit
def residual(P, Y, scale, G):
    """G = (P - Y) * scale (dL/dP of the mean squared error for scale =
    2 / size); returns sum((P - Y)^2), summed in float64."""
    B, n = P.shape
    sse = 0.0
    for b in range(B):
        for o in range(n):
            d = P[b, o] - Y[b, o]
            sse += d * d
            G[b, o] = d * scale
    return sse


@_jit
def spread_variance(S1, S2, shift, B, VAR, centre):
    """Per-edge variance and mean of the spline parts from layer_forward's
    shifted sums."""
    dof = max(B - 1, 1)
    for i in range(S1.shape[0]):
        for o in range(S1.shape[1]):
            md = S1[i, o] / B
            VAR[i, o] = (S2[i, o] - S1[i, o] * md) / dof
            centre[i, o] = shift[i, o] + md

@_jit
def cov_spread(coef, cov, VAR, CV):
    """Per-edge variance c^T Cov c (and Cov c) of a layer whose input's
    basis covariance cov [in, nb, nb] is known (the data)."""
    n_in, n_out, nb = coef.shape
    for i in range(n_in):
        for o in range(n_out):
            v = 0.0
            for m in range(nb):
                acc = 0.0
                for n in range(nb):
                    acc += cov[i, m, n] * coef[i, o, n]
                CV[i, o, m] = acc
                v += acc * coef[i, o, m]
            VAR[i, o] = v

@_jit
def add_cov_grad(GC, greg, dof, CV):
    """GC [in, out, nb] += greg * dof * CV: the regulariser's spread term of a
    layer whose basis covariance is known, d(c^T Cov c)/dc = 2 Cov c (CV =
    Cov c; greg holds the factor 1/2 with its 1/dof)."""
    n_in, n_out, nb = GC.shape
    for i in range(n_in):
        for o in range(n_out):
            f = greg[i, o] * dof
            for m in range(nb):
                GC[i, o, m] += f * CV[i, o, m]

@_jit
def spread_penalty(X, w, VAR, lamb, l1, ent, greg, xmean, gxc):
    """One layer's term of the regulariser (train.regularization) from the
    per-edge variances VAR [in, out] of the spline parts over the batch,
    and what the backward pass needs.

    A[i,o] = std_b(sp_io) * w[i,o] / (std_b(X[:, i]) + 0.1), R = l1 * sum(A)
    + ent * (row entropy + column entropy).  Returns R; fills greg =
    d(lamb R)/d std / (std * dof) (so dL/dsp_b = greg * (sp_b - mean)),
    and xmean, gxc: the gradient through std(X) is gxc[i] * (X[b, i] - xmean[i])."""
    B, n_in = X.shape
    n_out = w.shape[1]
    dof = max(B - 1, 1)
    std = np.zeros((n_in, n_out))
    a = np.zeros((n_in, n_out))
    den = np.empty(n_in)
    xstd = np.empty(n_in)
    for i in range(n_in):
        m = 0.0
        for b in range(B):
            m += X[b, i]
        m /= B
        v = 0.0
        for b in range(B):
            d = X[b, i] - m
            v += d * d
        xmean[i] = m
        xstd[i] = np.sqrt(v / (B - 1)) if B > 1 else 0.0
        den[i] = xstd[i] + 0.1
        for o in range(n_out):
            if VAR[i, o] > 1e-30:     # round-off can make a zero variance slightly negative
                std[i, o] = np.sqrt(VAR[i, o])
            a[i, o] = std[i, o] * w[i, o] / den[i]
    srow = np.ones(n_out)             # 1 + sum over inputs, per output
    scol = np.ones(n_in)              # 1 + sum over outputs, per input
    for i in range(n_in):
        for o in range(n_out):
            srow[o] += a[i, o]
            scol[i] += a[i, o]
    ln2 = np.log(2.0)
    total = 0.0
    q_row = np.empty((n_in, n_out))
    q_col = np.empty((n_in, n_out))
    qs_row = np.zeros(n_out)
    qs_col = np.zeros(n_in)
    for i in range(n_in):
        for o in range(n_out):
            pr = a[i, o] / srow[o]
            pc = a[i, o] / scol[i]
            lr, lc = np.log2(pr + 1e-4), np.log2(pc + 1e-4)
            total += l1 * a[i, o] - ent * (pr * lr / n_out + pc * lc / n_in)
            # d(-p log2(p + 1e-4))/dp, divided by the count the entropy is averaged over
            q_row[i, o] = -(lr + pr / ((pr + 1e-4) * ln2)) / n_out
            q_col[i, o] = -(lc + pc / ((pc + 1e-4) * ln2)) / n_in
            qs_row[o] += q_row[i, o] * pr
            qs_col[i] += q_col[i, o] * pc
    for i in range(n_in):
        g_den = 0.0
        for o in range(n_out):
            # p = a / S with S = 1 + the sum a belongs to
            d_a = (q_row[i, o] - qs_row[o]) / srow[o] + (q_col[i, o] - qs_col[i]) / scol[i]
            gA = lamb * (l1 + ent * d_a)
            g_den -= gA * a[i, o] / den[i]
            g_std = gA / den[i] * w[i, o]
            greg[i, o] = g_std / (std[i, o] * dof) if std[i, o] > 0.0 else 0.0
        gxc[i] = g_den / (xstd[i] * (B - 1)) if (B > 1 and xstd[i] > 0.0) else 0.0
    return total
