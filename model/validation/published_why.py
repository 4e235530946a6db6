"""Why each of chipstack's numbers differs from the published one (docs/VALIDATION.md §7): one sentence
per row of the side-by-side table (``model.validation.published``), naming the assumption of the model
that produces the gap, with the defaults it names filled in from the parameter table and catalogue.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from model.core import catalogue
from model.core.catalogue import DOMESTIC_LEADER, catalogue_arrays


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



#: Why chipstack's number differs from the published one: the assumption of the model that produces the
#: gap (one sentence per row; written after looking at the table, nothing tuned). The {names} are the
#: defaults of the parameters and constants named (``_why_values``); ``{maker}``, ``{param}`` and
#: ``{capacity}`` a domestic maker's (``Maker.capacity``).
WHY: dict[str, str] = {
    "installed_2026": (
        "The installed base is a backcast chip by chip over the {history_quarters} quarters before 2026 "
        "(model.core.backcast): the domestic makers' foundry output (Huawei's and Cambricon's sourced 2025 "
        "output, the others' 2026 capacity, on domestic_capacity_growth, {capacity_growth} a year) and the "
        "US share of each year's spending (§E4: 54% in 2025 of demand_2026_usd {demand_2026} / "
        "(1 + demand_growth), falling history_growth ({history_growth}) a year before it) spent evenly on "
        "the US chips on sale then (a chip out of production only from its stock), depreciated over "
        "depreciation_years ({depreciation_years}); it spends 2025's US share on H20s and RTX Pro 6000Ds, "
        "where Nvidia's reported China revenue after 2025Q1 was near zero, and it adds 2026Q1's purchases "
        "and smuggled chips, which Epoch's figure excludes."),
    "installed_2026_flop": (
        "The replay's legal sales since 2022Q4 alone exceed Epoch's figure before anything bought earlier "
        "is added, because the replay sells Nvidia's China parts in calibrated volumes (A800, H800, then "
        "over a million H20 in 2024) and domestic chips at their foundry output (rows below), while "
        "Epoch's figure is a derived share of a world stock counted at 8-bit OP/s (grade L)."),
    "added_2025": (
        "The replay sells about as many domestic chips as IDC counts (the domestic row below), but it "
        "sells Huawei's 2025 output as its newest part, the Ascend 910C at {c910_flop} FLOP-based H100e, "
        "beside the 910B, where Bernstein values every domestic chip at the 910B's FP16-sparse rate and "
        "calls its total an upper bound."),
    "added_2025_grey": (
        "Bernstein counts no smuggled chips; the model's grey market sells {grey_lag}-quarter-old US chips "
        "(the MI300X in the replay's 2025) along a supply line of grey_supply_units ({grey_supply}) a "
        "quarter at a 100% premium, less grey_seizure_share ({grey_seizure}) seized, to the budget the legal "
        "market did not take plus grey_frontier_share ({grey_frontier}) of private budgets."),
    "units_nvidia": (
        "The replay sells Nvidia data-centre parts only and none in 2025Q2 (US licence requirement) or "
        "2025Q4 (Beijing's customs ban), while IDC counts every Nvidia accelerator card shipped to China, "
        "incl. workstation and low-end parts (L20, RTX-class) and probably grey imports. Nvidia's own China "
        "revenue beyond the H20, ~$0.9B in Feb-Apr and ~$2.75B in Aug-Oct 2025 (observed.csv), would pay "
        "for 0.9M-1.8M such cards at $2k-4k in those two quarters alone; the scope-matched row is next."),
    "nvidia_datacentre": (
        "Scope-matched: the published figure divides Nvidia's reported H20 revenue from China by the "
        "H20's price, and the replay's 2025 sales are its data-centre parts (the H20; the RTX Pro 6000D's "
        "orders were cancelled). The total agrees for the wrong quarters: the replay sells ~217k in 2025Q1, "
        "where the revenue implies ~370k, and the H20's 200k stock in 2025Q3, where the record has ~$50M "
        "(~4k chips): under the replay's dated 'discourage' stance the guidance is a 1-util penalty "
        "(VALIDATION §3.3, §3.5)."),
    "amd_datacentre": (
        "Scope-matched, and weak (L): AMD booked ~$390M of MI308 revenue from China in 2025Q4, which the "
        "published figure divides by an assumed MI308 price. The replay sells the MI308 in 2025Q1 and "
        "2025Q3 and none in 2025Q4, when its Beijing stance blocks US chips at customs: the record of AMD's "
        "2025Q4 China sales conflicts with the customs block the decision replay scores (§3.5)."),
    "units_amd": (
        "The catalogue's one AMD China part, the MI308, sells only in 2025Q1 and 2025Q3 (US licence "
        "requirement in Q2, Beijing's customs ban in Q4), while IDC counts every AMD card shipped to China."),
    "units_domestic_maker": (
        "The replay sells up to what {maker} can make: with no 2025 count from a source "
        "other than IDC, its 2026 capacity parameter ({param}, {capacity}) backcast at the replay's "
        "domestic_capacity_growth ({replay_capacity_growth} a year, calibrated on 2022Q4-2024Q4)."),
    "units_domestic_sourced": (
        "Not a test of behaviour: the replay sells up to {maker}'s 2025 output, which the model takes from "
        "another source ({output_2025}: {output_source}); the row compares that source with IDC's count."),
    "units_2025_domestic": (
        "Each domestic maker sells up to its foundry output: Huawei's and Cambricon's 2025 output from "
        "sources other than IDC, T-Head's, Kunlunxin's and Moore Threads' 2026 capacity parameters "
        "backcast at the replay's domestic_capacity_growth ({replay_capacity_growth} a year), so the sum "
        "checks those backcasts and sources against IDC (rows above)."),
    "units_2025_all": (
        "The model counts legal sales of data-centre parts (the US makers' blocked quarters and the "
        "domestic backcast, rows above), while IDC counts every accelerator card shipped to China, incl. "
        "low-end and workstation cards and probably grey imports."),
    "huawei_2025": (
        "Not a test: the model takes Huawei's 2025 output from this estimate (Capacity.output_2025) as what "
        "Huawei can make; the replay sells what developers buy of it, at most that."),
    "huawei_2025_us_gov": (
        "The US government's figure is a ceiling ('no more than') on the advanced chips SMIC can make, "
        "while the model takes SemiAnalysis's 805k, which also counts Ascends made from the TSMC dies "
        "Huawei obtained before the 2024 ban (§B1); the two sources disagree by 4x."),
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
        "In sample, not a test: grey_supply_units ({grey_supply}) and grey_frontier_share ({grey_frontier}) "
        "were calibrated on this row (and a ~50% premium), so the agreement shows the fit, not the model; "
        "the chips smuggled are the H100, then the MI300X ({grey_lag} quarters after release), and 2025 "
        "is out of sample."),
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


@lru_cache(maxsize=1)
def _why_values() -> dict[str, str]:
    """The defaults the sentences of ``WHY`` name, formatted (read once: the table asks for every row)."""
    from model.core.backcast import HISTORY_QUARTERS
    from model.core.parameters import DEFAULTS
    from model.core.reporters import USD_PER_H100E
    from model.validation.replay import replay_spec

    cat = catalogue_arrays()
    leader = next(m for m in catalogue.makers() if m.name == DOMESTIC_LEADER)

    def chip(name: str, values: np.ndarray) -> str:
        return f"{values[cat.names.index(name)]:.2f}"

    d = DEFAULTS
    replay_growth = replay_spec()[0].get("domestic_capacity_growth", d["domestic_capacity_growth"])
    return {
        "demand_2026": f"${d['demand_2026_usd'] / 1e9:.0f}B", "demand_growth": f"{d['demand_growth']:.0%}",
        "history_quarters": str(HISTORY_QUARTERS), "usd_per_h100e": f"${USD_PER_H100E / 1e3:.0f}k",
        "depreciation_years": f"{d['depreciation_years']:g} years",
        "h20_perf": chip("H20", cat.perf_paper), "h20_flop": chip("H20", cat.flop_h100e),
        "c910_flop": chip("Ascend910C", cat.flop_h100e),
        "grey_supply": _num(float(d["grey_supply_units"])),
        "grey_frontier": f"{d['grey_frontier_share']:.0%}",
        "grey_lag": str(d["grey_lag_quarters"]), "grey_seizure": f"{d['grey_seizure_share']:.0%}",
        "capacity_growth": f"{d['domestic_capacity_growth']:.0%}",
        "huawei_capacity": _num(float(d[leader.capacity.param])),
        "hbm_stockpile": _num(float(d["hbm_stockpile_2026"])),
        "hbm_drawdown": str(d["hbm_drawdown_quarters"]),
        "domestic_hbm": _num(float(d["domestic_hbm_2026"])),
        "hbm_huawei": f"{leader.hbm_stacks_per_chip:g}",
        "domestic_efficiency": f"{d['domestic_efficiency']:g}",
        "history_growth": f"{d['history_growth']:.0%}",
        "replay_capacity_growth": f"{replay_growth:.0%}",
        "us_compute_2026": _num(float(d["us_compute_2026_h100e"])),
        "us_compute_growth": f"{d['us_compute_growth']:g}",
    }


def why(key: str, maker: catalogue.Maker | None = None) -> str:
    """The sentence ``WHY[key]`` with the defaults it names (and ``maker``'s capacity) filled in."""
    from model.core.parameters import DEFAULTS

    values = dict(_why_values())  # a copy: the maker's values are added to it
    if maker is not None and maker.capacity is not None:
        values.update(maker=maker.name, param=maker.capacity.param,
                      capacity=_num(float(DEFAULTS[maker.capacity.param])),
                      output_2025=_num(maker.capacity.output_2025),
                      output_source=maker.capacity.output_2025_source.split(":")[0])
    return WHY[key].format(**values)



def _units_why(maker: catalogue.Maker) -> str:
    """The sentence for a maker's 2025 units: its own (US makers), or the domestic backcast's."""
    if maker.is_domestic:
        sourced = maker.capacity is not None and maker.capacity.output_2025 > 0
        return why("units_domestic_sourced" if sourced else "units_domestic_maker", maker)
    key = f"units_{maker.reporter_key}"
    return why(key) if key in WHY else why("units_2025_all")
