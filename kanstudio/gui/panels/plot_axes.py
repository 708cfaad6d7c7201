"""pyqtgraph axes for kanstudio's plots."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg

__all__ = ["DecadeAxis"]

_SUPERSCRIPT = str.maketrans("-0123456789", "\u207b\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079")


class DecadeAxis(pg.AxisItem):
    """A log axis labelled 1, 10, 10², 10⁻³, ... in one style, with at most
    one label per ~30 px (pyqtgraph labels every decade, mixing 0.001 and
    10⁻⁵, which crowds a loss curve spanning ten decades)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The labels already carry the powers of ten: an SI prefix would add a
        # wrong "(x0.001)" to the axis title when the curve spans small values.
        self.enableAutoSIPrefix(False)

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        lo, hi = int(np.floor(minVal)), int(np.ceil(maxVal))
        span = max(1, hi - lo)
        room = max(2, int(size // 30))
        step = next((k for k in (1, 2, 3, 5, 10, 20, 50) if span / k <= room), 100)
        major = [float(v) for v in range(lo, hi + 1) if v % step == 0 and minVal <= v <= maxVal]
        if step > 1:
            minor = [float(v) for v in range(lo, hi + 1) if v % step and minVal <= v <= maxVal]
        else:                                   # few decades: 2..9 within each
            minor = [float(v + np.log10(m)) for v in range(lo, hi) for m in range(2, 10)
                     if minVal < v + np.log10(m) < maxVal]
        return [(float(step), major), (None, minor)]

    def logTickStrings(self, values, scale, spacing):
        out = []
        for v in values:
            e = int(round(v))
            if abs(v - e) > 1e-6:
                out.append("")                  # minor ticks carry no label
            else:
                out.append({0: "1", 1: "10"}.get(e, "10" + str(e).translate(_SUPERSCRIPT)))
        return out
