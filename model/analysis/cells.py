"""Per-cell statistics of a sweep's final values: mean and 95% interval (the one interval function,
:mod:`model.sweep.stats`) of a reporter per combination of parameters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.analysis.sweep_data import Sweep
from model.sweep.stats import half_width, mean_ci

__all__ = ["cell_stats", "ci_half_width", "grouped_ci", "mean_ci"]


def grouped_ci(df: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per group of ``keys``: mean, ci_low, ci_high, n of ``value`` (t-interval, as ``mean_ci``)."""
    g = df.groupby(keys, sort=False, dropna=False)[value] if keys else None
    if g is None:
        m, lo, hi, n = mean_ci(df[value])
        return pd.DataFrame({"mean": [m], "ci_low": [lo], "ci_high": [hi], "n": [n]})
    out = g.agg(["mean", "std", "count"]).reset_index()
    half = half_width(out["std"].to_numpy(float), out["count"].to_numpy())
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out.rename(columns={"count": "n"}).drop(columns="std")


def cell_stats(sweep: Sweep, keys: list[str], reporter: str) -> pd.DataFrame:
    """Final ``reporter`` per combination of ``keys``: columns keys + mean, ci_low, ci_high, n.

    When ``keys`` are exactly the varying parameters the numbers come from ``summary.csv``; otherwise
    the runs of ``final.csv`` are pooled over the other varying parameters.
    """
    if keys and set(keys) == set(sweep.varying):
        s = sweep.summary
        out = s[keys].copy()
        out["mean"] = s[f"{reporter}_mean"]
        out["ci_low"] = s.get(f"{reporter}_ci_low", np.nan)
        out["ci_high"] = s.get(f"{reporter}_ci_high", np.nan)
        out["n"] = s["n_runs"] if "n_runs" in s else np.nan
        return out.reset_index(drop=True)
    return grouped_ci(sweep.final, keys, reporter)


def ci_half_width(row) -> float:
    lo, hi = row["ci_low"], row["ci_high"]
    if pd.isna(lo) or pd.isna(hi):
        return math.nan
    return (hi - lo) / 2
