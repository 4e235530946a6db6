"""Tests of model/analysis/report.py: figures and sensitivity tables from sweep folders.

The sweep folders are built here in the agreed output format (INTERFACES §5): ``runs.parquet``,
``final.csv``, ``summary.csv`` and ``manifest.json``, either from short ChipMarketModel runs or from
synthetic outputs with a known answer (for the sensitivity analyses).
"""

from __future__ import annotations

import json
import math
import struct
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from model import MODEL_REPORTERS, ChipMarketModel
from model.analysis.report import build_report, heatmap_figure, load_sweep, write_report
from model.analysis.sensitivity import SENSITIVITY_OUTPUTS
from model.cli_commands import cmd_report
from model.sweep.errors import UsageError
from model.sweep.io import sha256_file

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEPS = 6


# ------------------------------------------------------------------------------------------------
# Building sweep folders in the agreed format
# ------------------------------------------------------------------------------------------------

def _summary(final: pd.DataFrame, varying: list[str]) -> pd.DataFrame:
    rows = []
    groups = final.groupby(varying, sort=False) if varying else [((), final)]
    for key, g in groups:
        key = key if isinstance(key, tuple) else (key,)
        row = dict(zip(varying, key))
        row["n_runs"] = len(g)
        for r in MODEL_REPORTERS:
            x = g[r].to_numpy(float)
            m, sd = x.mean(), (x.std(ddof=1) if len(x) > 1 else math.nan)
            half = stats.t.ppf(0.975, len(x) - 1) * sd / math.sqrt(len(x)) if len(x) > 1 else math.nan
            row.update({f"{r}_mean": m, f"{r}_sd": sd, f"{r}_ci_low": m - half, f"{r}_ci_high": m + half})
        rows.append(row)
    return pd.DataFrame(rows)


def write_sweep(out: Path, runs: pd.DataFrame, varying: list[str], design: dict, name: str = "test") -> Path:
    """Write runs.parquet, final.csv, summary.csv and manifest.json from a runs table."""
    out.mkdir(parents=True, exist_ok=True)
    runs.to_parquet(out / "runs.parquet", index=False)
    last = runs["step"].max()
    final = runs[runs["step"] == last].drop(columns=["step"]).reset_index(drop=True)
    final.to_csv(out / "final.csv", index=False)
    keys = (["sample_index"] if "sample_index" in final else []) + varying  # as the sweep runner writes it
    _summary(final, keys).to_csv(out / "summary.csv", index=False)
    manifest = {
        "varying": varying,
        "experiment": {"name": name, "description": "synthetic", "steps": int(last) + 1,
                       "replications": int(runs["replication"].max()) + 1, "seed": 7, "parameters": {}},
        "design": design,
        "runs": {"done": int(runs["run_id"].nunique()), "failed": 0},
        "files": {f: sha256_file(out / f) for f in ("runs.parquet", "final.csv", "summary.csv")},
    }
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def model_sweep(out: Path, grid: dict, replications: int = 2, n_developers: int = 40) -> Path:
    """A grid sweep built by running ChipMarketModel directly."""
    names = list(grid)
    frames = []
    k = 0
    for values in pd.MultiIndex.from_product(list(grid.values())):
        params = dict(zip(names, values))
        for rep in range(replications):
            seed = 1000 + k
            df = ChipMarketModel(rng=seed, n_developers=n_developers, **params).run(STEPS)
            df.insert(0, "run_id", f"r{k}")
            df.insert(1, "replication", rep)
            df.insert(2, "seed", seed)
            for i, (p, v) in enumerate(params.items()):
                df.insert(3 + i, p, v)
            frames.append(df)
            k += 1
    return write_sweep(out, pd.concat(frames, ignore_index=True), names, {"kind": "grid", "grid": grid})


