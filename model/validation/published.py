"""chipstack's quantities next to published estimates (docs/VALIDATION.md §7; issue 26 item 5).

Number-neutral: it runs the model as it is (no rule or reporter changes) and reads its state, through
``model.validation.published_runs`` (the quarterly replay and the forward default run). The published
values come from ``experiments/data/published_estimates.csv`` only, by their ``quantity`` key; every row
says in ``why`` which assumption of the model produces the gap. ``python -m model.validation.published``
writes the table into docs/VALIDATION.md between ``TABLE_BEGIN`` and ``TABLE_END``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.core import catalogue
from model.core.catalogue import DOMESTIC_LEADER
from model.core.docblocks import maintenance_arguments, replace_block
from model.core.paths import VALIDATION_MD
from model.sweep.experiment import EXPERIMENTS_DIR
from model.validation.published_runs import (  # noqa: F401 (collect, Runs re-exported)
    Runs,
    chip_gap,
    collect,
    effective_perf,
    flop_added,
    forward_at,
    forward_year,
    grey_added,
    quarter_flop,
    units_of,
)
from model.validation.published_why import _num, _units_why, why

PUBLISHED_CSV = EXPERIMENTS_DIR / "data" / "published_estimates.csv"

#: Markers of the generated table in docs/VALIDATION.md §7.
TABLE_BEGIN = "<!-- published:table begin -->"
TABLE_END = "<!-- published:table end -->"

def published_table() -> pd.DataFrame:
    """``experiments/data/published_estimates.csv`` indexed by its ``quantity`` key."""
    return pd.read_csv(PUBLISHED_CSV).set_index("quantity", drop=False)


# --- the table -----------------------------------------------------------------------------------
def _pub(published: pd.DataFrame, key: str) -> dict | None:
    """The CSV's row ``key`` as a dict, or None when the CSV has no such row."""
    return published.loc[key].to_dict() if key in published.index else None


#: How far chipstack's value may lie from a published one and still agree, by the source's grade: a factor
#: below its low (or value) and above its high (or value). Stated before looking at the table, from what the
#: grades mean (SOURCES.md: H a primary figure, M a reported estimate, L derived or unverified).
TOLERANCE_FACTOR = {"H": 1.25, "M": 1.5, "L": 2.0}


def agrees(value: float, published: float, low: float, high: float, grade: str) -> bool | None:
    """Whether ``value`` is within the grade's tolerance of the published value (or its low–high range);
    None when there is nothing to compare. A ceiling ('at most', no low) only bounds from above."""
    if math.isnan(value) or math.isnan(published):
        return None
    factor = TOLERANCE_FACTOR.get(grade[:1], TOLERANCE_FACTOR["L"])
    lo = published if math.isnan(low) else min(low, published)
    hi = published if math.isnan(high) else max(high, published)
    ceiling = math.isnan(low) and high == published
    return (ceiling or value >= lo / factor) and value <= hi * factor


def _row(quantity: str, values, unit: str, pub: dict | None, why: str, scale: float = 1.0,
         published_unit: str | None = None) -> dict:
    values = np.atleast_1d(np.asarray(values, dtype=float))
    mean = float(values.mean()) if values.size else math.nan
    value = float(pub["value"]) * scale if pub else math.nan
    low = float(pub["low"]) * scale if pub and not pd.isna(pub["low"]) else math.nan
    high = float(pub["high"]) * scale if pub and not pd.isna(pub["high"]) else math.nan
    return {"quantity": quantity, "key": pub["quantity"] if pub else "",
            "chipstack": mean, "chipstack_lo": float(values.min()) if values.size else math.nan,
            "chipstack_hi": float(values.max()) if values.size else math.nan, "chipstack_unit": unit,
            "published": value, "published_low": low, "published_high": high,
            "published_unit": published_unit or (pub["unit"] if pub else ""),
            "source": f"{pub['source']} ({pub['grade']})" if pub else "",
            "ratio": mean / value if pub and value and not math.isnan(mean) else math.nan,
            "agrees": agrees(mean, value, low, high, str(pub["grade"])) if pub else None, "why": why}


