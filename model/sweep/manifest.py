"""The sweep folder's ``manifest.json`` (INTERFACES §5): the one owner of writing it, reading it and
checking the output files against the sha256 it records.

The runner builds the manifest's content (:func:`model.sweep.finalize.build_manifest`) and writes it
with :meth:`Manifest.write`; ``--resume`` asks :meth:`Manifest.load` whether a folder is complete;
``replicate`` reads it with :meth:`Manifest.read` (the strict checks of a finished sweep); the report
reads it with :meth:`Manifest.load` and checks its files with :meth:`Manifest.altered_files`.

Two records of files (issue 31 item 2): ``files``, the data (``runs.parquet``, ``final.csv``,
``summary.csv``, ``failures.csv``), whose sha256 ``--resume``, ``replicate`` and ``report`` check; and
``derived``, what ``chipstack report`` draws from them (``figures/*.png``, ``by_maker.csv``,
``sensitivity.csv``): regenerable, their bytes depend on the environment (fonts, a ``matplotlibrc``), so
their sha256 is a record, outside the integrity check, and ``report`` rewrites it
(:meth:`Manifest.record_derived`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from model.sweep.errors import UsageError, one_line, shown
from model.sweep.io import sha256_file, write_json_atomic

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: The JSON type of each key that readers use (a manifest edited to hold another type is refused).
SHAPES: dict[str, type] = {"experiment": dict, "design": dict, "files": dict, "derived": dict, "counts": dict,
                           "varying": list, "fixed": dict}


def is_inside_name(name: str) -> bool:
    """A relative path of a file inside the folder: no absolute path, no ``..``, no backslash."""
    path = PurePosixPath(name)
    return (bool(name) and not path.is_absolute() and ".." not in path.parts and "\\" not in name
            and "\x00" not in name)


def check_shape(path: Path, data: object) -> dict:
    """``data`` if it is a JSON object whose known keys have their types (:data:`SHAPES`) and whose
    ``files`` are names inside the folder; else UsageError naming the key."""
    if not isinstance(data, dict):
        raise UsageError(f"{shown(path)}: expected a JSON object; "
                         "allowed: a manifest written by 'chipstack sweep'")
    for key, kind in SHAPES.items():
        if key in data and data[key] is not None and not isinstance(data[key], kind):
            name = "a JSON object" if kind is dict else "a JSON list"
            raise UsageError(f"{shown(path)}: key {key} is {type(data[key]).__name__} "
                             f"{shown(data[key])[:60]}; "
                             f"allowed: {name}, as 'chipstack sweep' writes it")
    runs = data.get("runs")
    for i, run in enumerate(runs if isinstance(runs, list) else []):
        for key, kind, allowed in (("run_id", str, "a string"), ("seed", int, "an integer")):
            value = run.get(key) if isinstance(run, dict) else run
            if not isinstance(value, kind) or isinstance(value, bool):
                raise UsageError(f"{shown(path)}: key runs[{i}].{key} is {shown(value)[:60]}; allowed: "
                                 f"{allowed}, as 'chipstack sweep' writes it")
    for key in ("files", "derived"):
        for name in data.get(key) or {}:
            if not is_inside_name(name):
                raise UsageError(f"{shown(path)}: key {key} names {shown(name)}; allowed: names of files "
                                 f"inside the sweep folder (no absolute path, no '..')")
    return data


@dataclass
class Manifest:
    """A sweep folder's manifest: ``folder/manifest.json`` and its content."""

    folder: Path
    data: dict

    @property
    def path(self) -> Path:
        return self.folder / MANIFEST

    # -- writing
    def write(self, files: list[Path], status: str, derived: list[Path] | None = None) -> None:
        """Record ``status``, the sha256 of the data ``files`` and (when given) of the ``derived`` files
        (paths inside the folder; see the module doc), then write atomically."""
        self.data["status"] = status
        self.data["files"] = self._digests(files)
        if derived is not None:
            self.data["derived"] = self._digests(derived)
        write_json_atomic(self.path, self.data)

    def record_derived(self, paths: list[Path]) -> None:
        """``chipstack report`` redrew ``paths``: record their sha256 under ``derived`` (out of ``files``,
        where a manifest from before the split recorded them as data) and write the manifest atomically."""
        redrawn = self._digests(paths)
        self.data["files"] = {k: v for k, v in (self.data.get("files") or {}).items() if k not in redrawn}
        self.data["derived"] = (self.data.get("derived") or {}) | redrawn
        write_json_atomic(self.path, self.data)

    def _digests(self, paths) -> dict[str, str]:
        return {Path(p).relative_to(self.folder).as_posix(): sha256_file(p) for p in paths}

    # -- reading
    @classmethod
    def load(cls, folder: str | Path) -> Manifest:
        """Read ``folder/manifest.json`` as it is (any status). Raises UsageError when it is missing,
        not valid JSON or not a JSON object."""
        folder = Path(folder)
        path = folder / MANIFEST
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise UsageError(f"{path}: no such file; "
                             "allowed: a folder written by 'chipstack sweep'") from None
        except (OSError, ValueError, RecursionError) as exc:
            raise UsageError(f"{shown(path)}: not valid JSON ({type(exc).__name__}: {exc})") from None
        return cls(folder, check_shape(path, data))

    @classmethod
    def read(cls, path: str | Path) -> Manifest:
        """The manifest of a finished sweep (``DIR/manifest.json`` or ``DIR``), with the checks that
        ``replicate`` needs: a chipstack manifest, with ``experiment.spec``, status ``complete`` and
        ``runs.parquet`` among its files. Raises UsageError naming what is wrong."""
        path = Path(path)
        if path.is_dir():
            path = path / MANIFEST
        if not path.is_file():
            raise UsageError(f"{path}: no such manifest; "
                             "allowed: DIR/manifest.json written by 'chipstack sweep'")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise UsageError(f"{shown(path)}: not a readable JSON manifest "
                             f"({type(exc).__name__}: {exc}); allowed: "
                             f"a manifest written by 'chipstack sweep'") from None
        check_shape(path, data)
        if "chipstack_manifest" not in data:
            raise UsageError(f"{path}: not a chipstack sweep manifest (no 'chipstack_manifest' key)")
        spec = data["experiment"].get("spec") if isinstance(data.get("experiment"), dict) else None
        if not isinstance(spec, dict):
            raise UsageError(f"{path}: key experiment.spec is missing; allowed: a manifest written by "
                             f"'chipstack sweep'")
        if data.get("status") != "complete":
            raise UsageError(f"{path}: status is {data.get('status')!r}; allowed: a finished sweep "
                             f"(status 'complete'); finish it with 'chipstack sweep ... --resume'")
        if "runs.parquet" not in (data.get("files") or {}):
            raise UsageError(f"{path}: key files has no runs.parquet; "
                             "allowed: a manifest of a finished sweep")
        return cls(path.parent, data)

    # -- what it says
    @property
    def files(self) -> dict[str, str]:
        """Data file (relative path) -> sha256 (older manifests may hold {"sha256": ...} entries); the
        files the integrity checks cover (``derived`` files are not among them)."""
        files = self.data.get("files")
        if not isinstance(files, dict):
            return {}
        return {str(name): (entry.get("sha256") if isinstance(entry, dict) else entry)
                for name, entry in files.items()}

    @property
    def counts(self) -> dict:
        counts = self.data.get("counts")
        return counts if isinstance(counts, dict) else {}

    @property
    def complete(self) -> bool:
        """Status complete, no failed run, every run done and every recorded file present."""
        counts = self.counts
        return (self.data.get("status") == "complete" and counts.get("failed") == 0
                and counts.get("done") == counts.get("total")
                and all(is_inside_name(name) and (self.folder / name).is_file() for name in self.files))

    def unrecorded(self, names: tuple[str, ...]) -> list[str]:
        """Those of ``names`` that the manifest's ``files`` does not record (all of them when ``files``
        is missing, null or empty): a file without its sha256 cannot be checked, so it is not trusted."""
        return [name for name in names if name not in self.files]

    def row_count_problems(self, n_runs: int) -> list[str]:
        """runs.parquet must hold one row per run (``n_runs``, the manifest's run list) and step of
        ``experiment.steps``; only its Parquet metadata is read. Rows lost or added are found even when
        the manifest's sha256 was updated to match."""
        import pyarrow.parquet as pq

        path, steps = self.folder / "runs.parquet", (self.data.get("experiment") or {}).get("steps")
        if not isinstance(steps, int) or isinstance(steps, bool):
            return [f"{MANIFEST}: key experiment.steps is {shown(steps)}; allowed: an integer"]
        if not path.is_file() or path.is_symlink():
            return []  # reported as missing by the sha256 check
        try:
            rows = pq.read_metadata(path).num_rows
        except OSError as exc:  # not the file's fault: no permission, an I/O error ...
            return [f"runs.parquet: cannot be read ({type(exc).__name__}: {one_line(str(exc))[:120]})"]
        except Exception as exc:  # noqa: BLE001 - any reader error means a damaged file
            return [f"runs.parquet: not readable as Parquet ({type(exc).__name__})"]
        if rows != n_runs * steps:
            return [f"runs.parquet: holds {rows} rows; the manifest's {n_runs} runs x {steps} steps are "
                    f"{n_runs * steps}"]
        return []

    def altered_files(self, names: tuple[str, ...] | None = None) -> list[tuple[str, str]]:
        """(file, why) for each recorded file (or each of ``names`` that is recorded) that is missing
        or whose sha256 differs from the manifest's."""
        altered = []
        for name, digest in self.files.items():
            if names is not None and name not in names:
                continue
            path = self.folder / name
            if not is_inside_name(name):
                altered.append((name, "not a file inside the sweep folder"))
            elif path.is_symlink():
                altered.append((name, "a symbolic link, not the sweep's own file"))
            elif not path.is_file():
                altered.append((name, "missing"))
            elif sha256_file(path) != digest:
                altered.append((name, "sha256 differs from the manifest: altered after the sweep"))
        return altered
