"""One edge up close: its function over the data, the data, and symbolic candidates.

Interface (used by the main window)
-----------------------------------
``EdgeInspector(parent=None)``, a QWidget with objectName "edge_inspector".

Signals
    ``suggestRequested(int layer, int i, int j)``
    ``fixRequested(int layer, int i, int j, str name, tuple params)``  params = (a, b, c, d)
        of the candidate selected in the table (c*f(a*x+b)+d).
    ``unfixRequested(int layer, int i, int j)``
    ``pruneRequested(int layer, int i, int j)``
Methods
    ``show_edge(detail: EdgeDetail, layer, i, j, names=(src_name, dst_name))``
        (names default to ``detail.names``).  Candidates are kept when the same
        edge is shown again (e.g. after a fix), cleared for another edge.
    ``set_candidates(candidates)``  objects with .name .r2 .complexity .params .score,
        best first; fills the table "candidate_table".
    ``clear()``  back to the "Click an edge…" placeholder.
    ``set_busy(bool)``  while the worker computes candidates.
    ``current_edge() -> (layer, i, j) | None``; ``selected_candidate()``.
Buttons: "button_suggest", "button_fix" (needs a selected candidate),
"button_unfix" (fixed edges only), "button_prune" (alive edges only).
Selecting a table row previews c*f(a*x+b)+d as a dashed curve (numpy/torch on
the inspector's 200 points: microseconds, never blocks).  Double-click fixes.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton,
                               QStackedWidget, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from .candidate_text import candidate_curve, format_fixed, format_param
from ..network import Style, mix

if TYPE_CHECKING:   # annotations only: importing the engine here would load torch at start-up
    from ...picture import EdgeDetail

__all__ = ["EdgeInspector"]

COLUMNS = ("Function", "R\u00b2", "Complexity", "a", "b", "c", "d")


class EdgeInspector(QWidget):
    suggestRequested = Signal(int, int, int)
    fixRequested = Signal(int, int, int, str, tuple)
    unfixRequested = Signal(int, int, int)
    pruneRequested = Signal(int, int, int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("edge_inspector")
        self._edge: Optional[tuple] = None
        self._detail: Optional[EdgeDetail] = None
        self._names = ("", "")
        self._candidates: list = []
        self._busy = False

        self.placeholder = QLabel("<p style='font-size:15px'><b>No edge selected</b></p>"
                                  "<p>Click an edge in the network to inspect it.</p>"
                                  "<p>Right-click an edge for Fix, Prune and Suggest.</p>")
        self.placeholder.setObjectName("edge_inspector_placeholder")
        self.placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.placeholder.setWordWrap(True)

        self.header = QLabel()
        self.header.setObjectName("edge_header")
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.header.setWordWrap(True)
        self.legend = QLabel()
        self.legend.setObjectName("edge_legend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self.legend.setWordWrap(True)
        self.plot_widget = pg.PlotWidget()
        self.plot_widget.setObjectName("edge_plot")
        self.hist_widget = pg.PlotWidget()
        self.hist_widget.setObjectName("edge_histogram")
        self.hist_widget.setMaximumHeight(90)
        self.hist_widget.setXLink(self.plot_widget)
        self._setup_plots()

        self.candidate_table = QTableWidget(0, len(COLUMNS))
        self.candidate_table.setObjectName("candidate_table")
        self.candidate_table.setHorizontalHeaderLabels(COLUMNS)
        self.candidate_table.verticalHeader().setVisible(False)
        self.candidate_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.candidate_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.candidate_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        header = self.candidate_table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for col in (1, 2):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.ResizeToContents)
        self.candidate_table.verticalHeader().setDefaultSectionSize(
            self.candidate_table.fontMetrics().height() + 6)
        self.candidate_table.setAlternatingRowColors(True)
        self.candidate_table.itemSelectionChanged.connect(self._on_row)
        self.candidate_table.cellDoubleClicked.connect(lambda *_: self._fix())
        self.candidate_note = QLabel("Press Suggest to fit the symbolic library to this edge.")
        self.candidate_note.setObjectName("candidate_note")
        self.candidate_note.setWordWrap(True)

        self.button_suggest = self._button("Suggest", "button_suggest", self._suggest,
                                           "Fit every library function to this edge and rank them")
        self.button_fix = self._button("Fix", "button_fix", self._fix,
                                       "Replace the edge by the selected candidate")
        self.button_unfix = self._button("Unfix", "button_unfix", self._unfix,
                                         "Go back to the learned spline")
        self.button_prune = self._button("Prune", "button_prune", self._prune, "Remove this edge")
        buttons = QHBoxLayout()
        for b in (self.button_suggest, self.button_fix, self.button_unfix):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(self.button_prune)

        content = QWidget()
        lay = QVBoxLayout(content)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        lay.addWidget(self.header)
        lay.addWidget(self.legend)
        lay.addWidget(self.plot_widget, 3)
        lay.addWidget(self.hist_widget, 1)
        lay.addWidget(self.candidate_note)
        lay.addWidget(self.candidate_table, 2)
        lay.addLayout(buttons)
        self._stack = QStackedWidget()
        self._stack.addWidget(self.placeholder)
        self._stack.addWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 6, 6)
        outer.addWidget(self._stack)
        self._apply_theme()
        self.clear()

    def _button(self, text, name, slot, tip) -> QPushButton:
        b = QPushButton(text)
        b.setObjectName(name)
        b.setToolTip(tip)
        b.clicked.connect(slot)
        return b

    def _setup_plots(self):
        p = self.plot_widget.getPlotItem()
        p.showGrid(x=True, y=True, alpha=0.15)
        p.setMenuEnabled(False)
        p.hideButtons()
        p.getAxis("bottom").setStyle(showValues=False)   # the histogram below carries the x axis
        p.getAxis("left").enableAutoSIPrefix(False)
        self._scatter = pg.ScatterPlotItem(size=4, pen=None)
        self._spline = pg.PlotDataItem()
        self._curve = pg.PlotDataItem()
        self._preview = pg.PlotDataItem()
        for item in (self._scatter, self._spline, self._curve, self._preview):
            p.addItem(item)
        h = self.hist_widget.getPlotItem()
        h.setMenuEnabled(False)
        h.hideButtons()
        h.setMouseEnabled(x=True, y=False)
        h.getAxis("left").setStyle(showValues=False, tickLength=0)
        h.getAxis("bottom").enableAutoSIPrefix(False)
        for plot in (p, h):  # equal axis widths keep the two x ranges aligned
            plot.getAxis("left").setWidth(52)
        self._bars = pg.BarGraphItem(x0=[0], x1=[1], height=[0])
        h.addItem(self._bars)

    # -------------------------------------------------------------- API
    def show_edge(self, detail: EdgeDetail, layer: int, i: int, j: int, names=None):
        key = (layer, i, j)
        if key != self._edge:
            self._candidates = []
            self._fill_table()
            self.candidate_note.setText("Press Suggest to fit the symbolic library to this edge.")
        self._edge, self._detail = key, detail
        self._names = tuple(names) if names else (detail.names or (f"x{i + 1}", f"n{j + 1}"))
        self._stack.setCurrentIndex(1)
        self._update_header()
        self._update_plot()
        self._update_buttons()

    def set_candidates(self, candidates):
        self._candidates = list(candidates)
        self._fill_table()
        self.candidate_note.setText(
            f"{len(self._candidates)} candidates, best first (score = complexity vs. R\u00b2). "
            "Select one to preview it, double-click to fix." if self._candidates else
            "No candidates: the library found nothing that fits.")
        self._update_buttons()

    def clear(self):
        self._edge, self._detail, self._candidates = None, None, []
        self._fill_table()
        self._stack.setCurrentIndex(0)
        self._update_buttons()

    def set_busy(self, busy: bool):
        self._busy = bool(busy)
        if busy:
            self.candidate_note.setText("Fitting the symbolic library to this edge\u2026")
        self.candidate_table.setEnabled(not busy)
        self._update_buttons()

    def current_edge(self) -> Optional[tuple]:
        return self._edge

    def candidates(self) -> list:
        return list(self._candidates)

    def selected_candidate(self):
        rows = self.candidate_table.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self._candidates):
            return None
        return self._candidates[rows[0].row()]

    # ---------------------------------------------------------- updates
    def _update_header(self):
        d, (src, dst) = self._detail, self._names
        layer, i, j = self._edge
        muted = mix(self._style.bg, self._style.fg, 0.6).name()
        state = "pruned" if d.masked else ("learned spline (not fixed)" if d.symbolic_name is None else
                                          "fixed: " + format_fixed(d.symbolic_name, d.symbolic_params, src))
        self.header.setText(
            f"<b>Edge {_esc(src)} \u2192 {_esc(dst)}</b> "
            f"<span style='color:{muted}'>(layer {layer}, {i}\u2192{j})</span><br>"
            f"<span style='color:{self._style.symbolic.name() if d.symbolic_name else muted}'>"
            f"{_esc(state)}</span>")

    def _update_plot(self):
        d, st = self._detail, self._style
        sym = d.symbolic_name is not None
        colour = st.symbolic if sym else st.select
        self._curve.setData(d.xs, d.ys, pen=pg.mkPen(colour, width=2.2))
        self._spline.setData(d.xs, d.numeric_ys, pen=pg.mkPen(mix(st.bg, st.fg, 0.45), width=1.2,
                                                               style=Qt.PenStyle.DotLine))
        self._spline.setVisible(sym)
        dots = QColor(st.fg)
        dots.setAlphaF(0.22)  # one scatter item: real alpha is cheap here
        self._scatter.setData(d.sample_x, d.sample_y, brush=dots)
        counts, edges = d.hist_counts, d.hist_edges
        self._bars.setOpts(x0=edges[:-1], x1=edges[1:], height=counts,
                           brush=mix(st.bg, st.fg, 0.3), pen=pg.mkPen(st.bg, width=0.5))
        self._preview.setData([], [])
        p = self.plot_widget.getPlotItem()
        p.setLabel("left", f"\u03c6({_esc(self._names[0])})")
        self.hist_widget.getPlotItem().setLabel("bottom", _esc(self._names[0]))
        p.enableAutoRange()
        self.hist_widget.getPlotItem().enableAutoRange(y=True)
        self._on_row()

    def _fill_table(self):
        t = self.candidate_table
        t.blockSignals(True)
        t.clearContents()
        t.setRowCount(len(self._candidates))
        for r, c in enumerate(self._candidates):
            a, b, cc, d = (float(v) + 0.0 for v in c.params)   # + 0.0: no "-0" in the table
            cells = (c.name, f"{float(c.r2):.4f}", str(int(c.complexity)),
                     format_param(a), format_param(b), format_param(cc), format_param(d))
            for k, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if k:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                t.setItem(r, k, item)
        t.blockSignals(False)
        t.setVisible(bool(self._candidates))  # no empty white block before Suggest
        self._preview.setData([], [])

    def _on_row(self):
        cand = self.selected_candidate()
        if cand is not None and self._detail is not None:
            ys = candidate_curve(cand.name, cand.params, self._detail.xs)
            if ys is not None:
                self._preview.setData(self._detail.xs, ys, pen=pg.mkPen(
                    self._style.symbolic, width=2, style=Qt.PenStyle.DashLine))
        else:
            self._preview.setData([], [])
        self._update_legend(cand)
        self._update_buttons()

    def _update_legend(self, cand):
        """A one-line key above the plot: it never hides data, unlike an in-plot legend."""
        d, st = self._detail, self._style
        if d is None:
            return
        sym = d.symbolic_name is not None
        key = lambda colour, mark, text: (  # noqa: E731
            f"<span style='color:{colour.name()}'>{mark}</span>&nbsp;{_esc(text)}")
        parts = [key(st.symbolic if sym else st.select, "\u2501\u2501", "fixed function" if sym else "learned edge")]
        if sym:
            parts.append(key(mix(st.bg, st.fg, 0.45), "\u2508\u2508", "spline it replaced"))
        parts.append(key(mix(st.bg, st.fg, 0.5), "\u25cf", "training data"))
        if cand is not None:
            parts.append(key(st.symbolic, "\u254d\u254d", f"candidate: {cand.name}"))
        self.legend.setText("&nbsp;&nbsp; ".join(parts))

    def _update_buttons(self):
        d, idle = self._detail, not self._busy
        alive = d is not None and not d.masked
        self.button_suggest.setEnabled(idle and alive)
        self.button_fix.setEnabled(idle and alive and self.selected_candidate() is not None)
        self.button_unfix.setEnabled(idle and d is not None and d.symbolic_name is not None)
        self.button_prune.setEnabled(idle and alive)

    # ---------------------------------------------------------- actions
    def _suggest(self):
        if self._edge is not None:
            self.suggestRequested.emit(*self._edge)

    def _fix(self):
        cand = self.selected_candidate()
        if self._edge is not None and cand is not None and self.button_fix.isEnabled():
            self.fixRequested.emit(*self._edge, str(cand.name), tuple(float(v) for v in cand.params))

    def _unfix(self):
        if self._edge is not None:
            self.unfixRequested.emit(*self._edge)

    def _prune(self):
        if self._edge is not None:
            self.pruneRequested.emit(*self._edge)

    # ------------------------------------------------------------ theme
    def _apply_theme(self):
        self._style = st = Style(self.palette())
        base = self.palette().color(QPalette.ColorRole.Base)
        for w in (self.plot_widget, self.hist_widget):
            w.setBackground(base)
            for name in ("left", "bottom"):
                ax = w.getPlotItem().getAxis(name)
                ax.setPen(mix(base, st.fg, 0.55))
                ax.setTextPen(st.fg)
        self.hist_widget.getPlotItem().getAxis("left").setPen(base)
        self.placeholder.setStyleSheet(f"color: {mix(st.bg, st.fg, 0.55).name()}; font-size: 13px;")
        if self._detail is not None:
            self._update_header()
            self._update_plot()

    def changeEvent(self, event):
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)


def _esc(text: str) -> str:
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
