"""KAN 2.0's tools for asking a fitted network questions: ``attribution``
(how much each edge, node and input matters), ``prune``, ``separability`` and
``structure`` (separability and symmetry tests), ``modules`` (modules and
auto-swap), ``hypotheses`` (is this edge, or the whole output, a given
formula?) and ``aux_inputs`` (auxiliary input columns)."""

from ..lazy import lazy_exports

# the package's public names, imported from their modules on first use
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "attribution": ('attribution_scores', 'input_scores'),
    "prune": ('auto_prune', 'prune_edges_below', 'prune_nodes', 'prune_node', 'prune_input', 'one_hidden_node'),
    "aux_inputs": ('add_auxiliary_input', 'aux_values', 'substitute_aux'),
    "separability": ('test_separability', 'find_symmetries'),
    "structure": ('structure_report',),
    "modules": ('define_module', 'auto_swap', 'parse_module_spec'),
    "hypotheses": ('test_formula_hypothesis',),
})
