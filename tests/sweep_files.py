"""Test helpers shared by the sweep tests: write an experiment file, read a sweep folder's data files,
and require two folders to hold identical data."""

import json
from pathlib import Path

import pandas as pd


def write_toml(path: Path, data: dict) -> Path:
    lines = []
    for section, table in data.items():
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def read_all(out: Path) -> dict[str, pd.DataFrame]:
    return {"runs": pd.read_parquet(out / "runs.parquet"), "final": pd.read_csv(out / "final.csv"),
            "summary": pd.read_csv(out / "summary.csv")}


def assert_same_data(a: Path, b: Path) -> None:
    left, right = read_all(a), read_all(b)
    for key in left:
        pd.testing.assert_frame_equal(left[key], right[key], check_exact=True, obj=key)
