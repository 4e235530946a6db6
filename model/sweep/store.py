"""The sweep folder on disk (INTERFACES §5): the checks before a sweep may use a folder, the merge of
the saved part files into ``runs.parquet``, and ``final.csv``, ``summary.csv`` and ``failures.csv``.
The manifest is :mod:`model.sweep.manifest`'s."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from model.core.chip_market import MODEL_REPORTERS
from model.sweep.design import Design, Run
from model.sweep.errors import UsageError
from model.sweep.experiment import Experiment
from model.sweep.io import atomic_path
from model.sweep.manifest import MANIFEST, Manifest
from model.sweep.stats import half_width

PARTS_DIR = ".parts"
SPEC_FILE = "experiment.json"
ROWS_PER_ROW_GROUP = 4096  # small row groups keep the writer's buffers small


# ---------------------------------------------------------------------------------------------
# Output folder checks (all before anything is created)
def check_output_folder(out_dir: Path, experiment: Experiment, resume: bool) -> str:
    """'fresh', 'partial' or 'complete'. Raises UsageError when the folder may not be used."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {str(out_dir)!r}: exists and is not a folder; allowed: a folder path")
    if not _has_files(out_dir):
        return "fresh"
    if not resume:
        raise UsageError(f"output folder {str(out_dir)!r} is not empty; allowed: --resume to finish the "
                         f"sweep saved there, another --out folder, or delete the folder first")
    saved = _saved_fingerprint(out_dir)
    if saved is None:
        raise UsageError(f"--resume: output folder {str(out_dir)!r} holds no chipstack sweep "
                         f"(no {MANIFEST} or {PARTS_DIR}/{SPEC_FILE}); allowed: a folder written by "
                         f"'chipstack sweep', or another --out folder")
    if saved != experiment.fingerprint():
        raise UsageError(f"--resume: output folder {str(out_dir)!r} holds a sweep of a different experiment "
                         f"(its design, steps, seed or parameters differ from {experiment.source}); "
                         f"allowed: the same experiment, or another --out folder")
    return "complete" if _manifest_complete(out_dir) else "partial"


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def _saved_fingerprint(out_dir: Path) -> str | None:
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return json.loads((out_dir / PARTS_DIR / SPEC_FILE).read_text(encoding="utf-8"))["fingerprint"]
    with contextlib.suppress(UsageError, KeyError):
        return Manifest.load(out_dir).data["fingerprint"]
    return None


def _manifest_complete(out_dir: Path) -> bool:
    try:
        return Manifest.load(out_dir).complete
    except UsageError:
        return False


def merge_parts(parts: dict[Path, list[str]], path: Path, schema: pa.Schema, steps: int,
                keep: set[str]) -> pd.DataFrame:
    """Stream the parts into ``path`` sorted by run_id then step; return the last step of each run.

    Parts whose run-id ranges overlap are merged together; the others one at a time, so memory
    holds about one task's rows, however many runs there are.
    """
    finals: list[pa.Table] = []
    dictionary = [f.name for f in schema if f.type == pa.string() and f.name != "run_id"]
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, use_dictionary=dictionary) as writer:
        buffer: list[pa.Table] = []
        for group in overlapping_groups(parts):
            table = pa.concat_tables([pq.read_table(p, schema=schema) for p in group])
            if not all(run_id in keep for p in group for run_id in parts[p]):
                table = table.filter(pc.is_in(table["run_id"], pa.array(sorted(keep))))
            table = table.sort_by([("run_id", "ascending"), ("step", "ascending")])
            finals.append(table.filter(pc.equal(table["step"], steps - 1)))
            buffer.append(table)
            if sum(t.num_rows for t in buffer) >= ROWS_PER_ROW_GROUP:
                writer.write_table(pa.concat_tables(buffer), row_group_size=ROWS_PER_ROW_GROUP)
                buffer = []
        if buffer:
            writer.write_table(pa.concat_tables(buffer), row_group_size=ROWS_PER_ROW_GROUP)
    final = pa.concat_tables(finals) if finals else schema.empty_table()
    return final.drop_columns(["step", "quarter"]).to_pandas()


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


def _design_position(runs: list[Run]) -> dict[str, tuple[int, int]]:
    return {run.run_id: (run.point, run.replication) for run in runs}


def in_design_order(final: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """Rows sorted by design point, then replication."""
    point = final["run_id"].map({run.run_id: run.point for run in runs}).to_numpy()
    order = np.lexsort((final["replication"].to_numpy(), point))
    return final.iloc[order].reset_index(drop=True)


def write_summary(final: pd.DataFrame, design: Design, runs: list[Run], path: Path) -> None:
    """One row per design point: n_runs and mean, sd and 95% t-interval of each reporter."""
    with atomic_path(path) as tmp:
        summary_frame(final, design, runs).to_csv(tmp, index=False)


def summary_frame(final: pd.DataFrame, design: Design, runs: list[Run]) -> pd.DataFrame:
    point_of = {run.run_id: run.point for run in runs}
    points = pd.DataFrame([{**({"sample_index": p.sample_index} if design.sample else {}), **p.values}
                           for p in design.points])
    grouped = final.assign(_point=final["run_id"].map(point_of)).groupby("_point")
    groups = grouped[list(MODEL_REPORTERS)]
    n = grouped.size().reindex(range(len(points)), fill_value=0)
    mean = groups.mean().reindex(range(len(points)))
    sd = groups.std(ddof=1).reindex(range(len(points)))
    half = half_width(sd.to_numpy(), n.to_numpy()[:, None])
    columns = {"n_runs": n.to_numpy()}
    for k, name in enumerate(MODEL_REPORTERS):
        columns[f"{name}_mean"] = mean[name].to_numpy()
        columns[f"{name}_sd"] = sd[name].to_numpy()
        columns[f"{name}_ci_low"] = mean[name].to_numpy() - half[:, k]
        columns[f"{name}_ci_high"] = mean[name].to_numpy() + half[:, k]
    return pd.concat([points, pd.DataFrame(columns)], axis=1)


def write_failures(failures: list[dict], runs: list[Run], path: Path) -> None:
    position = _design_position(runs)
    rows = sorted(failures, key=lambda f: position[f["run_id"]])
    frame = pd.DataFrame(rows)
    if frame["sample_index"].isna().all():
        frame = frame.drop(columns=["sample_index"])
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
