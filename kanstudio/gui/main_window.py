"""The main window: menus, docks, the network view, and the wiring between the
widgets, the worker thread and the undoable document.

Rules kept here: the UI thread never runs an engine call that can take more
than ~20 ms (jobs go to ``self.runner``, with deep copies of the model); every
edit of the model is a project command pushed on the undo stack (heavy compute
first in the worker, then an instant command with the result); dialogs are
opened with ``open()``/``show()`` and every file operation has a method taking
the path (``open_csv``, ``open_project``, ``save_project``, ``export_latex``,
...) that the QActions call after asking for a file name, so tests drive the
window without blocking.  Errors shown to the user go through
``show_error(title, text)``, which records the last one in ``last_error``.
"""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QByteArray, QObject, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QInputDialog, QLabel,
                               QMainWindow, QMessageBox, QProgressBar, QScrollArea, QStackedWidget,
                               QStyle, QToolBar, QToolButton, QWidget)

from .. import __version__
from .edge_inspector import EdgeInspector
from .errors import ErrorDialog
from .formula_panel import FormulaPanel, ParetoRow
from .history_panel import HistoryPanel
from .import_dialog import DataPanel, ImportDialog
from .network_view import NetworkView
from .start_page import StartPage
from .theme import THEMES, ThemeWatcher, app_icon
from .training_panel import TrainingPanel
from .undo import Document
from .worker import (JobRunner, candidate_job, command_job, discover_job, edge_detail_job, formula_job,
                     picture_job, predictions_job, suggest_job, training_job)

__all__ = ["MainWindow"]

MAX_RECENT = 10
CSV_FILTER = "CSV files (*.csv *.tsv *.txt);;All files (*)"
PROJECT_FILTER = "kanstudio projects (*.kanproj)"


