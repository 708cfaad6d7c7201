"""Dimensional analysis for discovery (pint): whether a formula's units add up,
and the Buckingham-pi reduction of a problem to dimensionless groups.

Consistency rule: a fitted constant (a Float) may carry whatever unit it needs
(a gas constant, a speed of light); exact numbers (integers, fractions, pi)
are dimensionless.  So ``sin(v)`` with v in m/s is wrong, ``sin(0.3*v)`` is
not; ``x + t`` of a length and a time is wrong, ``x + 2.1*t`` is not.
Columns without a known unit are wildcards too: nothing is checked on them.
"""
from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Optional, Sequence

import numpy as np
import sympy

__all__ = ["Dimensions", "consistent", "PiReduction", "pi_reduction", "unit_text"]

_WILD = None       # a quantity of any dimension (a fitted constant or a column without unit)


class _Inconsistent(Exception):
    pass


class Dimensions:
    """The base dimensions of the columns (from pint), ready to check formulas."""

    def __init__(self, units: dict, symbols_by_name: dict, target_unit: Optional[str]):
        from ..data import registry
        reg = registry()
        self.of = {}
        for name, unit in units.items():
            if name in symbols_by_name:
                self.of[symbols_by_name[name]] = _dims(reg, unit)
        self.target = _dims(reg, target_unit) if target_unit else _WILD

    def consistent(self, expr: sympy.Expr) -> bool:
        try:
            d = self._walk(expr)
        except _Inconsistent:
            return False
        return d is _WILD or self.target is _WILD or d == self.target

    def _walk(self, e):
        if e.is_Symbol:
            return self.of.get(e, _WILD)
        if e.is_Float:
            return _WILD
        if e.is_Number or e.is_NumberSymbol or e is sympy.I:
            return {}
        if e.is_Mul:
            out = {}
            for a in e.args:
                d = self._walk(a)
                if d is _WILD:
                    return self._wild_after(e.args)
                out = _add_dims(out, d, 1)
            return out
        if e.is_Pow:
            base, ex = e.args
            dex = self._walk(ex)
            if dex is not _WILD and dex != {}:
                raise _Inconsistent
            db = self._walk(base)
            if db is _WILD or db == {}:
                return db
            if not ex.is_number:
                raise _Inconsistent        # x**y with a dimensional x and a variable exponent
            return _add_dims({}, db, Fraction(float(ex)).limit_denominator(12))
        if e.is_Add:
            dims = [self._walk(a) for a in e.args]
            fixed = [d for d in dims if d is not _WILD]
            if any(d != fixed[0] for d in fixed[1:]):
                raise _Inconsistent
            return fixed[0] if fixed else _WILD
        if isinstance(e, sympy.Function):
            for a in e.args:
                d = self._walk(a)
                if d is not _WILD and d != {}:
                    raise _Inconsistent    # sin, exp, log... of a dimensional quantity
            return {}
        return _WILD

    def _wild_after(self, args):
        for a in args:                      # still check inside the other factors
            self._walk(a)
        return _WILD


def _dims(reg, unit: str) -> dict:
    d = reg.parse_units(unit).dimensionality
    return {k: Fraction(v).limit_denominator(12) for k, v in dict(d).items() if v}


def _add_dims(a: dict, b: dict, power) -> dict:
    out = dict(a)
    for k, v in b.items():
        out[k] = out.get(k, 0) + v * power
        if out[k] == 0:
            del out[k]
    return out


def consistent(expr, units: dict, symbols_by_name: dict, target_unit: Optional[str]) -> bool:
    return Dimensions(units, symbols_by_name, target_unit).consistent(expr)


def unit_text(unit: Optional[str]) -> str:
    """A unit as pint prints it in short form ('m / s'), or ''."""
    if not unit:
        return ""
    from ..data import registry
    return f"{registry().parse_units(unit):~}"


@dataclass
class PiReduction:
    """y = prefactor(x) * F(pi_1, ..., pi_k): ``target_group`` is y / prefactor."""
    groups: list           # sympy expressions in the input symbols (dimensionless)
    prefactor: sympy.Expr  # a monomial in the inputs with the target's dimensions
    symbols: list          # symbols of the groups (pi1, pi2, ...)

    def values(self, X: np.ndarray, input_symbols: Sequence) -> np.ndarray:
        from ..symbolic import evaluate_numpy
        vals = {s: X[:, k] for k, s in enumerate(input_symbols)}
        cols = [np.broadcast_to(evaluate_numpy(g, vals), (len(X),)) for g in self.groups]
        return np.column_stack(cols) if cols else np.zeros((len(X), 0))

    def prefactor_values(self, X: np.ndarray, input_symbols: Sequence) -> np.ndarray:
        from ..symbolic import evaluate_numpy
        vals = {s: X[:, k] for k, s in enumerate(input_symbols)}
        return np.broadcast_to(evaluate_numpy(self.prefactor, vals), (len(X),)).astype(np.float64)


def pi_reduction(units: dict, names: Sequence[str], symbols: Sequence, target: str,
                 target_unit: Optional[str]) -> Optional[PiReduction]:
    """Buckingham pi (pint.pi_theorem) when every input and the target have a unit
    and the groups are fewer than the inputs; else None."""
    if not target_unit or any(n not in units for n in names):
        return None
    import pint
    from ..data import registry
    reg = registry()
    key = {n: f"q{k}" for k, n in enumerate(names)}      # pint wants identifiers
    quantities = {key[n]: units[n] for n in names}
    quantities["qy"] = target_unit
    try:
        groups = pint.pi_theorem(quantities, reg)
    except Exception:  # noqa: BLE001 - pint's errors on odd units: no reduction then
        return None
    back = {v: k for k, v in enumerate(key.values())}
    with_y = [g for g in groups if g.get("qy")]
    rest = [g for g in groups if not g.get("qy")]
    if len(with_y) != 1 or len(rest) >= len(names):
        return None
    gy = with_y[0]
    py = gy["qy"]
    # y**py * prod x**a is dimensionless  ->  y = prod x**(-a/py) * F(...)
    pref = sympy.Integer(1)
    for q, a in gy.items():
        if q != "qy":
            pref *= symbols[back[q]] ** sympy.Rational(Fraction(-a / py).limit_denominator(12))
    exprs = []
    for g in rest:
        term = sympy.Integer(1)
        for q, a in g.items():
            term *= symbols[back[q]] ** sympy.Rational(Fraction(a).limit_denominator(12))
        exprs.append(term)
    pis = [sympy.Symbol(f"pi{k + 1}", positive=True) for k in range(len(exprs))]
    return PiReduction(exprs, pref, pis)
