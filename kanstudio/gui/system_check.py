"""Before the first window: can Qt open one here?  On a fresh Linux, Qt's xcb
platform plugin aborts the process ("could not load the Qt platform plugin
xcb") when a system library it links is missing (libxcb-cursor0 first of
all), and a bare ``kanstudio`` without a display aborts too.  Checked before
the QApplication exists, so the user gets one line naming what to install
instead of Qt's abort."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

__all__ = ["missing_libraries", "startup_problem", "DEBIAN_PACKAGES"]

# the libraries Qt's xcb plugin links that a minimal Debian/Ubuntu lacks, and their packages
DEBIAN_PACKAGES = {
    "libxcb-cursor.so.0": "libxcb-cursor0", "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-keysyms.so.1": "libxcb-keysyms1", "libxcb-image.so.0": "libxcb-image0",
    "libxcb-render-util.so.0": "libxcb-render-util0", "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-randr.so.0": "libxcb-randr0", "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0", "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-shm.so.0": "libxcb-shm0", "libxcb-util.so.1": "libxcb-util1",
    "libxcb-render.so.0": "libxcb-render0", "libxcb.so.1": "libxcb1", "libX11-xcb.so.1": "libx11-xcb1",
    "libX11.so.6": "libx11-6", "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0", "libEGL.so.1": "libegl1", "libGL.so.1": "libgl1",
    "libGLX.so.0": "libglx0", "libOpenGL.so.0": "libopengl0", "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6", "libdbus-1.so.3": "libdbus-1-3", "libglib-2.0.so.0": "libglib2.0-0",
}
_NOT_FOUND = re.compile(r"^\s*(\S+)\s*=>\s*not found", re.M)


def _xcb_plugin() -> Optional[Path]:
    try:
        import PySide6         # the package only: no Qt library is loaded by this
    except ImportError:
        return None
    base = Path(PySide6.__file__).parent / "Qt"
    plugin = base / "plugins" / "platforms" / "libqxcb.so"
    return plugin if plugin.is_file() else None


def missing_libraries() -> list[str]:
    """Shared libraries the xcb plugin (and Qt's xcb support library) link but the
    system lacks, as the dynamic loader reports them (``ldd``); [] where that
    cannot be told (not Linux, no ldd)."""
    if not sys.platform.startswith("linux"):
        return []
    plugin = _xcb_plugin()
    if plugin is None:
        return []
    missing: list[str] = []
    for lib in (plugin, plugin.parents[2] / "lib" / "libQt6XcbQpa.so.6"):
        if not lib.is_file():
            continue
        try:
            out = subprocess.run(["ldd", str(lib)], capture_output=True, text=True, timeout=10).stdout
        except (OSError, subprocess.SubprocessError):
            return []
        for name in _NOT_FOUND.findall(out):
            if name not in missing:
                missing.append(name)
    return missing


def _platform(args: Sequence[str], env: Mapping[str, str]) -> str:
    for k, a in enumerate(args):
        if a in ("-platform", "--platform") and k + 1 < len(args):
            return args[k + 1]
        if a.startswith("-platform="):
            return a.split("=", 1)[1]
    return env.get("QT_QPA_PLATFORM", "")


def startup_problem(args: Sequence[str] = (), env: Optional[Mapping[str, str]] = None,
                    missing: Optional[Callable[[], list]] = None) -> Optional[str]:
    """One line saying why Qt would abort here, or None.  ``missing`` lists the
    libraries the xcb plugin lacks (default ``missing_libraries``)."""
    env = os.environ if env is None else env
    if not sys.platform.startswith("linux"):
        return None
    platform = _platform(args, env).split(":")[0].strip()
    if platform and platform != "xcb":
        return None              # offscreen, wayland, vnc ...: not the xcb plugin
    if not platform and env.get("WAYLAND_DISPLAY") and not env.get("DISPLAY"):
        return None              # Qt takes the Wayland plugin
    if not env.get("DISPLAY"):
        return ("no display to open the window on: DISPLAY is not set (run it in a desktop session, "
                "or under Xvfb; QT_QPA_PLATFORM=offscreen runs without a window)")
    libs = (missing or missing_libraries)()
    if not libs:
        return None
    packages = sorted({DEBIAN_PACKAGES.get(lib, lib) for lib in libs})
    return (f"Qt cannot open a window here: its xcb platform plugin needs {', '.join(libs)}, which "
            f"this system lacks; on Debian/Ubuntu: sudo apt-get install {' '.join(packages)}")
