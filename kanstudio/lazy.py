"""Public names of a package imported from their modules on first use (PEP 562):
a package's ``__init__`` then imports nothing, so a caller that needs one module
does not load the others (``training.config`` stays torch-free, ``import
kanstudio`` loads neither torch nor Qt)."""
from __future__ import annotations

import importlib

__all__ = ["lazy_exports"]


def lazy_exports(package: str, table: dict):
    """(``__getattr__``, ``__dir__``, ``__all__``) for a package whose public names
    are ``table``: {module (relative to the package, or absolute): (names, ...)}."""
    where = {name: module for module, names in table.items() for name in names}
    names = sorted(where)

    def __getattr__(name):
        module = where.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        full = module if module.startswith("kanstudio.") else f"{package}.{module}"
        return getattr(importlib.import_module(full), name)

    def __dir__():
        return sorted(set(names) | set(vars(importlib.import_module(package))))
    return __getattr__, __dir__, names
