"""The default run is the scenario its name says (issue 32 item 1): the rule as enacted, held (developers
price the risk of a US reversal, none happens), the same in the parameter table, the Python API,
``chipstack run``, the UI's first preset and the headline experiment; and the rules in force each quarter
are reported (``us_regime_code``, ``china_policy_code``) and drawn as bands on the run's figure."""

from __future__ import annotations

import math
import tomllib

import pandas as pd
import pytest
from scipy import stats

from model import ChipMarketModel
from model.analysis.figures import rule_spans
from model.cli import main
from model.core.parameters import DEFAULTS
from model.core.paths import REPO_ROOT
from model.core.policy import CHINA_POLICIES, US_REGIMES
from model.core.reporters import REPORTERS_BY_NAME
from model.ui.levers import DEFAULT_PRESET, preset_values

HEADLINE = REPO_ROOT / "experiments" / "export_regimes.toml"
FINAL = REPO_ROOT / "outputs" / "export_regimes" / "final.csv"


def test_one_default_everywhere():
    headline = tomllib.loads(HEADLINE.read_text(encoding="utf-8"))["parameters"]
    assert DEFAULTS["realize_reversals"] is False
    assert headline["realize_reversals"] is DEFAULTS["realize_reversals"]
    assert ChipMarketModel(rng=1, n_developers=10).p.realize_reversals is False
    assert preset_values(DEFAULT_PRESET)["realize_reversals"] is False
    assert DEFAULTS["us_reversal_prob"] > 0  # the risk is still priced


def test_chipstack_run_without_arguments_is_the_headline_enacted_cell(tmp_path, monkeypatch, capsys):
    """``chipstack run`` (seed 42, 1,000 developers) ends in 2030Q4 within the 95% prediction interval of
    one run of the headline's cell threshold x Beijing decides x 600k Ascend (300 developers, at least the
    experiment's replications:
    mean +- t * sd * sqrt(1 + 1/n)); every quarter under that rule."""
    monkeypatch.chdir(tmp_path)
    assert main(["run"]) == 0
    out = capsys.readouterr().out
    assert "parameters: defaults" in out
    assert "rules in force (US regime / Beijing's policy): threshold / decides 2026Q1-2030Q4" in out
    run = pd.read_csv(tmp_path / "outputs" / "run" / "timeseries.csv")
    last = run.iloc[-1]
    assert last["quarter"] == "2030Q4"
    final = pd.read_csv(FINAL)
    cell = final[(final["export_regime"] == "threshold") & (final["china_import_policy"] == "decides")
                 & (final["huawei_capacity_2026"] == DEFAULTS["huawei_capacity_2026"])]
    n = len(cell)
    assert n >= tomllib.loads(HEADLINE.read_text(encoding="utf-8"))["experiment"]["replications"] >= 5
    t = stats.t.ppf(0.975, n - 1)
    for reporter in ("us_stack_share", "us_share_legal", "china_compute_h100e"):
        mean, sd = cell[reporter].mean(), cell[reporter].std(ddof=1)
        half = t * sd * math.sqrt(1 + 1 / n)
        assert abs(last[reporter] - mean) <= half, (reporter, last[reporter], mean, half)
    assert set(run["us_regime_code"]) == {US_REGIMES.index("threshold")}
    assert set(run["china_policy_code"]) == {CHINA_POLICIES.index("decides")}


def test_reversals_are_an_explicit_scenario_and_the_reporters_show_them():
    held = ChipMarketModel(rng=3, n_developers=30, us_reversal_prob=1.0).run(3)
    assert list(held["us_regime_code"]) == [US_REGIMES.index("threshold")] * 3
    real = ChipMarketModel(rng=3, n_developers=30, us_reversal_prob=1.0, realize_reversals=True).run(3)
    regime = REPORTERS_BY_NAME["us_regime_code"]
    assert [regime.decode(v) for v in real["us_regime_code"]] == ["h20", "ban", "ban"]
    assert rule_spans(real) == [(0, 0, "h20 / decides"), (1, 2, "ban / decides")]
    # Beijing's dated policy is reported in force from its quarter
    dated = ChipMarketModel(rng=3, n_developers=30, china_import_policy="open",
                            china_policy_schedule="2026Q3:ban").run(4)
    china = REPORTERS_BY_NAME["china_policy_code"]
    assert [china.decode(v) for v in dated["china_policy_code"]] == ["open", "open", "ban", "ban"]


@pytest.mark.parametrize("name", ["us_regime_code", "china_policy_code"])
def test_the_code_reporters_state_their_codes_in_the_table(name):
    reporter = REPORTERS_BY_NAME[name]
    assert reporter.codes and all(f"{k} {c}" in reporter.unit for k, c in enumerate(reporter.codes))
    interfaces = (REPO_ROOT / "docs" / "INTERFACES.md").read_text(encoding="utf-8")
    assert f"| `{name}` |" in interfaces
