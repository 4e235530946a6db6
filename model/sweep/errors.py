"""Errors that the command line reports as one line, ``chipstack: error: ...``, with exit code 2."""


class UsageError(Exception):
    """Bad input from the user (a parameter, an experiment file, a command-line flag)."""
