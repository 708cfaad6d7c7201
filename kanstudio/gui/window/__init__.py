"""The main window and the controllers it is composed of (files, exports,
panels, the Edit/Model actions, the Science menu, Help), the start page and
the guided tour."""
from .main_window import MainWindow

__all__ = ["MainWindow"]
