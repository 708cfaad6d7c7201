"""The Pareto dock: Discover's candidate formulas as error against size.

A log-scale plot (one point per formula, the front drawn as a staircase) and
a table beside it (below it in a tall dock), both selecting the same candidate; "Use this formula"
opens the selected one as a network (an undoable command, run by the window).

``set_rows(rows)`` (formula_panel.ParetoRow, simplest first), ``rows()``,
``select(index)`` (no signal), ``selected()``; signals ``chosen(int)`` when
the user selects a candidate and ``useRequested(int)``.
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QPushButton, QSplitter,
                               QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from .plot_axes import DecadeAxis
from ..theme import plot_colors

__all__ = ["ParetoPanel"]

EMPTY = "Press Discover: its candidate formulas appear here, error against size, simplest first."


class ParetoPanel(QWidget):
    chosen = Signal(int)
    useRequested = Signal(int)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("pareto_panel")
        self._rows: list = []
        self._selected: Optional[int] = None
        self._quiet = False

        self.plot = pg.PlotWidget(axisItems={"left": DecadeAxis("left")})
        self.plot.setObjectName("pareto_plot")
        self.plot.setLogMode(x=False, y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "size (nodes)")
        self.plot.setLabel("left", "test RMSE")
        self.plot.setMenuEnabled(False)
        self.plot.setMinimumSize(170, 120)
        self.front = pg.PlotDataItem(stepMode=None)
        self.points = pg.ScatterPlotItem(size=9, hoverable=True, tip=None)
        self.points.sigClicked.connect(self._on_point)
        self.mark = pg.ScatterPlotItem(size=16, symbol="o", brush=None)
        for item in (self.front, self.points, self.mark):
            self.plot.addItem(item)

        self.table = QTableWidget(0, 3)
        self.table.setObjectName("pareto_table")
        self.table.setHorizontalHeaderLabels(["Size", "Test RMSE", "Formula"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setWordWrap(False)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.table.itemSelectionChanged.connect(self._on_table)
        self.table.itemActivated.connect(lambda item: self.useRequested.emit(item.row()))

        self.use_button = QPushButton("Use this formula")
        self.use_button.setObjectName("button_use_formula")
        self.use_button.setToolTip("Replace the network by one computing the selected formula "
                                   "(undoable; its edges are fixed, ready to retrain or edit)")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(lambda: self._selected is not None and self.useRequested.emit(self._selected))
        self.empty = QLabel(EMPTY)
        self.empty.setObjectName("pareto_empty")
        self.empty.setWordWrap(True)
        self.empty.setEnabled(False)

        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.addWidget(self.empty)           # above the table: a narrow dock still reads it
        rl.addWidget(self.table, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.use_button)
        rl.addLayout(row)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.plot)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(4, 4, 4, 4)
        lay.addWidget(self.splitter)
        self._apply_colors()
        self.set_rows([])

    def resizeEvent(self, event):
        # plot above the table in a tall dock (the right column), beside it in a wide one
        size = event.size()
        want = Qt.Orientation.Vertical if size.height() > 0.8 * size.width() else Qt.Orientation.Horizontal
        if self.splitter.orientation() != want:
            self.splitter.setOrientation(want)
        super().resizeEvent(event)

    # ---------------------------------------------------------- content
    def set_rows(self, rows: list):
        self._rows = list(rows)
        self._selected = None
        self._quiet = True
        try:
            self.table.setRowCount(len(self._rows))
            for r, row in enumerate(self._rows):
                rm = f"{row.test_rmse:.4g}" if math.isfinite(row.test_rmse) else "\u2014"
                cells = [QTableWidgetItem(str(row.complexity)), QTableWidgetItem(rm), QTableWidgetItem(row.text)]
                cells[0].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                cells[1].setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                cells[2].setToolTip(row.text)
                for c, item in enumerate(cells):
                    self.table.setItem(r, c, item)
            self.table.clearSelection()
        finally:
            self._quiet = False
        self._draw()
        self.empty.setVisible(not self._rows)
        self.use_button.setEnabled(False)

    def rows(self) -> list:
        return list(self._rows)

    def selected(self) -> Optional[int]:
        return self._selected

    def select(self, index: Optional[int]):
        """Show candidate ``index`` as selected (no signal: the caller chose it)."""
        ok = index is not None and 0 <= index < len(self._rows)
        self._selected = index if ok else None
        self._quiet = True
        try:
            if ok:
                self.table.selectRow(index)
                self.table.scrollToItem(self.table.item(index, 0))
            else:
                self.table.clearSelection()
        finally:
            self._quiet = False
        self.use_button.setEnabled(ok)
        self._draw_mark()

    def point_positions(self) -> list:
        """(size, error) of every drawn point, in the rows' order (finite errors only)."""
        return [(r.complexity, r.test_rmse) for r in self._rows if _plottable(r.test_rmse)]

    # ---------------------------------------------------------- drawing
    def _xy(self):
        keep = [k for k, r in enumerate(self._rows) if _plottable(r.test_rmse)]
        x = np.array([self._rows[k].complexity for k in keep], dtype=float)
        y = np.array([self._rows[k].test_rmse for k in keep], dtype=float)
        return keep, x, y

    def _draw(self):
        keep, x, y = self._xy()
        self.points.setData(x=x, y=np.log10(y) if len(y) else y, data=keep)
        if len(x):
            # the front as a staircase: a formula holds its error until the next smaller error
            sx = np.repeat(x, 2)[1:]
            sy = np.repeat(y, 2)[:-1]
            self.front.setData(sx, sy)
        else:
            self.front.setData([], [])
        self._draw_mark()

    def _draw_mark(self):
        if self._selected is None or not _plottable(self._rows[self._selected].test_rmse):
            self.mark.setData([], [])
            return
        r = self._rows[self._selected]
        self.mark.setData([r.complexity], [math.log10(r.test_rmse)])

    def _apply_colors(self):
        c = plot_colors(self.palette())
        self.plot.setBackground(c["background"])
        for ax in ("left", "bottom"):
            self.plot.getAxis(ax).setPen(c["foreground"])
            self.plot.getAxis(ax).setTextPen(c["foreground"])
        self.front.setPen(pg.mkPen(c["reg"], width=1.5))
        self.points.setBrush(pg.mkBrush(c["train"]))
        self.points.setPen(pg.mkPen(c["train"]))
        self.mark.setPen(pg.mkPen(c["test"], width=2.5))

    def changeEvent(self, event):
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            self._apply_colors()
        super().changeEvent(event)

    # ---------------------------------------------------------- input
    def _choose(self, index: int):
        if self._quiet or not (0 <= index < len(self._rows)):
            return
        self.select(index)
        self.chosen.emit(index)

    def _on_table(self):
        rows = {i.row() for i in self.table.selectedItems()}
        if len(rows) == 1:
            self._choose(rows.pop())

    def _on_point(self, _item, points, *_):
        if len(points):
            self._choose(int(points[0].data()))


def _plottable(v: float) -> bool:
    return math.isfinite(v) and v > 0
