"""Reading the CSV a scientist hands us, the way a person would read it.

UTF-8 (with or without BOM), UTF-16 or Latin-1; ',' ';' tab '|' or
whitespace separators; decimal commas; a missing header row; comment lines
starting with '#'.  The layout is guessed from the first lines (csv_sniff),
then pandas' C parser reads the whole table (fast on large files).  What
cannot be read sensibly is refused with one clear sentence (DataError).
"""
from __future__ import annotations

import io
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
import pandas as pd

from .cleaning import DropReport, column_values, drop_bad_rows  # noqa: F401  (DropReport re-exported)
from .csv_sniff import MISSING_TOKENS, decode_text, sniff_layout, split_line, split_lines
from .dataset import Dataset
from .errors import DataError
from .units import split_header_unit

_MAX_BYTES = 2_000_000_000
_PANDAS_SEP = {"whitespace": r"\s+"}
_UNNAMED = re.compile(r"^Unnamed: \d+$")      # pandas' name for a column without a header
# pandas matches missing-value tokens exactly, so list the usual spellings.
_NA_VALUES = sorted(MISSING_TOKENS | {t.upper() for t in MISSING_TOKENS} | {t.title() for t in MISSING_TOKENS})


@dataclass
class RawTable:
    """The table as read: named columns, numbers where a column is all numbers, else strings."""
    frame: pd.DataFrame
    path: Optional[str]
    encoding: str
    separator: str                     # ",", ";", "\t", "|" or "whitespace"
    decimal: str                       # "." or ","
    notes: list = field(default_factory=list)
    units: dict = field(default_factory=dict)   # column -> unit text, from headers like 'v [m/s]'
    _cache: dict = field(default_factory=dict, repr=False, compare=False)   # column -> parsed values

    @property
    def columns(self) -> list:
        return list(self.frame.columns)

    @property
    def name(self) -> str:
        return Path(self.path).name if self.path else "the table"

    def values(self, column: str):
        """(float64 values, missing mask, non-numeric mask) of one column, parsed once."""
        if column not in self._cache:
            self._cache[column] = column_values(self.frame[column], self.decimal)
        return self._cache[column]


@dataclass
class ColumnInfo:
    name: str
    numeric: bool          # >= 90 % of the non-empty cells are numbers, or all but one (inf is a number)
    n_missing: int
    n_nonnumeric: int
    n_inf: int
    min: float             # over the finite values; nan when there are none
    max: float
    example: str = ""      # a non-numeric cell, for messages


# ------------------------------------------------------------------ reading
def read_table(path) -> RawTable:
    p = Path(path)
    if not p.exists():
        raise DataError(f"file not found: {p}")
    if p.is_dir():
        raise DataError(f"{p} is a folder, not a CSV file")
    try:
        if p.stat().st_size > _MAX_BYTES:
            raise DataError(f"{p.name} is larger than 2 GB; kanstudio reads tables up to that size")
        data = p.read_bytes()
    except OSError as exc:
        raise DataError(f"{p.name} cannot be read: {exc.strerror or exc}") from None
    return read_table_bytes(data, name=p.name, path=str(p))


def read_table_bytes(data: bytes, name: str = "data", path: Optional[str] = None) -> RawTable:
    text, encoding, notes = decode_text(data, name)
    lines = split_lines(text)
    layout = sniff_layout(lines, name)
    notes += layout.notes
    n_cols = len(layout.names if layout.names is not None else split_line(lines[layout.data_start], layout.separator))
    if n_cols < 2:
        raise DataError(f"{name} has only one column; kanstudio needs at least one input and one target column "
                        f"(separators tried: comma, semicolon, tab, '|', spaces)")
    names, units = _column_names(layout.names, n_cols, name)
    body = lines[layout.data_start:]
    if any(ln.lstrip().startswith("#") for ln in body):
        body = [ln for ln in body if not ln.lstrip().startswith("#")]
        notes.append("skipped comment lines starting with '#'")
    if not any(ln.strip() for ln in body):
        raise DataError(f"{name} has a header but no data rows")
    try:
        frame = _parse(body, layout, names)
    except (pd.errors.ParserError, pd.errors.ParserWarning) as exc:
        widest = _widest_row(lines, layout, n_cols, name, exc)     # raises for a row with extra values
        extra = [f"\x00extra{k}" for k in range(widest - n_cols)]    # only empty cells past the last column
        frame = _parse(body, layout, names + extra).drop(columns=extra)
        notes.append("ignored empty cells after the last column (trailing separators)")
    except (ValueError, MemoryError) as exc:
        first = (str(exc).strip().splitlines() or ["unreadable"])[0]
        raise DataError(f"{name} could not be read as a table: {first}") from None
    frame = _strip_text(frame)                     # text cells: strip, as the numbers were
    frame = _drop_unnamed(frame, layout.names, notes)
    if frame.shape[1] < 2:
        raise DataError(f"{name} has only one column with values; kanstudio needs at least one input and one target")
    units = {c: u for c, u in units.items() if c in frame.columns}
    return RawTable(frame, path, encoding, layout.separator, layout.decimal, notes, units)


