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
from model.core.catalogue import DOMESTIC_LEADER, catalogue_arrays
from model.core.docblocks import replace_block
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

PUBLISHED_CSV = EXPERIMENTS_DIR / "data" / "published_estimates.csv"

#: Markers of the generated table in docs/VALIDATION.md §7.
TABLE_BEGIN = "<!-- published:table begin -->"
TABLE_END = "<!-- published:table end -->"

#: Why chipstack's number differs from the published one: the assumption of the model that produces the
#: gap (one sentence per row; written after looking at the table, nothing tuned). The {names} are the
#: defaults of the parameters and constants named (``_why_values``); ``{maker}``, ``{param}`` and
#: ``{capacity}`` a domestic maker's (``Maker.capacity``).
WHY: dict[str, str] = {
    "installed_2026": (
        "The installed base is a backcast chip by chip: spending in the {history_quarters} quarters before "
        "2026 (demand_2026_usd {demand_2026} / (1 + demand_growth) in 2025, falling history_growth "
        "({history_growth}) a year before it), split by each year's US share of purchases "
        "(§E4: 54% in 2025) and each maker's historical share, spent evenly on the chips each maker sold "
        "in China then at catalogue prices and depreciated over depreciation_years ({depreciation_years}); "
        "it spends 2025's US share on H20s and RTX Pro 6000Ds, where Nvidia's reported China revenue "
        "after 2025Q1 was near zero, and it adds 2026Q1's purchases and smuggled chips, which Epoch's "
        "figure excludes."),
    "installed_2026_flop": (
        "The replay's legal sales since 2022Q4 alone exceed Epoch's figure before anything bought earlier "
        "is added, because the replay sells Nvidia's China parts in calibrated volumes (A800, H800, then "
        "over a million H20 in 2024) and domestic chips at the backcast capacity, while Epoch's figure is a "
        "derived share of a world stock counted at 8-bit OP/s (grade L)."),
    "added_2025": (
        "The two agree by offsetting differences: the replay sells fewer domestic chips than Bernstein "
        "counts (the domestic row below) but about a quarter of them are Ascend 910Cs at {c910_flop} "
        "FLOP-based H100e each, where Bernstein values every domestic chip at the 910B's FP16-sparse rate "
        "and calls its total an upper bound."),
    "added_2025_grey": (
        "Bernstein counts no smuggled chips; the model's grey channel adds up to grey_capacity_usd "
        "({grey_capacity}) a quarter of the budget the legal market did not take, spent on the US chip "
        "with the most effective performance per dollar (the MI300X in the replay) at grey_premium "
        "({grey_premium}) with grey_seizure_share ({grey_seizure}) lost."),
    "units_nvidia": (
        "The replay sells Nvidia data-centre parts only and none in 2025Q2 (US licence requirement) or "
        "2025Q4 (Beijing's customs ban), while IDC counts every Nvidia accelerator card shipped to China, "
        "incl. workstation and low-end parts (L20, RTX-class) and probably grey imports."),
    "units_amd": (
        "The catalogue's one AMD China part, the MI308, sells only in 2025Q1 and 2025Q3 (US licence "
        "requirement in Q2, Beijing's customs ban in Q4), while IDC counts every AMD card shipped to China."),
    "units_domestic_maker": (
        "The replay sells all {maker} can make, the same in every seed: its 2026 capacity parameter "
        "({param}, {capacity}) backcast at one growth rate for every domestic maker "
        "(domestic_capacity_growth, {capacity_growth} a year), not its own 2025 output."),
    "units_2025_domestic": (
        "Each domestic maker sells its whole capacity, backcast from its 2026 capacity parameter at one "
        "growth rate (domestic_capacity_growth, {capacity_growth} a year): Huawei below IDC's count, "
        "Cambricon, T-Head and Kunlunxin above it (rows above)."),
    "units_2025_all": (
        "The model counts legal sales of data-centre parts (the US makers' blocked quarters and the "
        "domestic backcast, rows above), while IDC counts every accelerator card shipped to China, incl. "
        "low-end and workstation cards and probably grey imports."),
    "huawei_2025": (
        "The replay's Huawei 2025 is its 2026 capacity parameter (huawei_capacity_2026, {huawei_capacity}) "
        "backcast at domestic_capacity_growth ({capacity_growth} a year) and all sold, not SemiAnalysis's "
        "count of the TSMC dies and HBM stacks Huawei holds."),
    "huawei_2025_us_gov": (
        "The US government's figure is a ceiling ('no more than') on advanced chips, while the replay's is "
        "the backcast of huawei_capacity_2026 ({huawei_capacity}) at domestic_capacity_growth "
        "({capacity_growth} a year), all sold."),
    "huawei_2026_hbm": (
        "The forward run binds Huawei by HBM as SemiAnalysis does: the pool (hbm_stockpile_2026 "
        "{hbm_stockpile} stacks drawn over {hbm_drawdown} quarters plus domestic_hbm_2026 {domestic_hbm} a "
        "year, shared by need among domestic makers) at {hbm_huawei} stacks per chip allows less than its "
        "foundry capacity (huawei_capacity_2026, {huawei_capacity})."),
    "huawei_2026_plan": (
        "Bloomberg's plan is the foundry capacity the model takes as huawei_capacity_2026 "
        "({huawei_capacity}), but the model's HBM pool at {hbm_huawei} stacks per chip lets Huawei make "
        "under half of it in 2026."),
    "smuggled_2024": (
        "The grey channel is a fixed dollar budget, not an estimate of smuggling: at most grey_capacity_usd "
        "({grey_capacity}) a quarter of what the legal market did not take, spent on the MI300X (the US "
        "chip with the most effective performance per dollar) at grey_premium ({grey_premium}), so 2024's "
        "count is the budget the H20 left over divided by one marked-up chip's price."),
    "gap_flop_2025": (
        "The catalogue's best US chip released in 2025 is the MI355X (it has no B300) and the ratio is "
        "dense BF16 per package, where CFR compares the two firms' 2025 roadmap figures."),
    "gap_flop_2027": (
        "The US chips after Blackwell are assumptions (Rubin Ultra at ~10x an H100's dense BF16, scaled "
        "by us_roadmap_perf_scale) and the Ascend 960 is compared at FP8 with the H100's FP8, where CFR "
        "uses the firms' roadmap figures."),
    "gap_effective": (
        "The effective ratio blends compute with memory bandwidth (the roofline perf_paper) and discounts "
        "domestic chips by domestic_efficiency ({domestic_efficiency}), which is not CFR's measure."),
    "compute_2030": (
        "The model's 2030 stock is FLOP-based, grown from the backcast base by budgets rising at "
        "demand_growth ({demand_growth}) a year and spent on the catalogue's chips, smuggled US chips at the "
        "assumed post-Blackwell roadmap included; Bernstein's is FP16-sparse FLOP (converted here at the "
        "CSV's own rate) and its copies do not say whether it is a stock or cumulative additions."),
    "us_lead": (
        "The US side is an assumed path (us_compute_2026_h100e {us_compute_2026} growing "
        "us_compute_growth {us_compute_growth}x a year, §H L), not IFP's projection of both sides, and "
        "China's side starts from the backcast above."),
}


