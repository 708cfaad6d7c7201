"""The main window's panels and what it remembers: the View menu's controller.

Dock panels (Data, Training, Edge inspector, History, Formula, Pareto front) and their
remembered layout; the start page, which has the window to itself until data
is opened (the panels' layout is kept aside meanwhile); the View menu (docks,
layout, how edges are drawn, theme); QSettings: geometry, dock state, theme.
"""
from __future__ import annotations

from PySide6.QtCore import QByteArray, Qt, QTimer
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QApplication, QDockWidget, QTabBar, QWidget

from ..theme import THEMES, ThemeWatcher
from .actions import Controller

__all__ = ["PanelController"]


class PanelController(Controller):
    """Docks, start page switching, the View menu, window settings and theme."""

    def __init__(self, window):
        super().__init__(window)
        w = window
        self.doc = w.doc
        self._work_state = None           # dock layout while the start page hides the panels
        self._work_shown = False          # the panels have been on screen in this session
        self._start_layout_known = False
        self._theme = None
        a = self.action
        self.action_fit_view = a("Fit &network to view", "action_fit_view", w.network_view.fit_all, "F",
                                 "Zoom the network to fit the window")
        self.action_show_pruned = a("Show &pruned edges", "action_show_pruned", w.network_view.set_show_pruned,
                                    None, "Draw pruned edges as faint dashed lines", checkable=True)
        self.score_group = QActionGroup(self)
        self.action_score_attr = a("Opacity from &attribution", "action_score_attribution",
                                   lambda: w.jobs.set_score_mode("attribution"), checkable=True,
                                   tip="Edge opacity = tanh(3·attribution score) (KAN 2.0)")
        self.action_score_act = a("Opacity from a&ctivation", "action_score_activation",
                                  lambda: w.jobs.set_score_mode("activation"), checkable=True,
                                  tip="Edge opacity = tanh(3·std(edge)/(std(input)+0.1))")
        for act in (self.action_score_attr, self.action_score_act):
            self.score_group.addAction(act)
        self.action_score_attr.setChecked(True)
        self.theme_group = QActionGroup(self)
        self.theme_actions = {}
        for t in THEMES:
            act = a({"system": "Follow the &system", "light": "&Light", "dark": "&Dark"}[t], f"action_theme_{t}",
                    lambda t=t: self.set_theme(t), checkable=True)
            self.theme_group.addAction(act)
            self.theme_actions[t] = act
        self.action_reset_layout = a("&Reset panel layout", "action_reset_layout", self.reset_layout)
        self.view_menu = None

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        d = QDockWidget(title, self.window)
        d.setObjectName(name)
        d.setWidget(widget)
        d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                      | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.window.addDockWidget(area, d)
        return d

    def build_docks(self, view_menu):
        """The docks in their default arrangement, and the View menu."""
        w = self.window
        self.view_menu = view_menu
        L, R, B = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                   Qt.DockWidgetArea.BottomDockWidgetArea)
        w.setCorner(Qt.Corner.BottomLeftCorner, L)
        w.setCorner(Qt.Corner.BottomRightCorner, R)
        self.dock_data = self._dock("Data", "dock_data", w.data_panel, L)
        self.dock_training = self._dock("Training", "dock_training", w.training_panel, L)
        self.dock_inspector = self._dock("Edge inspector", "dock_inspector", w.edge_inspector, R)
        self.dock_history = self._dock("History", "dock_history", w.history_panel, R)
        self.dock_formula = self._dock("Formula", "dock_formula", w.formula_panel, B)
        # the Pareto front shares the tall right column with the Edge inspector: beside the
        # Formula dock it had a quarter of the bottom row, too narrow for its table
        self.dock_pareto = self._dock("Pareto front", "dock_pareto", w.pareto_panel, R)
        w.tabifyDockWidget(self.dock_data, self.dock_training)
        self.dock_training.raise_()
        w.splitDockWidget(self.dock_inspector, self.dock_history, Qt.Orientation.Vertical)
        w.tabifyDockWidget(self.dock_inspector, self.dock_pareto)
        self.dock_inspector.raise_()
        self._default_state = w.saveState()     # the arrangement; sizes come with the window
        for d in self._docks():
            self.view_menu.addAction(d.toggleViewAction())
        self.view_menu.addAction(self.action_reset_layout)
        self.view_menu.addSeparator()
        self.view_menu.addActions([self.action_fit_view, self.action_show_pruned])
        self.view_menu.addSeparator()
        self.view_menu.addActions([self.action_score_attr, self.action_score_act])
        self.view_menu.addSeparator()
        theme = self.view_menu.addMenu("&Theme")
        theme.addActions(list(self.theme_actions.values()))

    def _docks(self) -> list:
        return [self.dock_data, self.dock_training, self.dock_inspector, self.dock_history, self.dock_formula,
                self.dock_pareto]

    def on_start_page(self) -> bool:
        return self.window.central.currentWidget() is self.window.start_scroll

    def show_start_page(self, on: bool):
        """The start page has the window to itself: the panels' layout is kept
        aside and comes back with the data."""
        if on == self.on_start_page() and self._start_layout_known:
            return
        self._start_layout_known = True
        if on:
            if self._work_shown:
                self._work_state = self.window.saveState()
            for d in self._docks():
                d.hide()
            self.window.central.setCurrentWidget(self.window.start_scroll)
        else:
            self.window.central.setCurrentWidget(self.window.network_view)
            if self._work_state is not None:
                self.window.restoreState(self._work_state)
            else:
                self._apply_default_layout()
            self._work_shown = True

    def restore_settings(self):
        s = self.window.settings()
        geo = s.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.window.restoreGeometry(geo)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.window.restoreState(state)
            self._work_state = state
        theme = str(s.value("theme", "system"))
        self.theme_actions.get(theme, self.theme_actions["system"]).setChecked(True)
        app = QApplication.instance()
        self._theme = getattr(app, "_kanstudio_theme", None)
        if self._theme is None and app is not None:
            self._theme = ThemeWatcher(app, theme)
            app._kanstudio_theme = self._theme
            self._theme.set_choice(theme)

    def save_settings(self):
        s = self.window.settings()
        s.setValue("window/geometry", self.window.saveGeometry())
        on_start = self.on_start_page()
        if not on_start:
            s.setValue("window/state", self.window.saveState())
        elif self._work_state is not None:          # the panels are hidden: keep their layout
            s.setValue("window/state", self._work_state)
        s.sync()

    def reset_layout(self):
        if self.doc.has_data:
            self._apply_default_layout()
            self._work_state = self.window.saveState()
        else:
            self._work_state = None           # applied when data is opened

    def _apply_default_layout(self):
        """The docks in their default places, sized for the current window."""
        self.window.restoreState(self._default_state)
        for d in self._docks():
            d.setFloating(False)
            d.show()
        self.dock_training.raise_()
        self.dock_inspector.raise_()
        self._size_docks()
        QTimer.singleShot(0, self._size_docks)     # again once the shown docks are laid out
        QTimer.singleShot(0, self._hide_stale_tab_bars)

    def _hide_stale_tab_bars(self):
        """Qt leaves the tab bars of a replaced dock arrangement on screen after
        restoreState (drawn over the panels, with the same tab names).  A live
        tab bar sits right under the visible dock of its group; the others go."""
        live = set()
        w = self.window
        for d in self._docks() + [w.science.dock_attribution]:
            if d.isVisible() and not d.isFloating() and w.tabifiedDockWidgets(d):
                g = d.geometry()
                live.add((g.left(), g.bottom() + 1))
        for bar in w.findChildren(QTabBar):
            if bar.parent() is w and bar.count() and bar.isVisible():
                g = bar.geometry()
                if not any(abs(g.left() - x) <= 2 and abs(g.top() - y) <= 4 for x, y in live):
                    bar.hide()

    def _size_docks(self):
        win = self.window
        w, h = max(win.width(), 900), max(win.height(), 600)
        win.resizeDocks([self.dock_training, self.dock_inspector], [int(0.23 * w), int(0.33 * w)],
                         Qt.Orientation.Horizontal)
        win.resizeDocks([self.dock_inspector, self.dock_history], [int(0.62 * h), int(0.2 * h)],
                         Qt.Orientation.Vertical)
        win.resizeDocks([self.dock_formula], [int(0.26 * h)], Qt.Orientation.Vertical)

    def set_theme(self, choice: str):
        if self._theme is not None:
            self._theme.set_choice(choice)
        self.theme_actions[choice].setChecked(True)
        self.window.settings().setValue("theme", choice)
