"""Errors a user can fix. The CLI prints them as one line and exits non-zero."""


class VisuomotorError(Exception):
    """Bad input or state: the message names the bad value and what is allowed."""
