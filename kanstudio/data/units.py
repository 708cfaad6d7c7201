"""Units of columns: read from a header (``v [m/s]``, ``m (kg)``) or given as
``v=m/s,m=kg``, parsed with pint (its own tokenizer, no eval).

A bracketed suffix that pint does not know (``temp (old)``, ``run (2)``) stays
part of the column's name.  The registry is built on first use (~0.7 s).
"""
from __future__ import annotations

import re
from typing import Optional

from .errors import DataError

__all__ = ["registry", "parse_unit", "split_header_unit", "parse_units_option", "check_units", "MAX_UNIT_CHARS"]

MAX_UNIT_CHARS = 64
_HEADER_UNIT = re.compile(r"^(?P<name>.*?\S)\s*(?:\[(?P<a>[^\[\]]+)\]|\((?P<b>[^()]+)\))\s*$")
_REGISTRY = None


def registry():
    """The one pint UnitRegistry of the process."""
    global _REGISTRY
    if _REGISTRY is None:
        import pint
        _REGISTRY = pint.UnitRegistry()
    return _REGISTRY


def parse_unit(text: str):
    """A pint Unit, or None when ``text`` is not a unit pint knows."""
    text = (text or "").strip()
    if not text or len(text) > MAX_UNIT_CHARS:
        return None
    try:
        return registry().parse_units(text)
    except Exception:  # noqa: BLE001 - pint raises many kinds (UndefinedUnitError, ValueError, AssertionError...)
        return None


def split_header_unit(header: str) -> tuple[str, Optional[str]]:
    """('v', 'm/s') for 'v [m/s]' or 'v (m/s)'; (header, None) without a known unit."""
    m = _HEADER_UNIT.match(header.strip())
    if not m:
        return header, None
    unit = (m.group("a") or m.group("b")).strip()
    if parse_unit(unit) is None:
        return header, None
    return m.group("name").strip(), unit


def parse_units_option(text: str, columns) -> dict:
    """{'v': 'm/s', 'm': 'kg'} from 'v=m/s,m=kg'; every name must be a column and
    every unit known to pint."""
    out = {}
    for entry in (e.strip() for e in (text or "").split(",")):
        if not entry:
            continue
        name, sep, unit = entry.partition("=")
        name, unit = name.strip(), unit.strip()
        if not sep or not name or not unit:
            raise DataError(f"--units entry {entry!r} is not of the form column=unit (e.g. v=m/s)")
        out[name] = unit
    return check_units(out, columns, "--units")


def check_units(units, columns, where: str = "units") -> dict:
    """{column: unit text}, checked: every name a column, every unit known to pint."""
    out = {}
    for name, unit in dict(units or {}).items():
        name, unit = str(name).strip(), str(unit).strip() if unit is not None else ""
        if name not in columns:
            raise DataError(f"{where} names column '{name}', which the table does not have")
        if not unit:
            continue
        if parse_unit(unit) is None:
            raise DataError(f"{where}: '{unit}' (for '{name}') is not a unit pint knows")
        out[name] = unit
    return out
