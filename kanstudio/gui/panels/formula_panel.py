"""The Formula dock: the network's formula as mathematics, its test error,
rounding, Copy LaTeX / Export, the formula against the data (its curve over
the one input, or its values against the measured ones), and Discover's
verdict on the formula shown (the candidates themselves are in the Pareto
dock, pareto_panel).

The main window computes everything in the worker and calls
``show_formula(info)``, ``show_incomplete(n, detail)`` or ``show_message(text)``.  The widget that displays the formula has objectName
"formula_view" and ``accessibleDescription()`` equal to the formula's LaTeX
(one output: the expression's LaTeX; several: "name = latex" joined by "; ").
"""
from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFont, QFontDatabase, QGuiApplication, QPalette
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QMenu, QPushButton, QScrollArea, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from ..mathtext import MathRenderer
from ..theme import plot_colors

__all__ = ["FormulaInfo", "ParetoRow", "FormulaPanel", "display_latex", "latex_name", "FORMULA_PT"]

FORMULA_PT = 22.0
PLOT_MIN_PANEL_WIDTH = 340   # px: narrower, the formula keeps the whole width and the plot hides


@dataclass
class FormulaInfo:
    """One formula ready to show (computed in the worker)."""
    latex: list                          # per output, the expression's LaTeX
    output_names: list
    pretty: str = ""                     # sympy.pretty fallback text
    sympy_str: list = field(default_factory=list)
    test_rmse: float = float("nan")      # of the formula on the test rows, original units
    model_rmse: float = float("nan")     # of the network itself
    complexity: int = 0
    png: Optional[bytes] = None          # pre-rendered by the worker (optional)
    png_key: Optional[tuple] = None
    digits: int = 4
    python: str = ""                     # NumPy function source (export)
    source: str = "network"              # "network" or the Pareto stage it came from
    curve: Optional[dict] = None         # worker_jobs.against_data: the formula against the data

    @property
    def description(self) -> str:
        if len(self.latex) == 1:
            return self.latex[0]
        return "; ".join(f"{n} = {t}" for n, t in zip(self.output_names, self.latex))


@dataclass
class ParetoRow:
    complexity: int
    test_rmse: float
    latex: str
    text: str


def latex_name(name: str) -> str:
    """A column name as a LaTeX symbol, written like the formula's variables."""
    from ...symbolic import latex_symbol     # here, not at the top: it imports torch
    return latex_symbol(name)


def display_latex(info: FormulaInfo) -> str:
    """What is drawn: "name = expr" (one line per output joined by commas for mathtext)."""
    parts = [f"{latex_name(n)} = {t}" for n, t in zip(info.output_names, info.latex)]
    return ",\\quad ".join(parts)


