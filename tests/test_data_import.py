import json
import math
import random

import numpy as np
import pytest
import torch

from kanstudio.data import (DataError, Dataset, analyze_columns, build_dataset, guess_target, load_csv, read_table,
                            read_table_bytes)


def write(tmp_path, name, content, encoding="utf-8"):
    p = tmp_path / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding=encoding)
    return p


def test_comma_file_with_target_guess(tmp_path):
    p = write(tmp_path, "a.csv", "x,y,label,z\n" + "".join(f"{i},{i * 2},n{i},{i * 3}\n" for i in range(60)))
    ds = load_csv(p)
    assert ds.target_names == ["z"] and ds.input_names == ["x", "y"]
    assert any("ignored non-numeric column 'label'" in n for n in ds.notes)
    assert ds.X.shape == (60, 2)


def test_semicolon_with_decimal_comma(tmp_path):
    p = write(tmp_path, "b.csv", "a;b\n1,5;2,25\n2,5;6,25\n3,0;9,0\n")
    raw = read_table(p)
    assert raw.separator == ";" and raw.decimal == ","
    ds = build_dataset(raw)
    np.testing.assert_allclose(ds.X[:, 0], [1.5, 2.5, 3.0])
    np.testing.assert_allclose(ds.Y[:, 0], [2.25, 6.25, 9.0])


def test_tab_and_whitespace(tmp_path):
    ds = load_csv(write(tmp_path, "t.tsv", "p\tq\n1\t2\n3\t4\n"))
    assert ds.input_names == ["p"]
    ds = load_csv(write(tmp_path, "w.txt", "p  q\n1   2\n3 4\n"))
    assert ds.Y[:, 0].tolist() == [2.0, 4.0]


def test_latin1_and_bom(tmp_path):
    p = write(tmp_path, "l.csv", "temp °C,µ\n1,2\n3,4\n", encoding="latin-1")
    raw = read_table(p)
    # read as Windows-1252, which agrees with Latin-1 on every printable character
    assert raw.columns == ["temp °C", "µ"] and raw.encoding == "cp1252"
    p = write(tmp_path, "bom.csv", "\ufeffx,y\n1,2\n", encoding="utf-8")
    assert read_table(p).columns == ["x", "y"]


def test_headerless_file_gets_names(tmp_path):
    raw = read_table(write(tmp_path, "n.csv", "1,2,3\n4,5,6\n"))
    assert raw.columns == ["x1", "x2", "x3"] and len(raw.frame) == 2


@pytest.mark.parametrize("content,message", [
    ("", "empty"),
    ("x,y\n", "no data rows"),
    ("x\n1\n2\n", "only one column"),
    ("x,x,y\n1,2,3\n", "duplicate column names: 'x'"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "not a text CSV"),
])
def test_unreadable_files_are_refused(tmp_path, content, message):
    p = write(tmp_path, "bad.csv", content)
    with pytest.raises(DataError, match=message):
        load_csv(p)


