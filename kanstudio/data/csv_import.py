"""Reading the CSV a scientist hands us, the way a person would read it.

UTF-8 (with or without BOM) or Latin-1; ',' ';' tab '|' or whitespace
separators; decimal commas; a missing header row.  What cannot be read
sensibly is refused with one clear sentence (DataError).
"""
from __future__ import annotations

import io
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .dataset import Dataset
from .errors import DataError

_SEPARATORS = [",", ";", "\t", "|"]
_DECIMAL_COMMA = re.compile(r"^\s*[-+]?\d+,\d+(?:[eE][-+]?\d+)?\s*$")
_MAX_BYTES = 2_000_000_000


@dataclass
class RawTable:
    frame: pd.DataFrame          # cells as read (strings), named columns
    path: Optional[str]
    encoding: str
    separator: str
    decimal: str
    notes: list = field(default_factory=list)

    @property
    def columns(self) -> list:
        return list(self.frame.columns)


@dataclass
class ColumnInfo:
    name: str
    numeric: bool
    n_missing: int
    n_nonnumeric: int
    n_inf: int
    min: float
    max: float


@dataclass
class DropReport:
    total_rows: int
    kept_rows: int
    by_reason: dict               # {"missing": n, "non-numeric": n, "infinite": n}
    by_column: dict               # {column: {reason: n}}

    @property
    def dropped(self) -> int:
        return self.total_rows - self.kept_rows

    def summary(self) -> str:
        if self.dropped == 0:
            return f"all {self.total_rows} rows kept"
        parts = [f"{n} {reason}" for reason, n in self.by_reason.items() if n]
        return f"{self.dropped} of {self.total_rows} rows dropped ({', '.join(parts)})"


# ------------------------------------------------------------------ reading
def read_table(path) -> RawTable:
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    if p.is_dir():
        raise DataError(f"{p} is a folder, not a CSV file")
    if p.stat().st_size > _MAX_BYTES:
        raise DataError(f"{p.name} is larger than 2 GB; kanstudio reads tables up to that size")
    data = p.read_bytes()
    return read_table_bytes(data, name=p.name, path=str(p))


