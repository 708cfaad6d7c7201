"""The Help menu's controller: the papers behind kanstudio, About kanstudio
and About Qt (the guided tour joins it from the Science controller)."""
from __future__ import annotations

from PySide6.QtCore import QUrl
from PySide6.QtGui import QAction, QDesktopServices
from PySide6.QtWidgets import QApplication, QStyle

from .actions import Controller

__all__ = ["HelpController"]


class HelpController(Controller):
    def __init__(self, window):
        super().__init__(window)
        a = self.action
        self.action_about = a("&About kanstudio", "action_about", self.show_about, None, "Versions and citation",
                              QStyle.StandardPixmap.SP_MessageBoxInformation)
        self.action_about.setMenuRole(QAction.MenuRole.AboutRole)
        self.action_about_qt = a("About &Qt", "action_about_qt", QApplication.aboutQt)
        self.action_paper = a("KAN paper (arXiv:2404.19756)", "action_paper",
                              lambda: QDesktopServices.openUrl(QUrl("https://arxiv.org/abs/2404.19756")))
        self.action_paper2 = a("KAN 2.0 paper (arXiv:2408.10205)", "action_paper2",
                               lambda: QDesktopServices.openUrl(QUrl("https://arxiv.org/abs/2408.10205")))
        self.about_dialog = None

    def fill_menu(self, menu):
        menu.addActions([self.action_paper, self.action_paper2])
        menu.addSeparator()
        menu.addActions([self.action_about, self.action_about_qt])

    def show_about(self):
        from ..dialogs import AboutDialog
        dlg = AboutDialog(self.window)
        dlg.show()
        self.about_dialog = dlg
        return dlg
