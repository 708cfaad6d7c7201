"""Help ▸ Tutorial: a guided tour of the main loop on real physics.

The tour works on ``sample_datasets/physics/oscillator_energy.csv`` (states
of a 2-D harmonic oscillator and their conserved energy
E = (px² + py²)/2 + (x² + y²)/2).  A small non-modal panel inside the window
says what to do next; a coloured frame (``TourHighlight``, an overlay that
lets every click through) is drawn over the widget or toolbar button to use.
A step advances by itself when the user has done it (data opened, fit
finished, pruned, symbolified, formula shown, hypothesis tested, project
saved) and also by Next / Back.  Completion is judged from the project's
state and the edits made since the tour started, so doing a step early (or
through a menu instead of the highlighted button) still counts.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import QEvent, QObject, QPoint, QRect, Qt, QTimer
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QVBoxLayout, QWidget

__all__ = ["TourStep", "Tour", "TourPanel", "TourHighlight", "tour_steps", "start_tour", "tour_data_path"]

HIGHLIGHT = QColor("#ff7a00")
TOUR_FILE = "oscillator_energy.csv"
TICK_MS = 250          # how often the frame follows its target and polled conditions are checked


def tour_data_path() -> Optional[Path]:
    from .start_page import samples_dir
    d = samples_dir()
    p = d / "physics" / TOUR_FILE if d is not None else None
    return p if p is not None and p.is_file() else None


@dataclass
class TourStep:
    key: str
    title: str
    text: str                                            # rich text
    target: Callable[[object], Optional[tuple]]          # window -> (widget, rect in it) or None
    done: Optional[Callable[["Tour"], bool]] = None       # None: only Next moves on
    action_text: str = ""                                # "do it for me" button
    action: Optional[Callable[[object], None]] = None
    on_enter: Optional[Callable[[object], None]] = None   # e.g. raise a tabbed dock


# ------------------------------------------------------------------ targets
def _widget(getter):
    def target(w):
        wid = getter(w)
        return (wid, wid.rect()) if wid is not None else None
    return target


def _tool_button(action_name: str):
    def target(w):
        tb = getattr(w, "toolbar", None)
        act = getattr(w, action_name, None)
        if tb is None or act is None:
            return None
        wid = tb.widgetForAction(act)
        return (wid, wid.rect()) if wid is not None else None
    return target


def _menu_title(title: str):
    def target(w):
        mb = w.menuBar()
        for act in mb.actions():
            if act.menu() is not None and act.text().replace("&", "") == title:
                return mb, mb.actionGeometry(act)
        return None
    return target


def _dock_widget(name: str):
    return _widget(lambda w: getattr(w, name, None))


def _raise(name: str):
    def enter(w):
        d = getattr(w, name, None)
        if d is not None:
            d.show()
            d.raise_()
    return enter


# ------------------------------------------------------------------ the steps
def tour_steps() -> list:
    def open_it(w):
        p = tour_data_path()
        if p is not None:
            w.open_csv(str(p), accept_defaults=True)

    def set_shape(w):
        w.training_panel.width_edit.setText("4,1")
        w.training_panel.lamb_spin.setValue(0.0)

    def symbolic(t):
        return t.since("auto_symbolic") and not t.window.runner.busy

    def formula_shown(t):
        return t.after("retrain", "auto_symbolic") and not t.window.runner.busy \
            and t.window.formula_panel.info() is not None

    def copied(t):
        info = t.window.formula_panel.info()
        return info is not None and QGuiApplication.clipboard().text() == t.window.formula_panel.latex()

    def tested(t):
        r = getattr(t.window, "last_science_result", None)
        return isinstance(r, str) and r is not t.mark_result and "additive" in r

    def saved(t):
        d = t.window.doc
        return d.path is not None and d.project is not None and not d.project.modified

    return [
        TourStep("open", "Open the data",
                 "<b>File ▸ Open CSV…</b> (or the <i>Open</i> button) and pick <tt>sample_datasets/physics/"
                 f"{TOUR_FILE}</tt>: 400 states of a 2-D harmonic oscillator — positions <i>x, y</i>, momenta "
                 "<i>px, py</i> — and their energy <i>E</i>. Accept <i>E</i> as the target.",
                 _tool_button("action_open"), lambda t: t.window.doc.has_data, "Open it for me", open_it),
        TourStep("shape", "Choose the network",
                 "In <b>Training</b>, set <b>Width</b> to <tt>4,1</tt>: no hidden layer, so E is modelled as "
                 "a sum of one learned function per variable (the hypothesis of independent oscillators). "
                 "Set <b>λ</b> to 0: such a small network needs no push towards sparsity.",
                 _widget(lambda w: w.training_panel.width_edit), lambda t: t.since("fit"), "Set it for me",
                 set_shape, _raise("dock_training")),
        TourStep("fit", "Fit",
                 "Press <b>Fit</b>. The loss curve drops while the network trains in the background; the "
                 "picture updates as it goes.",
                 _tool_button("action_fit"), lambda t: t.since("fit") and not t.window.runner.busy,
                 "Fit", lambda w: w.action_fit.trigger(), _raise("dock_training")),
        TourStep("look", "Look at the network",
                 "Inputs at the bottom, the output on top; every edge is a small plot of its learned 1-D "
                 "function and its opacity is its KAN 2.0 attribution score. Click an edge to inspect it.",
                 _widget(lambda w: w.network_view), lambda t: t.since("auto_prune")),
        TourStep("prune", "Prune",
                 "Press <b>Prune (auto)</b>: weak nodes and edges go, leaving the structure the data needs "
                 "(here every coordinate carries energy, so all four edges stay).",
                 _tool_button("action_prune"), lambda t: t.since("auto_prune") and not t.window.runner.busy,
                 "Prune", lambda w: w.action_prune.trigger()),
        TourStep("symbolic", "Make it symbolic",
                 "Press <b>Auto-symbolic</b>: every edge is replaced by its best library function "
                 "c·f(a·x+b)+d (here, squares). Right-click an edge to choose one yourself.",
                 _tool_button("action_auto_symbolic"), symbolic,
                 "Auto-symbolic", lambda w: w.action_auto_symbolic.trigger()),
        TourStep("retrain", "Retrain",
                 "Press <b>Retrain</b>: the symbolic edges now train only their constants a, b, c, d, which "
                 "settle on simple values: the network's own error drops to the formula's.",
                 _tool_button("action_retrain"), formula_shown, "Retrain", lambda w: w.action_retrain.trigger()),
        TourStep("formula", "Read the formula",
                 "The <b>Formula</b> panel shows E in the data's own units: kinetic plus potential energy, "
                 "(px² + py²)/2 + (x² + y²)/2. <b>Copy LaTeX</b> puts it on the clipboard; <i>File ▸ Export</i> writes LaTeX, SymPy "
                 "or a Python function.",
                 _dock_widget("dock_formula"), copied, "Copy LaTeX", lambda w: w.formula_panel.copy_latex(),
                 _raise("dock_formula")),
        TourStep("hypothesis", "Test a hypothesis",
                 "<b>Model ▸ Science ▸ Hypothesis tests</b> asks the network whether E splits into a sum of "
                 "terms of separate variables (it does: an energy of independent oscillators).",
                 _menu_title("Model"), tested, "Run the tests",
                 lambda w: w.science_actions["action_hypothesis_tests"].trigger()),
        TourStep("attribution", "Which inputs matter",
                 "The <b>Input attribution</b> panel ranks the inputs; all four carry the energy here. "
                 "<i>Prune weakest inputs</i> removes those below the threshold (undoable).",
                 _dock_widget("dock_attribution"), None, on_enter=_raise("dock_attribution")),
        TourStep("save", "Save the project",
                 "<b>File ▸ Save Project</b> writes a <tt>.kanproj</tt> with the data, the model and the whole "
                 "edit history (see the <b>History</b> panel: every step can be undone).",
                 _tool_button("action_save_project"), saved, "Save…", lambda w: w.action_save_project.trigger()),
    ]


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
