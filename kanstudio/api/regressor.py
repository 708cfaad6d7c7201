"""``KANRegressor``: a KAN as a scikit-learn estimator, with the KAN loop
(``prune``, ``auto_symbolic``, ``refit``) as methods.

It drives the same Qt-free project and edit commands as the app (FitModel,
AutoPrune, AutoSymbolic, Retrain), so a network fitted in code behaves as one
fitted by clicking, keeps the same History, and saves as a .kanproj the app
opens.  scikit-learn is an optional extra (``pip install kanstudio[sklearn]``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .. import defaults

try:   # the estimator protocol: without scikit-learn the class says so when used
    from sklearn.base import BaseEstimator, RegressorMixin
except ImportError:        # pragma: no cover - depends on the install
    BaseEstimator = RegressorMixin = None

__all__ = ["KANRegressor"]

_NEEDS_SKLEARN = "KANRegressor needs scikit-learn: pip install 'kanstudio[sklearn]'"


def _bases():
    if BaseEstimator is None:
        class _Missing:
            def __init__(self, *args, **kwargs):
                raise ImportError(_NEEDS_SKLEARN)
        return (_Missing,)
    return (RegressorMixin, BaseEstimator)


class KANRegressor(*_bases()):
    """A Kolmogorov-Arnold Network regressor.

    ``width``: hidden layer widths between the inputs and the output, e.g.
    ``[5]`` or ``[5, 3]`` (default: one layer of 2 * inputs + 1 nodes), or the
    whole width ``"2,5,1"`` as the app writes it.  ``lamb``: the L1 + entropy
    sparsity penalty of ``fit`` (the KAN paper's loop: fit with it, ``prune``,
    ``auto_symbolic``, ``refit``).  Training is deterministic for a ``seed``.
    """

    def __init__(self, width=None, grid: int = defaults.GRID, k: int = defaults.K, lamb: float = defaults.LAMB,
                 steps: int = defaults.STEPS, seed: int = 0, device: str = "cpu", optimizer: str = "lbfgs",
                 lr: Optional[float] = None, update_grid: bool = True):
        self.width = width
        self.grid = grid
        self.k = k
        self.lamb = lamb
        self.steps = steps
        self.seed = seed
        self.device = device
        self.optimizer = optimizer
        self.lr = lr
        self.update_grid = update_grid

    # ---------------------------------------------------------------- scikit-learn
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    def _width_setting(self, n_in: int):
        w = self.width
        if w is None or (isinstance(w, str) and not w.strip()):
            return ""
        if isinstance(w, str):
            return w
        hidden = [int(v) if np.ndim(v) == 0 else list(v) for v in (w if np.ndim(w) else [w])]
        return [n_in] + hidden + [1]

    def fit(self, X, y):
        """Fit a new network on all rows of (X, y) (with ``lamb``: ready to prune)."""
        from sklearn.utils.validation import validate_data
        from ..data import Dataset
        from ..project import FitModel, Project

        X, y = validate_data(self, X, y, y_numeric=True, dtype=np.float64)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"KANRegressor fits one target; y has shape {y.shape}")
        if len(X) < 2:
            raise ValueError(f"KANRegressor needs at least 2 samples to fit, got n_samples={len(X)}")
        names = [str(n) for n in getattr(self, "feature_names_in_", [])] or \
            [f"x{k + 1}" for k in range(X.shape[1])]
        ds = Dataset.from_arrays(X, y, names, ["y"], test_fraction=0.0, seed=int(self.seed))
        project = Project(dataset=ds)
        project.update_settings(width=self._width_setting(X.shape[1]), grid=int(self.grid), k=int(self.k),
                                lamb=float(self.lamb), steps=int(self.steps), seed=int(self.seed),
                                device=str(self.device), optimizer=str(self.optimizer),
                                lr=float(self.lr or 0.0), update_grid=bool(self.update_grid))
        self.project_ = project
        self._do(FitModel())
        return self

    def predict(self, X) -> np.ndarray:
        from sklearn.utils.validation import check_is_fitted, validate_data
        check_is_fitted(self, "project_")
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._predict(X)

    def _predict(self, X) -> np.ndarray:
        import torch
        ds, model = self.project_.dataset, self.project_.model
        with torch.no_grad():
            x = torch.as_tensor(ds.normalize_x(X), dtype=model.dtype, device=model.device)
            out = model(x).cpu().numpy()
        return ds.denormalize_y(out)[:, 0]

    # ---------------------------------------------------------------- the KAN loop
    def _do(self, cmd):
        cmd.begin(self.project_)
        cmd.run()
        self.project_.do(cmd)
        return cmd

    def _fitted(self):
        from sklearn.utils.validation import check_is_fitted
        check_is_fitted(self, "project_")

    def prune(self, node_th: float = defaults.NODE_TH, edge_th: float = defaults.EDGE_TH) -> "KANRegressor":
        """Drop hidden nodes and edges whose attribution is at most the thresholds."""
        from ..project import AutoPrune
        self._fitted()
        self._do(AutoPrune(node_th, edge_th))
        return self

    def auto_symbolic(self, lib: Optional[Sequence[str]] = None,
                      weight_simple: float = defaults.WEIGHT_SIMPLE,
                      engine_seconds: float = defaults.SYMBOLIC_ENGINE_SECONDS) -> "KANRegressor":
        """Fix every live edge to the library function that serves the whole network
        best; an edge no library function serves goes to the symbolic engine for
        ``engine_seconds`` (0: not at all), and one that nothing fits stays numeric
        (see ``numeric_edges_``)."""
        from ..project import AutoSymbolic
        self._fitted()
        self._do(AutoSymbolic(lib=lib, weight_simple=weight_simple, engine_seconds=engine_seconds))
        return self

    def refit(self, steps: Optional[int] = None) -> "KANRegressor":
        """Train the current structure on, without the sparsity penalty (symbolic
        edges train their affine constants only)."""
        from ..project import Retrain
        self._fitted()
        self._do(Retrain(steps=steps))
        return self

    @property
    def network_(self):
        """The KAN (on the data's normalised values; see ``project_.dataset``)."""
        self._fitted()
        return self.project_.model

    @property
    def numeric_edges_(self) -> list:
        """(layer, in, out) of the live edges that are still splines."""
        from ..symbolic import numeric_edges
        return numeric_edges(self.network_)

    @property
    def formula_(self):
        """The network's formula (sympy) in the feature names and original units; a
        ValueError names the edges still numeric."""
        self._fitted()
        return self.project_.formula().exprs[0]

    @property
    def history_(self) -> list:
        """The edits so far, as the app's History lists them."""
        self._fitted()
        return self.project_.history.labels()

    def latex(self) -> str:
        from .exports import to_latex
        return to_latex(self.formula_)

    def to_python(self, func_name: str = "formula") -> str:
        from .exports import to_python
        return to_python(self.formula_, self.project_.dataset.input_names, func_name)

    def to_numpy(self):
        from .exports import to_numpy
        return to_numpy(self.formula_, self.project_.dataset.input_names)

    def to_torch(self):
        from .exports import to_torch
        return to_torch(self.formula_, self.project_.dataset.input_names)

    # ---------------------------------------------------------------- files
    def save(self, path) -> Path:
        """``.kan``: the network and the data's scaling (safetensors, no pickle);
        ``.kanproj``: the whole project, data and History included, for the app."""
        from ..model import Scaling, save
        from ..project import save_project
        self._fitted()
        path = Path(path)
        if path.suffix == ".kanproj":
            return save_project(self.project_, path, embed_data=True)
        save(self.project_.model, path, scaling=Scaling.of(self.project_.dataset))
        return path

    @classmethod
    def load(cls, path) -> "KANRegressor":
        """A fitted regressor from a ``.kan`` (saved by ``save`` or ``kanstudio-cli fit
        --save``) or a ``.kanproj`` made here or in the app."""
        from ..model import read
        from ..project import Project, load_project
        path = Path(path)
        if path.suffix == ".kanproj":
            project = load_project(path)
            if project.model is None:
                raise ValueError(f"{path.name} holds no model")
        else:
            model, scaling = read(path)
            if scaling is None:
                raise ValueError(f"{path.name} holds no data scaling (saved by an older kanstudio): open it "
                                 f"with the data it was fitted on in the app")
            ds = scaling.empty_dataset()
            project = Project(dataset=ds, model=model)
        model = project.model
        reg = cls(grid=model.grid_size, k=model.k, seed=int(project.settings.get("seed", 0)))
        reg.project_ = project
        reg.n_features_in_ = model.n_inputs
        names = list(project.dataset.input_names)
        if not all(n == f"x{k + 1}" for k, n in enumerate(names)):
            reg.feature_names_in_ = np.asarray(names, dtype=object)
        return reg
