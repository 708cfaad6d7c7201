"""The docks beside the network: training, formula, history, Pareto front,
attribution, the edge inspector and the loss plot."""
from .attribution_panel import AttributionPanel
from .edge_inspector import EdgeInspector
from .formula_panel import FORMULA_PT, FormulaInfo, FormulaPanel, ParetoRow, display_latex, latex_name
from .history_panel import HistoryPanel
from .loss_plot import LossPlot
from .pareto_panel import ParetoPanel
from .training_panel import TrainingPanel

__all__ = ["AttributionPanel", "EdgeInspector", "FormulaPanel", "HistoryPanel", "LossPlot", "ParetoPanel",
           "TrainingPanel", "FORMULA_PT", "FormulaInfo", "ParetoRow", "display_latex",
           "latex_name"]
