"""The app's documents from code: ``open_project(path)`` gives the Project the
app saved (data, model, formula, History, Pareto list); ``save_project``
writes one the app opens.  The Project is the app's own document class."""
from __future__ import annotations

from pathlib import Path

from ..project import Project, load_project, save_project as _save

__all__ = ["Project", "open_project", "save_project"]


def open_project(path, *, data_path=None) -> Project:
    """Read a .kanproj (never unpickled: JSON, CSV and safetensors inside a zip).
    ``project.model``, ``project.formula()``, ``project.history.labels()``,
    ``project.pareto``, ``project.dataset.to_frame()``."""
    return load_project(path, data_path=data_path)


def save_project(project: Project, path, *, embed_data: bool = True) -> Path:
    """Write ``project`` to ``path`` (.kanproj), the data inside unless ``embed_data``
    is False (then it refers to the CSV it came from)."""
    return _save(project, path, embed_data=embed_data)