def synthetic_sample_sweep(out: Path, X: np.ndarray, names: list[str], bounds, method: str, y_fn,
                           replications: int = 2, noise: float = 0.0, extra: dict | None = None) -> Path:
    """A sampled sweep whose final outputs are y_fn(X) (plus noise), over 3 quarters."""
    rng = np.random.default_rng(3)
    n, steps = len(X), 3
    idx = np.repeat(np.arange(n), replications * steps)  # sample point of each row
    rep = np.tile(np.repeat(np.arange(replications), steps), n)
    step = np.tile(np.arange(steps), n * replications)
    y = np.array([float(y_fn(x)) for x in X])[idx]
    if noise:
        y = y + np.repeat(rng.normal(0, noise, n * replications), steps)
    runs = pd.DataFrame({"run_id": [f"s{i}r{r}" for i, r in zip(idx, rep)], "replication": rep,
                         "seed": 10 * idx + rep})
    for j, name in enumerate(names):
        runs[name] = X[idx, j]
    runs["sample_index"] = idx
    runs["step"] = step
    runs["quarter"] = np.array(["2026Q1", "2026Q2", "2026Q3"])[step]
    for r in MODEL_REPORTERS:
        runs[r] = 0.5
    last = step == steps - 1
    runs["us_stack_share"] = np.where(last, y, 0.5)
    runs["china_compute_h100e"] = np.where(last, 1e6 * (1 + y), 1e6)
    problem = {"num_vars": len(names), "names": names, "bounds": bounds}
    sample = {"method": method, "n": len(X), "ranges": dict(zip(names, bounds)), "salib_problem": problem,
              "calc_second_order": False, "n_points": len(X), **(extra or {})}
    return write_sweep(out, runs, list(names), {"kind": "sample", "sample": sample})


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    width, height = struct.unpack(">II", data[16:24])
    assert 300 < width < 3000 and 200 < height < 2500, (path, width, height)
    assert len(data) < 600_000, (path, len(data))


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------

GRID = {"export_regime": ["ban", "h20", "lagged", "open"],
        "china_import_policy": ["open", "discourage", "restrict", "ban"]}


@pytest.fixture(scope="module")
def policy_sweep(tmp_path_factory) -> Path:
    return model_sweep(tmp_path_factory.mktemp("policy") / "export_regimes", GRID)


@pytest.fixture(scope="module")
def huawei_sweep(tmp_path_factory) -> Path:
    grid = {"export_regime": ["h20", "open"], "china_import_policy": ["open", "restrict"],
            "huawei_capacity_2026": [200_000, 3_000_000]}
    return model_sweep(tmp_path_factory.mktemp("huawei") / "huawei", grid)


# ------------------------------------------------------------------------------------------------
# Grid experiments
# ------------------------------------------------------------------------------------------------

def test_policy_grid_writes_expected_figures(policy_sweep):
    paths = write_report(policy_sweep)
    names = sorted(p.name for p in paths)
    assert names == ["by_maker.csv", "heatmap_us_share_legal.png", "heatmap_us_stack_share.png",
                     "timeseries_us_stack_share.png", "tradeoff.png"]
    for p in paths:
        if p.suffix == ".png":
            assert p.parent == policy_sweep / "figures"
            assert_png(p)
    by_maker = pd.read_csv(policy_sweep / "by_maker.csv")
    runs = pd.read_parquet(policy_sweep / "runs.parquet")
    # one row per design point, quarter and maker; the mean is the mean over the point's runs
    assert len(by_maker) == runs.groupby(["export_regime", "china_import_policy", "step"]).ngroups * 7
    row = by_maker[(by_maker.maker == "Nvidia") & (by_maker.step == by_maker.step.max())].iloc[0]
    sel = runs[(runs.export_regime == row.export_regime)
               & (runs.china_import_policy == row.china_import_policy)
               & (runs.step == row.step)]
    assert row.units_mean == pytest.approx(sel["units_nvidia"].mean()) and row.n_runs == len(sel)
    assert row.units_p025 <= row.units_mean <= row.units_p975
    assert not (policy_sweep / "sensitivity.csv").exists()
    assert not list((policy_sweep / "figures").glob(".*tmp"))  # nothing half-written left behind


def test_heatmap_values_equal_summary_means(policy_sweep):
    sweep = load_sweep(policy_sweep)
    fig = heatmap_figure(sweep)
    shown = np.asarray(fig.axes[0].images[0].get_array(), float)
    summary = pd.read_csv(policy_sweep / "summary.csv")
    want = summary.pivot(index="export_regime", columns="china_import_policy", values="us_stack_share_mean")
    want = want.loc[["ban", "h20", "lagged", "open"], ["open", "discourage", "restrict", "ban"]]
    np.testing.assert_allclose(shown, want.to_numpy(), rtol=0, atol=1e-12)
    # the annotations carry the mean and the CI half-width
    texts = [t.get_text() for t in fig.axes[0].texts]
    row = summary[(summary.export_regime == "open") & (summary.china_import_policy == "open")].iloc[0]
    half = (row.us_stack_share_ci_high - row.us_stack_share_ci_low) / 2
    assert f"{row.us_stack_share_mean:.2f}\n±{half:.2f}" in texts
    # axis order: regimes strictest first, stances loosest first; the colour scale is 0-1
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["ban", "h20", "lagged", "open"]
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["open", "discourage", "restrict", "ban"]
    assert fig.axes[0].images[0].get_clim() == (0.0, 1.0)


