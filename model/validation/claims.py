"""The seed's qualitative claims (ODD), checked over seeds as paired differences with common random
numbers (docs/VALIDATION.md §6)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: The seed's claims (ODD), as paired comparisons under default parameters.
CLAIMS = (
    dict(claim="Licensing H200-class chips (threshold, as enacted) raises the US share over H20-only",
         base=dict(export_regime="h20"), alt=dict(export_regime="threshold"), sign=+1),
    dict(claim="... also when Beijing is open",
         base=dict(export_regime="h20", china_import_policy="open"),
         alt=dict(export_regime="threshold", china_import_policy="open"), sign=+1),
    dict(claim="The rolling 18-month lag (a proposal) raises it further over the threshold rule",
         base=dict(export_regime="threshold"), alt=dict(export_regime="lagged"), sign=+1),
    dict(claim="Beijing's restrictions cap it: restrict vs open (US threshold)",
         base=dict(china_import_policy="open"), alt=dict(china_import_policy="restrict"), sign=-1),
    dict(claim="Beijing's guidance: discourage vs open (US threshold)",
         base=dict(china_import_policy="open"), alt=dict(china_import_policy="discourage"), sign=-1),
    dict(claim="Beijing's customs ban vs open (US threshold)",
         base=dict(china_import_policy="open"), alt=dict(china_import_policy="ban"), sign=-1),
    dict(claim="A faster Huawei ramp lowers it: 3M vs 600k Ascend in 2026",
         base=dict(huawei_capacity_2026=600_000), alt=dict(huawei_capacity_2026=3_000_000), sign=-1),
    dict(claim="A slower Huawei ramp: 200k vs 600k Ascend in 2026",
         base=dict(huawei_capacity_2026=600_000), alt=dict(huawei_capacity_2026=200_000), sign=+1),
    dict(claim="Closing the offshore channel lowers the US share incl. offshore (US ban)",
         base=dict(export_regime="ban", offshore_open_after_rule=1.0),
         alt=dict(export_regime="ban", offshore_open_after_rule=0.0), sign=-1),
)


def claims_check(seeds=range(20), steps: int = 20, n_developers: int = 1000,
                 metrics: tuple[str, ...] = ("us_share_legal", "us_stack_share",
                                             "us_stack_share_incl_offshore", "us_share_new_mean",
                                             "china_compute_h100e")
                 ) -> pd.DataFrame:
    """Each claim as a paired difference (alt - base) over seeds, same seed = same random numbers.

    ``us_share_legal``, ``us_stack_share`` (all channels) and ``china_compute_h100e`` at the last step
    (2030Q4 by default),
    ``us_share_new_mean`` = mean over steps of the US share of new purchases. The rules compared hold
    (``realize_reversals`` off, as in the headline: the risk of a reversal is priced, not drawn, so a
    seed's random reversal cannot turn the compared rule into another); all other parameters at their
    defaults (start 2026Q1)."""
    from model.core.chip_market import ChipMarketModel

    cache: dict[tuple, dict] = {}

    def outcome(kw: dict, seed: int) -> dict:
        key = (tuple(sorted(kw.items())), seed)
        if key not in cache:
            m = ChipMarketModel(rng=int(seed), n_developers=n_developers,
                                **{"realize_reversals": False, **kw})
            df = m.run(steps)
            cache[key] = dict(us_share_legal=float(df["us_share_legal"].iloc[-1]),
                              us_stack_share=float(df["us_stack_share"].iloc[-1]),
                              us_stack_share_incl_offshore=float(df["us_stack_share_incl_offshore"].iloc[-1]),
                              us_share_new_mean=float(df["us_share_new"].mean()),
                              china_compute_h100e=float(df["china_compute_h100e"].iloc[-1]))
        return cache[key]

    seeds = list(seeds)
    rows = []
    for c in CLAIMS:
        for metric in metrics:
            base = np.array([outcome(c["base"], s)[metric] for s in seeds])
            alt = np.array([outcome(c["alt"], s)[metric] for s in seeds])
            d = alt - base
            se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
            rows.append(dict(claim=c["claim"], metric=metric, base=float(base.mean()), alt=float(alt.mean()),
                             diff=float(d.mean()), ci_lo=float(d.mean() - 1.96 * se),
                             ci_hi=float(d.mean() + 1.96 * se),
                             share_of_seeds_with_claimed_sign=float(np.mean(np.sign(d) == c["sign"])),
                             claimed_sign=c["sign"], seeds=len(seeds)))
    df = pd.DataFrame(rows)
    us = df["metric"] != "china_compute_h100e"
    df["holds"] = np.where(us, np.where(df["claimed_sign"] > 0, df["ci_lo"] > 0, df["ci_hi"] < 0), np.nan)
    return df


#: Markers of the generated table in docs/VALIDATION.md §6.
TABLE_BEGIN = "<!-- claims:table begin -->"
TABLE_END = "<!-- claims:table end -->"
_METRIC_LABEL = {"us_share_legal": "US share via legal sales 2030Q4",
                 "us_stack_share": "US share, all channels 2030Q4",
                 "us_stack_share_incl_offshore": "US share incl. offshore 2030Q4",
                 "us_share_new_mean": "US share of purchases (mean)",
                 "china_compute_h100e": "China compute 2030Q4 (M H100e)"}


def markdown_table(table: pd.DataFrame) -> str:
    """The claims as Markdown (docs/VALIDATION.md §6)."""
    lines = ["| claim | metric | base | alternative | difference [95% CI] "
             "| seeds with the claimed sign | holds |",
             "|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        scale = 1e6 if r.metric == "china_compute_h100e" else 1.0
        d = 2 if scale > 1 else 3
        holds = "—" if pd.isna(r.holds) else ("yes" if r.holds else "**no**")
        share = "—" if pd.isna(r.holds) else f"{r.share_of_seeds_with_claimed_sign:.0%}"
        lines.append(f"| {r.claim} | {_METRIC_LABEL.get(r.metric, r.metric)} | {r.base / scale:.{d}f} | "
                     f"{r.alt / scale:.{d}f} | {r.diff / scale:+.{d}f} "
                     f"[{r.ci_lo / scale:+.{d}f}, {r.ci_hi / scale:+.{d}f}] | "
                     f"{share} | {holds} |")
    return "\n".join(lines)
