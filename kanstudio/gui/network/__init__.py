"""The network picture on screen: the view, its edge and node items, and the
right-click menu of an edge."""
from .network_items import Style, mix
from .network_view import NetworkView

__all__ = ["NetworkView", "Style", "mix"]
