"""Model ▸ Science's controller: the menu of KAN 2.0 tools (``science_actions``),
the guided tour in Help, and the Input attribution dock (tabbed with History;
its scores computed on the worker whenever the model or the data changes, an
answer for an older model dropped; its Prune button prunes the weakest
inputs)."""
from __future__ import annotations

import re

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QDockWidget, QMenu

from ..panels import AttributionPanel
from .actions import Controller
from .science_actions import NEEDS_DATA, NEEDS_MODEL, SCIENCE_ACTIONS, prune_weakest_inputs

__all__ = ["ScienceController"]


class ScienceController(Controller):
    """Model ▸ Science, the tour in Help, and the Input attribution dock (tabbed
    with History; its Prune button prunes the weakest inputs)."""

    def __init__(self, window):
        super().__init__(window)
        self.doc, self.runner = window.doc, window.runner
        self.menu = None
        self.science_actions = {}
        for name, text, handler, tip in SCIENCE_ACTIONS:
            self.science_actions[name] = self.action(text, name, lambda h=handler: h(self.window), tip=tip)
        self.attribution_panel = AttributionPanel()
        self.dock_attribution = QDockWidget("Input attribution", window)
        self.dock_attribution.setObjectName("dock_attribution")
        self.dock_attribution.setWidget(self.attribution_panel)
        self.dock_attribution.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                                          | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                                          | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.dock_attribution)
        self.dock_attribution.hide()
        self._rev = 0
        self._had_data = None
        self._placed = False
        self.attribution_panel.pruneRequested.connect(lambda t: prune_weakest_inputs(self.window, t))
        self.runner.busyChanged.connect(self.attribution_panel.set_busy)
        self.doc.changed.connect(self._on_changed)

    def fill_menus(self, model_menu: QMenu, help_menu: QMenu, view_menu: QMenu):
        """The Science submenu at the end of the Model menu; the tour first in
        Help, where users look for it; the attribution dock in View."""
        model_menu.addSeparator()
        self.menu = model_menu.addMenu("&Science")
        self.menu.setObjectName("menu_science")
        for name, _text, _handler, _tip in SCIENCE_ACTIONS:
            if name == "action_tutorial":
                self.menu.addSeparator()
            self.menu.addAction(self.science_actions[name])
        first = help_menu.actions()[0] if help_menu.actions() else None
        help_menu.insertAction(first, self.science_actions["action_tutorial"])
        if first is not None:
            help_menu.insertSeparator(first)
        view_menu.addAction(self.dock_attribution.toggleViewAction())
        self._on_changed("project")

    @property
    def science_menu(self) -> QMenu:
        return self.menu

    def update(self, busy: bool):
        for n in NEEDS_MODEL:
            self.science_actions[n].setEnabled(self.doc.has_model and not busy)
        for n in NEEDS_DATA:
            self.science_actions[n].setEnabled(self.doc.has_data and not busy)

    def _on_changed(self, reason: str):
        if reason == "data" and self.doc.has_data:
            # an auxiliary input, pruned inputs (or their undo) change the number of inputs
            ds, panel = self.doc.dataset, self.window.training_panel
            _match_width(panel.width_edit, len(ds.input_names))
            panel.set_io(len(ds.input_names), len(ds.target_names))
        self.update(self.runner.busy)
        if reason in ("model", "data", "project"):
            self._refresh_attribution()
        if reason in ("data", "project"):
            has = self.doc.has_data
            if has != self._had_data:
                # like the main panels: hidden on the start page, back with the data
                if has and not self._placed:
                    # first data of this window; later, the window's saved layout brings it back
                    self._placed = True
                    QTimer.singleShot(0, self._place_attribution)
                elif not has:
                    self.dock_attribution.hide()
                self._had_data = has

    def _place_attribution(self):
        """Tabbed with History, once the window has laid out its own panels for
        the data (its default layout does not know this dock)."""
        w, dock = self.window, self.dock_attribution
        history = w.panels.dock_history
        if dock not in w.tabifiedDockWidgets(history) and history.isVisible():
            w.tabifyDockWidget(history, dock)
        dock.show()
        history.raise_()

    def _refresh_attribution(self):
        self._rev += 1
        panel = self.attribution_panel
        model, ds = self.doc.model, self.doc.dataset
        if model is None or ds is None:
            panel.clear()
            return
        rev, names = self._rev, list(ds.input_names)
        m, x = self.doc.model_snapshot(), self.window.jobs._x()

        def job(ctx):
            from ...science import input_scores
            return input_scores(m, x())

        def done(scores):
            if rev == self._rev:
                panel.set_scores(names, scores)
        self.runner.submit("Input attribution", job, side=True, on_done=done,
                           on_error=lambda msg, _d: rev == self._rev and panel.clear(f"No scores: {msg}"))


def _match_width(edit, n_in: int):
    """Keep the user's hidden layers when the number of inputs changes: only
    the first entry of the width text follows the data."""
    m = re.match(r"^(\s*\[?\s*)(\d+)(\s*(?:,.*)?)$", edit.text())
    if m and int(m.group(2)) != n_in:
        edit.setText(f"{m.group(1)}{n_in}{m.group(3)}")
