"""Small dialogs behind the Model ▸ Science actions.  Each only collects
parameters (with live validation where the input is text) or shows a result;
``science_actions`` does the work, so tests can skip the dialogs."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (QComboBox, QDialog, QDialogButtonBox, QFormLayout, QLabel, QLineEdit,
                               QPlainTextEdit, QSpinBox, QVBoxLayout, QWidget)

__all__ = ["AuxInputDialog", "TextSpecDialog", "ExpandWidthDialog", "EdgeFunctionDialog", "ResultDialog",
           "check_formula"]

PREVIEW_ROWS = 5


def check_formula(text: str, dataset) -> tuple[bool, str]:
    """(ok, message): parse ``text`` over the input columns and preview its
    first values (message is the parser's sentence when it fails)."""
    import numpy as np
    from ...data import evaluate_expression, parse_expression
    if dataset is None:
        return False, "Open a dataset first."
    names = list(dataset.input_names)
    rows = dataset.X[:PREVIEW_ROWS]
    try:
        expr = parse_expression(text, names)
        cols = {n: rows[:, k] for k, n in enumerate(names)}
        vals = np.broadcast_to(np.asarray(evaluate_expression(expr, cols), dtype=float), (len(rows),))
    except (ValueError, TypeError, ArithmeticError) as exc:
        return False, str(exc)
    shown = ", ".join(f"{v:.4g}" for v in vals)
    return True, f"{expr}  \u2192  first values: {shown}"


class _Dialog(QDialog):
    def __init__(self, title: str, name: str, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName(name)
        self.form = QFormLayout()
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(self.form)
        lay.addWidget(self.buttons)

    def ok_button(self):
        return self.buttons.button(QDialogButtonBox.StandardButton.Ok)


class TextSpecDialog(_Dialog):
    """One line of text checked on every keystroke by ``validate(text) -> (ok, message)``."""

    def __init__(self, title: str, name: str, label: str, hint: str, validate: Callable[[str], tuple],
                 text: str = "", parent: Optional[QWidget] = None):
        super().__init__(title, name, parent)
        self._validate = validate
        self.edit = QLineEdit(text)
        self.edit.setObjectName("spec_edit")
        self.edit.setPlaceholderText(hint)
        self.status = QLabel()
        self.status.setObjectName("validation_label")
        self.status.setWordWrap(True)
        self.form.addRow(label, self.edit)
        self.form.addRow(self.status)
        self.edit.textChanged.connect(self._check)
        self._check()

    def _check(self, *_):
        text = self.edit.text()
        ok, msg = self._validate(text) if text.strip() else (False, "")
        self.status.setText(msg)
        self.ok_button().setEnabled(ok)

    def text(self) -> str:
        return self.edit.text()


class AuxInputDialog(_Dialog):
    """Name + expression of a new input column, with a preview of its first values."""

    def __init__(self, dataset, parent: Optional[QWidget] = None):
        super().__init__("Add auxiliary input", "aux_input_dialog", parent)
        self.dataset = dataset
        self.name_edit = QLineEdit()
        self.name_edit.setObjectName("aux_name_edit")
        self.name_edit.setPlaceholderText("e.g. uv")
        self.expr_edit = QLineEdit()
        self.expr_edit.setObjectName("aux_expr_edit")
        cols = ", ".join(dataset.input_names) if dataset is not None else ""
        self.expr_edit.setPlaceholderText(f"a formula of {cols}, e.g. u*v")
        self.status = QLabel()
        self.status.setObjectName("validation_label")
        self.status.setWordWrap(True)
        self.form.addRow("Name:", self.name_edit)
        self.form.addRow("Expression:", self.expr_edit)
        self.form.addRow(self.status)
        self.name_edit.textChanged.connect(self._check)
        self.expr_edit.textChanged.connect(self._check)
        self._check()

    def _check(self, *_):
        name, text = self.name_edit.text().strip(), self.expr_edit.text()
        taken = set(self.dataset.input_names) | set(self.dataset.target_names) if self.dataset is not None else set()
        if not text.strip():
            ok, msg = False, ""
        else:
            ok, msg = check_formula(text, self.dataset)
        if ok and not name:
            ok, msg = False, msg + "\nGive the new column a name."
        elif ok and name in taken:
            ok, msg = False, f"There is already a column named '{name}'."
        self.status.setText(msg)
        self.ok_button().setEnabled(ok)

    def values(self) -> tuple[str, str]:
        return self.name_edit.text().strip(), self.expr_edit.text()


class ExpandWidthDialog(_Dialog):
    def __init__(self, depth: int, parent: Optional[QWidget] = None):
        super().__init__("Add hidden nodes", "expand_width_dialog", parent)
        self.level = QSpinBox()
        self.level.setRange(1, max(1, depth - 1))
        self.count = QSpinBox()
        self.count.setRange(1, 20)
        self.kind = QComboBox()
        self.kind.addItems(["sum", "mult"])
        self.form.addRow("Hidden level:", self.level)
        self.form.addRow("New nodes:", self.count)
        self.form.addRow("Kind:", self.kind)
        self.ok_button().setEnabled(depth > 1)

    def values(self) -> tuple[int, int, str]:
        return self.level.value(), self.count.value(), self.kind.currentText()


class EdgeFunctionDialog(_Dialog):
    """An edge (layer, i, j) and a library function name."""

    def __init__(self, model, names: Sequence[str], edge: Optional[tuple] = None, parent: Optional[QWidget] = None):
        super().__init__("Test a formula hypothesis", "test_formula_dialog", parent)
        self.model = model
        self.layer, self.i, self.j = QSpinBox(), QSpinBox(), QSpinBox()
        self.layer.setRange(0, model.depth - 1)
        self.layer.valueChanged.connect(self._ranges)
        self.fn = QComboBox()
        self.fn.setObjectName("function_combo")
        self.fn.addItems(list(names))
        self.form.addRow("Layer:", self.layer)
        self.form.addRow("From node i:", self.i)
        self.form.addRow("To subnode j:", self.j)
        self.form.addRow("Function:", self.fn)
        self.form.addRow(QLabel("The edge is fixed to the function, the network retrained briefly, and "
                                "its loss compared with the unconstrained network's."))
        self._ranges()
        if edge is not None:
            self.layer.setValue(edge[0])
            self.i.setValue(edge[1])
            self.j.setValue(edge[2])

    def _ranges(self, *_):
        lay = self.model.layers[self.layer.value()]
        self.i.setRange(0, lay.in_dim - 1)
        self.j.setRange(0, lay.out_dim - 1)

    def values(self) -> tuple[int, int, int, str]:
        return self.layer.value(), self.i.value(), self.j.value(), self.fn.currentText()


class ResultDialog(QDialog):
    """Read-only text (verdicts, tutorial)."""

    def __init__(self, title: str, text: str, name: str = "science_result_dialog", parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.setObjectName(name)
        self.text_view = QPlainTextEdit(text)
        self.text_view.setReadOnly(True)
        self.text_view.setObjectName("result_text")
        self.text_view.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addWidget(self.text_view)
        lay.addWidget(buttons)
        self.resize(640, 380)
