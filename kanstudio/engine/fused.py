"""The training loss and its flat gradient from the compiled layer kernels.

``FusedObjective.evaluate()`` returns (loss, gradient over the optimiser's
flat parameter vector) for a CPU network of cubic splines without symbolic
edges: every fit before symbolification.  It computes the same objective as
the autograd path in train.py (MSE + lamb * regulariser, DESIGN.md section 3)
with one or two kernel calls per layer and direction plus a few numpy
operations, instead of ~100 torch operations and the autograd engine.
train.py picks it where ``supports(model)`` holds and falls back to autograd
otherwise; the two agree to round-off (tests/test_fused.py).

Three ways to run a layer, chosen by its grid and width:
* per edge (kernels.layer_forward / layer_backward): one interval search per
  (sample, input) and a cubic per edge; best for narrow layers, and the only
  one that gathers the regulariser's per-edge spreads;
* dense (kernels.dense_basis + BLAS): the basis as a [B, in * nb] matrix and
  two matrix products per direction; best once a layer has many outputs;
* uniform (kernels.uniform_basis_t + BLAS): on a uniform grid (before any
  grid update) the dense basis in closed form, vectorised over samples.
The regulariser needs per-edge spreads, which only the per-edge way gathers.
"""
from __future__ import annotations

import math
import weakref
from typing import Optional, Sequence

import numpy as np
import torch

from . import kernels
from .network import KAN

__all__ = ["supports", "FusedObjective", "objective_for", "forget", "predict", "set_grads", "warm_up", "DENSE_MIN_OUT"]

DENSE_MIN_OUT = 8        # layers with at least this many outputs use BLAS (measured crossover ~6-10)


def supports(model: KAN) -> bool:
    """True where the fused path computes exactly what autograd would."""
    if not kernels.available() or model.device.type != "cpu":
        return False
    return not any(layer.has_symbolic() or layer.k != kernels.ORDER for layer in model.layers)


def _mm(a: np.ndarray, b: np.ndarray, out: np.ndarray):
    """out = a @ b through torch's BLAS (it honours torch.set_num_threads)."""
    torch.mm(torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(out))
    return out


class _Layer:
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
        self._views: dict = {}

    def refresh(self):
        """Pick up the layer's current knots and masks (they change only
        between steps: grid updates, restored states)."""
        tab = self.layer.tables()
        self.w = self.layer.numeric_weight().numpy()
        a = self.affine            # fixed affines can still be edited between fits (the compiler sets them)
        self.identity = (all(s is None for s in self.affine_slots)
                         and bool((a[0] == 1).all() and (a[1] == 0).all() and (a[2] == 1).all() and (a[3] == 0).all()))
        if tab is not self._tab:
            self._tab = tab
            self.knots = tab.knots.numpy()
            self.rows = tab.rows.numpy()
            self.uniform = tab.uniform
            if tab.uniform:
                self.ustart = tab.start.reshape(-1).numpy()
                self.uinv_h = tab.inv_h.reshape(-1).numpy()
                self.consts = np.array([0, 1, 2, 3, 4, 6, 0.5], dtype=self.ustart.dtype)

    def view(self, p: torch.Tensor) -> np.ndarray:
        """numpy view of a parameter, re-made only when its storage changed
        (the optimiser re-binds parameters; grid updates replace coef)."""
        key = (p.data_ptr(), p.shape)
        v = self._views.get(id(p))
        if v is None or v[0] != key:
            v = self._views[id(p)] = (key, p.detach().numpy())
        return v[1]


