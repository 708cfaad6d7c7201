"""kanstudio: fit, talk to and symbolify Kolmogorov-Arnold Networks.

As a library::

    import kanstudio
    d = kanstudio.discover(df, "y")          # d.formula, d.status, d.pareto, d.predict(X)
    reg = kanstudio.KANRegressor().fit(X, y).prune().auto_symbolic().refit()
    p = kanstudio.open_project("run.kanproj")

Importing kanstudio loads neither torch nor Qt: the names below are imported
from ``kanstudio.api`` on first use.
"""

from .version import __version__

from .lazy import lazy_exports

__getattr__, __dir__, _API = lazy_exports(__name__, {
    "api": ("Discovery", "KANRegressor", "Project", "discover", "open_project", "save_project")})
__all__ = _API + ["__version__"]
