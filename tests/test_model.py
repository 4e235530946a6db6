"""ChipMarketModel: invariants at every step, determinism, direction of effects, Mesa idioms,
and bad input."""

import inspect

import mesa
import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from model import MODEL_REPORTERS, ChipMarketModel
from model.core.beijing import ChinaGovernment
from model.core.catalogue import MAKERS
from model.core.developers import AIDeveloper
from model.core.governments import USGovernment
from model.core.makers import DomesticChipmaker, USChipmaker
from model.core.parameters import DEFAULTS, PARAMS, PARAMS_BY_NAME
from model.core.population import installed_by_ecosystem

SMALL = dict(n_developers=60)


def run_checked(steps=12, **params):
    """Run a model and check the step invariants after every quarter."""
    m = ChipMarketModel(**params)
    cat = m.catalogue
    for _ in range(steps):
        before = m.developers.installed.copy()
        m.step()
        dev = m.developers
        # installed compute = last quarter's after depreciation + purchases
        np.testing.assert_allclose(dev.installed, before * (1 - m.depreciation) + dev.last_purchases,
                                   rtol=1e-12, atol=1e-9)
        assert (dev.last_purchases >= -1e-12).all() and (dev.last_unmet >= -1e-9).all()
        # each budget (plus what was brought forward to stockpile) ends spent in China, abroad, on the
        # grey market, or unspent; what is spent in China buys compute at the chips' prices
        np.testing.assert_allclose(dev.last_spent + dev.last_offshore + dev.last_grey + dev.last_unmet,
                                   dev.last_demand + dev.last_stockpiled, rtol=1e-9, atol=1e-6)
        assert ((dev.last_offshore >= 0).all() and (dev.last_grey >= 0).all()
                and (dev.last_stockpiled >= 0).all())
        # the grey market clears on the smugglers' supply line, below the demand's choke premium
        assert 0.0 <= dev.last_grey_premium < m.p.grey_max_premium
        assert dev.last_grey_units == pytest.approx(
            m.p.grey_supply_units * (1 - m.p.grey_seizure_share) * dev.last_grey_premium, rel=1e-12)
        assert ((dev.last_offshore[dev.state_affiliated] == 0).all()
                and (dev.last_grey[dev.state_affiliated] == 0).all())
        r = m.reported
        split = (r["budget_usd"] - r["spent_china_usd"] - r["spent_offshore_usd"] - r["spent_grey_usd"]
                 - r["unspent_usd"])
        assert abs(split) <= 1e-9 * max(r["budget_usd"], 1.0)
        per_usd = m.perf / m.buyer_cost
        bought = dev.last_purchases.sum(axis=1) - dev.last_grey_h100e
        assert (bought <= dev.last_spent * per_usd.max() * (1 + 1e-9) + 1e-9).all()
        assert (bought >= dev.last_spent * per_usd.min() * (1 - 1e-9) - 1e-9).all()
        spend_by_chip = m.chips_sold * m.buyer_cost
        assert spend_by_chip.sum() == pytest.approx(dev.last_spent.sum(), rel=1e-9, abs=1e-3)
        assert (m.chips_sold * m.perf).sum() == pytest.approx(bought.sum(), rel=1e-9, abs=1e-6)
        for name in ("us_stack_share", "us_share_new", "developers_on_us_stack", "domestic_ecosystem"):
            assert 0.0 <= r[name] <= 1.0, name
        assert r["capability_gap_months"] >= 0 and r["unmet_demand_h100e"] >= 0
        # no chip is sold that no buyer may legally buy, and nobody buys from a maker it may not
        classes = m.developers.access_classes
        legal = dev.last_purchases.copy()
        if m.developers.grey_chip >= 0:
            legal[:, cat.maker_of_chip[m.developers.grey_chip]] -= dev.last_grey_h100e
        allowed_any = m.allowed_by_class[np.unique(classes)].any(axis=0)
        assert (m.chips_sold[~allowed_any] == 0).all()
        for c in range(m.allowed_by_class.shape[0]):
            rows = classes == c
            if rows.any():
                makers_ok = np.zeros(len(cat.maker_names), dtype=bool)
                makers_ok[cat.maker_of_chip[m.allowed_by_class[c]]] = True
                assert (np.abs(legal[np.ix_(rows, ~makers_ok)])
                        <= 1e-9 * (1 + dev.last_purchases[np.ix_(rows, ~makers_ok)])).all()
        # Beijing's rules and the state mandate: no legal US purchases by developers Beijing forbids
        us = dev.last_purchases[:, m.us_maker_mask].sum(axis=1) - dev.last_grey_h100e
        assert (us[classes == 0] <= 1e-9 * (1 + dev.last_grey_h100e[classes == 0])).all()
        if m.china_government.stance != "open" and m.p.state_mandate:
            assert (us[dev.state_affiliated] == 0).all()
        # domestic sales never exceed capacity (foundry and HBM); US sales never exceed the China stock
        for maker in (mk for mk in m.chipmakers if mk.is_domestic):
            sold = m.chips_sold[cat.maker_of_chip == maker.index].sum()
            assert sold <= maker.capacity * (1 + 1e-9) + 1e-6, maker.name
            assert maker.capacity <= maker.hbm_ceiling * (1 + 1e-12), maker.name
        assert (m.supply.stock >= 0).all() and (m.supply.production >= 0).all() and m.hbm.stock >= 0
        assert (m.chips_sold[cat.is_us] <= m.supply.last_supply[cat.is_us] * (1 + 1e-9) + 1e-6).all()
    return m


