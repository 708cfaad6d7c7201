"""From networks to formulas and back: ``edges`` (suggest, fix, unfix and
auto-symbolic on a network's edges), ``fitting`` (c*f(a*x+b)+d fitted to many
edges at once), ``formula`` (a network's formula in the data's own variables and
units; LaTeX and Python exports), ``evaluate`` (sympy on arrays without eval),
``polish`` (refitting and snapping a formula's constants), ``bounded`` (sympy
with a deadline) and ``compiler`` (kanpiler: a formula as an exact network)."""