class FormulaPanel(QWidget):
    digitsChanged = Signal(int)
    autoSymbolicRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("formula_panel")
        self._info: Optional[FormulaInfo] = None
        self._renderer = MathRenderer()
        # what the errors shown are measured on: a table too small to split has no held-out rows
        self.error_name = "test RMSE"

        self.rmse_label = QLabel("")
        self.rmse_label.setObjectName("formula_rmse")
        self.rmse_label.setWordWrap(True)      # wraps rather than holding the dock wide
        self.digits_spin = QSpinBox()
        self.digits_spin.setObjectName("formula_digits")
        self.digits_spin.setRange(1, 12)
        self.digits_spin.setValue(4)
        self.digits_spin.setKeyboardTracking(False)
        self.digits_spin.setToolTip("Significant digits of the constants")
        self.digits_spin.valueChanged.connect(self.digitsChanged)
        self.copy_button = QPushButton("Copy LaTeX")
        self.copy_button.setObjectName("button_copy_latex")
        self.copy_button.clicked.connect(self.copy_latex)
        self.export_button = QToolButton()
        self.export_button.setObjectName("button_export")
        self.export_button.setText("Export")
        self.export_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        top = QHBoxLayout()
        top.addStretch(1)
        top.addWidget(QLabel("Digits"))
        top.addWidget(self.digits_spin)
        top.addWidget(self.copy_button)
        top.addWidget(self.export_button)

        self.formula_view = QLabel()
        self.formula_view.setObjectName("formula_view")
        self.formula_view.setAccessibleName("Formula")
        self.formula_view.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.formula_view.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula_view.setMargin(8)
        self.scroll = QScrollArea()
        self.scroll.setObjectName("formula_scroll")
        self.scroll.setWidget(self.formula_view)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.scroll.setMinimumHeight(60)

        self.note = QLabel()
        self.note.setObjectName("formula_note")
        self.note.setWordWrap(True)
        self.note.setContentsMargins(4, 8, 4, 4)
        f = self.note.font()
        f.setPointSizeF(f.pointSizeF() * 1.1)
        self.note.setFont(f)
        self.note.setTextFormat(Qt.TextFormat.RichText)
        self.note.linkActivated.connect(self._on_link)

        self.verdict = QLabel()          # Discover's status and derivation
        self.verdict.setObjectName("formula_verdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict.setContentsMargins(4, 2, 4, 2)
        self.verdict.setVisible(False)

        self.fit_plot = pg.PlotWidget()
        self.fit_plot.setObjectName("formula_fit_plot")
        self.fit_plot.setAccessibleName("The formula against the data")
        self.fit_plot.setMenuEnabled(False)
        self.fit_plot.showGrid(x=True, y=True, alpha=0.25)
        self.fit_plot.setMinimumSize(150, 100)
        self.fit_data = pg.ScatterPlotItem(size=4)
        self.fit_line = pg.PlotDataItem()
        self.fit_plot.addItem(self.fit_data)
        self.fit_plot.addItem(self.fit_line)
        self.fit_plot.setVisible(False)
        self._curve: Optional[dict] = None
        middle = QHBoxLayout()
        middle.setContentsMargins(0, 0, 0, 0)
        middle.addWidget(self.scroll, 3)
        middle.addWidget(self.fit_plot, 2)

        top_w = QWidget()
        tl = QVBoxLayout(top_w)
        tl.setContentsMargins(0, 0, 0, 0)
        tl.addWidget(self.rmse_label)
        tl.addLayout(top)
        tl.addWidget(self.note)
        tl.addLayout(middle, 1)
        tl.addWidget(self.verdict)
        self._filler = QWidget()          # keeps a message at the top when no formula is shown
        tl.addWidget(self._filler, 1)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 4, 6, 4)
        lay.addWidget(top_w)
        self.show_message("No model yet. Open a CSV and press Fit; the formula appears here once "
                          "every edge is symbolic.")

    # ------------------------------------------------------------- API
    def set_export_menu(self, menu: QMenu):
        self.export_button.setMenu(menu)

    def info(self) -> Optional[FormulaInfo]:
        return self._info

    def latex(self) -> str:
        return self._info.description if self._info else ""

    def digits(self) -> int:
        return self.digits_spin.value()

    def set_digits(self, n: int):
        self.digits_spin.blockSignals(True)
        self.digits_spin.setValue(int(n))
        self.digits_spin.blockSignals(False)

    def text_colour(self) -> str:
        return self.palette().color(QPalette.ColorRole.WindowText).name()

    def render_key(self, info: FormulaInfo) -> tuple:
        return MathRenderer.key(display_latex(info), FORMULA_PT, self.devicePixelRatioF(), self.text_colour())

    def set_verdict(self, status: str, reason: str, steps=()):
        """Discover's verdict on the formula shown: its status, why, and how it was derived."""
        mark = {"exact": "\u2713", "approximate": "\u2248", "no law found": "\u2717"}.get(status, "")
        text = f"<b>{mark} {html.escape(status)}</b> \u2014 {html.escape(reason)}"
        if status == "no law found":
            text += "<br>The formula shown is the closest readable one; it is not a law."
        if steps:
            text += "<br>Derivation:<ol style='margin-top:0'>" + "".join(
                f"<li>{html.escape(s)}</li>" for s in steps) + "</ol>"
        self.verdict.setText(text)
        self.verdict.setAccessibleName(f"Status: {status}")
        self.verdict.setVisible(True)

    def clear_verdict(self):
        self.verdict.setText("")
        self.verdict.setVisible(False)

    def verdict_text(self) -> str:
        return self.verdict.text() if self.verdict.isVisible() else ""

    def show_formula(self, info: FormulaInfo):
        self._info = info
        if info.source == "network":
            self.clear_verdict()          # a formula of the network as it is now, not Discover's
        if info.png is not None and info.png_key is not None:
            self._renderer.insert_png(info.png_key, info.png)
        self._render()
        self.formula_view.setAccessibleDescription(info.description)
        self.formula_view.setToolTip("LaTeX: " + info.description)
        bits = []
        if math.isfinite(info.test_rmse):
            bits.append(f"Formula {self.error_name} <b>{info.test_rmse:.4g}</b>")
        if math.isfinite(info.model_rmse):
            bits.append(f"network {info.model_rmse:.4g}")
        if info.complexity:
            bits.append(f"complexity {info.complexity}")
        self.rmse_label.setText(" \u00b7 ".join(bits))
        self.note.setText("")
        self.note.setVisible(False)
        self.scroll.setVisible(True)
        self._filler.setVisible(False)
        self.copy_button.setEnabled(True)
        self._show_curve(info.curve)

    def against_data(self) -> Optional[dict]:
        """What the plot beside the formula shows (worker_jobs.against_data), or None."""
        return self._curve

    def show_incomplete(self, n_numeric: int, model_rmse: float = float("nan")):
        self._clear_formula()
        s = "edge is" if n_numeric == 1 else "edges are"
        self.note.setText(f"{n_numeric} {s} still numeric: fix {'it' if n_numeric == 1 else 'them'} "
                          f"or run <a href='auto'>Auto-symbolic</a>.")
        self.note.setVisible(True)
        self.formula_view.setText("")
        self.rmse_label.setText(f"Network {self.error_name} <b>{model_rmse:.4g}</b>" if math.isfinite(model_rmse)
                                else "")

    def show_message(self, text: str):
        self._clear_formula()
        self.clear_verdict()
        self.note.setText(text)
        self.note.setVisible(True)
        self.rmse_label.setText("")

    def copy_latex(self):
        if self._info is not None:
            QGuiApplication.clipboard().setText(self.latex())

    # ---------------------------------------------------------- internals
    def _fits_plot(self) -> bool:
        """The plot goes beside the formula only where both have room."""
        return self.width() >= PLOT_MIN_PANEL_WIDTH

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self.fit_plot.setVisible(self._curve is not None and self._fits_plot())

    def _show_curve(self, curve: Optional[dict]):
        self._curve = curve
        self.fit_plot.setVisible(curve is not None and self._fits_plot())
        if curve is None:
            self.fit_data.setData([], [])
            self.fit_line.setData([], [])
            return
        c = plot_colors(self.palette())
        self.fit_data.setData(np.asarray(curve["x"]), np.asarray(curve["measured"]), pen=None,
                              brush=pg.mkBrush(c["train"]))
        if curve["kind"] == "curve":
            lx, ly = np.asarray(curve["line_x"]), np.asarray(curve["line_y"])
            tip = "the data (points) and the formula (line)"
        else:        # values against measured: the diagonal is a perfect fit
            lo = float(min(np.min(curve["x"]), np.min(curve["measured"])))
            hi = float(max(np.max(curve["x"]), np.max(curve["measured"])))
            lx, ly = np.array([lo, hi]), np.array([lo, hi])
            tip = "the formula's value against the measured one on every row (on the line: a perfect fit)"
        self.fit_line.setData(lx, ly, pen=pg.mkPen(c["test"], width=2))
        self.fit_plot.setToolTip(tip)
        self.fit_plot.setBackground(c["background"])
        for ax, label in (("bottom", curve["x_label"]), ("left", curve["y_label"])):
            axis = self.fit_plot.getAxis(ax)
            axis.setPen(c["foreground"])
            axis.setTextPen(c["foreground"])
            self.fit_plot.setLabel(ax, label)
        self.fit_plot.enableAutoRange()

    def _clear_formula(self):
        self._info = None
        self._show_curve(None)
        self.scroll.setVisible(False)
        self._filler.setVisible(True)
        self.formula_view.clear()
        self.formula_view.setAccessibleDescription("")
        self.formula_view.setToolTip("")
        self.copy_button.setEnabled(False)

    def _render(self):
        info = self._info
        if info is None:
            return
        pm = self._renderer.pixmap(display_latex(info), FORMULA_PT, self.devicePixelRatioF(), self.text_colour())
        if pm is not None:
            self.formula_view.setFont(QFont())
            self.formula_view.setPixmap(pm)
        else:
            font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
            self.formula_view.setFont(font)
            self.formula_view.setText(info.pretty or "; ".join(info.sympy_str))

    def _on_link(self, link: str):
        if link == "auto":
            self.autoSymbolicRequested.emit()

    def changeEvent(self, event):
        if event.type() == QEvent.Type.PaletteChange and self._info is not None:
            self._render()
            self._show_curve(self._curve)
        super().changeEvent(event)
