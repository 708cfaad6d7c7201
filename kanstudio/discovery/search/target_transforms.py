"""Transforms of the target that make a law simpler to search for.

Many laws are short in some function of y rather than in y itself:
sqrt(a^2 + b^2) is a polynomial in y^2, q / sqrt(r^2 + d^2 - 2 d r cos a) in
1/y^2, a ratio of sums in 1/y, a product of powers in log|y|, an angle
asin(lambda/(n d)) or acos((cos t - u)/(1 - u cos t)) in sin y or cos y, a
sum of logarithms log(1 + x) + log(1 + x^2) in exp y (a polynomial there), a
fraction or a probability (an occupancy, a saturation: Hill's L^n/(K^n + L^n),
Langmuir's KP/(1 + KP), Fermi's 1/(e^x + 1)) in logit y = log(y/(1 - y)), the
link of logistic regression (n log(L/K), log K + log P, -x there).  AI Feynman
tries such transforms of y before anything else; here each one is a target
the symbolic engine may search, and a formula t(x) found for T(y) is read back
as y = T^-1(t(x)).

A transform is only offered where it is defined and well conditioned on the
rows: a log or a reciprocal needs y of one sign away from 0, logit y a target
strictly inside (0, 1) (its values grow only as log y near the ends, not as
1/y), sin y and cos y a target inside the branch their inverse reads back
(asin: [-pi/2, pi/2], acos: [0, pi]), exp y a target spanning a few tens at
most.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy

__all__ = ["TargetTransform", "TRANSFORMS", "usable_transforms"]

NEAR_ZERO = 1e-3      # 1/y needs min|y| >= this * median|y|
NARROW_SPAN = 20.0    # exp(y) needs y to span at most this: wider, its small values are lost beside
                      # its large ones (e^20 ~ 5e8 against 1)


@dataclass(frozen=True)
class TargetTransform:
    name: str                                    # how the derivation names the target: "1/y"
    forward: Callable[[np.ndarray, int], np.ndarray]   # (y, sign) -> T(y)
    back: Callable[[sympy.Expr, int], sympy.Expr]      # (t, sign) -> y
    needs: str                                   # "any" | "one sign" | "away from 0" | "narrow"
    branch: tuple = (-np.inf, np.inf)            # y must lie inside this to be read back
    def usable(self, y: np.ndarray) -> bool:
        y = np.asarray(y, dtype=np.float64)
        if not len(y) or not np.isfinite(y).all():
            return False
        if float(y.min()) < self.branch[0] or float(y.max()) > self.branch[1]:
            return False
        if self.needs == "any":
            return True
        if self.needs == "narrow":
            return float(y.max() - y.min()) <= NARROW_SPAN
        sign = _sign(y)
        if sign == 0:
            return False
        if self.needs == "away from 0":
            a = np.abs(y)
            return float(a.min()) >= NEAR_ZERO * float(np.median(a))
        return True

    def apply(self, y: np.ndarray) -> np.ndarray:
        y = np.asarray(y, dtype=np.float64)
        with np.errstate(all="ignore"):
            return self.forward(y, _sign(y))

    def read_back(self, t: sympy.Expr, y: np.ndarray) -> sympy.Expr:
        return self.back(t, _sign(np.asarray(y, dtype=np.float64)))

    def values_back(self, t: np.ndarray, y: np.ndarray) -> np.ndarray:
        """y's values from T(y)'s (``read_back`` on numbers; nan outside its domain)."""
        f = _numeric_back(self.name, _sign(np.asarray(y, dtype=np.float64)))
        with np.errstate(all="ignore"):
            return np.broadcast_to(np.asarray(f(np.asarray(t, dtype=np.float64)), dtype=np.float64),
                                   np.shape(t))


def _sign(y: np.ndarray) -> int:
    if (y > 0).all():
        return 1
    if (y < 0).all():
        return -1
    return 0


TRANSFORMS = (
    TargetTransform("y", lambda y, s: y, lambda t, s: t, "any"),
    TargetTransform("y^2", lambda y, s: y * y, lambda t, s: s * sympy.sqrt(t), "one sign"),
    TargetTransform("1/y", lambda y, s: 1.0 / y, lambda t, s: 1 / t, "away from 0"),
    TargetTransform("1/y^2", lambda y, s: 1.0 / (y * y), lambda t, s: s / sympy.sqrt(t), "away from 0"),
    TargetTransform("log|y|", lambda y, s: np.log(s * y), lambda t, s: s * sympy.exp(t), "one sign"),
    TargetTransform("logit y", lambda y, s: np.log(y / (1.0 - y)), lambda t, s: 1 / (1 + sympy.exp(-t)), "any",
                    (0.0, 1.0)),
    TargetTransform("sin y", lambda y, s: np.sin(y), lambda t, s: sympy.asin(t), "any", (-np.pi / 2, np.pi / 2)),
    TargetTransform("cos y", lambda y, s: np.cos(y), lambda t, s: sympy.acos(t), "any", (0.0, np.pi)),
    TargetTransform("exp y", lambda y, s: np.exp(y), lambda t, s: sympy.log(t), "narrow"),
)


@lru_cache(maxsize=64)
def _numeric_back(name: str, sign: int):
    # compiled from ``back`` itself, so the numbers and the formula cannot disagree
    t = sympy.Symbol("t")
    tr = next(x for x in TRANSFORMS if x.name == name)
    return sympy.lambdify(t, tr.back(t, sign), "numpy")


def usable_transforms(y: np.ndarray) -> list[TargetTransform]:
    """The transforms defined and well conditioned on these target values, y first."""
    out = []
    for t in TRANSFORMS:
        if t.usable(y):
            v = t.apply(y)
            if np.isfinite(v).all() and float(np.std(v)) > 0:
                out.append(t)
    return out
