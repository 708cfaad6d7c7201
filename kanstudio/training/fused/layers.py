"""How the fused objective (fused/__init__.py) runs one layer, in each of its ways.

* per edge (kernels.layer_forward / layer_backward): one interval search per
  (sample, input) and a cubic per edge; best for narrow layers, and the only
  way that gathers the regulariser's per-edge spreads of a hidden layer;
* data: the first layer sees the same data on every call, so its dense basis
  (and, for the regulariser, each input's basis covariance) is made once and
  each call is one matrix product per direction;
* dense (kernels.dense_basis + BLAS): the basis as a [B, in * nb] matrix and
  two matrix products per direction; best once a layer has many outputs
  (DENSE_MIN_OUT) and the regulariser is off;
* uniform and out1: on uniform knots (before any grid update), in closed
  form over samples (fused/uniform.py).

``LayerPasses`` is a mixin of FusedObjective: it uses the objective's scratch
arrays (``_array``), dtype and empty placeholder (``_e``).
"""
from __future__ import annotations

import numpy as np
import torch

from ... import kernels
from ...model import KAN

__all__ = ["LayerView", "LayerPasses", "DENSE_MIN_OUT"]

DENSE_MIN_OUT = 8        # layers with at least this many outputs use BLAS (measured crossover ~6-10)


SMALL_MM = 2 ** 17       # multiply-adds: below this a product takes ~10 us, and torch's call ~4 us of it


class LayerView:
    """One layer's tensors as numpy views and where its gradients go."""

    def __init__(self, model: KAN, l: int, slots: dict):
        layer = model.layers[l]
        self.layer, self.l = layer, l
        self.p_coef, self.p_base, self.p_sp = layer.coef, layer.scale_base, layer.scale_sp
        self.coef_slot = slots.get(id(layer.coef))
        self.base_slot = slots.get(id(layer.scale_base))
        self.sp_slot = slots.get(id(layer.scale_sp))
        self.affine = model._affine_refs(l)
        self.affine_slots = [slots.get(id(p)) for p in self.affine]
        n_sum, n_mult = model.width[l + 1]
        self.n_sum = n_sum
        self.mult_ops = model.mult_operands(l + 1) if n_mult else []
        self.n_in, self.n_out = layer.in_dim, layer.out_dim
        self._tab = None
        self._ptrs = None

    def refresh(self):
        """Pick up the layer's current knots and masks (they change only
        between steps: grid updates, restored states)."""
        tab = self.layer.tables()
        self.arrays()
        self.w = self.layer.numeric_weight().numpy()
        # fixed affines can still be edited between fits, also through .data (the
        # compiler sets them), which no version counter sees: look at the values
        # (numpy: this runs before every step, and four torch reductions cost ~40 us)
        self.identity = all(s is None for s in self.affine_slots) and all(
            bool((p.detach().numpy() == v).all()) for p, v in zip(self.affine, (1, 0, 1, 0)))
        if tab is not self._tab:
            self._tab = tab
            self.knots = tab.knots.numpy()
            self.rows = tab.rows.numpy()
            self.uniform = tab.uniform
            self.ustart = self.uinv_h = self.knots[:0, 0]        # (the kernels' "not uniform")
            if tab.uniform:
                self.ustart = tab.start.reshape(-1).numpy()
                self.uinv_h = tab.inv_h.reshape(-1).numpy()
                self.consts = np.array(kernels.UNIFORM_CONSTS, dtype=self.ustart.dtype)

    def arrays(self):
        """Set coef, base, sp: numpy views of the parameters, re-made when
        their storage moved (grid updates and restores replace it, and the
        optimiser re-binds it at its next step)."""
        ptrs = (self.p_coef.data_ptr(), self.p_base.data_ptr(), self.p_sp.data_ptr())
        if ptrs != self._ptrs:
            self._ptrs = ptrs
            self.coef, self.base, self.sp = (p.detach().numpy() for p in (self.p_coef, self.p_base, self.p_sp))