@given(
    seed=st.integers(0, 2**31 - 1),
    regime=st.sampled_from(["ban", "h20", "lagged", "open"]),
    stance=st.sampled_from(["open", "discourage", "restrict", "ban"]),
    huawei=st.sampled_from([0.0, 50_000.0, 200_000.0, 600_000.0, 3_000_000.0]),
    approved=st.floats(0, 1),
    subsidy=st.floats(0, 0.9),
    reversal=st.floats(0, 0.5),
    mandate=st.booleans(),
    adaptive=st.booleans(),
    n=st.integers(1, 80),
)
def test_invariants_hold_at_every_step(seed, regime, stance, huawei, approved, subsidy, reversal,
                                       mandate, adaptive, n):
    run_checked(steps=10, rng=seed, n_developers=n, export_regime=regime, china_import_policy=stance,
                huawei_capacity_2026=huawei, approved_customer_share=approved,
                domestic_subsidy=subsidy, us_reversal_prob=reversal, state_mandate=mandate,
                china_adaptive=adaptive)


def test_history_start_runs_with_invariants():
    run_checked(steps=14, rng=5, n_developers=80, start_quarter="2022Q4", export_regime="h20",
                china_import_policy="open", us_policy_schedule="2025Q2:ban,2025Q3:h20,2026Q1:lagged",
                china_policy_schedule="2025Q3:discourage,2025Q4:restrict")


def test_no_licensed_chips_without_approved_customers():
    m = ChipMarketModel(rng=3, n_developers=100, export_regime="lagged", china_import_policy="open",
                        approved_customer_share=0.0, us_reversal_prob=0.0, us_licence_lead_quarters=0)
    for _ in range(8):
        m.step()
        licensed_only = m.allowed_by_class[2] & ~m.allowed_by_class[1]
        assert licensed_only.any()  # H200-class chips exist that need a licence ...
        assert (m.chips_sold[licensed_only] == 0).all()  # ... and nobody may buy them


def test_determinism_same_seed_same_data_other_seed_differs():
    a = ChipMarketModel(rng=11, **SMALL).run(12)
    b = ChipMarketModel(rng=11, **SMALL).run(12)
    c = ChipMarketModel(rng=12, **SMALL).run(12)
    pd.testing.assert_frame_equal(a, b)
    assert not a[list(MODEL_REPORTERS)].equals(c[list(MODEL_REPORTERS)])


def final_mean(seeds=range(6), column="us_stack_share", steps=20, **params):
    return float(np.mean([ChipMarketModel(rng=s, n_developers=120, **params).run(steps)[column].iloc[-1]
                          for s in seeds]))


@pytest.mark.parametrize("params", [dict(export_regime="ban"), dict(china_import_policy="ban"),
                                    dict(export_regime="open", china_import_policy="ban")])
