"""Training a KAN: ``loop`` (``fit`` / ``fit_steps``: a generator of snapshots
that the GUI worker, the CLI and the tests all drive), ``config`` (FitConfig,
torch-free), the optimisers over one flat parameter vector (``lbfgs`` with
``line_search``, ``adam``, ``flat_params``) and ``fused`` (the compiled loss
and gradient, and the kernels' warm-up).  Imports nothing on its own, so
``training.config`` stays torch-free."""
