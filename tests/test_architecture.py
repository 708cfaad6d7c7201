"""The layering in docs/architecture.md, enforced: import-linter's contracts
in pyproject.toml (layers, Qt only in the app, the command line never importing
the app, a torch-free data layer, no import cycles inside a package, each
package imported by the others only through its __init__ -- imports inside
functions count too)."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept(capsys, monkeypatch):
    cli = pytest.importorskip("importlinter.cli")
    monkeypatch.chdir(ROOT)
    code = cli.lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    out = capsys.readouterr().out
    assert code == 0, out[-4000:]
    assert "0 broken" in out and out.count("KEPT") >= 5, out[-2000:]


def _lint_a_copy(tmp_path, capsys, monkeypatch, module: str, code: str):
    """lint-imports' exit code and output on a copy of the package with ``code``
    appended to ``module`` (a path under kanstudio/)."""
    cli = pytest.importorskip("importlinter.cli")
    import shutil
    copy = tmp_path / "kanstudio"
    shutil.copytree(ROOT / "kanstudio", copy, ignore=shutil.ignore_patterns("__pycache__"))
    with open(copy / module, "a", encoding="utf-8") as f:
        f.write(code)
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [m for m in list(sys.modules) if m == "kanstudio" or m.startswith("kanstudio.")]:
        monkeypatch.delitem(sys.modules, name)
    code = cli.lint_imports(config_filename=str(tmp_path / "pyproject.toml"), no_cache=True, no_logo=True)
    return code, capsys.readouterr().out


def test_the_contracts_would_catch_a_layer_broken_from_inside_a_function(tmp_path, capsys, monkeypatch):
    """The check is real: a copy of the package in which the data layer imports
    the project (inside a function) breaks the layers contract."""
    code, out = _lint_a_copy(tmp_path, capsys, monkeypatch, "data/dataset.py",
                             "\n\ndef _layer_breaker():\n    from ..project import Project\n    return Project\n")
    assert code != 0 and "kanstudio.data.dataset -> kanstudio.project" in out, out[-3000:]


def test_the_contracts_would_catch_a_package_imported_past_its_entry(tmp_path, capsys, monkeypatch):
    """Other packages import a package through its __init__: a copy in which the
    command line imports the model's network module directly breaks its contract."""
    code, out = _lint_a_copy(tmp_path, capsys, monkeypatch, "cli/fit.py",
                             "\n\ndef _entry_bypass():\n    from ..model.network import KAN\n    return KAN\n")
    assert code != 0 and "kanstudio.cli.fit -> kanstudio.model.network" in out, out[-3000:]


def test_no_public_name_of_a_package_is_also_one_of_its_modules():
    """Importing a submodule sets it as an attribute of its package, so a function
    exported under its module's name (``symbolic.polish`` once was both) would turn
    into the module as soon as anything imported that module."""
    import importlib
    clashes = []
    for init in sorted((ROOT / "kanstudio").rglob("__init__.py")):
        package = ".".join(init.parent.relative_to(ROOT).parts)
        names = getattr(importlib.import_module(package), "__all__", [])
        modules = {p.stem for p in init.parent.glob("*.py")} | {p.name for p in init.parent.iterdir()
                                                                if (p / "__init__.py").exists()}
        clashes += [f"{package}.{n}" for n in names if n in modules]
    assert not clashes, clashes


def test_each_engine_package_has_one_public_entry_that_loads_lazily():
    """``from kanstudio.model import KAN`` and the like work, and a package imports
    its modules only when a name of theirs is asked for: the training settings
    stay torch-free (the app reads them before torch is loaded)."""
    import subprocess
    code = ("import sys, kanstudio.training, kanstudio.training.config, kanstudio.model, kanstudio.symbolic, "
            "kanstudio.science; assert 'torch' not in sys.modules, 'torch loaded by a package entry'; "
            "import kanstudio.model as m, kanstudio.training as t, kanstudio.symbolic as s, kanstudio.science as c; "
            "[getattr(p, n) for p in (m, t, s, c) for n in p.__all__]; "
            "print(m.KAN.__module__, t.fit.__module__, s.auto_symbolic.__module__, c.auto_prune.__module__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["kanstudio.model.network", "kanstudio.training.loop", "kanstudio.symbolic.edges",
                                  "kanstudio.science.prune"]


def test_every_package_is_a_folder_of_at_most_20_modules_with_a_public_init():
    """A reader finds a package's concepts at a glance: a folder past 20 modules is
    split by concept into sub-packages (discovery/search, gui/panels, ...)."""
    import kanstudio
    root = Path(kanstudio.__file__).resolve().parent
    for folder in [root] + [p for p in root.rglob("*") if p.is_dir() and p.name != "__pycache__"]:
        modules = sorted(p.name for p in folder.glob("*.py"))
        if not modules:
            continue
        where = folder.relative_to(root.parent)
        assert "__init__.py" in modules, f"{where} holds modules but no __init__.py"
        assert len(modules) <= 20, f"{where} holds {len(modules)} modules: {', '.join(modules)}"
