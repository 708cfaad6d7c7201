"""Structure of a learned function (KAN 2.0), in three modules re-exported here:

* ``separability``: normalised Hessian, additive / multiplicative separability,
  generalised symmetry;
* ``modules``: module specs and masks, auto-swap;
* ``formula_hypothesis``: fix a function on an edge (or compare a whole
  formula) and compare losses with the unconstrained model.

Callers (the project commands, the CLI, the app) import from here.
"""
from __future__ import annotations

from .formula_hypothesis import HypothesisResult, test_formula_hypothesis, test_output_hypothesis
from .modules import ModuleSpec, auto_swap, define_module, module_edges, parse_module_spec
from .separability import (SeparabilityResult, SymmetryResult, find_symmetries, formula_function,
                           hessian_matrix, test_separability, test_symmetry)

__all__ = ["formula_function", "hessian_matrix", "SeparabilityResult", "test_separability",
           "SymmetryResult", "test_symmetry", "find_symmetries", "ModuleSpec", "parse_module_spec",
           "define_module", "auto_swap", "HypothesisResult", "test_formula_hypothesis",
           "test_output_hypothesis", "module_edges"]

for _f in (test_separability, test_symmetry, test_formula_hypothesis, test_output_hypothesis):
    _f.__test__ = False
