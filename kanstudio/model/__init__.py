"""The KAN itself: ``network`` (KAN / MultKAN, sum and multiplication nodes),
``layer`` and ``layer_ops`` (one layer, every edge at once, and its hand-written
backward passes), ``spline`` (B-spline machinery), ``functions`` (the table of
1-D functions an edge can be fixed to), ``width`` (width specs), ``expand``
(growing and rebuilding networks), ``limits`` (how big a network may be) and
``io`` (.kan files: safetensors, no pickle).  Above ``kernels``; below
``training``."""

from ..lazy import lazy_exports

# the package's public names, imported from their modules on first use
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "network": ('KAN', 'install_fast_predict'),
    "width": ('parse_width', 'normalize_width', 'check_width'),
    "io": ('save', 'load', 'read', 'Scaling', 'to_bytes', 'from_bytes'),
    "device": ('check_device',),
    "expand": ('expand_width', 'expand_depth', 'remap_model', 'silence_edges'),
    "functions": ('SymbolicFunction', 'UnknownFunctionError', 'args_within', 'get_function', 'library_names',
                  'register_function', 'to_sympy'),
    "limits": ('MAX_DEPTH', 'MAX_GRID', 'MAX_K', 'MAX_NODES', 'check_training'),
    "spline": ('curve_to_coef', 'grid_from_samples', 'uniform_grid'),
})
