"""The fast model and the per-agent reference (benchmarks/reference.py) implement the same rules.

Same parameters, same seed, same initial state and random numbers -> the same reporters, step by
step, to round-off (rtol 1e-9). The settings cover rationing that binds (small domestic capacity
under a US ban), Beijing's restrict and discourage stances, lagged and open US regimes, reversals,
dated schedules, the adaptive Chinese rule and R&D-paced domestic roadmaps.
"""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.reference import ReferenceModel
from model import MODEL_REPORTERS, ChipMarketModel
from model.core.reporters import USD_PER_H100E

STEPS = 20

CASES = {
    "default_lagged_restrict": {},
    "rationing_us_ban": {"export_regime": "ban", "huawei_capacity_2026": 40_000,
                         "cambricon_capacity_2026": 20_000, "moore_threads_capacity_2026": 5_000},
    "rationing_h20_discourage": {"export_regime": "h20", "china_import_policy": "discourage",
                                 "huawei_capacity_2026": 100_000, "domestic_capacity_growth": 0.2},
    "china_restrict_lagged": {"export_regime": "lagged", "china_import_policy": "restrict",
                              "export_lag_months": 6, "approved_customer_share": 0.4},
    "open_open": {"export_regime": "open", "china_import_policy": "open", "us_reversal_prob": 0.0},
    "reversals_adaptive": {"export_regime": "open", "china_import_policy": "open",
                           "us_reversal_prob": 0.3, "china_adaptive": True,
                           "huawei_capacity_2026": 3_000_000},
    "schedules_rnd": {"us_policy_schedule": "2027Q1:open,2028Q3:ban",
                      "china_policy_schedule": "2026Q3:discourage,2029Q1:ban",
                      "rd_speedup_cost_usd": 5e7, "state_mandate": False},
    "replay_2023_priced_risk": {"start_quarter": "2023Q1", "realize_reversals": False,
                                "us_reversal_prob": 0.3, "rd_speedup_cost_usd": 5e7,
                                "state_domestic_preference": 4.0, "china_import_policy": "open"},
    "no_noise_no_domestic": {"demand_shock_sd": 0.0, "taste_sd": 0.0, "huawei_capacity_2026": 0,
                             "cambricon_capacity_2026": 0, "moore_threads_capacity_2026": 0},
}


def both(seed: int, n: int, params: dict):
    fast = ChipMarketModel(rng=seed, n_developers=n, **params)
    ref = ReferenceModel(rng=seed, n_developers=n, **params)
    return fast, ref


def reporters(model) -> np.ndarray:
    return np.array([getattr(model, name) for name in MODEL_REPORTERS], dtype=float)


@pytest.mark.parametrize("seed,n", [(1, 50), (7, 200)])
@pytest.mark.parametrize("case", sorted(CASES))
def test_same_reporters_step_by_step(case, seed, n):
    fast, ref = both(seed, n, CASES[case])
    for step in range(STEPS):
        fast.step()
        ref.step()
        a, b = reporters(fast), reporters(ref)
        # unmet demand is a difference (demand - served): where it is ~0 its round-off is relative
        # to the quarter's demand, not to itself
        scale = np.zeros(len(MODEL_REPORTERS))
        scale[MODEL_REPORTERS.index("unmet_demand_h100e")] = float(fast.developers.last_demand.sum()) / USD_PER_H100E
        bad = np.abs(b - a) > 1e-9 * np.maximum(np.abs(a), scale)
        assert not bad.any(), (
            f"{case} seed={seed} n={n} step={step}: "
            + "; ".join(f"{MODEL_REPORTERS[k]} model={a[k]!r} reference={b[k]!r}" for k in np.flatnonzero(bad)))
    # the per-developer state agrees too
    np.testing.assert_allclose([d.installed for d in ref.developers], fast.developers.installed,
                               rtol=1e-9, atol=1e-12 * fast.developers.installed.sum())
    # both data collectors hold the same table
    df_fast, df_ref = fast.dataframe(), ref.datacollector.get_model_vars_dataframe()
    np.testing.assert_allclose(df_ref[list(MODEL_REPORTERS)].to_numpy(),
                               df_fast[list(MODEL_REPORTERS)].to_numpy(), rtol=1e-9,
                               atol=1e-9 * float(df_fast["china_compute_h100e"].max()))


def test_rationing_binds_in_the_rationing_cases():
    """The rationing cases really exercise re-offered rounds (otherwise they prove little)."""
    for case in ("rationing_us_ban", "rationing_h20_discourage", "default_lagged_restrict"):
        _, ref = both(1, 100, CASES[case])
        rounds = []
        for _ in range(8):
            ref.step()
            rounds.append((ref.rationed, ref.rounds))
        assert any(r for r, _ in rounds), case
        assert max(k for _, k in rounds) >= 2, case
    # and under a US ban with small domestic capacity, demand goes unmet
    _, ref = both(1, 100, CASES["rationing_us_ban"])
    ref.step()
    assert ref.unmet_demand_h100e > 0.05 * sum(d.demand for d in ref.developers) / USD_PER_H100E


def test_same_random_stream_after_a_run():
    """Both consumed exactly the same draws: their generators end in the same state."""
    fast, ref = both(11, 80, {"us_reversal_prob": 0.2})
    for _ in range(6):
        fast.step()
        ref.step()
    assert fast.rng.bit_generator.state == ref.rng.bit_generator.state
