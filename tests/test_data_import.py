import numpy as np
import pytest

from kanstudio.data import DataError, analyze_columns, build_dataset, guess_target, load_csv, read_table


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
    assert raw.columns == ["temp °C", "µ"] and raw.encoding == "latin-1"
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