def read_table_bytes(data: bytes, name: str = "data", path: Optional[str] = None) -> RawTable:
    notes = []
    if not data.strip():
        raise DataError(f"{name} is empty")
    if b"\x00" in data[:8192]:
        raise DataError(f"{name} is not a text CSV file (it contains binary data)")
    try:
        text, encoding = data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        text, encoding = data.decode("latin-1"), "latin-1"
        notes.append("read as Latin-1 (the file is not valid UTF-8)")
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise DataError(f"{name} is empty")
    sep = _sniff_separator(lines[:50])
    body = "\n".join(lines)
    decimal = "."
    if sep in (";", "\t", r"\s+", "|"):
        sample = [c for ln in lines[1:50] for c in re.split(sep if sep != "|" else r"\|", ln)]
        if sample and sum(bool(_DECIMAL_COMMA.match(c)) for c in sample) >= 0.3 * len(sample):
            decimal = ","
            notes.append("decimal commas read as decimal points")
    try:
        frame = pd.read_csv(io.StringIO(body), sep=sep, header=None, dtype=str, keep_default_na=False,
                            skipinitialspace=True, engine="python")
    except (pd.errors.ParserError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "unreadable"
        raise DataError(f"{name} could not be read as a table: {first}") from None
    frame = frame.map(lambda c: c.strip() if isinstance(c, str) else c)
    if frame.shape[1] < 2:
        raise DataError(f"{name} has only one column; kanstudio needs at least one input and one target "
                        f"column (separators tried: comma, semicolon, tab, '|', spaces)")
    first_row = list(frame.iloc[0])
    if all(_to_float(c, decimal) is not None for c in first_row):
        names = [f"x{i + 1}" for i in range(frame.shape[1])]
        notes.append("no header row found: columns named " + ", ".join(names))
    else:
        names = [str(c) for c in first_row]
        frame = frame.iloc[1:].reset_index(drop=True)
        for i, n in enumerate(names):
            if not n:
                names[i] = f"column{i + 1}"
                notes.append(f"column {i + 1} has no name: called it '{names[i]}'")
        dupes = [n for n, c in Counter(names).items() if c > 1]
        if dupes:
            raise DataError(f"{name} has duplicate column names: {', '.join(repr(d) for d in dupes)}; "
                            f"rename them so every column is unique")
    frame.columns = names
    if frame.shape[0] == 0:
        raise DataError(f"{name} has a header but no data rows")
    if sep == r"\s+":
        notes.append("columns separated by spaces")
    return RawTable(frame, path, encoding, "whitespace" if sep == r"\s+" else sep, decimal, notes)


def _sniff_separator(lines: Sequence[str]) -> str:
    best, best_score = None, 0.0
    for sep in _SEPARATORS:
        counts = [ln.count(sep) for ln in lines]
        if counts[0] == 0:
            continue
        mode = Counter(counts).most_common(1)[0][0]
        consistency = sum(c == mode for c in counts) / len(counts)
        score = consistency + (0.01 * mode if consistency > 0.8 else 0)
        if mode > 0 and score > best_score:
            best, best_score = sep, score
    if best is not None and best_score >= 0.8:
        return best
    if all(len(ln.split()) > 1 for ln in lines):
        return r"\s+"
    return best or ","


def _to_float(cell, decimal: str = ".") -> Optional[float]:
    if not isinstance(cell, str):
        return None
    s = cell.strip()
    if decimal == ",":
        s = s.replace(",", ".")
    try:
        return float(s)
    except ValueError:
        return None


# -------------------------------------------------------------- analysing
def _numeric(raw: RawTable, col: str):
    """(values, missing mask, non-numeric mask) of one column."""
    cells = raw.frame[col].astype(str)
    if raw.decimal == ",":
        cells = cells.str.replace(",", ".", regex=False)
    missing = cells.str.strip().str.lower().isin(["", "nan", "na", "n/a", "null", "none", "-"])
    values = pd.to_numeric(cells, errors="coerce").to_numpy(dtype=np.float64)
    nonnumeric = np.isnan(values) & ~missing.to_numpy()
    return values, missing.to_numpy() | (np.isnan(values) & ~nonnumeric), nonnumeric


def analyze_columns(raw: RawTable) -> list:
    out = []
    for col in raw.columns:
        values, missing, nonnum = _numeric(raw, col)
        present = (~missing).sum()
        numeric = present > 0 and (present - nonnum.sum()) >= 0.9 * present
        finite = values[np.isfinite(values)]
        out.append(ColumnInfo(col, bool(numeric), int(missing.sum()), int(nonnum.sum()),
                              int(np.isinf(values).sum()), float(finite.min()) if finite.size else float("nan"),
                              float(finite.max()) if finite.size else float("nan")))
    return out


def guess_target(columns: Sequence[ColumnInfo]) -> str:
    numeric = [c.name for c in columns if c.numeric]
    if not numeric:
        raise DataError("the table has no numeric column")
    return numeric[-1]


# --------------------------------------------------------------- building
def build_dataset(raw: RawTable, inputs: Optional[Sequence[str]] = None, targets: Optional[Sequence[str]] = None,
                  test_fraction: float = 0.2, seed: int = 0, normalization: str = "standard") -> Dataset:
    info = {c.name: c for c in analyze_columns(raw)}
    if isinstance(targets, str):
        targets = [targets]
    targets = list(targets) if targets else [guess_target(info.values())]
    notes = list(raw.notes)
    for name in list(targets) + list(inputs or []):
        if name not in info:
            raise DataError(f"column '{name}' not found; columns are: {', '.join(raw.columns)}")
    if inputs is None:
        inputs = [n for n, c in info.items() if c.numeric and n not in targets]
        for n, c in info.items():
            if not c.numeric and n not in targets:
                notes.append(f"ignored non-numeric column '{n}'")
    inputs = list(inputs)
    if not inputs:
        raise DataError("no input columns: choose at least one numeric input besides the target")
    overlap = set(inputs) & set(targets)
    if overlap:
        raise DataError(f"column '{sorted(overlap)[0]}' cannot be both an input and a target")
    chosen = inputs + targets
    for n in chosen:
        if not info[n].numeric:
            bad = raw.frame[n][_numeric(raw, n)[2]]
            example = f" (e.g. {bad.iloc[0]!r})" if len(bad) else ""
            raise DataError(f"column '{n}' is not numeric{example}; choose numeric columns or mark it 'ignore'")
    n_rows = raw.frame.shape[0]
    keep = np.ones(n_rows, dtype=bool)
    by_reason = {"missing": 0, "non-numeric": 0, "infinite": 0}
    by_column, arrays = {}, {}
    reason_of_row = np.full(n_rows, "", dtype=object)
    for n in chosen:
        values, missing, nonnum = _numeric(raw, n)
        inf = np.isinf(values)
        by_column[n] = {"missing": int(missing.sum()), "non-numeric": int(nonnum.sum()), "infinite": int(inf.sum())}
        for mask, reason in ((missing, "missing"), (nonnum, "non-numeric"), (inf, "infinite")):
            new = mask & (reason_of_row == "")
            reason_of_row[new] = reason
        keep &= ~(missing | nonnum | inf)
        arrays[n] = values
    for reason in by_reason:
        by_reason[reason] = int((reason_of_row == reason).sum())
    report = DropReport(n_rows, int(keep.sum()), by_reason, by_column)
    if keep.sum() == 0:
        raise DataError(f"no rows left after dropping rows with missing or non-numeric values ({report.summary()})")
    if report.dropped:
        notes.append(report.summary())
    X = np.column_stack([arrays[n][keep] for n in inputs])
    Y = np.column_stack([arrays[n][keep] for n in targets])
    ds = Dataset.from_arrays(X, Y, inputs, targets, test_fraction, seed, normalization, raw.path)
    ds.drop_report, ds.notes = report, notes
    return ds


def load_csv(path, target=None, inputs=None, test_fraction: float = 0.2, seed: int = 0,
             normalization: str = "standard") -> Dataset:
    raw = read_table(path)
    targets = [target] if isinstance(target, str) else target
    return build_dataset(raw, inputs, targets, test_fraction, seed, normalization)
