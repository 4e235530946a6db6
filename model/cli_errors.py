"""What goes wrong around a ``chipstack`` command, said once: the checks every command makes before it
starts (:func:`check_start`: the working directory exists, path arguments are UTF-8 and not empty), the
lines for a failed standard output and for running out of memory, and the standard streams that neither
crash on a character the locale cannot encode nor hide a failed write (:class:`Stream`). Each cause of a
file error has its own words in :func:`model.sweep.errors.os_error_text`.

``model.cli.main`` calls these for every command, so ``report``, ``robust``, ``discover``, ``replicate``,
``validate``, ``game``, ``calibrate``, ``run``, ``ui`` and ``sweep`` answer a read-only folder, a full
disk, an unreadable file, ``>/dev/full``, a deleted working directory or running out of memory with the
same one line (``chipstack: error: ...``), not a traceback.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import warnings
from collections.abc import Iterator

from model.sweep.errors import UsageError, quiet_floating_point, shown

#: The path arguments of the commands (argparse ``dest``) and how the error line names them.
PATH_ARGUMENTS = {"out": "--out", "dir": "DIR", "manifest": "MANIFEST", "experiment": "EXPERIMENT",
                  "run": "--run"}


class StdoutFailed(OSError):
    """Standard output could not be written (``>/dev/full``, a full disk); not a broken pipe."""


def stdout_text(exc: OSError, what: str = "to standard output", done: str = "what the command wrote to "
                "files is kept") -> str:
    """The line for a standard output that cannot be written: ``what`` was not shown, ``done`` is."""
    cause = exc.__cause__ if isinstance(exc, StdoutFailed) and isinstance(exc.__cause__, OSError) else exc
    return (f"cannot write {what} ({type(cause).__name__}: {cause.strerror or cause}); {done}; allowed: a "
            f"standard output that can be written")


def memory_text(command: str) -> str:
    return (f"out of memory while running 'chipstack {command}' (MemoryError); nothing more was written; "
            f"allowed: a smaller model (e.g. fewer n_developers), fewer --workers, or more memory")


@contextlib.contextmanager
def quiet_libraries(debug: bool = False) -> Iterator[None]:
    """A command's block in which numpy's floating-point warnings and the warnings of the libraries the
    analyses call (numpy, pandas, scipy, matplotlib: an empty slice, a degenerate axis ...) are not
    printed: what a command has to say it says in its own lines and notes. Only printing changes, never
    a value; ``debug`` (``chipstack run --debug``) keeps them."""
    if debug:
        yield
        return
    with warnings.catch_warnings(), quiet_floating_point():
        for category in (RuntimeWarning, UserWarning, FutureWarning):
            warnings.simplefilter("ignore", category)  # chipstack's own warnings are lines, not these
        yield


def check_start(args: argparse.Namespace) -> None:
    """Before a command starts: the working directory still exists, and every path argument is
    non-empty UTF-8 (the output formats, Parquet and JSON, store paths as UTF-8; a name that is not
    is refused, not half-written). UsageError otherwise."""
    try:
        cwd = os.getcwd()
    except FileNotFoundError:
        raise UsageError("the working directory no longer exists (it was deleted or moved); allowed: run "
                         "chipstack from an existing folder (cd to one)") from None
    for dest, flag in PATH_ARGUMENTS.items():
        values = getattr(args, dest, None)
        for value in (values if isinstance(values, list) else [values]):
            if not isinstance(value, str):
                continue
            if dest == "out" and not value.strip():
                raise UsageError(f"--out {shown(value)}: an empty folder name; allowed: a folder path, or "
                                 f"leave out --out for the default folder")
            full = os.path.join(cwd, value)
            try:
                full.encode("utf-8")
            except UnicodeEncodeError:
                raise UsageError(f"{flag} {shown(os.path.abspath(full))}: the path is not valid UTF-8; "
                                 f"allowed: a path of UTF-8 characters (rename the folder or file)") from None


class Stream:
    """``sys.stdout`` or ``sys.stderr`` for the life of a command. A character the locale cannot encode
    (``PYTHONIOENCODING=ascii`` and a folder named ü) is written escaped (``\\xfc``), never a crash.
    A write that fails (``>/dev/full``): on stderr it is dropped (a message that cannot be shown must
    not stop a sweep); on stdout it raises :class:`StdoutFailed` once, after pointing the stream at
    /dev/null so that nothing fails again at exit. A reader that went away stays a BrokenPipeError."""

    def __init__(self, stream, drop_failures: bool):
        self._stream = stream
        self._drop = drop_failures

    def _guard(self, action, *args):
        try:
            return action(*args)
        except UnicodeEncodeError:
            raise
        except BrokenPipeError:
            if self._drop:
                return None
            raise
        except (OSError, ValueError) as exc:
            if self._drop:
                return None
            if not isinstance(exc, OSError) or isinstance(exc, StdoutFailed):
                raise
            stdout_to_devnull(self._stream)
            raise StdoutFailed(exc.errno, exc.strerror or str(exc)) from exc

    def write(self, text: str) -> int:
        try:
            self._guard(self._stream.write, text)
        except UnicodeEncodeError:
            encoding = getattr(self._stream, "encoding", None) or "ascii"
            self._guard(self._stream.write, text.encode(encoding, "backslashreplace").decode(encoding))
        return len(text)

    def flush(self) -> None:
        self._guard(self._stream.flush)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def stdout_to_devnull(stream) -> None:
    """Point ``stream``'s file descriptor at /dev/null (what is still buffered must not fail at exit)."""
    try:
        fd = stream.fileno()
    except (OSError, ValueError, AttributeError):
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, fd)
    os.close(devnull)
