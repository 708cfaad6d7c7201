"""Crash recovery: after every edit the GUI writes the project (data
embedded) to a per-session file in the recovery folder; at the next start it
offers the files it finds, and removes a session's file once the project is
saved or closed cleanly.

The folder follows platform conventions and is never the working directory:
$KANSTUDIO_RECOVERY_DIR if set; on Linux $XDG_STATE_HOME/kanstudio/recovery
(default ~/.local/state/kanstudio/recovery); on macOS
~/Library/Application Support/kanstudio/recovery; on Windows
%LOCALAPPDATA%\\kanstudio\\recovery.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from .document import Project
from .kanproj import PROJECT_SUFFIX, ProjectError, load_project, read_project_json, write_project_file

__all__ = ["default_recovery_dir", "recovery_path", "write_recovery", "find_recovery", "recovery_info",
           "load_recovery", "discard_recovery", "discard_project_recovery"]

_PREFIX = "recovery-"


def default_recovery_dir() -> Path:
    env = os.environ.get("KANSTUDIO_RECOVERY_DIR")
    if env:
        return Path(env)
    home = Path.home()
    if sys.platform.startswith("win"):
        base = Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local")
    elif sys.platform == "darwin":
        base = home / "Library" / "Application Support"
    else:
        state = os.environ.get("XDG_STATE_HOME", "")
        base = Path(state) if state and os.path.isabs(state) else home / ".local" / "state"
    return base / "kanstudio" / "recovery"


def _dir(directory) -> Path:
    return Path(directory) if directory is not None else default_recovery_dir()


def recovery_path(project: Project, directory=None) -> Path:
    """This session's recovery file for ``project``: named by the session id
    only, so it stays the same file across writes and Save As."""
    return _dir(directory) / f"{_PREFIX}{project.uid}{PROJECT_SUFFIX}"


def write_recovery(project: Project, directory=None) -> Optional[Path]:
    """Write (atomically, data embedded) the project's recovery file; returns
    its path, or None when there is nothing to recover (no data, no model)."""
    if project.dataset is None and project.model is None:
        return None
    path = recovery_path(project, directory)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.chmod(path.parent, 0o700)      # other users have no business reading it
    except OSError:
        pass
    info = {"original_path": str(project.path) if project.path else None, "title": project.title,
            "time": datetime.now(timezone.utc).isoformat(timespec="seconds")}
    return write_project_file(project, path, embed_data=True, extra={"recovery": info})


def find_recovery(directory=None) -> list[Path]:
    """Recovery files in the folder, newest first."""
    d = _dir(directory)
    if not d.is_dir():
        return []
    files = [p for p in d.glob(f"{_PREFIX}*{PROJECT_SUFFIX}") if p.is_file()]
    return sorted(files, key=lambda p: p.stat().st_mtime, reverse=True)


def recovery_info(path) -> dict:
    """What to show when offering a recovery file: {"path", "original_path",
    "title", "time", "edits"}; ProjectError if it is unreadable."""
    doc = read_project_json(path)
    rec = doc.get("recovery") if isinstance(doc.get("recovery"), dict) else {}
    original = rec.get("original_path")
    return {"path": Path(path), "original_path": original if isinstance(original, str) else None,
            "title": str(rec.get("title") or Path(path).name), "time": str(rec.get("time") or doc.get("saved", "")),
            "edits": len(doc.get("history", []))}


def load_recovery(path) -> Project:
    """Open a recovery file as an unsaved project belonging to its original
    file (or untitled); the recovery file itself is left in place until the
    caller discards it."""
    info = recovery_info(path)
    project = load_project(path)
    project.path = Path(info["original_path"]) if info["original_path"] else None
    project._dirty = True                 # recovered work is not on disk under its own name
    project._check_modified()
    return project


def discard_recovery(path) -> None:
    """Delete one recovery file (only files named like ours)."""
    p = Path(path)
    if not (p.name.startswith(_PREFIX) and p.suffix == PROJECT_SUFFIX):
        raise ProjectError(f"{p.name} is not a kanstudio recovery file")
    p.unlink(missing_ok=True)


def discard_project_recovery(project: Project, directory=None) -> None:
    """Delete this session's recovery file of ``project`` (after a save or a clean close)."""
    recovery_path(project, directory).unlink(missing_ok=True)