def table_from_frame(frame: pd.DataFrame, name: str = "the DataFrame") -> RawTable:
    """A DataFrame made in a program, read as a table from a file would be: headers
    like 'v [m/s]' give the column v and its unit, text cells are stripped."""
    if not isinstance(frame, pd.DataFrame):
        raise DataError(f"{name} is not a pandas DataFrame")
    if frame.shape[1] < 2:
        raise DataError(f"{name} has {frame.shape[1]} column(s); kanstudio needs at least one input and one target")
    names, units = _column_names([str(c) for c in frame.columns], frame.shape[1], name)
    frame = _strip_text(frame.reset_index(drop=True).set_axis(names, axis=1))
    return RawTable(frame, None, "", ",", ".", [], units)


def _strip_text(frame: pd.DataFrame) -> pd.DataFrame:
    for col in frame.columns:
        if not pd.api.types.is_numeric_dtype(frame[col]) and not pd.api.types.is_bool_dtype(frame[col]):
            frame[col] = frame[col].astype(object).map(lambda c: c.strip() if isinstance(c, str) else c)
    return frame


def _column_names(header, n_cols, name) -> tuple[list, dict]:
    """Column names, and the units their headers carry ('v [m/s]' -> 'v', 'm/s')."""
    if header is None:
        return [f"x{j + 1}" for j in range(n_cols)], {}
    names = [h.strip() or f"column{j + 1}" for j, h in enumerate(header)]
    dupes = [n for n, c in Counter(names).items() if c > 1]
    if dupes:
        raise DataError(f"{name} has duplicate column names: {', '.join(repr(d) for d in dupes)}; "
                        f"rename them so every column is unique")
    split = [split_header_unit(n) for n in names]
    short = Counter(s for s, _ in split)
    out, units = [], {}
    for full, (s, unit) in zip(names, split):
        if unit is not None and short[s] == 1 and s not in names:   # never two columns of one name
            out.append(s)
            units[s] = unit
        else:
            out.append(full)
    return out, units


def _drop_unnamed(frame, header, notes):
    """Unnamed columns with no values (trailing separators) and a leading unnamed row-number
    column (what DataFrame.to_csv writes) are dropped; other unnamed columns are named columnN."""
    if header is None:
        return frame
    unnamed = [c for j, c in enumerate(frame.columns) if not header[j].strip() or _UNNAMED.match(header[j].strip())]
    drop = [c for c in unnamed if frame[c].isna().all()]
    if drop:
        notes.append(f"dropped {len(drop)} empty unnamed column(s) (trailing separators)")
    for j, col in enumerate(frame.columns):     # leading unnamed columns 0, 1, 2, ... (a saved DataFrame index)
        v = frame[col].to_numpy()
        if col not in unnamed or col in drop or not pd.api.types.is_integer_dtype(frame[col]) or len(v) < 2 or \
                not (np.array_equal(v, np.arange(len(v))) or np.array_equal(v, np.arange(1, len(v) + 1))):
            break
        drop.append(col)
        notes.append(f"dropped unnamed column {j + 1}: it only numbers the rows")
    notes += [f"a column has no name: called it '{c}'" for c in unnamed if c not in drop]
    return frame.drop(columns=drop)


