"""The Edit and Model menus' controller: undo and redo, copying the formula, and
every action that changes the model (Fit, Stop, Retrain, Prune, Auto-symbolic,
Refine grid, Discover, Suggest, pruning selected nodes).

The slots are the worker jobs' (``window.jobs``) or small ones here taking
explicit arguments, so nothing blocks on a dialog a test would have to close.
"""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QInputDialog, QStyle

from .actions import Controller

__all__ = ["ModelActions"]


class ModelActions(Controller):
    def __init__(self, window):
        super().__init__(window)
        w = window
        self.doc, self.runner, self.jobs, self.stack = w.doc, w.runner, w.jobs, w.doc.stack
        SK, SP = QKeySequence.StandardKey, QStyle.StandardPixmap
        a = self.action
        # Own undo/redo actions (not QUndoStack.createUndoAction): short toolbar
        # text, the command's name in the tooltip, and disabled while a job runs.
        self.action_undo = a("&Undo", "action_undo", self.undo, SK.Undo, "Undo the last edit", SP.SP_ArrowBack)
        self.action_redo = a("&Redo", "action_redo", self.redo, None, "Redo the edit just undone",
                             SP.SP_ArrowForward)
        self.action_redo.setShortcuts(QKeySequence.keyBindings(SK.Redo))
        self.action_copy_latex = a("Copy &LaTeX", "action_copy_latex", w.formula_panel.copy_latex,
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
        self.refine_dialog = None
        w.training_panel.set_actions(self.action_fit, self.action_stop)
        w.network_view.nodesSelected.connect(self._on_nodes_selected)

    def fill_menus(self, edit_menu, model_menu):
        edit_menu.addActions([self.action_undo, self.action_redo])
        edit_menu.addSeparator()
        edit_menu.addAction(self.action_copy_latex)
        model_menu.addActions([self.action_fit, self.action_stop, self.action_retrain])
        model_menu.addSeparator()
        model_menu.addActions([self.action_prune, self.action_prune_nodes, self.action_auto_symbolic,
                               self.action_refine])
        model_menu.addSeparator()
        model_menu.addActions([self.action_suggest, self.action_discover])

    def fill_toolbar(self, tb):
        tb.addActions([self.action_undo, self.action_redo])
        tb.addSeparator()
        tb.addActions([self.action_fit, self.action_stop, self.action_retrain])
        tb.addSeparator()
        tb.addActions([self.action_prune, self.action_auto_symbolic, self.action_refine, self.action_discover])

    def update(self, busy: bool):
        has_data, has_model = self.doc.has_data, self.doc.has_model
        self.action_stop.setEnabled(busy)
        self.action_fit.setEnabled(has_data and not busy)
        for act in (self.action_retrain, self.action_prune, self.action_auto_symbolic, self.action_refine):
            act.setEnabled(has_model and not busy)
        self.action_discover.setEnabled(has_data and not busy)
        view = self.window.network_view
        self.action_suggest.setEnabled(has_model and not busy and view.selected_edge() is not None)
        # Undo/redo would change the model under a running job: blocked meanwhile.
        st = self.stack
        self.action_undo.setEnabled(not busy and st.canUndo())
        self.action_redo.setEnabled(not busy and st.canRedo())
        self.action_undo.setToolTip(f"Undo: {st.undoText()}" if st.canUndo() else "Nothing to undo")
        self.action_redo.setToolTip(f"Redo: {st.redoText()}" if st.canRedo() else "Nothing to redo")
        self.action_undo.setStatusTip(self.action_undo.toolTip())
        self.action_redo.setStatusTip(self.action_redo.toolTip())
        self.action_prune_nodes.setEnabled(not busy and bool(self._hidden(view.selected_nodes())))
        self.action_copy_latex.setEnabled(self.window.formula_panel.info() is not None)

    def _hidden(self, nodes) -> list:
        m = self.doc.model
        return [n for n in nodes if m is not None and 0 < n[0] < m.depth]

    def stop(self):
        if self.runner.busy:
            self.runner.cancel()

    def undo(self):
        if not self.runner.busy and self.stack.canUndo():
            self.stack.undo()

    def redo(self):
        if not self.runner.busy and self.stack.canRedo():
            self.stack.redo()

    # ---------------------------------------------------------------- refine
    def ask_refine(self):
        m = self.doc.model
        if m is None:
            return
        dlg = QInputDialog(self.window)
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

    # ---------------------------------------------------------------- selection
    def _on_nodes_selected(self, nodes: list):
        self.window.update_actions()
        hidden = self._hidden(nodes)
        if hidden:
            self.window.show_status(f"{len(hidden)} hidden node(s) selected: press Delete to prune them", 6000)

    def prune_selected_nodes(self):
        if self.doc.model is None or self.runner.busy:
            return
        nodes = self._hidden(self.window.network_view.selected_nodes())
        if nodes:
            self.jobs.prune_nodes(nodes)

    def suggest_selected(self):
        sel = self.window.network_view.selected_edge()
        if sel is not None:
            self.jobs.suggest(*sel)
