"""The Input attribution panel: a bar chart of the KAN 2.0 input scores (how
much each input column matters to the outputs) and one-click pruning of the
inputs below a threshold the user sets.

The window's Science controller puts it in a dock, computes the scores on
the worker (a side job) whenever the model or the data changes, dropping an
answer for an older model, and prunes with one ``PruneInputs`` command
(model and data lose the columns; undoable).
"""
from __future__ import annotations

import math
from typing import Optional

from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                               QToolTip, QVBoxLayout, QWidget)

from ...defaults import NODE_TH

__all__ = ["BarChart", "AttributionPanel", "DEFAULT_THRESHOLD"]

DEFAULT_THRESHOLD = NODE_TH    # inputs are nodes too: the loop's node threshold (KAN 2.0: 1e-2)


def _mix(a: QColor, b: QColor, t: float) -> QColor:
    return QColor(round(a.red() + (b.red() - a.red()) * t), round(a.green() + (b.green() - a.green()) * t),
                  round(a.blue() + (b.blue() - a.blue()) * t))


class BarChart(QWidget):
    """Horizontal bars, strongest input on top; bars below the threshold are
    drawn in the warning colour and the threshold as a dashed line."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("attribution_chart")
        self.setMinimumHeight(60)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.names: list = []
        self.scores: list = []
        self.threshold = DEFAULT_THRESHOLD

    def set_scores(self, names, scores, threshold: Optional[float] = None):
        pairs = sorted(zip([str(n) for n in names], [float(s) for s in scores]), key=lambda p: -p[1])
        self.names, self.scores = [p[0] for p in pairs], [p[1] for p in pairs]
        if threshold is not None:
            self.threshold = float(threshold)
        self.setAccessibleDescription("; ".join(f"{n}: {s:.3g}" for n, s in pairs))
        self.update()

    def set_threshold(self, value: float):
        self.threshold = float(value)
        self.update()

    def bar_rects(self) -> list:
        """(name, QRectF of its bar) in widget coordinates (for tests and tooltips)."""
        return list(zip(self.names, self._layout()[0]))

    def event(self, ev):
        if ev.type() == QEvent.Type.ToolTip:
            hit = next(((n, s) for (n, r), s in zip(self.bar_rects(), self.scores)
                        if r.top() <= ev.pos().y() <= r.bottom()), None)
            if hit is not None:
                QToolTip.showText(ev.globalPos(), f"{hit[0]}: score {hit[1]:.4g}"
                                  + (" (below the threshold)" if hit[1] < self.threshold else ""), self)
            else:
                QToolTip.hideText()
            return True
        return super().event(ev)

    def _layout(self):
        fm = QFontMetricsF(self.font())
        label_w = max([fm.horizontalAdvance(n) for n in self.names] + [0.0]) + 10
        value_w = fm.horizontalAdvance("0.000e+00") * 0.75 + 8
        n = max(1, len(self.names))
        top, bottom = 6.0, 6.0
        row = min(28.0, max(12.0, (self.height() - top - bottom) / n))
        x0 = label_w + 4
        span = max(10.0, self.width() - x0 - value_w - 6)
        vmax = max(self.scores + [self.threshold, 1e-12])
        rects = []
        for k, s in enumerate(self.scores):
            y = top + k * row + row * 0.15
            w = span * max(0.0, s) / vmax if math.isfinite(s) else 0.0
            rects.append(QRectF(x0, y, max(1.0, w), row * 0.7))
        return rects, x0, span, vmax, row, top

    def paintEvent(self, _event):
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        fg, bg = pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Base)
        p.fillRect(self.rect(), bg)
        if not self.names:
            p.setPen(_mix(bg, fg, 0.6))
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No model yet")
            return
        strong = pal.color(QPalette.ColorRole.Highlight)
        weak = QColor("#d9822b")
        rects, x0, span, vmax, row, top = self._layout()
        fm = QFontMetricsF(self.font())
        for name, s, r in zip(self.names, self.scores, rects):
            p.setPen(fg)
            p.drawText(QRectF(0, r.top() - row * 0.15, x0 - 8, row), Qt.AlignmentFlag.AlignRight
                       | Qt.AlignmentFlag.AlignVCenter, name)
            p.fillRect(r, weak if s < self.threshold else strong)
            p.setPen(_mix(bg, fg, 0.75))
            p.drawText(QRectF(r.right() + 4, r.top() - row * 0.15, fm.horizontalAdvance("0.000e+00") + 8, row),
                       Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{s:.3g}")
        if self.threshold > 0:
            x = x0 + span * self.threshold / vmax
            pen = QPen(weak, 1.5, Qt.PenStyle.DashLine)
            p.setPen(pen)
            p.drawLine(round(x), round(top), round(x), round(top + row * len(self.names)))


class AttributionPanel(QWidget):
    pruneRequested = Signal(float)        # the threshold

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("attribution_panel")
        self.chart = BarChart()
        self.threshold_spin = QDoubleSpinBox()
        self.threshold_spin.setObjectName("spin_prune_threshold")
        self.threshold_spin.setDecimals(4)
        self.threshold_spin.setRange(0.0, 100.0)
        self.threshold_spin.setSingleStep(0.01)
        self.threshold_spin.setValue(DEFAULT_THRESHOLD)
        self.threshold_spin.setToolTip("Inputs whose score is below this are the 'weakest'")
        self.threshold_spin.valueChanged.connect(self._threshold_changed)
        self.prune_button = QPushButton("Prune weakest inputs")
        self.prune_button.setObjectName("button_prune_inputs")
        self.prune_button.setToolTip("Remove the inputs below the threshold from the network and the data "
                                     "(undoable)")
        self.prune_button.clicked.connect(lambda: self.pruneRequested.emit(self.threshold_spin.value()))
        self.note = QLabel("")
        self.note.setObjectName("attribution_note")
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Threshold"))
        row.addWidget(self.threshold_spin)
        row.addStretch(1)
        row.addWidget(self.prune_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.chart, 1)
        lay.addLayout(row)
        lay.addWidget(self.note)
        self._busy = False
        self.clear()

    # ------------------------------------------------------------- API
    def clear(self, text: str = "Fit a network to see which inputs matter."):
        self.chart.set_scores([], [])
        self.note.setText(text)
        self._update_button()

    def set_scores(self, names, scores):
        self.chart.set_scores(names, scores, self.threshold_spin.value())
        self.note.setText("KAN 2.0 attribution on the training rows: how much each input moves the outputs.")
        self._update_button()

    def weakest(self) -> list:
        """Names below the threshold, weakest first (never every input)."""
        t = self.threshold_spin.value()
        weak = [n for n, s in sorted(zip(self.chart.names, self.chart.scores), key=lambda p: p[1]) if s < t]
        return weak[:max(0, len(self.chart.names) - 1)]

    def set_busy(self, busy: bool):
        self._busy = bool(busy)
        self._update_button()

    # ---------------------------------------------------------- internals
    def _threshold_changed(self, value: float):
        self.chart.set_threshold(value)
        self._update_button()

    def _update_button(self):
        n = len(self.weakest())
        self.prune_button.setText(f"Prune {n} weakest input{'s' if n != 1 else ''}" if n else
                                  "Prune weakest inputs")
        self.prune_button.setEnabled(bool(n) and not self._busy)
