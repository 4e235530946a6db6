"""The docking case files and their runs: every Arthur and Bass case simulated beside its closed form.

The case files ``experiments/docking_arthur.toml`` and ``experiments/docking_bass.toml`` are NOT
``chipstack sweep`` experiments (they have a ``[docking]`` section and no ``[experiment]`` section, so
the sweep loader rejects them as bad input instead of running ChipMarketModel); this module reads them.
The simulations themselves are in :mod:`model.validation.arthur` and :mod:`model.validation.bass`.
"""

from __future__ import annotations

import math
import tomllib
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd

from model.sweep.experiment import EXPERIMENTS_DIR as EXPERIMENTS
from model.validation.arthur import _exact, arthur_closed_form, arthur_lockin
from model.validation.bass import (
    bass_adoption,
    bass_continuous,
    bass_peak_rate,
    bass_peak_share,
    bass_peak_time,
    bass_recursion,
)


def load_docking(path: str | Path, kind: str) -> dict:
    """Read a docking case file (``[docking]`` plus ``[[case]]`` / ``[sweep]``); check its kind."""
    path = Path(path)
    if not path.exists() and not path.suffix:
        path = EXPERIMENTS / f"{path}.toml"
    with open(path, "rb") as fh:
        data = tomllib.load(fh)
    meta = data.get("docking")
    if not isinstance(meta, dict) or meta.get("kind") != kind:
        raise ValueError(f"{path}: expected a [docking] section with kind = {kind!r}")
    unknown = set(data) - {"docking", "case", "sweep"}
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {sorted(unknown)}; allowed: docking, case, sweep")
    return data


def arthur_cases(spec: dict) -> list[dict]:
    """Expand an Arthur case file into a list of parameter dicts (explicit cases, then the sweep)."""
    meta = spec["docking"]
    cases = []
    for c in spec.get("case", []):
        cases.append(dict(group=c.get("group", "case"), name=c["name"],
                          a_r=c["a_r"], b_r=c["b_r"], a_s=c["a_s"], b_s=c["b_s"], r=c["r"], s=c["s"],
                          p_r=c["p_r"]))
    sw = spec.get("sweep")
    if sw:
        r = _exact(sw["r"])
        for p_r in sw["p_r"]:
            for w in sw["half_widths"]:
                gap = _exact(w) * r  # a_r - b_r = b_s - a_s = w r  ->  Delta = -w, +w
                cases.append(dict(group="width_sweep", name=f"w{w}_p{p_r}",
                                  a_r=1 + gap, b_r=Fraction(1), a_s=Fraction(1), b_s=1 + gap,
                                  r=r, s=r, p_r=p_r))
    for c in cases:
        c.setdefault("runs", meta.get("runs", 2000))
        c.setdefault("max_arrivals", meta.get("max_arrivals", 5000))
    return cases


