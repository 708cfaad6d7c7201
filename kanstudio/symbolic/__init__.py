"""From networks to formulas and back: ``edges`` (suggest, fix, unfix and
auto-symbolic on a network's edges), ``fitting`` (c*f(a*x+b)+d fitted to many
edges at once), ``formula`` (a network's formula in the data's own variables and
units; LaTeX and Python exports), ``evaluate`` (sympy on arrays without eval),
``polish`` (refitting and snapping a formula's constants), ``bounded`` (sympy
with a deadline) and ``compiler`` (kanpiler: a formula as an exact network)."""

from ..lazy import lazy_exports

# the package's public names, imported from their modules on first use
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "edges": ('auto_symbolic', 'suggest', 'fix', 'unfix', 'numeric_edges'),
    "formula": ('model_formula', 'to_latex', 'to_python_source'),
    "compiler": ('compile_formula', 'compile_for_dataset'),
})
