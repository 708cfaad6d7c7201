"""Transformed views of a table that the discovery pipeline trains KANs on.

A view maps the original columns to KAN coordinates: each input is used raw or
as log(x) (only for strictly positive columns), the target raw, as
log(sign*y) or as 1/y (only for a target of one sign), then everything is standardised
on the training rows.  The view also knows how to write the network's inputs
and output back in the original variables, so every formula comes out in
the data's own units.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import sympy
import torch

__all__ = ["View", "sign_definite", "reciprocal_ok", "LOG_SHARE"]

LOG_SHARE = 0.95   # a log-target view needs this share of the target to have one sign


def sign_definite(y: np.ndarray, share: float = 1.0) -> int:
    """+1 if (a share of at least ``share`` of) y is > 0, -1 if < 0, else 0.
    A share below 1 lets noise push a few values of a positive law below zero."""
    y = np.asarray(y, dtype=np.float64)
    if not y.size:
        return 0
    if (y > 0).mean() >= share:
        return 1
    if (y < 0).mean() >= share:
        return -1
    return 0


def reciprocal_ok(y) -> bool:
    """1/y is usable: y of one sign throughout and never near 0 relative to its size."""
    a = np.abs(np.asarray(y, dtype=np.float64))
    if not (sign_definite(y, 1.0) != 0 and a.min() > 0):
        return False
    return float(a.min()) >= 1e-3 * float(np.median(a))


class View:
    def __init__(self, name: str, X_train: np.ndarray, y_train: np.ndarray, symbols: Sequence,
                 log_inputs: Sequence[bool], log_target: bool, inv_target: bool = False):
        self.name = name
        self.symbols = list(symbols)
        self.log_inputs = [bool(v) for v in log_inputs]
        self.log_target = bool(log_target)
        self.inv_target = bool(inv_target) and not self.log_target
        self.sign = sign_definite(y_train, LOG_SHARE) if (log_target or inv_target) else 1
        if (log_target or inv_target) and self.sign == 0:
            raise ValueError("a log- or 1/y-target view needs a target of one sign")
        ok = self.valid(y_train)
        X_train, y_train = X_train[ok], np.asarray(y_train)[ok]
        F = self.features(X_train)
        self.x_mean = F.mean(0)
        sd = F.std(0)
        self.x_scale = np.where(sd > 1e-12 * (1 + np.abs(self.x_mean)), sd, 1.0)
        t = self._target(y_train)
        self.y_mean = float(t.mean())
        sdy = float(t.std())
        self.y_scale = sdy if sdy > 1e-300 else 1.0

    # ------------------------------------------------------------ numbers
    def valid(self, y: np.ndarray) -> np.ndarray:
        """Rows this view can train on (a log or 1/y target needs sign*y > 0)."""
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self.log_target or self.inv_target:
            return self.sign * y > 0
        return np.ones(len(y), dtype=bool)

    def features(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        out = X.copy()
        for k, lg in enumerate(self.log_inputs):
            if lg:
                out[:, k] = np.log(X[:, k])
        return out

    def _target(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        if self.inv_target:
            return 1.0 / y
        return np.log(self.sign * y) if self.log_target else y

    def x_tensor(self, X: np.ndarray, dtype=torch.float64, device="cpu") -> torch.Tensor:
        Z = (self.features(X) - self.x_mean) / self.x_scale
        return torch.as_tensor(Z, dtype=dtype, device=device)

    def y_tensor(self, y: np.ndarray, dtype=torch.float64, device="cpu") -> torch.Tensor:
        z = (self._target(y) - self.y_mean) / self.y_scale
        return torch.as_tensor(z[:, None], dtype=dtype, device=device)

    def untransform(self, out_norm: np.ndarray) -> np.ndarray:
        """Network output (normalised) -> target in original units."""
        t = np.asarray(out_norm, dtype=np.float64).reshape(-1) * self.y_scale + self.y_mean
        if self.log_target:
            with np.errstate(over="ignore"):
                return self.sign * np.exp(t)
        if self.inv_target:
            with np.errstate(divide="ignore"):
                return 1.0 / t
        return t

    def describe(self) -> dict:
        """JSON-able description of the coordinates a model of this view works in:
        input k is (log(x_k) if log_inputs[k] else x_k - x_mean[k]) / x_scale[k]; the
        output o maps back to y = sign*exp(o*y_scale + y_mean) (log target) or
        o*y_scale + y_mean, or 1/(o*y_scale + y_mean) (inv_target)."""
        return {"name": self.name, "log_inputs": list(self.log_inputs), "log_target": self.log_target,
                "inv_target": self.inv_target,
                "sign": int(self.sign), "x_mean": [float(v) for v in self.x_mean],
                "x_scale": [float(v) for v in self.x_scale], "y_mean": float(self.y_mean),
                "y_scale": float(self.y_scale)}

    def coordinates(self) -> str:
        """What the view's networks model, in words: 'log|y| over log(x), v'."""
        target = "1/y" if self.inv_target else ("log|y|" if self.log_target else "y")
        xs = [f"log({s})" if lg else str(s) for s, lg in zip(self.symbols, self.log_inputs)]
        return f"{target} over {', '.join(xs)}"

    # ------------------------------------------------------------ formulas
    @staticmethod
    def _num(v: float) -> sympy.Expr:
        return sympy.Float(float(v))

    def input_exprs(self) -> list:
        """The network's normalised inputs as expressions of the original symbols."""
        out = []
        for s, lg, m, sc in zip(self.symbols, self.log_inputs, self.x_mean, self.x_scale):
            base = sympy.log(s) if lg else s
            out.append((base - self._num(m)) / self._num(sc))
        return out

    def output_expr(self, out_norm: sympy.Expr) -> sympy.Expr:
        t = out_norm * self._num(self.y_scale) + self._num(self.y_mean)
        if self.inv_target:
            return 1 / t
        return self.sign * sympy.exp(t) if self.log_target else t
