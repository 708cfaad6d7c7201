"""From networks to formulas and back: ``edges`` (suggest, fix, unfix and
auto-symbolic on a network's edges), ``fitting`` (c*f(a*x+b)+d fitted to many
edges at once), ``formula`` (a network's formula in the data's own variables and
units; LaTeX and Python exports), ``interpreter`` (sympy on arrays without eval),
``constants`` (refitting and snapping a formula's constants), ``jacobian`` (a
formula's values and derivatives in its constants, for the refit), ``bounded`` (sympy
with a deadline) and ``compiler`` (kanpiler: a formula as an exact network)."""

from ..lazy import lazy_exports

# the package's public names, imported from their modules on first use
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "edges": ('auto_symbolic', 'suggest', 'fix', 'unfix', 'numeric_edges', 'edge_values'),
    "formula": ('model_formula', 'to_latex', 'to_python_source', 'FormulaIncomplete', 'complexity', 'evaluate',
                'finish', 'formula_rmse', 'input_symbols', 'latex_symbol', 'network_expressions', 'renamed_columns',
                'round_constants', 'safe_name', 'symbol_index', 'symbol_names'),
    "interpreter": ('evaluate_numpy', 'evaluate_torch', 'UnsupportedExpression'),
    "jacobian": ('FormulaJacobian',),
    "fitting": ('fit_functions',),
    "constants": ('parametrize', 'refit_constants', 'polish', 'snap_verified'),
    "compiler": ('compile_formula', 'compile_for_dataset'),
})
