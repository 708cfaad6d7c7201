"""The standalone-build spec points at files that exist and at the app's real
entry point (a renamed module would only show up when someone builds)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_spec_and_entry_script_are_consistent():
    spec = (ROOT / "packaging" / "kanstudio.spec").read_text(encoding="utf-8")
    ast.parse(spec)                                     # valid Python
    for folder in ("resources", "sample_datasets"):
        assert f'"{folder}"' in spec and (ROOT / folder).is_dir()
    entry = ROOT / "packaging" / "kanstudio_main.py"
    assert "kanstudio_main.py" in spec and entry.is_file()
    tree = ast.parse(entry.read_text(encoding="utf-8"))
    imports = [n for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert any(n.module == "kanstudio.gui.app" and any(a.name == "main" for a in n.names) for n in imports)
    from kanstudio.gui import app                      # the function the bundle calls exists
    assert callable(app.main)
    for mod in ast.literal_eval(spec.split("hidden = ", 1)[1].split("\n# ", 1)[0].strip()):
        if mod.startswith("kanstudio."):
            path = ROOT / mod.replace(".", "/")
            assert path.with_suffix(".py").is_file() or (path / "__init__.py").is_file(), mod