def test_heatmap_panels_per_huawei_capacity(huawei_sweep):
    sweep = load_sweep(huawei_sweep)
    fig = heatmap_figure(sweep)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len(images) == 2
    summary = pd.read_csv(huawei_sweep / "summary.csv")
    for img, cap in zip(images, [200_000, 3_000_000]):
        want = (summary[summary.huawei_capacity_2026 == cap]
                .pivot(index="export_regime", columns="china_import_policy", values="us_stack_share_mean")
                .loc[["h20", "open"], ["open", "restrict"]])
        np.testing.assert_allclose(np.asarray(img.get_array(), float), want.to_numpy(), atol=1e-12)
    names = sorted(p.name for p in write_report(huawei_sweep))
    assert "response_huawei_capacity_2026.png" in names and "heatmap_us_stack_share.png" in names


def test_single_numeric_parameter(tmp_path):
    out = model_sweep(tmp_path / "lag", {"export_lag_months": [0, 18, 36]}, replications=2)
    paths = write_report(out)
    names = sorted(p.name for p in paths)
    assert names == ["by_maker.csv", "response_export_lag_months.png", "timeseries_us_stack_share.png",
                     "tradeoff.png"]
    for p in paths:
        if p.suffix == ".png":
            assert_png(p)


def test_report_overwrites_previous_report(policy_sweep):
    first = write_report(policy_sweep)
    second = write_report(policy_sweep)
    assert [p.name for p in first] == [p.name for p in second]
    for p in second:
        if p.suffix == ".png":
            assert_png(p)


# ------------------------------------------------------------------------------------------------
# Sampled designs: known answers
# ------------------------------------------------------------------------------------------------

@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_sobol_known_answer(tmp_path):
    """Y = x1 + 2*x2 on [0,1]^3: x3 is ignored (ST ~ 0); S1 ~ 0.2 and 0.8 for x1 and x2."""
    from SALib.sample import sobol as sobol_sample

    names = ["x1", "x2", "x3"]
    bounds = [[0.0, 1.0]] * 3
    X = sobol_sample.sample({"num_vars": 3, "names": names, "bounds": bounds}, 256,
                            calc_second_order=False, seed=11)
    out = synthetic_sample_sweep(tmp_path / "sobol", X, names, bounds, "sobol", lambda x: x[0] + 2 * x[1])
    paths = write_report(out)
    assert out / "sensitivity.csv" in paths
    assert_png(out / "figures" / "sensitivity.png")
    table = pd.read_csv(out / "sensitivity.csv")
    assert {"output", "parameter", "S1", "S1_conf", "ST", "ST_conf"} <= set(table.columns)
    assert set(table["output"]) == set(SENSITIVITY_OUTPUTS)
    for output in ("us_stack_share", "china_compute_h100e"):
        t = table[table.output == output].set_index("parameter")
        assert t.loc["x3", "ST"] < 0.05
        assert abs(t.loc["x3", "ST"]) <= t.loc["x3", "ST_conf"] + 1e-9 or abs(t.loc["x3", "ST"]) < 1e-9
        for p, s1 in (("x1", 0.2), ("x2", 0.8)):
            assert t.loc[p, "ST"] > 0.1 and t.loc[p, "ST"] - t.loc[p, "ST_conf"] > 0.05
            assert abs(t.loc[p, "S1"] - s1) < 0.1
        assert t.loc["x2", "ST"] > t.loc["x1", "ST"]


@pytest.mark.slow  # over ~2.5 s: make test runs it, make test-fast does not
def test_sobol_uses_mean_over_replications_in_sample_order(tmp_path):
    """Noisy replications average out; rows shuffled in the files still analyse in sample_index order."""
    from SALib.sample import sobol as sobol_sample

    names = ["a", "b", "c"]
    bounds = [[0.0, 1.0], [0.0, 10.0], [5.0, 6.0]]
    X = sobol_sample.sample({"num_vars": 3, "names": names, "bounds": bounds}, 128,
                            calc_second_order=False, seed=2)
    out = synthetic_sample_sweep(tmp_path / "noisy", X, names, bounds, "sobol",
                                 lambda x: 0.1 * x[1] ** 2 + x[0], replications=3, noise=0.01)
    final = pd.read_csv(out / "final.csv").sample(frac=1.0, random_state=0)
    final.to_csv(out / "final.csv", index=False)
    write_report(out)
    t = pd.read_csv(out / "sensitivity.csv")
    t = t[t.output == "us_stack_share"].set_index("parameter")
    assert t.loc["c", "ST"] < 0.05
    assert t.loc["b", "ST"] > 0.5


