"""Errors that the command line reports as one line, ``chipstack: error: ...``, with exit code 2,
and the escaping of every name or value such a line echoes (:func:`shown`, :func:`one_line`)."""

from __future__ import annotations

import contextlib
import os

import numpy as np


class UsageError(Exception):
    """Bad input from the user (a parameter, an experiment file, a command-line flag)."""


def shown(value: object) -> str:
    """A name, value or path as an error message echoes it: quoted, control characters escaped."""
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    return repr(value)


def one_line(text: str) -> str:
    """``text`` with every non-printable character (newline, ANSI escape, bidi override ...) escaped,
    so a message is one line and cannot drive the terminal."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def quiet_floating_point(debug: bool = False) -> contextlib.AbstractContextManager:
    """A block in which numpy's floating-point warnings (``RuntimeWarning: overflow encountered in ...``)
    are not printed, unless ``debug``: a run that overflows fails with one line, not with warnings
    before it. Only the warnings change (``np.errstate``, numpy's default "warn" -> "ignore"): every
    value computed is the same."""
    return contextlib.nullcontext() if debug else np.errstate(all="ignore")
