"""How far a formula can be trusted: the candidates and their Pareto front
(``pareto``), the choice and the status -- exact / approximate / no law found
(``status``), and what a formula must pass to be a candidate at all
(``checks``: readable, defined between the rows, not aliased)."""
from .checks import aliased, probe_points, readable
from .pareto import FormulaCandidate, pareto_front, pick
from .status import (APPROXIMATE, EXACT, HEADLINE_SIZE, NO_LAW, Verdict, choose, far_below, floor_agrees,
                     judge, noise_structure, residual_structure, unstructured)

__all__ = ["FormulaCandidate", "pareto_front", "pick", "EXACT", "APPROXIMATE", "NO_LAW", "Verdict", "judge",
           "choose", "far_below", "floor_agrees", "unstructured", "residual_structure", "noise_structure",
           "HEADLINE_SIZE", "readable", "probe_points", "aliased"]
