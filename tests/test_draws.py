"""Futures drawn from a file of weighted draws (``[uncertainties] method = "posterior"``,
model/sweep/draws.py; issue 29 item 7): the futures are rows of the file, drawn by weight with the sample's
seed and shared by every policy; the file is part of the sweep's identity; bad files and sections get one
line."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.cli import main
from model.sweep.draws import draw_points
from model.sweep.errors import UsageError
from model.sweep.experiment import experiment_from_dict
from model.sweep.runner import run_sweep

PARAMS = ("demand_growth", "grey_supply_units")


def draws_file(tmp_path, weights=(0.0, 1.0, 3.0), name="draws.parquet"):
    frame = pd.DataFrame({"demand_growth": [0.30, 0.40, 0.50], "grey_supply_units": [30_000.0, 60_000.0,
                                                                                     90_000.0],
                          "weight": list(weights)})
    path = tmp_path / name
    frame.to_parquet(path)
    return path


def spec(path, n=8, **uncertainties) -> dict:
    return {"experiment": {"name": "post", "steps": 3, "replications": 1, "seed": 7},
            "parameters": {"n_developers": 20, "realize_reversals": False},
            "levers": {"export_regime": ["ban", "open"]},
            "uncertainties": {"method": "posterior", "n": n, "draws": str(path), **uncertainties}}


def test_futures_are_rows_of_the_file_drawn_by_weight(tmp_path):
    exp = experiment_from_dict(spec(draws_file(tmp_path), n=400))
    points = draw_points(exp.sample)
    rows = {(0.40, 60_000.0), (0.50, 90_000.0)}  # the weight-0 row is never drawn
    assert {tuple(p) for p in points} <= rows
    share = np.mean(points[:, 0] == 0.50)
    assert abs(share - 0.75) < 0.08  # weights 1 : 3
    assert exp.sample.ranges == {"demand_growth": (0.30, 0.50), "grey_supply_units": (30_000.0, 90_000.0)}
    again = draw_points(experiment_from_dict(spec(draws_file(tmp_path), n=400)).sample)
    assert (again == points).all()  # the sample's seed decides


def test_every_policy_runs_on_the_same_drawn_futures_and_robust_reads_them(tmp_path):
    out = tmp_path / "out"
    result = run_sweep(experiment_from_dict(spec(draws_file(tmp_path), n=4)), out, workers=1, progress=False)
    assert result.exit_code == 0
    final = pd.read_csv(out / "final.csv")
    by_policy = [g.sort_values("sample_index")[list(PARAMS) + ["seed"]].to_numpy()
                 for _, g in final.groupby("export_regime")]
    assert (by_policy[0] == by_policy[1]).all()  # same futures and seeds (common random numbers)
    proc_code = main(["robust", str(out), "--reporter", "us_share_legal"])
    assert proc_code == 0 and (out / "robust" / "ranking.csv").is_file()
    assert len(pd.read_csv(out / "robust" / "ranking.csv")) == 2


def test_the_draws_file_is_part_of_the_identity(tmp_path):
    path = draws_file(tmp_path)
    before = experiment_from_dict(spec(path))
    draws_file(tmp_path, weights=(1.0, 1.0, 1.0))
    after = experiment_from_dict(spec(path))
    assert before.fingerprint() != after.fingerprint()
    with pytest.raises(UsageError, match="sha256 is not the one recorded"):
        draw_points(before.sample)


@pytest.mark.parametrize("uncertainties, expected", [
    ({"method": "lhs", "n": 4, "draws": "x.parquet"}, "come together"),
    ({"ranges": {"demand_growth": [0.3, 0.5]}}, "no [uncertainties.ranges]"),
    ({"draws": "missing.parquet"}, "cannot be read as Parquet"),
])
def test_bad_posterior_sections_are_one_line(tmp_path, uncertainties, expected):
    data = spec(draws_file(tmp_path))
    data["uncertainties"].update(uncertainties)
    with pytest.raises(UsageError, match=expected.replace("[", r"\[").replace("]", r"\]")) as err:
        experiment_from_dict(data)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("frame, expected", [
    (pd.DataFrame({"demand_growth": [0.3]}), "needs a column 'weight'"),
    (pd.DataFrame({"no_such_parameter": [1.0], "weight": [1.0]}), "no_such_parameter"),
    (pd.DataFrame({"demand_growth": [0.3], "weight": [-1.0]}), "weights must be >= 0"),
    (pd.DataFrame({"demand_growth": [np.nan], "weight": [1.0]}), "finite number"),
    (pd.DataFrame({"demand_growth": [99.0], "weight": [1.0]}), "demand_growth"),
])
def test_bad_draws_files_are_one_line(tmp_path, frame, expected):
    path = tmp_path / "bad.parquet"
    frame.to_parquet(path)
    with pytest.raises(UsageError, match=expected) as err:
        experiment_from_dict(spec(path))
    assert "\n" not in str(err.value)


def test_posterior_cells_table_in_the_readme_is_generated_from_cells_csv():
    """README's table over the posterior futures is rendered from the committed cells.csv; each cell holds the
    100 futures of experiments/headline_posterior.toml, ordered quantiles, and the headline's defaults."""
    from model.analysis import posterior_cells as pc
    from model.core.paths import README_MD
    from model.sweep.experiment import load_experiment

    t = pd.read_csv(pc.CELLS_CSV)
    text = README_MD.read_text(encoding="utf-8")
    assert pc.render(text, t) == text, "stale: run python -m model.analysis.posterior_cells"
    n = load_experiment("headline_posterior").sample.n
    assert (t.futures == n).all() and len(t) == len(pc.ROWS) * len(pc.COLUMNS) * len(pc.REPORTERS)
    q = t[list(pc.QUANTILES)].to_numpy()
    assert (np.diff(q, axis=1) >= -1e-12).all()
    summary = pd.read_csv(pc.REFERENCE_SWEEP / "summary.csv")
    central = summary[summary.huawei_capacity_2026 == 600_000].set_index(list(pc.KEYS))
    row = t[(t.reporter == "us_share_legal") & (t.export_regime == "threshold")
            & (t.china_import_policy == "decides")].iloc[0]
    assert row.defaults_mean == central.loc[("threshold", "decides"), "us_share_legal_mean"]


def test_posterior_cells_analytic():
    """Quantiles per cell over the futures, on a constructed sweep."""
    from model.analysis.posterior_cells import cells

    final = pd.DataFrame({"export_regime": ["ban"] * 5, "china_import_policy": ["open"] * 5,
                          "us_share_legal": [0.0, 0.1, 0.2, 0.3, 0.4], "us_stack_share": [0.5] * 5,
                          "china_compute_h100e": [1e6] * 5})
    headline = pd.DataFrame({"export_regime": ["ban"], "china_import_policy": ["open"],
                             "huawei_capacity_2026": [600_000],
                             **{f"{r}_{s}": [0.0] for r in ("us_share_legal", "us_stack_share",
                                                            "china_compute_h100e")
                                for s in ("mean", "ci_low", "ci_high")}})
    t = cells(final, headline).set_index("reporter")
    assert t.loc["us_share_legal", "median"] == pytest.approx(0.2)
    assert t.loc["us_share_legal", "q10"] == pytest.approx(0.04)
    assert t.loc["us_stack_share", "q975"] == pytest.approx(0.5) and t.loc["us_share_legal", "futures"] == 5
