"""Shared test set-up.

Qt runs offscreen (set before anything imports Qt).  GUI fixtures keep
QSettings, recovery files and every written file inside pytest's tmp_path,
so tests never touch the user's configuration or the working directory.
Nothing here imports Qt at module level: engine/data/project tests must run
without PySide6 installed.
"""
from __future__ import annotations

import math
import os
from pathlib import Path

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("PYQTGRAPH_QT_LIB", "PySide6")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def write_hello_world_csv(path: Path, n: int = 300, seed: int = 0) -> Path:
    """f = exp(sin(pi*x) + y^2) on [-1, 1]^2 (the KAN papers' hello world)."""
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-1, 1, size=(n, 2))
    f = np.exp(np.sin(math.pi * xy[:, 0]) + xy[:, 1] ** 2)
    lines = ["x,y,f"] + [f"{a:.10g},{b:.10g},{c:.10g}" for a, b, c in zip(xy[:, 0], xy[:, 1], f)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_simple_csv(path: Path, n: int = 200, seed: int = 1) -> Path:
    """y = sin(pi*a) + b (two additive edges; quick to fit and symbolify)."""
    rng = np.random.default_rng(seed)
    ab = rng.uniform(-1, 1, size=(n, 2))
    y = np.sin(math.pi * ab[:, 0]) + ab[:, 1]
    lines = ["a,b,y"] + [f"{p:.10g},{q:.10g},{r:.10g}" for p, q, r in zip(ab[:, 0], ab[:, 1], y)]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def hello_csv(tmp_path) -> Path:
    return write_hello_world_csv(tmp_path / "hello_world.csv")


@pytest.fixture
def simple_csv(tmp_path) -> Path:
    return write_simple_csv(tmp_path / "simple.csv")


@pytest.fixture
def gui_env(tmp_path, monkeypatch):
    """QSettings and recovery files under tmp_path; the cwd is a fresh empty folder."""
    pytest.importorskip("PySide6")
    from PySide6.QtCore import QCoreApplication, QSettings

    settings_dir = tmp_path / "settings"
    settings_dir.mkdir()
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(settings_dir))
    QCoreApplication.setOrganizationName("kanstudio-tests")
    QCoreApplication.setApplicationName("kanstudio-tests")
    monkeypatch.setenv("KANSTUDIO_RECOVERY_DIR", str(tmp_path / "recovery"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    yield tmp_path
    leftovers = sorted(p.name for p in work.iterdir())
    assert not leftovers, f"files written to the working directory: {leftovers}"


@pytest.fixture
def main_window(qtbot, gui_env):
    """A shown MainWindow that records errors instead of opening dialogs."""
    from kanstudio.gui.window.main_window import MainWindow

    win = MainWindow(confirm_close=False)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.shutdown()


@pytest.fixture(scope="session", autouse=True)
def _compiled_kernels():
    """Compile (or load from numba's cache) the training kernels once, before
    any test: on a fresh checkout a first compile inside a GUI test's timed
    wait would read as a hang."""
    from kanstudio.training import fused
    fused.warm_up()
