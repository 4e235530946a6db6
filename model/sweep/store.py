"""The sweep folder on disk (INTERFACES §5): the checks before a sweep may use a folder, the lock held
while a process uses it, the part files (each written with a record of its sha256, and verified
before ``--resume`` trusts it), the merge of the parts into ``runs.parquet`` (and of their chip rows
into ``chip_sales.parquet``, :mod:`model.sweep.chip_table`), and ``final.csv``. ``summary.csv`` and
``failures.csv`` are :mod:`model.sweep.tables`'s, the manifest :mod:`model.sweep.manifest`'s."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from model.sweep.chip_table import (
    CHIP_FILE,
    check_chip_part,
    chip_merger,
    chip_part,
    orphan_chip_parts,
    write_chip_part,
)
from model.sweep.design import Run, build_design
from model.sweep.errors import UsageError, shown
from model.sweep.experiment import Experiment
from model.sweep.io import (
    atomic_path,
    create_folder,
    os_reason,
    remove_stale_temporaries,
    sha256_file,
    write_json_atomic,
)
from model.sweep.manifest import MANIFEST, Manifest
from model.sweep.resume_checks import check_same_code, columns_differ, manifest_complete, saved_fingerprint

PARTS_DIR = ".parts"
SPEC_FILE = "experiment.json"
ROWS_PER_ROW_GROUP = 16384  # row groups small enough to keep the writer's buffers small (~7 MB at 50 columns)
#: Rows of final.csv that pandas formats at once: it makes a Python string of every cell of a chunk,
#: and its default chunk (100,000 cells, ~1,700 rows of ~60 columns) grows the process by ~15 MB;
#: the text written does not depend on the chunk size
CSV_ROWS_PER_CHUNK = 256
#: runs.parquet's codec: zstd at level 9, with the bytes of float columns split by position
#: (BYTE_STREAM_SPLIT, so that exponents and mantissas compress apart), keeps the committed reference
#: results under 2 MiB (export_regimes: 2,268 KiB with plain zstd, 1,992 KiB so); the values are the same
#: and any Parquet reader (pyarrow, pandas, DuckDB, Spark) reads it
COMPRESSION = "zstd"
COMPRESSION_LEVEL = 9
#: Entries of a sweep folder that chipstack writes into (never followed when they are symlinks).
WRITTEN_ENTRIES = (PARTS_DIR, "figures", "runs.parquet", CHIP_FILE, "final.csv", "summary.csv",
                   "failures.csv", MANIFEST, "sensitivity.csv", "by_maker.csv", "by_chip.csv")
#: The files a finished sweep's manifest must record (and ``chip_sales.parquet`` when the folder holds one:
#: a sweep from before the chip table has none, and is still complete).
DATA_FILES = ("runs.parquet", "final.csv", "summary.csv")


# ---------------------------------------------------------------------------------------------
# Output folder checks (all before anything is created)
def check_output_folder(out_dir: Path, experiment: Experiment, resume: bool) -> str:
    """'fresh', 'partial' or 'complete'. Raises UsageError when the folder may not be used."""
    check_no_symlinks(out_dir, "--out")
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {shown(out_dir)}: exists and is not a folder; allowed: a folder path")
    if not _has_files(out_dir):
        return "fresh"
    if not resume:
        raise UsageError(f"output folder {str(out_dir)!r} is not empty; allowed: --resume to finish the "
                         f"sweep saved there, another --out folder, or delete the folder first")
    saved = saved_fingerprint(out_dir, out_dir / PARTS_DIR / SPEC_FILE)
    if saved is None:
        raise UsageError(f"--resume: output folder {str(out_dir)!r} holds no chipstack sweep "
                         f"(no {MANIFEST} or {PARTS_DIR}/{SPEC_FILE}); allowed: a folder written by "
                         f"'chipstack sweep', or another --out folder")
    if saved != experiment.fingerprint():
        raise UsageError(f"--resume: output folder {str(out_dir)!r} holds a sweep of a different experiment "
                         f"(its design, steps, seed or parameters differ from {experiment.source}); "
                         f"allowed: the same experiment, or another --out folder")
    if manifest_complete(out_dir):
        return "complete"
    check_same_code(out_dir / PARTS_DIR / SPEC_FILE, out_dir)
    return "partial"


def check_no_symlinks(folder: Path, what: str) -> None:
    """Refuse a folder that is a symlink (or holds one where chipstack writes): sweep folders are
    shared, and writing into or through one must never write elsewhere."""
    if folder.is_symlink():
        raise UsageError(f"{what} {shown(folder)}: is a symbolic link; allowed: a real folder (chipstack "
                         f"does not follow links out of a sweep folder)")
    for name in WRITTEN_ENTRIES:
        if (folder / name).is_symlink():
            raise UsageError(f"{shown(folder / name)}: is a symbolic link; allowed: a sweep folder whose "
                             f"files and folders are its own (chipstack does not follow links out of it)")


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


# ---------------------------------------------------------------------------------------------
# The lock: one process at a time uses a sweep folder
#: File descriptors of the folder locks this process holds: forked workers close their copies at start
#: (``executors._worker_init``), so that the lock dies with the main process even while its workers
#: are still being killed.
HELD_LOCK_FDS: set[int] = set()


def close_inherited_locks() -> None:
    """In a forked worker: drop the copies of the parent's lock descriptors (the parent keeps the lock)."""
    for fd in list(HELD_LOCK_FDS):
        with contextlib.suppress(OSError):
            os.close(fd)
    HELD_LOCK_FDS.clear()


