"""``kanstudio [FILE]``: the desktop app.

``main()`` creates a QApplication only when none exists, opens FILE (a CSV
shows the import dialog; a .kanproj opens directly) or the start page, offers
crash-recovery files left by an earlier session, runs the event loop and
returns its exit code.  Uncaught exceptions from any thread go to an error
dialog (errors.install_excepthooks) instead of ending the process.
"""
from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional, Sequence

__all__ = ["main", "create_window", "USAGE"]

USAGE = """usage: kanstudio [FILE]

Open the kanstudio desktop app.  FILE may be a CSV table (the import dialog
opens with suggested settings) or a saved .kanproj project.  Without FILE the
start page offers the sample datasets.

  -h, --help     show this help and exit
  --version      show the version and exit
"""


def _file_argument(args: Sequence[str]) -> tuple[Optional[str], Optional[int]]:
    """(file to open, exit code when the arguments ask to exit at once)."""
    from ..version import __version__
    files = []
    for a in args:
        if a in ("-h", "--help"):
            print(USAGE)
            return None, 0
        if a == "--version":
            print(f"kanstudio {__version__}")
            return None, 0
        if a.startswith("-") and not Path(a).exists():
            continue   # Qt's own options (-style, -platform ...) are consumed by QApplication
        files.append(a)
    if len(files) > 1:
        print(f"kanstudio: opening {files[0]}; ignoring {', '.join(files[1:])}", file=sys.stderr)
    return (files[0] if files else None), None


def create_window(path: Optional[str] = None, offer_recovery: bool = True):
    """The main window, shown, with ``path`` (if any) being opened."""
    from PySide6.QtCore import QTimer
    from .errors import install_excepthooks
    from .window import MainWindow

    win = MainWindow()
    install_excepthooks(lambda: win if not win._shut else None)
    win.show()
    if path:
        p = Path(path)
        if not p.exists():
            QTimer.singleShot(0, lambda: win.show_error("Cannot open the file", f"{p} does not exist."))
        else:
            QTimer.singleShot(0, lambda: win.files.open_path(str(p)))
    elif offer_recovery:
        QTimer.singleShot(0, win.files.offer_recovery)
    return win


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Run the app; returns the exit code when the event loop ends."""
    args = list(sys.argv[1:] if argv is None else argv)
    path, code = _file_argument(args)
    if code is not None:
        return code

    from PySide6.QtCore import QCoreApplication
    from PySide6.QtWidgets import QApplication
    from ..version import __version__
    from .errors import uninstall_excepthooks
    from .theme import app_icon

    app = QApplication.instance()
    if app is None:
        from . import system_check
        problem = system_check.startup_problem(args)
        if problem:        # Qt would abort with a less helpful message
            print(f"kanstudio: {problem}", file=sys.stderr)
            return 1
        app = QApplication([sys.argv[0] if sys.argv else "kanstudio"] + args)
        path, _ = _file_argument(QCoreApplication.arguments()[1:])   # Qt options removed
    if not QCoreApplication.organizationName():
        QCoreApplication.setOrganizationName("kanstudio")
    if QCoreApplication.applicationName() in ("", "python", "python3") or \
            QCoreApplication.applicationName().startswith("python"):
        QCoreApplication.setApplicationName("kanstudio")
    QCoreApplication.setApplicationVersion(__version__)
    app.setWindowIcon(app_icon())
    if hasattr(app, "setDesktopFileName"):
        app.setDesktopFileName("kanstudio")
    win = create_window(path, offer_recovery=path is None)
    try:
        code = app.exec()
    finally:
        win.shutdown()
        win.deleteLater()
        uninstall_excepthooks()
    return int(code)


if __name__ == "__main__":   # pragma: no cover
    sys.exit(main())
