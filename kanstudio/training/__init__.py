"""Training a KAN: ``loop`` (``fit`` / ``fit_steps``: a generator of snapshots
that the GUI worker, the CLI and the tests all drive), ``config`` (FitConfig,
torch-free), the optimisers over one flat parameter vector (``lbfgs`` with
``line_search``, ``adam``, ``flat_params``) and ``fused`` (the compiled loss
and gradient, and the kernels' warm-up).  Imports nothing on its own, so
``training.config`` stays torch-free."""

from ..lazy import lazy_exports

# the package's public names, imported from their modules on first use
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "loop": ('fit', 'fit_steps'),
    "config": ('FitConfig',),
    "fused": ('warm_up',),
})
