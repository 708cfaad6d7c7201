"""The Training dock's run display: a status line and a live loss plot
(train/test RMSE and regularisation over the steps, log scale, one dashed
line where each run after the first began).

``begin_run(label, steps)``, ``add_snapshots(snaps)``, ``end_run(snap)`` feed
it as a fit runs; ``curves()`` / ``set_curves(d)`` save and restore it
(JSON-able, in projects).
"""
from __future__ import annotations

import math
from typing import Optional

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt, QTimer
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from .plot_axes import DecadeAxis
from ..theme import plot_colors

__all__ = ["LossPlot"]


def _finite(v):
    """JSON has no NaN/inf: those become null (plotted as gaps)."""
    return float(v) if v is not None and math.isfinite(v) else None


class LossPlot(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self._runs: list[dict] = []       # {"label", "start", "steps", "train", "test", "reg"}
        self._offset = 0
        self._last_snap = None
        self._x_end = 0                   # the x range covers the running run's planned steps
        self._y_decades = None            # (lo, hi) log10 range shown, in half decades
        self._x_shown = None
        # Repainting a log-scale plot costs ~10 ms: coalesce updates to <= 4 Hz.
        self._redraw_timer = QTimer(self)
        self._redraw_timer.setSingleShot(True)
        self._redraw_timer.setInterval(250)
        self._redraw_timer.timeout.connect(self._redraw)

        self.status = QLabel("Not trained yet")
        self.status.setObjectName("training_status")
        self.status.setWordWrap(True)
        # Two lines whatever the text: a label that grows when its text wraps
        # would re-layout and repaint the plot below at every snapshot.
        self.status.setFixedHeight(2 * self.status.fontMetrics().lineSpacing() + 4)
        self.status.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.plot = pg.PlotWidget(axisItems={"left": DecadeAxis("left")})
        self.plot.setObjectName("training_plot")
        self.plot.setMinimumHeight(170)
        self.plot.setLogMode(x=False, y=True)
        self.plot.showGrid(x=True, y=True, alpha=0.25)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "RMSE (normalised)")
        self.plot.setMenuEnabled(False)
        # Long Adam runs have 10^5 points: draw at most a few per pixel column.
        self.plot.setDownsampling(auto=True, mode="peak")
        self.plot.setClipToView(True)
        # The ranges are set by _redraw, in steps that rarely change: pyqtgraph
        # redraws its (expensive, log-scale) axes only when the range moves.
        self.plot.disableAutoRange()
        self.plot.getPlotItem().hideButtons()
        self.curve_train = self.plot.plot([], [], name="train RMSE")
        self.curve_test = self.plot.plot([], [], name="test RMSE")
        self.curve_reg = self.plot.plot([], [], name="regularisation")
        # The legend sits above the plot: inside it would hide the curves.
        self.legend = QLabel()
        self.legend.setObjectName("training_legend")
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        self._run_lines: list = []
        # a table too small to split trains on every row: its "test" error is
        # the training error again, so there is no second curve to draw
        self._held_out = True
        self._apply_theme()

        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.addWidget(self.status)
        lay.addWidget(self.legend)
        lay.addWidget(self.plot, 1)

    def set_held_out(self, held_out: bool):
        """Whether the data has held-out rows (a test curve to draw)."""
        if bool(held_out) != self._held_out:
            self._held_out = bool(held_out)
            self.curve_test.setVisible(self._held_out)
            self._apply_theme()

    def begin_run(self, label: str, total_steps: int):
        run = {"label": label, "start": self._offset, "steps": [], "train": [], "test": [], "reg": []}
        self._runs.append(run)
        if self._offset > 0:
            self._add_run_line(self._offset)
        self._last_snap = None
        self._x_end = self._offset + max(1, int(total_steps))
        self.status.setText(f"{label}: starting ({total_steps} steps)\u2026")

    def _add_run_line(self, step: int):
        """The dashed line where a run after the first began."""
        line = pg.InfiniteLine(pos=step, angle=90, movable=False,
                               pen=pg.mkPen(plot_colors(self.palette())["reg"], style=Qt.PenStyle.DashLine))
        self.plot.addItem(line)
        self._run_lines.append(line)

    def add_snapshots(self, snaps):
        if not self._runs or not snaps:
            return
        run = self._runs[-1]
        for s in snaps:
            run["steps"].append(run["start"] + int(s.step))
            run["train"].append(float(s.train_rmse))
            run["test"].append(float(s.test_rmse))
            run["reg"].append(float(s.reg))
        last = snaps[-1]
        self._last_snap = last
        self.status.setText(self._describe(last, run["label"], self._held_out))
        if not self._redraw_timer.isActive():
            self._redraw_timer.start()

    def last_snapshot(self):
        """The last snapshot plotted in the current run (None before any)."""
        return self._last_snap

    def end_run(self, snap, reason_text: str = ""):
        if self._runs:
            run = self._runs[-1]
            if snap is not None:
                self._offset = run["start"] + int(snap.step)
            elif run["steps"]:
                self._offset = run["steps"][-1]
            if snap is not None:
                self.status.setText(self._describe(snap, run["label"], self._held_out) + (f" \u2014 {reason_text}" if reason_text else ""))
        self._x_end = 0                   # back to the data's own extent
        self._redraw_timer.stop()
        self._redraw()

    @staticmethod
    def _describe(s, label: str, held_out: bool = True) -> str:
        test = f" \u00b7 test RMSE {s.test_rmse:.3g}" if held_out and math.isfinite(s.test_rmse) else ""
        return (f"{label}: step {s.step}/{s.total_steps} \u00b7 train RMSE {s.train_rmse:.3g}{test}"
                f" \u00b7 {s.seconds:.1f} s")

    def point_count(self) -> int:
        return sum(len(r["steps"]) for r in self._runs)

    def _redraw(self):
        xs, tr, te, rg = [], [], [], []
        for r in self._runs:
            xs += r["steps"]
            tr += r["train"]
            te += r["test"]
            rg += r["reg"]
        x = np.asarray(xs, dtype=float)

        def positive(v):
            a = np.asarray(v, dtype=float)
            return np.where(np.isfinite(a) & (a > 0), a, np.nan)   # log scale: no zeros

        ys = []
        for curve, values in ((self.curve_train, tr), (self.curve_test, te if self._held_out else []),
                              (self.curve_reg, rg)):
            y = positive(values)
            if np.isfinite(y).any():
                curve.setData(x, y, connect="finite")
                ys.append(y[np.isfinite(y)])
            else:
                curve.setData([], [])
        self._set_ranges(float(x.max()) if x.size else 0.0, np.concatenate(ys) if ys else np.empty(0))

    def _set_ranges(self, x_max: float, y: np.ndarray):
        """x from 0 to the run's planned end (or the data's); y in half decades
        around the data, moved only when the data leaves them."""
        x_hi = max(1.0, x_max, float(self._x_end))
        if x_hi != self._x_shown:
            self._x_shown = x_hi
            self.plot.setXRange(0.0, x_hi, padding=0.02)
        if not y.size:
            self._y_decades = None
            return
        lo, hi = float(np.log10(y.min())), float(np.log10(y.max()))
        cur = self._y_decades
        if cur is None or lo < cur[0] or hi > cur[1] or (cur[1] - cur[0]) > (hi - lo) + 4:
            # Half decades: whole ones would leave up to a decade of empty plot.
            bottom = np.floor(2 * (lo - 0.05)) / 2
            self._y_decades = (bottom, max(np.ceil(2 * (hi + 0.05)) / 2, bottom + 1))
            self.plot.setYRange(*self._y_decades, padding=0.02)

    def curves(self, max_points: int = 2000) -> dict:
        """The plotted runs as JSON-able lists (each thinned to <= max_points
        for saving; the last point is always kept)."""
        runs = []
        for r in self._runs:
            n = len(r["steps"])
            idx = list(range(0, n, max(1, -(-n // max_points))))
            if n and idx[-1] != n - 1:
                idx.append(n - 1)
            runs.append({"label": r["label"], "start": r["start"], "steps": [r["steps"][i] for i in idx],
                         **{k: [_finite(r[k][i]) for i in idx] for k in ("train", "test", "reg")}})
        return {"runs": runs, "offset": self._offset}

    def set_curves(self, d: Optional[dict]):
        for line in self._run_lines:
            self.plot.removeItem(line)
        self._run_lines = []
        self._runs = [dict(r) for r in (d or {}).get("runs", [])]
        self._offset = int((d or {}).get("offset", 0))
        for r in self._runs[1:]:
            self._add_run_line(r["start"])
        self._redraw()
        if not self._runs:
            self.status.setText("Not trained yet")

    # ------------------------------------------------------------- theme
    def _apply_theme(self):
        c = plot_colors(self.palette())
        self.plot.setBackground(c["background"])
        for name in ("left", "bottom"):
            ax = self.plot.getPlotItem().getAxis(name)
            ax.setPen(pg.mkPen(c["foreground"]))
            ax.setTextPen(pg.mkPen(c["foreground"]))
        self.curve_train.setPen(pg.mkPen(c["train"], width=2))
        self.curve_test.setPen(pg.mkPen(c["test"], width=2))
        self.curve_reg.setPen(pg.mkPen(c["reg"], width=1.5, style=Qt.PenStyle.DashLine))
        test = (f"<span style='color:{c['test'].name()}'>\u2501\u2501</span> test RMSE &nbsp; "
                if self._held_out else "")
        train = "train RMSE" if self._held_out else "train RMSE (every row: no held-out rows)"
        self.legend.setText(
            f"<span style='color:{c['train'].name()}'>\u2501\u2501</span> {train} &nbsp; {test}"
            f"<span style='color:{c['reg'].name()}'>\u2505\u2505</span> regularisation")

    def changeEvent(self, event):
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_theme()
        super().changeEvent(event)
