"""How a symbolic candidate c*f(a*x+b)+d reads and draws in the edge
inspector: its curve over the plotted points, its parameters in the table's
narrow columns, and the fixed function as one readable line."""
from __future__ import annotations

from typing import Optional

import numpy as np

__all__ = ["candidate_curve", "format_fixed", "format_param"]

MINUS = "\u2212"


def candidate_curve(name: str, params, xs: np.ndarray) -> Optional[np.ndarray]:
    """c*f(a*x+b)+d over xs with the library's (singularity-safe) torch function."""
    try:
        import torch
        from ...model import get_function
        a, b, c, d = (float(p) for p in params)
        z = torch.as_tensor(a * np.asarray(xs, dtype=np.float64) + b)
        return c * get_function(name).torch_fn(z).numpy() + d
    except (ImportError, KeyError, ValueError):
        return None


def format_param(v: float) -> str:
    """Three significant digits in at most 7 characters, so that the table's
    narrow a/b/c/d columns never elide: 0.0642, 50.8, -8.1e-4, 1.23e5."""
    v = float(v) + 0.0                    # + 0.0: no "-0"
    s = f"{v:.3g}"
    if len(s) > 7 or (v != 0 and abs(v) < 1e-3):
        mant, _, exp = f"{v:.2e}".partition("e")
        s = f"{float(mant):.3g}e{int(exp)}"
        if len(s) > 7:
            mant, _, exp = f"{v:.1e}".partition("e")
            s = f"{float(mant):.2g}e{int(exp)}"
    return s


def format_fixed(name: str, params, var: str = "x") -> str:
    """Readable c*f(a*x+b)+d, e.g. '1.02·sin(3.14·x − 0.01) + 0.5'."""
    a, b, c, d = (float(p) for p in params)
    inner = (var if abs(a - 1) < 5e-4 else f"{a:.3g}\u00b7{var}") + _signed(b)
    if name == "x":
        core = f"({inner})"
    elif name.startswith("x^"):
        core = f"({inner})^{name[2:]}"
    elif name == "1/x":
        core = f"1/({inner})"
    elif name.startswith("1/x^"):
        core = f"1/({inner})^{name[4:]}"
    elif name == "1/sqrt(x)":
        core = f"1/sqrt({inner})"
    else:
        core = f"{name}({inner})"
    return f"{c:.3g}\u00b7{core}{_signed(d)}"


def _signed(v: float) -> str:
    """' + 0.5' / ' − 0.5', or nothing for ~0."""
    if abs(v) <= 5e-4:
        return ""
    return f" {'+' if v >= 0 else MINUS} {abs(v):.3g}"