def test_morris_known_answer(tmp_path):
    """Y = x1 + 2*x2 on [0,1]^3: mu* = 1, 2, 0 (elementary effects over the full range)."""
    from SALib.sample import morris as morris_sample

    names = ["x1", "x2", "x3"]
    bounds = [[0.0, 1.0]] * 3
    X = morris_sample.sample({"num_vars": 3, "names": names, "bounds": bounds}, 20, num_levels=4, seed=5)
    out = synthetic_sample_sweep(tmp_path / "morris", X, names, bounds, "morris",
                                 lambda x: x[0] + 2 * x[1], extra={"num_levels": 4})
    paths = write_report(out)
    assert_png(out / "figures" / "sensitivity.png")
    assert out / "sensitivity.csv" in paths
    t = pd.read_csv(out / "sensitivity.csv")
    assert {"output", "parameter", "mu_star", "mu_star_conf", "sigma"} <= set(t.columns)
    t = t[t.output == "us_stack_share"].set_index("parameter")
    np.testing.assert_allclose(t["mu_star"].loc[["x1", "x2", "x3"]], [1.0, 2.0, 0.0], atol=1e-9)
    np.testing.assert_allclose(t["sigma"].loc[["x1", "x2", "x3"]], [0.0, 0.0, 0.0], atol=1e-9)


def test_lhs_prcc_known_answer(tmp_path):
    from SALib.sample import latin

    names = ["x1", "x2", "x3"]
    bounds = [[0.0, 1.0]] * 3
    X = latin.sample({"num_vars": 3, "names": names, "bounds": bounds}, 200, seed=4)
    out = synthetic_sample_sweep(tmp_path / "lhs", X, names, bounds, "lhs",
                                 lambda x: x[0] + 2 * x[1], noise=0.05)
    write_report(out)
    assert_png(out / "figures" / "sensitivity.png")
    assert_png(out / "figures" / "sample_scatter.png")
    t = pd.read_csv(out / "sensitivity.csv")
    assert set(t["method"]) == {"lhs"}
    assert {"prcc", "prcc_ci_low", "prcc_ci_high", "p_value"} <= set(t.columns)
    t = t[t.output == "us_stack_share"].set_index("parameter")
    assert t.loc["x1", "prcc"] > 0.8 and t.loc["x2", "prcc"] > 0.9
    assert t.loc["x3", "prcc_ci_low"] < 0 < t.loc["x3", "prcc_ci_high"]
    assert abs(t.loc["x3", "prcc"]) < 0.2


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_grid_plus_sample_analyses_each_cell(tmp_path):
    from SALib.sample import sobol as sobol_sample

    names = ["x1", "x2", "x3"]
    bounds = [[0.0, 1.0]] * 3
    X = sobol_sample.sample({"num_vars": 3, "names": names, "bounds": bounds}, 64,
                            calc_second_order=False, seed=1)
    frames = []
    for cell, (regime, fn) in enumerate([("ban", lambda x: x[0]), ("open", lambda x: x[1])]):
        sub = synthetic_sample_sweep(tmp_path / f"part{cell}", X, names, bounds, "sobol", fn)
        runs = pd.read_parquet(sub / "runs.parquet")
        runs.insert(3, "export_regime", regime)
        runs["run_id"] = regime + runs["run_id"]
        frames.append(runs)
    sample = {"method": "sobol", "n": 64, "ranges": dict(zip(names, bounds)),
              "salib_problem": {"num_vars": 3, "names": names, "bounds": bounds}, "calc_second_order": False}
    out = write_sweep(tmp_path / "gs", pd.concat(frames, ignore_index=True), ["export_regime"] + names,
                      {"kind": "grid+sample", "grid": {"export_regime": ["ban", "open"]}, "sample": sample})
    write_report(out)
    t = pd.read_csv(out / "sensitivity.csv")
    assert "export_regime" in t.columns
    t = t[t.output == "us_stack_share"].set_index(["export_regime", "parameter"])
    assert t.loc[("ban", "x1"), "ST"] > 0.9 and t.loc[("ban", "x2"), "ST"] < 0.05
    assert t.loc[("open", "x2"), "ST"] > 0.9 and t.loc[("open", "x1"), "ST"] < 0.05
    assert_png(out / "figures" / "sensitivity.png")