class MainWindow(QMainWindow):
    def __init__(self, confirm_close: bool = True, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("main_window")
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.confirm_close = confirm_close
        self.last_error: Optional[tuple] = None
        self.errors: list[tuple] = []
        self._closing = False
        self._shut = False
        self._work_state = None           # dock layout while the start page hides the panels
        self._work_shown = False          # the panels have been on screen in this session
        self._inspector_note: Optional[str] = None
        self._inspector_locked = False
        self._start_layout_known = False

        self.runner = JobRunner(self)
        self.doc = Document(self)
        self.stack = self.doc.stack
        self.jobs = Jobs(self)

        self._build_widgets()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_docks()
        self._build_status_bar()
        self._connect()
        self._install_extensions()
        self._restore_settings()
        self._update_title()
        self._update_actions()

    # ================================================================ building
    def _build_widgets(self):
        self.start_page = StartPage()
        self.network_view = NetworkView()
        self.central = QStackedWidget()
        self.central.setObjectName("central_stack")
        # In a scroll area: the start page must not set a minimum size for the
        # central area once the panels are shown.
        self.start_scroll = QScrollArea()
        self.start_scroll.setObjectName("start_scroll")
        self.start_scroll.setWidget(self.start_page)
        self.start_scroll.setWidgetResizable(True)
        self.start_scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        self.central.addWidget(self.start_scroll)
        self.central.addWidget(self.network_view)
        self.setCentralWidget(self.central)
        self.edge_inspector = EdgeInspector()
        self.training_panel = TrainingPanel()
        self.formula_panel = FormulaPanel()
        self.history_panel = HistoryPanel(self.stack)
        self.data_panel = DataPanel()

    def _action(self, text: str, name: str, slot=None, shortcut=None, tip: str = "",
                icon: Optional[QStyle.StandardPixmap] = None, checkable: bool = False) -> QAction:
        act = QAction(text, self)
        act.setObjectName(name)
        if shortcut is not None:
            act.setShortcut(QKeySequence(shortcut))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        if icon is not None:
            act.setIcon(self.style().standardIcon(icon))
        act.setCheckable(checkable)
        if slot is not None:
            act.triggered.connect(lambda checked=False, s=slot: s(checked) if checkable else s())
        self.addAction(act)
        return act

    def _build_actions(self):
        SK, SP = QKeySequence.StandardKey, QStyle.StandardPixmap
        a = self._action
        self.action_open = a("&Open CSV…", "action_open", self.ask_open_csv, SK.Open,
                             "Import a table of data from a CSV file", SP.SP_DialogOpenButton)
        self.action_open_project = a("Open &Project…", "action_open_project", self.ask_open_project,
                                     "Ctrl+Shift+O", "Open a saved .kanproj project", SP.SP_DirOpenIcon)
        self.action_save_project = a("&Save Project", "action_save_project", self.ask_save_project, SK.Save,
                                     "Save data, model, history and view to a .kanproj file",
                                     SP.SP_DialogSaveButton)
        self.action_save_as = a("Save Project &As…", "action_save_project_as", self.ask_save_project_as,
                                SK.SaveAs, "Save the project under a new name")
        self.action_close_project = a("&Close Project", "action_close_project", self.close_project,
                                      SK.Close, "Close the data and model and go back to the start page")
        self.action_quit = a("&Quit", "action_quit", self.close, SK.Quit, "Quit kanstudio")
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.action_export_latex = a("&LaTeX (.tex)…", "action_export_latex",
                                     lambda: self._ask_export("tex"), None, "Export the formula as LaTeX")
        self.action_export_sympy = a("&SymPy expression (.txt)…", "action_export_sympy",
                                     lambda: self._ask_export("sympy"), None, "Export the formula as SymPy text")
        self.action_export_python = a("&Python function (.py)…", "action_export_python",
                                      lambda: self._ask_export("py"), None, "Export the formula as a NumPy function")
        self.action_export_predictions = a("P&redictions (.csv)…", "action_export_predictions",
                                           lambda: self._ask_export("csv"), None,
                                           "Write the data with the network's (and formula's) predictions")
        self.action_export_image = a("&Network image (PNG/SVG)…", "action_export_image",
                                     lambda: self._ask_export("image"), None, "Save a picture of the network")

        # Own undo/redo actions (not QUndoStack.createUndoAction): short toolbar
        # text, the command's name in the tooltip, and disabled while a job runs.
        self.action_undo = a("&Undo", "action_undo", self.undo, SK.Undo, "Undo the last edit", SP.SP_ArrowBack)
        self.action_redo = a("&Redo", "action_redo", self.redo, None, "Redo the edit just undone",
                             SP.SP_ArrowForward)
        self.action_redo.setShortcuts(QKeySequence.keyBindings(SK.Redo))
        self.action_copy_latex = a("Copy &LaTeX", "action_copy_latex", self.formula_panel.copy_latex,
                                   "Ctrl+Shift+C", "Copy the formula's LaTeX to the clipboard")

        self.action_fit = a("&Fit", "action_fit", self.jobs.fit, "Ctrl+R",
                            "Build a network with the Training settings and train it", SP.SP_MediaPlay)
        self.action_stop = a("&Stop", "action_stop", self.stop, "Ctrl+.", "Stop the running job",
                             SP.SP_MediaStop)
        self.action_retrain = a("&Retrain", "action_retrain", self.jobs.retrain, "Ctrl+Shift+R",
                                "Continue training the current network (after edits)", SP.SP_BrowserReload)
        self.action_prune = a("&Prune (auto)", "action_prune", self.jobs.auto_prune, "Ctrl+Shift+P",
                              "Remove weak nodes and edges (attribution scores)")
        self.action_auto_symbolic = a("&Auto-symbolic", "action_auto_symbolic", self.jobs.auto_symbolic,
                                      "Ctrl+Shift+Y", "Fix every numeric edge to its best library function")
        self.action_prune_nodes = a("Prune selected &nodes", "action_prune_nodes", self.prune_selected_nodes,
                                    SK.Delete, "Remove the selected hidden nodes (click a node, Ctrl+click for more)")
        self.action_refine = a("Refine &grid…", "action_refine", self.ask_refine, None,
                               "Extend the spline grids (more intervals) keeping the learned functions")
        self.action_discover = a("&Discover formula", "action_discover", self.jobs.discover, "Ctrl+D",
                                 "Fit, prune, symbolify and simplify automatically (with a Pareto list)")
        self.action_suggest = a("S&uggest for selected edge", "action_suggest", self.suggest_selected, None,
                                "Rank library functions for the selected edge")

        self.action_fit_view = a("Fit &network to view", "action_fit_view", self.network_view.fit_all, "F",
                                 "Zoom the network to fit the window")
        self.action_show_pruned = a("Show &pruned edges", "action_show_pruned", self._set_show_pruned, None,
                                    "Draw pruned edges as faint dashed lines", checkable=True)
        self.score_group = QActionGroup(self)
        self.action_score_attr = a("Opacity from &attribution", "action_score_attribution",
                                   lambda: self._set_score_mode("attribution"), checkable=True,
                                   tip="Edge opacity = tanh(3·attribution score) (KAN 2.0)")
        self.action_score_act = a("Opacity from a&ctivation", "action_score_activation",
                                  lambda: self._set_score_mode("activation"), checkable=True,
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
        self.action_about = a("&About kanstudio", "action_about", self.show_about, None, "Versions and citation",
                              SP.SP_MessageBoxInformation)
        self.action_about.setMenuRole(QAction.MenuRole.AboutRole)
        self.action_about_qt = a("About &Qt", "action_about_qt", QApplication.aboutQt)
        self.action_paper = a("KAN paper (arXiv:2404.19756)", "action_paper",
                              lambda: QDesktopServices.openUrl(QUrl("https://arxiv.org/abs/2404.19756")))
        self.action_paper2 = a("KAN 2.0 paper (arXiv:2408.10205)", "action_paper2",
                               lambda: QDesktopServices.openUrl(QUrl("https://arxiv.org/abs/2408.10205")))

    def _build_menus(self):
        mb = self.menuBar()
        m = mb.addMenu("&File")
        m.addActions([self.action_open, self.action_open_project])
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.setObjectName("menu_recent")
        m.addSeparator()
        m.addActions([self.action_save_project, self.action_save_as])
        self.export_menu = m.addMenu("&Export")
        self.export_menu.setObjectName("menu_export")
        self.export_menu.addActions([self.action_export_latex, self.action_export_sympy, self.action_export_python])
        self.export_menu.addSeparator()
        self.export_menu.addActions([self.action_export_predictions, self.action_export_image])
        m.addSeparator()
        m.addActions([self.action_close_project, self.action_quit])
        m = mb.addMenu("&Edit")
        m.addActions([self.action_undo, self.action_redo])
        m.addSeparator()
        m.addAction(self.action_copy_latex)
        self.view_menu = mb.addMenu("&View")
        m = mb.addMenu("&Model")
        m.addActions([self.action_fit, self.action_stop, self.action_retrain])
        m.addSeparator()
        m.addActions([self.action_prune, self.action_prune_nodes, self.action_auto_symbolic, self.action_refine])
        m.addSeparator()
        m.addActions([self.action_suggest, self.action_discover])
        m = mb.addMenu("&Help")
        m.addActions([self.action_paper, self.action_paper2])
        m.addSeparator()
        m.addActions([self.action_about, self.action_about_qt])
        self.formula_panel.set_export_menu(self.export_menu)

    def _build_toolbar(self):
        tb = QToolBar("Main toolbar")
        tb.setObjectName("toolbar_main")
        tb.setMovable(False)
        tb.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        tb.addActions([self.action_open, self.action_save_project])
        tb.addSeparator()
        tb.addActions([self.action_undo, self.action_redo])
        tb.addSeparator()
        tb.addActions([self.action_fit, self.action_stop, self.action_retrain])
        tb.addSeparator()
        tb.addActions([self.action_prune, self.action_auto_symbolic, self.action_refine, self.action_discover])
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, tb)
        self.toolbar = tb

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
        self.tabifyDockWidget(self.dock_data, self.dock_training)
        self.dock_training.raise_()
        self.splitDockWidget(self.dock_inspector, self.dock_history, Qt.Orientation.Vertical)
        self._default_state = self.saveState()     # the arrangement; sizes come with the window
        for d in (self.dock_data, self.dock_training, self.dock_inspector, self.dock_history, self.dock_formula):
            self.view_menu.addAction(d.toggleViewAction())
        self.view_menu.addAction(self.action_reset_layout)
        self.view_menu.addSeparator()
        self.view_menu.addActions([self.action_fit_view, self.action_show_pruned])
        self.view_menu.addSeparator()
        self.view_menu.addActions([self.action_score_attr, self.action_score_act])
        self.view_menu.addSeparator()
        theme = self.view_menu.addMenu("&Theme")
        theme.addActions(list(self.theme_actions.values()))

    def _build_status_bar(self):
        sb = self.statusBar()
        self.status_label = QLabel("Ready")
        self.status_label.setObjectName("status_message")
        self._status_text = ""
        self._status_timer = QTimer(self)
        self._status_timer.setSingleShot(True)
        self._status_timer.timeout.connect(self._status_expired)
        self.progress = QProgressBar()
        self.progress.setObjectName("status_progress")
        self.progress.setMaximumWidth(220)
        self.progress.setMaximumHeight(16)
        self.progress.setTextVisible(False)
        self.progress.setVisible(False)
        self.cancel_button = QToolButton()
        self.cancel_button.setObjectName("status_cancel")
        self.cancel_button.setText("Cancel")
        self.cancel_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.cancel_button.clicked.connect(self.stop)
        self.cancel_button.setVisible(False)
        self.model_label = QLabel("")
        self.model_label.setObjectName("status_model")
        sb.addWidget(self.status_label, 1)
        sb.addPermanentWidget(self.model_label)
        sb.addPermanentWidget(self.progress)
        sb.addPermanentWidget(self.cancel_button)

    def _connect(self):
        self.training_panel.set_actions(self.action_fit, self.action_stop)
        self.runner.busyChanged.connect(self._on_busy)
        self.runner.progress.connect(self._on_progress)
        self.stack.cleanChanged.connect(self._on_clean_changed)
        self.stack.indexChanged.connect(self._on_index_changed)
        self.doc.changed.connect(self.jobs.on_document_changed)
        self.doc.changed.connect(self._on_doc_changed)
        self.start_page.openCsvRequested.connect(self.ask_open_csv)
        self.start_page.openProjectRequested.connect(self.ask_open_project)
        self.start_page.openPathRequested.connect(self.open_path)
        self.network_view.edgeSelected.connect(self.jobs.select_edge)
        self.network_view.edgeAction.connect(self.jobs.edge_action)
        self.network_view.nodesSelected.connect(self._on_nodes_selected)
        self.edge_inspector.suggestRequested.connect(self.jobs.suggest)
        self.edge_inspector.fixRequested.connect(self.jobs.fix_with_params)
        self.edge_inspector.unfixRequested.connect(self.jobs.unfix)
        self.edge_inspector.pruneRequested.connect(self.jobs.prune_edge)
        self.formula_panel.digitsChanged.connect(self._on_digits)
        self.formula_panel.autoSymbolicRequested.connect(self.jobs.auto_symbolic)
        self.formula_panel.paretoChosen.connect(self.jobs.choose_pareto)

    def _on_clean_changed(self, _clean: bool):
        self._update_title()

    def _on_index_changed(self, _index: int):
        self._update_actions()

    def _on_doc_changed(self, _reason: str):
        self._update_actions()

    def _on_digits(self, digits: int):
        self.doc.set_settings({"digits": int(digits)})
        self.jobs.refresh_formula()

    def _install_extensions(self):
        """Model ▸ Science (KAN 2.0 tools), when that module is part of the build."""
        try:
            from .science_actions import install_science_actions
        except ImportError:
            return
        install_science_actions(self)

    # ================================================================ settings
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
        self._size_docks()
        QTimer.singleShot(0, self._size_docks)     # again once the shown docks are laid out

    def _size_docks(self):
        w, h = max(self.width(), 900), max(self.height(), 600)
        self.resizeDocks([self.dock_training, self.dock_inspector], [int(0.23 * w), int(0.33 * w)],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.dock_inspector, self.dock_history], [int(0.62 * h), int(0.2 * h)],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.dock_formula], [int(0.2 * h)], Qt.Orientation.Vertical)

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

    # ================================================================ status
    def show_error(self, title: str, text: str, details: str = ""):
        """The one place user-facing errors go (tests read ``last_error``)."""
        self.last_error = (title, text)
        self.errors.append((title, text))
        self.status_label.setText(f"{title}: {text.splitlines()[0] if text else ''}")
        dlg = ErrorDialog(title, text, details, self)
        dlg.setWindowModality(Qt.WindowModality.WindowModal)
        dlg.open()
        return dlg

    def show_status(self, text: str, timeout_ms: int = 0):
        """A message in the status bar; with a timeout it goes back to "Ready"
        unless something else was shown meanwhile."""
        self.status_label.setText(text)
        self._status_text = text
        if timeout_ms:
            self._status_timer.start(timeout_ms)

    def _status_expired(self):
        if self.status_label.text() == self._status_text:
            self.status_label.setText("Ready")

    def _on_busy(self, busy: bool):
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        if busy:
            self.progress.setRange(0, 0)
        self._update_actions()

    def _on_progress(self, fraction: float, text: str):
        if fraction >= 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(1.0, fraction)))
        else:
            self.progress.setRange(0, 0)
        if text:
            self.status_label.setText(text)

    def _update_title(self):
        name = self.doc.display_name()
        self.setWindowTitle(f"{name}[*] \u2014 kanstudio" if name else "kanstudio")
        p = self.doc.project
        # The stack covers edits; the project also counts settings and recovered work.
        self.setWindowModified(bool(name) and (not self.stack.isClean() or (p is not None and p.modified)))

    def _update_actions(self):
        busy = self.runner.busy
        has_data = self.doc.has_data
        has_model = self.doc.has_model
        self.action_stop.setEnabled(busy)
        self.action_fit.setEnabled(has_data and not busy)
        for act in (self.action_retrain, self.action_prune, self.action_auto_symbolic, self.action_refine):
            act.setEnabled(has_model and not busy)
        self.action_discover.setEnabled(has_data and not busy)
        self.action_suggest.setEnabled(has_model and not busy and self.network_view.selected_edge() is not None)
        self.action_save_project.setEnabled(has_data and not busy)
        self.action_save_as.setEnabled(has_data and not busy)
        self.action_close_project.setEnabled(has_data and not busy)
        self.action_open.setEnabled(not busy)
        self.action_open_project.setEnabled(not busy)
        self.recent_menu.setEnabled(not busy and bool(self.recent_files()))
        formula = self.formula_panel.info() is not None
        for act in (self.action_export_latex, self.action_export_sympy, self.action_export_python,
                    self.action_copy_latex):
            act.setEnabled(formula)
        self.action_export_predictions.setEnabled(has_model and not busy)
        self.action_export_image.setEnabled(has_model)
        # Undo/redo would change the model under a running job: blocked meanwhile.
        self.action_undo.setEnabled(not busy and self.stack.canUndo())
        self.action_redo.setEnabled(not busy and self.stack.canRedo())
        self.action_undo.setToolTip(f"Undo: {self.stack.undoText()}" if self.stack.canUndo() else "Nothing to undo")
        self.action_redo.setToolTip(f"Redo: {self.stack.redoText()}" if self.stack.canRedo() else "Nothing to redo")
        self.action_undo.setStatusTip(self.action_undo.toolTip())
        self.action_redo.setStatusTip(self.action_redo.toolTip())
        m = self.doc.model
        hidden = [n for n in self.network_view.selected_nodes() if m is not None and 0 < n[0] < m.depth]
        self.action_prune_nodes.setEnabled(not busy and bool(hidden))
        self.history_panel.set_enabled_for_edits(not busy)
        self._inspector_busy(busy)
        self.training_panel.set_running(busy)
        self._show_start_page(not has_data)
        self.model_label.setText(f"{self.doc.width_text()} \u00b7 {m.edge_count()} edges" if m is not None else "")

    def _inspector_busy(self, busy: bool):
        """Lock the inspector while any job runs.  Its busy note speaks of
        fitting candidates, so after other jobs the previous note comes back."""
        insp = self.edge_inspector
        if busy and not self._inspector_locked:
            self._inspector_note = insp.candidate_note.text()
        self._inspector_locked = busy
        insp.set_busy(busy)
        if not busy and insp.candidate_note.text().startswith("Fitting the symbolic library") \
                and self._inspector_note is not None:
            insp.candidate_note.setText(self._inspector_note)

    def _docks(self) -> list:
        return [self.dock_data, self.dock_training, self.dock_inspector, self.dock_history, self.dock_formula]

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

    def stop(self):
        if self.runner.busy:
            self.runner.cancel()

    def undo(self):
        if not self.runner.busy and self.stack.canUndo():
            self.stack.undo()

    def redo(self):
        if not self.runner.busy and self.stack.canRedo():
            self.stack.redo()

    # ================================================================ files
    def _dialog_dir(self) -> str:
        return str(self.settings().value("last_dir", str(Path.home())))

    def _remember_dir(self, path):
        self.settings().setValue("last_dir", str(Path(path).resolve().parent))

    def ask_open_csv(self):
        if not self._may_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open CSV", self._dialog_dir(), CSV_FILTER)
        if path:
            self.open_csv(path)

    def ask_open_project(self):
        if not self._may_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self, "Open project", self._dialog_dir(), PROJECT_FILTER)
        if path:
            self.open_project(path)

    def open_path(self, path: str, accept_defaults: bool = False):
        """A CSV or a project, by its extension (drag and drop, recent files, command line)."""
        p = Path(path)
        if p.suffix.lower() == ".kanproj":
            return self.open_project(p)
        return self.open_csv(p, accept_defaults=accept_defaults)

    def open_csv(self, path, accept_defaults: bool = False) -> Optional[ImportDialog]:
        """Show the import dialog for ``path`` (non-blocking); with
        ``accept_defaults`` accept its suggested settings at once."""
        if self.runner.busy:
            self.show_error("Busy", "Stop the running job before opening another file.")
            return None
        try:
            dlg = ImportDialog(path, self)
        except ValueError as exc:
            self.show_error("Cannot open the CSV file", str(exc))
            return None
        self.import_dialog = dlg
        dlg.datasetAccepted.connect(lambda ds, p=path: self._dataset_imported(ds, p))
        if accept_defaults:
            try:
                dlg.accept_defaults()
            except ValueError as exc:
                self.show_error("Cannot import the CSV file", str(exc))
                return None
        else:
            dlg.open()
        return dlg

    def _dataset_imported(self, dataset, path):
        # The training settings carry over from the panel; the width follows the new columns.
        self.doc.new_project(dataset, source=str(path), settings={**self.training_panel.settings(), "width": ""})
        self.training_panel.set_io(len(dataset.input_names), len(dataset.target_names), reset_width=True)
        self.training_panel.set_curves(None)
        self.formula_panel.set_pareto([])
        self.edge_inspector.clear()
        self.network_view.clear()
        self.add_recent(path)
        self._remember_dir(path)
        self._update_title()
        self._update_actions()
        self.show_status(f"Imported {Path(path).name}: {self.doc.data_summary()}. Press Fit to train.")

    def open_project(self, path) -> bool:
        if self.runner.busy:
            self.show_error("Busy", "Stop the running job before opening another file.")
            return False
        try:
            ui = self.doc.load(path)
        except (ValueError, OSError) as exc:
            self.show_error("Cannot open the project", f"{Path(path).name}: {exc}")
            return False
        self._apply_ui_state(ui)
        self.add_recent(path)
        self._remember_dir(path)
        self._update_title()
        self._update_actions()
        self.show_status(f"Opened {Path(path).name}")
        return True

    def _apply_ui_state(self, ui: dict):
        ds = self.doc.dataset
        self.training_panel.set_settings(ui.get("training", {}))
        self.training_panel.set_io(len(ds.input_names), len(ds.target_names))
        self.training_panel.set_curves(ui.get("curves"))
        self.formula_panel.set_digits(int(self.doc.project.settings.get("digits", ui.get("digits", 4))))
        self.action_show_pruned.setChecked(bool(ui.get("show_pruned", False)))
        self.network_view.set_show_pruned(bool(ui.get("show_pruned", False)))
        mode = ui.get("score_mode", "attribution")
        (self.action_score_act if mode == "activation" else self.action_score_attr).setChecked(True)
        self.jobs.restore(ui)

    def ui_state(self) -> dict:
        return {"training": self.training_panel.settings(), "curves": self.training_panel.curves(),
                "digits": self.formula_panel.digits(), "show_pruned": self.action_show_pruned.isChecked(),
                "score_mode": self.jobs.score_mode, **self.jobs.ui_state()}

    def ask_save_project(self) -> bool:
        if self.doc.path is None:
            return self.ask_save_project_as()
        return self.save_project(self.doc.path)

    def ask_save_project_as(self) -> bool:
        start = str(Path(self._dialog_dir()) / (self.doc.suggested_name() + ".kanproj"))
        path, _ = QFileDialog.getSaveFileName(self, "Save project", start, PROJECT_FILTER)
        if not path:
            return False
        if not path.endswith(".kanproj"):
            path += ".kanproj"
        return self.save_project(path)

    def save_project(self, path) -> bool:
        if self.runner.busy:
            self.show_error("Busy", "Stop the running job before saving.")
            return False
        try:
            self.doc.save(path, self.ui_state())
        except (ValueError, OSError) as exc:
            self.show_error("Cannot save the project", f"{Path(path).name}: {exc}")
            return False
        self.add_recent(path)
        self._remember_dir(path)
        self._update_title()
        self.show_status(f"Saved {Path(path).name}", 4000)
        return True

    def close_project(self) -> bool:
        if not self._may_discard():
            return False
        self.doc.close()
        self.network_view.clear()
        self.edge_inspector.clear()
        self.training_panel.set_curves(None)
        self.formula_panel.set_pareto([])
        self.formula_panel.show_message("No model yet. Open a CSV and press Fit; the formula appears here once "
                                        "every edge is symbolic.")
        self._update_title()
        self._update_actions()
        self.show_status("Ready")
        return True

    # ---------------------------------------------------------------- recovery
    def offer_recovery(self) -> Optional[QMessageBox]:
        """If an earlier session left a recovery file (it crashed), offer it back."""
        from ..project import find_recovery, recovery_info
        mine = self.doc.project.uid if self.doc.project is not None else None
        infos = []
        for f in find_recovery():
            if mine and mine in f.name:
                continue
            try:
                infos.append(recovery_info(f))
            except ValueError:
                continue      # unreadable leftovers are not worth a question
        if not infos:
            return None
        info = infos[0]
        more = f"\n\n{len(infos) - 1} older recovery file(s) are kept for later." if len(infos) > 1 else ""
        box = QMessageBox(self)
        box.setObjectName("recovery_box")
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Recover unsaved work?")
        when = info["time"].replace("T", " ")[:16] if info["time"] else "an earlier session"
        box.setText(f"kanstudio did not close properly last time.\n\nRecover \u201c{info['title']}\u201d "
                    f"({info['edits']} edit(s), saved automatically {when} UTC)?{more}")
        recover = box.addButton("Recover", QMessageBox.ButtonRole.AcceptRole)
        discard = box.addButton("Discard", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton("Not now", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(recover)

        def chosen(button):
            if button is recover:
                self.recover(info["path"])
            elif button is discard:
                from ..project import discard_recovery
                try:
                    discard_recovery(info["path"])
                except (OSError, ValueError):
                    pass
        box.buttonClicked.connect(chosen)
        box.open()
        self.recovery_box = box
        return box

    def recover(self, path) -> bool:
        try:
            ui = self.doc.recover(path)
        except (ValueError, OSError) as exc:
            self.show_error("Cannot recover the project", str(exc))
            return False
        self._apply_ui_state(ui)
        self._update_title()
        self._update_actions()
        self.show_status("Recovered unsaved work: save it to keep it.")
        return True

    # ---------------------------------------------------------------- refine
    def ask_refine(self):
        m = self.doc.model
        if m is None:
            return
        dlg = QInputDialog(self)
        dlg.setObjectName("refine_dialog")
        dlg.setWindowTitle("Refine grid")
        dlg.setLabelText(f"New number of grid intervals (now {m.grid_size}).\n"
                         "The learned functions are kept; retrain afterwards.")
        dlg.setInputMode(QInputDialog.InputMode.IntInput)
        dlg.setIntRange(m.grid_size + 1, 1000)
        dlg.setIntValue(min(1000, max(m.grid_size * 2, m.grid_size + 1)))
        dlg.intValueSelected.connect(self.jobs.refine)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.open()
        self.refine_dialog = dlg

    def _on_nodes_selected(self, nodes: list):
        self._update_actions()
        hidden = [n for n in nodes if self.doc.model is not None and 0 < n[0] < self.doc.model.depth]
        if hidden:
            self.show_status(f"{len(hidden)} hidden node(s) selected: press Delete to prune them", 6000)

    def prune_selected_nodes(self):
        m = self.doc.model
        if m is None or self.runner.busy:
            return
        nodes = [n for n in self.network_view.selected_nodes() if 0 < n[0] < m.depth]
        if nodes:
            self.jobs.prune_nodes(nodes)

    def suggest_selected(self):
        sel = self.network_view.selected_edge()
        if sel is not None:
            self.jobs.suggest(*sel)

    # ---------------------------------------------------------------- exports
    def _ask_export(self, kind: str):
        filters = {"tex": "LaTeX (*.tex)", "sympy": "Text (*.txt)", "py": "Python (*.py)",
                   "csv": "CSV (*.csv)", "image": self.jobs.image_filter()}
        ext = {"tex": ".tex", "sympy": ".txt", "py": ".py", "csv": ".csv", "image": ".png"}[kind]
        start = str(Path(self._dialog_dir()) / (self.doc.suggested_name() + ("_predictions" if kind == "csv" else "")
                                                + ("_network" if kind == "image" else "") + ext))
        path, chosen = QFileDialog.getSaveFileName(self, "Export", start, filters[kind])
        if not path:
            return
        if kind == "image" and not Path(path).suffix:
            path += ".svg" if "SVG" in chosen else ".png"
        elif not Path(path).suffix:
            path += ext
        self._remember_dir(path)
        {"tex": self.export_latex, "sympy": self.export_sympy, "py": self.export_python,
         "csv": self.export_predictions, "image": self.export_network_image}[kind](path)

    def export_latex(self, path) -> bool:
        return self.jobs.export_text(path, "tex")

    def export_sympy(self, path) -> bool:
        return self.jobs.export_text(path, "sympy")

    def export_python(self, path) -> bool:
        return self.jobs.export_text(path, "py")

    def export_predictions(self, path):
        return self.jobs.export_predictions(path)

    def export_network_image(self, path) -> bool:
        return self.jobs.export_image(path)

    # ---------------------------------------------------------------- view
    def _set_show_pruned(self, on: bool):
        self.network_view.set_show_pruned(on)

    def _set_score_mode(self, mode: str):
        self.jobs.set_score_mode(mode)

    def show_about(self):
        from .about import AboutDialog
        dlg = AboutDialog(self)
        dlg.show()
        self.about_dialog = dlg
        return dlg

    # ================================================================ drag & drop
    @staticmethod
    def _dropped_path(event) -> Optional[str]:
        md = event.mimeData()
        if not md.hasUrls():
            return None
        for url in md.urls():
            if url.isLocalFile() and Path(url.toLocalFile()).suffix.lower() in (".csv", ".tsv", ".txt", ".kanproj"):
                return url.toLocalFile()
        return None

    def dragEnterEvent(self, event):
        if self._dropped_path(event) and not self.runner.busy:
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        self.dragEnterEvent(event)

    def dropEvent(self, event):
        path = self._dropped_path(event)
        if path and self._may_discard():
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(path))

    # ================================================================ closing
    def confirm(self, title: str, text: str, save_option: bool = True) -> str:
        """"save", "discard" or "cancel" (a modal question; tests monkeypatch it)."""
        buttons = QMessageBox.StandardButton.Discard | QMessageBox.StandardButton.Cancel
        if save_option:
            buttons |= QMessageBox.StandardButton.Save
        r = QMessageBox.question(self, title, text, buttons, QMessageBox.StandardButton.Cancel)
        return {QMessageBox.StandardButton.Save: "save", QMessageBox.StandardButton.Discard: "discard"}.get(
            QMessageBox.StandardButton(r), "cancel")

    def _may_discard(self) -> bool:
        """True when the current work may be replaced (saved first if asked)."""
        if not self.confirm_close:
            return True
        if self.runner.busy:
            if self.confirm("Training is running", f"{self.runner.current_label() or 'A job'} is still running. "
                            "Stop it and continue?", save_option=False) != "discard":
                return False
            self.runner.cancel()
        if self.doc.has_data and not self.stack.isClean():
            ans = self.confirm("Unsaved changes", f"Save the changes to {self.doc.display_name()}?")
            if ans == "cancel":
                return False
            if ans == "save" and not self.ask_save_project():
                return False
        return True

    def closeEvent(self, event):
        if not self._may_discard():
            event.ignore()
            return
        self.save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self):
        """Stop the worker and forget the recovery file (a clean exit)."""
        if self._shut:
            return
        self._shut = True
        self.jobs._recovery_timer.stop()
        self.runner.shutdown()
        # Children (the undo stack among them) emit while being destroyed: nobody is listening now.
        self.stack.blockSignals(True)
        self.doc.blockSignals(True)
        self.doc.clear_recovery()


