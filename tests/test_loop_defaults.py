"""One owner of the KAN loop's defaults: the panel, projects, the CLI and
discovery all start from engine.defaults."""
from __future__ import annotations

import pytest

from kanstudio import defaults


def test_project_cli_and_discovery_start_from_the_same_defaults():
    from kanstudio.cli import build_parser
    from kanstudio.discovery import DiscoverConfig
    from kanstudio.project import FIT_DEFAULTS, Retrain
    from kanstudio.project.commands_edges import AutoPrune, AutoSymbolic
    assert FIT_DEFAULTS["lamb"] == defaults.LAMB == 1e-2          # the KAN paper's fit(lamb=0.01)
    args = build_parser().parse_args(["fit", "data.csv"])
    assert (args.lamb, args.grid, args.k, args.steps) == (defaults.LAMB, defaults.GRID, defaults.K, defaults.STEPS)
    cfg = DiscoverConfig()
    assert (cfg.lamb, cfg.edge_th, cfg.node_th, cfg.weight_simple) == (
        defaults.LAMB, defaults.DISCOVERY_EDGE_TH, defaults.NODE_TH, defaults.WEIGHT_SIMPLE)
    prune = AutoPrune()
    assert (prune.node_th, prune.edge_th) == (defaults.NODE_TH, defaults.EDGE_TH)
    assert AutoSymbolic().weight_simple == defaults.WEIGHT_SIMPLE
    assert AutoSymbolic().refit_steps == defaults.SYMBOLIC_REFIT_STEPS > 0
    assert Retrain().options["lamb"] == defaults.RETRAIN_LAMB == 0.0  # the loop's last fit has no penalty


def test_a_project_retrains_without_the_penalty_it_was_fitted_with():
    from kanstudio.project.commands_model import fit_config
    settings = dict(defaults.FIT_SETTINGS)
    assert fit_config(settings).lamb == defaults.LAMB
    assert fit_config(settings, lamb=defaults.RETRAIN_LAMB).lamb == 0.0


def test_auto_symbolic_reads_edges_refitted_without_the_penalty_and_replays_as_recorded():
    """After a fit with the penalty and a prune, x*y/(x+y)'s edges read as 1/x
    only once refitted (shrunken, they read as 1/x^2); the refit is recorded,
    and a project from before the refit replays without one."""
    import numpy as np
    from kanstudio.data import Dataset
    from kanstudio.project import FitModel, Project
    from kanstudio.project.commands import command_from_json
    from kanstudio.project.commands_edges import AutoPrune, AutoSymbolic
    rng = np.random.default_rng(0)
    X = rng.uniform(0.5, 2.0, size=(600, 2))
    p = Project(dataset=Dataset.from_arrays(X, (X[:, 0] * X[:, 1] / X.sum(1))[:, None], ["x", "y"], ["out"]))
    p.do(FitModel())
    p.do(AutoPrune())
    cmd = AutoSymbolic()
    p.do(cmd)
    assert cmd.refit["steps"] == defaults.SYMBOLIC_REFIT_STEPS and cmd.refit["reason"] == "completed"
    assert [f["name"] for f in cmd.fixed] == ["1/x"] * 3, cmd.fixed
    again = command_from_json(cmd.to_json())
    assert again.refit_steps == defaults.SYMBOLIC_REFIT_STEPS and again.refit == cmd.refit
    old = cmd.to_json()
    del old["refit_steps"]
    assert command_from_json(old).refit_steps == 0


@pytest.mark.gui
def test_the_training_panel_starts_from_the_same_defaults(qtbot, gui_env):
    from kanstudio.gui.panels.training_panel import TrainingPanel
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    s = panel.settings()
    for key in ("grid", "k", "steps", "lamb", "optimizer", "update_grid"):
        assert s[key] == defaults.FIT_SETTINGS[key], key
