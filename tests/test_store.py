"""The sweep's output stage (model.sweep.store, model.sweep.io): the streamed merge of the part files
gives the table that reading every part at once would, and the memory-bounded writers of final.csv
and manifest.json write the text that the one-shot pandas and json calls would."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from model import MODEL_REPORTERS
from model.sweep import store
from model.sweep.design import build_design
from model.sweep.experiment import experiment_from_dict
from model.sweep.io import write_json_atomic
from model.sweep.tasks import output_schema

STEPS = 5


def experiment(replications: int = 40):
    return experiment_from_dict({
        "experiment": {"name": "store", "description": "test", "steps": STEPS,
                       "replications": replications, "seed": 3},
        "parameters": {"n_developers": 20},
        "grid": {"export_regime": ["ban", "open"], "china_import_policy": ["open", "restrict"]}})


def fake_rows(runs, schema: pa.Schema, rng: np.random.Generator) -> pa.Table:
    """Rows of ``runs`` in ``schema`` (STEPS each, steps shuffled), with random reporter values
    (NaN, negative zero and extremes among them)."""
    rows = len(runs) * STEPS
    data = {
        "run_id": np.repeat([r.run_id for r in runs], STEPS),
        "replication": np.repeat([r.replication for r in runs], STEPS),
        "seed": np.repeat([r.seed for r in runs], STEPS),
        "export_regime": np.repeat([r.values["export_regime"] for r in runs], STEPS),
        "china_import_policy": np.repeat([r.values["china_import_policy"] for r in runs], STEPS),
        "step": np.concatenate([rng.permutation(STEPS) for _ in runs]),
    }
    data["quarter"] = [f"20{25 + s // 4}Q{s % 4 + 1}" for s in data["step"]]
    special = np.array([np.nan, -0.0, 1e-300, 1.7976931348623157e308, 0.1, 1 / 3])
    for name in MODEL_REPORTERS:
        values = rng.normal(size=rows) * 10.0 ** rng.integers(-8, 8, size=rows)
        pick = rng.random(rows) < 0.05
        values[pick] = rng.choice(special, size=pick.sum())
        data[name] = values
    return pa.table({f.name: pa.array(data[f.name], type=f.type) for f in schema}, schema=schema)


@pytest.fixture
def parts(tmp_path):
    """Part files of a 160-run design, each of several row groups: most in disjoint run-id ranges as
    the runner writes them, two of them overlapping (as after a resume), and runs outside the current
    design among them (to be filtered out)."""
    exp = experiment()
    design = build_design(exp)
    schema = output_schema(exp)
    rng = np.random.default_rng(7)
    runs = sorted(design.runs, key=lambda r: r.run_id)
    extra = sorted(build_design(experiment(replications=44)).runs, key=lambda r: r.run_id)
    extra = [r for r in extra if r.run_id not in {x.run_id for x in runs}][:6]
    chunks = [runs[i:i + 23] for i in range(0, 115, 23)]
    chunks.append(sorted(runs[115:160:2] + extra[:3], key=lambda r: r.run_id))  # overlaps the next
    chunks.append(sorted(runs[116:160:2] + extra[3:], key=lambda r: r.run_id))
    parts_dir = tmp_path / ".parts"
    parts_dir.mkdir()
    found = {}
    for k, chunk in enumerate(chunks):
        table = fake_rows(chunk, schema, rng)
        path = parts_dir / f"part-{k:03d}.parquet"
        pq.write_table(table, path, row_group_size=17)
        assert pq.ParquetFile(path).num_row_groups > 1
        found[path] = sorted(r.run_id for r in chunk)
    return found, schema, {r.run_id for r in runs}, design


def assert_same_table(got: pa.Table, want: pa.Table) -> None:
    """Same columns, types and rows, bit for bit (NaN and -0.0 included); schema metadata aside."""
    assert got.schema.equals(want.schema, check_metadata=False)
    assert got.num_rows == want.num_rows
    for name in got.column_names:
        a, b = got[name], want[name]
        if pa.types.is_floating(a.type):
            assert a.null_count == b.null_count == 0
            assert np.array_equal(a.to_numpy().view(np.int64), b.to_numpy().view(np.int64)), name
        else:
            assert a.to_pylist() == b.to_pylist(), name


def expected_merge(parts: dict, schema: pa.Schema, keep: set[str]) -> pa.Table:
    whole = pa.concat_tables([pq.read_table(p, schema=schema) for p in parts])
    whole = whole.filter(pc.is_in(whole["run_id"], pa.array(sorted(keep))))
    return whole.sort_by([("run_id", "ascending"), ("step", "ascending")])


@pytest.mark.parametrize("rows_per_row_group", [4096, 50, 7])
def test_streamed_merge_equals_reading_every_part_at_once(parts, tmp_path, monkeypatch, rows_per_row_group):
    found, schema, keep, _ = parts
    monkeypatch.setattr(store, "ROWS_PER_ROW_GROUP", rows_per_row_group)
    out = tmp_path / "runs.parquet"
    final = store.merge_parts(found, out, schema, STEPS, keep)

    expected = expected_merge(found, schema, keep)
    merged = pq.read_table(out)
    assert merged.num_rows == len(keep) * STEPS
    assert_same_table(merged, expected)
    assert merged.schema.equals(schema, check_metadata=False)
    meta = pq.ParquetFile(out).metadata
    assert meta.num_row_groups >= min(-(-merged.num_rows // rows_per_row_group), 10)
    assert all(meta.row_group(i).num_rows <= rows_per_row_group for i in range(meta.num_row_groups))
    assert {meta.row_group(0).column(j).compression for j in range(meta.num_columns)} == {"ZSTD"}

    last = expected.filter(pc.equal(expected["step"], STEPS - 1)).drop_columns(["step", "quarter"])
    assert_same_table(final, last)
    assert final["run_id"].to_pylist() == sorted(keep)
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


def test_merged_file_is_the_same_bytes_whatever_the_parts_hold_in_memory(parts, tmp_path):
    """Two merges of the same parts write the same bytes (the manifest records runs.parquet's sha256)."""
    found, schema, keep, _ = parts
    store.merge_parts(found, tmp_path / "a.parquet", schema, STEPS, keep)
    store.merge_parts(dict(reversed(found.items())), tmp_path / "b.parquet", schema, STEPS, keep)
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()


def test_final_rows_in_design_order(parts, tmp_path):
    found, schema, keep, design = parts
    final = store.merge_parts(found, tmp_path / "runs.parquet", schema, STEPS, keep)
    ordered = store.in_design_order(final, design.runs)
    position = {r.run_id: (r.point, r.replication) for r in design.runs}
    assert [position[i] for i in ordered["run_id"]] == sorted(position.values())
    # the order pandas gave before (the rows as a DataFrame, sorted by design point then replication)
    frame = final.to_pandas()
    point = frame["run_id"].map({r.run_id: r.point for r in design.runs}).to_numpy()
    before = frame.iloc[np.lexsort((frame["replication"].to_numpy(), point))].reset_index(drop=True)
    pd.testing.assert_frame_equal(ordered, before, check_exact=True)


def test_final_csv_in_chunks_is_the_text_of_one_to_csv(parts, tmp_path, monkeypatch):
    found, schema, keep, design = parts
    final = store.in_design_order(store.merge_parts(found, tmp_path / "r.parquet", schema, STEPS, keep),
                                  design.runs).copy()  # its columns may be read-only
    final["flag"] = np.arange(len(final)) % 3 == 0
    final["count"] = np.arange(len(final)) * 7 - 100
    final.loc[5, "us_stack_share"] = np.nan
    for rows in (store.CSV_ROWS_PER_CHUNK, 7, 1):
        monkeypatch.setattr(store, "CSV_ROWS_PER_CHUNK", rows)
        store.write_final(final, tmp_path / "final.csv")
        assert (tmp_path / "final.csv").read_text() == final.to_csv(index=False)


def test_streamed_json_is_the_text_of_json_dumps(tmp_path):
    data = {"runs": [{"run_id": f"{i:016x}", "seed": 2**62 + i, "params": {"x": i / 7, "s": "é\n\"q\""},
                      "sample_index": None} for i in range(500)],
            "nan": float("nan"), "path": tmp_path, "nested": {"a": [1, [2, {"b": []}]], "e": {}}}
    write_json_atomic(tmp_path / "m.json", data)
    assert (tmp_path / "m.json").read_text(encoding="utf-8") == json.dumps(data, indent=2, default=str) + "\n"
    assert not list(tmp_path.glob(".*.tmp"))
