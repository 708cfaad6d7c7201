"""The one family of errors a user can cause: bad data, a damaged file, an
impossible setting.  Each carries one readable sentence, shown as is: a dialog
in the app, one line and exit status 2 on the command line.  Anything else that
escapes is a bug in kanstudio, not a message for the user."""
from __future__ import annotations

__all__ = ["KanstudioError", "ModelFileError", "ResourceLimitError"]


class KanstudioError(Exception):
    """A problem the user can fix, described in one readable sentence."""


class ModelFileError(KanstudioError, ValueError):
    """A model file that is damaged, truncated, modified or asks for too much."""


class ResourceLimitError(KanstudioError, ValueError):
    """A request that would need more memory or time than kanstudio allows itself."""
