"""Hostile and odd inputs (issue "Hostile and odd inputs"): every failure is one
readable KanstudioError, nothing allocates what a file merely claims, and no
number is silently wrong."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from kanstudio.cli import main
from kanstudio.data import DataError, load_csv, read_table_bytes
from kanstudio.errors import KanstudioError


# ------------------------------------------------------------------ the family
def test_every_user_error_type_is_a_kanstudio_error():
    from kanstudio.cli import CliError, FitDiverged
    from kanstudio.model.functions import UnknownFunctionError
    from kanstudio.errors import ModelFileError, ResourceLimitError
    from kanstudio.project.commands import CommandError
    from kanstudio.project.kanproj import ProjectError
    for cls in (DataError, CliError, FitDiverged, UnknownFunctionError, ModelFileError, ResourceLimitError,
                CommandError, ProjectError):
        assert issubclass(cls, KanstudioError), cls


# ------------------------------------------------------------------ networks
def test_a_network_too_big_for_memory_is_refused_before_allocating():
    from kanstudio.model.network import KAN
    from kanstudio.errors import ResourceLimitError
    with pytest.raises(ResourceLimitError, match="would need"):
        KAN([15_000, 30_001, 1])
    with pytest.raises(ResourceLimitError, match="out of range"):
        KAN([2, 3, 1], grid=10**9)


def test_a_fit_too_big_for_memory_is_refused_with_advice(monkeypatch):
    import torch
    from kanstudio.model.network import KAN
    from kanstudio.training.loop import fit
    from kanstudio.errors import ResourceLimitError
    monkeypatch.setenv("KANSTUDIO_MEMORY_GB", "0.1")
    m = KAN([300, 3, 1])                 # small enough to build, not to train on many rows
    x = torch.zeros(20_000, 300, dtype=torch.float64)
    with pytest.raises(ResourceLimitError, match="fewer input columns"):
        fit(m, x, x[:, :1], steps=1)


# ------------------------------------------------------------------ CSV
def test_line_separators_inside_cells_do_not_split_rows():
    rows = "".join(f"{i},{2 * i},note\u2028with\x0cbreaks\x0b{i}\n" for i in range(60))
    raw = read_table_bytes(("a,b,c\n" + rows).encode("utf-8"), "t.csv")
    assert raw.frame.shape == (60, 3)
    assert raw.frame["c"].iloc[5] == "note\u2028with\x0cbreaks\x0b5"


def test_a_field_over_128_kib_is_read():
    long = "x" * 300_000
    raw = read_table_bytes(f"a,b,c\n1,2,{long}\n3,4,y\n".encode(), "t.csv")
    assert raw.frame["c"].iloc[0] == long


def test_excel_windows_text_keeps_euro_and_dash():
    text = "price €,size – mm,y\n" + "".join(f"{i},{i + 1},{2 * i}\n" for i in range(5))
    raw = read_table_bytes(text.encode("cp1252"), "t.csv")
    assert list(raw.frame.columns) == ["price €", "size – mm", "y"]
    assert raw.encoding == "cp1252"


def test_values_whose_squares_overflow_are_refused(tmp_path):
    p = tmp_path / "big.csv"
    p.write_text("a,y\n" + "".join(f"{i},{1.7e308 if i == 3 else i}\n" for i in range(60)))
    with pytest.raises(DataError, match="rescale"):
        load_csv(p)


# ------------------------------------------------------------------ honest numbers
def _csv(tmp_path, rows, fn=lambda a, b: a + 2 * b):
    rng = np.random.default_rng(0)
    X = rng.uniform(1, 2, size=(rows, 2))
    p = tmp_path / "t.csv"
    p.write_text("a,b,y\n" + "".join(f"{a},{b},{fn(a, b)}\n" for a, b in X))
    return p


def test_fit_on_a_tiny_table_reports_no_test_error(tmp_path, capsys):
    out = tmp_path / "o.json"
    rc = main(["fit", str(_csv(tmp_path, 6)), "--steps", "3", "--json", str(out)])
    assert rc == 0
    text = capsys.readouterr()
    assert "no test RMSE" in text.out and "test RMSE 0" not in text.out
    assert "can pass through every row" in text.err
    assert json.loads(out.read_text())["test_rmse"] is None


def test_a_diverging_fit_exits_non_zero(tmp_path, capsys):
    model = tmp_path / "m.kan"
    rc = main(["fit", str(_csv(tmp_path, 200)), "--optimizer", "adam", "--lr", "1e6", "--steps", "30",
               "--save", str(model)])
    err = capsys.readouterr().err
    last = err.strip().splitlines()[-1]
    assert rc == 3 and last.startswith("kanstudio-cli: error: training diverged"), err
    assert not model.exists()


# ------------------------------------------------------------------ projects
def test_bad_settings_in_a_project_are_replaced_and_named(tmp_path):
    from kanstudio.data import Dataset
    from kanstudio.project import Project, load_project, save_project
    ds = Dataset.from_arrays(np.random.default_rng(0).uniform(size=(80, 2)), np.zeros((80, 1)), ["a", "b"], ["y"])
    path = save_project(Project(dataset=ds), tmp_path / "p.kanproj")
    bad = tmp_path / "bad.kanproj"
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    doc = json.loads(members["project.json"])
    doc["settings"].update(grid=10**9, steps="many", optimizer="sgd", lamb=-1)
    doc["ui"] = {"score_mode": "nonsense", "curves": {"runs": [{"label": 1}]},
                 "training": {"grid": 4, "k": 99}, "selected_edge": [0, 1]}
    members["project.json"] = json.dumps(doc).encode()
    with zipfile.ZipFile(bad, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    project = load_project(bad)
    assert project.settings["grid"] == 5 and project.settings["steps"] == 50
    assert project.settings["optimizer"] == "lbfgs" and project.settings["lamb"] >= 0
    assert project.ui["score_mode"] == "attribution" and "curves" not in project.ui
    assert project.ui["training"] == {"grid": 4}
    notes = " ".join(project.load_notes)
    for word in ("grid=1000000000", "steps='many'", "score_mode", "k=99"):
        assert word in notes, notes


# ------------------------------------------------------------------ units
def test_a_rescaled_formula_reads_in_the_tables_units():
    import sympy
    from kanstudio.discovery.rescale import rescaling
    rng = np.random.default_rng(0)
    X = np.column_stack([rng.uniform(1, 5, 50) * 1e-9, rng.uniform(1, 5, 50)])
    y = 3.0 * X[:, 0] * X[:, 1] * 1e12
    y = y * 1e3                                            # about 3e7
    r = rescaling(X, y)
    assert r.x[0] in (1e-8, 1e-9) and r.x[1] == 1.0 and r.y in (1e7, 1e8) and r.active
    a, b = sympy.symbols("a b", positive=True)
    Xs, ys = r.apply(X, y)
    law = 3.0 * 1e15 * r.x[0] / r.y * a * b                # the law in rescaled units ...
    np.testing.assert_allclose(sympy.lambdify([a, b], law)(Xs[:, 0], Xs[:, 1]), ys, rtol=1e-12)
    expr = r.formula(law, [a, b])
    got = sympy.lambdify([a, b], expr)(X[:, 0], X[:, 1])
    np.testing.assert_allclose(got, y, rtol=1e-12)         # ... reads in the original ones
    assert rescaling(X[:, 1:], X[:, 1]).active is False     # ordinary sizes are left alone


@pytest.mark.parametrize("unit", [1e-9, 1e9])
def test_discovery_in_extreme_units_finds_the_law_within_its_budget(unit):
    import time
    from kanstudio.discovery import DiscoverConfig, discover_arrays
    rng = np.random.default_rng(1)
    X = rng.uniform(1, 3, size=(300, 2)) * unit
    y = X[:, 0] ** 2 / X[:, 1]
    t0 = time.perf_counter()
    res = discover_arrays(X[:240], y[:240], X[240:], y[240:], ["p", "q"], "out",
                          DiscoverConfig(budget_seconds=8.0))
    assert time.perf_counter() - t0 < 1.2 * 8.0 + 2.0
    assert res.formula is not None, res.status_reason
    import sympy
    f = sympy.lambdify(sorted(res.formula.free_symbols, key=str), res.formula)
    np.testing.assert_allclose(f(X[:, 0], X[:, 1]), y, rtol=1e-6)
    assert any("rescaled units" in n for n in res.notes)
    assert res.model is not None                       # an editable network in the table's units


def test_columns_whose_names_clean_alike_stay_apart():
    import sympy
    from kanstudio.symbolic.compiler import compile_formula
    from kanstudio.symbolic.formula import evaluate, input_symbols, renamed_columns, to_python_source
    import torch
    names = ["temp 1", "temp-1"]
    a, b = input_symbols(names)
    assert (a.name, b.name) == ("temp_1", "temp_1_2")
    assert renamed_columns(names) == {"temp 1": "temp_1", "temp-1": "temp_1_2"}
    X = np.array([[1.0, 10.0], [2.0, 20.0]])
    expr = a + 2 * b
    np.testing.assert_allclose(evaluate(expr, names, X), [21.0, 42.0])
    src = to_python_source(expr, names)
    assert "temp_1, temp_1_2" in src
    model = compile_formula(expr, names)
    out = model(torch.tensor(X)).detach().numpy()[:, 0]
    np.testing.assert_allclose(out, [21.0, 42.0], rtol=1e-9)


def test_a_library_entry_with_a_huge_number_is_one_readable_line(tmp_path, capsys):
    p = _csv(tmp_path, 60)
    rc = main(["discover", str(p), "--lib", "x^2," + "9" * 320 + "*x", "--budget-seconds", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and "too large" in err and len(err.strip().splitlines()) == 1, err


def test_discover_refuses_a_table_too_small_to_test_any_constant(tmp_path, capsys):
    rc = main(["discover", str(_csv(tmp_path, 4)), "--budget-seconds", "2"])
    err = capsys.readouterr().err
    assert rc == 2 and "at least 6 rows" in err and len(err.strip().splitlines()) == 1, err


def test_fitted_constants_are_counted_as_the_fit_chose_them():
    import sympy
    from kanstudio.discovery.pipeline import fitted_constants
    x = sympy.Symbol("x")
    assert fitted_constants(sympy.Float(1.5) * x + sympy.Float(0.2)) == 2
    assert fitted_constants(2 * x + sympy.pi) == 0         # snapped: nothing was fitted


def test_ctrl_c_ends_a_fit_with_its_model_saved(tmp_path, capsys):
    import os
    import signal
    import threading
    model = tmp_path / "m.kan"
    def interrupt():          # only while the fit's own handler is installed
        if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            os.kill(os.getpid(), signal.SIGINT)
    timer = threading.Timer(2.0, interrupt)
    timer.start()
    try:                      # Adam takes every step it is given: still running after 2 s
        rc = main(["fit", str(_csv(tmp_path, 400)), "--optimizer", "adam", "--steps", "1000000",
                   "--save", str(model)])
    finally:
        timer.cancel()
    out = capsys.readouterr()
    assert rc == 130, out
    assert "interrupted after" in out.out and model.exists()
    from kanstudio.model import io
    assert io.load(model).input_names == ["a", "b"]


@pytest.mark.gui
def test_the_window_calls_a_tiny_tables_error_a_training_error(qtbot, main_window, tmp_path):
    """A 20-row table is not split: the loss plot draws no test curve, and the
    status line and the formula panel name the error a training error."""
    pytest.importorskip("pytestqt")
    rng = np.random.default_rng(0)
    x = rng.uniform(1, 2, 20)
    path = tmp_path / "tiny.csv"
    path.write_text("x,y\n" + "".join(f"{a:.17g},{a * a + 1:.17g}\n" for a in x), encoding="utf-8")
    win = main_window
    win.open_csv(str(path), accept_defaults=True)
    qtbot.waitUntil(lambda: win.doc.has_data and win.runner.idle(), timeout=30_000)
    loss = win.training_panel.loss
    assert "test RMSE" not in loss.legend.text() and "no held-out rows" in loss.legend.text()
    assert not loss.curve_test.isVisible()
    win.training_panel.steps_spin.setValue(5)
    win.action_fit.trigger()
    qtbot.waitUntil(lambda: win.doc.has_model and win.runner.idle() and not win.runner.busy, timeout=60_000)
    assert "test RMSE" not in loss.status.text() and "train RMSE" in loss.status.text()
    qtbot.waitUntil(lambda: "Network training RMSE (no held-out rows)" in win.formula_panel.rmse_label.text(),
                    timeout=30_000)