def test_sobol_with_missing_sample_points_is_skipped_not_wrong(tmp_path, capsys):
    from SALib.sample import sobol as sobol_sample

    names = ["x1", "x2", "x3"]
    bounds = [[0.0, 1.0]] * 3
    X = sobol_sample.sample({"num_vars": 3, "names": names, "bounds": bounds}, 32,
                            calc_second_order=False, seed=1)
    out = synthetic_sample_sweep(tmp_path / "holes", X, names, bounds, "sobol", lambda x: x[0])
    final = pd.read_csv(out / "final.csv")
    last = int(final.sample_index.max())  # a missing last point is found from the manifest's n_points
    final[final.sample_index != last].to_csv(out / "final.csv", index=False)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["files"]["final.csv"] = sha256_file(out / "final.csv")  # the report checks the hashes
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert cmd_report(types.SimpleNamespace(dir=str(out))) == 0
    printed = capsys.readouterr().out
    assert "sample points missing" in printed
    assert not (out / "sensitivity.csv").exists()


# ------------------------------------------------------------------------------------------------
# Command line
# ------------------------------------------------------------------------------------------------

def test_cmd_report_prints_what_it_wrote(policy_sweep, capsys):
    assert cmd_report(types.SimpleNamespace(dir=str(policy_sweep))) == 0
    out = capsys.readouterr().out
    assert "heatmap_us_stack_share.png" in out and "tradeoff.png" in out


