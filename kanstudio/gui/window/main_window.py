"""The main window: the network view in the middle, dock panels around it, and
the wiring between the widgets, the worker thread and the undoable document.

Rules kept here: the UI thread never runs an engine call that can take more
than ~20 ms (jobs go to ``self.runner``, with deep copies of the model); every
edit of the model is a project command pushed on the undo stack (heavy compute
first in the worker, then an instant command with the result); dialogs are
opened with ``open()``/``show()`` and every file operation has a method taking
the path, so tests drive the window without blocking.  Errors shown to the
user go through ``show_error(title, text)``, which records the last one in
``last_error``.

The window is put together from one-concept parts: ``window_actions``
(actions, menus, toolbar), ``window_layout`` (docks, start page, settings),
``window_files`` (open/save/recovery/drag and drop/close), ``exports``
(File ▸ Export) and ``jobs`` (``self.jobs``: what runs in the worker and what
the answers do).
"""
from __future__ import annotations

from typing import Optional

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QInputDialog, QLabel, QMainWindow, QProgressBar, QScrollArea, QStackedWidget,
                               QToolButton, QWidget)

from ..panels import EdgeInspector, FormulaPanel, HistoryPanel, ParetoPanel, TrainingPanel
from ..errors import ErrorDialog
from .exports import ExportMixin
from ..dialogs import DataPanel
from ..background import (finish_preload, hold_collections, JobRunner, Jobs, late_warm_up_job, preload_torch,
                          release_collections, warm_up_job)
from ..network import NetworkView
from .start_page import StartPage
from ..theme import app_icon
from ..document import Document
from .window_actions import ActionsMixin
from .window_files import FilesMixin
from .window_layout import LayoutMixin

__all__ = ["MainWindow", "Jobs"]


class MainWindow(ActionsMixin, LayoutMixin, FilesMixin, ExportMixin, QMainWindow):
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
        self._warmed = False
        preload_torch()                   # while the widgets are built (worker_jobs)

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
        self.pareto_panel = ParetoPanel()
        self.history_panel = HistoryPanel(self.stack)
        self.data_panel = DataPanel()

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
        self.pareto_panel.chosen.connect(self.jobs.choose_pareto)
        self.pareto_panel.useRequested.connect(self.jobs.use_pareto)

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
        """Model ▸ Science (KAN 2.0 tools) and the Input attribution dock."""
        from .science_actions import install_science_actions
        install_science_actions(self)

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
            self._set_progress(-1.0)
        self._update_actions()

    def _on_progress(self, fraction: float, text: str):
        self._set_progress(fraction)
        if text:
            self.status_label.setText(text)

    def _set_progress(self, fraction: float):
        """The bar at ``fraction`` (< 0: busy, no fraction known).  QProgressBar
        repaints synchronously when its value moves or its range resets, and a
        synchronous repaint paints every pending region of the window with it
        (a new Pareto plot, a network): with updates held, the bar is painted
        with the rest in the next paint instead."""
        bar = self.progress
        bar.setUpdatesEnabled(False)
        try:
            if fraction >= 0:
                bar.setRange(0, 1000)
                bar.setValue(int(1000 * min(1.0, fraction)))
            else:
                bar.setRange(0, 0)
        finally:
            bar.setUpdatesEnabled(True)

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

    def showEvent(self, event):
        super().showEvent(event)
        if not self._warmed:
            self._warmed = True
            hold_collections()      # until the warm-up is over (worker_jobs)
            # After the first paint: the worker's warm-up (torch, mathtext)
            # would otherwise compete with it for the GIL.
            QTimer.singleShot(200, self, self._warm_up)

    def _warm_up(self):
        if not self.runner.is_shut:
            def warmed(cuda: bool):
                self.training_panel.set_cuda_available(cuda)
                self._late_warm_up()
            self.runner.submit("Warm up", warm_up_job, side=True, on_done=warmed,
                               on_error=lambda m, d: None)   # no torch: jobs report it themselves

    def _late_warm_up(self):
        """The warm-up's second part once the worker is idle: run between a
        first Fit's steps, its imports would share the interpreter lock with
        the window painting that fit."""
        if self.runner.is_shut:
            return
        if not self.runner.idle():
            QTimer.singleShot(500, self, self._late_warm_up)
            return
        self.runner.submit("Warm up (discovery)", late_warm_up_job, side=True, on_error=lambda m, d: None)

    def shutdown(self):
        """Stop the worker and forget the recovery file (a clean exit)."""
        if self._shut:
            return
        self._shut = True
        release_collections()       # a warm-up that never ran must not leave the collector off
        finish_preload()
        self.jobs._recovery_timer.stop()
        self.runner.shutdown()
        # Children (the undo stack among them) emit while being destroyed: nobody is listening now.
        self.stack.blockSignals(True)
        self.doc.blockSignals(True)
        self.doc.clear_recovery()
