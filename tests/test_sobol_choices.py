"""Categorical factors in a Sobol' design ([sample.choices] with method 'sobol'): each choice is a unit
column of the Saltelli sample (value k of m where u is in [k/m, (k+1)/m)), so its first and total
indices are estimated like a range's (model.sweep.design, model.analysis.sensitivity).

Known answers: an output that depends only on the choice gives it ST ~ 1 and the range ST ~ 0; one that
depends only on the range gives the reverse; the Saltelli structure (row A_B^j differs from A only in
column j) holds for the choice columns as it does for the ranges.
"""

from __future__ import annotations

import numpy as np
import pytest
from SALib.analyze import sobol as sobol_analyze

from model.sweep.design import build_design, salib_problem
from model.sweep.errors import UsageError
from model.sweep.experiment import experiment_from_dict

REGIMES = ["ban", "h20", "threshold", "lagged", "open"]


def experiment(n: int = 256, method: str = "sobol"):
    return experiment_from_dict({
        "experiment": {"name": "sobol_choices", "steps": 2, "seed": 7},
        "parameters": {"n_developers": 20},
        "sample": {"method": method, "n": n, "ranges": {"lockin_weight": [0.0, 4.0]},
                   "choices": {"export_regime": REGIMES}},
    })


def outputs(design, f) -> np.ndarray:
    return np.array([f(p.values) for p in design.points], dtype=float)


def test_choice_is_a_factor_of_the_salib_problem():
    design = build_design(experiment())
    problem = salib_problem(design.sample)
    assert problem["names"] == ["lockin_weight", "export_regime"]
    assert problem["bounds"][1] == [0.0, 1.0]
    assert len(design.points) == 256 * (2 + 2)
    # every value is drawn, in roughly equal shares over the base sample
    counts = {r: sum(p.values["export_regime"] == r for p in design.points) for r in REGIMES}
    assert all(0.15 < c / len(design.points) < 0.25 for c in counts.values()), counts


def test_saltelli_structure_holds_for_the_choice_column():
    """In each block (A, A_B^range, A_B^choice, B): A_B^range keeps A's regime, A_B^choice takes B's."""
    design = build_design(experiment(n=64))
    values = [p.values for p in design.points]
    for k in range(0, len(values), 4):
        a, ab_range, ab_choice, b = values[k:k + 4]
        assert ab_range["export_regime"] == a["export_regime"]
        assert ab_range["lockin_weight"] == b["lockin_weight"]
        assert ab_choice["export_regime"] == b["export_regime"]
        assert ab_choice["lockin_weight"] == a["lockin_weight"]


@pytest.mark.parametrize("depends_on, big, small", [("export_regime", 1, 0), ("lockin_weight", 0, 1)])
def test_known_answer(depends_on, big, small):
    design = build_design(experiment())
    if depends_on == "export_regime":
        y = outputs(design, lambda v: REGIMES.index(v["export_regime"]) ** 2)
    else:
        y = outputs(design, lambda v: v["lockin_weight"])
    si = sobol_analyze.analyze(salib_problem(design.sample), y, calc_second_order=False, seed=1)
    assert si["ST"][big] > 0.9
    assert abs(si["ST"][small]) < 0.05


def test_choices_with_morris_are_refused():
    with pytest.raises(UsageError, match="method 'lhs' or 'sobol' only"):
        experiment(n=4, method="morris")


def test_lhs_choices_keep_their_design():
    """The lhs designs with choices (e.g. policy_robustness) are unchanged: the choice is not in the
    SALib problem, its values come from the hypercube's extra column."""
    design = build_design(experiment(n=10, method="lhs"))
    assert salib_problem(design.sample)["names"] == ["lockin_weight"]
    assert sorted(p.values["export_regime"] for p in design.points) == sorted(REGIMES * 2)


@pytest.mark.slow  # over ~4 s (make test-fast leaves it to make test)
def test_a_real_sweep_analyses_its_choices(tmp_path):
    """The model runs the design, and the sensitivity table has rows for the choice with finite
    indices; the US regime explains the legal share (ban and h20 sell no licensed chips after 2026)."""
    from model.analysis.sensitivity import sensitivity_table
    from model.analysis.sweep_data import load_sweep
    from model.sweep.executors import InlineExecutor
    from model.sweep.runner import run_sweep

    exp = experiment_from_dict({
        "experiment": {"name": "sobol_choices_run", "steps": 6, "seed": 7},
        "parameters": {"n_developers": 30, "realize_reversals": False},
        "sample": {"method": "sobol", "n": 32, "ranges": {"lockin_weight": [0.0, 4.0]},
                   "choices": {"export_regime": ["ban", "open"]}},
    })
    run_sweep(exp, tmp_path / "out", executor=InlineExecutor())
    sweep = load_sweep(tmp_path / "out")
    assert sweep.sample_params == ["lockin_weight", "export_regime"]
    table, notes = sensitivity_table(sweep)
    legal = table[table.output == "us_share_legal"].set_index("parameter")
    assert set(legal.index) == {"lockin_weight", "export_regime"}
    assert np.isfinite(legal["ST"]).all()
    assert legal.loc["export_regime", "ST"] > 0.5 > legal.loc["lockin_weight", "ST"]


def test_the_planned_size_counts_the_choice_columns():
    exp = experiment(n=16)
    assert exp.n_runs() == len(build_design(exp).runs) == 16 * (1 + 1 + 2)
