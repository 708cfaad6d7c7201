"""kanstudio-cli export: every format, evaluated against the model on fresh points."""
import csv

import numpy as np
import pytest
import sympy
import torch

from kanstudio.cli import main
from kanstudio.data.expressions import parse_expression

RNG = np.random.default_rng(11)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A CSV, a symbolic model of it (compile --save) and a project with it and a Pareto list."""
    tmp = tmp_path_factory.mktemp("export")
    x = RNG.uniform(0.5, 2.0, (200, 2))
    y = 3.0 * np.sin(x[:, 0]) * x[:, 1] + 1.0
    data = tmp / "d.csv"
    data.write_text("speed [m/s],mass,out\n" + "".join(f"{a},{b},{c}\n" for (a, b), c in zip(x, y)))
    model = tmp / "m.kan"
    assert main(["compile", "3*sin(speed)*mass + 1", "--data", str(data), "--target", "out",
                 "--save", str(model)]) == 0
    from kanstudio.data import load_csv
    from kanstudio.model import io
    from kanstudio.project import Project, SetModel, save_project
    from kanstudio.discovery.judgement.pareto import FormulaCandidate
    ds = load_csv(data, target="out")
    project = Project(dataset=ds)
    project.do(SetModel("compiled", io.load(model)))
    s, m = sympy.symbols("speed mass", positive=True)
    project.set_pareto([FormulaCandidate(3 * s, 3, 0.9, stage="test"),
                        FormulaCandidate(3 * sympy.sin(s) * m + 1, 9, 1e-12, stage="test")])
    proj = tmp / "p.kanproj"
    save_project(project, proj)
    return {"model": model, "project": proj, "tmp": tmp}


def _model_values(path, X):
    from kanstudio.model import io
    net, scaling = io.read(path)
    ds = scaling.empty_dataset()
    with torch.no_grad():
        return ds.denormalize_y(net(torch.as_tensor(ds.normalize_x(X))).numpy())[:, 0]


@pytest.mark.parametrize("source", ["model", "project"])
@pytest.mark.parametrize("fmt", ["sympy", "python", "numpy", "torch", "latex"])
def test_every_format_computes_the_model(files, source, fmt, tmp_path, capsys):
    out = tmp_path / f"f.{fmt}"
    assert main(["export", str(files[source]), "--format", fmt, "-o", str(out), "--digits", "8"]) == 0
    text = out.read_text()
    X = RNG.uniform(0.5, 2.0, (40, 2))                 # fresh points, not the CSV's rows
    want = _model_values(files["model"], X)
    if fmt == "latex":
        assert "\\sin" in text and "speed" in text and "mass" in text
        return
    if fmt == "sympy":
        got = parse_expression(text, allowed_names=["speed", "mass"])
        f = sympy.lambdify(sorted(got.free_symbols, key=lambda s: ["speed", "mass"].index(s.name)), got)
        vals = f(X[:, 0], X[:, 1])
    else:
        ns = {}
        exec(text, ns)                                  # the source we generated
        if fmt == "python":
            vals = np.array([ns["formula"](a, b) for a, b in X])
        elif fmt == "torch":
            vals = ns["formula"](torch.as_tensor(X[:, 0]), torch.as_tensor(X[:, 1])).numpy()
        else:
            vals = ns["formula"](X[:, 0], X[:, 1])
    assert np.allclose(vals, want, rtol=1e-6), (fmt, text)


def test_pareto_csv_and_stdout(files, capsys):
    assert main(["export", str(files["project"]), "--format", "pareto-csv"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [int(r["size"]) for r in rows] == [3, 9]
    assert float(rows[1]["error"]) < 1e-9 and "sin" in rows[1]["formula"]


@pytest.mark.parametrize("args,needle", [
    (["export", "nope.kan", "--format", "latex"], "no such file"),
    (["export", "{model}", "--format", "pareto-csv"], "no Pareto list"),
    (["export", "{bad}", "--format", "latex"], "not a readable kanstudio model"),
])
def test_export_errors_are_one_line(files, args, needle, capsys):
    bad = files["tmp"] / "bad.kan"
    bad.write_bytes(b"not a model at all")
    args = [a.replace("{model}", str(files["model"])).replace("{bad}", str(bad)) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1


def test_a_numeric_model_says_which_edges_are_not_symbolic(tmp_path, capsys):
    x = RNG.uniform(-1, 1, (100, 1))
    data = tmp_path / "d.csv"
    data.write_text("a,y\n" + "".join(f"{v},{v * v}\n" for v in x[:, 0]))
    model = tmp_path / "m.kan"
    assert main(["fit", str(data), "--steps", "3", "--save", str(model)]) == 0
    capsys.readouterr()
    assert main(["export", str(model), "--format", "numpy"]) == 2
    assert "not symbolic" in capsys.readouterr().err
