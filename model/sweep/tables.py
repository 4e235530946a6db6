"""``summary.csv`` and ``failures.csv`` of a finished sweep (INTERFACES §5), written atomically from the
final rows the store's merge returns (:func:`model.sweep.store.merge_parts`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from model.sweep.design import Design, Run
from model.sweep.io import atomic_path
from model.sweep.stats import CI_HIGH, CI_LOW, MEAN, N_RUNS, half_width


def _design_position(runs: list[Run]) -> dict[str, tuple[int, int]]:
    return {run.run_id: (run.point, run.replication) for run in runs}


def write_summary(final: pd.DataFrame, design: Design, runs: list[Run], path: Path,
                  reporters: Sequence[str]) -> None:
    """One row per design point: n_runs and mean, sd and 95% t-interval of each of ``reporters``
    (the model class's reporter names, in order)."""
    with atomic_path(path) as tmp:
        summary_frame(final, design, runs, reporters).to_csv(tmp, index=False)


def summary_frame(final: pd.DataFrame, design: Design, runs: list[Run],
                  reporters: Sequence[str]) -> pd.DataFrame:
    point_of = {run.run_id: run.point for run in runs}
    points = pd.DataFrame([{**({"sample_index": p.sample_index} if design.sample else {}), **p.values}
                           for p in design.points])
    grouped = final.assign(_point=final["run_id"].map(point_of)).groupby("_point")
    groups = grouped[list(reporters)]
    n = grouped.size().reindex(range(len(points)), fill_value=0)
    mean = groups.mean().reindex(range(len(points)))
    sd = groups.std(ddof=1).reindex(range(len(points)))
    half = half_width(sd.to_numpy(), n.to_numpy()[:, None])
    columns = {N_RUNS: n.to_numpy()}
    for k, name in enumerate(reporters):
        columns[f"{name}{MEAN}"] = mean[name].to_numpy()
        columns[f"{name}_sd"] = sd[name].to_numpy()
        columns[f"{name}{CI_LOW}"] = mean[name].to_numpy() - half[:, k]
        columns[f"{name}{CI_HIGH}"] = mean[name].to_numpy() + half[:, k]
    return pd.concat([points, pd.DataFrame(columns)], axis=1)


def write_failures(failures: list[dict], runs: list[Run], path: Path) -> None:
    position = _design_position(runs)
    rows = sorted(failures, key=lambda f: position[f["run_id"]])
    frame = pd.DataFrame(rows)
    if frame["sample_index"].isna().all():
        frame = frame.drop(columns=["sample_index"])
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
