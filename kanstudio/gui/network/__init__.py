"""The network picture on screen: the view, its edge and node items, and the
right-click menu of an edge."""
from .edge_menu import edge_menu
from .network_view import NetworkView

__all__ = ["NetworkView", "edge_menu"]
