"""The one exception type for problems with a user's data."""


class DataError(ValueError):
    """A problem the user can fix, described in one readable sentence."""
