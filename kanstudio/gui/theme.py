"""Look and feel: Fusion style, a light or dark palette that follows the OS
(QStyleHints.colorScheme) unless the user picked one, the app icon and a small
style sheet.

``apply_theme(app, choice)`` with choice in {"system", "light", "dark"};
``ThemeWatcher`` re-applies the palette when the OS switches scheme while the
choice is "system".  Widgets that paint with their own colours (pyqtgraph
plots, the network view) listen to QEvent.PaletteChange.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QApplication

__all__ = ["THEMES", "apply_theme", "current_scheme_is_dark", "dark_palette", "light_palette",
           "is_dark", "app_icon", "resource_path", "ThemeWatcher", "plot_colors"]

THEMES = ("system", "light", "dark")
_ROOT = Path(__file__).resolve().parents[2]


def resource_path(name: str) -> Optional[Path]:
    """A file of the repository's resources/ folder, or None when not shipped."""
    p = _ROOT / "resources" / name
    return p if p.is_file() else None


def _palette(colours: dict) -> QPalette:
    pal = QPalette()
    for role, colour in colours.items():
        pal.setColor(role, QColor(colour))
    return pal


def dark_palette() -> QPalette:
    R = QPalette.ColorRole
    pal = _palette({R.Window: "#25272b", R.WindowText: "#e4e6e9", R.Base: "#1b1c1f",
                    R.AlternateBase: "#222428", R.ToolTipBase: "#2f3237", R.ToolTipText: "#e4e6e9",
                    R.Text: "#e4e6e9", R.Button: "#2e3135", R.ButtonText: "#e4e6e9",
                    R.BrightText: "#ff6b6b", R.Highlight: "#3d8fe0", R.HighlightedText: "#ffffff",
                    R.Link: "#6fb1ff", R.PlaceholderText: "#8a8f96", R.Mid: "#3a3d42",
                    R.Midlight: "#34373c", R.Dark: "#161719", R.Shadow: "#0d0e0f", R.Light: "#44484e"})
    disabled = QColor("#7b8087")
    for role in (R.WindowText, R.Text, R.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    pal.setColor(QPalette.ColorGroup.Disabled, R.Highlight, QColor("#4a4d52"))
    return pal


def light_palette() -> QPalette:
    R = QPalette.ColorRole
    pal = _palette({R.Window: "#f3f4f6", R.WindowText: "#1d1f23", R.Base: "#ffffff",
                    R.AlternateBase: "#f6f7f9", R.ToolTipBase: "#ffffdc", R.ToolTipText: "#1d1f23",
                    R.Text: "#1d1f23", R.Button: "#e9ebee", R.ButtonText: "#1d1f23",
                    R.BrightText: "#c62828", R.Highlight: "#2f7ed8", R.HighlightedText: "#ffffff",
                    R.Link: "#1f63b5", R.PlaceholderText: "#8a8f96", R.Mid: "#c5c8cd",
                    R.Midlight: "#dfe1e5", R.Dark: "#a3a7ad", R.Shadow: "#6b6f75", R.Light: "#ffffff"})
    disabled = QColor("#9aa0a6")
    for role in (R.WindowText, R.Text, R.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, disabled)
    return pal


def is_dark(palette: QPalette) -> bool:
    return palette.color(QPalette.ColorRole.Window).lightness() < 128


def current_scheme_is_dark(app: QApplication) -> bool:
    return app.styleHints().colorScheme() == Qt.ColorScheme.Dark


def _style_sheet() -> str:
    p = resource_path("kanstudio.qss")
    try:
        return p.read_text(encoding="utf-8") if p else ""
    except OSError:
        return ""


def apply_theme(app: QApplication, choice: str = "system") -> bool:
    """Apply the palette for ``choice``; returns True when the result is dark."""
    if choice not in THEMES:
        choice = "system"
    app.setStyle("Fusion")
    dark = current_scheme_is_dark(app) if choice == "system" else choice == "dark"
    app.setPalette(dark_palette() if dark else light_palette())
    # With a style sheet in place, widgets keep the colours they were polished
    # with: setting the sheet again re-polishes them with the new palette.
    sheet = _style_sheet()
    app.setStyleSheet("")
    app.setStyleSheet(sheet)
    return dark


class ThemeWatcher(QObject):
    """Follows the OS colour scheme while the user's choice is "system"."""

    def __init__(self, app: QApplication, choice: str = "system"):
        super().__init__(app)
        self._app, self.choice = app, choice
        app.styleHints().colorSchemeChanged.connect(self._on_os_change)

    def set_choice(self, choice: str) -> bool:
        self.choice = choice if choice in THEMES else "system"
        return apply_theme(self._app, self.choice)

    def _on_os_change(self, *_):
        if self.choice == "system":
            apply_theme(self._app, "system")


def plot_colors(palette: QPalette) -> dict:
    """Colours for pyqtgraph plots that read well on either theme."""
    dark = is_dark(palette)
    return {"background": palette.color(QPalette.ColorRole.Base),
            "foreground": palette.color(QPalette.ColorRole.Text),
            "train": QColor("#5aa9ff" if dark else "#1f6fd1"),
            "test": QColor("#ff9f43" if dark else "#e06c00"),
            "reg": QColor("#9aa0a6" if dark else "#6b7078"),
            "marker": QColor("#8fd694" if dark else "#2e9d47")}


def app_icon() -> QIcon:
    """resources/kanstudio.svg, or the same motif painted when the file is absent."""
    p = resource_path("kanstudio.svg")
    if p is not None:
        icon = QIcon(str(p))
        if not icon.isNull():
            return icon
    return QIcon(_painted_icon(128))


def _painted_icon(size: int) -> QPixmap:
    pm = QPixmap(size, size)
    pm.fill(Qt.GlobalColor.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    s = size / 128.0
    p.setBrush(QColor("#1f3b5c"))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(4 * s, 4 * s, 120 * s, 120 * s), 24 * s, 24 * s)
    pen = QPen(QColor("#8cc8ff"), 6 * s)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    p.setPen(pen)
    path = QPainterPath()
    path.moveTo(24 * s, 88 * s)
    path.cubicTo(44 * s, 20 * s, 60 * s, 110 * s, 80 * s, 52 * s)
    path.cubicTo(90 * s, 28 * s, 100 * s, 40 * s, 104 * s, 44 * s)
    p.setBrush(Qt.BrushStyle.NoBrush)
    p.drawPath(path)
    p.end()
    return pm
