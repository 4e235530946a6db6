"""``chipstack calibrate`` (issue 29 items 1-3; docs/VALIDATION.md §3.6): the calibration file's checks and
their one-line errors, the distance, resuming from pyabc's database (after --max-generations and after a
kill), and the recovery of known parameters from synthetic targets."""

from __future__ import annotations

import dataclasses
import math
import os
import signal
import sqlite3
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.cli import main
from model.core.parameters import PARAMS_BY_NAME
from model.core.quarters import parse_quarter
from model.sweep.experiment import EXPERIMENTS_DIR
from model.validation.abc import make_distance, residuals, simulate
from model.validation.abc_spec import WINDOW_END, Target, load_spec, spec_from_dict

pytest.importorskip("pyabc")
ROOT = Path(__file__).resolve().parents[1]
SHIPPED = EXPERIMENTS_DIR / "calibration.toml"


def shipped_data() -> dict:
    return tomllib.loads(SHIPPED.read_text(encoding="utf-8"))


def small_data(priors=("history_growth", "state_domestic_preference"), population=12, generations=2,
               n_developers=60) -> dict:
    """The shipped file cut down: two priors, a small population, few developers."""
    data = shipped_data()
    data["calibration"].update(population_size=population, generations=generations, n_developers=n_developers,
                               max_simulations=100_000)
    data["priors"] = {k: v for k, v in data["priors"].items() if k in priors}
    data["constraints"] = []
    return data