class FusedObjective:
    """Loss and gradient of ``model`` on one batch; see the module docstring.

    ``params`` is the optimiser's parameter list (its flat order is the
    gradient's); parameters not in it get no gradient."""

    def __init__(self, model: KAN, params: Sequence[torch.Tensor], lamb: float = 0.0,
                 lamb_l1: float = 1.0, lamb_entropy: float = 2.0):
        self.model = model
        self.params = list(params)
        slots, off = {}, 0
        for p in self.params:
            slots[id(p)] = (off, p.numel())
            off += p.numel()
        self.n = off
        self._shapes = [tuple(p.shape) for p in self.params]
        self.dtype = np.float64 if model.dtype == torch.float64 else np.float32
        self.lamb, self.l1, self.ent = float(lamb), float(lamb_l1), float(lamb_entropy)
        self.layers = [_Layer(model, l, slots) for l in range(model.depth)]
        self.refresh()
        self.last_mse = math.nan
        self.last_reg: Optional[float] = None
        self._e = np.zeros((0, 0), dtype=self.dtype)
        self._x = self._y = self._batch = None
        self._data = None            # the first layer's work on the data: constant across calls
        self._buf: dict = {}

    def refresh(self):
        """Re-read the model's knots and masks: call after anything but the
        parameter values changed (train.py does, before every step)."""
        for L in self.layers:
            L.refresh()

    def set_batch(self, x: torch.Tensor, y: torch.Tensor):
        same = self._batch is not None and x is self._batch[0] and x._version == self._batch[1]
        self._batch = (x, x._version)
        self._x = np.ascontiguousarray(x.detach().numpy(), dtype=self.dtype)
        self._y = np.ascontiguousarray(y.detach().numpy(), dtype=self.dtype)
        if not same:
            self._data = None

    def nbytes(self) -> int:
        """Scratch space held between calls (what keeping the objective costs)."""
        held = [a for a in self._buf.values()]
        if self._data is not None:
            held += [a for a in self._data[1].values() if isinstance(a, np.ndarray)]
        return sum(a.nbytes for a in held)

    def matches(self, model: KAN, params, lamb, lamb_l1, lamb_entropy) -> bool:
        """Whether this objective still describes ``model`` trained over ``params``."""
        return (self.model is model and len(self.layers) == len(model.layers)
                and all(L.layer is layer for L, layer in zip(self.layers, model.layers))
                and len(params) == len(self.params) and all(p is q for p, q in zip(params, self.params))
                and [tuple(p.shape) for p in params] == self._shapes           # grid extension resizes coef
                and (self.lamb, self.l1, self.ent) == (float(lamb), float(lamb_l1), float(lamb_entropy)))

    def _array(self, key, shape, dtype=None):
        """A scratch array reused across calls (its contents are overwritten);
        a fresh one for one-off forwards (key[1] False), which may run on any thread."""
        if not key[1]:
            return np.empty(shape, dtype=dtype or self.dtype)
        a = self._buf.get(key)
        if a is None or a.shape != shape:
            a = self._buf[key] = np.empty(shape, dtype=dtype or self.dtype)
        return a

    # ---------------------------------------------------------------- public
    def evaluate(self) -> tuple[float, np.ndarray]:
        """(loss, gradient): a new gradient array on every call."""
        pred, saved = self._forward(self._x, self.lamb > 0, cache_data=True)
        diff = pred - self._y
        mse = float(np.vdot(diff, diff)) / diff.size
        loss = mse
        reg_grads = [None] * len(self.layers)
        if self.lamb > 0:
            reg, reg_grads = self._regulariser(saved, self._x.shape[0])
            loss += self.lamb * reg
            self.last_reg = reg
        else:
            self.last_reg = None
        self.last_mse = mse
        grad = np.zeros(self.n, dtype=self.dtype)
        g = diff * (2.0 / diff.size)
        for L, sv, rg in zip(reversed(self.layers), reversed(saved), reversed(reg_grads)):
            g = self._backward_layer(L, sv, rg, g, grad)
        return loss, grad

    def rmse(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """RMSE of the network on other data (no gradient, nothing cached)."""
        if self._batch is not None and x is self._batch[0] and x._version == self._batch[1]:
            pred, _ = self._forward(self._x, False, cache_data=True)     # the batch: its basis is cached
        else:
            xs = np.ascontiguousarray(x.detach().numpy(), dtype=self.dtype)
            pred, _ = self._forward(xs, False, cache_data=False, keep=False)
        diff = pred - np.asarray(y.detach().numpy(), dtype=self.dtype).reshape(pred.shape)
        return math.sqrt(float(np.vdot(diff, diff)) / max(diff.size, 1))

    # ---------------------------------------------------------------- forward
    def _forward(self, x: np.ndarray, reg_on: bool, cache_data: bool, keep: bool = True):
        B = x.shape[0]
        saved = []
        h = x
        for L in self.layers:
            layer, l = L.layer, L.l
            tab, w = L._tab, L.w
            wb = L.view(L.p_base) * w
            ws = L.view(L.p_sp) * w
            coef = L.view(L.p_coef)
            n_in, n_out = w.shape
            first = l == 0 and cache_data
            if first and self._data is not None and self._data[0] is tab:
                data = self._data[1]
            else:
                with np.errstate(over="ignore"):      # exp(-x) = inf far left: sig = 0, as it should
                    sig = 1.0 / (1.0 + np.exp(-h))
                data = {"sig": sig, "silu": h * sig}
                if first:
                    self._data = (tab, data)
            sv = {"h": h, "w": w, "wb": wb, "ws": ws, "sig": data["sig"], "silu": data["silu"]}
            key = (l, keep)
            if first:
                s = self._data_forward(L, coef, h, data, sv, reg_on, key)
            elif L.uniform and not reg_on:
                s = self._uniform_forward(L, coef, h, data, sv, key)
            elif n_out >= DENSE_MIN_OUT and not reg_on:
                s = self._dense_forward(L, coef, h, data, sv, l > 0 and keep, key)
            else:
                s = self._edge_forward(L, coef, h, data, sv, reg_on, key)
            nodes, ctx = self._after(L, s)
            sv["ctx"] = ctx
            saved.append(sv)
            h = nodes
        return h, saved

    def _edge_forward(self, L, coef, h, data, sv, reg_on, key):
        B = h.shape[0]
        n_in, n_out = L.n_in, L.n_out
        A = self._array(key + ("A",), (n_in, L.rows.shape[1], n_out, 4))
        kernels.edge_polys(L.rows, coef, A)
        have = "pos" in data
        if not have:
            data["pos"] = np.empty((B, n_in), dtype=np.int64)
            data["u"] = np.empty((B, n_in), dtype=self.dtype)
        s = self._array(key + ("s",), (B, n_out))
        if reg_on:
            shift, S1, S2 = (np.zeros((n_in, n_out)) for _ in range(3))
        else:
            shift = S1 = S2 = _EMPTY2
        kernels.layer_forward(h, data["silu"], L.knots, L.rows, A, sv["wb"], sv["ws"], s, data["pos"],
                              data["u"], have, reg_on, shift, S1, S2)
        sv.update(mode="edge", A=A, pos=data["pos"], u=data["u"])
        if reg_on:
            mean_d = S1 / B
            sv.update(var=(S2 - S1 * mean_d) / max(B - 1, 1), centre=shift + mean_d)
        return s

    def _dense_forward(self, L, coef, h, data, sv, want_der, key):
        B = h.shape[0]
        n_in, n_out, nb = coef.shape
        if "D" not in data:
            # the data's basis is kept with the data; a hidden layer's reuses scratch space
            new = np.empty if L.l == 0 else (lambda shape, dtype: self._array(key + (len(shape), dtype), shape, dtype))
            D = new((B, n_in * nb), dtype=self.dtype)
            pos = new((B, n_in), dtype=np.int64)
            der = new((B, n_in, 4), dtype=self.dtype) if want_der else self._e.reshape(0, 0, 0)
            kernels.dense_basis(h, L.knots, L.rows, nb, D, pos, der, want_der)
            data.update(D=D, pos=pos, der=der)
        ceff = np.ascontiguousarray((coef * sv["ws"][:, :, None]).transpose(0, 2, 1)).reshape(n_in * nb, n_out)
        s = self._array(key + ("s",), (B, n_out))
        _mm(data["D"], ceff, s)
        s += _mm(data["silu"], sv["wb"], self._array(key + ("sb",), (B, n_out)))
        sv.update(mode="dense", D=data["D"], pos=data["pos"], der=data["der"], ceff=ceff, coef=coef)
        return s

    def _data_forward(self, L, coef, h, data, sv, reg_on, key):
        """The first layer sees the same data on every call: its basis (with
        silu columns, one product gives both parts) and, for the regulariser,
        each input's basis covariance are made once; the spreads then come
        from c^T Cov c (float64, as in layer_ops) without touching the batch."""
        B = h.shape[0]
        n_in, n_out, nb = coef.shape
        if "Dd" not in data:
            D = np.empty((B, n_in * (nb + 1)), dtype=self.dtype)
            pos = np.empty((B, n_in), dtype=np.int64)
            kernels.dense_basis(h, L.knots, L.rows, nb, D, pos, self._e.reshape(0, 0, 0), False)
            D[:, n_in * nb:] = data["silu"]
            data["Dd"] = D
        D = data["Dd"]
        ceff = self._array(key + ("ceff",), (n_in * (nb + 1), n_out))
        ceff[:n_in * nb] = (coef * sv["ws"][:, :, None]).transpose(0, 2, 1).reshape(n_in * nb, n_out)
        ceff[n_in * nb:] = sv["wb"]
        s = _mm(D, ceff, self._array(key + ("s",), (B, n_out)))
        sv.update(mode="data", DT=D.T, ceff=ceff, coef=coef)
        if reg_on:
            if "cov" not in data:
                basis = D[:, :n_in * nb].reshape(B, n_in, nb).astype(np.float64)
                basis -= basis.mean(0)
                data["cov"] = np.einsum("bim,bin->imn", basis, basis) / max(B - 1, 1)
            c64 = coef.astype(np.float64)
            cv = np.einsum("iom,imn->ion", c64, data["cov"])                    # Cov c per edge
            sv.update(var=(cv * c64).sum(-1), cv=cv)
        return s

    def _uniform_forward(self, L, coef, h, data, sv, key):
        """DT = [basis rows; silu rows] [in*nb + in, B], so one product gives
        both the spline and the base part (and one more both gradients)."""
        B = h.shape[0]
        n_in, n_out, nb = coef.shape
        if "DT" not in data:
            new = np.empty if L.l == 0 else (lambda shape, dtype: self._array(key + (len(shape), dtype), shape, dtype))
            xt = new((n_in, B), self.dtype)
            xt[:] = h.T
            DT = new((n_in * (nb + 1), B), self.dtype)
            kernels.uniform_basis_t(xt, L.ustart, L.uinv_h, L.consts, nb, DT)
            DT[n_in * nb:] = data["silu"].T
            data.update(DT=DT, XT=xt)
        ceff = self._array(key + ("ceff",), (n_in * (nb + 1), n_out))
        ceff[:n_in * nb] = (coef * sv["ws"][:, :, None]).transpose(0, 2, 1).reshape(n_in * nb, n_out)
        ceff[n_in * nb:] = sv["wb"]
        s = _mm(data["DT"].T, ceff, self._array(key + ("s",), (B, n_out)))
        sv.update(mode="uniform", DT=data["DT"], XT=data["XT"], ceff=ceff, coef=coef)
        return s

    def _after(self, L: _Layer, s: np.ndarray):
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
    def _after_backward(self, L: _Layer, ctx, g: np.ndarray, grad: np.ndarray) -> np.ndarray:
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

    def _backward_layer(self, L: _Layer, sv: dict, rg, g_nodes, grad):
        gs = np.ascontiguousarray(self._after_backward(L, sv["ctx"], g_nodes, grad), dtype=self.dtype)
        h, w = sv["h"], sv["w"]
        need_x = L.l > 0
        if sv["mode"] != "edge":
            gx = self._dense_backward(L, sv, gs, grad, need_x, rg)
        else:
            gx = self._edge_backward(L, sv, rg, gs, grad, need_x)
        if need_x and rg is not None and rg[2] is not None:
            gx += rg[2]
        return gx

    def _edge_backward(self, L, sv, rg, gs, grad, need_x):
        h, w = sv["h"], sv["w"]
        B = h.shape[0]
        n_in, n_out = w.shape
        gx = np.empty((B, n_in), dtype=self.dtype) if need_x else self._e
        GA = self._array((L.l, "GA"), sv["A"].shape)
        gsb = self._array((L.l, "gsb"), (n_in, n_out))
        gsp = self._array((L.l, "gsp"), (n_in, n_out))
        greg, centre = (rg[0], rg[1]) if rg is not None else (self._e, self._e)
        sig = sv["sig"]
        dsilu = sig * (1.0 + h * (1.0 - sig)) if need_x else sv["silu"]
        kernels.layer_backward(sv["silu"], dsilu, L.rows, sv["A"], sv["wb"], sv["ws"], sv["pos"], sv["u"], gs,
                               need_x, rg is not None, greg, centre, gx, GA, gsb, gsp)
        if L.coef_slot is not None:
            off, k = L.coef_slot
            kernels.edge_polys_backward(L.rows, GA, grad[off:off + k].reshape(L.p_coef.shape))
        _put(grad, L.base_slot, gsb * w)
        _put(grad, L.sp_slot, gsp * w)
        return gx

    def _dense_backward(self, L, sv, gs, grad, need_x, rg=None):
        h, w, coef = sv["h"], sv["w"], sv["coef"]
        n_in, n_out, nb = coef.shape
        uniform = sv["mode"] in ("uniform", "data")          # silu rows inside DT
        DT = sv["DT"] if uniform else sv["D"].T
        g_all = _mm(DT, gs, self._array((L.l, "geff"), (DT.shape[0], n_out)))
        # dL/d(coef * ws) in [in, out, nb] layout
        g_eff = g_all[:n_in * nb].reshape(n_in, nb, n_out).transpose(0, 2, 1)
        if L.coef_slot is not None:
            g_coef = g_eff * sv["ws"][:, :, None]
            if rg is not None:          # the spread term: d(c^T Cov c)/dc = 2 Cov c
                g_coef = g_coef + (rg[0] * max(h.shape[0] - 1, 1))[:, :, None] * sv["cv"]
            _put(grad, L.coef_slot, g_coef)
        _put(grad, L.sp_slot, (g_eff * coef).sum(-1) * w)
        g_wb = g_all[n_in * nb:] if uniform else _mm(sv["silu"].T, gs, self._array((L.l, "gsb"), (n_in, n_out)))
        _put(grad, L.base_slot, g_wb * w)
        if not need_x:
            return self._e
        sig = sv["sig"]
        dsilu = sig * (1.0 + h * (1.0 - sig))
        if uniform:
            g_dt = _mm(sv["ceff"], gs.T, self._array((L.l, "gDT"), DT.shape))
            gx = g_dt[n_in * nb:].T * dsilu
            kernels.uniform_grad_x(sv["XT"], L.ustart, L.uinv_h, L.consts, nb, g_dt, gx)
        else:
            gx = _mm(gs, sv["wb"].T, np.empty((h.shape[0], n_in), dtype=self.dtype))
            gx *= dsilu
            g_d = _mm(gs, sv["ceff"].T, self._array((L.l, "gD"), sv["D"].shape))
            kernels.dense_grad_x(g_d, sv["pos"], sv["der"], gx)
        return gx

    # ------------------------------------------------------------ regulariser
    def _regulariser(self, saved, B: int):
        """R (train.regularization) and, per layer, its backward terms
        (greg, centre, dR/dx through std(x)); kernels.spread_penalty."""
        total, out = 0.0, []
        for sv in saved:
            h, w = sv["h"], sv["w"]
            n_in, n_out = w.shape
            greg = np.empty((n_in, n_out))
            xmean, gxc = np.empty(n_in), np.empty(n_in)
            total += kernels.spread_penalty(h, w.astype(np.float64, copy=False), sv["var"], self.lamb,
                                            self.l1, self.ent, greg, xmean, gxc)
            g_xstd = ((h - xmean) * gxc).astype(self.dtype, copy=False) if B > 1 and sv["mode"] == "edge" else None
            centre = sv["centre"].astype(self.dtype, copy=False) if "centre" in sv else None
            out.append((greg.astype(self.dtype, copy=False), centre, g_xstd))
        return float(total), out


_EMPTY2 = np.zeros((0, 0))


def _put(grad: np.ndarray, slot, value: np.ndarray):
    if slot is not None:
        off, k = slot
        grad[off:off + k] = value.reshape(-1)


KEEP_BYTES = 256 * 2 ** 20      # objectives whose scratch space is larger are not kept


def objective_for(model: KAN, params: Sequence[torch.Tensor], lamb: float = 0.0,
                  lamb_l1: float = 1.0, lamb_entropy: float = 2.0) -> "FusedObjective":
    """A FusedObjective for this fit, reusing the one the model's previous fit
    made when it still matches: its scratch arrays (no page faults on tens of
    MB again) and, for the same data tensor, the first layer's basis.  Fits
    call again and again on one model (steps of a schedule, retraining after
    each edit)."""
    old = _KEPT.get(model)
    if old is not None and old.matches(model, params, lamb, lamb_l1, lamb_entropy):
        old.refresh()
        return old
    obj = FusedObjective(model, params, lamb, lamb_l1, lamb_entropy)
    _KEPT[model] = obj
    return obj


def forget(model: KAN):
    """Drop the objective kept for the model, with its scratch space."""
    _KEPT.pop(model, None)


# Kept beside the models, not on them: copies of a model (undo snapshots) must
# not carry scratch space, and it goes when the model does.
_KEPT: "weakref.WeakKeyDictionary[KAN, FusedObjective]" = weakref.WeakKeyDictionary()


def predict(model: KAN, x: torch.Tensor) -> Optional[torch.Tensor]:
    """The network's output from the kernels (no gradient), or None where
    they do not apply (then the caller runs the torch forward)."""
    if x.dtype != model.dtype or x.ndim != 2 or x.shape[1] != model.n_inputs or x.shape[0] == 0:
        return None
    if not supports(model):
        return None
    obj = FusedObjective(model, [])
    xs = np.ascontiguousarray(x.detach().numpy())
    pred, _ = obj._forward(xs, False, cache_data=False, keep=False)
    return torch.from_numpy(np.ascontiguousarray(pred))


def set_grads(params: Sequence[torch.Tensor], grad: np.ndarray):
    """Hand a flat gradient to a torch optimiser: each .grad a view of it."""
    flat = torch.from_numpy(grad)
    off = 0
    for p in params:
        k = p.numel()
        p.grad = flat[off:off + k].view_as(p)
        off += k


def warm_up():
    """Load (the first time: compile) every kernel for both dtypes, so that
    the first real fit does not wait for numba.  Seconds once per install,
    a fraction of a second after that (numba's on-disk cache)."""
    if not kernels.available():
        return
    gen = torch.Generator().manual_seed(0)
    for dtype in ("float64", "float32"):
        m = KAN([2, DENSE_MIN_OUT, 1], grid=3, seed=0, dtype=dtype)    # a dense and a per-edge layer
        x = torch.rand(4, 2, generator=gen).to(m.dtype)
        for lamb in (0.0, 0.01):
            obj = FusedObjective(m, train_params(m), lamb=lamb)
            obj.set_batch(x, x[:, :1])
            obj.evaluate()
            obj.rmse(x, x[:, :1])


def train_params(model: KAN) -> list:
    return [p for p in model.parameters() if p.requires_grad]