def _why_values() -> dict[str, str]:
    """The defaults the sentences of ``WHY`` name, formatted."""
    from model.core.chip_market import HISTORY_QUARTERS
    from model.core.parameters import DEFAULTS
    from model.core.reporters import USD_PER_H100E

    cat = catalogue_arrays()
    leader = next(m for m in catalogue.makers() if m.name == DOMESTIC_LEADER)

    def chip(name: str, values: np.ndarray) -> str:
        return f"{values[cat.names.index(name)]:.2f}"

    d = DEFAULTS
    return {
        "demand_2026": f"${d['demand_2026_usd'] / 1e9:.0f}B", "demand_growth": f"{d['demand_growth']:.0%}",
        "history_quarters": str(HISTORY_QUARTERS), "usd_per_h100e": f"${USD_PER_H100E / 1e3:.0f}k",
        "depreciation_years": f"{d['depreciation_years']:g} years",
        "h20_perf": chip("H20", cat.perf_paper), "h20_flop": chip("H20", cat.flop_h100e),
        "c910_flop": chip("Ascend910C", cat.flop_h100e),
        "grey_capacity": f"${d['grey_capacity_usd'] / 1e9:g}B", "grey_premium": f"{d['grey_premium']:.0%}",
        "grey_seizure": f"{d['grey_seizure_share']:.0%}",
        "capacity_growth": f"{d['domestic_capacity_growth']:.0%}",
        "huawei_capacity": _num(float(d[leader.capacity.param])),
        "hbm_stockpile": _num(float(d["hbm_stockpile_2026"])),
        "hbm_drawdown": str(d["hbm_drawdown_quarters"]),
        "domestic_hbm": _num(float(d["domestic_hbm_2026"])),
        "hbm_huawei": f"{leader.hbm_stacks_per_chip:g}",
        "domestic_efficiency": f"{d['domestic_efficiency']:g}",
        "history_growth": f"{d['history_growth']:.0%}",
        "us_compute_2026": _num(float(d["us_compute_2026_h100e"])),
        "us_compute_growth": f"{d['us_compute_growth']:g}",
    }