def write_toml(path: Path, data: dict) -> Path:
    def value(v):
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, bool):
            return "true" if v else "false"
        return repr(v)

    lines = ["[calibration]"] + [f"{k} = {value(v)}" for k, v in data["calibration"].items()]
    for name, prior in data.get("priors", {}).items():
        lines += [f"[priors.{name}]"] + [f"{k} = {value(v)}" for k, v in prior.items()]
    if data.get("parameters"):
        lines += ["[parameters]"] + [f"{k} = {value(v)}" for k, v in data["parameters"].items()]
    for section in ("constraints", "targets"):
        for entry in data.get(section, []):
            lines += [f"[[{section}]]"] + [f"{k} = {value(v)}" for k, v in entry.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# The shipped file
def test_shipped_calibration_file_is_valid_and_inside_the_window():
    spec = load_spec("calibration")
    assert spec.names and all(n in PARAMS_BY_NAME for n in spec.names)
    for p in spec.priors:
        param = PARAMS_BY_NAME[p.name]
        assert param.low <= p.low < p.high <= param.high, p.name
        assert p.source.strip()
    end = parse_quarter(WINDOW_END)
    assert all(parse_quarter(q) <= end for t in spec.targets for q in t.quarters)
    assert all(t.error > 0 and t.why.strip() for t in spec.targets)
    # the replay file's calibrated values are replaced by the priors' draws, not kept beside them
    assert spec.parameters["start_quarter"] == "2022Q4"


def test_targets_from_published_estimates_take_their_value_and_grade_from_the_csv():
    """Epoch's stock, Bernstein's 2025 additions and CNAS's 2024 smuggling are targets by their key in
    published_estimates.csv (the number is said there once), over the quarters the model sums."""
    from model.validation.published import published_table

    published = published_table()
    spec = load_spec("calibration")
    by_key = {t.quantity: t for t in spec.targets}
    year = {y: tuple(f"{y}Q{k}" for k in (1, 2, 3, 4)) for y in (2024, 2025)}
    for quantity, key, quarters in (
            ("china_compute_stock_h100e_excl_grey", "china_ai_compute_h100e", ("2025Q4",)),
            ("china_compute_added_h100e", "china_compute_added_2025_h100e", year[2025]),
            ("smuggled_chips", "smuggled_chips_2024", year[2024])):
        target = by_key[quantity]
        assert target.observed == float(published.loc[key, "value"])
        assert target.grade == published.loc[key, "grade"]
        assert target.quarters == quarters


def test_the_stock_quantity_is_the_ledger_at_the_period_end_less_smuggled_chips():
    """A stock is read at the period's last quarter, not summed over its quarters."""
    from model.validation.quarterly import MODEL_QUANTITY

    rows = pd.DataFrame({"quarter": ["2025Q3", "2025Q4"], "china_compute_h100e": [5.0, 9.0],
                         "grey_compute_h100e": [1.0, 2.0], "grey_units": [3.0, 4.0],
                         "legal_h100e_added": [0.5, 0.25]})
    assert MODEL_QUANTITY["china_compute_stock_h100e_excl_grey"][0](rows) == 7.0
    assert MODEL_QUANTITY["smuggled_chips"][0](rows) == 7.0
    assert MODEL_QUANTITY["china_compute_added_h100e"][0](rows) == 0.75


def test_the_hbm_constraint_cuts_the_prior_corner():
    spec = load_spec("calibration")
    cap = spec.constraints[0]
    assert not cap.holds({cap.level: 4e6, cap.growth: 2.0})  # 4M x 3^4 = 324M stacks in 2030
    assert cap.holds({cap.level: 1e6, cap.growth: 1.0})  # the defaults: 16M
    assert all(math.isnan(v) for v in simulate(spec, {**{p.name: p.low for p in spec.priors},
                                                      cap.level: 4e6, cap.growth: 2.0}).values())


# ---------------------------------------------------------------------------------------------
# Bad input: one line, exit 2, nothing written
def _bad(tmp_path, capsys, mutate) -> str:
    data = small_data()
    mutate(data)
    path = write_toml(tmp_path / "bad.toml", data)
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chipstack: error: ") and err.count("\n") == 1 and "Traceback" not in err
    assert str(path) in err and not out.exists()
    return err


@pytest.mark.parametrize("mutate, words", [
    (lambda d: d["priors"].update(histroy_growth=d["priors"].pop("history_growth")),
     ["histroy_growth", "unknown parameter", "did you mean 'history_growth'"]),
    (lambda d: d["priors"]["history_growth"].update(distribution="normal"),
     ["distribution", "'normal'", "uniform, loguniform"]),
    (lambda d: d["priors"]["history_growth"].update(high=9.0),
     ["[priors.history_growth] high", "9.0", "within the parameter's range [-0.5, 3]"]),
    (lambda d: d["priors"]["history_growth"].update(low=0.9, high=0.5),
     ["high", "0.5", "above low"]),
    (lambda d: d["priors"].update(n_developers={"distribution": "uniform", "low": 1, "high": 9,
                                                  "source": "x"}),
     ["n_developers", "of kind 'int'", "of kind 'float'"]),
    (lambda d: d["targets"].append({"quantity": "cambricon_revenue", "period": "2026Q1", "scale": "log",
                                    "error": 0.1, "why": "x"}),
     ["period", "'2026Q1'", "held out"]),
    (lambda d: d["targets"][0].update(error=0),
     ["error", "0", "> 0"]),
    (lambda d: d["targets"][0].update(quantity="nvidia_revenue_china"),
     ["quantity", "'nvidia_revenue_china'", "a quantity the replay computes"]),
    (lambda d: d["targets"].append({"quantity": "smuggled_chips", "period": "2024", "scale": "log",
                                    "error": 1.0, "why": "x", "published": "smuggled_2024"}),
     ["published", "'smuggled_2024'", "a quantity key of experiments/data/published_estimates.csv"]),
    (lambda d: d["calibration"].update(end_quarter="2026Q2"),
     ["end_quarter", "'2026Q2'", "held out"]),
    (lambda d: d["calibration"].update(population_size=1),
     ["population_size", "an integer in [2, 100000]"]),
    (lambda d: d["calibration"].update(bogus=1),
     ["unknown key 'bogus'", "allowed: name, description"]),
])
def test_bad_input_is_one_line_naming_key_value_and_what_is_allowed(tmp_path, capsys, mutate, words):
    err = _bad(tmp_path, capsys, mutate)
    for word in words:
        assert word in err, (word, err)


def test_a_target_on_the_log_scale_needs_a_positive_observation(tmp_path, capsys):
    err = _bad(tmp_path, capsys, lambda d: d["targets"].append(
        {"quantity": "nvidia_h20_revenue_china", "period": "2025Q2", "scale": "log", "error": 0.1,
         "why": "x"}))
    assert "scale" in err and "linear" in err


# ---------------------------------------------------------------------------------------------
# The distance
def _target(key_period, scale, error, observed):
    return Target("nvidia_china_revenue", key_period, observed, scale, error, "test", (key_period,))


def test_distance_is_the_norm_of_residuals_standardised_by_the_measurement_error():
    log_t = _target("2024", "log", 0.5, 100.0)
    lin_t = _target("2023", "linear", 0.05, 0.5)
    targets = (log_t, lin_t)
    observed = {log_t.key: 100.0, lin_t.key: 0.5}
    simulated = {log_t.key: 200.0, lin_t.key: 0.6}
    r = residuals(simulated, observed, targets)
    assert r == pytest.approx([math.log(2) / 0.5, 2.0])
    assert make_distance(targets)(simulated, observed) == pytest.approx(math.hypot(math.log(2) / 0.5, 2.0))
    assert make_distance(targets)(observed, observed) == 0.0
    # a level at or below zero on a log target counts as a thousandth of the record: large, finite
    assert residuals({log_t.key: 0.0, lin_t.key: 0.5}, observed, targets)[0] == pytest.approx(
        math.log(1e-3) / 0.5)
    assert make_distance(targets)({log_t.key: math.nan, lin_t.key: 0.5}, observed) == math.inf


# ---------------------------------------------------------------------------------------------
# Resume
def _populations(db: Path) -> pd.DataFrame:
    with sqlite3.connect(db) as con:
        return pd.read_sql_query("SELECT t, epsilon, nr_samples FROM populations WHERE t >= 0 ORDER BY t",
                                 con)


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_resume_continues_from_the_database_rather_than_restarting(tmp_path, capsys):
    path = write_toml(tmp_path / "small.toml", small_data(generations=3))
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out), "--max-generations", "1"]) == 0
    first = _populations(out / "calibration.db")
    assert list(first["t"]) == [0]
    particles = pd.read_parquet(out / "posterior.parquet")
    capsys.readouterr()
    # the folder holds a calibration: without --resume it is refused
    assert main(["calibrate", str(path), "--out", str(out)]) == 2
    assert "--resume" in capsys.readouterr().err
    assert main(["calibrate", str(path), "--out", str(out), "--resume", "--max-generations", "2"]) == 0
    err = capsys.readouterr().err
    assert "resuming" in err and "1 generation(s) done" in err and "generation 1: epsilon" in err
    assert "generation 0:" not in err  # generation 0 was not simulated again
    second = _populations(out / "calibration.db")
    assert list(second["t"]) == [0, 1]
    pd.testing.assert_frame_equal(second.iloc[:1], first)  # generation 0 as it was
    assert second["epsilon"].iloc[1] <= second["epsilon"].iloc[0]
    assert not pd.read_parquet(out / "posterior.parquet").equals(particles)  # the new last generation
    for name in ("posterior.csv", "predictive.csv", "figures/prior_posterior.png",
                 "figures/predictive.png", "manifest.json"):
        assert (out / name).is_file(), name


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_resume_refuses_a_folder_of_another_calibration(tmp_path, capsys):
    path = write_toml(tmp_path / "small.toml", small_data())
    out = tmp_path / "out"
    assert main(["calibrate", str(path), "--out", str(out), "--max-generations", "1"]) == 0
    other = write_toml(tmp_path / "other.toml", small_data(population=13))
    capsys.readouterr()
    assert main(["calibrate", str(other), "--out", str(out), "--resume"]) == 2
    assert "another calibration" in capsys.readouterr().err
    assert main(["calibrate", str(path), "--out", str(tmp_path / "empty"), "--resume"]) == 2


