"""Help ▸ About: version, library versions and how to cite the KAN papers."""
from __future__ import annotations

import platform
import sys

from PySide6.QtCore import Qt, qVersion
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import (QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QPushButton,
                               QVBoxLayout, QWidget)

from ..theme import app_icon

__all__ = ["AboutDialog", "version_info", "CITATIONS", "BIBTEX"]

CITATIONS = (
    ("Z. Liu, Y. Wang, S. Vaidya, F. Ruehle, J. Halverson, M. Soljačić, T. Y. Hou, M. Tegmark",
     "KAN: Kolmogorov-Arnold Networks", "2024", "2404.19756"),
    ("Z. Liu, P. Ma, Y. Wang, W. Matusik, M. Tegmark",
     "KAN 2.0: Kolmogorov-Arnold Networks Meet Science", "2024", "2408.10205"),
)

BIBTEX = """@article{liu2024kan,
  title   = {KAN: Kolmogorov-Arnold Networks},
  author  = {Liu, Ziming and Wang, Yixuan and Vaidya, Sachin and Ruehle, Fabian and Halverson, James
             and Solja{\\v{c}}i{\\'c}, Marin and Hou, Thomas Y. and Tegmark, Max},
  journal = {arXiv preprint arXiv:2404.19756},
  year    = {2024}
}

@article{liu2024kan2,
  title   = {KAN 2.0: Kolmogorov-Arnold Networks Meet Science},
  author  = {Liu, Ziming and Ma, Pingchuan and Wang, Yixuan and Matusik, Wojciech and Tegmark, Max},
  journal = {arXiv preprint arXiv:2408.10205},
  year    = {2024}
}
"""


def version_info() -> dict:
    from ...version import __version__
    import PySide6
    info = {"kanstudio": __version__, "Python": platform.python_version(),
            "Qt": qVersion(), "PySide6": PySide6.__version__}
    for mod in ("torch", "numpy", "sympy", "pyqtgraph", "matplotlib"):
        try:
            info[mod] = __import__(mod).__version__
        except Exception:  # noqa: BLE001 - an optional library may be missing
            info[mod] = "not installed"
    try:
        import torch
        info["CUDA"] = torch.version.cuda if torch.cuda.is_available() else "not available"
    except Exception:  # noqa: BLE001
        pass
    info["Platform"] = f"{platform.system()} {platform.machine()}"
    return info


class AboutDialog(QDialog):
    def __init__(self, parent: QWidget = None):
        super().__init__(parent)
        self.setObjectName("about_dialog")
        self.setWindowTitle("About kanstudio")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        info = version_info()
        icon = QLabel()
        icon.setPixmap(app_icon().pixmap(72, 72))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        title = QLabel(f"<h2 style='margin:0'>kanstudio {info['kanstudio']}</h2>"
                       "<p>Fit a Kolmogorov-Arnold Network to your data, talk to it edge by edge, "
                       "and leave with a formula.</p>")
        title.setWordWrap(True)
        head = QHBoxLayout()
        head.addWidget(icon)
        head.addWidget(title, 1)

        rows = "".join(f"<tr><td style='padding-right:12px'>{k}</td><td>{v}</td></tr>" for k, v in info.items())
        versions = QLabel(f"<table>{rows}</table>")
        versions.setObjectName("about_versions")
        versions.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        cites = "".join(
            f"<li>{a} ({y}). <i>{t}</i>. "
            f"<a href='https://arxiv.org/abs/{x}'>arXiv:{x}</a></li>" for a, t, y, x in CITATIONS)
        cite = QLabel("<p><b>If kanstudio helps your research, please cite the KAN papers:</b></p>"
                      f"<ul style='margin-left:-20px'>{cites}</ul>"
                      "<p>kanstudio is an independent implementation; it is not affiliated with the "
                      "authors.</p>")
        cite.setObjectName("about_citation")
        cite.setWordWrap(True)
        cite.setOpenExternalLinks(True)
        cite.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        copy = QPushButton("Copy BibTeX")
        copy.setObjectName("button_copy_bibtex")
        copy.clicked.connect(lambda: QGuiApplication.clipboard().setText(BIBTEX))
        buttons.addButton(copy, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        lay = QVBoxLayout(self)
        lay.addLayout(head)
        lay.addWidget(versions)
        lay.addWidget(cite)
        lay.addWidget(buttons)
        self.setMinimumWidth(520)

    def text(self) -> str:
        return "\n".join(w.text() for w in self.findChildren(QLabel))


if __name__ == "__main__":  # pragma: no cover - manual preview
    from PySide6.QtWidgets import QApplication
    app = QApplication(sys.argv)
    AboutDialog().exec()
