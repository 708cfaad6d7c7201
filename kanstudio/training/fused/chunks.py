"""The chunked passes of the fused objective (fused/__init__.py): big batches run
through the network chunk by chunk, each chunk's scratch arrays staying
near the core, in one run of consecutive chunks per thread
(workers.thread_count() of them; each thread's first layer on its whole
run at once).  ``ChunkPasses`` is a mixin of FusedObjective: it uses the
objective's layers, scratch arrays (``_array``, per thread slot ``_tls``),
forward and backward passes."""
from __future__ import annotations

import functools
import threading
from typing import Sequence

import numpy as np

from ... import kernels
from . import workers

__all__ = ["ChunkPasses", "Slot"]


class ChunkPasses:
    """Evaluation and inference of big batches, chunk by chunk."""

    def _chunk_rows(self, B: int) -> int:
        """Rows per pass: big batches run through the network in chunks
        (their scratch arrays, chiefly the dense bases, in * (nb + 1) values
        a row, stay near the core: a whole batch at once streams them through
        memory several times per call).  With several threads allowed, the
        batch is shared among them, in chunks of at most a thread's share,
        once each share has enough work to pay for the handoff
        (fused.THREAD_MIN_BYTES of basis)."""
        rows = self._chunk
        share = -(-B // workers.thread_count())
        if self._thread_min <= share < B:
            return min(rows, share)
        return B if B < 2 * rows else rows

    @staticmethod
    def _runs(B: int, step: int) -> tuple:
        """The batch's rows as one run of chunks per thread (at most
        workers.thread_count() runs, of about B / n rows each, so that the
        threads end together), each run cut into chunks of equal size (at
        most ``step`` rows) but its last, which may be shorter (each size of
        chunk gets its own scratch arrays)."""
        return _split(B, step, max(1, min(workers.thread_count(), -(-B // step))))

    def _evaluate_chunks(self, step: int) -> tuple[float, np.ndarray]:
        """evaluate() without the regulariser, chunk by chunk: the MSE and its
        gradient are sums over samples.  The batch is split into one run of
        chunks per thread (workers.thread_count()), each thread with its own
        scratch space, tables and gradient, added at the end.  A thread runs
        the first layer on its whole run at once (one product each way over
        the stored basis, instead of one per chunk with that basis fetched
        from memory twice), the other layers chunk by chunk.  All of it runs
        in the threads, with BLAS on one thread each: a BLAS thread team for
        the first layer's products would keep spinning on the cores the chunk
        threads need (measured: slower on 2 threads than on 1)."""
        B = self._x.shape[0]
        self._data_forward_basis(self.layers[0], self._x, self._data_for(self._x))   # (made before threads share it)
        results = workers.run_parts(self._run_pass, self._runs(B, step))
        sse, grad = results[0]
        for sse_k, grad_k in results[1:]:
            sse += sse_k
            grad += grad_k
        self.last_mse, self.last_reg = sse / (B * self._y.shape[1]), None
        return self.last_mse, grad

    def _rows_of(self, h: np.ndarray, rows: slice, fm: bool):
        """(a chunk's rows of h, feature-major?): a feature-major h's columns
        are copied out (the kernels take contiguous arrays)."""
        if not fm:
            return h[rows], False
        part = self._array(("rows", True), (h.shape[0], rows.stop - rows.start))
        np.copyto(part, h[:, rows])
        return part, True

    def _run_pass(self, worker: int, run: Sequence[slice]):
        """The batch's rows in the chunks ``run`` (consecutive), forward and
        back, with worker's scratch space: the first layer on the whole run
        at once, the others chunk by chunk.  Returns (sum of squared errors,
        this run's part of the gradient): the parameter gradients are linear
        in the layers' sums, so each thread finishes its own."""
        self._tls.slot = worker
        try:
            B = self._x.shape[0]
            prep = self._prepare()
            first = slice(run[0].start, run[-1].stop)
            h0, saved0 = self._forward(self._x, False, cache_data=True, prep=prep, stop=1, rows=first)
            fm = bool(saved0[0].get("out_fm"))
            g0 = self._array(("g0", True), h0.shape)
            grad = np.zeros(self.n, dtype=self.dtype)
            accs: dict = {}            # each layer's gradient sums, over the chunks
            sse, scale = 0.0, 2.0 / (B * self._y.shape[1])
            rest = self.layers[1:]
            for rows in run:
                local = slice(rows.start - first.start, rows.stop - first.start)     # (of h0 and g0)
                h, _ = self._rows_of(h0, local, fm)
                pred, saved = self._forward(h, False, cache_data=True, prep=prep, start=1, fm=fm)
                g = self._array(("gy", True), pred.shape)
                sse += kernels.residual(pred, self._y[rows], pred.dtype.type(scale), g)
                for L, sv in zip(reversed(rest), reversed(saved)):
                    g = self._backward_layer(L, sv, None, g, grad, accs, (g0[:, local] if fm else g0[local]) if L.l == 1 else None)
            self._backward_layer(self.layers[0], saved0[0], None, g0, grad, accs)
            for L in self.layers:
                self._finish_layer(L, accs[L.l], grad)
            return sse, grad
        finally:
            self._tls.slot = 0

    def predict(self, x: np.ndarray, cache_data: bool = False) -> np.ndarray:
        """The network's output on x [B, in] (the batch itself with ``cache_data``)."""
        B = x.shape[0]
        self._bind()
        step = self._chunk_rows(B)
        if step >= B:
            return self._forward(x, False, cache_data=cache_data, keep=cache_data)[0]
        out = np.empty((B, self._n_out), dtype=self.dtype)
        if cache_data:
            self._data_forward_basis(self.layers[0], x, self._data_for(x))     # (made before threads share it)

        def work(k, run):              # (the runs write disjoint rows of out)
            self._tls.slot = k
            try:
                prep = self._prepare()
                h0, start, fm, first = x, 0, False, slice(run[0].start, run[-1].stop)
                if cache_data:         # the first layer on the whole run at once (as in _evaluate_chunks)
                    h0, saved0 = self._forward(x, False, cache_data=True, prep=prep, stop=1, rows=first)
                    start, fm = 1, bool(saved0[0].get("out_fm"))
                for rows in run:
                    local = slice(rows.start - first.start, rows.stop - first.start) if cache_data else rows
                    h, _ = self._rows_of(h0, local, fm)
                    out[rows] = self._forward(h, False, cache_data=False, keep=cache_data, prep=prep,
                                              start=start, fm=fm)[0]
            finally:
                self._tls.slot = 0
        workers.run_parts(work, self._runs(B, step))
        return out


@functools.lru_cache(maxsize=64)
def _split(B: int, step: int, n: int) -> tuple:
    """ChunkPasses._runs for n runs (kept: every evaluation asks again, and
    ~20 us of Python right after one, caches cold, is worth saving)."""
    runs = []
    for k in range(n):
        lo, hi = k * B // n, (k + 1) * B // n
        size = -(-(hi - lo) // -(-(hi - lo) // step))
        runs.append(tuple(slice(c0, min(hi, c0 + size)) for c0 in range(lo, hi, size)))
    return tuple(runs)


class Slot(threading.local):
    slot = 0            # (a class default: every thread starts in slot 0, and reads it fast)

