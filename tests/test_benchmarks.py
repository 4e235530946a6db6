"""``python -m benchmarks --quick --json FILE`` runs and writes every INTERFACES §8 key; the plain numpy
kernel's clearing is the model's clearing (so the two are timed on the same work)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np

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
    assert not any(scratch.iterdir()), "temporary sweep outputs were left behind"


def test_plain_kernel_clearing_equals_the_model(monkeypatch):
    import model.core.chip_market as model_module
    from benchmarks.kernel import plain_clearing
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
        (demand, pull, classes, allowed, base, cost, perf, groups, capacity,
         maker_of_chip, eco_of_chip, eco_of_maker) = args
        purchases, unmet, units = plain_clearing(demand, pull, classes, allowed, base, cost, perf, groups,
                                                 capacity, maker_of_chip, eco_of_chip, eco_of_maker.shape[0])
        np.testing.assert_allclose(purchases, result.purchases, rtol=1e-9, atol=1e-12 * demand.sum() / 25_000)
        np.testing.assert_allclose(units, result.chips_sold, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(unmet, result.unmet, rtol=1e-9, atol=1e-9 * demand.sum())


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
