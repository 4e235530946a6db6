"""``python -m benchmarks --quick --json FILE`` runs and writes every INTERFACES §8 key and the extra
lines (the small run, the model over its bare-numpy bound, each with its target, and the report of a
sampled sweep); the bound's clearing is the model's clearing (so the two are timed on the same work)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from model.core.paths import REPO_ROOT as REPO

DESIGN_KEYS = (
    "model_agent_steps_per_s",
    "reference_agent_steps_per_s",
    "speedup",
    "seconds_per_step",
    "seconds_100k_20_quarters",
    "sweep_seconds_1_worker",
    "sweep_seconds_2_workers",
    "sweep_peak_rss_mb_100_runs",
    "sweep_peak_rss_mb_10000_runs",
)


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_quick_benchmark_writes_every_design_key(tmp_path):
    out = tmp_path / "bench.json"
    scratch = tmp_path / "scratch"  # the benchmark's temporary sweep folders go here
    scratch.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TMPDIR=str(scratch))
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "speedup" in proc.stdout and "seconds_100k_20_quarters" in proc.stdout
    fig = json.loads(out.read_text())
    for key in DESIGN_KEYS:
        assert key in fig, key
    assert fig["quick"] is True
    assert set(fig["seconds_per_step"]) == {"1000", "10000", "100000"}
    numbers = ([fig[k] for k in DESIGN_KEYS if k != "seconds_per_step"]
               + list(fig["seconds_per_step"].values()))
    for value in numbers:
        assert isinstance(value, (int, float)) and math.isfinite(value) and value > 0, fig
    assert math.isclose(fig["speedup"], fig["model_agent_steps_per_s"] / fig["reference_agent_steps_per_s"])
    # the extra lines with a target: the small run and the model over its bare-numpy bound
    for key, op, target in (("seconds_300_20_quarters", "<=", 0.025), ("model_over_kernel", "<=", 1.2)):
        assert isinstance(fig[key], float) and fig[key] > 0, key
        assert fig["targets"][key] == {"op": op, "target": target, "value": fig[key],
                                       "met": fig[key] <= target}
    assert math.isclose(fig["model_over_kernel"],
                        fig["kernel_model_seconds_per_step"] / fig["kernel_seconds_per_step"])
    assert "seconds_300_20_quarters" in proc.stdout and "model / bare-numpy bound" in proc.stdout
    # the report of a sampled sweep (by_maker.csv, sensitivity.csv, figures), timed on its own
    assert fig["report_runs"] == 48 and fig["report_by_maker_rows"] > 0
    assert fig["report_seconds"] > fig["report_by_maker_seconds"] > 0
    assert "report_seconds" in proc.stdout
    assert not any(scratch.iterdir()), "temporary sweep outputs were left behind"


def test_bare_numpy_clearing_equals_the_model(monkeypatch):
    import model.core.developers as model_module
    from benchmarks.kernel import clearing_in_model_order
    from model import ChipMarketModel

    calls = []
    original = model_module.clear_market

    def spy(*args, **kwargs):
        result = original(*args, **kwargs)
        calls.append((args, result))
        return result

    monkeypatch.setattr(model_module, "clear_market", spy)
    ChipMarketModel(rng=2, n_developers=300, export_regime="ban", huawei_capacity_2026=50_000).run(6)
    ChipMarketModel(rng=3, n_developers=300).run(6)
    # several supply groups per chip: volume caps, stock, per-customer and import caps
    ChipMarketModel(rng=4, n_developers=300, realize_reversals=False, china_import_policy="open",
                    us_volume_cap_share=0.05, per_customer_cap_units=20_000, us_licence_schedule="2026Q1:3",
                    china_import_cap_units=50_000).run(6)
    assert any(result.rounds > 1 for _, result in calls)
    for args, result in calls:
        demand, pull, classes, offer = args
        cat = offer.catalogue
        purchases, unmet, units = clearing_in_model_order(
            demand, pull, classes, offer.allowed_by_class, offer.base, offer.cost, offer.perf, offer.groups,
            offer.capacity, cat.maker_of_chip, cat.ecosystem_of_chip, cat.ecosystem_of_maker)
        np.testing.assert_allclose(purchases, result.purchases, rtol=1e-9, atol=1e-12 * demand.sum() / 25_000)
        np.testing.assert_allclose(units, result.chips_sold, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(unmet, result.unmet, rtol=1e-9, atol=1e-9 * demand.sum())


def test_bare_numpy_quarter_runs_on_a_model_state():
    """The bound's quarter runs on a model's state (ban, restrict with every class present, stockpiling)
    and gives sane totals: installed compute = the depreciated base + purchases, shares in [0, 1]."""
    from benchmarks.kernel import kernel_quarter, kernel_state
    from model import ChipMarketModel

    for params in ({}, {"export_regime": "ban"}, {"china_import_policy": "open", "us_reversal_prob": 0.3}):
        m = ChipMarketModel(rng=5, n_developers=2_000, **params)
        m.step()
        s = kernel_state(m)
        rng = np.random.default_rng(5)
        for _ in range(3):
            before = float(s.installed.sum())
            out = kernel_quarter(s, rng)
            assert out["budget_usd"] > 0 and out["bought_h100e"] > 0
            assert out["installed_h100e"] == pytest.approx(before * s.keep + out["bought_h100e"], rel=1e-9)
            assert 0.0 <= out["developers_on_us_stack"] <= 1.0
            assert 0.0 <= out["unspent_usd"] <= out["budget_usd"]
            assert out["grey_usd"] > 0  # the frontier budgets and the rest meet the grey market
            # what is rented abroad is this quarter's rentals only (a flow): the rented share of the spending
            # abroad, at the rent, in the frontier chip's ecosystem
            assert s.frontier_maker >= 0 and out["offshore_usd"] > 0
            rented = out["offshore_usd"] * (1.0 - s.owned_share) * s.rented_per_usd
            assert s.rented_by_eco.sum() == pytest.approx(rented, rel=1e-9)
            assert s.rented_by_eco[s.frontier_eco].sum() == pytest.approx(rented, rel=1e-9)
            assert np.all(np.diff(s.bounds) >= 0) and s.bounds[-1] == 2_000


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_only_sweep_memory_measures_just_the_rss_rows(tmp_path):
    """``--only sweep_memory``: the two RSS figures and their ratio, nothing else measured."""
    out = tmp_path / "bench.json"
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
               TMPDIR=str(scratch))
    proc = subprocess.run([sys.executable, "-m", "benchmarks", "--quick", "--only", "sweep_memory",
                           "--json", str(out)],
                          cwd=REPO, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    fig = json.loads(out.read_text())
    assert fig["only"] == ["sweep_memory"]
    for key in ("sweep_peak_rss_mb_100_runs", "sweep_peak_rss_mb_10000_runs", "rss_ratio_10000_vs_100_runs"):
        assert isinstance(fig[key], float) and fig[key] > 0, key
    assert fig["speedup"] is None and fig["sweep_seconds_1_worker"] is None
    assert fig["targets"]["rss_ratio_10000_vs_100_runs"]["met"] in (True, False)
    assert "RSS ratio 10000 / 100 runs" in proc.stdout and "speedup" not in proc.stdout
    assert not any(scratch.iterdir())
    bad = subprocess.run([sys.executable, "-m", "benchmarks", "--only", "speed,nope"], cwd=REPO,
                         capture_output=True, text=True, env=env, timeout=60)
    assert bad.returncode == 2 and "'speed,nope': allowed:" in bad.stderr
