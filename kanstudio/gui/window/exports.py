"""File ▸ Export's controller: the formula as LaTeX, SymPy text or a Python
function, the data with predictions as CSV, the network as PNG/SVG.

The formula exports write what the formula panel shows (``FormulaInfo``, its
LaTeX is the authoritative form); predictions are computed in the worker.
Each export has a method taking the path, which ``_ask_export`` calls after
a save dialog.
"""
from __future__ import annotations

import copy

import importlib.util
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMenu

from ...version import __version__
from ..panels import latex_name
from ..background import predictions_job
from .actions import Controller

__all__ = ["ExportController", "formula_text", "has_svg", "image_filter", "write_svg"]

_FILTERS = {"tex": "LaTeX (*.tex)", "sympy": "Text (*.txt)", "py": "Python (*.py)", "csv": "CSV (*.csv)"}
_EXT = {"tex": ".tex", "sympy": ".txt", "py": ".py", "csv": ".csv", "image": ".png"}


def formula_text(info, kind: str, source: str = "") -> str:
    """The file contents for ``kind`` "tex" (a standalone LaTeX document),
    "sympy" or "py" from a FormulaInfo."""
    names = info.output_names
    if kind == "tex":
        eq = "\n".join(f"  {latex_name(n)} = {t}" + (r" \\" if k < len(names) - 1 else "")
                       for k, (n, t) in enumerate(zip(names, info.latex)))
        env = "equation" if len(names) == 1 else "gather"
        return ("% Formula exported by kanstudio " + __version__ + "\n"
                f"% source: {source}; test RMSE {info.test_rmse:.6g}\n"
                "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n"
                f"\\begin{{{env}}}\n{eq}\n\\end{{{env}}}\n\\end{{document}}\n")
    if kind == "sympy":
        return "\n".join(f"{n} = {s}" for n, s in zip(names, info.sympy_str)) + "\n"
    if kind == "py":
        return info.python or "\n".join(f"# {n} = {s}" for n, s in zip(names, info.sympy_str))
    raise ValueError(f"unknown export kind {kind!r}")


def has_svg() -> bool:
    try:
        return importlib.util.find_spec("PySide6.QtSvg") is not None
    except (ImportError, ValueError):
        return False


def image_filter() -> str:
    return "PNG image (*.png);;SVG image (*.svg)" if has_svg() else "PNG image (*.png)"


def write_svg(view, path: str):
    """The whole scene of a NetworkView as an SVG file, on its background."""
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


class ExportController(Controller):
    """File ▸ Export (``menu``) and ``export_latex`` / ``export_sympy`` /
    ``export_python`` / ``export_predictions`` / ``export_network_image`` (path
    in, success out)."""

    def __init__(self, window):
        super().__init__(window)
        self.doc = window.doc
        a = self.action
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
        self.export_menu = QMenu("&Export", window)
        self.export_menu.setObjectName("menu_export")
        self.export_menu.addActions([self.action_export_latex, self.action_export_sympy, self.action_export_python])
        self.export_menu.addSeparator()
        self.export_menu.addActions([self.action_export_predictions, self.action_export_image])
        window.formula_panel.set_export_menu(self.export_menu)

    def update(self, busy: bool):
        formula = self.window.formula_panel.info() is not None
        for act in (self.action_export_latex, self.action_export_sympy, self.action_export_python):
            act.setEnabled(formula)
        self.action_export_predictions.setEnabled(self.doc.has_model and not busy)
        self.action_export_image.setEnabled(self.doc.has_model)

    def _ask_export(self, kind: str):
        filters = {**_FILTERS, "image": image_filter()}
        ext = _EXT[kind]
        suffix = {"csv": "_predictions", "image": "_network"}.get(kind, "")
        start = str(Path(self.window.files.dialog_dir()) / (self.doc.suggested_name() + suffix + ext))
        path, chosen = QFileDialog.getSaveFileName(self.window, "Export", start, filters[kind])
        if not path:
            return
        if kind == "image" and not Path(path).suffix:
            path += ".svg" if "SVG" in chosen else ".png"
        elif not Path(path).suffix:
            path += ext
        self.window.files.remember_dir(path)
        {"tex": self.export_latex, "sympy": self.export_sympy, "py": self.export_python,
         "csv": self.export_predictions, "image": self.export_network_image}[kind](path)

    def export_latex(self, path) -> bool:
        return self._export_text(path, "tex")

    def export_sympy(self, path) -> bool:
        return self._export_text(path, "sympy")

    def export_python(self, path) -> bool:
        return self._export_text(path, "py")

    def _export_text(self, path, kind: str) -> bool:
        info = self.window.formula_panel.info()
        if info is None:
            self.window.show_error("No formula yet", "There is no complete formula to export: fix or prune the numeric "
                                              "edges, or run Auto-symbolic.")
            return False
        try:
            Path(path).write_text(formula_text(info, kind, self.doc.display_name()), encoding="utf-8")
        except OSError as exc:
            self.window.show_error("Cannot export", f"{path}: {exc.strerror or exc}")
            return False
        self.window.show_status(f"Exported {Path(path).name}", 5000)
        return True

    def export_predictions(self, path):
        """Queued in the worker; returns the Job (None when there is no model)."""
        if self.doc.model is None:
            self.window.show_error("No model yet", "Fit a network before exporting predictions.")
            return None
        model, ds, digits = copy.deepcopy(self.window.jobs.model_copy()), self.doc.dataset, self.window.formula_panel.digits()

        def run(ctx):
            from ...symbolic import FormulaIncomplete, model_formula
            try:
                ex = model_formula(model, ds, digits=digits).exprs
            except FormulaIncomplete:
                ex = None      # the network's predictions alone
            return predictions_job(model, ds, ex, str(path))(ctx)
        return self.window.runner.submit("Export predictions", run,
                                  on_done=lambda p: self.window.show_status(f"Exported {Path(p).name}", 5000),
                                  on_error=lambda m, d: self.window.show_error("Cannot export predictions", m, d))

    def export_network_image(self, path) -> bool:
        view = self.window.network_view
        if view.picture() is None:
            self.window.show_error("No network yet", "Fit a network before exporting its picture.")
            return False
        path = str(path)
        try:
            if path.lower().endswith(".svg"):
                if not has_svg():
                    self.window.show_error("SVG not available", "This Qt build has no SVG module; save as PNG instead.")
                    return False
                write_svg(view, path)
            elif not view.render_image(2.0).save(path):
                raise OSError("the image could not be written")
        except OSError as exc:
            self.window.show_error("Cannot export the picture", f"{path}: {exc}")
            return False
        self.window.show_status(f"Exported {Path(path).name}", 5000)
        return True
