"""A reduced run of the fuzz suite (benchmarks/fuzz.py has the full one): seeded
malformed CSVs and damaged .kan / .kanproj files are read as a user would; each
must be read correctly or refused with one KanstudioError line -- never another
exception, never silently wrong numbers."""
from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path

import pytest

_spec = importlib.util.spec_from_file_location("kanstudio_fuzz", Path(__file__).parents[1] / "benchmarks" / "fuzz.py")
fuzz = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(fuzz)

CASES = {"csv": 160, "kan": 80, "kanproj": 60}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_fuzzed_inputs_are_read_right_or_refused_in_one_line(kind, tmp_path):
    counts, bad = Counter(), []
    for seed in range(CASES[kind]):
        data, expected = fuzz.make_case(kind, 1000 + seed)
        outcome, detail = fuzz.run_case(kind, data, expected, tmp_path)
        counts[outcome] += 1
        if outcome not in ("accepted", "refused"):
            bad.append((seed, outcome, detail))
    assert not bad, (counts, bad[:5])
    assert counts["refused"] > 0 and (kind != "csv" or counts["accepted"] > 0), counts


def test_the_oracle_for_damaged_tables_catches_changed_invented_and_doubled_rows():
    import numpy as np
    rows = np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    oracle = fuzz.RowsFrom(rows)
    assert oracle.problem(rows[[2, 0]]) is None                 # rows lost: honest (the damage may cost rows)
    assert "does not hold" in oracle.problem(np.array([[1.0, 2.0], [3.0, 4.5]]))
    assert "does not hold" in oracle.problem(rows[[0, 0]])     # one row read twice
    assert "non-finite" in oracle.problem(np.array([[1.0, np.nan]]))
    assert "columns" in oracle.problem(rows[:, :1])
