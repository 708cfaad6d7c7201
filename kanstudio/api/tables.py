"""A program's table (DataFrame or array) as the Dataset the engine takes, read
the way a CSV is (data.csv_import): text and id columns left out with a note,
rows with missing values dropped and counted, units from headers or a mapping."""
from __future__ import annotations

from typing import Mapping, Optional, Sequence

import numpy as np

from ..data import build_dataset, check_units, DataError, table_from_frame

__all__ = ["dataset_from"]


def _frame(data, names: Optional[Sequence[str]]):
    import pandas as pd
    if isinstance(data, pd.DataFrame):
        if names is not None:
            raise DataError("names= is for arrays; a DataFrame's columns already have names")
        return data
    try:
        arr = np.asarray(data)
    except (TypeError, ValueError):
        raise DataError("the data must be a pandas DataFrame or a 2-D array") from None
    if arr.ndim != 2:
        raise DataError(f"the data must be a table (2-D), not an array of shape {arr.shape}")
    n = arr.shape[1]
    names = list(names) if names is not None else [f"x{k + 1}" for k in range(n - 1)] + ["y"]
    if len(names) != n:
        raise DataError(f"{len(names)} names for {n} columns")
    return pd.DataFrame({str(c): arr[:, k] for k, c in enumerate(names)})


def dataset_from(data, target=None, inputs: Optional[Sequence[str]] = None, *, names=None,
                 units: Optional[Mapping[str, str]] = None, test_fraction: float = 0.2, seed: int = 0):
    """The Dataset of ``target`` (a column name; default the last numeric column)
    against ``inputs`` (default: every other numeric column)."""
    raw = table_from_frame(_frame(data, names))
    if target is not None and not isinstance(target, str):
        raise DataError(f"target must be a column name, not {target!r}")
    ds = build_dataset(raw, list(inputs) if inputs is not None else None, target, test_fraction, seed)
    if units:
        ds.units.update(check_units(units, list(ds.input_names) + list(ds.target_names)))
    return ds
