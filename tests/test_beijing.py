"""Beijing as a deciding agent (ODD 7.1b, ``china_import_policy = "decides"``): its ladder product by
product, its approvals, and that a stance (the override) still sets one level for every US product."""

import numpy as np
import pytest

from model import ChipMarketModel
from model.core.policy import (
    APPROVAL,
    BLOCKED,
    GUIDED,
    HELD,
    OPEN,
    PRODUCT_LEVELS,
    STANCE_LEVEL,
)
from model.core.population import largest_first
from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

SEEDS = (1, 2, 3, 4, 5)


def replay(seed: int, **overrides) -> ChipMarketModel:
    """The history replay (2022Q4-2026Q2) with Beijing deciding instead of its dated schedule."""
    params, steps, _ = replay_spec(REPLAY_EXPERIMENT)
    params = {**params, "n_developers": 300, "china_import_policy": "decides", "china_policy_schedule": "",
              **overrides}
    m = ChipMarketModel(rng=seed, **params)
    m.levels_by_quarter = {}
    for _ in range(steps):
        m.step()
        m.levels_by_quarter[m.quarter_label] = m.china_government.levels.copy()
    return m


@pytest.fixture(scope="module")
def replays():
    return [replay(seed) for seed in SEEDS]


def level(m, quarter: str, chip: str) -> int:
    return int(m.levels_by_quarter[quarter][m.catalogue.names.index(chip)])


def test_nothing_is_restricted_before_a_domestic_chip_matches_a_us_product(replays):
    """2022Q4-2024Q4 (the calibration window): A800, H800, H20 and MI308 are bought freely, as they were."""
    for m in replays:
        for q, levels in m.levels_by_quarter.items():
            if q <= "2024Q4":
                assert (levels == OPEN).all(), q


def test_beijing_guides_then_blocks_the_h20_in_2025_from_its_rule(replays):
    """The record (SOURCES §C2, H): guidance in Aug 2025 (Q3), customs in Oct 2025 (Q4), for the H20 and
    the parts no better than it; the rule gets there from the Ascend 910C's match, not from a date."""
    for m in replays:
        assert level(m, "2025Q3", "H20") == GUIDED
        assert level(m, "2025Q4", "H20") == BLOCKED
        assert level(m, "2025Q3", "RTXPro6000D") == GUIDED  # precedent: no better than the guided H20
        assert level(m, "2025Q4", "MI308") == BLOCKED
        reasons = {(q, c): r for q, c, lv, r in m.china_government.decisions}
        assert "matched" in reasons[("2025Q3", "H20")]


def test_beijing_holds_the_h200_at_customs_then_approves_only_necessary_buyers(replays):
    """Jan 2026: customs held the H200, then approvals for the largest firms (§C3 H)."""
    for m in replays:
        assert level(m, "2026Q1", "H200") == HELD
        assert level(m, "2026Q2", "H200") == APPROVAL


def test_a_blocked_or_held_product_sells_nothing_and_approval_goes_to_approved_buyers_only():
    m = replay(1, us_licence_lead_quarters=0)  # licensed H200s can reach approved buyers in 2026Q2
    cat = m.catalogue
    sales = m.datacollector.get_table_dataframe("chip_sales")
    for q in ("2025Q4", "2026Q1"):
        sold = sales[(sales.quarter == q) & sales.maker.isin(["Nvidia", "AMD"])]
        assert sold.units.sum() == 0, q  # everything the US lets in is guided, held or blocked
    # in 2026Q2 only approved private developers (the largest) bought US chips
    classes, table = m.developers.access_classes, m.allowed_by_class
    us_buyers = table[classes][:, cat.is_us].any(axis=1)
    dev = m.developers
    approved = m.china_government.approved(dev.base_demand, dev.state_affiliated, dev.licensed,
                                           dev.china_approved)
    assert us_buyers.any() and not (us_buyers & ~approved).any()
    assert not (approved & dev.state_affiliated).any() and not (approved & ~dev.licensed).any()