class LayerPasses:
    """Forward and backward passes of one layer (see the module docstring)."""

    def _mm(self, a, b, out: np.ndarray, add: bool = False) -> np.ndarray:
        """out = a @ b (``add``: out += a @ b) through torch's BLAS (it honours
        torch.set_num_threads); small products through numpy's, which costs a
        few microseconds less a call."""
        if a.shape[0] * a.shape[1] * b.shape[1] < SMALL_MM:
            if add:
                out += np.dot(a, b)
                return out
            return np.dot(a, b, out=out)
        ta, tb, to = self._tensor(a), self._tensor(b), self._tensor(out)
        if add:
            to.addmm_(ta, tb)
        else:
            torch.mm(ta, tb, out=to)
        return out

    @staticmethod
    def _mode(L, reg_on: bool) -> str:
        """How a layer after the first runs: BLAS once it is wide (and the
        regulariser, which needs per-edge spreads, is off), else per edge,
        or in closed form with one output on a uniform grid."""
        if reg_on or L.n_out < DENSE_MIN_OUT:
            return "out1" if not reg_on and L.n_out == 1 and L.uniform else "edge"
        return "uniform" if L.uniform else "dense"

    # Parameter-derived tables (masked scales, effective coefficients, edge
    # polynomials) are made once per evaluation, not once per chunk: P is the
    # layer's dict for this evaluation (FusedObjective._prepare).
    def _polys(self, L, P, key):
        if "A" not in P:
            P["A"] = self._array(key + ("A",), (L.n_in, L.rows.shape[1], 4, L.n_out))
            kernels.edge_polys(L.rows, L.coef, P["A"])
        return P["A"]

    def _ceff(self, L, P, key, with_base: bool):
        """[in * nb (+ in), out]: the coefficients times ws, input-major (the
        dense basis's column order), and with_base the wb rows after them."""
        if "ceff" not in P:
            n_in, n_out, nb = L.coef.shape
            rows = n_in * (nb + with_base)
            ceff = self._array(key + ("ceff",), (rows, n_out))
            # with_base: also the forward products' operand, transposed (a contiguous one runs ~8% faster in MKL)
            ceff_t = self._array(key + ("ceffT",), (n_out, rows)) if with_base else self._e
            kernels.effective_coefs(L.coef, P["ws"], P["wb"], ceff, ceff_t)
            P["ceff"], P["ceffT"] = ceff, ceff_t
        return P["ceff"]

    def _edge_forward(self, L, P, h, data, sv, reg_on, key):
        B = h.shape[0]
        n_in, n_out = L.n_in, L.n_out
        A = self._polys(L, P, key)
        have = "pos" in data
        if not have:      # the data's are kept with it; a hidden layer's reuse scratch space
            new = np.empty if L.l == 0 else (lambda shape, dtype: self._array(key + (dtype,), shape, dtype))
            data["pos"] = new((n_in, B), np.int32)
            data["u"] = new((n_in, B), self.dtype)
        s = self._array(key + ("s",), (B, n_out))
        if reg_on:
            shift, S1, S2 = (np.zeros((n_in, n_out)) for _ in range(3))
        else:
            shift = S1 = S2 = _EMPTY2
        kernels.layer_forward(h, data["silu"], L.knots, L.rows, L.ustart, L.uinv_h, A, sv["wb"], sv["ws"], s, data["pos"],
                              data["u"], have, reg_on, shift, S1, S2)
        sv.update(mode="edge", A=A, pos=data["pos"], u=data["u"])
        if reg_on:
            var, centre = np.empty((n_in, n_out)), np.empty((n_in, n_out))
            kernels.spread_variance(S1, S2, shift, B, var, centre)
            sv.update(var=var, centre=centre)
        return s

    def _dense_forward(self, L, P, h, data, sv, want_der, key):
        B = h.shape[0]
        coef = L.coef
        n_in, n_out, nb = coef.shape
        if "D" not in data:
            # the data's basis is kept with the data; a hidden layer's reuses scratch space
            new = np.empty if L.l == 0 else (lambda shape, dtype: self._array(key + (len(shape), dtype), shape, dtype))
            D = new((B, n_in * nb), dtype=self.dtype)
            pos = new((B, n_in), dtype=np.int64)
            der = new((B, n_in, 4), dtype=self.dtype) if want_der else self._e.reshape(0, 0, 0)
            kernels.dense_basis(h, L.knots, L.rows, nb, D, pos, der, want_der)
            data.update(D=D, pos=pos, der=der)
        ceff = self._ceff(L, P, key, False)
        s = self._array(key + ("s",), (B, n_out))
        self._mm(data["D"], ceff, s)
        s += self._mm(data["silu"], sv["wb"], self._array(key + ("sb",), (B, n_out)))
        sv.update(mode="dense", D=data["D"], pos=data["pos"], der=data["der"], ceff=ceff, coef=coef)
        return s

    def _data_forward(self, L, P, h, data, sv, reg_on, key, feature_major: bool = False, rows=slice(None)):
        """The first layer sees the same data on every call: its basis (with
        silu rows, one product gives both parts) and, for the regulariser,
        each input's basis covariance are made once; the spreads then come
        from c^T Cov c (float64, as in layer_ops) without touching the batch.
        h: the whole batch, of which ``rows`` run."""
        coef = L.coef
        n_in, n_out, nb = coef.shape
        D = self._data_forward_basis(L, h, data)[rows]
        B = D.shape[0]
        DT = D.T
        ceff = self._ceff(L, P, key, True)
        sv.update(mode="data", DT=DT, ceff=ceff, coef=coef, out_fm=feature_major)
        if feature_major or B * DT.shape[0] * n_out >= SMALL_MM:
            # s^T = ceff^T DT (as in _uniform_forward), handed on so or transposed
            st = self._mm(P["ceffT"], DT, self._array(key + ("st",), (n_out, B)))
            if feature_major:
                s = st
            else:
                s = self._array(key + ("s",), (B, n_out))
                s[:] = st.T
        else:
            s = np.dot(D, ceff, out=self._array(key + ("s",), (B, n_out)))
        if reg_on:
            if "cov" not in data:
                basis = D[:, :n_in * nb].reshape(B, n_in, nb).astype(np.float64)
                basis -= basis.mean(0)
                data["cov"] = np.einsum("bim,bin->imn", basis, basis) / max(B - 1, 1)
            var, cv = np.empty((n_in, n_out)), np.empty((n_in, n_out, nb))
            kernels.cov_spread(coef, data["cov"], var, cv)
            sv.update(var=var, cv=cv)
        return s

    def _data_forward_basis(self, L, x, data) -> np.ndarray:
        """The first layer's basis of the data x, sample-major [B, in * nb + in]
        with the silu columns last (made once).  The gradient product then is
        g^T D with both operands contiguous, which MKL runs ~1.7x faster than
        the other layouts (the forward product, ceff^T D^T, ~7% slower than
        over a feature-major copy, which would double the memory held)."""
        if "Dd" not in data:
            B, n_in = x.shape
            nb = L.p_coef.shape[2]
            D = np.empty((B, n_in * (nb + 1)), dtype=self.dtype)
            if L.uniform:      # (the closed form is feature-major: a block of rows at a time)
                step = 1 << 16
                for r0 in range(0, B, step):
                    rows = slice(r0, min(B, r0 + step))
                    n = rows.stop - rows.start
                    DT = np.empty((n_in * (nb + 1), n), dtype=self.dtype)
                    kernels.uniform_basis_t(np.ascontiguousarray(x[rows].T), np.ascontiguousarray(data["sig"][rows].T),
                                            L.ustart, L.uinv_h, L.consts, nb, np.empty((n_in, n), dtype=self.dtype), DT)
                    D[rows] = DT.T
            else:
                pos = np.empty((B, n_in), dtype=np.int64)
                kernels.dense_basis(x, L.knots, L.rows, nb, D, pos, self._e.reshape(0, 0, 0), False)
                D[:, n_in * nb:] = data["silu"]
            data["Dd"] = D
        return data["Dd"]

    def _after(self, L: LayerView, s: np.ndarray):
        """Subnode affine, mult products, node affine (network._after_layer)."""
        if L.identity and not L.mult_ops:
            return s, None
        ss, sb, ns, nb = (p.detach().numpy() for p in L.affine)
        s1 = s if L.identity else ss * s + sb
        if L.mult_ops:
            prods = [np.prod(s1[:, ops], axis=1) for ops in L.mult_ops]
            nodes = np.concatenate([s1[:, :L.n_sum], np.stack(prods, axis=1)], axis=1)
        else:
            nodes = s1
        out = nodes if L.identity else ns * nodes + nb
        return out, (s, s1, nodes)

    # -------------------------------------------------------------- backward
    def _after_backward(self, L: LayerView, ctx, g: np.ndarray, grad: np.ndarray) -> np.ndarray:
        if ctx is None:
            return g
        s, s1, nodes = ctx
        ss, sb, ns, nb = (p.detach().numpy() for p in L.affine)
        if not L.identity:
            _put(grad, L.affine_slots[2], (g * nodes).sum(0))
            _put(grad, L.affine_slots[3], g.sum(0))
            g = g * ns
        if L.mult_ops:
            g1 = np.zeros_like(s1)
            g1[:, :L.n_sum] = g[:, :L.n_sum]
            for m, ops in enumerate(L.mult_ops):
                gm = g[:, L.n_sum + m]
                for j in ops:
                    others = [o for o in ops if o != j]
                    g1[:, j] = gm * np.prod(s1[:, others], axis=1)
            g = g1
        if not L.identity:
            _put(grad, L.affine_slots[0], (g * s).sum(0))
            _put(grad, L.affine_slots[1], g.sum(0))
            g = g * ss
        return g

    # A layer's parameter gradients are sums over samples: each backward pass
    # (one per chunk of the batch) adds into the layer's accumulator ``acc``
    # (_new_acc: in the flat gradient where it can), and _finish_layer turns
    # the sums into the gradients once per evaluation.
    def _backward_layer(self, L: LayerView, sv: dict, rg, g_nodes, grad, accs: dict, gx_out=None):
        """dL/d(the layer's input) from dL/d(its nodes); gx_out: where it goes
        (else a new array)."""
        gs = np.ascontiguousarray(self._after_backward(L, sv["ctx"], g_nodes, grad), dtype=self.dtype)
        acc = accs.get(L.l)
        if acc is None:
            acc = accs[L.l] = self._new_acc(L, sv, rg, grad)
        need_x = L.l > 0
        if sv["mode"] == "out1":
            return self._out1_backward(L, sv, gs, acc, need_x, gx_out)
        if sv["mode"] != "edge":
            return self._dense_backward(L, sv, gs, acc, need_x, gx_out)
        if need_x and gx_out is None:     # (used by the layer before, at once)
            gx_out = self._array((L.l, True, "gx"), (gs.shape[0], L.n_in))
        return self._edge_backward(L, sv, rg, gs, acc, gx_out if need_x else None)

    def _new_acc(self, L, sv, rg, grad) -> dict:
        """A layer's zeroed sums for one evaluation, with what finishing them needs."""
        n_in, n_out = L.n_in, L.n_out
        acc = {"mode": sv["mode"], "ws": sv["ws"], "w": sv["w"], "rg": rg, "first": True}
        if sv["mode"] == "edge":
            acc["A"] = sv["A"]           # (the sums are zeroed by the first layer_backward)
            acc["GA"] = self._array((L.l, "GA"), sv["A"].shape)
            acc["gsb"] = self._array((L.l, "gsb"), (n_in, n_out))
            acc["gsp"] = self._array((L.l, "gsp"), (n_in, n_out))
        else:
            uniform = sv["mode"] in ("uniform", "data", "out1")          # silu rows after the basis rows
            rows = n_in * (sv["coef"].shape[2] + 1) if uniform else sv["D"].shape[1]
            if sv["mode"] in ("uniform", "data") and sv["out_fm"]:
                # its output gradient comes feature-major: G^T = g^T DT^T runs faster (uniform ~10%, data ~1.7x)
                acc["GT"], acc["G"] = self._array((L.l, "geffT"), (n_out, rows)), None
            else:
                acc["G"] = self._array((L.l, "geff"), (rows, n_out))
            acc["GB"] = None if uniform else self._array((L.l, "gwb"), (n_in, n_out))
            acc["coef"], acc["cv"] = sv["coef"], sv.get("cv")
        return acc

    def _finish_layer(self, L: LayerView, acc: dict, grad: np.ndarray):
        w, ws = acc["w"], acc["ws"]
        if acc["mode"] == "edge":
            kernels.layer_backward_finish(acc["A"], ws, w, acc["rg"] is not None, acc["GA"], acc["gsb"], acc["gsp"],
                                          self._slot(grad, L, L.base_slot, "osb", w.shape),
                                          self._slot(grad, L, L.sp_slot, "osp", w.shape))
            if L.coef_slot is not None:
                kernels.edge_polys_backward(L.rows, acc["GA"], self._slot(grad, L, L.coef_slot, "", L.p_coef.shape))
            return
        coef = acc["coef"]
        n_in, n_out, nb = coef.shape
        if acc.get("GT") is not None:
            acc["G"] = self._array((L.l, "geff"), acc["GT"].shape[::-1])
            np.copyto(acc["G"], acc["GT"].T)
        g_all = acc["G"]
        g_wb = g_all[n_in * nb:] if acc["GB"] is None else acc["GB"]
        g_coef = self._slot(grad, L, L.coef_slot, "gcoef", coef.shape)
        kernels.dense_param_grads(g_all, g_wb, coef, ws, w, g_coef, self._slot(grad, L, L.sp_slot, "gsp", w.shape),
                                  self._slot(grad, L, L.base_slot, "gsb", w.shape))
        rg = acc["rg"]
        if rg is not None:          # the regulariser's spread term: d(c^T Cov c)/dc = 2 Cov c
            kernels.add_cov_grad(g_coef, rg[0], float(max(self._x.shape[0] - 1, 1)), acc["cv"])

    def _edge_backward(self, L, sv, rg, gs, acc, gx):
        h, w = sv["h"], sv["w"]
        # the regulariser's arrays are float64 whatever the dtype; so are their
        # placeholders, or float32 training compiles this kernel twice (~2 s)
        greg, centre, xmean, gxc = rg if rg is not None else (_EMPTY2, _EMPTY2, self._e1, self._e1)
        kernels.layer_backward(h, sv["silu"], sv["sig"], L.rows, sv["A"], sv["wb"], sv["ws"], w, sv["pos"], sv["u"],
                               gs, gx is not None, rg is not None, greg, centre, xmean, gxc,
                               self._e if gx is None else gx, acc["GA"], acc["gsb"], acc["gsp"], acc["first"])
        acc["first"] = False
        return self._e if gx is None else gx

    def _slot(self, grad, L, slot, name, shape):
        """Where a parameter's gradient goes: its part of the flat gradient,
        or scratch space for a parameter not trained."""
        if slot is None:
            return self._array((L.l, name), shape)
        off, k = slot
        return grad[off:off + k].reshape(shape)

    def _dense_backward(self, L, sv, gs, acc, need_x, gx_out):
        """gs: dL/d(outputs) [B, out], or [out, B] when the layer handed its
        output on feature-major."""
        h = sv["h"]
        n_in, n_out, nb = sv["coef"].shape
        uniform = acc["GB"] is None
        DT = sv["DT"] if uniform else sv["D"].T
        add = not acc["first"]
        acc["first"] = False
        gs_t = gs if sv.get("out_fm") else gs.T           # [out, B]
        gs = gs_t.T
        if acc.get("GT") is not None:
            self._mm(gs_t, DT.T, acc["GT"], add)
        else:
            self._mm(DT, gs, acc["G"], add)
        if not uniform:
            self._mm(sv["silu"].T, gs, acc["GB"], add)
        if not need_x:
            return self._e
        if uniform:
            return self._uniform_grad_x(L, sv, gs_t, gx_out)
        sig = sv["sig"]
        gx = gx_out if gx_out is not None else self._array((L.l, True, "gx"), (gs.shape[0], n_in))
        self._mm(gs, sv["wb"].T, gx)
        gx *= sig * (1.0 + h * (1.0 - sig))
        g_d = self._mm(gs, sv["ceff"].T, self._array((L.l, "gD"), sv["D"].shape))
        kernels.dense_grad_x(g_d, sv["pos"], sv["der"], gx)
        return gx

    # ------------------------------------------------------------ regulariser

_EMPTY2 = np.zeros((0, 0))


def _put(grad: np.ndarray, slot, value: np.ndarray):
    """Add a parameter's gradient (a sum over one chunk's samples) to its slot."""
    if slot is not None:
        off, k = slot
        grad[off:off + k] += value.reshape(-1)

