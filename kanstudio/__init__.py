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

_API = ("Discovery", "KANRegressor", "Project", "discover", "open_project", "save_project")
__all__ = list(_API) + ["__version__"]


def __getattr__(name):
    if name in _API:
        from . import api
        return getattr(api, name)
    raise AttributeError(f"module 'kanstudio' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
