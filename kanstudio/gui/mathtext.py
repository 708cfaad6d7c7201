"""LaTeX -> picture without a TeX installation: matplotlib.mathtext.

``render_png(tex, size_pt, dpi, color)`` -> PNG bytes or None (no Qt; safe to
call from the worker thread, which is where the first, font-loading call
should happen: it takes ~0.6 s, later ones 20-50 ms).
``MathRenderer`` (UI thread) turns those into QPixmaps cached by
(tex, size, device pixel ratio, colour).  mathtext knows no ``cases``,
``matrix`` or ``\\text``; for those ``render_png`` returns None and the caller
shows ``pretty_text(expr)`` (sympy.pretty) in a monospace font instead.
"""
from __future__ import annotations

import io
import threading
from collections import OrderedDict
from typing import Optional

from PySide6.QtGui import QColor, QPixmap

__all__ = ["render_png", "mathtext_compatible", "pretty_text", "MathRenderer", "warm_up"]

_UNSUPPORTED = ("\\begin", "\\end", "\\text{", "\\substack", "\\genfrac")
_lock = threading.Lock()   # matplotlib's font cache is not thread safe


def mathtext_compatible(tex: str) -> str:
    """Rewrite sympy LaTeX into the subset mathtext understands."""
    t = tex.replace("\\operatorname{", "\\mathrm{")
    t = t.replace("\\left|", "|").replace("\\right|", "|")
    # mathtext has no \limits/\displaystyle; sympy rarely emits them but be safe
    t = t.replace("\\displaystyle", "").replace("\\limits", "")
    return t


def render_png(tex: str, size_pt: float = 16.0, dpi: float = 100.0, color: str = "#000000") -> Optional[bytes]:
    """PNG bytes of ``tex`` (no $ delimiters) or None when mathtext cannot parse it."""
    if not tex.strip() or any(tok in tex for tok in _UNSUPPORTED):
        return None
    try:
        from matplotlib.figure import Figure
        from matplotlib.font_manager import FontProperties
        from matplotlib.mathtext import MathTextParser
    except ImportError:
        return None
    buf = io.BytesIO()
    s = f"${mathtext_compatible(tex)}$"
    prop = FontProperties(size=size_pt)
    try:
        with _lock:
            # As matplotlib.mathtext.math_to_image, but on a transparent
            # background so the picture sits on any theme.
            width, height, depth, _, _ = MathTextParser("path").parse(s, dpi=72, prop=prop)
            fig = Figure(figsize=(width / 72.0, height / 72.0))
            fig.text(0, depth / height, s, fontproperties=prop, color=color)
            fig.savefig(buf, dpi=dpi, format="png", transparent=True)
    except Exception:  # noqa: BLE001 - any parse/layout failure -> caller falls back to text
        return None
    return buf.getvalue()


def warm_up():
    """Load mathtext's fonts (call from the worker thread at start-up)."""
    render_png("x^{2}", 10, 72)


def pretty_text(expr) -> str:
    """sympy.pretty of an expression (unicode), or str() if even that fails."""
    try:
        import sympy
        return sympy.pretty(expr, use_unicode=True, wrap_line=False)
    except Exception:  # noqa: BLE001
        return str(expr)


class MathRenderer:
    """QPixmap cache over render_png, keyed by (tex, size, dpr, colour)."""

    def __init__(self, max_items: int = 64):
        self._cache: "OrderedDict[tuple, Optional[QPixmap]]" = OrderedDict()
        self._max = max_items
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(tex: str, size_pt: float, dpr: float, color) -> tuple:
        return (tex, round(float(size_pt), 2), round(float(dpr), 3), QColor(color).name())

    def insert_png(self, key: tuple, png: Optional[bytes]) -> Optional[QPixmap]:
        """Store a picture rendered elsewhere (e.g. by the worker)."""
        pm = None
        if png:
            pm = QPixmap()
            if not pm.loadFromData(png, "PNG"):
                pm = None
            else:
                pm.setDevicePixelRatio(key[2])
        self._put(key, pm)
        return pm

    def pixmap(self, tex: str, size_pt: float = 16.0, dpr: float = 1.0, color="#000000") -> Optional[QPixmap]:
        """The formula as a pixmap (None when mathtext cannot draw it)."""
        k = self.key(tex, size_pt, dpr, color)
        if k in self._cache:
            self.hits += 1
            self._cache.move_to_end(k)
            return self._cache[k]
        self.misses += 1
        return self.insert_png(k, render_png(tex, size_pt, 100.0 * dpr, k[3]))

    def cached(self, tex: str, size_pt: float, dpr: float, color) -> bool:
        return self.key(tex, size_pt, dpr, color) in self._cache

    def _put(self, key, pm):
        self._cache[key] = pm
        self._cache.move_to_end(key)
        while len(self._cache) > self._max:
            self._cache.popitem(last=False)
