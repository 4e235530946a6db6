"""Atomic file output: write to a temporary file in the same folder, then rename.

A reader never sees a half-written file, and a crash leaves either the old file or the new one. Also
the output folder itself: made (or refused in one line) before anything is written into it, and taken
away again when nothing was (``create_folder``, ``remove_created``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from model.sweep.errors import UsageError, shown


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is renamed over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp_path, 0o666 & ~_umask())  # mkstemp makes 0600; outputs are ordinary files
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_atomic(path: str | os.PathLike, writer: Callable[[Path], Any]) -> None:
    """Call ``writer(tmp_path)`` and move the result into place atomically."""
    with atomic_path(path) as tmp:
        writer(tmp)


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """``data`` as indented JSON and a newline. Streamed to the file: with ``indent`` the json module
    encodes in Python, and ``json.dumps`` would first hold a list of every piece of the text (a
    10,000-run manifest: ~10 MB)."""
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_or_none(path) -> str | None:
    """``sha256_file(path)``, or None when there is no readable file (a manifest records it as unknown)."""
    try:
        return sha256_file(path)
    except (OSError, TypeError):
        return None


def utc_now() -> str:
    """Now, UTC, to the second (ISO 8601): the time stamps of manifests."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def is_stale_temporary(path: Path) -> bool:
    """A temporary file of :func:`atomic_path` (``.NAME.XXXXXXXX.tmp``)."""
    return path.name.startswith(".") and path.name.endswith(".tmp") and path.name.count(".") >= 3


def remove_stale_temporaries(folder: str | os.PathLike) -> list[Path]:
    """Delete the temporary files an interrupted :func:`atomic_path` left in ``folder`` (not in its
    subfolders); return them. Only safe while no other process writes there (the sweep's lock)."""
    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return []
    removed = []
    for path in folder.glob(".*.tmp"):
        if is_stale_temporary(path) and path.is_file() and not path.is_symlink():
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def create_folder(folder: Path) -> list[Path]:
    """Make the output folder ``--out`` (and its parents) unless it exists; UsageError when it cannot be
    made (a path under /proc or under a file, no permission, a dangling symbolic link ...). Returns the
    folders it made, outermost first (``remove_created`` takes them away again)."""
    missing = [p for p in (folder, *folder.parents) if not p.exists()][::-1]
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"--out {shown(folder)}: cannot create the folder ({os_reason(exc)}); "
                         f"allowed: a folder path you can write to") from None
    return missing


def remove_created(folders: list[Path]) -> None:
    """Remove the folders ``create_folder`` made, innermost first, where they are still empty."""
    for path in reversed(folders):
        try:
            path.rmdir()
        except OSError:
            return


def os_reason(exc: OSError) -> str:
    """'PermissionError: Permission denied' - an OSError in one line, without its file name."""
    return f"{type(exc).__name__}: {exc.strerror or exc}"


#: The file in a :func:`temporary_folder` that names the process using it.
OWNER_FILE = "owner.pid"


@contextlib.contextmanager
def temporary_folder(prefix: str) -> Iterator[Path]:
    """A new folder in the temporary directory (``TMPDIR``), removed at the end. It records the process
    that made it (``owner.pid``), so the folders of a process that was killed (SIGKILL: no clean-up ran)
    are removed by the next call with the same prefix instead of piling up."""
    remove_abandoned(prefix)
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        (folder / OWNER_FILE).write_text(str(os.getpid()), encoding="ascii")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def remove_abandoned(prefix: str) -> list[Path]:
    """Remove the folders ``PREFIX*`` in the temporary directory whose owner process has ended."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
        try:
            owner = int((folder / OWNER_FILE).read_text(encoding="ascii"))
        except (OSError, ValueError):
            continue  # not one of ours, or being made right now
        if owner != os.getpid() and not _alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, ValueError):
        return True  # another user's process (or not a pid we can ask about): leave its folder
    return True
