"""One owner of the KAN loop's defaults: the panel, projects, the CLI and
discovery all start from engine.defaults."""
from __future__ import annotations

import pytest

from kanstudio.engine import defaults


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
    assert Retrain().options["lamb"] == defaults.RETRAIN_LAMB == 0.0  # the loop's last fit has no penalty


def test_a_project_retrains_without_the_penalty_it_was_fitted_with():
    from kanstudio.project.commands_model import fit_config
    settings = dict(defaults.FIT_SETTINGS)
    assert fit_config(settings).lamb == defaults.LAMB
    assert fit_config(settings, lamb=defaults.RETRAIN_LAMB).lamb == 0.0


@pytest.mark.gui
def test_the_training_panel_starts_from_the_same_defaults(qtbot, gui_env):
    from kanstudio.gui.training_panel import TrainingPanel
    panel = TrainingPanel()
    qtbot.addWidget(panel)
    s = panel.settings()
    for key in ("grid", "k", "steps", "lamb", "optimizer", "update_grid"):
        assert s[key] == defaults.FIT_SETTINGS[key], key
