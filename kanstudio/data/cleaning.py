"""Turning read cells into numbers, and dropping the rows that cannot be used.

Every dropped row is counted once, under the first reason found for it
(columns in the order chosen), so the per-reason counts add up to the
number of dropped rows; the per-column counts say where the problems are.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .csv_sniff import MISSING_TOKENS

REASONS = ("missing", "non-numeric", "infinite")


@dataclass
class DropReport:
    total_rows: int
    kept_rows: int
    by_reason: dict               # {"missing": n, "non-numeric": n, "infinite": n}; sums to dropped
    by_column: dict               # {column: {reason: n}} over all rows (a row may count in several columns)

    @property
    def dropped(self) -> int:
        return self.total_rows - self.kept_rows

    def summary(self) -> str:
        """One line, e.g. '5 of 200 rows dropped (2 missing, 1 non-numeric, 2 infinite)'."""
        if self.dropped == 0:
            return f"all {self.total_rows} rows kept"
        parts = [f"{n} {reason}" for reason, n in self.by_reason.items() if n]
        return f"{self.dropped} of {self.total_rows} rows dropped ({', '.join(parts)})"

    def details(self) -> list:
        """One line per column with problems, e.g. "x: 2 missing, 1 non-numeric"."""
        return [f"{col}: " + ", ".join(f"{n} {r}" for r, n in counts.items() if n)
                for col, counts in self.by_column.items() if any(counts.values())]

    def to_dict(self) -> dict:
        return {"total_rows": self.total_rows, "kept_rows": self.kept_rows,
                "by_reason": dict(self.by_reason), "by_column": {k: dict(v) for k, v in self.by_column.items()}}


def column_values(series: pd.Series, decimal: str = "."):
    """(float64 values, missing mask, non-numeric mask) of a column as read.

    Missing = empty or a usual 'no value' token (NA, nan, -, ?); non-numeric =
    anything else that is not a number.  inf / -inf are numbers (flagged later).
    """
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        values = np.array(series.to_numpy(dtype=np.float64, na_value=np.nan))   # own, writable copy
        missing = np.isnan(values)
        return values, missing, np.zeros_like(missing)
    obj = series.astype(object)
    isna = obj.isna().to_numpy()
    text = obj.where(~isna, "").astype(str).str.strip()
    missing = isna | text.str.lower().isin(MISSING_TOKENS).to_numpy()
    if decimal == ",":
        text = text.str.replace(",", ".", regex=False)
    values = pd.to_numeric(text, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    values = np.where(missing, np.nan, values)
    nonnumeric = np.isnan(values) & ~missing
    return values, missing, nonnumeric


def drop_bad_rows(columns: dict, n_rows: int):
    """columns: {name: (values, missing, nonnumeric)}.  Returns (keep mask, DropReport)."""
    keep = np.ones(n_rows, dtype=bool)
    reason_of_row = np.full(n_rows, -1, dtype=np.int8)
    by_column = {}
    for name, (values, missing, nonnum) in columns.items():
        masks = (missing, nonnum, np.isinf(values))
        by_column[name] = {r: int(m.sum()) for r, m in zip(REASONS, masks)}
        for k, mask in enumerate(masks):
            reason_of_row[mask & (reason_of_row < 0)] = k
            keep &= ~mask
    by_reason = {r: int((reason_of_row == k).sum()) for k, r in enumerate(REASONS)}
    return keep, DropReport(n_rows, int(keep.sum()), by_reason, by_column)