def test_cmd_report_missing_dir(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(UsageError, match="nope.*no such folder.*runs.parquet"):
        cmd_report(types.SimpleNamespace(dir=str(missing)))
    assert not missing.exists()


def test_cmd_report_missing_files(tmp_path):
    d = tmp_path / "half"
    d.mkdir()
    (d / "runs.parquet").write_bytes(b"")
    with pytest.raises(UsageError, match="missing final.csv, summary.csv, manifest.json"):
        cmd_report(types.SimpleNamespace(dir=str(d)))
    assert not (d / "figures").exists()


def test_cli_report_error_is_one_line(tmp_path, capsys):
    from model.cli import main

    assert main(["report", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chipstack: error:") and err.count("\n") == 1


def test_nothing_varies_gives_time_series_only(tmp_path, capsys):
    frames = []
    for rep in range(3):
        df = ChipMarketModel(rng=rep, n_developers=30).run(4)
        df.insert(0, "run_id", f"r{rep}")
        df.insert(1, "replication", rep)
        df.insert(2, "seed", rep)
        frames.append(df)
    out = write_sweep(tmp_path / "plain", pd.concat(frames, ignore_index=True), [],
                      {"kind": "grid", "grid": {}})
    assert cmd_report(types.SimpleNamespace(dir=str(out))) == 0
    assert [p.name for p in (out / "figures").iterdir()] == ["timeseries_us_stack_share.png"]
    printed = capsys.readouterr().out
    assert "tradeoff.png: skipped" in printed and "heatmap_us_stack_share.png: skipped" in printed


def test_write_report_without_manifest_infers_varying(policy_sweep, tmp_path):
    """The sweep runner may call write_report before manifest.json is final: varying is inferred."""
    import shutil

    copy = tmp_path / "nomanifest"
    shutil.copytree(policy_sweep, copy)
    (copy / "manifest.json").unlink()
    names = sorted(p.name for p in write_report(copy))
    assert "heatmap_us_stack_share.png" in names and "tradeoff.png" in names
    with pytest.raises(UsageError, match="missing manifest.json"):
        cmd_report(types.SimpleNamespace(dir=str(copy)))


def test_sensitivity_of_a_design_too_small_is_skipped_with_a_note(tmp_path):
    """Issue 31 item 5: a folder made before the experiment file's minimum (Sobol' n = 1 gave ST = 5.04 with
    a confidence width of 0.0) gets no indices, and a note naming the minimum; so do Morris with one
    trajectory and partial rank correlations with too few points."""
    from SALib.sample import morris as morris_sample
    from SALib.sample import sobol as sobol_sample

    names, bounds = ["x1", "x2"], [[0.0, 1.0]] * 2
    problem = {"num_vars": 2, "names": names, "bounds": bounds}
    cases = {"sobol": sobol_sample.sample(problem, 1, calc_second_order=False, seed=11),
             "morris": morris_sample.sample(problem, 1, num_levels=4, seed=5),
             "lhs": np.array([[0.1, 0.2], [0.5, 0.9], [0.8, 0.4], [0.3, 0.6]])}
    for method, X in cases.items():
        out = synthetic_sample_sweep(tmp_path / method, X, names, bounds, method, lambda x: x[0] + 2 * x[1])
        report = build_report(out)
        assert not (out / "sensitivity.csv").exists(), method
        note = next(n for n in report.notes if n.startswith("sensitivity of us_stack_share"))
        assert "too small" in note and "at least" in note, note


def test_heatmap_of_any_two_grid_factors(tmp_path):
    """Without the regime x stance grid the heat map takes the first two grid factors; its cells are the
    summary's means (issue 32 item 5: heat maps for a general two-factor grid)."""
    from model.analysis.sweep_figures import heatmap_factors

    grid = {"domestic_subsidy": [0.0, 0.3], "huawei_capacity_2026": [200000, 3000000]}
    out = model_sweep(tmp_path / "two", grid)
    sweep = load_sweep(out)
    assert heatmap_factors(sweep) == ("domestic_subsidy", "huawei_capacity_2026")
    fig = heatmap_figure(sweep)
    shown = np.asarray(fig.axes[0].images[0].get_array(), float)
    summary = pd.read_csv(out / "summary.csv")
    want = summary.pivot(index="domestic_subsidy", columns="huawei_capacity_2026",
                         values="us_stack_share_mean")
    np.testing.assert_allclose(shown, want.loc[[0.0, 0.3], [200000, 3000000]].to_numpy(), atol=1e-12)
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["200k", "3M"]
    assert "heatmap_us_stack_share.png" in [p.name for p in write_report(out)]


def test_report_writes_the_formats_asked_for(tmp_path, capsys):
    from model.cli import main

    out = model_sweep(tmp_path / "lag", {"export_lag_months": [0, 18]}, replications=2)
    assert main(["report", str(out), "--format", "pdf,svg"]) == 0
    figures = sorted(p.name for p in (out / "figures").iterdir())
    assert "tradeoff.pdf" in figures and "tradeoff.svg" in figures
    assert (out / "figures" / "tradeoff.pdf").read_bytes().startswith(b"%PDF")
    assert b"<svg" in (out / "figures" / "tradeoff.svg").read_bytes()[:2000]
    capsys.readouterr()
    assert main(["report", str(out), "--format", "gif"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chipstack: error:") and "'gif'" in err and "png, pdf, svg" in err


def test_time_series_bands_are_for_one_scenario_not_pooled_over_the_grid(huawei_sweep):
    """With a third grid factor (Huawei's capacity) the lines hold it at its middle value, so each band is
    the interval of one design point's mean (issue 32 item 5), and the title says which value."""
    from model.analysis.labels import fmt_value
    from model.analysis.sweep_figures import timeseries_figure

    sweep = load_sweep(huawei_sweep)
    fig = timeseries_figure(sweep)
    runs = pd.read_parquet(huawei_sweep / "runs.parquet")
    values = sorted(runs["huawei_capacity_2026"].unique())
    middle = values[(len(values) - 1) // 2]
    ax = fig.axes[0]
    line = ax.get_lines()[0]
    stance = ax.get_title().removeprefix("Beijing: ")
    regime = line.get_label()
    sel = runs[(runs["huawei_capacity_2026"] == middle) & (runs["china_import_policy"] == stance)
               & (runs["export_regime"] == regime)]
    want = sel.groupby("step")["us_stack_share"].mean().to_numpy()
    np.testing.assert_allclose(np.asarray(line.get_ydata(), float), want, rtol=0, atol=1e-12)
    assert "= " + fmt_value(middle) in fig._suptitle.get_text()


def test_prcc_interval_holds_a_perfect_correlation():
    """At r = 1 (a monotone output, e.g. runs without noise) the Fisher-z interval, taken at the clipped r,
    used to lie below r, and the figure's error bars were negative (a report that failed)."""
    from model.analysis.sensitivity import prcc

    x = np.array([[1.0], [2.0], [3.0], [4.0], [5.0]])
    res = prcc(x, x[:, 0] * 2.0)
    assert res["prcc"][0] == 1.0
    assert res["prcc_ci_low"][0] <= 1.0 <= res["prcc_ci_high"][0]
