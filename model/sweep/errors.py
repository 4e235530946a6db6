"""Errors that the command line reports as one line, ``chipstack: error: ...``, with exit code 2,
the escaping of every name or value such a line echoes (:func:`shown`, :func:`one_line`), and the
words for each cause of a file error (:func:`os_error_text`)."""

from __future__ import annotations

import contextlib
import errno
import os
import resource

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


def os_error_text(exc: OSError, path: object = None, resume: str = "") -> str:
    """One line for a file error: the path, what happened (by errno, each cause its own words) and
    what to do. ``resume``: the command that finishes the work once the cause is fixed (e.g. "run the
    same command with --resume"), for causes that are fixed outside the folder (a full disk, too many
    open files); a folder that cannot be written or a name that is too long need another folder."""
    named = exc.filename if exc.filename is not None else path
    where = shown(named) if named is not None else "a file"
    why = f"{type(exc).__name__}: {exc.strerror or exc}"
    code = exc.errno
    again = f" and {resume}" if resume else ""
    if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return f"{where}: cannot write: the disk is full or over quota ({why}); free disk space{again}"
    if code == errno.EROFS:
        return (f"{where}: cannot write: the file system is read-only ({why}); allowed: an output folder on "
                f"a writable file system")
    if code in (errno.EACCES, errno.EPERM):
        return (f"{where}: permission denied ({why}); allowed: a file you can read and a folder you can "
                f"write to (check its permissions)")
    if code == errno.ENAMETOOLONG:
        return (f"{where}: a name in this path is too long for the file system ({why}; usually at most "
                f"255 bytes per name); allowed: a shorter folder or file name")
    if code in (errno.EMFILE, errno.ENFILE):
        limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        return (f"{where}: too many open files ({why}; this process may open {limit}); raise the limit "
                f"(e.g. 'ulimit -n 4096') or use fewer --workers{again}")
    if code == errno.ENOENT:
        return f"{where}: no such file or folder ({why}); allowed: an existing path"
    if code == errno.ENOTDIR:
        return f"{where}: a part of this path is a file, not a folder ({why}); allowed: a folder path"
    if code == errno.EISDIR:
        return f"{where}: is a folder, not a file ({why}); allowed: a file path"
    return f"{where}: file error ({why}){'; fix the cause' + again if resume else ''}"
