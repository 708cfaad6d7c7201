"""Dialogs: the CSV import, the Science menu's parameter and result dialogs, About."""
from .about import AboutDialog
from .import_dialog import ImportDialog

__all__ = ["AboutDialog", "ImportDialog"]