def _parse(body, layout, names) -> pd.DataFrame:
    # pandas only warns (and drops values) when the first row is longer than the header: make that an error.
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        return pd.read_csv(io.StringIO("\n".join(body)), sep=_PANDAS_SEP.get(layout.separator, layout.separator),
                           header=None, names=names, index_col=False,
                           decimal="." if layout.separator == "," else layout.decimal,  # quoted "1,5": see values()
                           na_values=_NA_VALUES, keep_default_na=False, skipinitialspace=True,
                           low_memory=False, skip_blank_lines=True)


def _widest_row(lines, layout, n_cols, name, exc) -> int:
    """The most cells on a line; a line with values past the last column is refused by its line number."""
    detail = (str(exc).strip().splitlines() or ["unreadable"])[0].replace("Error tokenizing data. C error: ", "")
    if "EOF inside string" in detail:
        raise DataError(f"{name} could not be read as a table: a quote (\") is opened but never closed")
    widest = n_cols
    for i in range(layout.data_start, len(lines)):
        ln = lines[i]
        if not ln.strip() or ln.lstrip().startswith("#"):
            continue
        cells = split_line(ln, layout.separator)
        if len(cells) > n_cols and any(c.strip() for c in cells[n_cols:]):
            raise DataError(f"{name}, line {i + 1}: {len(cells)} values but the header has {n_cols} columns; "
                            f"fix that line or remove it")
        widest = max(widest, len(cells))
    if widest == n_cols:
        raise DataError(f"{name} could not be read as a table ({detail})")
    return widest


# -------------------------------------------------------------- analysing
def analyze_columns(raw: RawTable) -> list:
    out = []
    for col in raw.columns:
        values, missing, nonnum = raw.values(col)
        present, n_bad = int((~missing).sum()), int(nonnum.sum())
        # >= 90 % numbers; a small column may also hold one stray cell (a typo among 5 values).
        numeric = present - n_bad > n_bad and n_bad <= max(0.1 * present, 1)
        finite = values[np.isfinite(values)]
        bad = raw.frame[col][nonnum]
        out.append(ColumnInfo(col, bool(numeric), int(missing.sum()), int(nonnum.sum()), int(np.isinf(values).sum()),
                              float(finite.min()) if finite.size else float("nan"),
                              float(finite.max()) if finite.size else float("nan"),
                              str(bad.iloc[0]) if len(bad) else ""))
    return out


def label_columns(raw: RawTable, names: Sequence[str], counters: bool = True) -> dict:
    """{column: why} for the numeric columns among ``names`` that label rows rather
    than measure something, so they start out of the inputs:

    * a row counter (1, 2, 3, ... or 0, 1, 2, ...);
    * a group label: whole numbers, each value one contiguous block of rows, and
      another column laying out the same values again in every block (a table in
      "long" layout: the measurements of subject 1, then of subject 2, ...).

    A whole-number factor of a designed experiment laid out the same way looks
    alike; the reason says so, and naming the column as an input keeps it.
    ``counters=False`` leaves row counters out of the answer (a column 0, 1, 2, ...
    may be a time step: only the import dialog, where one sees it, sets it aside)."""
    out = {}
    cols = {n: raw.values(n) for n in names}
    for name, (v, missing, bad) in cols.items():
        if len(v) < 3 or missing.any() or bad.any() or not np.isfinite(v).all():
            continue
        if np.array_equal(v, np.arange(len(v))) or np.array_equal(v, np.arange(1, len(v) + 1)):
            if counters:
                out[name] = "it only numbers the rows"
            continue
        if not np.array_equal(v, np.round(v)):
            continue
        cut = np.flatnonzero(np.diff(v) != 0) + 1
        starts, ends = np.r_[0, cut], np.r_[cut, len(v)]
        groups = len(starts)
        if groups < 3 or groups != len(np.unique(v)) or len(v) < 2 * groups:
            continue                    # not one block per value, or blocks of one row
        for other, (w, miss_w, _bad_w) in cols.items():
            if other == name or miss_w.any():
                continue
            sets = [set(np.round(w[a:b], 9).tolist()) for a, b in zip(starts, ends)]
            common = set.intersection(*sets)
            if len(common) >= 2 and all(len(common) >= 0.5 * len(x) for x in sets):
                out[name] = (f"its whole numbers label {groups} groups of rows and '{other}' takes "
                             f"the same values in each group")
                break
    return out


