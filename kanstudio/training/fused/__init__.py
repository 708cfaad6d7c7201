"""The training loss and its flat gradient from the compiled layer kernels.

``FusedObjective.evaluate()`` returns (loss, gradient over the optimiser's
flat parameter vector) for a CPU network of cubic splines without symbolic
edges: every fit before symbolification.  It computes the same objective as
the autograd path in training/loop.py (MSE + lamb * regulariser; see docs/architecture.md)
with one or two kernel calls per layer and direction plus a few numpy
operations, instead of ~100 torch operations and the autograd engine.
training/loop.py picks it where ``supports(model)`` holds and falls back to autograd
otherwise; the two agree to round-off (tests/test_fused.py).

Each layer runs in one of four ways chosen by its place, grid and width
(fused/layers.py).  Without the regulariser, big batches run through the
network chunk by chunk (fused/chunks.py; the MSE gradient is a sum over
samples): each chunk's scratch arrays stay in the core's cache instead of
streaming tens of MB through memory several times per call, and the chunks
run on as many threads as torch may use.  A model's objective is kept
between its fits while it still matches (objective_for), and model(x)
without gradient runs through it too (predict).
"""
from __future__ import annotations

import math
import threading
import warnings
import weakref
from typing import Optional, Sequence

import numpy as np
import torch

from ... import kernels
from ..adam import FlatAdam
from ..lbfgs import FlatLBFGS
from .chunks import ChunkPasses, Slot
from .layers import DENSE_MIN_OUT, LayerPasses, LayerView
from .uniform import FEATURE_MAJOR, UniformPasses
from ...model import KAN, install_fast_predict

DTYPES = ("float64", "float32")      # the dtypes the kernels are compiled for

__all__ = ["supports", "FusedObjective", "objective_for", "forget", "predict", "warm_up", "DENSE_MIN_OUT"]



def supports(model: KAN) -> bool:
    """True where the fused path computes exactly what autograd would."""
    if model.device.type != "cpu" or not _kernels_ok("float64" if model.dtype == torch.float64 else "float32"):
        return False
    return not any(layer.has_symbolic() or layer.k != kernels.ORDER for layer in model.layers)


