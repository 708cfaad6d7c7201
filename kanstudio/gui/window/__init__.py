"""The main window and what it is assembled from: its actions, files, layout and
exports, the Science menu, the start page and the guided tour."""
from .main_window import MainWindow

__all__ = ["MainWindow"]