def test_a_ban_on_either_side_means_no_new_us_purchases(params):
    for seed in range(3):
        df = ChipMarketModel(rng=seed, n_developers=80, **params).run(12)
        assert (df["nvidia_china_revenue_usd"] == 0).all()
        assert (df["spent_grey_usd"] > 0).all()  # the only US chips reaching China are smuggled
        closed = ChipMarketModel(rng=seed, n_developers=80, grey_supply_units=0.0, **params).run(12)
        assert (closed["us_share_new"] == 0).all() and (closed["grey_compute_h100e"] == 0).all()


def test_us_share_ordered_by_export_regime():
    shares = {r: final_mean(export_regime=r, china_import_policy="open")
              for r in ["ban", "h20", "lagged", "open"]}
    assert shares["open"] >= shares["lagged"] >= shares["h20"] >= shares["ban"], shares
    assert shares["open"] > shares["ban"] + 0.2, shares  # the lever matters, not just ties


def test_more_huawei_capacity_does_not_raise_us_share():
    shares = [final_mean(huawei_capacity_2026=h) for h in (200_000, 600_000, 3_000_000)]
    assert shares[0] >= shares[1] >= shares[2], shares


def test_beijing_stance_caps_the_us_share():
    shares = [final_mean(export_regime="open", china_import_policy=s)
              for s in ["open", "discourage", "restrict", "ban"]]
    assert shares == sorted(shares, reverse=True), shares


def test_batch_run_returns_every_reporter_for_every_run():
    results = mesa.batch_run(ChipMarketModel,
                             parameters={"export_regime": ["ban", "open"], "n_developers": 30},
                             rng=[1, 2], max_steps=4, number_processes=1, display_progress=False)
    df = pd.DataFrame(results)
    assert len(df) == 4
    for name in MODEL_REPORTERS:
        assert name in df.columns and df[name].notna().all(), name
    assert set(df["export_regime"]) == {"ban", "open"}


def test_signature_matches_the_parameter_table():
    sig = inspect.signature(ChipMarketModel.__init__)
    names = [p for p in sig.parameters if p not in ("self", "rng")]
    assert names == [p.name for p in PARAMS]
    for p in PARAMS:
        assert sig.parameters[p.name].default == p.default, p.name
        assert p.kind != "VAR_KEYWORD"
    assert all(s.kind != inspect.Parameter.VAR_KEYWORD for s in sig.parameters.values())


def test_every_default_has_a_source_and_approved_share_is_sourced_above_zero():
    for p in PARAMS:
        assert p.source and p.doc and p.unit, p.name
    acs = PARAMS_BY_NAME["approved_customer_share"]
    assert DEFAULTS["approved_customer_share"] > 0
    assert "§B4" in acs.source


def test_agents_are_mesa_agents_and_read_the_arrays():
    m = ChipMarketModel(rng=2, n_developers=40, collect_developer_data=True)
    m.step()
    devs = m.agents_by_type[AIDeveloper]
    assert len(devs) == 40
    d = devs.to_list()[7]
    assert d.us_compute_h100e == pytest.approx(m.developers.installed[7, m.us_maker_mask].sum())
    assert d.segment in ("hyperscaler", "ai_lab", "state", "enterprise")
    # one agent per catalogue maker, of its own type; one agent per government
    assert len(m.agents_by_type[USChipmaker]) == sum(not mk.is_domestic for mk in MAKERS)
    assert len(m.agents_by_type[DomesticChipmaker]) == sum(mk.is_domestic for mk in MAKERS)
    domestic = {mk.name for mk in MAKERS if mk.is_domestic}
    assert {a.name for a in m.agents_by_type[DomesticChipmaker]} == domestic
    assert len(m.agents_by_type[USGovernment]) == len(m.agents_by_type[ChinaGovernment]) == 1
    total = sum(devs.get("us_compute_h100e")) + sum(devs.get("domestic_compute_h100e"))
    assert total == pytest.approx(m.reported["china_effective_compute_h100e"])  # agents hold effective H100e
    agent_df = m.datacollector.get_agenttype_vars_dataframe(AIDeveloper)
    assert {"segment", "licensed", "us_compute_h100e", "domestic_compute_h100e"} <= set(agent_df.columns)
    assert len(agent_df) == 40


