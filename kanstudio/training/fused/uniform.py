"""The fused objective's layers on uniform knots (before any grid update),
in closed form over samples (see fused/layers.py for the other ways):

* uniform (kernels.uniform_basis_t + BLAS): the dense basis in closed form
  and two matrix products per direction, as a wide layer's dense mode;
* out1 (kernels.uniform_out1_*): a layer with one output, in closed form
  with no basis stored.

Their kernels work feature-major ([in, B], every loop over samples
contiguous): a data or uniform layer before them hands its output over that
way (its product's result, no transpose) and takes the gradient back so
(``_hands_feature_major``; sv["fm_in"] / sv["out_fm"]); other inputs are
transposed on the way in and their gradients on the way back.

``UniformPasses`` is a mixin of FusedObjective, beside fused.layers.LayerPasses
(whose _ceff, _mm and accumulators it uses).
"""
from __future__ import annotations

import numpy as np

from ... import kernels

__all__ = ["UniformPasses", "FEATURE_MAJOR"]

FEATURE_MAJOR = ("uniform", "out1")     # the modes whose input is feature-major [in, B]


class UniformPasses:
    """Forward and backward passes of the uniform and out1 modes."""

    @staticmethod
    def _hands_feature_major(L, mode: str, next_mode) -> bool:
        """Whether a layer gives its output to the next feature-major."""
        return next_mode in FEATURE_MAJOR and mode in ("data", "uniform") and L.identity and not L.mult_ops

    def _out1_forward(self, L, P, hT, data, sv, key):
        """hT and data's sig feature-major [in, B] (the kernels make silu)."""
        B = hT.shape[1]
        nb = L.coef.shape[2]
        ceff = self._ceff(L, P, key, True)
        tt = self._array(key + ("TT1",), hT.shape)
        s = self._array(key + ("s",), (B, 1))
        kernels.uniform_out1_forward(hT, data["sig"], L.ustart, L.uinv_h, L.consts, nb, ceff, tt, s)
        sv.update(mode="out1", TT=tt, ceff=ceff, coef=L.coef)
        return s

    def _uniform_forward(self, L, P, hT, data, sv, key, feature_major: bool = False):
        """DT = [basis rows; silu rows] [in*nb + in, B], so one product gives
        both the spline and the base part (and one more both gradients).
        hT and data's sig feature-major [in, B] (the kernels make silu)."""
        B = hT.shape[1]
        coef = L.coef
        n_in, n_out, nb = coef.shape
        if "DT" not in data:
            new = np.empty if L.l == 0 else (lambda shape, dtype: self._array(key + (len(shape), dtype), shape, dtype))
            tt = new((n_in, B), self.dtype)
            DT = new((n_in * (nb + 1), B), self.dtype)
            kernels.uniform_basis_t(hT, data["sig"], L.ustart, L.uinv_h, L.consts, nb, tt, DT)
            data.update(DT=DT, TT=tt)
        ceff = self._ceff(L, P, key, True)
        # s^T = ceff^T DT, then transposed: ~1.5x faster in MKL than DT^T ceff
        st = self._mm(P["ceffT"], data["DT"], self._array(key + ("st",), (n_out, B)))
        sv.update(mode="uniform", DT=data["DT"], TT=data["TT"], ceff=ceff, coef=coef, out_fm=feature_major)
        if feature_major:
            return st
        s = self._array(key + ("s",), (B, n_out))
        s[:] = st.T
        return s

    def _out1_backward(self, L, sv, gs, acc, need_x, gx_out):
        """dL/dx feature-major [in, B] when the layer before handed its output
        so (and takes it back so), else into gx_out (or scratch) as [B, in]."""
        n_in, B = sv["TT"].shape
        gxt = self._array((L.l, True, "gxt"), (n_in, B)) if need_x else self._e.reshape(0, 0)
        kernels.uniform_out1_backward(sv["TT"], sv["sig"], sv["h"], L.uinv_h, L.consts, sv["coef"].shape[2],
                                      sv["ceff"], gs, need_x, acc["G"], gxt, acc["first"])
        acc["first"] = False
        return self._hand_back(L, sv, gxt, gx_out) if need_x else self._e

    def _uniform_grad_x(self, L, sv, gs_t, gx_out):
        """A uniform layer's dL/dx from dL/d(outputs) gs_t [out, B]: the
        basis gradient by BLAS, then the basis slopes (kernels.uniform_grad_x)."""
        DT = sv["DT"]
        g_dt = self._mm(sv["ceff"], gs_t, self._array((L.l, "gDT"), DT.shape))
        gxt = self._array((L.l, True, "gxt"), (L.n_in, DT.shape[1]))
        kernels.uniform_grad_x(sv["TT"], sv["sig"], sv["h"], L.uinv_h, L.consts, sv["coef"].shape[2], g_dt, gxt)
        return self._hand_back(L, sv, gxt, gx_out)

    def _hand_back(self, L, sv, gxt, gx_out):
        """dL/dx, made feature-major, in the layout the layer before handed
        its output in (into gx_out when given: a chunk's part of the batch's)."""
        if sv["fm_in"]:
            if gx_out is None:
                return gxt
            np.copyto(gx_out, gxt)
            return gx_out
        gx = gx_out if gx_out is not None else self._array((L.l, True, "gx"), (gxt.shape[1], gxt.shape[0]))
        np.copyto(gx, gxt.T)
        return gx