class FusedObjective(ChunkPasses, UniformPasses, LayerPasses):
    """Loss and gradient of ``model`` on one batch; see the module docstring.

    ``params`` is the optimiser's parameter list (its flat order is the
    gradient's); parameters not in it get no gradient."""

    def __init__(self, model: KAN, params: Sequence[torch.Tensor], lamb: float = 0.0,
                 lamb_l1: float = 1.0, lamb_entropy: float = 2.0):
        # weakly: objectives are kept in _KEPT keyed by their model, and a
        # strong reference from the value would keep every model (and its
        # scratch space) alive for ever
        self._model = weakref.ref(model)
        self._n_out = model.width[-1][0] + model.width[-1][1]
        self.params = list(params)
        slots, off = {}, 0
        for p in self.params:
            slots[id(p)] = (off, p.numel())
            off += p.numel()
        self.n = off
        self._shapes = [tuple(p.shape) for p in self.params]
        self.dtype = np.float64 if model.dtype == torch.float64 else np.float32
        self.lamb, self.l1, self.ent = float(lamb), float(lamb_l1), float(lamb_entropy)
        self.layers = [LayerView(model, l, slots) for l in range(model.depth)]
        widest = max(L.n_in * (L.p_coef.shape[2] + 1) for L in self.layers)      # (fixed: see matches)
        row_bytes = widest * np.dtype(self.dtype).itemsize
        self._chunk = max(CHUNK_MIN_ROWS, CHUNK_BYTES // row_bytes)
        self._thread_min = max(CHUNK_MIN_ROWS, THREAD_MIN_BYTES // row_bytes)
        self.refresh()
        self.last_mse = math.nan
        self.last_reg: Optional[float] = None
        self._e = np.zeros((0, 0), dtype=self.dtype)
        self._e1 = np.zeros(0)
        self._x = self._y = self._batch = None
        self._data = None            # the first layer's work on the data: constant across calls
        self._buf: dict = {}
        self._twins: dict = {}       # id(scratch array) -> its torch view
        self._tls = Slot()             # .slot: which chunk thread's scratch space (workers.py)

    def refresh(self):
        """Re-read the model's knots and masks: call after anything but the
        parameter values changed (training/loop.py does, before every step)."""
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
        return (self._model() is model and len(self.layers) == len(model.layers)
                and all(L.layer is layer for L, layer in zip(self.layers, model.layers))
                and len(params) == len(self.params) and all(p is q for p, q in zip(params, self.params))
                and [tuple(p.shape) for p in params] == self._shapes           # grid extension resizes coef
                and (self.lamb, self.l1, self.ent) == (float(lamb), float(lamb_l1), float(lamb_entropy)))

    def _array(self, key, shape, dtype=None):
        """A scratch array reused across calls (its contents are overwritten);
        a fresh one for one-off forwards (key[1] False), which may run on any thread."""
        dtype = dtype or self.dtype
        if not key[1]:
            return np.empty(shape, dtype=dtype)
        full = (key, shape, dtype, self._tls.slot)   # a last, shorter chunk (and each thread) gets its own
        a = self._buf.get(full)
        if a is None:
            a = self._buf[full] = np.empty(shape, dtype=dtype)
            self._twins[id(a)] = torch.from_numpy(a)
        return a

    def _tensor(self, a) -> torch.Tensor:
        """A torch view of a numpy array; the scratch arrays' are made once
        (torch.from_numpy costs ~1.5 us, and a chunk hands ~15 arrays to torch)."""
        if isinstance(a, torch.Tensor):
            return a
        t = self._twins.get(id(a))      # (scratch arrays live as long as the objective: no reused ids)
        return t if t is not None else torch.from_numpy(a)

    # ---------------------------------------------------------------- public
    def evaluate(self) -> tuple[float, np.ndarray]:
        """(loss, gradient): a new gradient array on every call."""
        B = self._x.shape[0]
        self._bind()
        step = B if self.lamb > 0 else self._chunk_rows(B)   # the regulariser needs the whole batch at once
        if step < B:
            return self._evaluate_chunks(step)
        pred, saved = self._forward(self._x, self.lamb > 0, cache_data=True)
        diff = pred - self._y
        mse = float(np.vdot(diff, diff)) / diff.size
        loss = mse
        reg_grads = [None] * len(self.layers)
        if self.lamb > 0:
            reg, reg_grads = self._regulariser(saved, B)
            loss += self.lamb * reg
            self.last_reg = reg
        else:
            self.last_reg = None
        self.last_mse = mse
        grad = np.zeros(self.n, dtype=self.dtype)
        g = diff * (2.0 / diff.size)
        accs: dict = {}
        for L, sv, rg in zip(reversed(self.layers), reversed(saved), reversed(reg_grads)):
            g = self._backward_layer(L, sv, rg, g, grad, accs)
            self._finish_layer(L, accs[L.l], grad)
        return loss, grad

    def rmse(self, x: torch.Tensor, y: torch.Tensor) -> float:
        """RMSE of the network on other data (no gradient, nothing cached)."""
        if self._batch is not None and x is self._batch[0] and x._version == self._batch[1]:
            pred = self.predict(self._x, cache_data=True)     # the batch: its basis is cached
        else:
            pred = self.predict(np.ascontiguousarray(x.detach().numpy(), dtype=self.dtype))
        diff = pred - np.asarray(y.detach().numpy(), dtype=self.dtype).reshape(pred.shape)
        return math.sqrt(float(np.vdot(diff, diff)) / max(diff.size, 1))

    # ---------------------------------------------------------------- forward
    def _data_for(self, x: np.ndarray) -> dict:
        """The first layer's work on the batch x (kept while its knots stay)."""
        L = self.layers[0]
        if self._data is None or self._data[0] is not L._tab:
            # exp capped (no overflow warning far left, where sig is 0 to double precision anyway)
            sig = 1.0 / (1.0 + np.exp(np.minimum(-x, 700.0)))
            self._data = (L._tab, {"sig": sig, "silu": x * sig})
        return self._data[1]

    def _bind(self):
        """Pick up where the parameters' storage is now (once per call, before
        any thread reads the layers' arrays)."""
        for L in self.layers:
            L.arrays()

    def _prepare(self) -> list:
        """Per layer, what one thread's passes of an evaluation share: the
        masked scales now, the tables made from the parameters as the layers
        need them (each thread makes its own: a few tens of microseconds, in
        parallel instead of before the threads start)."""
        return [{"wb": L.base * L.w, "ws": L.sp * L.w} for L in self.layers]

    def _silu(self, h: np.ndarray, key, with_silu: bool = True) -> dict:
        """sigmoid(h) and (``with_silu``) silu(h) of a hidden layer's input:
        torch's sigmoid is one pass (numpy's takes five, with temporaries)."""
        sig = self._array(key + ("sig",), h.shape)
        torch.sigmoid(self._tensor(h), out=self._tensor(sig))
        if not with_silu:
            return {"sig": sig, "silu": None}
        silu = self._array(key + ("silu",), h.shape)
        np.multiply(h, sig, out=silu)
        return {"sig": sig, "silu": silu}

    def _forward(self, x: np.ndarray, reg_on: bool, cache_data: bool, keep: bool = True,
                 prep: Optional[list] = None, start: int = 0, stop: Optional[int] = None, fm: bool = False,
                 rows: Optional[slice] = None):
        """Through layers start .. stop - 1 (x: the input of layer start,
        feature-major [in, B] with ``fm``); ``cache_data``: x is the batch,
        whose first-layer work is kept, and ``rows`` (then) the samples of it
        to run; ``prep``: this thread's _prepare, shared by its chunks.  The output is
        feature-major when the last layer run hands it on so (its sv["out_fm"])."""
        saved = []
        h = x
        prep = prep if prep is not None else self._prepare()
        modes = ["data" if L.l == 0 and cache_data else self._mode(L, reg_on) for L in self.layers] + [None]
        for L, P in zip(self.layers[start:stop], prep[start:stop]):
            l = L.l
            w = L.w
            mode = modes[l]
            key = (l, keep)
            if mode in FEATURE_MAJOR and not fm:
                h = self._transposed(h, key)
            if mode == "data":
                data = self._data_for(h)
            else:
                data = self._silu(h, key, mode not in FEATURE_MAJOR)       # (those kernels make silu)
            sv = {"h": h, "w": w, "wb": P["wb"], "ws": P["ws"], "sig": data["sig"], "silu": data["silu"], "fm_in": fm}
            if mode == "data" and rows is not None:
                sv.update(h=h[rows], sig=data["sig"][rows], silu=data["silu"][rows])
            hand_fm = self._hands_feature_major(L, mode, modes[l + 1])
            if mode == "data":
                s = self._data_forward(L, P, h, data, sv, reg_on, key, hand_fm, rows or slice(None))
            elif mode == "uniform":
                s = self._uniform_forward(L, P, h, data, sv, key, hand_fm)
            elif mode == "out1":
                s = self._out1_forward(L, P, h, data, sv, key)
            elif mode == "dense":
                s = self._dense_forward(L, P, h, data, sv, l > 0 and keep, key)
            else:
                s = self._edge_forward(L, P, h, data, sv, reg_on, key)
            nodes, ctx = self._after(L, s)
            sv["ctx"] = ctx
            saved.append(sv)
            h, fm = nodes, hand_fm
        return h, saved

    def _transposed(self, h: np.ndarray, key) -> np.ndarray:
        """h [B, in] copied feature-major [in, B], for the kernels that read it so."""
        hT = self._array(key + ("hT",), (h.shape[1], h.shape[0]))
        np.copyto(hT, h.T)
        return hT

    def _regulariser(self, saved, B: int):
        """R (train.regularization) and, per layer, what its backward pass
        needs: (greg, centre, xmean, gxc), see kernels.layer_backward."""
        total, out = 0.0, []
        for sv in saved:
            n_in, n_out = sv["w"].shape
            greg = np.empty((n_in, n_out))
            xmean, gxc = np.empty(n_in), np.empty(n_in)
            total += kernels.spread_penalty(sv["h"], sv["w"], sv["var"], self.lamb, self.l1, self.ent,
                                            greg, xmean, gxc)
            out.append((greg, sv.get("centre", self._e), xmean, gxc))
        return float(total), out



# A chunk's widest basis.  Each chunk costs a few tenths of a millisecond of
# Python and small calls (run with cold caches), and with two threads those
# calls also wait for each other's GIL; at 1 MiB (the basis in a 2 MB L2) a
# [10,20,20,1] Adam step took 14-22% longer than at 3 MiB on 2 threads, 12%
# on one (and 3 MiB was about as fast or faster on the other networks
# measured, float32 and float64, uniform and adapted grids).
CHUNK_BYTES = 3 * 2 ** 20
THREAD_MIN_BYTES = 2 ** 20    # less than this much basis per thread: one thread (a handoff costs ~0.1 ms)
CHUNK_MIN_ROWS = 256
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
    return torch.from_numpy(np.ascontiguousarray(obj.predict(np.ascontiguousarray(x.detach().numpy()))))


install_fast_predict(predict)


def _kernels_ok(dtype: str) -> bool:
    ok = _KERNELS_OK.get(dtype)
    return ok if ok is not None else warm_up((dtype,))


def warm_up(dtypes: Sequence[str] = DTYPES) -> bool:
    """Load (the first time: compile) every kernel for these dtypes, so
    that a fit does not wait for numba midway: 15-20 s per dtype once per
    install here, a fraction of a second after that (numba's on-disk cache).
    A fit probes its own dtype only (a one-off float64 fit does not wait for
    the float32 build).  While a dtype's probe runs, fits in it use autograd
    (the GUI's warm-up runs in the background) and other callers of warm_up
    wait for it.  Where the kernels cannot be built (a numba or platform
    problem) they are switched off, with a warning, and training uses
    autograd.  Returns whether they work for all of ``dtypes``."""
    with _PROBE_LOCK:
        todo = [d for d in dtypes if d not in _KERNELS_OK]
        for d in todo:
            _KERNELS_OK[d] = False     # while the probe runs (and if it fails): autograd
        for d in todo:
            ok = kernels.available() and _probe(d)
            if not ok:
                kernels.disable()
            _KERNELS_OK[d] = ok
        if not kernels.available():      # (switched off: for every dtype)
            _KERNELS_OK.update((d, False) for d in DTYPES)
    return all(_KERNELS_OK[d] for d in dtypes)


def _probe(dtype: str) -> bool:
    try:
        gen = torch.Generator().manual_seed(0)
        # dense and per-edge hidden layers, on uniform and on adapted knots
        m = KAN([2, DENSE_MIN_OUT, DENSE_MIN_OUT, 1], grid=3, seed=0, dtype=dtype)
        x = (torch.rand(6, 2, generator=gen) * 2 - 1).to(m.dtype)
        for update in (False, True):
            if update:
                m.update_grid_from_samples(x)
            for lamb in (0.0, 0.01):
                obj = FusedObjective(m, train_params(m), lamb=lamb)
                obj.set_batch(x, x[:, :1])
                obj.evaluate()
                obj.rmse(x[:3], x[:3, :1])
                if not lamb:             # and chunk by chunk (fused/chunks.py)
                    obj._chunk = 2
                    obj.evaluate()
                    obj.rmse(x, x[:, :1])
        # the optimisers' compiled bookkeeping (kernels/lbfgs.py) too, its pair
        # update and direction called directly (a probe's step may stop before them)
        opt = FlatLBFGS(obj.params, max_iter=3)
        opt.step(evaluate=obj.evaluate)
        v = np.ones(opt.n, dtype=opt.dtype)
        opt._add_pair(v, v, float(v @ v))
        opt._direction(v)
        opt.release()
        adam = FlatAdam(obj.params)            # and Adam's (kernels/adam.py)
        adam.step(v)
        adam.release()
        return True
    except Exception as exc:                   # numba/LLVM failures are not the user's problem
        warnings.warn(f"compiled training kernels unavailable ({type(exc).__name__}: {exc}); using autograd")
        return False


_KERNELS_OK: dict = {}       # dtype name -> whether the kernels work (False also while probing)
_PROBE_LOCK = threading.Lock()


def train_params(model: KAN) -> list:
    return [p for p in model.parameters() if p.requires_grad]