def run_arthur_docking(spec: dict, quick: bool = False) -> pd.DataFrame:
    """Simulate every Arthur case and put it beside its closed form (one row per case)."""
    meta = spec["docking"]
    seed = int(meta.get("seed", 1989))
    rows = []
    for i, c in enumerate(arthur_cases(spec)):
        runs = 400 if quick else int(c["runs"])
        res = arthur_lockin(c["a_r"], c["b_r"], c["a_s"], c["b_s"], c["r"], c["s"], c["p_r"],
                            runs=runs, max_arrivals=int(c["max_arrivals"]), seed=seed + i)
        cf = arthur_closed_form(c["a_r"], c["b_r"], c["a_s"], c["b_s"], c["r"], c["s"], c["p_r"])
        row = dict(group=c["group"], case=c["name"], regime=cf["regime"],
                   a_r=str(_exact(c["a_r"])), b_r=str(_exact(c["b_r"])), a_s=str(_exact(c["a_s"])),
                   b_s=str(_exact(c["b_s"])), r=str(_exact(c["r"])), s=str(_exact(c["s"])),
                   p_r=float(c["p_r"]), runs=runs, max_arrivals=res.max_arrivals,
                   lower=cf["lower"], upper=cf["upper"],
                   sim_p_lock_a=res.share_locked_a, se_p_lock_a=res.se_share_locked_a,
                   cf_p_lock_a=cf["p_lock_a"],
                   sim_mean_time=res.mean_lockin_time, se_mean_time=res.se_mean_lockin_time,
                   cf_mean_time=cf["mean_lockin_time"],
                   sim_unlocked=res.share_unlocked,
                   sim_final_share_a=res.mean_final_share_a, se_final_share_a=res.se_final_share_a,
                   cf_limit_share_a=cf["limit_share_a"],
                   max_abs_d=int(res.max_abs_d.max()))
        # binomial standard error at the closed-form probability when the sample one is 0
        se_p = max(row["se_p_lock_a"], math.sqrt(cf["p_lock_a"] * (1 - cf["p_lock_a"]) / runs), 1e-12)
        row["z_p_lock_a"] = ((row["sim_p_lock_a"] - row["cf_p_lock_a"]) / se_p
                             if cf["regime"] == "increasing" else float("nan"))
        row["z_mean_time"] = ((row["sim_mean_time"] - row["cf_mean_time"]) / row["se_mean_time"]
                              if cf["regime"] == "increasing" and row["se_mean_time"] > 0 else float("nan"))
        rows.append(row)
    return pd.DataFrame(rows)


def run_bass_docking(spec: dict, quick: bool = False) -> tuple[pd.DataFrame, dict]:
    """Simulate every Bass case over replications; compare with the recursion and closed form.

    Returns (summary table, curves) with curves[name] = (sim mean, sim sd, recursion, continuous).
    """
    meta = spec["docking"]
    seed = int(meta.get("seed", 1969))
    n_agents = int(meta.get("n_agents", 10_000))
    steps = int(meta.get("steps", 30))
    reps = int(meta.get("replications", 200))
    if quick:
        reps = min(reps, 20)
    rows, curves = [], {}
    for i, c in enumerate(spec.get("case", [])):
        p, q = float(c["p"]), float(c["q"])
        sims = np.array([bass_adoption(p, q, n_agents, steps, seed=seed + 1000 * i + k) for k in range(reps)])
        mean, sd = sims.mean(axis=0), sims.std(axis=0, ddof=1)
        rec = bass_recursion(p, q, steps)
        t = np.arange(steps + 1)
        cont = bass_continuous(p, q, t)
        incr = np.diff(sims, axis=1).mean(axis=0)
        rmse_runs = np.sqrt(((sims - rec[None, :]) ** 2).mean(axis=1))
        rows.append(dict(
            case=c.get("name", f"p{p}_q{q}"), p=p, q=q, n_agents=n_agents, steps=steps, replications=reps,
            max_abs_dev_mean_vs_recursion=float(np.abs(mean - rec).max()),
            max_abs_dev_any_run_vs_recursion=float(np.abs(sims - rec[None, :]).max()),
            rmse_per_run_vs_recursion=float(rmse_runs.mean()),
            max_abs_dev_mean_vs_continuous=float(np.abs(mean - cont).max()),
            max_abs_recursion_vs_continuous=float(np.abs(rec - cont).max()),
            peak_step_sim=int(np.argmax(incr)) + 0.5, peak_step_recursion=int(np.argmax(np.diff(rec))) + 0.5,
            peak_time_continuous=bass_peak_time(p, q),
            peak_rate_sim=float(incr.max()), peak_rate_recursion=float(np.diff(rec).max()),
            peak_rate_continuous=bass_peak_rate(p, q),
            share_at_peak_continuous=bass_peak_share(p, q),
        ))
        curves[rows[-1]["case"]] = (mean, sd, rec, cont)
    return pd.DataFrame(rows), curves
