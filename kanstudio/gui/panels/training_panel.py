"""The Training dock: network shape and optimiser settings, Fit / Stop, and
below them the runs' live loss plot (``loss``, a loss_plot.LossPlot).

The panel only collects settings and draws; the main window runs the job.
``settings()`` / ``set_settings(d)`` (JSON-able, saved in projects),
``fit_config()`` -> engine FitConfig, ``model_spec()`` -> KAN keyword
arguments, ``validate()`` -> error text or "".
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QSizePolicy, QSpinBox, QToolButton,
                               QVBoxLayout, QWidget)

from ...defaults import FIT_SETTINGS
from .loss_plot import LossPlot

__all__ = ["TrainingPanel", "DEFAULTS", "default_width"]

# the panel edits every fit setting but the dtype
DEFAULTS = {k: v for k, v in FIT_SETTINGS.items() if k != "dtype"}


def default_width(n_in: int, n_out: int) -> str:
    """defaults.default_width as the panel writes it (2,[5,2],1 for multiplication nodes)."""
    from ...defaults import default_width as width
    return ",".join(str(w).replace(" ", "") for w in width(n_in, n_out))


class TrainingPanel(QWidget):
    settingsChanged = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("training_panel")
        self._n_in, self._n_out = 0, 0

        self.width_edit = QLineEdit()
        self.width_edit.setObjectName("edit_width")
        self.width_edit.setPlaceholderText("e.g. 2,5,1 or 2,[3,2],1")
        self.width_edit.setToolTip("Nodes per layer, inputs first. A pair [sums, products] adds "
                                   "multiplication nodes, e.g. 2,[3,2],1.")
        self.grid_spin = self._spin(1, 1000, "spin_grid", "Grid intervals per B-spline")
        self.k_spin = self._spin(1, 7, "spin_k", "Spline order (3 = cubic)")
        self.optimizer_combo = QComboBox()
        self.optimizer_combo.setObjectName("combo_optimizer")
        self.optimizer_combo.addItem("LBFGS", "lbfgs")
        self.optimizer_combo.addItem("Adam", "adam")
        self.steps_spin = self._spin(1, 1_000_000, "spin_steps", "Optimisation steps")
        self.lamb_spin = QDoubleSpinBox()
        self.lamb_spin.setObjectName("spin_lambda")
        self.lamb_spin.setDecimals(5)
        self.lamb_spin.setRange(0.0, 10.0)
        self.lamb_spin.setSingleStep(0.001)
        self.lamb_spin.setToolTip("Sparsity regularisation λ of Fit: larger values leave fewer, clearer edges "
                                  "for Prune to cut. Retrain trains without it, as in the KAN paper's loop.")
        self.lr_spin = QDoubleSpinBox()
        self.lr_spin.setObjectName("spin_lr")
        self.lr_spin.setDecimals(5)
        self.lr_spin.setRange(0.0, 100.0)
        self.lr_spin.setSingleStep(0.001)
        self.lr_spin.setSpecialValueText("auto")
        self.lr_spin.setToolTip("Learning rate; auto = 1 for LBFGS, 0.01 for Adam")
        self.seed_spin = self._spin(0, 2**31 - 1, "spin_seed", "Seed of the initialisation and mini-batches")
        self.device_combo = QComboBox()
        self.device_combo.setObjectName("combo_device")
        self.device_combo.addItem("CPU", "cpu")
        self._wanted_device = "cpu"   # CUDA is offered once the worker has looked (set_cuda_available)
        self.grid_update_check = QCheckBox("Adapt grids to the data")
        self.grid_update_check.setObjectName("check_update_grid")
        self.grid_update_check.setToolTip("Move spline knots to the data's quantiles during the first steps")
        self.batch_spin = self._spin(-1, 10_000_000, "spin_batch", "Rows per step; full batch uses all rows")
        self.batch_spin.setSpecialValueText("full batch")

        shape = QGroupBox("Network")
        f1 = QFormLayout(shape)
        f1.addRow("Width", self.width_edit)
        row = QHBoxLayout()
        row.addWidget(QLabel("Grid"))
        row.addWidget(self.grid_spin, 1)
        row.addSpacing(8)
        row.addWidget(QLabel("k"))
        row.addWidget(self.k_spin, 1)
        f1.addRow(row)
        f1.addRow("Seed", self.seed_spin)
        opt = QGroupBox("Optimiser")
        f2 = QFormLayout(opt)
        f2.addRow("Method", self.optimizer_combo)
        f2.addRow("Steps", self.steps_spin)
        f2.addRow("λ", self.lamb_spin)
        f2.addRow("Learning rate", self.lr_spin)
        f2.addRow("Batch", self.batch_spin)
        f2.addRow("Device", self.device_combo)
        f2.addRow(self.grid_update_check)
        for form in (f1, f2):
            form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
            form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

        self.fit_button = QToolButton()
        self.fit_button.setObjectName("button_fit")
        self.stop_button = QToolButton()
        self.stop_button.setObjectName("button_stop")
        for b in (self.fit_button, self.stop_button):
            b.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            b.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
            b.setMinimumHeight(30)
        buttons = QHBoxLayout()
        buttons.addWidget(self.fit_button)
        buttons.addWidget(self.stop_button)

        self.loss = LossPlot()         # the runs' status line and loss plot

        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        lay.addWidget(shape)
        lay.addWidget(opt)
        lay.addLayout(buttons)
        lay.addWidget(self.loss, 1)

        self.set_settings(DEFAULTS)
        for w in (self.width_edit,):
            w.textChanged.connect(self.settingsChanged)
        for w in (self.grid_spin, self.k_spin, self.steps_spin, self.seed_spin, self.batch_spin):
            w.valueChanged.connect(self.settingsChanged)
        for w in (self.lamb_spin, self.lr_spin):
            w.valueChanged.connect(self.settingsChanged)
        for w in (self.optimizer_combo, self.device_combo):
            w.currentIndexChanged.connect(self.settingsChanged)
        self.grid_update_check.toggled.connect(self.settingsChanged)
        self.width_edit.textChanged.connect(self._check_width)

    @staticmethod
    def _spin(lo: int, hi: int, name: str, tip: str) -> QSpinBox:
        s = QSpinBox()
        s.setRange(lo, hi)
        s.setObjectName(name)
        s.setToolTip(tip)
        s.setKeyboardTracking(False)
        return s

    # ------------------------------------------------------------ actions
    def set_actions(self, fit: QAction, stop: QAction):
        self.fit_button.setDefaultAction(fit)
        self.stop_button.setDefaultAction(stop)

    # ----------------------------------------------------------- settings
    def set_io(self, n_in: int, n_out: int, reset_width: bool = False):
        """The dataset's number of inputs/outputs (default width, validation)."""
        self._n_in, self._n_out = n_in, n_out
        if reset_width or not self.width_edit.text().strip():
            self.width_edit.setText(default_width(n_in, n_out))
        self._check_width()

    def settings(self) -> dict:
        return {"width": self.width_edit.text().strip(), "grid": self.grid_spin.value(),
                "k": self.k_spin.value(), "optimizer": self.optimizer_combo.currentData(),
                "steps": self.steps_spin.value(), "lamb": self.lamb_spin.value(),
                "lr": self.lr_spin.value(), "seed": self.seed_spin.value(),
                "device": self.device_combo.currentData(), "update_grid": self.grid_update_check.isChecked(),
                "batch_size": self.batch_spin.value()}

    def set_settings(self, d: dict):
        d = {**DEFAULTS, **(d or {})}
        self.width_edit.setText(str(d["width"]))
        self.grid_spin.setValue(int(d["grid"]))
        self.k_spin.setValue(int(d["k"]))
        self.optimizer_combo.setCurrentIndex(max(0, self.optimizer_combo.findData(d["optimizer"])))
        self.steps_spin.setValue(int(d["steps"]))
        self.lamb_spin.setValue(float(d["lamb"]))
        self.lr_spin.setValue(float(d["lr"] or 0.0))
        self.seed_spin.setValue(int(d["seed"]))
        self._wanted_device = str(d["device"])
        idx = self.device_combo.findData(d["device"])
        self.device_combo.setCurrentIndex(idx if idx >= 0 else 0)   # cuda gone (or not known yet) -> cpu
        self.grid_update_check.setChecked(bool(d["update_grid"]))
        self.batch_spin.setValue(int(d["batch_size"]))

    def set_cuda_available(self, available: bool):
        """Offer the GPU when the worker found one; a project that asked for it
        before this was known gets it back."""
        have = self.device_combo.findData("cuda") >= 0
        if available and not have:
            self.device_combo.addItem("CUDA (GPU)", "cuda")
            if self._wanted_device == "cuda":
                self.device_combo.setCurrentIndex(self.device_combo.findData("cuda"))

    def width_spec(self):
        from ...model import normalize_width, parse_width
        return normalize_width(parse_width(self.width_edit.text()))

    def validate(self) -> str:
        """"" when the settings can build and train a network, else a sentence saying why."""
        text = self.width_edit.text().strip()
        if not text:
            return "Enter the network width, e.g. 2,5,1."
        from ...model import check_width
        try:
            check_width(self.width_spec(), self._n_in, self._n_out)
        except ValueError as exc:
            return f"Width: {exc}."
        if self.grid_spin.value() < 1:
            return "Grid must be at least 1."
        return ""

    def _check_width(self):
        err = self.validate() if self.width_edit.text().strip() else ""
        self.width_edit.setStyleSheet("QLineEdit { border: 1px solid #d9534f; }" if err else "")
        self.width_edit.setToolTip(err or "Nodes per layer, inputs first. A pair [sums, products] adds "
                                          "multiplication nodes, e.g. 2,[3,2],1.")

    def model_spec(self) -> dict:
        s = self.settings()
        return {"width": self.width_spec(), "grid": s["grid"], "k": s["k"], "seed": s["seed"],
                "device": s["device"]}

    def fit_config(self, **overrides):
        from ...training import FitConfig
        s = self.settings()
        kw = dict(steps=s["steps"], optimizer=s["optimizer"], lr=s["lr"] or None, lamb=s["lamb"],
                  update_grid=s["update_grid"], batch_size=s["batch_size"] if s["batch_size"] > 0 else -1,
                  seed=s["seed"])
        kw.update(overrides)
        return FitConfig(**kw)

    def set_running(self, running: bool):
        for w in (self.width_edit, self.grid_spin, self.k_spin, self.optimizer_combo, self.steps_spin,
                  self.lamb_spin, self.lr_spin, self.seed_spin, self.device_combo,
                  self.grid_update_check, self.batch_spin):
            w.setEnabled(not running)
