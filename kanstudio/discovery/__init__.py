"""Formula discovery: from a table to a formula a scientist can trust.

Qt-free.  ``discover(dataset)`` / ``discover_arrays(...)`` run the search within a
time budget and return a ``DiscoverResult``; ``DiscoverConfig`` owns its settings.
"""
from .child_process import discover_in_child
from .config import EXACT_REL, DiscoverConfig
from .pipeline import DiscoverResult, discover, discover_arrays
from .search import edge_search
from .units import unit_text

__all__ = ["DiscoverConfig", "DiscoverResult", "EXACT_REL", "discover", "discover_arrays", "discover_in_child",
           "edge_search", "unit_text"]
