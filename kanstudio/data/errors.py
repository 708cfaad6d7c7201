"""The one exception type for problems with a user's data or formulas."""
from ..errors import KanstudioError


class DataError(KanstudioError, ValueError):
    """A problem the user can fix, described in one readable sentence (shown as is in the GUI and CLI)."""
