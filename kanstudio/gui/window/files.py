"""Opening, saving and closing work: the File menu's controller.

CSV import (through the import dialog), ``.kanproj`` projects, the recent
files, crash recovery, drag and drop, and the "unsaved changes / training is
running" questions before anything is replaced or the window closes.  Each
operation has a method taking the path (``open_csv``, ``open_project``,
``save_project``) that the ``ask_*`` slots call after a file dialog, so
tests and scripts drive the window without blocking.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QMessageBox, QStyle

from ..dialogs import ImportDialog
from .actions import Controller

__all__ = ["FileController", "CSV_FILTER", "PROJECT_FILTER", "MAX_RECENT"]

CSV_FILTER = "CSV files (*.csv *.tsv *.txt);;All files (*)"
PROJECT_FILTER = "kanstudio projects (*.kanproj)"
MAX_RECENT = 10


class FileController(Controller):
    """File ▸ Open / Open Recent / Save / Close / Quit, recovery, drag and drop
    (the window hands its drag and close events here)."""

    def __init__(self, window):
        super().__init__(window)
        w = window
        self.doc, self.runner = w.doc, w.runner
        SK, SP = QKeySequence.StandardKey, QStyle.StandardPixmap
        a = self.action
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
        self.action_quit = a("&Quit", "action_quit", w.close, SK.Quit, "Quit kanstudio")
        self.action_quit.setMenuRole(QAction.MenuRole.QuitRole)
        self.recent_menu = None
        self.import_dialog = None
        self.recovery_box = None
        w.start_page.openCsvRequested.connect(self.ask_open_csv)
        w.start_page.openProjectRequested.connect(self.ask_open_project)
        w.start_page.openPathRequested.connect(self.open_path)

    def fill_menu(self, menu, export_menu):
        """The File menu, with the exports' submenu in it."""
        menu.addActions([self.action_open, self.action_open_project])
        self.recent_menu = menu.addMenu("Open &Recent")
        self.recent_menu.setObjectName("menu_recent")
        menu.addSeparator()
        menu.addActions([self.action_save_project, self.action_save_as])
        menu.addMenu(export_menu)
        menu.addSeparator()
        menu.addActions([self.action_close_project, self.action_quit])
        self._refresh_recent()

    def update(self, busy: bool):
        has_data = self.doc.has_data
        for act in (self.action_save_project, self.action_save_as, self.action_close_project):
            act.setEnabled(has_data and not busy)
        self.action_open.setEnabled(not busy)
        self.action_open_project.setEnabled(not busy)
        if self.recent_menu is not None:
            self.recent_menu.setEnabled(not busy and bool(self.recent_files()))

    def dialog_dir(self) -> str:
        return str(self.window.settings().value("last_dir", str(Path.home())))

    def remember_dir(self, path):
        self.window.settings().setValue("last_dir", str(Path(path).resolve().parent))

    # ---------------------------------------------------------------- recent files
    def recent_files(self) -> list[str]:
        v = self.window.settings().value("recent_files", [])
        if isinstance(v, str):
            v = [v]
        return [str(p) for p in (v or []) if p]

    def add_recent(self, path):
        p = str(Path(path).resolve())
        files = [f for f in self.recent_files() if f != p]
        files.insert(0, p)
        self.window.settings().setValue("recent_files", files[:MAX_RECENT])
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
        self.window.start_page.set_recent(files)

    def _clear_recent(self):
        self.window.settings().setValue("recent_files", [])
        self._refresh_recent()

    def ask_open_csv(self):
        self._ask_open("Open CSV", CSV_FILTER, self.open_csv)

    def ask_open_project(self):
        self._ask_open("Open project", PROJECT_FILTER, self.open_project)

    def _ask_open(self, title: str, filters: str, open_):
        if not self.may_discard():
            return
        path, _ = QFileDialog.getOpenFileName(self.window, title, self.dialog_dir(), filters)
        if path:
            open_(path)

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
            self.window.show_error("Busy", "Stop the running job before opening another file.")
            return None
        try:
            dlg = ImportDialog(path, self.window)
        except ValueError as exc:
            self.window.show_error("Cannot open the CSV file", str(exc))
            return None
        self.import_dialog = dlg
        dlg.datasetAccepted.connect(lambda ds, p=path: self._dataset_imported(ds, p))
        if accept_defaults:
            try:
                dlg.accept_defaults()
            except ValueError as exc:
                self.window.show_error("Cannot import the CSV file", str(exc))
                return None
        else:
            dlg.open()
        return dlg

    def _dataset_imported(self, dataset, path):
        # The training settings carry over from the panel; the width follows the new columns.
        panel = self.window.training_panel
        self.doc.new_project(dataset, source=str(path), settings={**panel.settings(), "width": ""})
        self.window.training_panel.set_io(len(dataset.input_names), len(dataset.target_names), reset_width=True)
        self.window.training_panel.loss.set_curves(None)
        self.window.pareto_panel.set_rows([])
        self.window.edge_inspector.clear()
        self.window.network_view.clear()
        self.add_recent(path)
        self.remember_dir(path)
        self.window.update_title()
        self.window.update_actions()
        self.window.show_status(f"Imported {Path(path).name}: {self.doc.data_summary()}. Press Fit to train.")

    def open_project(self, path) -> bool:
        if self.runner.busy:
            self.window.show_error("Busy", "Stop the running job before opening another file.")
            return False
        try:
            ui = self.doc.load(path)
        except (ValueError, OSError) as exc:
            self.window.show_error("Cannot open the project", f"{Path(path).name}: {exc}")
            return False
        self._apply_ui_state(ui)
        self.add_recent(path)
        self.remember_dir(path)
        self.window.update_title()
        self.window.update_actions()
        notes = list(getattr(self.doc.project, "load_notes", []))
        self.window.show_status(f"Opened {Path(path).name}" + (f" ({'; '.join(notes)})" if notes else ""))
        return True

    def _apply_ui_state(self, ui: dict):
        ds = self.doc.dataset
        self.window.training_panel.set_settings(ui.get("training", {}))
        self.window.training_panel.set_io(len(ds.input_names), len(ds.target_names))
        self.window.training_panel.loss.set_curves(ui.get("curves"))
        self.window.formula_panel.set_digits(int(self.doc.project.settings.get("digits", ui.get("digits", 4))))
        self.window.panels.action_show_pruned.setChecked(bool(ui.get("show_pruned", False)))
        self.window.network_view.set_show_pruned(bool(ui.get("show_pruned", False)))
        mode = ui.get("score_mode", "attribution")
        (self.window.panels.action_score_act if mode == "activation" else self.window.panels.action_score_attr).setChecked(True)
        self.window.jobs.restore(ui)

    def ui_state(self) -> dict:
        return {"training": self.window.training_panel.settings(), "curves": self.window.training_panel.loss.curves(),
                "digits": self.window.formula_panel.digits(), "show_pruned": self.window.panels.action_show_pruned.isChecked(),
                "score_mode": self.window.jobs.score_mode, **self.window.jobs.ui_state()}

    def ask_save_project(self) -> bool:
        if self.doc.path is None:
            return self.ask_save_project_as()
        return self.save_project(self.doc.path)

    def ask_save_project_as(self) -> bool:
        start = str(Path(self.dialog_dir()) / (self.doc.suggested_name() + ".kanproj"))
        path, _ = QFileDialog.getSaveFileName(self.window, "Save project", start, PROJECT_FILTER)
        if not path:
            return False
        if not path.endswith(".kanproj"):
            path += ".kanproj"
        return self.save_project(path)

    def save_project(self, path) -> bool:
        if self.runner.busy:
            self.window.show_error("Busy", "Stop the running job before saving.")
            return False
        try:
            self.doc.save(path, self.ui_state())
        except (ValueError, OSError) as exc:
            self.window.show_error("Cannot save the project", f"{Path(path).name}: {exc}")
            return False
        self.add_recent(path)
        self.remember_dir(path)
        self.window.update_title()
        self.window.show_status(f"Saved {Path(path).name}", 4000)
        return True

    def close_project(self) -> bool:
        if not self.may_discard():
            return False
        self.doc.close()
        self.window.network_view.clear()
        self.window.edge_inspector.clear()
        self.window.training_panel.loss.set_curves(None)
        self.window.pareto_panel.set_rows([])
        self.window.formula_panel.show_message("No model yet. Open a CSV and press Fit; the formula appears here "
                                               "once every edge is symbolic.")
        self.window.update_title()
        self.window.update_actions()
        self.window.show_status("Ready")
        return True

    # ---------------------------------------------------------------- recovery
    def offer_recovery(self) -> Optional[QMessageBox]:
        """If an earlier session left a recovery file (it crashed), offer it back."""
        from ...project import find_recovery, recovery_info
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
        box = QMessageBox(self.window)
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
                from ...project import discard_recovery
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
            self.window.show_error("Cannot recover the project", str(exc))
            return False
        self._apply_ui_state(ui)
        self.window.update_title()
        self.window.update_actions()
        self.window.show_status("Recovered unsaved work: save it to keep it.")
        return True

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

    def drag_enter(self, event):
        if self._dropped_path(event) and not self.runner.busy:
            event.acceptProposedAction()
        else:
            event.ignore()

    def drag_move(self, event):
        self.drag_enter(event)

    def drop(self, event):
        path = self._dropped_path(event)
        if path and self.may_discard():
            event.acceptProposedAction()
            QTimer.singleShot(0, lambda: self.open_path(path))

    # ================================================================ closing
    def may_discard(self) -> bool:
        """True when the current work may be replaced (saved first if asked)."""
        if not self.window.confirm_close:
            return True
        if self.runner.busy:
            running = self.runner.current_label() or "A job"
            if self.window.confirm("Training is running", f"{running} is still running. Stop it and continue?",
                                   save_option=False) != "discard":
                return False
            self.runner.cancel()
        if self.doc.has_data and not self.doc.stack.isClean():
            ans = self.window.confirm("Unsaved changes", f"Save the changes to {self.doc.display_name()}?")
            if ans == "cancel":
                return False
            if ans == "save" and not self.ask_save_project():
                return False
        return True
