"""``by_maker.csv``: each chipmaker's units sold in China and China revenue per quarter and design point,
mean and 95% interval over replications (2.5-97.5 percentiles: the spread of the runs, not of the mean),
from the per-maker reporters (``units_<maker>``, ``revenue_<maker>``, INTERFACES §2). Written by the report
of every sweep (``chipstack sweep`` / ``chipstack report``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from model.analysis.sweep_data import Sweep
from model.core.catalogue import MAKERS


def by_maker_table(sweep: Sweep) -> pd.DataFrame:
    """quarter (and the varying parameters), maker, units, units_lo, units_hi, revenue_usd (+ lo, hi), runs.

    Empty when ``runs.parquet`` lacks the per-maker reporters (a sweep from before they existed) or a
    design column the manifest names (the report notes nothing is written then)."""
    makers = [m.name for m in MAKERS]
    columns = [f"{kind}_{m.lower()}" for m in makers for kind in ("units", "revenue")]
    keys = list(sweep.grid_params) + list(sweep.sample_params)
    if sweep.sample_params:  # sampled designs: one point per sample index
        keys = ["sample_index"]
    available = set(pq.read_schema(sweep.runs_path).names)
    if not set([*keys, "step", "quarter", *columns]) <= available:
        return pd.DataFrame()
    runs = sweep.runs([*keys, "step", "quarter", *columns])
    rows = []
    for key, g in runs.groupby([*keys, "step", "quarter"], sort=True):
        point = dict(zip([*keys, "step", "quarter"], key if isinstance(key, tuple) else (key,), strict=True))
        for maker in makers:
            u = g[f"units_{maker.lower()}"].to_numpy(dtype=float)
            r = g[f"revenue_{maker.lower()}"].to_numpy(dtype=float)
            rows.append({**point, "maker": maker,
                         "units": float(u.mean()), "units_lo": float(np.percentile(u, 2.5)),
                         "units_hi": float(np.percentile(u, 97.5)),
                         "revenue_usd": float(r.mean()), "revenue_usd_lo": float(np.percentile(r, 2.5)),
                         "revenue_usd_hi": float(np.percentile(r, 97.5)), "runs": len(g)})
    return pd.DataFrame(rows)
