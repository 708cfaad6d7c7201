"""The version of kanstudio (one place: the package, the CLI, the app and project files read it)."""

__version__ = "0.1.0"
