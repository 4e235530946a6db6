"""History replay 2022Q4-2025Q4 (docs/VALIDATION.md §3): ``ChipMarketModel`` through the dated policy
timeline of SOURCES §C, compared with the public trajectory of Nvidia's share of China's AI-chip
revenue (SOURCES §E4).

The replay is the ordinary sweep experiment ``experiments/history_2022_2026.toml``, read by the one
experiment loader (:func:`model.sweep.experiment.load_experiment`), and each replication's seed is the
runner's (:func:`model.sweep.design.build_design`: derived from the root seed and the run's identity).
So ``chipstack sweep history_2022_2026`` and ``chipstack validate replay`` run the same seeds.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from model.core import catalogue
from model.core.catalogue import ROCM, US_LEADER
from model.sweep.design import build_design
from model.sweep.experiment import EXPERIMENTS_DIR, load_experiment

REPLAY_EXPERIMENT = EXPERIMENTS_DIR / "history_2022_2026.toml"

#: Public trajectory of Nvidia's share of China's AI-chip market (SOURCES §E4), with the role
#: each point plays: only 2022-2024 are used for calibration, 2025 is out of sample. ``measure``:
#: "nvidia" = Nvidia revenue / all makers' revenue; "us" = 1 - domestic makers' share (the 2023
#: source is a domestic-vendor share).
REPLAY_TARGETS = (
    dict(period="2022", public=0.95, role="calibration", measure="nvidia",
         source="Huang: ~95% of China's advanced AI chips (Citadel Securities, Oct 6 2025; ibtimes.co.uk) "
                "[H as a quote]; model year = 2022Q4 only"),
    dict(period="2023", public=0.81, role="calibration", measure="us",
         source="1 - domestic vendor share 19% (Bernstein Dec 2025, aigazine.com) [M]; "
                "a US (Nvidia+AMD) share"),
    dict(period="2024", public=0.66, role="calibration", measure="nvidia",
         source="BofA/Bernstein: Nvidia 66% of China's AI-chip market (ainvest.com) [M]"),
    dict(period="2025", public=0.54, role="out-of-sample", measure="nvidia",
         source="BofA/Bernstein: ~54% (ainvest.com; Tom's Hardware via gokawiil.com) [M]"),
    dict(period="2025Q4", public=0.0, role="out-of-sample", measure="nvidia",
         source="Huang: '100% out of China', share ~0 (Oct 6 2025) [H as a quote]; "
                "Q3 FY26 H20 revenue ~$50M"),
)
CALIBRATION_PERIODS = ("2022", "2023", "2024")


def replay_spec(path: str | Path = REPLAY_EXPERIMENT) -> tuple[dict, int, list[int]]:
    """(parameters, steps, seeds) of the replay experiment file: its ``[parameters]``, its steps, and
    the seed of each replication as ``chipstack sweep`` derives it (in replication order)."""
    experiment = load_experiment(path)
    seeds = [run.seed for run in build_design(experiment).runs]
    return dict(experiment.parameters), experiment.steps, seeds


def replay_run(params: dict, seed: int, steps: int = 13) -> pd.DataFrame:
    """One replay run: per quarter, each maker's revenue, US regime, Chinese stance, us_share_new."""
    from model.core.chip_market import ChipMarketModel

    m = ChipMarketModel(rng=int(seed), **params)
    rows = []
    for _ in range(steps):
        m.step()
        row = dict(quarter=m.quarter_label, us_regime=m.us_government.regime,
                   china_stance=m.china_government.stance, us_share_new=m.reported["us_share_new"])
        for maker in m.chipmakers:
            row[f"rev_{maker.name}"] = maker.revenue_usd
        rows.append(row)
    return pd.DataFrame(rows)


def nvidia_revenue_share(df: pd.DataFrame) -> dict[str, float]:
    """Nvidia revenue / all makers' revenue, per calendar year and per quarter.

    The measure: revenue-weighted (USD at the China price; SOURCES §E4 quotes market shares
    by sales), summed over the quarters of the year that the run covers. Also, under keys
    ``amd_<year>`` and ``domestic_<year>``, the ROCm makers' (AMD's) and the domestic makers' shares of
    the year. Makers are the catalogue's (``Maker.ecosystem``, ``Maker.is_domestic``, ``US_LEADER``)."""
    rev_cols = [c for c in df.columns if c.startswith("rev_")]
    makers = catalogue.makers()
    domestic_cols = [f"rev_{m.name}" for m in makers if m.is_domestic and f"rev_{m.name}" in df]
    rocm_cols = [f"rev_{m.name}" for m in makers if m.ecosystem == ROCM and f"rev_{m.name}" in df]
    leader = f"rev_{US_LEADER}"
    total = df[rev_cols].sum(axis=1)
    year = df["quarter"].str[:4]
    out = {}
    for y, idx in df.groupby(year).groups.items():
        t = total.loc[idx].sum()
        ok = t > 0
        out[str(y)] = float(df.loc[idx, leader].sum() / t) if ok else float("nan")
        out[f"amd_{y}"] = float(sum(df.loc[idx, c].sum() for c in rocm_cols) / t) if ok else float("nan")
        out[f"domestic_{y}"] = float(df.loc[idx, domestic_cols].to_numpy().sum() / t) if ok else float("nan")
        out[f"us_{y}"] = 1.0 - out[f"domestic_{y}"]
    for i, qlabel in enumerate(df["quarter"]):
        t = total.iloc[i]
        out[qlabel] = float(df[leader].iloc[i] / t) if t > 0 else float("nan")
    return out


def history_replay(params: dict | None = None, seeds=None, steps: int | None = None,
                   return_runs: bool = False):
    """Replay 2022Q4-2025Q4 and compare Nvidia's China revenue share with the public trajectory.

    ``params``: ChipMarketModel keyword arguments (default: ``experiments/history_2022_2026.toml``'s
    [parameters]); ``seeds``: list of seeds (default: the file's replications). Returns a DataFrame
    with one row per period: period, public figure, source, role (calibration / out-of-sample),
    model mean, 95% interval over seeds (2.5-97.5 percentiles), standard error of the mean, error
    (model mean - public). With ``return_runs`` also the per-seed shares.
    """
    file_params, file_steps, file_seeds = replay_spec()
    params = file_params if params is None else dict(params)
    seeds = file_seeds if seeds is None else list(seeds)
    steps = max(13, file_steps if steps is None else int(steps))
    per_seed = []
    for s in seeds:
        shares = nvidia_revenue_share(replay_run(params, s, steps))
        shares["seed"] = s
        per_seed.append(shares)
    runs = pd.DataFrame(per_seed)
    rows = []
    for t in REPLAY_TARGETS:
        key = t["period"] if t["measure"] == "nvidia" else f"us_{t['period']}"
        vals = runs[key].to_numpy(dtype=float)
        mean = float(np.mean(vals))
        rows.append(dict(period=t["period"], measure=t["measure"], public=t["public"], source=t["source"],
                         role=t["role"],
                         model_mean=mean, model_lo=float(np.percentile(vals, 2.5)),
                         model_hi=float(np.percentile(vals, 97.5)),
                         model_se=(float(np.std(vals, ddof=1) / math.sqrt(len(vals))) if len(vals) > 1
                                   else float("nan")),
                         error=mean - t["public"], seeds=len(vals)))
        if len(t["period"]) == 4:
            rows[-1]["model_amd"] = float(runs[f"amd_{t['period']}"].mean())
            rows[-1]["model_domestic"] = float(runs[f"domestic_{t['period']}"].mean())
    table = pd.DataFrame(rows)
    return (table, runs) if return_runs else table
