"""Dataset: the numeric table the engine trains on (split + normalisation).

Normalisation is fitted on the training rows only, so the test rows never
leak into anything the model sees.  Small tables (fewer than
SMALL_TABLE_ROWS rows) are not split: train = test = all rows and
``small_table`` is set; the discovery pipeline then reports a leave-out
error of its own instead of a hold-out error.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional, Sequence

from collections import Counter

import numpy as np

from .errors import DataError

SMALL_TABLE_ROWS = 50
MAX_MAGNITUDE = 1e150      # a value whose square still fits a float64 (errors and variances square them)
NORMALIZATIONS = ("standard", "minmax", "none")


@dataclass
class Dataset:
    input_names: list
    target_names: list
    X: np.ndarray
    Y: np.ndarray
    train_idx: np.ndarray = None
    test_idx: np.ndarray = None
    split_seed: int = 0
    test_fraction: float = 0.2
    normalization: str = "standard"
    source_path: Optional[str] = None
    drop_report: object = None
    notes: list = field(default_factory=list)
    small_table: bool = False
    units: dict = field(default_factory=dict)      # column -> unit text (pint), where known
    x_mean: np.ndarray = None
    x_scale: np.ndarray = None
    y_mean: np.ndarray = None
    y_scale: np.ndarray = None

    # ----------------------------------------------------------- creation
    @classmethod
    def from_arrays(cls, X, Y, input_names: Sequence[str] = None, target_names: Sequence[str] = None,
                    test_fraction: float = 0.2, seed: int = 0, normalization: str = "standard",
                    source_path: Optional[str] = None, train_idx=None, test_idx=None) -> "Dataset":
        try:
            X, Y = np.asarray(X, dtype=np.float64), np.asarray(Y, dtype=np.float64)
        except (TypeError, ValueError):
            raise DataError("the inputs and targets must be numbers") from None
        X = X[:, None] if X.ndim == 1 else X     # a single column given as a vector
        Y = Y[:, None] if Y.ndim == 1 else Y
        if X.ndim != 2 or Y.ndim != 2 or X.shape[1] == 0 or Y.shape[1] == 0:
            raise DataError("inputs and targets must be tables with at least one column each")
        if X.shape[0] != Y.shape[0]:
            raise DataError(f"inputs have {X.shape[0]} rows but targets have {Y.shape[0]}")
        if X.shape[0] == 0:
            raise DataError("the table has no usable rows")
        if not (np.isfinite(X).all() and np.isfinite(Y).all()):
            raise DataError("the data contains NaN or infinite values")
        input_names = [str(n) for n in (input_names or [f"x{i + 1}" for i in range(X.shape[1])])]
        target_names = [str(n) for n in (target_names or
                                         (["y"] if Y.shape[1] == 1 else [f"y{i + 1}" for i in range(Y.shape[1])]))]
        if len(input_names) != X.shape[1] or len(target_names) != Y.shape[1]:
            raise DataError(f"{len(input_names)} input and {len(target_names)} target names were given for "
                            f"{X.shape[1]} input and {Y.shape[1]} target columns")
        peaks = np.max(np.abs(np.column_stack([X, Y])), axis=0)
        for name, big in zip(input_names + target_names, peaks):
            if big > MAX_MAGNITUDE:
                raise DataError(f"column '{name}' holds values up to {big:.3g}: beyond {MAX_MAGNITUDE:.0e} their "
                                f"squares (variances, errors) overflow; rescale it (express it in larger units)")
        dupes = sorted(n for n, k in Counter(input_names + target_names).items() if k > 1)   # (linear: 20,000 columns)
        if dupes:
            raise DataError(f"column names must be unique: {', '.join(repr(d) for d in dupes)} appear(s) twice")
        if normalization not in NORMALIZATIONS:
            raise DataError(f"unknown normalisation {normalization!r}: use one of {', '.join(NORMALIZATIONS)}")
        ds = cls(input_names, target_names, X, Y, normalization=normalization, source_path=source_path)
        if train_idx is None:
            return ds.split(test_fraction, seed)
        ds.split_seed, ds.test_fraction = _check_seed(seed), _check_fraction(test_fraction)
        ds.train_idx = _check_rows(train_idx, ds.n_rows)
        ds.test_idx = _check_rows(train_idx if test_idx is None else test_idx, ds.n_rows)
        if ds.train_idx.size == 0:
            raise DataError("the split has no training rows")
        ds.small_table = X.shape[0] < SMALL_TABLE_ROWS
        ds._fit_normalization()
        return ds

    def split(self, test_fraction: float = 0.2, seed: int = 0) -> "Dataset":
        """Deterministic split with a private generator (global RNGs untouched)."""
        self.split_seed, self.test_fraction = _check_seed(seed), _check_fraction(test_fraction)
        n = self.X.shape[0]
        self.small_table = n < SMALL_TABLE_ROWS
        if self.small_table or self.test_fraction == 0.0:
            self.train_idx = np.arange(n)
            self.test_idx = np.arange(n)
        else:
            perm = np.random.default_rng(self.split_seed).permutation(n)
            n_test = max(1, int(round(n * self.test_fraction)))
            self.test_idx = np.sort(perm[:n_test])
            self.train_idx = np.sort(perm[n_test:])
        self._fit_normalization()
        return self

    def _fit_normalization(self):
        self.x_mean, self.x_scale = _fit_scale(self.X[self.train_idx], self.normalization)
        self.y_mean, self.y_scale = _fit_scale(self.Y[self.train_idx], self.normalization)

    # ----------------------------------------------------------- access
    @property
    def n_rows(self) -> int:
        return self.X.shape[0]

    @property
    def held_out(self) -> bool:
        """True when the test rows are disjoint from the training rows."""
        return not self.small_table and self.test_fraction > 0

    @property
    def error_name(self) -> str:
        """What a formula's or network's error on this table is: a test error on
        held-out rows, or, for a table too small to split, the training error."""
        return "test RMSE" if self.held_out else "training RMSE (no held-out rows)"

    def normalize_x(self, X):
        return (np.asarray(X, dtype=np.float64) - self.x_mean) / self.x_scale

    def denormalize_x(self, Xn):
        return np.asarray(Xn, dtype=np.float64) * self.x_scale + self.x_mean

    def normalize_y(self, Y):
        return (np.asarray(Y, dtype=np.float64) - self.y_mean) / self.y_scale

    def denormalize_y(self, Yn):
        return np.asarray(Yn, dtype=np.float64) * self.y_scale + self.y_mean

    def rows(self, split: str = "train"):
        idx = {"train": self.train_idx, "test": self.test_idx, "all": np.arange(self.n_rows)}.get(split)
        if idx is None:
            raise DataError(f"unknown split {split!r}: use train, test or all")
        return self.X[idx], self.Y[idx]

    def tensors(self, split: str = "train", dtype=None, device="cpu"):
        """Normalised (x, y) torch tensors of a split.

        The default dtype is float64, the engine's default model dtype (not
        torch's global default, which is float32 and would not match it).
        """
        import torch
        X, Y = self.rows(split)
        dtype = dtype or torch.float64
        return (torch.as_tensor(self.normalize_x(X), dtype=dtype, device=device),
                torch.as_tensor(self.normalize_y(Y), dtype=dtype, device=device))

    def with_column(self, name: str, values) -> "Dataset":
        """A new Dataset with one more input column, same rows and split."""
        if not isinstance(name, str) or not name.strip():
            raise DataError("a new column needs a name")
        try:
            values = np.asarray(values, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            raise DataError(f"the values of column '{name}' are not numbers") from None
        if values.shape[0] != self.n_rows:
            raise DataError(f"column '{name}' has {values.shape[0]} values, the table has {self.n_rows} rows")
        if name in self.input_names or name in self.target_names:
            raise DataError(f"a column named '{name}' already exists")
        if not np.isfinite(values).all():
            bad = int((~np.isfinite(values)).sum())
            raise DataError(f"column '{name}' is not finite on {bad} row(s)")
        new = replace(self, input_names=self.input_names + [name], X=np.column_stack([self.X, values]),
                      notes=list(self.notes), units=dict(self.units))
        new._fit_normalization()
        return new

    def without_inputs(self, names: Sequence[str]) -> "Dataset":
        keep = [i for i, n in enumerate(self.input_names) if n not in set(names)]
        new = replace(self, input_names=[self.input_names[i] for i in keep], X=self.X[:, keep].copy(),
                      notes=list(self.notes), units={k: v for k, v in self.units.items() if k not in set(names)})
        new._fit_normalization()
        return new

    # ----------------------------------------------------- serialisation
    def to_dict(self) -> dict:
        """JSON-able description without the data arrays."""
        return {
            "input_names": list(self.input_names), "target_names": list(self.target_names),
            "n_rows": int(self.n_rows), "split_seed": int(self.split_seed),
            "test_fraction": float(self.test_fraction), "normalization": self.normalization,
            "source_path": self.source_path, "small_table": bool(self.small_table),
            "x_mean": self.x_mean.tolist(), "x_scale": self.x_scale.tolist(),
            "y_mean": self.y_mean.tolist(), "y_scale": self.y_scale.tolist(),
            "notes": list(self.notes), "units": dict(self.units),
        }

    @classmethod
    def from_dict(cls, d: dict, X, Y) -> "Dataset":
        """Rebuild from to_dict() and the data arrays (same split, same scaling)."""
        if not isinstance(d, dict):
            raise DataError("the stored dataset description is not a JSON object")
        for key in ("input_names", "target_names"):
            if not isinstance(d.get(key), list) or not all(isinstance(n, str) for n in d[key]):
                raise DataError(f"the stored dataset description has no valid '{key}'")
        source = d.get("source_path")
        ds = cls.from_arrays(X, Y, d["input_names"], d["target_names"], d.get("test_fraction", 0.2),
                             d.get("split_seed", 0), d.get("normalization", "standard"),
                             source if isinstance(source, str) else None)
        for key in ("x_mean", "x_scale", "y_mean", "y_scale"):
            if key in d:
                try:
                    val = np.asarray(d[key], dtype=np.float64)
                except (TypeError, ValueError):
                    raise DataError(f"stored normalisation '{key}' is not a list of numbers") from None
                if val.shape != getattr(ds, key).shape or not np.isfinite(val).all() or \
                        (key.endswith("scale") and (val <= 0).any()):
                    raise DataError(f"stored normalisation '{key}' does not match the data's columns")
                setattr(ds, key, val)
        if isinstance(d.get("small_table"), bool):
            ds.small_table = d["small_table"]
        ds.notes = [str(n) for n in d.get("notes", []) if isinstance(n, str)]
        units = d.get("units", {})
        columns = set(ds.input_names) | set(ds.target_names)
        if isinstance(units, dict):
            ds.units = {k: v for k, v in units.items() if isinstance(k, str) and isinstance(v, str)
                        and k in columns and len(v) <= 64}
        return ds

    def to_frame(self):
        import pandas as pd
        data = {n: self.X[:, i] for i, n in enumerate(self.input_names)}
        data.update({n: self.Y[:, i] for i, n in enumerate(self.target_names)})
        return pd.DataFrame(data)


def _check_fraction(test_fraction) -> float:
    try:
        f = float(test_fraction)
    except (TypeError, ValueError):
        raise DataError(f"the test fraction must be a number, got {test_fraction!r}") from None
    if not 0.0 <= f <= 0.9:      # also refuses nan
        raise DataError(f"the test fraction must be between 0 and 0.9, got {test_fraction}")
    return f


def _check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise DataError(f"the split seed must be a whole number >= 0, got {seed!r}")
    return int(seed)


def _check_rows(idx, n: int) -> np.ndarray:
    arr = np.asarray(idx if idx is not None else [], dtype=np.int64).reshape(-1)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise DataError(f"the split refers to rows the table does not have (it has {n})")
    return arr


def _fit_scale(A: np.ndarray, mode: str):
    if mode == "none" or A.shape[0] == 0:
        return np.zeros(A.shape[1]), np.ones(A.shape[1])
    if mode == "minmax":  # maps the training range to [-1, 1]
        lo, hi = A.min(0), A.max(0)
        mean, scale = (hi + lo) / 2, (hi - lo) / 2
    else:
        mean, scale = A.mean(0), A.std(0)
    # A constant column gets scale 1.  "Constant" is relative to the column's own
    # magnitude, so physics data in SI units (charges ~1e-19) keeps its spread.
    varies = (scale > 1e-12 * np.abs(mean)) & (scale > np.finfo(np.float64).tiny) & np.isfinite(scale)
    return mean, np.where(varies, scale, 1.0)
