"""Entry script of the standalone build (PyInstaller runs a script, not an
entry point): the same function as the ``kanstudio`` command."""
import sys

from kanstudio.gui.app import main

if __name__ == "__main__":
    sys.exit(main())
