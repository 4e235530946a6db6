"""Validation: docking with Arthur (1989) and Bass (1969) against their closed forms, and the
history replay at reduced size (INTERFACES §7, SOURCES §E1, §E2, §E4)."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest

from model.validation.arthur import (
    arthur_barriers,
    arthur_closed_form,
    arthur_integer_payoffs,
    arthur_lockin,
    gamblers_ruin,
)
from model.validation.bass import (
    bass_adoption,
    bass_continuous,
    bass_peak_rate,
    bass_peak_share,
    bass_peak_time,
    bass_recursion,
)
from model.validation.docking import EXPERIMENTS, load_docking
from model.validation.replay import history_replay, replay_spec

# ---------------------------------------------------------------------------------------- Arthur


def test_design_example_api_and_speed():
    t0 = time.perf_counter()
    r = arthur_lockin(a_r=2, b_r=1, a_s=1, b_s=2, r=0.1, s=0.1, p_r=0.5, runs=2000, max_arrivals=5000, seed=1)
    assert time.perf_counter() - t0 < 3.0
    assert 0 <= r.share_locked_a <= 1 and 0 <= r.share_locked_b <= 1
    assert r.share_locked_a + r.share_locked_b + r.share_unlocked == pytest.approx(1.0)
    assert r.share_unlocked == 0.0
    assert abs(r.mean_lockin_time - 121) < 3 * r.se_mean_lockin_time


def test_barriers_follow_tie_rule_and_are_exact():
    # Delta = -10/+10 exactly: ties at d = -10 go to A for R, at d = +10 to B for S -> barriers +-11
    assert arthur_barriers(2, 1, 1, 2, 0.1, 0.1) == (-11, 11)
    # 0.3 is read as 3/10: Delta = 10/3 -> -4, +4
    assert arthur_barriers(2, 1, 1, 2, 0.3, 0.3) == (-4, 4)
    assert arthur_barriers(2, 1, 1, 1.5, 0.1, 0.1) == (-11, 6)
    ints, scale = arthur_integer_payoffs(2, 1, 1, 2, 0.1, "1/3")
    assert scale == 30 and ints["r"] == 3 and ints["s"] == 10
    assert Fraction(ints["a_r"], scale) == 2


def test_gamblers_ruin_closed_forms():
    assert gamblers_ruin(-11, 11, 0.5) == pytest.approx((0.5, 121.0))
    assert gamblers_ruin(-11, 6, 0.5) == pytest.approx((11 / 17, 66.0))
    p, _ = gamblers_ruin(-11, 11, 0.6)
    assert p == pytest.approx(0.9886, abs=1e-4)  # SOURCES §E1 check value
    # the drift formula tends to the symmetric one as p -> 1/2
    assert gamblers_ruin(-7, 5, 0.5 + 1e-9)[1] == pytest.approx(35.0, rel=1e-5)


ARTHUR_CASES = [
    # (a_r, b_r, a_s, b_s, r, s, p_r)
    (2, 1, 1, 2, 0.1, 0.1, 0.5),      # symmetric, barriers +-11
    (2, 1, 1, 2, 0.1, 0.1, 0.6),      # asymmetric arrivals
    (2, 1, 1, 1.5, 0.1, 0.1, 0.5),    # asymmetric barriers -11/+6
    (2, 1, 1, 1.5, 0.1, 0.1, 0.4),
    (1.5, 1, 1, 1.5, 0.1, 0.1, 0.55),  # narrow barriers +-6
    (2, 1, 1, 2, 0.3, 0.3, 0.5),      # non-integer Delta, barriers +-4
    (2, 1, 1, 2, 0.2, 0.05, 0.55),    # r != s: -6/+21
]


@pytest.mark.parametrize("case", ARTHUR_CASES)
def test_arthur_matches_gamblers_ruin(case):
    *payoffs, p_r = case
    res = arthur_lockin(*payoffs, p_r=p_r, runs=2000, max_arrivals=5000, seed=7)
    cf = arthur_closed_form(*payoffs, p_r)
    assert res.share_unlocked == 0.0
    se_p = max(res.se_share_locked_a, math.sqrt(cf["p_lock_a"] * (1 - cf["p_lock_a"]) / res.runs), 1e-9)
    assert abs(res.share_locked_a - cf["p_lock_a"]) < 3 * se_p
    assert abs(res.mean_lockin_time - cf["mean_lockin_time"]) < 3 * res.se_mean_lockin_time
    # lock-in is absorbing: A's final share is exactly the locked share plus the pre-lock-in mix
    assert np.all((res.final_share_a > 0.5) == (res.locked_to == 1))


def test_exact_comparison_matters():
    # with r = 0.1 exact ties occur at d = +-10; comparing payoffs in floats (0.1*n) breaks some of
    # them and shortens lock-in (SOURCES §E1: E[T] ~ 116 instead of 121). Exactness is kept:
    res = arthur_lockin(2, 1, 1, 2, 0.1, 0.1, 0.5, runs=4000, max_arrivals=5000, seed=11)
    assert abs(res.mean_lockin_time - 121) < 3 * res.se_mean_lockin_time
    assert res.max_abs_d.max() == 11


def test_constant_returns_no_lockin_share_tends_to_p_r():
    res = arthur_lockin(2, 1, 1, 2, 0, 0, p_r=0.6, runs=500, max_arrivals=5000, seed=3)
    assert res.share_unlocked == 1.0
    assert abs(res.mean_final_share_a - 0.6) < 3 * res.se_final_share_a + 1e-3
    assert arthur_closed_form(2, 1, 1, 2, 0, 0, 0.6)["limit_share_a"] == 0.6


def test_diminishing_returns_no_lockin_bounded_share_half():
    # r, s < 0: d = n_A - n_B is bounded, so A's share -> 1/2 whatever p_r is (ergodic)
    res = arthur_lockin(2, 1, 1, 2, -0.1, -0.1, p_r=0.6, runs=500, max_arrivals=5000, seed=4)
    assert res.share_unlocked == 1.0
    assert res.max_abs_d.max() <= 12
    assert abs(res.mean_final_share_a - 0.5) <= res.max_abs_d.max() / (2 * 5000) + 1e-12
    # with p_r = 1/2 the same limit equals p_r
    res = arthur_lockin(2, 1, 1, 2, -0.1, -0.1, p_r=0.5, runs=300, max_arrivals=2000, seed=5)
    assert abs(res.mean_final_share_a - 0.5) < 0.01


def test_arthur_reproducible_and_rejects_inexact_sizes():
    a = arthur_lockin(2, 1, 1, 2, 0.1, 0.1, 0.5, runs=200, max_arrivals=1000, seed=9)
    b = arthur_lockin(2, 1, 1, 2, 0.1, 0.1, 0.5, runs=200, max_arrivals=1000, seed=9)
    assert np.array_equal(a.lockin_time, b.lockin_time) and np.array_equal(a.locked_to, b.locked_to)
    with pytest.raises(ValueError):
        arthur_lockin(2, 1, 1, 2, 2**52, 2**52, 0.5, runs=2, max_arrivals=10, seed=1)


# ------------------------------------------------------------------------------------------ Bass

BASS_CASES = [(0.03, 0.38), (0.04, 0.3), (0.01, 0.5), (0.1, 0.2)]


@pytest.mark.parametrize("p,q", BASS_CASES)
def test_bass_large_n_follows_recursion(p, q):
    f = bass_adoption(p=p, q=q, n_agents=200_000, steps=30, seed=2)
    assert f.shape == (31,) and f[0] == 0.0
    assert np.all(np.diff(f) >= 0)
    assert np.abs(f - bass_recursion(p, q, 30)).max() < 0.02


def test_bass_mean_of_runs_rmse():
    # SOURCES §E2: N = 10^4, RMSE of the cumulative share < 0.01 (here 20 seeds, mean path)
    rec = bass_recursion(0.03, 0.38, 30)
    sims = np.array([bass_adoption(0.03, 0.38, 10_000, 30, seed=s) for s in range(20)])
    assert np.sqrt(((sims - rec) ** 2).mean(axis=1)).mean() < 0.01
    assert np.abs(sims.mean(axis=0) - rec).max() < 0.005


def test_bass_closed_forms():
    p, q = 0.03, 0.38
    t_star = bass_peak_time(p, q)
    assert t_star == pytest.approx(math.log(q / p) / (p + q))
    assert bass_continuous(p, q, t_star) == pytest.approx(bass_peak_share(p, q))
    # the peak rate is the derivative of F at t*
    h = 1e-5
    rate = (bass_continuous(p, q, t_star + h) - bass_continuous(p, q, t_star - h)) / (2 * h)
    assert rate == pytest.approx(bass_peak_rate(p, q), rel=1e-6)
    assert bass_recursion(p, q, 1)[1] == pytest.approx(p)


def test_docking_files_parse():
    arthur = load_docking(EXPERIMENTS / "docking_arthur.toml", "arthur")
    bass = load_docking(EXPERIMENTS / "docking_bass.toml", "bass")
    assert "experiment" not in arthur and "experiment" not in bass  # not sweep experiments
    assert len(arthur["case"]) >= 6 and len(bass["case"]) >= 3


# -------------------------------------------------------------------------------- history replay


def test_replay_experiment_is_a_valid_parameter_set():
    from model.core.parameters import validate_value

    params, steps, seeds = replay_spec()
    for name, value in params.items():
        validate_value(name, value)
    assert params["start_quarter"] == "2022Q4" and steps >= 13 and len(seeds) >= 5


def test_history_replay_reduced_size():
    params, _, _ = replay_spec()
    params = {**params, "n_developers": 60}
    table = history_replay(params, seeds=[1, 2], steps=13)
    assert list(table["period"]) == ["2022", "2023", "2024", "2025", "2025Q4"]
    for col in ("public", "model_mean", "model_lo", "model_hi", "error"):
        assert np.all(np.isfinite(table[col].to_numpy(dtype=float))), col
    assert np.all((table["model_mean"] >= 0) & (table["model_mean"] <= 1))
    assert set(table["role"]) == {"calibration", "out-of-sample"}
    # the policy inputs do what the timeline says: nothing from Nvidia under Beijing's 2025Q4 block
    assert table.loc[table["period"] == "2025Q4", "model_mean"].iloc[0] == 0.0


def test_replay_us_regime_follows_the_schedule_only():
    # the replay prices the US risk (us_reversal_prob > 0) but never realizes a reversal: the
    # regime each quarter is the dated schedule's, so the history is the only source of US changes
    from model.validation.replay import replay_run

    params, _, seeds = replay_spec()
    assert params["realize_reversals"] is False and params["us_reversal_prob"] > 0
    df = replay_run({**params, "n_developers": 60}, seeds[0], steps=15)
    expected = {"2022Q4": "h20", "2024Q4": "h20", "2025Q1": "h20", "2025Q2": "ban", "2025Q3": "h20",
                "2025Q4": "h20", "2026Q1": "threshold", "2026Q2": "threshold"}
    got = dict(zip(df["quarter"], df["us_regime"], strict=True))
    for q, regime in expected.items():
        assert got[q] == regime, q


def test_claims_are_paired_over_seeds_and_the_strong_ones_hold():
    from model.validation.claims import CLAIMS, claims_check

    table = claims_check(seeds=range(3), steps=8, n_developers=150)
    assert len(table) == 5 * len(CLAIMS)
    row = table[(table["claim"] == "Beijing's customs ban vs open (US threshold)")
                & (table["metric"] == "us_share_new_mean")]
    # a Beijing ban leaves only smuggled US chips: the US share of new purchases falls in every seed
    assert row["holds"].iloc[0] == 1 and row["share_of_seeds_with_claimed_sign"].iloc[0] == 1.0
    d = table["diff"]
    assert ((table["ci_lo"] <= d + 1e-12) & (d <= table["ci_hi"] + 1e-12)).all()
    assert table.loc[table["metric"] == "china_compute_h100e", "holds"].isna().all()
    # licensing H200-class chips raises the legal-channel share over H20-only in every seed
    legal = table[(table["metric"] == "us_share_legal") & table["claim"].str.startswith("Licensing H200")]
    assert (legal["share_of_seeds_with_claimed_sign"] == 1.0).all() and (legal["holds"] == 1).all()


def test_validate_prints_each_table_as_its_check_yields_it(tmp_path, monkeypatch, capsys):
    """The checks return text (model.validation.cli.run_checks); the command line prints it, in order,
    and says on stderr where the files are."""
    from model.cli import main
    from model.validation import cli as validation_cli

    def fake_check(out, quick):
        assert out == tmp_path / "v" and out.is_dir() and quick
        yield "table one"
        yield "table two"

    monkeypatch.setitem(validation_cli.RUNNERS, "bass", fake_check)
    assert main(["validate", "bass", "--quick", "--out", str(tmp_path / "v")]) == 0
    printed = capsys.readouterr()
    assert printed.out == "table one\ntable two\n" and printed.err == f"written to {tmp_path / 'v'}\n"
    from model.validation.__main__ import main as alias_main  # python -m model.validation: the same

    assert alias_main(["bass", "--quick", "--out", str(tmp_path / "v")]) == 0
    assert capsys.readouterr() == printed


def test_validate_out_must_be_a_folder(tmp_path, capsys):
    from model.cli import main
    from model.validation.__main__ import main as alias_main

    (tmp_path / "file").write_text("x")
    for run in (lambda: main(["validate", "bass", "--out", str(tmp_path / "file")]),
                lambda: alias_main(["bass", "--out", str(tmp_path / "file")])):
        assert run() == 2
        printed = capsys.readouterr()
        assert printed.out == "" and printed.err.startswith("chipstack: error: --out ")
        assert "not a folder" in printed.err