class Jobs(QObject):
    """What the window asks of the worker, and what it does with the answers.

    ``rev`` counts model changes: an answer computed for an older model is
    dropped.  Edits are project commands: cheap ones are pushed at once, heavy
    ones are computed in the worker (``cmd.begin`` here, ``cmd.run`` there) and
    pushed when they come back."""

    def __init__(self, win: "MainWindow"):
        super().__init__(win)
        self.w, self.doc, self.runner = win, win.doc, win.runner
        self.score_mode = "attribution"
        self.rev = 0
        self.selected: Optional[tuple] = None
        self.pareto_choice: Optional[int] = None
        self._pareto_exprs: list = []       # sympy forms of this session's Discover candidates
        self._restore_edge: Optional[tuple] = None
        self._recovery_timer = QTimer(self)
        self._recovery_timer.setSingleShot(True)
        self._recovery_timer.setInterval(300)
        self._recovery_timer.timeout.connect(self._write_recovery)
        self.last_auto_symbolic = None

    # ------------------------------------------------------------ helpers
    def _model_copy(self):
        m = self.doc.model
        if m is None:
            return None
        m.cache = None          # do not copy the last forward's activations
        return copy.deepcopy(m)

    def _x(self):
        return self.doc.tensors("train")[0]

    def _fail(self, title: str):
        return lambda message, details: self.w.show_error(title, message, details)

    def _quiet_fail(self, rev: int, what: str):
        def on_error(message, details):
            if rev == self.rev:
                self.w.show_status(f"Could not {what}: {message}", 8000)
        return on_error

    def _begin(self, cmd, title: str) -> bool:
        try:
            cmd.begin(self.doc.project)
        except ValueError as exc:
            self.w.show_error(title, str(exc))
            return False
        return True

    def _push(self, cmd, title: str):
        try:
            self.doc.push(cmd)
        except ValueError as exc:
            self.w.show_error(title, str(exc))
            return None
        return cmd

    # ------------------------------------------------------- doc changes
    def on_document_changed(self, reason: str):
        w = self.w
        if reason in ("project", "data"):
            ds = self.doc.dataset
            w.data_panel.set_dataset(ds, (self.doc.project.source_path or "") if self.doc.project else "")
            if reason == "project":
                self.rev += 1
                self.selected = None
                self.pareto_choice = None
                self._pareto_exprs = []
                w.edge_inspector.clear()
                w.network_view.clear()
                if self.doc.project is not None:
                    w.training_panel.set_settings(self.doc.project.settings)
                    if ds is not None:
                        w.training_panel.set_io(len(ds.input_names), len(ds.target_names))
                self._show_pareto()
                self.refresh_all()
        if reason == "model":
            self.rev += 1
            self.pareto_choice = None
            self.refresh_all()
        if reason in ("history", "project"):
            w.history_panel.set_past(self.doc.past_labels())
            self._recovery_timer.start()
        if reason == "results":
            self._show_pareto()
        if reason in ("modified", "path", "project"):
            w._update_title()

    def refresh_all(self):
        self.refresh_picture()
        self.refresh_formula()
        if self.selected is not None:
            self.request_detail(*self.selected)

    def refresh_picture(self):
        if self.doc.model is None:
            self.w.network_view.clear()
            return
        rev = self.rev
        self.runner.submit("Draw network", picture_job(self._model_copy(), self._x(), self.score_mode), side=True,
                           on_done=lambda pic: self._show_picture(pic, rev),
                           on_error=self._quiet_fail(rev, "draw the network"))

    def _show_picture(self, pic, rev: int):
        if rev != self.rev:
            return
        view = self.w.network_view
        view.set_picture(pic)
        want = self._restore_edge or self.selected
        self._restore_edge = None
        if want is not None and view.edge_item(*want) is not None:
            view.select_edge(*want)
            if self.selected != want:
                self.select_edge(*want)
        elif self.selected is not None:
            self.select_edge(-1, -1, -1)
        self.w._update_actions()

    def refresh_formula(self):
        panel = self.w.formula_panel
        if self.doc.model is None:
            panel.show_message("No model yet. Press Fit to train a network; the formula appears here once "
                               "every edge is symbolic.")
            self.w._update_actions()
            return
        if self.pareto_choice is not None:
            self.choose_pareto(self.pareto_choice)
            return
        rev = self.rev
        self.runner.submit("Formula", formula_job(self._model_copy(), self.doc.dataset, panel.digits(),
                                                  panel.text_colour(), panel.devicePixelRatioF()),
                           side=True, on_done=lambda r: self._show_formula(r, rev),
                           on_error=self._quiet_fail(rev, "build the formula"))

    def _show_formula(self, result, rev: int):
        if rev != self.rev or self.pareto_choice is not None:
            return
        if isinstance(result, tuple):
            _, n, model_rmse = result
            self.w.formula_panel.show_incomplete(n, model_rmse)
        else:
            self.w.formula_panel.show_formula(result)
        self.w._update_actions()

    # ------------------------------------------------------------- edges
    def select_edge(self, layer: int, i: int, j: int):
        if layer < 0:
            self.selected = None
            self.w.edge_inspector.clear()
        else:
            self.selected = (layer, i, j)
            self.request_detail(layer, i, j)
        self.w._update_actions()

    def request_detail(self, layer: int, i: int, j: int):
        if self.doc.model is None:
            return
        rev, key = self.rev, (layer, i, j)

        def show(detail):
            if self.selected == key and (rev == self.rev or self.runner.busy):
                self.w.edge_inspector.show_edge(detail, layer, i, j, detail.names)
        self.runner.submit("Edge detail", edge_detail_job(self._model_copy(), self._x(), layer, i, j), side=True,
                           on_done=show, on_error=self._quiet_fail(rev, "inspect the edge"))

    def suggest(self, layer: int, i: int, j: int):
        if self.doc.model is None or self.runner.busy:
            return
        rev, key = self.rev, (layer, i, j)

        def done(cands):
            if rev == self.rev and self.w.edge_inspector.current_edge() == key:
                self.w.edge_inspector.set_candidates(cands)
                if cands:
                    self.w.show_status(f"Best candidate: {cands[0].name} (R\u00b2 = {cands[0].r2:.4f})", 6000)
        self.runner.submit("Suggest functions", suggest_job(self._model_copy(), self._x(), layer, i, j),
                           on_done=done, on_error=self._fail("Cannot suggest functions"))

    def fix_with_params(self, layer: int, i: int, j: int, name: str, params):
        if self.runner.busy:
            return
        from ..project.commands_edges import FixSymbolic
        r2 = None
        for c in self.w.edge_inspector.candidates():
            if c.name == name:
                r2 = float(c.r2)
        self._push(FixSymbolic(layer, i, j, name, tuple(params), r2=r2), "Cannot fix the edge")

    def fix_by_name(self, layer: int, i: int, j: int, name: str):
        from ..project.commands_edges import FixSymbolic
        cmd = FixSymbolic(layer, i, j, name)
        if self.runner.busy or not self._begin(cmd, "Cannot fix the edge"):
            return
        self.runner.submit(f"Fit {name} to the edge", command_job(cmd),
                           on_done=lambda c: self._push(c, "Cannot fix the edge"),
                           on_error=self._fail("Cannot fix the edge"))

    def unfix(self, layer: int, i: int, j: int):
        from ..project.commands_edges import Unfix
        if not self.runner.busy:
            self._push(Unfix(layer, i, j), "Cannot unfix the edge")

    def prune_edge(self, layer: int, i: int, j: int):
        from ..project.commands_edges import PruneEdge
        if not self.runner.busy:
            self._push(PruneEdge(layer, i, j), "Cannot prune the edge")

    def edge_action(self, action: str, layer: int, i: int, j: int, arg: str):
        if action in ("inspect", "suggest"):
            self.w.network_view.select_edge(layer, i, j)
            self.select_edge(layer, i, j)
            if action == "suggest":
                self.suggest(layer, i, j)
        elif action == "prune":
            self.prune_edge(layer, i, j)
        elif action == "unfix":
            self.unfix(layer, i, j)
        elif action == "fix" and arg:
            self.fix_by_name(layer, i, j, arg)

    # ------------------------------------------------------ model actions
    def _sync_settings(self) -> bool:
        err = self.w.training_panel.validate()
        if err:
            self.w.show_error("Check the training settings", err)
            return False
        self.doc.set_settings(self.w.training_panel.settings())
        return True

    def fit(self):
        from ..project.commands_model import FitModel
        if self.runner.busy or not self.doc.has_data or not self._sync_settings():
            return
        self._train(FitModel(), "Fit")

    def retrain(self):
        from ..project.commands_model import Retrain
        if self.runner.busy or not self.doc.has_model or not self._sync_settings():
            return
        self._train(Retrain(), "Retrain")

    def _train(self, cmd, title: str):
        if not self._begin(cmd, f"Cannot start {title.lower()}"):
            return
        panel = self.w.training_panel
        panel.begin_run(title, int(panel.settings()["steps"]))
        view = self.w.network_view

        def partial(p):
            panel.add_snapshots(p.snaps)
            if p.picture is not None:
                view.set_picture(p.picture)
                if self.selected is not None:
                    self.request_detail(*self.selected)

        def done(pending):
            panel.add_snapshots(pending)
            res = getattr(cmd, "result", None) or {}
            reason = res.get("reason", "completed")
            final = panel.last_snapshot()
            panel.end_run(final, "" if reason == "completed" else reason.split(":")[0])
            if reason == "cancelled" and not res.get("steps"):
                self.w.show_status(f"{title} stopped before the first step; the model is unchanged.", 8000)
                return
            if self._push(cmd, f"{title} failed") is not None:
                msg = f"{title} finished" if reason == "completed" else f"{title}: {reason}"
                rm = res.get("test_rmse")
                self.w.show_status(msg + (f" \u2014 test RMSE {rm:.4g} (normalised)" if rm is not None else ""), 10000)

        def failed(message, details):
            panel.end_run(None, "failed")
            self.w.show_error(f"{title} failed", message, details)

        self.runner.submit(title, training_job(cmd, self._x()), keep_on_cancel=True, on_partial=partial,
                           on_done=done, on_error=failed)

    def _computed(self, cmd, title: str, text: str, after=None):
        if self.runner.busy or not self.doc.has_model or not self._begin(cmd, f"Cannot run {title.lower()}"):
            return

        def done(c):
            if self._push(c, f"{title} failed") is not None:
                self.w.show_status(c.label, 8000)
                if after:
                    after(c)
        self.runner.submit(title, command_job(cmd, text), on_done=done, on_error=self._fail(f"{title} failed"))

    def auto_prune(self):
        from ..project.commands_edges import AutoPrune
        self._computed(AutoPrune(), "Prune", "Pruning weak nodes and edges\u2026")

    def auto_symbolic(self):
        from ..project.commands_edges import AutoSymbolic

        def after(c):
            self.last_auto_symbolic = c
            if c.skipped:
                self.w.show_status(f"{c.label}; {len(c.skipped)} edge(s) left numeric (no good fit)", 10000)
        self._computed(AutoSymbolic(), "Auto-symbolic", "Fitting library functions to every edge\u2026", after)

    def prune_nodes(self, nodes: list):
        """Remove hidden nodes, one undoable command each; the highest index of a
        level goes first so the others keep their numbers."""
        from ..project.commands_edges import PruneNode
        todo = sorted({(int(l), int(n)) for l, n in nodes}, key=lambda t: (t[0], -t[1]))

        def step(rest):
            if not rest or self.doc.model is None:
                return
            (level, node), rest = rest[0], rest[1:]
            cmd = PruneNode(level, node)
            if not self._begin(cmd, "Cannot prune the node"):
                return

            def done(c):
                if self._push(c, "Cannot prune the node") is not None:
                    self.w.show_status(c.label, 6000)
                    step(rest)
            self.runner.submit(f"Prune node {node + 1}", command_job(cmd, "Removing a node\u2026"),
                               on_done=done, on_error=self._fail("Cannot prune the node"))
        step(todo)

    def refine(self, new_grid: int):
        from ..project.commands_edges import RefineGrid
        m = self.doc.model
        if m is None:
            return
        if int(new_grid) <= m.grid_size:
            self.w.show_error("Refine grid", f"The new grid must be finer than the current one ({m.grid_size}).")
            return
        self._computed(RefineGrid(int(new_grid)), "Refine grid", f"Refining the grid to {new_grid}\u2026")

    def discover(self, budget_seconds: Optional[float] = None):
        if self.runner.busy or not self.doc.has_data:
            return
        from ..engine.discover import DiscoverConfig
        s = self.w.training_panel.settings()
        cfg = DiscoverConfig(seed=int(s["seed"]), device=str(s["device"]), digits=self.w.formula_panel.digits())
        if budget_seconds is not None:
            cfg.budget_seconds = float(budget_seconds)

        def done(result):
            self._pareto_exprs = [c.formula for c in result.pareto]
            self.doc.project.set_pareto(result.pareto)
            chosen = result.pick(cfg.tolerance) if result.pareto else None
            idx = next((k for k, c in enumerate(result.pareto) if chosen is not None and c is chosen), None)
            if idx is None and result.pareto:
                idx = 0
            if idx is not None:
                self.choose_pareto(idx)
                self.w.show_status(f"Discover: {len(result.pareto)} candidate formulas"
                                   + (" (stopped early)" if result.cancelled else ""), 10000)
            else:
                self.w.show_status("Discover found no formula" + (" (stopped)" if result.cancelled else ""), 10000)

        self.runner.submit("Discover", discover_job(self.doc.dataset, cfg), keep_on_cancel=True,
                           on_done=done, on_error=self._fail("Discover failed"))

    # ------------------------------------------------------------ Pareto
    def _pareto_rows(self) -> list:
        rows = (self.doc.project.pareto if self.doc.project is not None else None) or []
        return [ParetoRow(int(r.get("complexity", 0)), float(r["test_rmse"]) if r.get("test_rmse") is not None
                          else float("nan"), str(r.get("latex", "")), str(r.get("formula", ""))) for r in rows]

    def _show_pareto(self):
        self.w.formula_panel.set_pareto(self._pareto_rows())

    def choose_pareto(self, index: int):
        rows = (self.doc.project.pareto if self.doc.project is not None else None) or []
        if not (0 <= index < len(rows)):
            return
        self.pareto_choice = index
        panel = self.w.formula_panel
        expr = self._pareto_exprs[index] if index < len(self._pareto_exprs) else None
        rev = self.rev

        def show(info):
            if rev == self.rev and self.pareto_choice == index:
                info.source = str(rows[index].get("stage", "discover")) or "discover"
                panel.show_formula(info)
                self.w._update_actions()
        self.runner.submit("Formula", candidate_job(rows[index], expr, self.doc.dataset, panel.digits(),
                                                    panel.text_colour(), panel.devicePixelRatioF()),
                           side=True, on_done=show, on_error=self._quiet_fail(rev, "show that formula"))

    # ----------------------------------------------------------- view state
    def set_score_mode(self, mode: str):
        self.score_mode = mode
        self.doc.update_ui(score_mode=mode)
        self.refresh_picture()

    def ui_state(self) -> dict:
        return {"selected_edge": list(self.selected) if self.selected else None, "pareto_choice": self.pareto_choice}

    def restore(self, ui: dict):
        self.score_mode = ui.get("score_mode", "attribution")
        sel = ui.get("selected_edge")
        self._restore_edge = tuple(int(v) for v in sel) if isinstance(sel, (list, tuple)) and len(sel) == 3 else None
        choice = ui.get("pareto_choice")
        self.rev += 1
        self.pareto_choice = int(choice) if isinstance(choice, int) else None
        self.refresh_all()

    # ------------------------------------------------------------ exports
    def export_text(self, path, kind: str) -> bool:
        info = self.w.formula_panel.info()
        if info is None:
            self.w.show_error("No formula yet", "There is no complete formula to export: fix or prune the numeric "
                                                "edges, or run Auto-symbolic.")
            return False
        names = info.output_names
        if kind == "tex":
            eq = "\n".join(f"  {_tex_name(n)} = {t}" + (r" \\" if k < len(names) - 1 else "")
                           for k, (n, t) in enumerate(zip(names, info.latex)))
            env = "equation" if len(names) == 1 else "gather"
            text = ("% Formula exported by kanstudio " + __version__ + "\n"
                    f"% source: {self.doc.display_name()}; test RMSE {info.test_rmse:.6g}\n"
                    "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
                    f"\\begin{{{env}}}\n{eq}\n\\end{{{env}}}\n\\end{{document}}\n")
        elif kind == "sympy":
            text = "\n".join(f"{n} = {s}" for n, s in zip(names, info.sympy_str)) + "\n"
        else:
            text = info.python or "\n".join(f"# {n} = {s}" for n, s in zip(names, info.sympy_str))
        try:
            Path(path).write_text(text, encoding="utf-8")
        except OSError as exc:
            self.w.show_error("Cannot export", f"{path}: {exc.strerror or exc}")
            return False
        self.w.show_status(f"Exported {Path(path).name}", 5000)
        return True

    def export_predictions(self, path):
        if self.doc.model is None:
            self.w.show_error("No model yet", "Fit a network before exporting predictions.")
            return None
        model, ds, digits = self._model_copy(), self.doc.dataset, self.w.formula_panel.digits()

        def run(ctx):
            from ..engine.formula import FormulaIncomplete, model_formula
            try:
                ex = model_formula(model, ds, digits=digits).exprs
            except FormulaIncomplete:
                ex = None
            return predictions_job(model, ds, ex, str(path))(ctx)
        return self.runner.submit("Export predictions", run,
                                  on_done=lambda p: self.w.show_status(f"Exported {Path(p).name}", 5000),
                                  on_error=self._fail("Cannot export predictions"))

    @staticmethod
    def image_filter() -> str:
        return "PNG image (*.png);;SVG image (*.svg)" if _has_svg() else "PNG image (*.png)"

    def export_image(self, path) -> bool:
        view = self.w.network_view
        if view.picture() is None:
            self.w.show_error("No network yet", "Fit a network before exporting its picture.")
            return False
        path = str(path)
        try:
            if path.lower().endswith(".svg"):
                if not _has_svg():
                    self.w.show_error("SVG not available", "This Qt build has no SVG module; save as PNG instead.")
                    return False
                _write_svg(view, path)
            elif not view.render_image(2.0).save(path):
                raise OSError("the image could not be written")
        except OSError as exc:
            self.w.show_error("Cannot export the picture", f"{path}: {exc}")
            return False
        self.w.show_status(f"Exported {Path(path).name}", 5000)
        return True

    # ----------------------------------------------------------- recovery
    def _write_recovery(self):
        """After each edit (debounced): the crash-recovery file, in the worker."""
        if self.runner.is_shut or self.doc.project is None or (
                self.doc.stack.isClean() and not self.doc.project.modified):
            return
        job = self.doc.recovery_writer()
        if job is not None:
            run, done = job
            self.runner.submit("Recovery", run, side=True, on_done=done,
                               on_error=lambda m, d: self.w.show_status(f"Could not write the recovery file: {m}", 8000))


def _tex_name(name: str) -> str:
    from .formula_panel import _latex_name
    return _latex_name(name)


def _has_svg() -> bool:
    import importlib.util
    try:
        return importlib.util.find_spec("PySide6.QtSvg") is not None
    except (ImportError, ValueError):
        return False


def _write_svg(view: NetworkView, path: str):
    from PySide6.QtCore import QRectF, QSize
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgGenerator
    rect = view.scene().itemsBoundingRect().adjusted(-20, -20, 20, 20)
    gen = QSvgGenerator()
    gen.setFileName(path)
    gen.setSize(QSize(int(rect.width()), int(rect.height())))
    gen.setViewBox(QRectF(0, 0, rect.width(), rect.height()))
    gen.setTitle("kanstudio network")
    p = QPainter(gen)
    p.fillRect(QRectF(0, 0, rect.width(), rect.height()), view.backgroundBrush())
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    view.scene().render(p, QRectF(0, 0, rect.width(), rect.height()), rect)
    p.end()
    if not Path(path).exists():
        raise OSError("the SVG file could not be written")
