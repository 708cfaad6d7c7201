"""Layering contract: the engine's packages, discovery, data, project and the library API never load Qt (or a Qt
plotting/binding shim), directly or through anything they import.

Every module of the three packages is imported in a fresh interpreter (so
nothing imported by other tests can hide or cause a violation), then the set
of loaded modules is inspected."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kanstudio.kernels", "kanstudio.model", "kanstudio.training", "kanstudio.symbolic", "kanstudio.science",
            "kanstudio.picture", "kanstudio.defaults", "kanstudio.discovery", "kanstudio.data", "kanstudio.project",
            "kanstudio.api")
FORBIDDEN = ("PySide6", "shiboken6", "pyqtgraph", "PyQt5", "PyQt6", "qtpy", "superqt")

_SCRIPT = r"""
import importlib, json, pkgutil, sys
forbidden = tuple(sys.argv[1].split(","))
imported, culprits = [], {}

def load(name):
    before = set(sys.modules)
    module = importlib.import_module(name)
    imported.append(name)
    new = sorted(m for m in set(sys.modules) - before if m.split(".")[0] in forbidden)
    if new:
        culprits[name] = new[:5]
    return module

for pkg_name in sys.argv[2].split(","):
    pkg = load(pkg_name)
    for info in pkgutil.walk_packages(getattr(pkg, "__path__", []), pkg_name + "."):
        load(info.name)
qt = sorted(m for m in sys.modules if m.split(".")[0] in forbidden)
print(json.dumps({"imported": imported, "qt": qt, "culprits": culprits}))
"""


def test_engine_data_project_never_import_qt():
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONSTARTUP",)}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p])
    env.pop("MPLBACKEND", None)   # matplotlib's own backend choice must not bring Qt in either
    proc = subprocess.run([sys.executable, "-c", _SCRIPT, ",".join(FORBIDDEN), ",".join(PACKAGES)],
                          capture_output=True, text=True, cwd=str(ROOT), env=env, timeout=300)
    assert proc.returncode == 0, f"importing the non-GUI packages failed:\n{proc.stderr[-3000:]}"
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"kanstudio.project.document", "kanstudio.project.kanproj", "kanstudio.project.recovery",
            "kanstudio.model.network", "kanstudio.data.dataset"} <= set(report["imported"])
    assert not report["qt"], (f"Qt modules loaded below the GUI layer: {report['qt'][:8]}; "
                              f"first brought in by: {report['culprits']}")
