"""CSV import: a preview of the table, column roles (input / target / ignore),
rows dropped and why, train/test split, seed and normalisation.

The data package does all the reading (``kanstudio.data``: read_table,
analyze_columns, guess_target, build_dataset); its DataError sentences are
shown as they are.  ``ImportDialog(path)`` raises DataError when the file
cannot be read at all; otherwise problems with the chosen roles are shown
inside the dialog and OK stays disabled until they are fixed.

Also here: ``DataPanel``, the Data dock summarising the imported dataset.
The data package (pandas, sympy) is imported on first use, not at start-up.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QPalette
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit, QSpinBox,
                               QSplitter, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)


__all__ = ["ImportDialog", "DataPanel", "ROLES", "PREVIEW_ROWS"]

ROLES = ("input", "target", "ignore")
ROLE_TEXT = {"input": "Input", "target": "Target", "ignore": "Ignore"}
NORMALIZATION_TEXT = (("standard", "Standardise (mean 0, std 1)"),
                      ("minmax", "Min–max to [−1, 1]"),
                      ("none", "None (use raw values)"))
PREVIEW_ROWS = 50


def _fmt(v: float) -> str:
    return "—" if v is None or not math.isfinite(v) else f"{v:.4g}"


class ImportDialog(QDialog):
    datasetAccepted = Signal(object)

    def __init__(self, path, parent: Optional[QWidget] = None):
        super().__init__(parent)
        self.setObjectName("import_dialog")
        from ...data import analyze_columns, read_table
        self.path = Path(path)
        self.raw = read_table(self.path)            # DataError: caller shows it
        self.columns = analyze_columns(self.raw)
        self.dataset = None
        self._error = ""
        self.setWindowTitle(f"Import {self.path.name}")
        self.setMinimumSize(820, 600)

        notes = [f"{self.raw.frame.shape[0]} rows × {self.raw.frame.shape[1]} columns",
                 f"encoding {self.raw.encoding}",
                 "separator " + {",": "comma", ";": "semicolon", "\t": "tab", "|": "'|'"}.get(
                     self.raw.separator, self.raw.separator)]
        if self.raw.decimal == ",":
            notes.append("decimal comma")
        head = QLabel(f"<b>{self.path.name}</b> &nbsp; " + " · ".join(notes))
        head.setObjectName("import_header")
        head.setWordWrap(True)
        self.notes_label = QLabel("<br>".join(f"• {n}" for n in self.raw.notes))
        self.notes_label.setObjectName("import_notes")
        self.notes_label.setWordWrap(True)
        self.notes_label.setVisible(bool(self.raw.notes))

        self.preview = QTableWidget()
        self.preview.setObjectName("import_preview")
        self.preview.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.preview.setAlternatingRowColors(True)
        self._fill_preview()
        self._size_preview()

        self.roles = QTableWidget(len(self.columns), 6)
        self.roles.setObjectName("import_roles")
        self.roles.setHorizontalHeaderLabels(["Column", "Role", "Type", "Problems", "Range", "Unit"])
        self.roles.verticalHeader().setVisible(False)
        self.roles.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.roles.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.role_combos: dict[str, QComboBox] = {}
        self.unit_edits: dict[str, QLineEdit] = {}
        self._fill_roles()

        self.test_spin = QDoubleSpinBox()
        self.test_spin.setObjectName("import_test_fraction")
        self.test_spin.setRange(0.0, 0.9)
        self.test_spin.setSingleStep(0.05)
        self.test_spin.setDecimals(2)
        self.test_spin.setValue(0.2)
        self.test_spin.setToolTip("Fraction of rows held out to measure the test error "
                                  "(tables under 50 rows are not split)")
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("import_seed")
        self.seed_spin.setRange(0, 2**31 - 1)
        self.norm_combo = QComboBox()
        self.norm_combo.setObjectName("import_normalization")
        for key, text in NORMALIZATION_TEXT:
            self.norm_combo.addItem(text, key)
        self.norm_combo.setToolTip("The network trains on normalised values; formulas are reported in the "
                                   "original units either way")
        split = QGroupBox("Split and scaling")
        form = QFormLayout(split)
        form.addRow("Test fraction", self.test_spin)
        form.addRow("Split seed", self.seed_spin)
        form.addRow("Normalisation", self.norm_combo)

        self.summary = QLabel()
        self.summary.setObjectName("import_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.summary.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        roles_box = QGroupBox("Columns")
        rl = QVBoxLayout(roles_box)
        rl.addWidget(self.roles)
        bottom = QHBoxLayout()
        bottom.addWidget(roles_box, 3)
        right = QVBoxLayout()
        right.addWidget(split)
        right.addWidget(self.summary, 1)
        bottom.addLayout(right, 2)
        bottom_w = QWidget()
        bottom_w.setLayout(bottom)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.preview)
        splitter.addWidget(bottom_w)
        splitter.setStretchFactor(0, 3)       # the table is what people look at first
        splitter.setStretchFactor(1, 2)
        lay = QVBoxLayout(self)
        lay.addWidget(head)
        lay.addWidget(self.notes_label)
        lay.addWidget(splitter, 1)
        lay.addWidget(self.buttons)

        self.test_spin.valueChanged.connect(self._update)
        self.seed_spin.valueChanged.connect(self._update)
        self.norm_combo.currentIndexChanged.connect(self._update)
        self._update()

    # ------------------------------------------------------------ filling
    def _fill_preview(self):
        """Numbers as they were read (a decimal comma shows as a point, so the
        user sees what the network gets); unreadable cells in their own words,
        tinted, with the reason in the tooltip."""
        frame = self.raw.frame
        n = min(PREVIEW_ROWS, frame.shape[0])
        self.preview.setRowCount(n)
        self.preview.setColumnCount(frame.shape[1])
        self.preview.setHorizontalHeaderLabels([str(c) for c in frame.columns])
        values = frame.iloc[:n].to_numpy()
        missing = QBrush(QColor(217, 83, 79, 45))
        bad = QBrush(QColor(240, 173, 78, 70))
        for c, col in enumerate(frame.columns):
            numbers, is_missing, is_bad = self.raw.values(col)
            for r in range(n):
                v = values[r, c]
                if is_missing[r]:
                    item = QTableWidgetItem("")
                    item.setBackground(missing)
                    item.setToolTip("missing value")
                elif is_bad[r]:
                    item = QTableWidgetItem(str(v))
                    item.setBackground(bad)
                    item.setToolTip("not a number")
                else:
                    item = QTableWidgetItem(f"{numbers[r]:.10g}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.preview.setItem(r, c, item)

    def _size_preview(self):
        """Columns share the width when there are few, else fit their contents."""
        head = self.preview.horizontalHeader()
        if self.preview.columnCount() <= 8:
            head.setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        else:
            head.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
            self.preview.resizeColumnsToContents()

    def _fill_roles(self):
        from ...data import DataError, guess_target, label_columns
        try:
            target = guess_target(self.columns)
        except DataError:
            target = None
        labels = label_columns(self.raw, [c.name for c in self.columns if c.numeric and c.name != target])
        for r, c in enumerate(self.columns):
            name = QTableWidgetItem(c.name)
            self.roles.setItem(r, 0, name)
            combo = QComboBox()
            combo.setObjectName(f"role_{c.name}")
            for role in ROLES:
                combo.addItem(ROLE_TEXT[role], role)
            role = "target" if c.name == target else (
                "input" if c.numeric and c.name not in labels else "ignore")
            combo.setCurrentIndex(ROLES.index(role))
            if c.name in labels:        # a row counter or group label: no measurement
                combo.setToolTip(f"Starts as Ignore: {labels[c.name]}. Make it an input to use it.")
            combo.currentIndexChanged.connect(self._update)
            self.roles.setCellWidget(r, 1, combo)
            self.role_combos[c.name] = combo
            self.roles.setItem(r, 2, QTableWidgetItem("numeric" if c.numeric else "text"))
            probs = [f"{n} {what}" for n, what in ((c.n_missing, "missing"), (c.n_nonnumeric, "non-numeric"),
                                                    (c.n_inf, "infinite")) if n]
            self.roles.setItem(r, 3, QTableWidgetItem(", ".join(probs) or "none"))
            self.roles.setItem(r, 4, QTableWidgetItem(f"{_fmt(c.min)} … {_fmt(c.max)}" if c.numeric else "—"))
            unit = QLineEdit(self.raw.units.get(c.name, ""))
            unit.setObjectName(f"unit_{c.name}")
            unit.setPlaceholderText("e.g. m/s")
            unit.setToolTip("Unit of this column (pint syntax: m/s, kg, kJ/mol, degC...); optional. "
                            "Discovery rejects formulas whose units do not add up.")
            unit.editingFinished.connect(self._update)
            self.roles.setCellWidget(r, 5, unit)
            self.unit_edits[c.name] = unit
        h = self.roles.horizontalHeader()
        h.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        h.setStretchLastSection(True)

    # ---------------------------------------------------------- choices
    def role_of(self, column: str) -> str:
        return self.role_combos[column].currentData()

    def set_role(self, column: str, role: str):
        self.role_combos[column].setCurrentIndex(ROLES.index(role))

    def inputs(self) -> list[str]:
        return [c.name for c in self.columns if self.role_of(c.name) == "input"]

    def targets(self) -> list[str]:
        return [c.name for c in self.columns if self.role_of(c.name) == "target"]

    def units(self) -> dict:
        """Units typed or read from the header, by column (empty ones left out)."""
        return {n: e.text().strip() for n, e in self.unit_edits.items() if e.text().strip()}

    def options(self) -> dict:
        return {"inputs": self.inputs(), "targets": self.targets(), "test_fraction": self.test_spin.value(),
                "seed": self.seed_spin.value(), "normalization": self.norm_combo.currentData()}

    def error_text(self) -> str:
        return self._error

    def _build(self):
        from ...data import DataError, build_dataset
        o = self.options()
        if not o["targets"]:
            raise DataError("choose a target column (the quantity to predict)")
        if not o["inputs"]:
            raise DataError("choose at least one input column")
        from ...data import parse_unit
        units = self.units()
        for n in o["inputs"] + o["targets"]:
            if n in units and parse_unit(units[n]) is None:
                raise DataError(f"'{units[n]}' (the unit of '{n}') is not a unit pint knows; "
                                f"write it like m/s, kg or kJ/mol, or leave it empty")
        ds = build_dataset(self.raw, o["inputs"], o["targets"], o["test_fraction"], o["seed"], o["normalization"])
        ds.units = {n: units[n] for n in o["inputs"] + o["targets"] if n in units}
        return ds

    def _update(self):
        from ...data import DataError
        self._tint_preview()
        try:
            ds = self._build()
        except DataError as exc:
            self.dataset, self._error = None, str(exc)
            self.summary.setText(f"<p style='color:#d9534f'><b>Cannot import yet:</b> {exc}</p>")
            self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(False)
            return
        self.dataset, self._error = ds, ""
        rep = ds.drop_report
        lines = [f"<b>{ds.n_rows}</b> rows used"]
        if rep is not None and rep.dropped:
            why = ", ".join(f"{n} {reason}" for reason, n in rep.by_reason.items() if n)
            lines.append(f"<span style='color:#d08a00'><b>{rep.dropped}</b> of {rep.total_rows} rows dropped "
                         f"({why})</span>")
            cols = [f"{c}: " + ", ".join(f"{n} {r}" for r, n in d.items() if n)
                    for c, d in rep.by_column.items() if any(d.values())]
            if cols:
                lines.append("<small>" + "<br>".join(cols) + "</small>")
        else:
            lines.append("no rows dropped")
        if ds.small_table:
            lines.append("Small table (under 50 rows): every row is used for training and testing.")
        else:
            lines.append(f"{len(ds.train_idx)} training rows, {len(ds.test_idx)} test rows")
        def named(n):
            return f"{n} [{ds.units[n]}]" if n in ds.units else n
        lines.append(f"Inputs: {', '.join(map(named, ds.input_names))}<br>"
                     f"Target: {', '.join(map(named, ds.target_names))}")
        self.summary.setText("<p>" + "<br>".join(lines) + "</p>")
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(True)

    def _tint_preview(self):
        """Grey out ignored columns, emphasise the target in the preview header."""
        pal = self.palette()
        dim = QBrush(pal.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text))
        normal = QBrush(pal.color(QPalette.ColorRole.Text))
        for c, info in enumerate(self.columns):
            role = self.role_of(info.name)
            head = self.preview.horizontalHeaderItem(c)
            if head is not None:
                head.setText(f"{info.name}\n({ROLE_TEXT[role].lower()})")
                head.setToolTip(f"{info.name}: {ROLE_TEXT[role].lower()}")
            for r in range(self.preview.rowCount()):
                item = self.preview.item(r, c)
                if item is not None:
                    item.setForeground(dim if role == "ignore" else normal)

    # ---------------------------------------------------------- accept
    def accept(self):
        self._update()
        if self.dataset is None:
            return
        ds = self.dataset
        super().accept()
        self.datasetAccepted.emit(ds)

    def accept_defaults(self):
        """Accept the suggested roles and split without showing the dialog."""
        self.accept()
        if self.dataset is None or self.result() != QDialog.DialogCode.Accepted:
            from ...data import DataError
            raise DataError(self._error or "the file cannot be imported with the default settings")


class DataPanel(QWidget):
    """The Data dock: where the data came from, its split, and column statistics."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("data_panel")
        self.summary = QLabel("No data yet: open a CSV file (Ctrl+O) or pick a sample on the start page.")
        self.summary.setObjectName("data_summary")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 5)
        self.table.setObjectName("data_columns")
        self.table.setHorizontalHeaderLabels(["Column", "Role", "Min", "Max", "Mean"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setAlternatingRowColors(True)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(self.summary)
        lay.addWidget(self.table, 1)
        self.set_dataset(None)

    def set_dataset(self, ds, source: str = ""):
        self.table.setRowCount(0)
        if ds is None:
            self.summary.setText("No data yet: open a CSV file (Ctrl+O) or pick a sample on the start page.")
            self.table.setVisible(False)
            return
        src = Path(source or ds.source_path or "").name or "(embedded data)"
        split = ("all rows for training and testing (small table)" if ds.small_table else
                 f"{len(ds.train_idx)} train / {len(ds.test_idx)} test (seed {ds.split_seed})")
        norm = dict(NORMALIZATION_TEXT).get(ds.normalization, ds.normalization)
        notes = "".join(f"<br>• {n}" for n in (ds.notes or []))
        self.summary.setText(f"<b>{src}</b><br>{ds.n_rows} rows · {split}<br>Normalisation: {norm}{notes}")
        cols = [(n, "input", ds.X[:, k]) for k, n in enumerate(ds.input_names)]
        cols += [(n, "target", ds.Y[:, k]) for k, n in enumerate(ds.target_names)]
        self.table.setRowCount(len(cols))
        for r, (name, role, v) in enumerate(cols):
            v = np.asarray(v, dtype=np.float64)
            for c, text in enumerate((name, role, _fmt(float(v.min())), _fmt(float(v.max())), _fmt(float(v.mean())))):
                item = QTableWidgetItem(text)
                if c >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if role == "target":
                    f = item.font()
                    f.setBold(True)
                    item.setFont(f)
                self.table.setItem(r, c, item)
        self.table.setVisible(True)
