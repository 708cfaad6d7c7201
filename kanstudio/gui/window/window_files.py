"""Opening, saving and closing work (a mixin of ``MainWindow``).

CSV import (through the import dialog), ``.kanproj`` projects, crash
recovery, drag and drop, and the "unsaved changes / training is running"
questions before anything is replaced or the window closes.  Each operation
has a method taking the path (``open_csv``, ``open_project``,
``save_project``) that the ``ask_*`` slots call after a file dialog, so
tests and scripts drive the window without blocking.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ..dialogs import ImportDialog

__all__ = ["FilesMixin", "CSV_FILTER", "PROJECT_FILTER"]

CSV_FILTER = "CSV files (*.csv *.tsv *.txt);;All files (*)"
PROJECT_FILTER = "kanstudio projects (*.kanproj)"


class FilesMixin:
    """File ▸ Open / Save / Close, recovery, drag and drop, confirm on close."""

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
        self.training_panel.loss.set_curves(None)
        self.pareto_panel.set_rows([])
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
        notes = list(getattr(self.doc.project, "load_notes", []))
        self.show_status(f"Opened {Path(path).name}" + (f" ({'; '.join(notes)})" if notes else ""))
        return True

    def _apply_ui_state(self, ui: dict):
        ds = self.doc.dataset
        self.training_panel.set_settings(ui.get("training", {}))
        self.training_panel.set_io(len(ds.input_names), len(ds.target_names))
        self.training_panel.loss.set_curves(ui.get("curves"))
        self.formula_panel.set_digits(int(self.doc.project.settings.get("digits", ui.get("digits", 4))))
        self.action_show_pruned.setChecked(bool(ui.get("show_pruned", False)))
        self.network_view.set_show_pruned(bool(ui.get("show_pruned", False)))
        mode = ui.get("score_mode", "attribution")
        (self.action_score_act if mode == "activation" else self.action_score_attr).setChecked(True)
        self.jobs.restore(ui)

    def ui_state(self) -> dict:
        return {"training": self.training_panel.settings(), "curves": self.training_panel.loss.curves(),
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
        self.training_panel.loss.set_curves(None)
        self.pareto_panel.set_rows([])
        self.formula_panel.show_message("No model yet. Open a CSV and press Fit; the formula appears here once "
                                        "every edge is symbolic.")
        self._update_title()
        self._update_actions()
        self.show_status("Ready")
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
            self.show_error("Cannot recover the project", str(exc))
            return False
        self._apply_ui_state(ui)
        self._update_title()
        self._update_actions()
        self.show_status("Recovered unsaved work: save it to keep it.")
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