def guess_target(columns: Sequence[ColumnInfo]) -> str:
    """The last numeric column: tables usually put the measured quantity last."""
    numeric = [c.name for c in columns if c.numeric]
    if not numeric:
        raise DataError("the table has no numeric column")
    return numeric[-1]


# --------------------------------------------------------------- building
def build_dataset(raw: RawTable, inputs: Optional[Sequence[str]] = None, targets: Optional[Sequence[str]] = None,
                  test_fraction: float = 0.2, seed: int = 0, normalization: str = "standard") -> Dataset:
    """Pick columns, drop unusable rows (counted in a DropReport), split and normalise."""
    info = {c.name: c for c in analyze_columns(raw)}
    targets = [targets] if isinstance(targets, str) else (list(targets) if targets else [guess_target(info.values())])
    inputs = [inputs] if isinstance(inputs, str) else inputs
    _check_known(raw, targets + list(inputs or []))
    labels = {}
    if inputs is None:
        inputs = [n for n, c in info.items() if c.numeric and n not in targets]
        labels = label_columns(raw, inputs, counters=False)
        if len(labels) == len(inputs):
            labels = {}             # nothing else to use: a label is better than no input
        inputs = [n for n in inputs if n not in labels]
    inputs = list(inputs)
    for n, count in Counter(inputs + targets).items():
        if count > 1:
            both = n in inputs and n in targets
            raise DataError(f"column '{n}' cannot be both an input and a target" if both else
                            f"column '{n}' is chosen twice")
    if not inputs:
        others = [f"'{n}' (e.g. {c.example!r})" for n, c in info.items() if not c.numeric and c.example]
        why = f"; not numeric: {', '.join(others[:5])}" if others else ""
        raise DataError(f"no input columns: kanstudio needs at least one numeric input besides the target "
                        f"'{targets[0]}'{why}")
    chosen = inputs + targets
    for n in chosen:
        c = info[n]
        if c.n_missing == raw.frame.shape[0]:
            raise DataError(f"column '{n}' has no values")
        if not c.numeric:
            raise DataError(f"column '{n}' is not numeric (e.g. {c.example!r}); choose numeric columns for inputs "
                            f"and targets")
    notes = list(raw.notes)
    notes += [f"ignored non-numeric column '{n}'" for n, c in info.items() if not c.numeric and n not in chosen]
    notes += [f"ignored column '{n}': {why} (name it as an input to use it)" for n, why in labels.items()]
    keep, report = drop_bad_rows({n: raw.values(n) for n in chosen}, raw.frame.shape[0])
    if report.kept_rows == 0:
        raise DataError(f"no rows left after dropping rows with missing or non-numeric values ({report.summary()})")
    if report.dropped:
        notes.append(report.summary())
    X = np.column_stack([raw.values(n)[0][keep] for n in inputs])
    Y = np.column_stack([raw.values(n)[0][keep] for n in targets])
    ds = Dataset.from_arrays(X, Y, inputs, targets, test_fraction, seed, normalization, raw.path)
    ds.drop_report, ds.notes = report, notes
    ds.units = {n: raw.units[n] for n in chosen if n in raw.units}
    return ds


def _check_known(raw: RawTable, names: Sequence[str]):
    cols = raw.columns
    for n in names:
        if n not in cols:
            listed = ", ".join(cols[:30]) + (f", … ({len(cols)} in all)" if len(cols) > 30 else "")
            where = f"{raw.name}: " if raw.path else ""
            raise DataError(f"{where}column '{n}' not found; columns are: {listed}")


def load_csv(path, target=None, inputs=None, test_fraction: float = 0.2, seed: int = 0,
             normalization: str = "standard") -> Dataset:
    """Read a CSV, guess the target when none is given (last numeric column), build the Dataset."""
    raw = read_table(path)
    return build_dataset(raw, inputs, target, test_fraction, seed, normalization)

