"""Dialogs: the CSV import, the Science menu's parameter and result dialogs, About."""
from .about import AboutDialog
from .import_dialog import DataPanel, ImportDialog
from .science_dialogs import (AuxInputDialog, EdgeFunctionDialog, ExpandWidthDialog, ResultDialog, TextSpecDialog,
                              check_formula)

__all__ = ["AboutDialog", "ImportDialog", "DataPanel", "AuxInputDialog", "EdgeFunctionDialog", "ExpandWidthDialog",
           "ResultDialog", "TextSpecDialog", "check_formula"]
