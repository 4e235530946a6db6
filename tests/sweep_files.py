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
    """The data files of a sweep folder (``chip_sales.parquet`` too when the sweep wrote one)."""
    data = {"runs": pd.read_parquet(out / "runs.parquet"), "final": pd.read_csv(out / "final.csv"),
            "summary": pd.read_csv(out / "summary.csv")}
    if (out / "chip_sales.parquet").exists():
        data["chips"] = pd.read_parquet(out / "chip_sales.parquet")
    return data


def assert_same_data(a: Path, b: Path) -> None:
    left, right = read_all(a), read_all(b)
    assert set(left) == set(right), f"data files differ: {sorted(set(left) ^ set(right))}"
    for key in left:
        pd.testing.assert_frame_equal(left[key], right[key], check_exact=True, obj=key)
