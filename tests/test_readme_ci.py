"""CI must prove the README: its test command is exactly the one .ci/run executes."""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_ci_runs_the_readme_test_command():
    ci_lines = [l for l in (ROOT / ".ci" / "run").read_text().splitlines() if "pytest" in l]
    assert len(ci_lines) == 1
    assert ci_lines[0].strip() in (ROOT / "README.md").read_text()


def test_readme_installs_cpu_torch_first():
    readme = (ROOT / "README.md").read_text()
    for line in readme.splitlines():
        if "pip install" in line and "-e" in line:
            assert line.index("torch==2.13.0") < line.index("-e")
