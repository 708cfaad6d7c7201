"""The app names the system package to install instead of letting Qt abort."""
import os
import subprocess
import sys

import pytest

from kanstudio.gui import system_check

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the xcb plugin is Linux's")


@linux
def test_a_missing_xcb_library_is_named_with_its_package():
    line = system_check.startup_problem([], {"DISPLAY": ":0"}, missing=lambda: ["libxcb-cursor.so.0"])
    assert "libxcb-cursor.so.0" in line and "sudo apt-get install libxcb-cursor0" in line
    assert "\n" not in line
    assert system_check.startup_problem([], {"DISPLAY": ":0"}, missing=lambda: []) is None
    # other platforms do not load the xcb plugin
    for args, env in [(["-platform", "offscreen"], {}), ([], {"QT_QPA_PLATFORM": "offscreen"}),
                      ([], {"WAYLAND_DISPLAY": "wayland-0"})]:
        assert system_check.startup_problem(args, env, missing=lambda: ["libxcb-cursor.so.0"]) is None
    assert "DISPLAY is not set" in system_check.startup_problem([], {}, missing=lambda: [])


@linux
def test_the_loader_reports_what_is_missing_here():
    # whatever this machine lacks, the list holds shared-library names only, once each
    libs = system_check.missing_libraries()
    assert len(libs) == len(set(libs)) and all(".so" in lib for lib in libs)


@linux
def test_kanstudio_exits_with_one_line_instead_of_aborting():
    code = ("import sys; from kanstudio.gui import system_check as s; "
            "s.missing_libraries = lambda: ['libxcb-cursor.so.0']; "
            "from kanstudio.gui.app import main; sys.exit(main([]))")
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env["DISPLAY"] = ":93"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 1
    assert out.stderr.strip().splitlines() == [
        "kanstudio: Qt cannot open a window here: its xcb platform plugin needs libxcb-cursor.so.0, which this "
        "system lacks; on Debian/Ubuntu: sudo apt-get install libxcb-cursor0"]
