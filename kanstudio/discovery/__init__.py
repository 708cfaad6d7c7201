"""Formula discovery: from a table to a formula a scientist can trust.

Qt-free.  ``discover(dataset)`` / ``discover_arrays(...)`` run the search within a
time budget and return a ``DiscoverResult``; ``DiscoverConfig`` owns its settings.
"""
from .config import DiscoverConfig
from .pipeline import DiscoverResult, discover, discover_arrays

__all__ = ["DiscoverConfig", "DiscoverResult", "discover", "discover_arrays"]
