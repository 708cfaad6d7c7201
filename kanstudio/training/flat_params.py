"""Optimisers over one flat parameter vector (lbfgs.FlatLBFGS, adam.FlatAdam):
the parameters become views of a 1-D numpy array ``x`` (CPU) or of a device
copy of it synced around every evaluation, so that the optimiser's
bookkeeping runs on one vector instead of one tensor per parameter."""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

__all__ = ["FlatParams"]


class FlatParams:
    """The flat storage of ``params`` (in the order given): ``x``, ``n``,
    ``dtype``; ``release()`` gives every parameter its own storage again."""

    def _bind_flat(self, params: Sequence[torch.Tensor], who: str):
        self.params = [p for p in params]
        if not self.params:
            raise ValueError(f"{who} needs at least one parameter")
        ref = self.params[0]
        self.n = sum(p.numel() for p in self.params)
        try:
            self.dtype = torch.empty(0, dtype=ref.dtype).numpy().dtype
        except TypeError as exc:
            raise TypeError(f"{who}: no numpy dtype for {ref.dtype}") from exc
        self.device = ref.device
        self._cpu = self._zero_copy(ref.device)
        self.x = np.zeros(self.n, dtype=self.dtype)
        self._xt = torch.from_numpy(self.x)           # torch view of x (same memory)
        # the storage the parameters are views of: x itself on CPU, a device copy elsewhere
        self._store = self._xt if self._cpu else torch.zeros(self.n, dtype=ref.dtype, device=ref.device)
        self._views: list = []
        self._bind()

    @staticmethod
    def _zero_copy(device: torch.device) -> bool:
        """Whether parameters on ``device`` can be views of the numpy ``x``
        (CPU); elsewhere they are views of a device copy synced around every
        evaluation (a test subclass forces that path on CPU)."""
        return device.type == "cpu"

    def _bind(self):
        """Make every parameter a view of the flat storage (copying its current value)."""
        off, views = 0, []
        for p in self.params:
            k = p.numel()
            v = self._store[off:off + k]
            v.copy_(p.detach().reshape(-1))
            p.data = v.view_as(p)
            views.append((p, v.data_ptr()))
            off += k
        self._views = views
        self._pull()

    def _ensure_bound(self):
        # Someone may have replaced p.data (grid updates, restoring a state):
        # pick up the new values and re-alias; the optimiser's state (curvature
        # pairs, moments) stays valid only while the shapes do.
        # (no views at all: release() was called and training goes on)
        if not self._views or any(p.data_ptr() != ptr for p, ptr in self._views):
            if sum(p.numel() for p in self.params) != self.n:
                raise ValueError("parameter shapes changed: make a new optimizer")
            self._bind()

    def _pull(self):
        """x <- the device storage (picks up values written into the parameters
        in place, e.g. a restored state; no-op on CPU, where they are x)."""
        if not self._cpu:
            self._xt.copy_(self._store)

    def _push(self):
        """The device storage <- x (before an evaluation; no-op on CPU)."""
        if not self._cpu:
            self._store.copy_(self._xt)

    def release(self):
        """Give every parameter its own storage again (after training: nothing
        outside should see parameters that share one buffer)."""
        for p, ptr in self._views:
            if p.data_ptr() == ptr:
                p.data = p.data.clone()
        self._views = []
