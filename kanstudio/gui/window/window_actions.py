"""The main window's QActions, menus and toolbar (a mixin of ``MainWindow``).

Every action has an ``objectName`` so tests and scripts can trigger it; the
slots they call are the window's (or its ``jobs``') methods taking explicit
arguments, so nothing here blocks on a dialog that a test would have to
close.  Which actions are enabled is decided in ``MainWindow._update_actions``.
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QAction, QActionGroup, QDesktopServices, QKeySequence
from PySide6.QtWidgets import QApplication, QStyle, QToolBar

from ..theme import THEMES

__all__ = ["ActionsMixin"]


class ActionsMixin:
    """Builds ``action_*``, the menu bar and the toolbar; owns their small slots."""

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

    def stop(self):
        if self.runner.busy:
            self.runner.cancel()

    def undo(self):
        if not self.runner.busy and self.stack.canUndo():
            self.stack.undo()

    def redo(self):
        if not self.runner.busy and self.stack.canRedo():
            self.stack.redo()

    # ---------------------------------------------------------------- view
    def _set_show_pruned(self, on: bool):
        self.network_view.set_show_pruned(on)

    def _set_score_mode(self, mode: str):
        self.jobs.set_score_mode(mode)

    def show_about(self):
        from ..dialogs import AboutDialog
        dlg = AboutDialog(self)
        dlg.show()
        self.about_dialog = dlg
        return dlg