def side_by_side(runs: Runs | None = None, published: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per published estimate: chipstack's value (mean over seeds, with min and max), its unit and
    what it measures, the published value with its low–high range, unit and source (grade), the ratio
    chipstack / published and why they differ. ``runs``: ``collect()`` when not given; ``published``: the
    CSV (``published_table()``) when not given."""
    runs = collect() if runs is None else runs
    pub = published_table() if published is None else published.set_index("quantity", drop=False)
    nf, nr = len(runs.forward_seeds), len(runs.seeds)
    rows = []

    # China's installed compute, early 2026
    installed = forward_at(runs, "2026Q1", "china_compute_h100e")
    grey_stock = forward_at(runs, "2026Q1", "grey_compute_h100e")
    rows.append(_row(
        "China's installed AI compute, early 2026", installed,
        f"FLOP-based H100e installed in China after 2026Q1's purchases (the model's ledger of chips: the "
        f"backcast by chip, then sales), forward default run ({nf} seeds), incl. "
        f"{_num(float(grey_stock.mean()))} smuggled (Epoch excludes them)",
        _pub(pub, "china_ai_compute_h100e"), why("installed_2026")))
    cumulative = sum(flop_added(runs, y) for y in (2022, 2023, 2024, 2025)) + quarter_flop(runs, "2026Q1")
    rows.append(_row(
        "... its FLOP-based part the model can count", cumulative,
        f"FLOP-based H100e sold legally in China 2022Q4–2026Q1 (Σ units x flop_h100e), no retirements, "
        f"quarterly replay ({nr} seeds); the stock bought before 2022Q4 is not by chip",
        _pub(pub, "china_ai_compute_h100e"), why("installed_2026_flop")))

    # China's compute added in 2025
    legal25 = flop_added(runs, 2025)
    grey25 = grey_added(runs, 2025, "flop_h100e")
    rows.append(_row(
        "China's AI compute added in 2025, legal sales", legal25,
        f"FLOP-based H100e: Σ 2025 units sold in China x flop_h100e, quarterly replay ({nr} seeds)",
        _pub(pub, "china_compute_added_2025_h100e"), why("added_2025")))
    rows.append(_row(
        "... incl. smuggled chips", legal25 + grey25,
        f"FLOP-based H100e: the row above + {_num(float(grey25.mean()))} of smuggled chips (units of the "
        f"quarter's grey chip x its flop_h100e)",
        _pub(pub, "china_compute_added_2025_h100e"), why("added_2025_grey")))

    # 2025 units by maker (IDC): the catalogue's makers whose key the CSV holds
    for maker in catalogue.makers():
        key = f"units_2025_{maker.reporter_key}"
        if key in pub.index:
            rows.append(_row(f"{maker.name} units 2025", units_of(runs, 2025, [maker.name]),
                             f"units sold in China in 2025 (chip_sales), quarterly replay ({nr} seeds)",
                             _pub(pub, key), _units_why(maker)))
        # ... and, where a scope-matched figure is published, the maker's data-centre chips (the catalogue's
        # scope) against it
        key = f"units_2025_{maker.reporter_key}_datacentre"
        if key in pub.index:
            rows.append(_row(f"{maker.name} data-centre chips 2025", units_of(runs, 2025, [maker.name]),
                             f"units sold in China in 2025 (chip_sales; every catalogue part is a "
                             f"data-centre part), quarterly replay ({nr} seeds)", _pub(pub, key),
                             why(f"{maker.reporter_key}_datacentre")))
    domestic = [m.name for m in catalogue.makers() if m.is_domestic]
    rows.append(_row("Domestic makers' units 2025", units_of(runs, 2025, domestic),
                     f"units of {', '.join(domestic)} sold in China in 2025, quarterly replay",
                     _pub(pub, "units_2025_domestic"), why("units_2025_domestic")))
    rows.append(_row("All units 2025", units_of(runs, 2025, [m.name for m in catalogue.makers()]),
                     "units of every catalogue maker sold in China in 2025 (legal sales), quarterly replay",
                     _pub(pub, "china_ai_accelerator_units_2025"), why("units_2025_all")))

    # Huawei output 2025 and 2026
    huawei25 = units_of(runs, 2025, [DOMESTIC_LEADER])
    for key, reason in (("huawei_ascend_output_2025", "huawei_2025"),
                        ("huawei_ascend_output_2025_us_gov", "huawei_2025_us_gov")):
        rows.append(_row(f"{DOMESTIC_LEADER} Ascend output 2025", huawei25,
                         f"{DOMESTIC_LEADER} units sold in China in 2025, quarterly replay ({nr} seeds)",
                         _pub(pub, key), why(reason)))
    huawei26 = forward_year(runs, 2026, "huawei_units")
    for key, reason in (("huawei_ascend_output_2026_hbm_bound", "huawei_2026_hbm"),
                        ("huawei_910c_plan_2026", "huawei_2026_plan")):
        rows.append(_row(f"{DOMESTIC_LEADER} Ascend output 2026", huawei26,
                         f"{DOMESTIC_LEADER} units sold in China in 2026, forward default run ({nf} seeds)",
                         _pub(pub, key), why(reason)))

    # Smuggled chips, 2024
    rows.append(_row("Smuggled chips, 2024", grey_added(runs, 2024),
                     f"chips delivered by the grey market in 2024 (Developers.last_grey_units, the units "
                     f"of each quarter's grey chip), quarterly replay ({nr} seeds)",
                     _pub(pub, "smuggled_chips_2024"), why("smuggled_2024")))

    # Per-chip gap
    perf = effective_perf()
    for year in (2025, 2027):
        key = f"per_chip_gap_best_us_vs_best_huawei_{year}"
        flop_ratio, flop_chips = chip_gap(year)
        eff_ratio, eff_chips = chip_gap(year, perf)
        rows.append(_row(f"Per-chip gap {year}, best US / best Huawei, FLOP-based", flop_ratio,
                         f"flop_h100e of the best chip released by {year}Q4 (catalogue): {flop_chips}",
                         _pub(pub, key), why(f"gap_flop_{year}")))
        rows.append(_row(f"Per-chip gap {year}, effective", eff_ratio,
                         f"the model's effective performance (perf_paper, domestic x domestic_efficiency): "
                         f"{eff_chips}", _pub(pub, key), why("gap_effective")))

    # 2030 compute: Bernstein's ZFLOP/s in H100e at the CSV's own conversion of its 2025 figure
    z25 = _pub(pub, "china_compute_added_2025_zflops")
    h25 = _pub(pub, "china_compute_added_2025_h100e")
    z30 = _pub(pub, "china_ai_compute_2030_zflops")
    per_zflop = float(h25["value"]) / float(z25["value"]) if z25 and h25 else math.nan
    rows.append(_row(
        "China's AI compute 2030", forward_at(runs, "2030Q4", "china_compute_h100e"),
        f"FLOP-based H100e installed in China at 2030Q4, forward default run ({nf} seeds)",
        z30, why("compute_2030"), scale=per_zflop,
        published_unit=(f"H100e ({z30['unit']} x {_num(per_zflop)} H100e per ZFLOP/s, the CSV's conversion "
                        f"of Bernstein's 2025 figure)" if z30 else None)))

    # The US lead (the model's assumed US path over China's compute)
    lead = 1.0 / forward_at(runs, "2026Q4", "china_to_us_compute_ratio")
    rows.append(_row("US lead in AI compute (US / China), 2026", lead,
                     f"us_compute_h100e / china_compute_h100e at 2026Q4 under the rule as enacted (H200s "
                     f"licensed), forward default run ({nf} seeds)",
                     _pub(pub, "us_to_china_compute_ratio_2026_no_exports"), why("us_lead")))
    return pd.DataFrame(rows)


# --- Markdown ------------------------------------------------------------------------------------
def _range(low: float, high: float) -> str:
    if math.isnan(low) and math.isnan(high):
        return ""
    if math.isnan(high):
        return f" (from {_num(low)})"
    if math.isnan(low):
        return f" (at most {_num(high)})"
    return f" ({_num(low)}–{_num(high)})"


def markdown_table(table: pd.DataFrame) -> str:
    """The side-by-side table as Markdown (docs/VALIDATION.md §7, between TABLE_BEGIN and TABLE_END)."""
    lines = ["| quantity | chipstack: mean [min–max over seeds] | chipstack unit, what it measures "
             "| published (low–high) | published unit | source (grade) | ratio chipstack / published "
             "| within the grade's tolerance | why they differ |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in table.itertuples():
        if math.isnan(r.chipstack):
            ours = "—"
        elif r.chipstack_lo == r.chipstack_hi:
            ours = _num(r.chipstack)
        else:
            ours = f"{_num(r.chipstack)} [{_num(r.chipstack_lo)}–{_num(r.chipstack_hi)}]"
        if math.isnan(r.published_low) and r.published_high == r.published:
            theirs = f"at most {_num(r.published)}"  # a ceiling ('no more than')
        else:
            theirs = _num(r.published) + _range(r.published_low, r.published_high)
        ratio = "—" if math.isnan(r.ratio) else f"×{r.ratio:.2f}"
        key = f" (`{r.key}`)" if r.key else ""
        within = {True: "yes", False: "**no**"}.get(r.agrees, "—")
        lines.append(f"| {r.quantity}{key} | {ours} | {r.chipstack_unit} | {theirs} | {r.published_unit} | "
                     f"{r.source} | {ratio} | {within} | {r.why} |")
    return "\n".join(lines)


def render_validation_md(text: str, table: pd.DataFrame) -> str:
    """VALIDATION.md with the side-by-side block re-rendered."""
    return replace_block(text, TABLE_BEGIN, TABLE_END, markdown_table(table))


def main(argv: list[str] | None = None) -> int:
    """``python -m model.validation.published``: compute the table from runs and write it into
    docs/VALIDATION.md."""
    maintenance_arguments("model.validation.published", "the published-estimates table of docs/VALIDATION.md "
                          "(from runs of the model)", argv)
    text = VALIDATION_MD.read_text(encoding="utf-8")
    new = render_validation_md(text, side_by_side())
    if new != text:
        VALIDATION_MD.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
