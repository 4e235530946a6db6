"""The sweep's second table, ``chip_sales.parquet`` (INTERFACES §5): one row per run, step and chip sold,
for model classes with a per-chip table (:func:`model.sweep.protocol.has_chip_table`; ``ChipMarketModel``:
units, revenue and FLOP-based compute sold in China per chip and quarter).

It goes through the store as ``runs.parquet`` does: a task's rows are written as a part
(``.parts/chips-A-B.parquet``) *before* the task's ``part-A-B.parquet``, whose record holds the chip
part's sha256 and rows, so a task is saved only when both are (``--resume`` trusts a part only when its
chip part passes the same checks, else both are run again); the parts are merged into
``chip_sales.parquet`` sorted by run_id, step, chip, recorded under the manifest's ``files`` and compared
by ``replicate``. A chip a run did not sell in a quarter has no row (0 units, 0 revenue)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from model.core.reporters import CHIP_VALUES
from model.sweep.io import atomic_path, sha256_file

#: The merged table's file name in the sweep folder.
CHIP_FILE = "chip_sales.parquet"
#: Rows per row group of the merged table (as ``runs.parquet``'s).
ROWS_PER_ROW_GROUP = 16384
#: The sort order (and key) of its rows.
CHIP_KEY = ("run_id", "step", "chip")


def chip_schema() -> pa.Schema:
    """Columns of ``chip_sales.parquet``: run_id, step, quarter, chip, maker and :data:`CHIP_VALUES`."""
    return pa.schema([pa.field("run_id", pa.string()), pa.field("step", pa.int64()),
                      pa.field("quarter", pa.string()), pa.field("chip", pa.string()),
                      pa.field("maker", pa.string()), *(pa.field(v, pa.float64()) for v in CHIP_VALUES)])


def chip_part(part: Path) -> Path:
    """``part-A-B.parquet`` -> ``chips-A-B.parquet``, the task's chip rows beside it."""
    return part.with_name("chips-" + part.name.removeprefix("part-"))


def write_chip_part(part: Path, table: pa.Table) -> dict:
    """Write the chip rows of the task whose part will be ``part``; return their record (sha256, rows)."""
    path = chip_part(part)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)
    return {"sha256": sha256_file(path), "rows": table.num_rows}


def check_chip_part(part: Path, record: dict, steps: int, schema: pa.Schema) -> str:
    """'' when the chip part of ``part`` matches ``record["chips"]`` (sha256, rows), has ``schema``'s
    columns and holds only the part's runs at steps 0 to ``steps - 1``; else why not."""
    from model.sweep.resume_checks import columns_differ

    path, chips = chip_part(part), record.get("chips")
    if not isinstance(chips, dict):
        return "no record of its chip rows (written by older code)"
    try:
        if sha256_file(path) != chips.get("sha256"):
            return f"{path.name}: its sha256 differs from the one recorded when it was written"
        differ = columns_differ(pq.read_schema(path), schema)
        if differ:
            return f"{path.name}: its columns are not the sweep's ({differ})"
        table = pq.read_table(path, columns=["run_id", "step"])
    except FileNotFoundError:
        return f"{path.name}: missing"
    except Exception as exc:  # noqa: BLE001 - any reader error means a damaged file
        return f"{path.name}: not a valid Parquet part ({type(exc).__name__})"
    if table.num_rows != chips.get("rows"):
        return f"{path.name}: its rows differ from its record"
    runs = set(pc.unique(table["run_id"]).to_pylist())
    step = table["step"]
    if not runs <= set(record["run_ids"]) or (table.num_rows and not (
            pc.min(step).as_py() >= 0 and pc.max(step).as_py() < steps)):
        return f"{path.name}: holds runs or steps that are not the part's"
    return ""


def discard_chip_part(part: Path) -> None:
    chip_part(part).unlink(missing_ok=True)


def orphan_chip_parts(parts_dir: Path) -> list[Path]:
    """Chip parts without the task's part record (the sweep stopped between the two writes)."""
    return [p for p in parts_dir.glob("chips-*.parquet")
            if not (parts_dir / ("part-" + p.name.removeprefix("chips-"))).with_suffix(".json").exists()]


@contextlib.contextmanager
def chip_merger(path: Path | None, compression: str, level: int
                ) -> Iterator[Callable[[list[Path], set], None]]:
    """A function ``add(parts, keep)`` that appends the chip rows of a group of task parts (the runs in
    ``keep``), sorted by :data:`CHIP_KEY`, to the table written at ``path`` (atomically, at the end of
    the block): the store's merge calls it with each group of parts it merges into ``runs.parquet``, in
    run-id order, so memory holds one group's rows. ``path`` None: nothing is written (a model class
    without a per-chip table)."""
    if path is None:
        yield lambda parts, keep: None
        return
    schema = chip_schema()
    floats = [f.name for f in schema if pa.types.is_floating(f.type)]
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, use_dictionary=["quarter", "chip", "maker"],
                                                    compression=compression, compression_level=level,
                                                    use_byte_stream_split=floats) as writer:
        buffer: list[pa.Table] = []

        def add(parts: list[Path], keep: set) -> None:
            table = pa.concat_tables([pq.read_table(chip_part(p), schema=schema) for p in parts])
            table = table.filter(pc.is_in(table["run_id"], pa.array(sorted(keep), pa.string())))
            buffer.append(table.sort_by([(k, "ascending") for k in CHIP_KEY]))
            if sum(t.num_rows for t in buffer) >= ROWS_PER_ROW_GROUP:
                writer.write_table(pa.concat_tables(buffer), row_group_size=ROWS_PER_ROW_GROUP)
                buffer.clear()

        yield add
        if buffer:
            writer.write_table(pa.concat_tables(buffer), row_group_size=ROWS_PER_ROW_GROUP)
