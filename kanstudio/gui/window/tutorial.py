"""Help ▸ Tutorial: a guided tour of the main loop on real physics.

The tour works on ``sample_datasets/physics/oscillator_energy.csv`` (states
of a 2-D harmonic oscillator and their conserved energy
E = (px² + py²)/2 + (x² + y²)/2).  A small non-modal panel inside the window
says what to do next; a coloured frame (``TourHighlight``, an overlay that
lets every click through) is drawn over the widget or toolbar button to use.
A step advances by itself when the user has done it (data opened, fit
finished, pruned, symbolified, formula shown, hypothesis tested, project
saved) and also by Next / Back.  The steps themselves are in ``tutorial_steps``.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

from .tutorial_steps import TourStep, tour_data_path, tour_steps

__all__ = ["TourStep", "Tour", "TourPanel", "TourHighlight", "tour_steps", "start_tour", "tour_data_path"]

HIGHLIGHT = QColor("#ff7a00")
TICK_MS = 250          # how often the frame follows its target and polled conditions are checked


# ------------------------------------------------------------------ widgets
class TourHighlight(QWidget):
    """A frame over ``rect`` (window coordinates), transparent to the mouse."""

    def __init__(self, window):
        super().__init__(window)
        self.setObjectName("tour_highlight")
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.rect_in_window: Optional[QRect] = None

    def set_rect(self, rect: Optional[QRect]):
        if rect == self.rect_in_window and self.geometry() == self.parentWidget().rect():
            return
        self.rect_in_window = rect
        self.setGeometry(self.parentWidget().rect())
        self.setVisible(rect is not None)
        self.raise_()
        self.update()

    def paintEvent(self, _event):
        if self.rect_in_window is None:
            return
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = self.rect_in_window.adjusted(-3, -3, 3, 3)
        small = r.width() * r.height() < self.width() * self.height() / 10
        fill = QColor(HIGHLIGHT)
        fill.setAlpha(40 if small else 0)       # a tint on a button, not over a whole panel
        p.setBrush(fill)
        p.setPen(QPen(HIGHLIGHT, 3))
        p.drawRoundedRect(r, 6, 6)


class TourPanel(QFrame):
    """The tour's card: step counter, title, text, Back / Next, an optional
    "do it for me" button and a close button.  A child of the window, kept in
    the bottom-right corner of the central area."""

    def __init__(self, window):
        super().__init__(window)
        self.setObjectName("tour_panel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        # opaque: the card floats over panels
        self.setStyleSheet("#tour_panel { background-color: palette(window); border: 2px solid %s; "
                           "border-radius: 6px; }" % HIGHLIGHT.name())
        self.counter = QLabel("")
        self.counter.setObjectName("tour_counter")
        self.title = QLabel("")
        self.title.setObjectName("tour_title")
        f = self.title.font()
        f.setBold(True)
        f.setPointSizeF(f.pointSizeF() * 1.15)
        self.title.setFont(f)
        self.close_button = QToolButton()
        self.close_button.setObjectName("tour_close")
        self.close_button.setText("\u2715")
        self.close_button.setToolTip("End the tour")
        self.text = QLabel("")
        self.text.setObjectName("tour_text")
        self.text.setWordWrap(True)
        self.text.setTextFormat(Qt.TextFormat.RichText)
        self.do_button = QPushButton("")
        self.do_button.setObjectName("tour_do")
        self.back_button = QPushButton("Back")
        self.back_button.setObjectName("tour_back")
        self.next_button = QPushButton("Next")
        self.next_button.setObjectName("tour_next")
        self.next_button.setDefault(True)
        top = QHBoxLayout()
        top.addWidget(self.counter)
        top.addStretch(1)
        top.addWidget(self.close_button)
        buttons = QHBoxLayout()
        buttons.addWidget(self.do_button)
        buttons.addStretch(1)
        buttons.addWidget(self.back_button)
        buttons.addWidget(self.next_button)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(12, 8, 12, 10)
        lay.addLayout(top)
        lay.addWidget(self.title)
        lay.addWidget(self.text, 1)
        lay.addLayout(buttons)
        self.setFixedWidth(380)


class Tour(QObject):
    """Runs the steps over a window; ``window.tour`` while it is open."""

    def __init__(self, window, steps: Optional[list] = None):
        super().__init__(window)
        self.window = window
        self.steps = steps if steps is not None else tour_steps()
        self.index = 0
        self.finished = False
        self.panel = TourPanel(window)
        self.highlight = TourHighlight(window)
        self.mark_result = getattr(window, "last_science_result", None)
        self._mark = self._history_marker()
        p = self.panel
        p.next_button.clicked.connect(self.next)
        p.back_button.clicked.connect(self.back)
        p.close_button.clicked.connect(self.close)
        p.do_button.clicked.connect(self._do)
        window.doc.changed.connect(self._on_change)
        window.runner.busyChanged.connect(self._on_change)
        window.installEventFilter(self)
        self.timer = QTimer(self)
        self.timer.setInterval(TICK_MS)
        self.timer.timeout.connect(self.sync)
        self.timer.start()
        self._show_step()

    # ----------------------------------------------------------- state
    def _history_marker(self):
        d = self.window.doc
        return (id(d.project), d.project.history.index if d.project is not None else 0)

    def _types(self) -> list:
        """Types of the edits applied since the tour began (undone ones drop out)."""
        d = self.window.doc
        if d.project is None:
            return []
        start = self._mark[1] if self._mark[0] == id(d.project) else 0
        return [c.type for c in d.project.history.commands[start:]]

    def since(self, kind: str) -> bool:
        return kind in self._types()

    def after(self, kind: str, first: str) -> bool:
        """An edit ``kind`` applied after the last ``first`` edit."""
        t = self._types()
        return first in t and kind in t[len(t) - 1 - t[::-1].index(first):]

    @property
    def step(self) -> TourStep:
        return self.steps[self.index]

    def target(self):
        """(widget, rect in that widget) the current step points at, or None."""
        try:
            t = self.step.target(self.window)
        except (AttributeError, RuntimeError):     # a widget that is not there (yet)
            return None
        if t is None or t[0] is None or not t[0].isVisible():
            return None
        return t

    def target_rect(self) -> Optional[QRect]:
        """The highlighted rectangle in window coordinates."""
        t = self.target()
        if t is None:
            return None
        wid, r = t
        return QRect(wid.mapTo(self.window, r.topLeft()), r.size())

    # ---------------------------------------------------------- moving
    def next(self):
        if self.index == len(self.steps) - 1:
            self.finished = True
            self.close()
            return
        self.index += 1
        self._show_step()

    def back(self):
        if self.index > 0:
            self.index -= 1
            self._show_step()

    def go(self, index: int):
        self.index = max(0, min(int(index), len(self.steps) - 1))
        self._show_step()

    def close(self):
        self.timer.stop()
        try:
            self.window.doc.changed.disconnect(self._on_change)
            self.window.runner.busyChanged.disconnect(self._on_change)
        except (RuntimeError, TypeError):
            pass
        self.window.removeEventFilter(self)
        self.panel.hide()
        self.highlight.hide()
        self.panel.deleteLater()
        self.highlight.deleteLater()
        if getattr(self.window, "tour", None) is self:
            self.window.tour = None
        self.deleteLater()

    def check(self):
        """Advance past every step whose work is already done."""
        moved = False
        while not self.finished and self.step.done is not None and self._done_now() \
                and self.index < len(self.steps) - 1:
            self.index += 1
            moved = True
        if moved:
            self._show_step()
        return moved

    def _done_now(self) -> bool:
        try:
            return bool(self.step.done(self))
        except (AttributeError, RuntimeError):
            return False

    # ----------------------------------------------------------- drawing
    def _show_step(self):
        s, p = self.step, self.panel
        if s.on_enter is not None:
            s.on_enter(self.window)
        p.counter.setText(f"Tour \u2014 step {self.index + 1} of {len(self.steps)}")
        p.title.setText(s.title)
        p.text.setText(s.text)
        p.do_button.setVisible(s.action is not None)
        p.do_button.setText(s.action_text)
        p.back_button.setEnabled(self.index > 0)
        p.next_button.setText("Finish" if self.index == len(self.steps) - 1 else "Next")
        self.sync()

    def sync(self):
        """Follow the target (it moves with docks and window size) and pick up
        conditions that send no signal (formula shown, clipboard)."""
        if self.check():
            return
        if self.step.key == "open":
            self.panel.do_button.setEnabled(tour_data_path() is not None)
        self.highlight.set_rect(self.target_rect())
        self._place_panel()

    def _place_panel(self):
        """A corner of the central area (else of the window) that keeps the
        highlighted target in view."""
        w, p = self.window, self.panel
        p.adjustSize()
        central = w.centralWidget()
        target = self.highlight.rect_in_window
        m = 12
        spots = []
        for area in ([QRect(central.mapTo(w, QPoint(0, 0)), central.size())] if central is not None else []) \
                + [w.rect().adjusted(0, 0, 0, -w.statusBar().height())]:
            for x in (area.right() - p.width() - m, area.left() + m):
                for y in (area.top() + m, area.bottom() - p.height() - m):
                    spots.append(QPoint(max(0, x), max(0, y)))
        pick = next((s for s in spots if target is None or not QRect(s, p.size()).adjusted(-4, -4, 4, 4)
                     .intersects(target)), spots[0])
        p.move(pick)
        p.show()
        p.raise_()
        self.highlight.raise_()

    def _do(self):
        if self.step.action is not None:
            self.step.action(self.window)
            self.check()

    def _on_change(self, *_args):
        self.check()

    def eventFilter(self, obj, event):
        if obj is self.window and event.type() in (QEvent.Type.Resize, QEvent.Type.LayoutRequest):
            QTimer.singleShot(0, self.sync)
        return False


def start_tour(window) -> Tour:
    """Help ▸ Tutorial: (re)start the tour from its first step."""
    old = getattr(window, "tour", None)
    if old is not None:
        old.close()
    window.tour = Tour(window)
    return window.tour