@pytest.mark.slow
def test_a_killed_calibration_resumes_where_it_stopped(tmp_path):
    path = write_toml(tmp_path / "small.toml", small_data(generations=4, population=20))
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-m", "model.cli", "calibrate", str(path), "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = out / "calibration.db"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if db.is_file():
                try:
                    if len(_populations(db)) >= 1:
                        break
                except (sqlite3.Error, pd.errors.DatabaseError):
                    pass
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    before = _populations(db)
    assert 1 <= len(before) < 4, "the calibration ended before it could be killed"
    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{len(before)} generation(s) done" in done.stderr
    after = _populations(db)
    assert list(after["t"]) == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(after.iloc[:len(before)], before)


# ---------------------------------------------------------------------------------------------
# Synthetic data: calibrate to a run with known parameters and recover them
@pytest.mark.slow
def test_known_parameters_are_recovered_within_the_posterior_90_interval(tmp_path):
    from model.validation.abc import calibrate

    truth = {"history_growth": 0.5, "state_domestic_preference": 5.0}
    data = small_data(priors=tuple(truth), population=60, generations=5, n_developers=100)
    spec = spec_from_dict(data, "synthetic")
    synthetic = simulate(dataclasses.replace(spec, seed=spec.seed + 99), truth)  # other seeds than the fit's
    targets = tuple(dataclasses.replace(t, observed=synthetic[t.key]) for t in spec.targets
                    if synthetic[t.key] > 0 or t.scale == "linear")
    spec = dataclasses.replace(spec, targets=targets)
    result = calibrate(spec, tmp_path / "out", write=lambda line: None)
    summary = result["summary"].set_index("parameter")
    for name, value in truth.items():
        lo, hi = summary.loc[name, "posterior_q05"], summary.loc[name, "posterior_q95"]
        assert lo <= value <= hi, (name, value, lo, hi)
    # and the data moved the posterior: not the prior's interval returned
    assert summary["width_ratio"].min() < 0.5, summary["width_ratio"]
    assert np.isfinite(summary["ess"]).all() and (summary["ess"] > 10).all()


