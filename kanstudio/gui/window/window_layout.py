"""The main window's panels and what it remembers (a mixin of ``MainWindow``).

Dock panels (Data, Training, Edge inspector, History, Formula, Pareto front) and their
remembered layout; the start page, which has the window to itself until data
is opened (the panels' layout is kept aside meanwhile); QSettings: geometry,
dock state, theme, recent files.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDockWidget, QTabBar, QWidget

from ..theme import ThemeWatcher

__all__ = ["LayoutMixin", "MAX_RECENT"]

MAX_RECENT = 10


class LayoutMixin:
    """Docks, start page switching, settings, theme and recent files."""

    def _dock(self, title: str, name: str, widget: QWidget, area) -> QDockWidget:
        d = QDockWidget(title, self)
        d.setObjectName(name)
        d.setWidget(widget)
        d.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                      | QDockWidget.DockWidgetFeature.DockWidgetFloatable
                      | QDockWidget.DockWidgetFeature.DockWidgetClosable)
        self.addDockWidget(area, d)
        return d

    def _build_docks(self):
        L, R, B = (Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea,
                   Qt.DockWidgetArea.BottomDockWidgetArea)
        self.setCorner(Qt.Corner.BottomLeftCorner, L)
        self.setCorner(Qt.Corner.BottomRightCorner, R)
        self.dock_data = self._dock("Data", "dock_data", self.data_panel, L)
        self.dock_training = self._dock("Training", "dock_training", self.training_panel, L)
        self.dock_inspector = self._dock("Edge inspector", "dock_inspector", self.edge_inspector, R)
        self.dock_history = self._dock("History", "dock_history", self.history_panel, R)
        self.dock_formula = self._dock("Formula", "dock_formula", self.formula_panel, B)
        # the Pareto front shares the tall right column with the Edge inspector: beside the
        # Formula dock it had a quarter of the bottom row, too narrow for its table
        self.dock_pareto = self._dock("Pareto front", "dock_pareto", self.pareto_panel, R)
        self.tabifyDockWidget(self.dock_data, self.dock_training)
        self.dock_training.raise_()
        self.splitDockWidget(self.dock_inspector, self.dock_history, Qt.Orientation.Vertical)
        self.tabifyDockWidget(self.dock_inspector, self.dock_pareto)
        self.dock_inspector.raise_()
        self._default_state = self.saveState()     # the arrangement; sizes come with the window
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
        return self.central.currentWidget() is self.start_scroll

    def _show_start_page(self, on: bool):
        """The start page has the window to itself: the panels' layout is kept
        aside and comes back with the data."""
        if on == self.on_start_page() and self._start_layout_known:
            return
        self._start_layout_known = True
        if on:
            if self._work_shown:
                self._work_state = self.saveState()
            for d in self._docks():
                d.hide()
            self.central.setCurrentWidget(self.start_scroll)
        else:
            self.central.setCurrentWidget(self.network_view)
            if self._work_state is not None:
                self.restoreState(self._work_state)
            else:
                self._apply_default_layout()
            self._work_shown = True

    def settings(self) -> QSettings:
        return QSettings()

    def _restore_settings(self):
        s = self.settings()
        geo = s.value("window/geometry")
        if isinstance(geo, QByteArray) and not geo.isEmpty():
            self.restoreGeometry(geo)
        state = s.value("window/state")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.restoreState(state)
            self._work_state = state
        theme = str(s.value("theme", "system"))
        self.theme_actions.get(theme, self.theme_actions["system"]).setChecked(True)
        app = QApplication.instance()
        self._theme = getattr(app, "_kanstudio_theme", None)
        if self._theme is None and app is not None:
            self._theme = ThemeWatcher(app, theme)
            app._kanstudio_theme = self._theme
            self._theme.set_choice(theme)
        self._refresh_recent()

    def save_settings(self):
        s = self.settings()
        s.setValue("window/geometry", self.saveGeometry())
        on_start = self.on_start_page()
        if not on_start:
            s.setValue("window/state", self.saveState())
        elif self._work_state is not None:          # the panels are hidden: keep their layout
            s.setValue("window/state", self._work_state)
        s.sync()

    def reset_layout(self):
        if self.doc.has_data:
            self._apply_default_layout()
            self._work_state = self.saveState()
        else:
            self._work_state = None           # applied when data is opened

    def _apply_default_layout(self):
        """The docks in their default places, sized for the current window."""
        self.restoreState(self._default_state)
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
        for d in self._docks() + [w for w in (getattr(self, "dock_attribution", None),) if w]:
            if d.isVisible() and not d.isFloating() and self.tabifiedDockWidgets(d):
                g = d.geometry()
                live.add((g.left(), g.bottom() + 1))
        for bar in self.findChildren(QTabBar):
            if bar.parent() is self and bar.count() and bar.isVisible():
                g = bar.geometry()
                if not any(abs(g.left() - x) <= 2 and abs(g.top() - y) <= 4 for x, y in live):
                    bar.hide()

    def _size_docks(self):
        w, h = max(self.width(), 900), max(self.height(), 600)
        self.resizeDocks([self.dock_training, self.dock_inspector], [int(0.23 * w), int(0.33 * w)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.dock_inspector, self.dock_history], [int(0.62 * h), int(0.2 * h)],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.dock_formula], [int(0.26 * h)], Qt.Orientation.Vertical)

    def set_theme(self, choice: str):
        if self._theme is not None:
            self._theme.set_choice(choice)
        self.theme_actions[choice].setChecked(True)
        self.settings().setValue("theme", choice)

    def recent_files(self) -> list[str]:
        v = self.settings().value("recent_files", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or []) if p]

    def add_recent(self, path):
        p = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != p]
        files.insert(0, p)
        self.settings().setValue("recent_files", files[:MAX_RECENT])
        self._refresh_recent()

    def _refresh_recent(self):
        files = [f for f in self.recent_files() if Path(f).exists()]
        self.recent_menu.clear()
        for k, f in enumerate(files):
            act = self.recent_menu.addAction(f"&{k + 1} {Path(f).name}")
            act.setToolTip(f)
            act.setData(f)
            act.triggered.connect(lambda _=False, f=f: self.open_path(f))
        if files:
            self.recent_menu.addSeparator()
            self.recent_menu.addAction("Clear list", self._clear_recent)
        self.recent_menu.setEnabled(bool(files))
        self.start_page.set_recent(files)

    def _clear_recent(self):
        self.settings().setValue("recent_files", [])
        self._refresh_recent()
