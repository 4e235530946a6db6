"""US makers design China parts to the rule (ODD 7.5, ``USChipmaker.design_to_rule``).

Analytic cases for the part's numbers (``supply.part_under_caps``) and runs that check when a part is
designed, what it is, that it complies with the rule it answers, and that the switch turns it off.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.core.catalogue import (
    DESIGN_SLOTS,
    H100_MEM_BW_GBS,
    H100_TPP,
    NEVER,
    catalogue_arrays,
)
from model.core.chip_market import ChipMarketModel
from model.core.policy import BLOCKED, DESIGN_TRACKS, H20_ERA_CAPS, ExportRule, design_caps, us_exportable
from model.core.quarters import parse_quarter
from model.core.supply import part_under_caps

START = parse_quarter("2026Q1")


def run(steps: int = 20, **params) -> ChipMarketModel:
    model = ChipMarketModel(rng=3, realize_reversals=False, n_developers=200, **params)
    model.run(steps)
    return model


def designs(model: ChipMarketModel, maker: str | None = None, china_part: bool | None = None) -> list[int]:
    """Generated columns a run filled (released at some quarter), of ``maker`` and of the kind asked."""
    cat = model.catalogue
    return [j for j in np.flatnonzero(cat.generated) if model.release[j] < NEVER
            and (maker is None or cat.maker_names[cat.maker_of_chip[j]] == maker)
            and (china_part is None or cat.china_part[j] == china_part)]


# --- the part's numbers ------------------------------------------------------------------------------
def test_a_part_sits_the_margin_under_each_cap_and_costs_its_parents_price_per_performance():
    # parent: the B200 (2.275 FLOP H100e, 8,000 GB/s, $35k, performance index 2.33)
    flop, bw, perf, price = part_under_caps((21_000.0, 6_500.0), 0.05, 2_250 / 989, 8_000.0, 35_000.0, 2.33)
    assert flop * H100_TPP == pytest.approx(0.95 * 21_000)
    assert bw == pytest.approx(0.95 * 6_500)
    assert perf == pytest.approx(math.sqrt(flop * bw / H100_MEM_BW_GBS))
    assert price == pytest.approx(35_000 / 2.33 * perf)
    assert flop * H100_TPP < 21_000 and bw < 6_500  # it complies


def test_a_part_is_never_better_than_its_parent():
    flop, bw, perf, price = part_under_caps((1e6, 1e6), 0.05, 1.0, 3_350.0, 25_000.0, 1.0)
    assert (flop, bw, perf, price) == pytest.approx((1.0, 3_350.0, 1.0, 25_000.0))


def test_caps_to_design_to_exist_only_under_threshold_and_h20():
    assert design_caps(ExportRule("threshold", tpp_cap=30_000, bw_cap_gbs=7_000)) == {
        "licensed": (30_000, 7_000), "china_part": H20_ERA_CAPS}  # China parts stay exportable to anyone
    assert design_caps(ExportRule("h20")) == {"china_part": H20_ERA_CAPS}
    for regime in ("ban", "lagged", "open"):
        assert design_caps(ExportRule(regime)) == {}
    assert set(DESIGN_TRACKS) == {"licensed", "china_part"}


def test_each_us_maker_has_empty_generated_slots_and_domestic_makers_none():
    cat = catalogue_arrays()
    for k, maker in enumerate(cat.makers):
        slots = cat.generated & (cat.maker_of_chip == k)
        assert slots.sum() == (DESIGN_SLOTS if maker.stack == "US" else 0), maker.name
    assert (cat.release[cat.generated] == NEVER).all()
    assert not us_exportable(ExportRule("open"), NEVER - 1, cat)[0][cat.generated].any()


# --- in a run ---------------------------------------------------------------------------------------
def test_under_the_threshold_nvidia_brings_out_a_licensable_part_lead_quarters_after_the_rule():
    for lead in (1, 3):
        model = run(export_regime="threshold", design_lead_quarters=lead)
        cat = model.catalogue
        nvidia = designs(model, "Nvidia", china_part=False)
        assert len(nvidia) == 1
        j = nvidia[0]
        assert model.release[j] == START + lead
        assert cat.tpp[j] < 21_000 and cat.mem_bw_gbs[j] < 6_500 and not cat.china_part[j]
        assert cat.perf_paper[j] > cat.perf_paper[cat.names.index("H200")]  # better than what it had
        assert model.china_units_to_date[j] > 0  # and China bought it
        assert model.dataframe()["us_share_designed"].iloc[-1] > 0


def test_amd_designs_no_licensed_part_when_its_licensable_part_already_sits_at_the_caps():
    model = run(export_regime="threshold")
    assert designs(model, "AMD", china_part=False) == []


def test_under_the_threshold_a_china_part_follows_once_the_old_ones_are_sold_out():
    # the H20 and MI308 stocks went in 2025 and the RTX Pro 6000D is retired: nothing is left on sale that
    # any buyer may take, so each maker brings out a China part to the h20-era caps, sold without licence
    # (Beijing at a stance that lets it in: deciding by its rule, Beijing blocks it, as the test below says)
    model = run(export_regime="threshold", china_import_policy="restrict")
    cat = model.catalogue
    for maker in ("Nvidia", "AMD"):
        (j,) = designs(model, maker, china_part=True)
        assert model.release[j] == START + 2
        assert cat.tpp[j] < H20_ERA_CAPS[0] and cat.mem_bw_gbs[j] < H20_ERA_CAPS[1]
        assert model.china_units_to_date[j] > 0


def test_beijing_deciding_blocks_the_china_parts_designed_to_the_old_caps():
    """The Ascend 910C matches any part under the h20-era caps, so Beijing's rule blocks them on arrival
    (precedent: no better than the blocked H20) and they sell nothing."""
    model = run(export_regime="threshold", china_import_policy="decides")
    for j in designs(model, china_part=True):
        assert model.china_government.levels[j] == BLOCKED
        assert model.china_units_to_date[j] == 0


def test_a_new_cap_brings_a_second_part_just_under_it():
    model = run(export_regime="threshold", us_policy_schedule="2027Q1:threshold@30000")
    cat = model.catalogue
    nvidia = sorted((int(model.release[j]), j) for j in designs(model, "Nvidia", china_part=False))
    assert [q for q, _ in nvidia] == [START + 2, parse_quarter("2027Q1") + 2]
    first, second = (j for _, j in nvidia)
    assert cat.tpp[first] < 21_000 < cat.tpp[second] < 30_000


def test_a_design_whose_rule_is_gone_before_release_is_dropped():
    model = run(export_regime="threshold", us_policy_schedule="2026Q2:ban")
    assert designs(model) == []
    assert model.dataframe()["us_share_designed"].max() == 0.0


def test_caps_a_dropped_design_aimed_at_are_answered_again_when_they_return():
    model = run(export_regime="threshold", us_policy_schedule="2026Q2:ban,2027Q1:threshold")
    for maker in ("Nvidia", "AMD"):  # AMD: its China part (its MI325X already sits at the licensed caps)
        assert [int(model.release[j]) for j in designs(model, maker)] == [parse_quarter("2027Q1") + 2] * (
            2 if maker == "Nvidia" else 1)


def test_under_h20_the_part_is_a_china_part_under_the_h20_era_caps_sold_to_anyone():
    model = run(export_regime="h20", china_import_policy="restrict")
    cat = model.catalogue
    made = designs(model)
    assert made
    for j in made:
        assert cat.china_part[j]
        assert cat.tpp[j] < H20_ERA_CAPS[0] and cat.mem_bw_gbs[j] < H20_ERA_CAPS[1]
    assert sum(model.china_units_to_date[j] for j in made) > 0


def test_no_part_is_designed_without_caps_or_with_the_switch_off():
    for params in ({"export_regime": "ban"}, {"export_regime": "lagged"}, {"export_regime": "open"},
                   {"export_regime": "threshold", "design_to_rule": False},
                   {"export_regime": "h20", "design_to_rule": False}):
        model = run(**params)
        assert designs(model) == [], params
        assert model.dataframe()["us_share_designed"].max() == 0.0


def test_the_switch_changes_only_what_designed_parts_do():
    # under a ban nothing is designed, so the switch cannot change a single number
    on, off = (run(export_regime="ban", design_to_rule=d).dataframe() for d in (True, False))
    assert on.equals(off)


def test_no_part_is_designed_before_2026_in_a_replay():
    model = ChipMarketModel(rng=1, start_quarter="2023Q1", export_regime="h20", realize_reversals=False,
                            n_developers=200)
    model.run(12)  # through 2025Q4
    assert designs(model) == []
