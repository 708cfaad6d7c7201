"""KAN 2.0's tools for asking a fitted network questions: ``attribution``
(how much each edge, node and input matters), ``prune``, ``separability`` and
``structure`` (separability and symmetry tests), ``modules`` (modules and
auto-swap), ``hypotheses`` (is this edge, or the whole output, a given
formula?) and ``aux_inputs`` (auxiliary input columns)."""