def test_one_row_per_step_and_reporters_consistent():
    m = ChipMarketModel(rng=4, n_developers=50)
    df = m.run(6)
    assert list(df["step"]) == list(range(6))
    assert list(df["quarter"]) == ["2026Q1", "2026Q2", "2026Q3", "2026Q4", "2027Q1", "2027Q2"]
    by_eco = installed_by_ecosystem(m.developers.installed, m.catalogue.ecosystem_of_maker)
    # the developers' arrays and the ledger of installed chips book the same effective compute
    assert df["china_effective_compute_h100e"].iloc[-1] == pytest.approx(by_eco.sum(), rel=1e-12)


def test_demand_is_independent_of_population_size():
    small = ChipMarketModel(rng=1, n_developers=50, demand_shock_sd=0.0)
    big = ChipMarketModel(rng=1, n_developers=5000, demand_shock_sd=0.0)
    assert small.developers.base_demand.sum() == pytest.approx(big.developers.base_demand.sum())
    assert small.developers.installed.sum() == pytest.approx(big.developers.installed.sum())


@pytest.mark.parametrize("kwargs, fragment", [
    (dict(export_regim="open"), "did you mean 'export_regime'"),
    (dict(n_developers="100"), "n_developers"),
    (dict(n_developers=2.5), "not an integer"),
    (dict(export_lag_months=61), "out of range"),
    (dict(approved_customer_share=-0.1), "approved_customer_share"),
    (dict(export_regime="partial"), "one of ban, h20, threshold, lagged, open"),
    (dict(china_import_policy="closed"), "one of open, discourage, restrict, ban"),
    (dict(us_policy_schedule="2027Q1-ban"), "QUARTER:VALUE"),
    (dict(china_policy_schedule="2027Q1:lagged"), "china_policy_schedule"),
    (dict(start_quarter="2026Q5"), "start_quarter"),
    (dict(state_mandate="yes"), "true or false"),
    (dict(huawei_capacity_2026=float("nan")), "not finite"),
    (dict(rng="7"), "rng"),
])
def test_bad_input_raises_value_error_naming_parameter_value_and_allowed(kwargs, fragment):
    with pytest.raises(ValueError) as info:
        ChipMarketModel(**kwargs)
    msg = str(info.value)
    assert fragment in msg
    if "rng" not in kwargs and "export_regim" not in kwargs:
        name, value = next(iter(kwargs.items()))
        assert name in msg and "allowed" in msg


def test_no_test_hook_in_the_model():
    # failure-isolation tests pass a failing subclass to the runner (tests/failing_model.py)
    from model.core.parameters import PARAMS_BY_NAME

    assert "fail_at_step" not in PARAMS_BY_NAME
    with pytest.raises(ValueError, match="unknown parameter 'fail_at_step'"):
        ChipMarketModel(rng=1, n_developers=10, fail_at_step=2)


def test_reversals_priced_but_not_realized_keep_the_regime():
    m = ChipMarketModel(rng=3, n_developers=30, us_reversal_prob=1.0, realize_reversals=False)
    for _ in range(6):
        m.step()
        assert m.us_government.regime == "threshold"
    assert m.us_government.supply_cut_risk == pytest.approx(1.0)  # ... yet developers price the risk
    real = ChipMarketModel(rng=3, n_developers=30, us_reversal_prob=1.0, realize_reversals=True)
    regimes = []
    for _ in range(3):
        real.step()
        regimes.append(real.us_government.regime)
    assert regimes == ["h20", "ban", "ban"]


@pytest.mark.parametrize("share", [0.0, 0.25, 0.6, 1.0])
def test_licences_and_approvals_hold_their_share_of_each_segments_demand(share):
    m = ChipMarketModel(rng=8, n_developers=2000, approved_customer_share=share, china_approval_share=share,
                        us_licence_allocation="random")
    dev = m.developers
    for flags in (dev.licensed, dev.china_approved):
        for seg in range(4):
            rows = dev.segment == seg
            held = dev.base_demand[rows & flags].sum() / dev.base_demand[rows].sum()
            biggest = dev.base_demand[rows].max() / dev.base_demand[rows].sum()
            assert abs(held - share) <= 0.5 * biggest + 1e-12