def why(key: str, maker: catalogue.Maker | None = None) -> str:
    """The sentence ``WHY[key]`` with the defaults it names (and ``maker``'s capacity) filled in."""
    from model.core.parameters import DEFAULTS

    values = _why_values()
    if maker is not None and maker.capacity is not None:
        values.update(maker=maker.name, param=maker.capacity.param,
                      capacity=_num(float(DEFAULTS[maker.capacity.param])))
    return WHY[key].format(**values)


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
        f"FLOP-based H100e: the row above + {_num(float(grey25.mean()))} of smuggled chips (grey H100e / "
        f"effective perf of the frontier chip x its flop_h100e)",
        _pub(pub, "china_compute_added_2025_h100e"), why("added_2025_grey")))

    # 2025 units by maker (IDC): the catalogue's makers whose key the CSV holds
    for maker in catalogue.makers():
        key = f"units_2025_{maker.reporter_key}"
        if key in pub.index:
            rows.append(_row(f"{maker.name} units 2025", units_of(runs, 2025, [maker.name]),
                             f"units sold in China in 2025 (chip_sales), quarterly replay ({nr} seeds)",
                             _pub(pub, key), _units_why(maker)))
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
                     f"chips delivered by the grey channel in 2024: Σ grey H100e / effective perf of the "
                     f"frontier US chip each quarter, quarterly replay ({nr} seeds)",
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


def _units_why(maker: catalogue.Maker) -> str:
    """The sentence for a maker's 2025 units: its own (US makers), or the domestic backcast's."""
    if maker.is_domestic:
        return why("units_domestic_maker", maker)
    key = f"units_{maker.reporter_key}"
    return why(key) if key in WHY else why("units_2025_all")


# --- Markdown ------------------------------------------------------------------------------------
def _num(x: float) -> str:
    if math.isnan(x):
        return "—"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.2f}M"
    if abs(x) >= 1e4:
        return f"{x / 1e3:.0f}k"
    if abs(x) >= 1e3:
        return f"{x / 1e3:.1f}k"
    return f"{x:.3g}"


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


def main() -> int:
    """``python -m model.validation.published``: compute the table from runs and write it into
    docs/VALIDATION.md."""
    text = VALIDATION_MD.read_text(encoding="utf-8")
    new = render_validation_md(text, side_by_side())
    if new != text:
        VALIDATION_MD.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