@contextlib.contextmanager
def folder_lock(folder: Path, shared: bool = False, create: bool = False) -> Iterator[None]:
    """Hold an OS lock (``flock``) on ``folder`` itself while the block runs: exclusive for a sweep or
    report that writes there, shared for a reader (``replicate``). The lock goes with the process
    (a crash or SIGKILL releases it) and leaves no file behind. ``create``: make the folder first.
    Raises UsageError at once when another chipstack process holds a conflicting lock."""
    if create:
        create_folder(folder)
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise UsageError(f"{shown(folder)}: cannot open the folder ({os_reason(exc)})") from None
    try:
        try:
            fcntl.flock(fd, (fcntl.LOCK_SH if shared else fcntl.LOCK_EX) | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UsageError(f"{shown(folder)}: cannot lock the folder ({os_reason(exc)})") from None
            raise UsageError(f"{shown(folder)}: in use by another chipstack process (a sweep, --resume, "
                             f"replicate or report holds its lock); allowed: wait until it ends, or "
                             f"another folder") from None
        HELD_LOCK_FDS.add(fd)
        yield
    finally:
        HELD_LOCK_FDS.discard(fd)
        os.close(fd)  # releases the lock


# ---------------------------------------------------------------------------------------------
# Part files: written with a record of their sha256, verified before --resume trusts them
def part_record(path: Path) -> Path:
    """``part-A-B.parquet`` -> ``part-A-B.json``: the part's sha256, run ids and rows, written after it."""
    return path.with_suffix(".json")


def write_part(parts_dir: Path, table: pa.Table, ids: list[str], chips: pa.Table | None = None) -> Path:
    """Write a finished task's rows as one atomic part file (its ``chips`` rows first, when the model
    has a per-chip table), then its record."""
    path = parts_dir / f"part-{ids[0]}-{ids[-1]}.parquet"
    chip_record = {} if chips is None else {"chips": write_chip_part(path, chips)}
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    write_json_atomic(part_record(path),
                      {"sha256": sha256_file(path), "run_ids": ids, "rows": table.num_rows, **chip_record})
    return path


def load_parts(parts_dir: Path, steps: int, schema: pa.Schema | None = None, chips: pa.Schema | None = None
               ) -> tuple[dict[Path, list[str]], list[tuple[Path, str]]]:
    """The saved parts that pass every check (part file -> its sorted run ids), and the others
    with why. A part is trusted only when its record exists, its sha256 matches the record, it reads
    as Parquet, its columns are ``schema``'s (names and types, in order; when given), it holds the recorded
    runs and each run has exactly ``steps`` rows, steps 0 to ``steps - 1``; and, when ``chips`` (the chip
    table's schema) is given, its chip part passes :func:`model.sweep.chip_table.check_chip_part`."""
    trusted: dict[Path, list[str]] = {}
    damaged: list[tuple[Path, str]] = []
    for path in sorted(parts_dir.glob("part-*.parquet")):
        ids, why = verify_part(path, steps, schema, chips)
        if ids is None:
            damaged.append((path, why))
        else:
            trusted[path] = ids
    return trusted, damaged


def verify_part(path: Path, steps: int, schema: pa.Schema | None = None, chips: pa.Schema | None = None
                ) -> tuple[list[str] | None, str]:
    """(its sorted run ids, "") for a part that passes the checks of :func:`load_parts`, else (None, why)."""
    try:
        record = json.loads(part_record(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None, "no record of its sha256 (the sweep stopped while writing it, or it is older)"
    except (OSError, ValueError) as exc:
        return None, f"its record {part_record(path).name} is unreadable ({type(exc).__name__})"
    if not isinstance(record, dict) or not isinstance(record.get("run_ids"), list):
        return None, f"its record {part_record(path).name} is not a part record"
    try:
        digest = sha256_file(path)
    except OSError as exc:
        return None, f"cannot be read ({os_reason(exc)})"
    if digest != record.get("sha256"):
        return None, "its sha256 differs from the one recorded when it was written (altered or damaged)"
    try:
        differ = None if schema is None else columns_differ(pq.read_schema(path), schema)
        if differ:
            return None, f"its columns are not the sweep's ({differ})"
        frame = pq.read_table(path, columns=["run_id", "step"]).to_pandas()
    except Exception as exc:  # noqa: BLE001 - any reader error means a damaged file
        return None, f"not a valid Parquet part ({type(exc).__name__})"
    steps_of = frame.groupby("run_id")["step"]
    ids = sorted(steps_of.groups)
    if ids != sorted(record["run_ids"]) or len(frame) != record.get("rows"):
        return None, "its runs or rows differ from its record"
    whole = ((steps_of.size() == steps) & (steps_of.nunique() == steps)
             & (steps_of.min() == 0) & (steps_of.max() == steps - 1))
    if not ids or not whole.all():
        return None, f"a run in it does not have exactly {steps} rows (steps 0 to {steps - 1})"
    why = "" if chips is None else check_chip_part(path, record, steps, chips)
    return (None, why) if why else (ids, "")


def discard_parts(damaged: list[tuple[Path, str]]) -> None:
    """Delete damaged parts and their records (their runs are run again), and records without a part."""
    for path, _ in damaged:
        path.unlink(missing_ok=True)
        part_record(path).unlink(missing_ok=True)
        chip_part(path).unlink(missing_ok=True)


def remove_leftovers(out_dir: Path) -> list[Path]:
    """Remove the temporary files an interrupted write left in the sweep folder (its ``.parts`` and
    ``figures`` too) and part records without a part; return what was removed. Call with the lock held."""
    removed = []
    for folder in (out_dir, out_dir / PARTS_DIR, out_dir / "figures"):
        removed += remove_stale_temporaries(folder)
    parts_dir = out_dir / PARTS_DIR
    if parts_dir.is_dir():
        for record in parts_dir.glob("part-*.json"):
            if not record.with_suffix(".parquet").exists():
                record.unlink(missing_ok=True)
                removed.append(record)
        for orphan in orphan_chip_parts(parts_dir):
            orphan.unlink(missing_ok=True)
            removed.append(orphan)
    return removed


# ---------------------------------------------------------------------------------------------
# A finished folder, checked again before --resume calls it complete
def verify_complete(out_dir: Path, experiment: Experiment) -> list[str]:
    """What is wrong with a folder whose manifest says 'complete' (empty when nothing is): every
    recorded file against its sha256, the data files recorded at all, and the manifest's root seed,
    run ids and seeds against the experiment's."""
    manifest = Manifest.load(out_dir)
    problems = [f"{name}: {why}" for name, why in manifest.altered_files()]
    chips = (CHIP_FILE,) if (out_dir / CHIP_FILE).exists() or (out_dir / CHIP_FILE).is_symlink() else ()
    problems += [f"{name}: not recorded in {MANIFEST}" for name in manifest.unrecorded(DATA_FILES + chips)]
    if manifest.data.get("root_seed") != experiment.seed:
        problems.append(f"{MANIFEST}: root_seed {shown(manifest.data.get('root_seed'))} is not the "
                        f"experiment's seed {experiment.seed}")
    runs = manifest.data.get("runs")
    if not isinstance(runs, list) or not all(isinstance(r, dict) for r in runs):
        problems.append(f"{MANIFEST}: key runs is not a list of runs")
    else:
        if len(runs) != manifest.counts.get("total"):
            problems.append(f"{MANIFEST}: counts.total differs from the number of runs listed")
        derived = build_design(experiment).derived_seeds(runs, _most_replications(experiment))
        bad = [r.get("run_id") for r in runs
               if not isinstance(r.get("seed"), int) or derived.get(r.get("run_id")) != r.get("seed")]
        if bad:
            problems.append(f"{MANIFEST}: the seeds of {len(bad)} runs are not the ones the experiment "
                            f"derives (first: run {shown(bad[0])})")
        problems += manifest.row_count_problems(len(runs))
    return problems


def _most_replications(experiment: Experiment) -> int:
    """The replications a point may have: ``replications``, or a precision target's maximum."""
    return max(experiment.replications, experiment.precision.max_replications if experiment.precision else 0)


def merge_parts(parts: dict[Path, list[str]], path: Path, schema: pa.Schema, steps: int,
                keep: set[str], chips: Path | None = None) -> pa.Table:
    """Stream the parts into ``path`` sorted by run_id then step (and their chip rows into ``chips``,
    when given); return the last step of each run (without its ``step`` and ``quarter``), in run_id order.

    Parts whose run-id ranges overlap are merged together; the others one at a time, so memory
    holds about one task's rows, however many runs there are. After each write the Arrow memory
    pool hands its freed pages back to the system: its allocator (mimalloc) otherwise keeps them
    for a while, and the many tables read and freed here would grow the process by ~20 MB at
    10,000 runs.
    """
    finals: list[pa.Table] = []
    dictionary = [f.name for f in schema if f.type == pa.string() and f.name != "run_id"]
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, use_dictionary=dictionary,
                                                    compression=COMPRESSION,
                                                    compression_level=COMPRESSION_LEVEL,
                                                    use_byte_stream_split=floats) as writer, \
            chip_merger(chips, COMPRESSION, COMPRESSION_LEVEL) as add_chips:
        buffer: list[pa.Table] = []
        for group in overlapping_groups(parts):
            add_chips(group, keep)
            table = pa.concat_tables([pq.read_table(p, schema=schema) for p in group])
            if not all(run_id in keep for p in group for run_id in parts[p]):
                table = table.filter(pc.is_in(table["run_id"], pa.array(sorted(keep))))
            table = table.sort_by([("run_id", "ascending"), ("step", "ascending")])
            finals.append(table.filter(pc.equal(table["step"], steps - 1)).drop_columns(["step", "quarter"]))
            buffer.append(table)
            del table
            if sum(t.num_rows for t in buffer) >= ROWS_PER_ROW_GROUP:
                writer.write_table(pa.concat_tables(buffer), row_group_size=ROWS_PER_ROW_GROUP)
                buffer = []
                release_arrow_memory()
        if buffer:
            writer.write_table(pa.concat_tables(buffer), row_group_size=ROWS_PER_ROW_GROUP)
        del buffer
    final = pa.concat_tables(finals) if finals else schema.empty_table().drop_columns(["step", "quarter"])
    release_arrow_memory()
    return final


def release_arrow_memory() -> None:
    """Return the memory Arrow's pool has freed to the system now, not after its allocator's delay."""
    pa.default_memory_pool().release_unused()


def overlapping_groups(parts: dict[Path, list[str]]) -> Iterator[list[Path]]:
    """Parts in run-id order, grouped where their [first, last] run-id ranges overlap."""
    ordered = sorted(parts.items(), key=lambda item: (item[1][0], item[1][-1]))
    group: list[Path] = []
    group_end = ""
    for path, ids in ordered:
        if group and ids[0] > group_end:
            yield group
            group = []
        group.append(path)
        group_end = max(group_end, ids[-1]) if len(group) > 1 else ids[-1]
    if group:
        yield group


def in_design_order(final: pa.Table, runs: list[Run]) -> pd.DataFrame:
    """The final rows as a DataFrame sorted by design point, then replication. Reordered in Arrow and
    converted column by column, freeing each Arrow column once converted, so that the rows are held
    about twice at most (not four times: Arrow's, the reordered copy, pandas' and its reordered copy).
    Numeric columns may share Arrow's memory and be read-only: copy the frame before changing it."""
    point_of = {run.run_id: run.point for run in runs}
    point = np.array([point_of.get(run_id, np.nan) for run_id in final["run_id"].to_pylist()], dtype=float)
    ordered = final.take(np.lexsort((final["replication"].to_numpy(), point)))
    release_arrow_memory()
    frame = ordered.to_pandas(split_blocks=True, self_destruct=True)
    del ordered
    release_arrow_memory()
    return frame


def write_final(final: pd.DataFrame, path: Path) -> None:
    """``final.csv``, written :data:`CSV_ROWS_PER_CHUNK` rows at a time."""
    with atomic_path(path) as tmp:
        final.to_csv(tmp, index=False, chunksize=CSV_ROWS_PER_CHUNK)
