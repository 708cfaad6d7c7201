"""Adam over one flat parameter vector, for the fused objective's fits.

The same update as ``torch.optim.Adam`` (no weight decay, no amsgrad): with
g the gradient and t the step, m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
x -= lr / (1 - b1^t) * m / (sqrt(v / (1 - b2^t)) + eps).  torch's runs once
per parameter tensor, and with the finiteness check the training loop
needs after every step, that cost ~0.5 ms a step on a [10,20,20,1] network,
as much as 1/25 of the step's loss and gradient; here it is one compiled
pass over one vector (kernels/adam.py), or a dozen numpy operations where
numba is missing.  The parameters are views of ``x``
(flat_params.py).
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from ..kernels import adam as adam_kernels
from .flat_params import FlatParams

__all__ = ["FlatAdam"]


class FlatAdam(FlatParams):
    def __init__(self, params: Sequence[torch.Tensor], lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        self._bind_flat(params, "FlatAdam")
        self.lr, self.eps = float(lr), float(eps)
        self.b1, self.b2 = (float(b) for b in betas)
        self.t = 0
        self._m = np.zeros(self.n, dtype=self.dtype)
        self._v = np.zeros(self.n, dtype=self.dtype)
        self._tmp = np.empty(self.n, dtype=self.dtype)

    def step(self, grad: np.ndarray) -> bool:
        """One update from the flat gradient (the parameters' order);
        returns whether every parameter is still finite."""
        self._ensure_bound()
        self._pull()
        g = np.asarray(grad, dtype=self.dtype)
        if g.shape != (self.n,):
            raise ValueError(f"FlatAdam.step: a gradient of shape {g.shape}, expected ({self.n},)")
        self.t += 1
        with np.errstate(all="ignore"):      # overflow ends as inf/NaN, which the caller's guard sees
            finite = self._update(np.ascontiguousarray(g))
        self._push()
        return finite

    def _update(self, g: np.ndarray) -> bool:
        if adam_kernels.available():
            t = self.dtype.type
            return adam_kernels.update(self.x, g, self._m, self._v, t(self.b1), t(1.0 - self.b1), t(self.b2),
                                       t(1.0 - self.b2), t(self.lr / (1.0 - self.b1 ** self.t)),
                                       t(1.0 / math.sqrt(1.0 - self.b2 ** self.t)), t(self.eps))
        m, v, tmp = self._m, self._v, self._tmp
        m *= self.b1
        np.multiply(g, 1.0 - self.b1, out=tmp)
        m += tmp
        v *= self.b2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - self.b2
        v += tmp
        np.sqrt(v, out=tmp)
        tmp *= 1.0 / math.sqrt(1.0 - self.b2 ** self.t)
        tmp += self.eps
        np.divide(m, tmp, out=tmp)
        tmp *= self.lr / (1.0 - self.b1 ** self.t)
        self.x -= tmp
        return bool(np.isfinite(self.x).all())
