"""Render docs/screenshots/tutorial_N.png: the guided tour (Help ▸ Tutorial)
walked through in the real app, offscreen.

    QT_QPA_PLATFORM=offscreen python docs/make_tutorial_screenshots.py

Settings and the saved project go to a temporary folder; only the PNGs are
written into docs/screenshots/.
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    from PySide6.QtCore import QCoreApplication, QSettings
    from PySide6.QtWidgets import QApplication

    tmp = Path(tempfile.mkdtemp(prefix="kanstudio-shots-"))
    QSettings.setDefaultFormat(QSettings.Format.IniFormat)
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp))
    QCoreApplication.setOrganizationName("kanstudio-docs")
    QCoreApplication.setApplicationName("kanstudio-docs")
    os.environ["KANSTUDIO_RECOVERY_DIR"] = str(tmp / "recovery")
    app = QApplication.instance() or QApplication(sys.argv)

    from kanstudio.gui.window.main_window import MainWindow
    from kanstudio.gui.window.tutorial import start_tour

    win = MainWindow(confirm_close=False)
    win.resize(1400, 900)
    win.show()

    def pump(seconds: float = 0.3):
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            app.processEvents()
            time.sleep(0.01)

    def settle(timeout: float = 120.0):
        end = time.monotonic() + timeout
        pump(0.3)
        while (win.runner.busy or not win.runner.idle()) and time.monotonic() < end:
            pump(0.1)
        pump(0.6)               # side jobs (picture, formula, scores) and the tour's tick

    OUT.mkdir(parents=True, exist_ok=True)
    shots = []

    def shot(tag: str, dialog=None):
        pump(0.4)
        n = len(shots) + 1
        path = OUT / f"tutorial_{n}.png"
        pix = win.grab()
        if dialog is not None:
            # A separate window (offscreen has no window manager): paint it with a
            # plain title bar where it would sit.
            from PySide6.QtCore import QRect, Qt
            from PySide6.QtGui import QColor, QPainter
            d = dialog.grab()
            bar = 26
            x, y = (pix.width() - d.width()) // 2, (pix.height() - d.height()) // 3
            painter = QPainter(pix)
            painter.fillRect(QRect(x - 1, y - bar - 1, d.width() + 2, d.height() + bar + 2), QColor("#5a5f66"))
            painter.fillRect(QRect(x, y - bar, d.width(), bar), QColor("#e4e6e9"))
            painter.setPen(QColor("#222222"))
            painter.drawText(QRect(x, y - bar, d.width(), bar), Qt.AlignmentFlag.AlignCenter, dialog.windowTitle())
            painter.drawPixmap(x, y, d)
            painter.end()
        pix.save(str(path))
        shots.append((path.name, tag, win.tour.step.key if win.tour else "done"))
        print(f"{path.name}: {tag} (tour at {shots[-1][2]})")

    tour = start_tour(win)
    shot("tour starts: open the data")
    tour.panel.do_button.click()                 # Open it for me
    settle()
    shot("data open: choose the network")
    tour.panel.do_button.click()                 # Set it for me (width 4,1)
    pump()
    tour.next()
    shot("fit")
    tour.panel.do_button.click()
    settle()
    shot("fitted: look at the network")
    tour.next()
    tour.panel.do_button.click()                 # Prune
    settle()
    shot("pruned: make it symbolic")
    tour.panel.do_button.click()                 # Auto-symbolic
    settle()
    shot("symbolic: retrain")
    tour.panel.do_button.click()                 # Retrain
    settle()
    settle(5)
    shot("formula shown: read it")
    tour.panel.do_button.click()                 # Copy LaTeX
    pump()
    tour.check()
    tour.panel.do_button.click()                 # Hypothesis tests
    settle()
    dlg = getattr(win, "last_science_dialog", None)
    shot("hypothesis tests answered", dlg)
    if dlg is not None:
        dlg.close()
    tour.check()
    shot("input attribution")
    tour.next()
    win.save_project(str(tmp / "oscillator_energy.kanproj"))
    settle()
    shot("saved: the tour is at its end")
    tour.next()                                  # Finish

    # Beyond the tour: an auxiliary input reads as its expression in the formula.
    from kanstudio.gui.window import science_actions as sa
    win.open_csv(str(ROOT / "sample_datasets" / "physics" / "relativistic_velocity_addition.csv"),
                 accept_defaults=True)
    settle()
    sa.add_aux_input(win, "uv", "u*v")
    sa.compile_formula(win, "(u+v)/(1+uv)")
    settle()
    settle(3)
    path = OUT / "tutorial_aux_input.png"
    win.grab().save(str(path))
    print(f"{path.name}: auxiliary input uv = u*v, compiled (u+v)/(1+uv)")
    for name, tag, key in shots:
        print(name, key, tag)
    win.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
