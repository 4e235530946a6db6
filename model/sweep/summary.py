"""The summary table that ``chipstack sweep`` prints at the end (returned as text): the final value of
a reporter (mean and 95% interval) per design point, read from the sweep folder's ``summary.csv`` and
manifest."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from model.sweep.manifest import MANIFEST


def summary_text(out_dir: Path, reporter: str | None = None) -> str:
    """Readable table of the final ``reporter`` (mean and 95% interval) per design point; by default
    the model's first reporter (the manifest's ``reporters``; ``us_stack_share`` for ChipMarketModel)."""
    manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    reporter = reporter or (manifest.get("reporters") or ["us_stack_share"])[0]
    summary = pd.read_csv(out_dir / "summary.csv")
    exp = manifest["experiment"]
    counts = manifest["counts"]
    low, high = summary["n_runs"].min(), summary["n_runs"].max()
    per_point = f"{low}" if low == high else f"{low}-{high}"
    precision = manifest["design"].get("precision")
    target = (f" (until the 95% CI half-width of {precision['reporter']} <= {precision['half_width']:g},"
              f" at most {precision['max_replications']}{_missed(summary, precision)})") if precision else ""
    head = (f"chipstack sweep {exp['name']}: {counts['done']} of {counts['total']} runs done, "
            f"{counts['failed']} failed; {exp['steps']} quarters, {per_point} runs per point{target}, "
            f"root seed {manifest['root_seed']}\n"
            f"final {reporter}: mean [95% interval] per design point; outputs in {out_dir}")
    grid = manifest["design"]["grid"]
    if manifest["design"]["sample"] is not None:
        body = _sample_text(summary, out_dir, reporter)
    elif grid:
        body = _grid_text(summary, list(grid), grid, reporter)
    else:
        body = _cell(summary.iloc[0], reporter) if len(summary) else "(no runs)"
    return f"{head}\n\n{body}"


def _missed(summary: pd.DataFrame, precision: dict) -> str:
    """'; target not reached at K of N points' when the half-width is still wider somewhere."""
    reporter = precision["reporter"]
    if f"{reporter}_ci_high" not in summary:
        return ""
    half = (summary[f"{reporter}_ci_high"] - summary[f"{reporter}_ci_low"]) / 2
    missed = int((~(half <= precision["half_width"])).sum())
    return f"; target not reached at {missed} of {len(summary)} points" if missed else ""


def _grid_text(summary: pd.DataFrame, axes: list[str], grid: dict, reporter: str) -> str:
    """Rows x columns from the first two axes; one table per combination of the other axes."""
    rows = axes[0]
    cols = axes[1] if len(axes) > 1 else None
    blocks = []
    for _, block in summary.groupby(axes[2:], sort=False) if len(axes) > 2 else [((), summary)]:
        title = ", ".join(f"{a} = {_fmt(block.iloc[0][a])}" for a in axes[2:])
        blocks.append((title + "\n" if title else "") + _table(block, rows, cols, grid, reporter))
    return "\n\n".join(blocks)


def _table(block: pd.DataFrame, rows: str, cols: str | None, grid: dict, reporter: str) -> str:
    col_values = grid[cols] if cols else [None]
    width = 24
    corner = f"{rows} \\ {cols}" if cols else rows
    label_width = max(len(corner), *(len(_fmt(v)) for v in grid[rows])) + 2
    titles = [_fmt(c) if cols else reporter for c in col_values]
    lines = [f"{corner:<{label_width}}" + "".join(f"{t:>{width}}" for t in titles)]
    for r in grid[rows]:
        cells = []
        for c in col_values:
            match = block[_equal(block[rows], r) & (_equal(block[cols], c) if cols else True)]
            cells.append(_cell(match.iloc[0], reporter) if len(match) else "-")
        lines.append(f"{_fmt(r):<{label_width}}" + "".join(f"{cell:>{width}}" for cell in cells))
    return "\n".join(lines)


def _equal(column: pd.Series, value) -> pd.Series:
    if isinstance(value, float) or isinstance(value, int) and not isinstance(value, bool):
        return np.isclose(column.astype(float), float(value))
    return column.astype(str) == str(value)


def _sample_text(summary: pd.DataFrame, out_dir: Path, reporter: str) -> str:
    values = summary[f"{reporter}_mean"].dropna()
    text = (f"{len(summary)} sample points: final {reporter} across points "
            f"mean {values.mean():.3f}, min {values.min():.3f}, max {values.max():.3f}")
    sensitivity = out_dir / "sensitivity.csv"
    if sensitivity.is_file():
        table = pd.read_csv(sensitivity)
        text += f"\n\nsensitivity indices ({sensitivity}):\n" + table.head(20).to_string(index=False)
    return text


def _cell(row: pd.Series, reporter: str) -> str:
    mean, low, high = (row[f"{reporter}_{k}"] for k in ("mean", "ci_low", "ci_high"))
    if pd.isna(mean):
        return "n/a"
    if pd.isna(low):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _fmt(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
