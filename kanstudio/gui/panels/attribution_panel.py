"""The Input attribution dock: a bar chart of the KAN 2.0 input scores (how
much each input column matters to the outputs) and one-click pruning of the
inputs below a threshold the user sets.

Scores are computed on the worker (a side job) whenever the model or the
data changes; an answer for an older model is dropped.  Pruning pushes one
``PruneInputs`` command (model and data lose the columns; undoable).
"""
from __future__ import annotations

import math
from typing import Optional

from PySide6.QtCore import QEvent, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPalette, QPen
from PySide6.QtWidgets import (QDockWidget, QDoubleSpinBox, QHBoxLayout, QLabel, QPushButton, QSizePolicy,
                               QToolTip, QVBoxLayout, QWidget)

from ...defaults import NODE_TH

__all__ = ["BarChart", "AttributionPanel", "install_attribution_panel", "DEFAULT_THRESHOLD"]

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


def install_attribution_panel(window, prune_inputs) -> QDockWidget:
    """The dock (objectName "dock_attribution"), tabbed with History; refreshed
    on model and data changes; its Prune button calls ``prune_inputs(window,
    threshold)`` (science_actions.prune_weakest_inputs).  Idempotent."""
    dock = getattr(window, "dock_attribution", None)
    if dock is not None:
        return dock
    panel = AttributionPanel()
    dock = QDockWidget("Input attribution", window)
    dock.setObjectName("dock_attribution")
    dock.setWidget(panel)
    dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                     | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                     | QDockWidget.DockWidgetFeature.DockWidgetClosable)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    dock.hide()

    def place():
        # Tabbed with History, once the window has laid out its own panels for
        # the data (its default layout does not know this dock).
        history = getattr(window, "dock_history", None)
        if history is not None and dock not in window.tabifiedDockWidgets(history) and history.isVisible():
            window.tabifyDockWidget(history, dock)
        dock.show()
        if history is not None:
            history.raise_()
    if getattr(window, "view_menu", None) is not None:
        window.view_menu.addAction(dock.toggleViewAction())
    window.dock_attribution, window.attribution_panel = dock, panel
    state = {"rev": 0, "had_data": None}

    def refresh():
        state["rev"] += 1
        model, ds = window.doc.model, window.doc.dataset
        if model is None or ds is None:
            panel.clear()
            return
        rev, names = state["rev"], list(ds.input_names)
        m, x = window.doc.model_snapshot(), window.jobs._x()

        def job(ctx):
            from ...science import input_scores
            return input_scores(m, x())

        def done(scores):
            if rev == state["rev"]:
                panel.set_scores(names, scores)
        window.runner.submit("Input attribution", job, side=True, on_done=done,
                             on_error=lambda msg, _d: rev == state["rev"] and panel.clear(f"No scores: {msg}"))

    def on_changed(reason: str):
        if reason in ("model", "data", "project"):
            refresh()
        if reason in ("data", "project"):
            has = window.doc.has_data
            if has != state["had_data"]:
                # like the main panels: hidden on the start page, back with the data
                if has and not state.get("placed"):
                    # first data of this window; later, the window's saved layout brings it back
                    state["placed"] = True
                    QTimer.singleShot(0, place)
                elif not has:
                    dock.hide()
                state["had_data"] = has

    def prune(threshold: float):
        prune_inputs(window, threshold)

    panel.pruneRequested.connect(prune)
    window.doc.changed.connect(on_changed)
    window.runner.busyChanged.connect(panel.set_busy)
    on_changed("project")
    return dock