def test_levels_never_fall_except_a_hold_ending_in_approval(replays):
    for m in replays:
        quarters = sorted(m.levels_by_quarter)
        for a, b in zip(quarters, quarters[1:], strict=False):
            before, after = m.levels_by_quarter[a], m.levels_by_quarter[b]
            fell = after < before
            assert ((before[fell] == HELD) & (after[fell] == APPROVAL)).all(), (a, b)


def test_without_a_match_beijing_never_acts():
    """A match ratio no domestic chip reaches: nothing is ever guided, held or blocked."""
    m = replay(1, china_match_ratio=10.0)
    assert m.china_government.decisions == []
    assert all((lv == OPEN).all() for lv in m.levels_by_quarter.values())


def test_a_longer_review_delays_every_step():
    m = replay(1, china_review_quarters=2)
    assert level(m, "2025Q3", "H20") == OPEN  # offered while matched only in 2025Q1 before Q3
    assert level(m, "2025Q4", "H20") == GUIDED


def test_a_forward_run_starts_from_beijing_s_record():
    """A run from 2026Q1 starts with Beijing's own rule run over 2022Q4-2025Q4: the China parts matched by
    the Ascend 910C already blocked, so the licensed H200 is held for review, then needs approval."""
    m = ChipMarketModel(rng=1, n_developers=100, china_import_policy="decides", realize_reversals=False)
    names = m.catalogue.names
    assert m.china_government.levels[names.index("H20")] == BLOCKED
    m.step()
    assert m.china_government.levels[names.index("H200")] == HELD
    m.step()
    assert m.china_government.levels[names.index("H200")] == APPROVAL


@pytest.mark.parametrize("stance", list(STANCE_LEVEL))
def test_a_stance_sets_one_level_for_every_us_product(stance):
    m = ChipMarketModel(rng=1, n_developers=50, china_import_policy=stance)
    m.step()
    us = m.china_government.levels[m.catalogue.is_us]
    assert (us == STANCE_LEVEL[stance]).all()
    assert m.allowed_by_class.shape[0] == 3  # one level: the stance's three access classes
    assert PRODUCT_LEVELS[STANCE_LEVEL[stance]] in ("open", "discouraged", "approval", "blocked")


def test_approvals_go_to_the_largest_private_developers_first():
    weight = np.array([5.0, 50.0, 30.0, 10.0, 5.0])
    private = np.array([True, False, True, True, True])
    picked = largest_first(weight, private, 0.5)
    # private total 50: the 30 (midpoint 15 < 25) is in, the 10 (midpoint 35) is not
    assert picked.tolist() == [False, False, True, False, False]
    assert largest_first(weight, private, 1.0)[private].all()
    assert not largest_first(weight, private, 0.0).any()


def test_the_ui_status_line_shows_beijing_s_decisions_and_reasons():
    from model.ui.text import status_text

    m = ChipMarketModel(rng=1, n_developers=50, china_import_policy="decides", realize_reversals=False)
    m.step()
    assert "Beijing: decides: H200 held (new product, held at customs for review)" in status_text(m)
    m.step()
    assert "H200 approval (not matched: only when necessary)" in status_text(m)
    stance = ChipMarketModel(rng=1, n_developers=50, china_import_policy="restrict")
    stance.step()
    assert "Beijing: restrict" in status_text(stance)


def test_the_status_line_names_the_pairing_quota_beijing_sets():
    """When Beijing deciding sets a pairing quota (low demand leaves domestic output unsold), its status line
    says so, with the paired chip and the approved products it covers; without a quota it does not."""
    m = ChipMarketModel(rng=1, n_developers=100, demand_2026_usd=5e9, china_import_policy="decides")
    texts = []
    for _ in range(4):
        m.step()
        texts.append((m.china_government.pairing, m.china_government.describe()))
    assert texts[0][0] is None and "pairing" not in texts[0][1]
    pairing, text = texts[-1]
    assert pairing is not None and f"pairing quota {pairing.ratio:.2f} H100e of " in text
    assert m.catalogue.names[pairing.chip] in text and "H200" in text
