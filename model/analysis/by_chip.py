"""``by_chip.csv``: each chip's units sold in China, China revenue and FLOP-based compute sold (H100e) per
quarter and design point: the mean over the point's runs and its 95% t-interval (``_mean``, ``_ci_low``,
``_ci_high``: an interval of the mean, not the spread of the runs; the naming scheme is
:mod:`model.sweep.stats`'s). Drawn by the report of every sweep whose model has a per-chip table, from the
sweep's ``chip_sales.parquet`` (INTERFACES §5).

``chip_sales.parquet`` holds a row only where a run sold a chip; a run without a row sold none of it that
quarter, so it counts as 0 here. A chip has rows at a design point and quarter when at least one of the
point's runs sold it then; summed over a maker's chips, ``units_mean`` and ``revenue_usd_mean`` are the
maker's in ``by_maker.csv`` (up to rounding)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.analysis.by_maker import point_keys
from model.analysis.sweep_data import Sweep
from model.core import catalogue
from model.core.reporters import CHIP_VALUES
from model.sweep.stats import CI_HIGH, CI_LOW, MEAN, N_RUNS, half_width


def by_chip_table(sweep: Sweep) -> pd.DataFrame:
    """The design point's columns (``by_maker.point_keys``), step, quarter, maker, chip, n_runs, and for
    each of units, revenue_usd and compute_h100e its ``_mean``, ``_ci_low`` and ``_ci_high``.

    Empty when the sweep has no ``chip_sales.parquet`` (a model without a per-chip table, or a sweep from
    before it) or ``runs.parquet`` lacks a design column (the report notes nothing is written then)."""
    keys = point_keys(sweep)
    if sweep.chips_path is None or not set(keys) <= set(sweep.run_columns):
        return pd.DataFrame()
    runs = sweep.runs(["run_id", *keys]).drop_duplicates("run_id")
    chips = pd.read_parquet(sweep.chips_path)
    return summarise_chips(chips, runs, keys)


def summarise_chips(chips: pd.DataFrame, runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per design point (``keys``; ``runs``: one row per run with its ``run_id`` and ``keys``), step and
    chip sold there by any run: the mean over the point's runs of each of ``CHIP_VALUES`` (0 for a run
    without a row) and its 95% t-interval (NaN with one run; zero width when the runs agree).

    Rows are sorted by the point's keys, step, then chip in the order of the catalogue in force (makers in
    order, US first; a chip it does not hold, e.g. one added in another process, after them by name)."""
    runs = runs.assign(_point=runs.groupby(keys, sort=True, dropna=False).ngroup())
    data = chips.merge(runs[["run_id", "_point"]], on="run_id", how="inner")
    where = ["_point", "step", "chip"]
    # every (point, step, chip) sold by some run of the point, crossed with every run of the point
    cells = data[[*where, "quarter", "maker"]].drop_duplicates(where)
    full = cells.merge(runs[["run_id", "_point"]], on="_point")
    full = full.merge(data[[*where, "run_id", *CHIP_VALUES]], on=[*where, "run_id"], how="left")
    full[list(CHIP_VALUES)] = full[list(CHIP_VALUES)].fillna(0.0)
    grouped = full.groupby(where, sort=False)
    mean, sd, n = grouped[list(CHIP_VALUES)].mean(), grouped[list(CHIP_VALUES)].std(ddof=1), grouped.size()
    half = half_width(sd.to_numpy(), n.to_numpy()[:, None])
    known = {name: k for k, name in enumerate(catalogue.catalogue_arrays().names)}
    names = sorted(set(cells["chip"]), key=lambda c: (known.get(c, len(known)), c))
    order = {name: k for k, name in enumerate(names)}
    table = cells.set_index(where).loc[mean.index].reset_index()
    point = runs.drop_duplicates("_point").set_index("_point")[keys]
    columns = {**{k: point[k].reindex(table["_point"]).to_numpy() for k in keys},
               "step": table["step"].to_numpy(), "quarter": table["quarter"].to_numpy(),
               "maker": table["maker"].to_numpy(), "chip": table["chip"].to_numpy(), N_RUNS: n.to_numpy()}
    for k, value in enumerate(CHIP_VALUES):
        m = mean[value].to_numpy()
        columns |= {f"{value}{MEAN}": m, f"{value}{CI_LOW}": m - half[:, k],
                    f"{value}{CI_HIGH}": m + half[:, k]}
    out = pd.DataFrame(columns)
    rank = np.lexsort((table["chip"].map(order).to_numpy(), table["step"].to_numpy(),
                       table["_point"].to_numpy()))
    return out.iloc[rank].reset_index(drop=True)
