import json
import subprocess
import sys

import numpy as np
import pytest

from kanstudio.cli import main


@pytest.fixture
def csv_file(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(300, 2))
    y = np.sin(2 * x[:, 0]) + x[:, 1] ** 2
    p = tmp_path / "d.csv"
    p.write_text("a,b,out\n" + "".join(f"{r[0]},{r[1]},{v}\n" for r, v in zip(x, y)))
    return p


def test_fit_writes_json_and_model(csv_file, tmp_path, capsys):
    out, model = tmp_path / "o.json", tmp_path / "m.kan"
    rc = main(["fit", str(csv_file), "--target", "out", "--width", "2,5,1", "--steps", "20",
               "--json", str(out), "--save", str(model)])
    assert rc == 0
    summary = json.loads(out.read_text())
    assert set(summary) >= {"train_rmse", "test_rmse", "fit_seconds", "steps", "n_params", "width"}
    assert summary["test_rmse"] < 0.05 and summary["steps"] == 20
    from kanstudio.model import io
    assert io.load(model).input_names == ["a", "b"]
    assert "test RMSE" in capsys.readouterr().out


@pytest.mark.parametrize("args,needle", [
    (["fit", "missing.csv"], "file not found"),
    (["fit", "{csv}", "--target", "nope"], "column 'nope' not found"),
    (["fit", "{csv}", "--width", "3,5,1"], "--width: the first layer must have 2 node(s)"),
])
def test_bad_input_exits_2_with_one_line(csv_file, capsys, args, needle):
    args = [a.replace("{csv}", str(csv_file)) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_non_numeric_and_empty_tables(tmp_path, capsys):
    p = tmp_path / "n.csv"
    p.write_text("a,b\nx,y\nz,w\n")
    assert main(["fit", str(p)]) == 2
    p.write_text("")
    assert main(["fit", str(p)]) == 2
    assert "empty" in capsys.readouterr().err


def test_console_script_module_runs(csv_file):
    r = subprocess.run([sys.executable, "-m", "kanstudio", "fit", str(csv_file), "--target", "nope"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_a_slow_kernel_build_is_announced_and_kept_out_of_fit_seconds(csv_file, tmp_path, capsys, monkeypatch):
    """The first run after an install compiles the training kernels: the
    CLI says why it waits, and fit_seconds times the training loop alone."""
    import time
    from kanstudio.cli import common as cli_common
    from kanstudio.training import fused
    monkeypatch.setattr(cli_common, "KERNEL_NOTE_AFTER_S", 0.05)
    monkeypatch.setattr(fused, "_KERNELS_OK", dict(fused._KERNELS_OK))     # restored after the test

    def slow_build(dtypes=fused.DTYPES):
        # a build that takes a second, once: later probes find the dtypes settled
        # (as unavailable: the fit then needs no real build either)
        time.sleep(1.0)
        fused._KERNELS_OK.update((d, False) for d in dtypes)
        return True
    monkeypatch.setattr(fused, "warm_up", slow_build)
    out = tmp_path / "o.json"
    assert main(["fit", str(csv_file), "--target", "out", "--width", "2,3,1", "--steps", "2", "--json", str(out)]) == 0
    assert "compiling the training kernels" in capsys.readouterr().err
    assert json.loads(out.read_text())["fit_seconds"] < 1.0