def test_the_priors_table_in_sources_md_is_current():
    from model.core.paths import SOURCES_MD
    from model.validation.abc_spec import priors_markdown

    assert priors_markdown(load_spec("calibration")) in SOURCES_MD.read_text(encoding="utf-8"), (
        "docs/SOURCES.md's priors table is stale: run `python -m model.validation.abc_spec`")


# --- the 2026H1 out-of-sample score (model/validation/abc_holdout.py) ---------------------------------------

def test_holdout_crps_analytic_cases():
    """CRPS of an ensemble: 0 when every member is the record; E|X - y| - E|X - X'|/2 = 0.5 - 0.25 for the
    two members {0, 1} against 0 (below their 5% quantile, 0.05: not covered); 8.5 - 0.25 for {1, 2}
    against 10 (not covered); the constant ensemble covers its record."""
    from model.validation.abc_holdout import score

    s = score(np.array([3.0, 0.0, 10.0]), np.array([[3.0, 0.0, 1.0], [3.0, 1.0, 2.0]]))
    assert s.crps.tolist() == pytest.approx([0.0, 0.25, 8.25])
    assert s.covered.tolist() == [True, False, False]


def test_holdout_table_in_validation_md_is_generated_from_holdout_csv():
    """docs/VALIDATION.md's 2026H1 table is rendered from the committed holdout.csv, and every held-out row is
    after the calibration window."""
    from model.core.paths import VALIDATION_MD
    from model.validation import abc_holdout as ho

    t = pd.read_csv(ho.HOLDOUT_CSV)
    text = VALIDATION_MD.read_text(encoding="utf-8")
    assert ho.render(text, t) == text, "stale: run python -m model.validation.abc_holdout"
    assert all(parse_quarter(p) > parse_quarter(WINDOW_END) for p, _ in ho.HOLDOUT)
    assert list(zip(t.period, t.quantity, strict=True)) == list(ho.HOLDOUT)


@pytest.mark.slow
def test_holdout_csv_is_reproduced_from_the_committed_posterior():
    """The committed holdout.csv is what the committed posterior and the replay give now."""
    from model.validation import abc_holdout as ho

    fresh = ho.table()
    committed = pd.read_csv(ho.HOLDOUT_CSV)
    pd.testing.assert_frame_equal(fresh.reset_index(drop=True), committed, check_dtype=False, rtol=1e-12)


def test_posterior_and_coverage_tables_in_validation_md_are_generated_from_the_committed_csvs():
    from model.core.paths import VALIDATION_MD
    from model.validation import abc_doc

    text = VALIDATION_MD.read_text(encoding="utf-8")
    assert text == abc_doc.committed_render(text), "stale: run `python -m model.validation.abc_doc`"


def test_posterior_reading_names_a_pile_against_a_bound():
    """Analytic cases of the rule: near a bound in the 90% interval and the median, on the log scale for a
    loguniform prior."""
    from model.validation.abc_doc import reading

    def row(prior, q05, median, q95):
        return pd.Series({"prior": prior, "posterior_q05": q05, "posterior_median": median,
                          "posterior_q95": q95, "identifiability": "informed"})

    assert reading(row("uniform(0, 1)", 0.01, 0.1, 0.3)) == "informed (against the lower bound)"
    assert reading(row("uniform(0, 1)", 0.7, 0.95, 0.99)) == "informed (against the upper bound)"
    assert reading(row("uniform(0, 1)", 0.3, 0.5, 0.7)) == "informed"
    assert reading(row("uniform(0, 1)", 0.01, 0.3, 0.6)) == "informed"  # the median is not near
    # 30k in loguniform(25k, 250k) is near the lower bound on the log scale (0.08) and on the linear (0.02)
    near = reading(row("loguniform(25000, 250000)", 26000, 30000, 60000))
    assert near == "informed (against the lower bound)"
    # 60k is 0.38 of the log support (but 0.16 of the linear one): not against the bound
    assert reading(row("loguniform(25000, 250000)", 26000, 60000, 90000)) == "informed"