def test_missing_file_and_column(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        load_csv(tmp_path / "nope.csv")
    p = write(tmp_path, "c.csv", "x,y\n1,2\n")
    with pytest.raises(DataError, match="column 'q' not found; columns are: x, y"):
        load_csv(p, target="q")


def test_bad_rows_dropped_and_counted(tmp_path):
    rows = ["x,y"] + [f"{i},{i}" for i in range(10)] + ["nan,1", ",2", "abc,3", "inf,4", "5,-inf"]
    ds = load_csv(write(tmp_path, "d.csv", "\n".join(rows) + "\n"))
    rep = ds.drop_report
    assert rep.kept_rows == 10 and rep.dropped == 5
    assert rep.by_reason == {"missing": 2, "non-numeric": 1, "infinite": 2}
    assert "5 of 15 rows dropped" in rep.summary()


def test_non_numeric_target_refused(tmp_path):
    p = write(tmp_path, "e.csv", "x,name\n1,a\n2,b\n")
    with pytest.raises(DataError, match="no numeric|not numeric"):
        load_csv(p, target="name")


def test_guess_target_last_numeric(tmp_path):
    raw = read_table(write(tmp_path, "g.csv", "a,b,c\n1,2,x\n3,4,y\n"))
    assert guess_target(analyze_columns(raw)) == "b"


def test_split_and_normalisation(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(3, 2, size=(200, 2))
    rows = ["a,b,y"] + [f"{x[0]},{x[1]},{x[0] * x[1]}" for x in X]
    p = write(tmp_path, "s.csv", "\n".join(rows))
    ds1, ds2 = load_csv(p, seed=4), load_csv(p, seed=4)
    assert np.array_equal(ds1.train_idx, ds2.train_idx)
    assert not set(ds1.train_idx) & set(ds1.test_idx)
    assert len(ds1.test_idx) == 40
    xtr, _ = ds1.tensors("train")
    assert np.allclose(xtr.numpy().mean(0), 0, atol=1e-12)  # scaled on the training rows
    np.testing.assert_allclose(ds1.denormalize_x(ds1.normalize_x(ds1.X)), ds1.X)
    small = load_csv(write(tmp_path, "small.csv", "\n".join(rows[:21])))
    assert small.small_table and np.array_equal(small.train_idx, small.test_idx)


# ------------------------------------------------------------- more formats
def test_headerless_semicolon_decimal_comma(tmp_path):
    raw = read_table(write(tmp_path, "h.csv", "1,5;2,25\n2,5;6,25\n3,0;9,0\n"))
    assert (raw.separator, raw.decimal, raw.columns) == (";", ",", ["x1", "x2"])
    assert any("no header row" in n for n in raw.notes)
    np.testing.assert_allclose(build_dataset(raw).Y[:, 0], [2.25, 6.25, 9.0])


def test_semicolon_header_with_commas_in_names(tmp_path):
    raw = read_table(write(tmp_path, "de.csv", "Masse, kg;Zeit, s\n1,5;2,25\n2,5;6,25\n"))
    assert raw.columns == ["Masse, kg", "Zeit, s"] and raw.decimal == ","


def test_latin1_accented_header_noted(tmp_path):
    raw = read_table(write(tmp_path, "fr.csv", "durée;vitesse µ\n1;2\n3;4\n", encoding="latin-1"))
    assert raw.columns == ["durée", "vitesse µ"]
    assert any("Windows-1252" in n for n in raw.notes)


def test_utf16_and_quoted_fields(tmp_path):
    raw = read_table(write(tmp_path, "u.txt", "x\ty\n1\t2\n3\t4\n", encoding="utf-16"))
    assert raw.columns == ["x", "y"] and raw.encoding == "utf-16"
    ds = load_csv(write(tmp_path, "q.csv", '"a","b, c","y"\n"1.5","2","3"\n4,5,6\n'))
    assert ds.input_names == ["a", "b, c"] and ds.X[0].tolist() == [1.5, 2.0]


def test_comments_savetxt_header_and_trailing_separators(tmp_path):
    raw = read_table(write(tmp_path, "np.txt", "# x y f\n1.0 2.0 3.0\n4.0 5.0 6.0\n"))
    assert raw.columns == ["x", "y", "f"] and raw.separator == "whitespace"
    raw = read_table(write(tmp_path, "tr.csv", "x,y,\n1,2,\n# comment\n3,4,\n"))
    assert raw.columns == ["x", "y"] and len(raw.frame) == 2
    assert any("trailing separators" in n for n in raw.notes)


def test_short_rows_count_as_missing_long_rows_refused_with_line(tmp_path):
    ds = load_csv(write(tmp_path, "s.csv", "x,y,z\n1,2,3\n4,5\n6,7,8\n"))
    assert ds.drop_report.by_column["z"]["missing"] == 1 and ds.n_rows == 2
    with pytest.raises(DataError, match=r"line 4: 3 values but the header has 2 columns"):
        read_table(write(tmp_path, "l.csv", "x,y\n1,2\n\n3,4,5\n"))


@pytest.mark.parametrize("content,message", [
    ("   \n\n", "empty"),
    ("# only\n# comments\n", "empty"),
    (b"PK\x03\x04\x14\x00\x06\x00", "not a text CSV file"),
    (bytes(range(128, 256)) * 40, "not a text CSV file"),
])
def test_more_unreadable_files(tmp_path, content, message):
    with pytest.raises(DataError, match=message):
        read_table(write(tmp_path, "bad.csv", content))


def test_folder_is_refused(tmp_path):
    with pytest.raises(DataError, match="folder"):
        read_table(tmp_path)


# ------------------------------------------------------------ column roles
def test_name_column_ignored_with_note(tmp_path):
    rows = ["name,a,b"] + [f"s{i},{i},{2 * i}" for i in range(5)]
    ds = load_csv(write(tmp_path, "n.csv", "\n".join(rows)))
    assert ds.input_names == ["a"] and "ignored non-numeric column 'name'" in ds.notes
    info = {c.name: c for c in analyze_columns(read_table(tmp_path / "n.csv"))}
    assert not info["name"].numeric and info["a"].numeric and (info["b"].min, info["b"].max) == (0, 8)


def test_choosing_bad_columns_refused(tmp_path):
    p = write(tmp_path, "r.csv", "name,a,b\nx,1,2\ny,3,4\n")
    with pytest.raises(DataError, match="column 'name' is not numeric"):
        load_csv(p, target="b", inputs=["name", "a"])
    with pytest.raises(DataError, match="both an input and a target"):
        load_csv(p, target="b", inputs=["a", "b"])
    with pytest.raises(DataError, match="chosen twice"):
        load_csv(p, target="b", inputs=["a", "a"])
    with pytest.raises(DataError, match="r.csv: column 'c' not found; columns are: name, a, b"):
        load_csv(p, target="c")


def test_drop_report_per_column_and_all_rows_bad(tmp_path):
    rows = ["x,y"] + [f"{i},{i}" for i in range(10)] + ["NA,1", "2,?", "abc,inf"]
    rep = load_csv(write(tmp_path, "d.csv", "\n".join(rows))).drop_report
    assert rep.by_reason == {"missing": 2, "non-numeric": 1, "infinite": 0}
    assert rep.by_column == {"x": {"missing": 1, "non-numeric": 1, "infinite": 0},
                             "y": {"missing": 1, "non-numeric": 0, "infinite": 1}}
    assert rep.details() == ["x: 1 missing, 1 non-numeric", "y: 1 missing, 1 infinite"]
    with pytest.raises(DataError, match="no rows left"):
        load_csv(write(tmp_path, "e.csv", "x,y\n1,\n,2\n" + "5,NA\n" * 20))


# ----------------------------------------------------- split, normalisation
def _random_dataset(n, normalization="standard", seed=0, test_fraction=0.2):
    rng = np.random.default_rng(1)
    X = rng.normal(5, 3, size=(n, 2))
    return Dataset.from_arrays(X, X[:, 0] * X[:, 1], ["a", "b"], ["y"], test_fraction, seed, normalization)


def test_split_properties_and_no_global_rng():
    state = np.random.get_state()
    ds = _random_dataset(100, seed=3)
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert len(ds.test_idx) == 20 and len(ds.train_idx) == 80
    assert sorted(np.concatenate([ds.train_idx, ds.test_idx]).tolist()) == list(range(100))
    assert ds.held_out and not ds.small_table
    other = _random_dataset(100, seed=4)
    assert not np.array_equal(ds.test_idx, other.test_idx)
    assert np.array_equal(ds.test_idx, _random_dataset(100, seed=3).test_idx)
    small = _random_dataset(49)
    assert small.small_table and not small.held_out and len(small.train_idx) == 49


@pytest.mark.parametrize("kwargs", [{"test_fraction": 0.95}, {"test_fraction": -0.1}, {"test_fraction": float("nan")},
                                    {"seed": -1}, {"seed": 1.5}, {"normalization": "log"}])
def test_bad_split_settings_refused(kwargs):
    with pytest.raises(DataError):
        _random_dataset(100, **kwargs)


@pytest.mark.parametrize("mode", ["standard", "minmax", "none"])
def test_normalisation_fitted_on_training_rows(mode):
    ds = _random_dataset(200, normalization=mode)
    xtr = ds.normalize_x(ds.X[ds.train_idx])
    if mode == "standard":
        np.testing.assert_allclose(xtr.mean(0), 0, atol=1e-12)
        np.testing.assert_allclose(xtr.std(0), 1)
        np.testing.assert_allclose(ds.x_mean, ds.X[ds.train_idx].mean(0))
    elif mode == "minmax":
        np.testing.assert_allclose(xtr.min(0), -1)
        np.testing.assert_allclose(xtr.max(0), 1)
    else:
        np.testing.assert_array_equal(xtr, ds.X[ds.train_idx])
    np.testing.assert_allclose(ds.denormalize_x(ds.normalize_x(ds.X)), ds.X)
    np.testing.assert_allclose(ds.denormalize_y(ds.normalize_y(ds.Y)), ds.Y)
    x, y = ds.tensors("test")
    assert x.dtype == torch.float64 and x.shape == (40, 2) and y.shape == (40, 1)
    np.testing.assert_allclose(y.numpy(), ds.normalize_y(ds.Y[ds.test_idx]))
    assert ds.tensors("all", dtype=torch.float32)[0].dtype == torch.float32


def test_constant_and_tiny_columns():
    X = np.column_stack([np.full(60, 7.0), np.linspace(1, 2, 60) * 1e-19])
    ds = Dataset.from_arrays(X, np.arange(60.0), ["c", "q"], ["y"])
    assert ds.x_scale[0] == 1.0 and np.allclose(ds.normalize_x(X)[:, 0], 0)
    assert ds.normalize_x(X)[:, 1].std() > 0.5          # SI-unit sized data keeps its spread


def test_with_column_and_serialisation():
    ds = _random_dataset(100)
    new = ds.with_column("ab", ds.X[:, 0] * ds.X[:, 1])
    assert new.input_names == ["a", "b", "ab"] and np.array_equal(new.train_idx, ds.train_idx)
    assert ds.input_names == ["a", "b"] and ds.X.shape == (100, 2)
    np.testing.assert_allclose(new.x_mean[2], (ds.X[ds.train_idx, 0] * ds.X[ds.train_idx, 1]).mean())
    for name, values in [("a", np.ones(100)), ("z", np.ones(99)), ("z", np.full(100, np.inf))]:
        with pytest.raises(DataError):
            ds.with_column(name, values)
    d = json.loads(json.dumps(new.to_dict()))
    assert "X" not in d and d["input_names"] == ["a", "b", "ab"]
    back = Dataset.from_dict(d, new.X, new.Y)
    assert np.array_equal(back.test_idx, new.test_idx)
    np.testing.assert_allclose(back.x_scale, new.x_scale)
    frame = new.to_frame()
    assert list(frame.columns) == ["a", "b", "ab", "y"] and frame.shape == (100, 4)
    with pytest.raises(DataError):
        Dataset.from_dict({"input_names": "a"}, new.X, new.Y)


@pytest.mark.parametrize("content,columns,first", [
    ("sep=;\na;b\n1;2\n3;4\n", ["a", "b"], [1.0, 2.0]),                 # Excel's separator line
    ("a|b\n1|2\n3|4\n", ["a", "b"], [1.0, 2.0]),
    (",a,y\n0,0.5,1\n1,0.7,2\n2,0.9,3\n", ["a", "y"], [0.5, 1.0]),       # DataFrame.to_csv() index column
    ("x,y\n1,2,\n3,4,\n", ["x", "y"], [1.0, 2.0]),                       # trailing separators on data rows only
    ("a,b\r\n1,2\r\n3,4\r\n", ["a", "b"], [1.0, 2.0]),
])
def test_other_layouts(tmp_path, content, columns, first):
    raw = read_table(write(tmp_path, "o.csv", content))
    assert raw.columns == columns
    ds = build_dataset(raw)
    assert [ds.X[0, 0], ds.Y[0, 0]] == first


def test_one_stray_cell_keeps_a_small_column_numeric(tmp_path):
    raw = read_table(write(tmp_path, "t.csv", "a,b,y\n1,2,3\n2,,4\n3,4x,5\n4,5,6\n5,6,7\n"))
    info = {c.name: c for c in analyze_columns(raw)}
    assert info["b"].numeric and info["b"].n_nonnumeric == 1 and info["b"].example == "4x"
    rep = build_dataset(raw).drop_report
    assert rep.by_reason == {"missing": 1, "non-numeric": 1, "infinite": 0}
    raw = read_table(write(tmp_path, "u.csv", "a,b\n1,p\n2,q\n3,4\n"))
    assert not {c.name: c for c in analyze_columns(raw)}["b"].numeric


def test_unclosed_quote_refused(tmp_path):
    with pytest.raises(DataError, match="quote"):
        read_table(write(tmp_path, "q.csv", 'a,b\n1,"2\n3,4\n'))


def test_random_bytes_never_raise_anything_but_data_error():
    rnd = random.Random(1)
    alphabet = list('0123456789.,;\t| \n"#-eE') + ["inf", "nan", "NA", "abc", "µ", "\r\n"]
    for i in range(300):
        if i % 3 == 0:
            data = bytes(rnd.randrange(256) for _ in range(rnd.randrange(0, 120)))
        else:
            data = "".join(rnd.choice(alphabet) for _ in range(rnd.randrange(0, 200))).encode()
        try:
            ds = build_dataset(read_table_bytes(data, "f.csv"))
        except DataError:
            continue
        assert np.isfinite(ds.normalize_x(ds.X)).all() and np.isfinite(ds.normalize_y(ds.Y)).all()


def _long_table(path, label_values, times=(1.0, 2.0, 4.0, 8.0)):
    """A table in long layout: every group measured at the same times."""
    lines = ["subject,dose,t,c"]
    for k, g in enumerate(label_values):
        for t in times:
            lines.append(f"{g},{1.5 + 0.37 * k},{t},{(1.5 + 0.37 * k) * math.exp(-0.3 * t):.6f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_a_group_label_column_is_left_out_with_a_note(tmp_path):
    from kanstudio.data import label_columns, load_csv, read_table
    p = _long_table(tmp_path / "long.csv", [301, 303, 307, 311, 315])
    raw = read_table(p)
    labels = label_columns(raw, ["subject", "dose", "t"])
    # whole numbers in blocks, t repeating in each block: a label; dose is a measured
    # per-group quantity (not whole numbers) and stays
    assert list(labels) == ["subject"] and "'t'" in labels["subject"]
    ds = load_csv(p, target="c")
    assert ds.input_names == ["dose", "t"]
    assert any("ignored column 'subject'" in n for n in ds.notes)
    # naming it keeps it
    assert load_csv(p, target="c", inputs=["subject", "dose", "t"]).input_names == ["subject", "dose", "t"]


def test_whole_numbers_that_are_not_laid_out_in_groups_stay_inputs(tmp_path):
    from kanstudio.data import load_csv
    rng = np.random.default_rng(0)
    n = rng.integers(1, 6, 40)            # a count, rows in random order
    x = rng.uniform(0, 1, 40)
    p = tmp_path / "counts.csv"
    p.write_text("n,x,y\n" + "".join(f"{a},{b:.6f},{a * b:.6f}\n" for a, b in zip(n, x)), encoding="utf-8")
    assert load_csv(p, target="y").input_names == ["n", "x"]
    # blocks of whole numbers whose other column does not repeat: still an input
    p2 = _long_table(tmp_path / "l2.csv", [1, 2, 3])
    lines = p2.read_text().splitlines()
    lines = [lines[0]] + [ln.replace(",1.0,", f",{1.0 + i * 0.11:.2f},").replace(",2.0,", f",{2.0 + i * 0.13:.2f},")
                          .replace(",4.0,", f",{4.0 + i * 0.07:.2f},").replace(",8.0,", f",{8.0 + i * 0.05:.2f},")
                          for i, ln in enumerate(lines[1:])]
    p2.write_text("\n".join(lines) + "\n")
    assert "subject" in load_csv(p2, target="c").input_names
