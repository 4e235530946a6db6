"""``by_maker.csv``: each chipmaker's units sold in China and China revenue per quarter and design point,
mean and 95% interval over replications (2.5-97.5 percentiles: the spread of the runs, not of the mean),
from the per-maker reporters (``units_<maker>``, ``revenue_<maker>``, INTERFACES §2). Written by the report
of every sweep (``chipstack sweep`` / ``chipstack report``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from model.analysis.sweep_data import Sweep
from model.core.reporters import MAKER_COLUMNS


def summarise(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys`` (e.g. design point, step, quarter) and chipmaker: units and revenue, mean and
    2.5-97.5 percentiles over the group's runs. ``runs`` holds the per-maker reporters."""
    rows = []
    for key, g in runs.groupby(keys, sort=True):
        point = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        for maker, (units_col, revenue_col) in MAKER_COLUMNS.items():
            u = g[units_col].to_numpy(dtype=float)
            r = g[revenue_col].to_numpy(dtype=float)
            rows.append({**point, "maker": maker,
                         "units": float(u.mean()), "units_lo": float(np.percentile(u, 2.5)),
                         "units_hi": float(np.percentile(u, 97.5)),
                         "revenue_usd": float(r.mean()), "revenue_usd_lo": float(np.percentile(r, 2.5)),
                         "revenue_usd_hi": float(np.percentile(r, 97.5)), "runs": len(g)})
    return pd.DataFrame(rows)


def by_maker_table(sweep: Sweep) -> pd.DataFrame:
    """quarter (and the varying parameters), maker, units, units_lo, units_hi, revenue_usd (+ lo, hi), runs.

    Empty when ``runs.parquet`` lacks the per-maker reporters (a sweep from before they existed) or a
    design column the manifest names (the report notes nothing is written then)."""
    columns = [c for pair in MAKER_COLUMNS.values() for c in pair]
    keys = list(sweep.grid_params) + list(sweep.sample_params)
    if sweep.sample_params:  # sampled designs: one point per sample index
        keys = ["sample_index"]
    available = set(pq.read_schema(sweep.runs_path).names)
    if not set([*keys, "step", "quarter", *columns]) <= available:
        return pd.DataFrame()
    return summarise(sweep.runs([*keys, "step", "quarter", *columns]), [*keys, "step", "quarter"])
