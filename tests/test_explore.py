"""Exploratory modelling: [levers]/[uncertainties] experiment files, common random numbers, scenario
discovery (EMA Workbench's PRIM) and robustness (regret, satisficing, the Pareto frontier)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.analysis.discover import discover
from model.analysis.robust import pareto_mask, regret_table, robustness
from model.analysis.sweep_data import Sweep
from model.cli import main
from model.sweep.design import build_design, make_run_id, run_seed
from model.sweep.errors import UsageError
from model.sweep.experiment import experiment_from_dict

BASE = {"experiment": {"name": "t", "steps": 3, "replications": 2, "seed": 11},
        "parameters": {"n_developers": 30}}
EXPLORE = BASE | {
    "levers": {"export_regime": ["h20", "threshold", "lagged"]},
    "uncertainties": {"method": "lhs", "n": 8,
                      "ranges": {"huawei_capacity_2026": [200000, 3000000],
                                 "domestic_efficiency": [0.5, 1.0]},
                      "choices": {"china_import_policy": ["open", "discourage", "restrict", "ban"]}},
}


# ---------------------------------------------------------------------------------------------
# Schema and design
def test_levers_and_uncertainties_are_parsed_into_grid_and_sample():
    exp = experiment_from_dict(EXPLORE)
    assert exp.levers == ("export_regime",)
    assert exp.uncertainties == ["huawei_capacity_2026", "domestic_efficiency", "china_import_policy"]
    assert exp.varying == ["export_regime", *exp.uncertainties]
    assert exp.n_points() == 3 * 8 and exp.n_runs() == 48
    assert exp.resolved()["seeding"] == "crn"


def test_common_random_numbers_same_future_same_seed_across_policies():
    design = build_design(experiment_from_dict(EXPLORE))
    assert len(design.runs) == 48 and len({r.run_id for r in design.runs}) == 48
    by_future: dict = {}
    for run in design.runs:
        future = {k: v for k, v in run.values.items() if k != "export_regime"}
        by_future.setdefault((run.sample_index, run.replication), []).append(
            (run.seed, future, run.values["export_regime"]))
    assert len(by_future) == 16
    for entries in by_future.values():
        seeds, futures, regimes = zip(*entries)
        assert sorted(regimes) == ["h20", "lagged", "threshold"]
        assert len(set(seeds)) == 1  # the same seed for every policy in this future
        assert all(f == futures[0] for f in futures)  # and the same uncertainty values
    # different futures (and replications) get different seeds
    assert len({entries[0][0] for entries in by_future.values()}) == 16


def test_grid_and_sample_experiments_keep_their_seeds():
    exp = experiment_from_dict(BASE | {"grid": {"export_regime": ["h20", "open"]},
                                       "sample": {"method": "lhs", "n": 3,
                                                  "ranges": {"domestic_efficiency": [0.5, 1.0]}}})
    design = build_design(exp)
    assert all(r.seed == run_seed(exp.seed, r.run_id) for r in design.runs)
    assert all(r.run_id == make_run_id(r.values, r.sample_index, r.replication) for r in design.runs)
    assert "seeding" not in exp.resolved() and exp.levers == ()


def test_categorical_uncertainty_is_drawn_in_equal_shares():
    design = build_design(experiment_from_dict(EXPLORE))
    stances = [p.values["china_import_policy"] for p in design.points if p.values["export_regime"] == "h20"]
    assert sorted(pd.Series(stances).value_counts().tolist()) == [2, 2, 2, 2]


@pytest.mark.parametrize("change, fragment", [
    ({"uncertainties": None}, "[uncertainties] is missing"),
    ({"levers": {}}, "[levers] is missing or empty"),
    ({"grid": {"n_developers": [10, 20]}}, "[grid] given with [levers]/[uncertainties]"),
    ({"uncertainties": {"method": "morris", "n": 8, "ranges": {"domestic_efficiency": [0.5, 1.0]},
                        "choices": {"china_import_policy": ["open", "ban"]}}}, "'lhs' or 'sobol' only"),
    ({"levers": {"domestic_efficiency": [0.6, 0.9]}}, "domestic_efficiency: also in [levers]"),
    ({"uncertainties": {"method": "lhs", "n": 8, "ranges": {"china_import_policy": [0, 1]}}},
     "put china_import_policy in [uncertainties.choices]"),
    ({"uncertainties": {"method": "lhs", "n": 8, "rangs": {}}}, "unknown key 'rangs' in [uncertainties]"),
    ({"uncertainties": {"method": "lhs", "n": 8, "choices": {"china_import_policy": ["open", "shut"]}}},
     "[uncertainties.choices] china_import_policy"),
    ({"levers": {"export_regime": []}}, "[levers] export_regime = []"),
])
def test_bad_exploratory_sections_are_one_line_errors(change, fragment):
    data = {k: v for k, v in (EXPLORE | change).items() if v is not None}
    with pytest.raises(UsageError) as info:
        experiment_from_dict(data, "x.toml")
    message = str(info.value)
    assert message.startswith("x.toml: ") and fragment in message and "\n" not in message


def test_shipped_policy_robustness_experiment_loads():
    from model.sweep.experiment import load_experiment

    exp = load_experiment("policy_robustness")
    assert exp.levers and exp.uncertainties and exp.resolved()["seeding"] == "crn"
    assert exp.n_runs() <= 2048  # ~0.1 s a run: minutes on 2 cores


# ---------------------------------------------------------------------------------------------
# Synthetic sweeps (no model runs): a Sweep built from a table
def fake_sweep(final: pd.DataFrame, levers: list[str], uncertainties: list[str], tmp_path: Path) -> Sweep:
    manifest = {"experiment": {"name": "synthetic"},
                "design": {"levers": levers, "uncertainties": uncertainties}}
    varying = levers + uncertainties
    return Sweep(tmp_path, manifest, final, final, varying, levers, uncertainties, "lhs")


def synthetic_failures(n: int = 600, seed: int = 3) -> pd.DataFrame:
    """Failures exactly where huawei_capacity_2026 > 2M and domestic_efficiency > 0.8 (plus a noise
    dimension that plays no part)."""
    rng = np.random.default_rng(seed)
    hw = rng.uniform(200_000, 3_000_000, n)
    eff = rng.uniform(0.5, 1.0, n)
    noise = rng.uniform(0.0, 1.0, n)
    fails = (hw > 2_000_000) & (eff > 0.8)
    share = np.where(fails, 0.2, 0.6) + rng.normal(0, 0.01, n)
    return pd.DataFrame({"sample_index": np.arange(n), "replication": 0, "huawei_capacity_2026": hw,
                         "domestic_efficiency": eff, "demand_growth": noise, "us_stack_share": share,
                         "china_compute_h100e": 1e6 + 0 * share})


@pytest.mark.slow  # over ~2.5 s: make test runs it, make test-fast does not
def test_prim_finds_the_known_failure_box(tmp_path):
    final = synthetic_failures()
    sweep = fake_sweep(final, [], ["huawei_capacity_2026", "domestic_efficiency", "demand_growth"], tmp_path)
    d = discover(sweep, "us_stack_share", 0.3, "below")
    assert set(d.box["dimension"]) == {"huawei_capacity_2026", "domestic_efficiency"}
    box = d.box.set_index("dimension")
    assert box.loc["huawei_capacity_2026", "low"] == pytest.approx(2_000_000, rel=0.06)
    assert box.loc["domestic_efficiency", "low"] == pytest.approx(0.8, abs=0.03)
    assert d.stats["coverage"] > 0.85 and d.stats["density"] > 0.9
    assert all(float(q.split(",")[0]) < 0.05 for q in box["quasi_p"])
    assert "huawei_capacity_2026 >" in d.sentence() and "coverage" in d.markdown()


def test_prim_with_policy_uses_that_policy_runs_only(tmp_path):
    a, b = synthetic_failures(seed=4), synthetic_failures(seed=4)
    a["export_regime"], b["export_regime"] = "lagged", "open"
    b["us_stack_share"] = 0.6 + 0 * b["us_stack_share"]  # 'open' never fails
    final = pd.concat([a, b], ignore_index=True)
    sweep = fake_sweep(final, ["export_regime"],
                       ["huawei_capacity_2026", "domestic_efficiency", "demand_growth"], tmp_path)
    d = discover(sweep, "us_stack_share", 0.3, "below", ["export_regime=lagged"])
    assert d.n_runs == len(a) and set(d.box["dimension"]) == {"huawei_capacity_2026", "domestic_efficiency"}
    # without --policy the lever is a (categorical) dimension too, and the box keeps 'lagged'
    d_all = discover(sweep, "us_stack_share", 0.3, "below")
    assert "export_regime" in d_all.dimensions
    with pytest.raises(UsageError, match="every run has"):
        discover(sweep, "us_stack_share", 0.9, "below", ["export_regime=open"])
    with pytest.raises(UsageError, match="allowed: one of lagged, open"):
        discover(sweep, "us_stack_share", 0.3, "below", ["export_regime=ban"])


def test_regret_and_ranking_on_a_hand_computed_table(tmp_path):
    # us_stack_share by policy (rows) and future (columns); the best per future: 0.6, 0.5, 0.6
    table = {"P1": ([0.6, 0.2, 0.5], 10.0), "P2": ([0.4, 0.5, 0.4], 5.0), "P3": ([0.5, 0.3, 0.6], 20.0)}
    rows = []
    for policy, (shares, cost) in table.items():
        for future, share in enumerate(shares):
            for rep, delta in enumerate((-0.05, 0.05)):  # two replications around the value
                rows.append({"export_regime": policy, "sample_index": future, "replication": rep,
                             "domestic_efficiency": 0.5 + future / 10, "us_stack_share": share + delta,
                             "china_compute_h100e": cost})
    sweep = fake_sweep(pd.DataFrame(rows), ["export_regime"], ["domestic_efficiency"], tmp_path)
    r = robustness(sweep, "us_stack_share", target=0.45)
    ranking = r.ranking.set_index("policy")
    labels = {p: f"export_regime={p}" for p in table}
    # regret P1: 0, .3, .1  P2: .2, 0, .2  P3: .1, .2, 0
    assert ranking.loc[labels["P1"], "max_regret"] == pytest.approx(0.3)
    assert ranking.loc[labels["P2"], "max_regret"] == pytest.approx(0.2)
    assert ranking.loc[labels["P3"], "max_regret"] == pytest.approx(0.2)
    assert ranking.loc[labels["P1"], "mean_regret"] == pytest.approx(0.4 / 3)
    assert ranking.loc[labels["P3"], "mean_regret"] == pytest.approx(0.1)
    # satisficing (share >= 0.45): P1 2/3, P2 1/3, P3 2/3; ties in max regret broken by it
    assert ranking.loc[labels["P2"], "satisficing"] == pytest.approx(1 / 3)
    assert r.ranking["policy"].tolist() == [labels["P3"], labels["P2"], labels["P1"]]
    assert ranking.loc[labels["P1"], "mean"] == pytest.approx(1.3 / 3)
    # with a cap on compute of 15: P3 (cost 20) never satisfices
    assert (robustness(sweep, "us_stack_share", target=0.45, cap=15).ranking.set_index("policy")
            .loc[labels["P3"], "satisficing"] == 0)
    # frontier on medians (share up, compute down): P1 (0.5, 10) dominates P3 (0.5, 20); P2 (0.4, 5) stays
    pareto = r.frontier.set_index("policy")["pareto"]
    assert pareto[labels["P1"]] and pareto[labels["P2"]] and not pareto[labels["P3"]]


def test_lever_combinations_with_identical_outcomes_are_one_policy(tmp_path):
    rows = []
    for regime, cap, shares in (("h20", 0.5, [0.3, 0.4]), ("h20", 1.0, [0.3, 0.4]),
                                ("lagged", 0.5, [0.5, 0.6]), ("lagged", 1.0, [0.6, 0.5])):
        for future, share in enumerate(shares):
            rows.append({"export_regime": regime, "us_volume_cap_share": cap, "sample_index": future,
                         "replication": 0, "domestic_efficiency": 0.5 + future / 10,
                         "us_stack_share": share, "china_compute_h100e": 1.0})
    sweep = fake_sweep(pd.DataFrame(rows), ["export_regime", "us_volume_cap_share"], ["domestic_efficiency"],
                       tmp_path)
    r = robustness(sweep, "us_stack_share")
    assert sorted(r.ranking["policy"]) == ["export_regime=h20",
                                           "export_regime=lagged, us_volume_cap_share=0.5",
                                           "export_regime=lagged, us_volume_cap_share=1"]
    assert any("merged" in note for note in r.notes)


def test_regret_table_and_pareto_mask_directly():
    out = pd.DataFrame([[1.0, 3.0], [2.0, 1.0]], index=["a", "b"])
    assert regret_table(out).to_numpy().tolist() == [[1.0, 0.0], [0.0, 2.0]]
    assert regret_table(out, larger_is_better=False).to_numpy().tolist() == [[0.0, 2.0], [1.0, 0.0]]
    assert pareto_mask([1, 2, 2, 0], [1, 1, 2, 0]).tolist() == [False, True, False, True]


def test_robust_refuses_a_sweep_without_levers(tmp_path):
    sweep = fake_sweep(synthetic_failures(50), [], ["huawei_capacity_2026"], tmp_path)
    with pytest.raises(UsageError, match="a sweep without levers"):
        robustness(sweep, "us_stack_share")


# ---------------------------------------------------------------------------------------------
# The commands, on a real (tiny) sweep
TINY = """
[experiment]
name = "tiny_explore"
steps = 3
replications = 1
seed = 5

[parameters]
n_developers = 30

[levers]
export_regime = ["h20", "open"]

[uncertainties]
method = "lhs"
n = 8

[uncertainties.ranges]
huawei_capacity_2026 = [200000, 3000000]

[uncertainties.choices]
china_import_policy = ["open", "ban"]
"""


@pytest.fixture(scope="module")
def tiny_sweep(tmp_path_factory) -> Path:
    from model.sweep.runner import run_sweep

    folder = tmp_path_factory.mktemp("explore")
    path = folder / "tiny_explore.toml"
    path.write_text(TINY)
    out = folder / "out"
    result = run_sweep(path, out, workers=1, progress=False)
    assert result.exit_code == 0
    return out


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "model.cli", *args], capture_output=True, text=True,
                          timeout=180)


@pytest.mark.slow  # over ~4 s: robust and discover end to end, with their figures
def test_robust_and_discover_commands_write_their_folders(tiny_sweep, capsys):
    final = pd.read_csv(tiny_sweep / "final.csv")
    # CRN in the data: in each future, both policies ran with the same seed
    assert (final.groupby("sample_index")["seed"].nunique() == 1).all()
    assert main(["robust", str(tiny_sweep)]) == 0
    out = capsys.readouterr().out
    assert "minimax regret" in out and "Ranked first" in out
    for name in ("ranking.md", "ranking.csv", "regret.csv", "frontier.csv", "robust.png", "frontier.png"):
        assert (tiny_sweep / "robust" / name).stat().st_size > 0
    assert len(pd.read_csv(tiny_sweep / "robust" / "ranking.csv")) == 2
    threshold = float(final["us_stack_share"].median())
    assert main(["discover", str(tiny_sweep), "--reporter", "us_stack_share", "--below", str(threshold),
                 "--policy", "export_regime=h20"]) == 0
    folders = list((tiny_sweep / "discover").iterdir())
    assert len(folders) == 1 and "export_regime-h20" in folders[0].name
    files = {p.name for p in folders[0].iterdir()}
    assert {"box.md", "box.csv", "trajectory.csv", "discover.json", "tradeoff.png"} <= files
    meta = json.loads((folders[0] / "discover.json").read_text())
    assert meta["n_runs"] == 8 and meta["policy"] == {"export_regime": "h20"}
    assert not [p for p in tiny_sweep.rglob(".*tmp")]  # no temporary folders left behind


@pytest.mark.parametrize("args, fragment", [
    (["discover", "{dir}", "--reporter", "us_share", "--below", "0.3"], "unknown reporter"),
    (["discover", "{dir}", "--below", "-1"], "no run has us_share_legal < -1"),
    (["discover", "{dir}", "--below", "0.3", "--policy", "export_regime=ban"], "was not run"),
    (["discover", "{dir}", "--below", "0.3", "--policy", "n_developers=30"], "not a lever"),
    (["discover", "{dir}"], "exactly one of --below X or --above X"),
    (["robust", "{dir}", "--cost", "nothing"], "--cost 'nothing': unknown reporter"),
    (["robust", "{dir}/nowhere"], "no such folder"),
])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tiny_sweep, capsys, args, fragment):
    """In process (``main`` returns the exit code; the command line's process is tested in test_cli)."""
    before = sorted(p.name for p in tiny_sweep.iterdir())
    capsys.readouterr()
    assert main([a.replace("{dir}", str(tiny_sweep)) for a in args]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chipstack: error:") and fragment in lines[0], err
    assert "Traceback" not in err
    assert sorted(p.name for p in tiny_sweep.iterdir()) == before


# ---------------------------------------------------------------------------------------------
# EMA Workbench adapter
@pytest.mark.filterwarnings("ignore::UserWarning")
def test_ema_adapter_runs_experiments_through_the_workbench():
    from ema_workbench import SequentialEvaluator, perform_experiments

    from model import ChipMarketModel
    from model.analysis.ema_adapter import ema_model

    model = ema_model(uncertainties={"huawei_capacity_2026": (200_000, 3_000_000),
                                     "china_import_policy": ["open", "ban"]},
                      levers={"export_regime": ["h20", "open"]},
                      outcomes=["us_stack_share", "china_compute_h100e"],
                      constants={"n_developers": 30}, steps=3, seed=1)
    with SequentialEvaluator(model) as evaluator:
        experiments, outcomes = perform_experiments(model, scenarios=3, policies=2, evaluator=evaluator)
    assert len(experiments) == 6 and outcomes["us_stack_share"].shape == (6,)
    # one experiment again by hand: the same number, with the seed of its scenario
    row = experiments.iloc[4]
    params = {"huawei_capacity_2026": float(row["huawei_capacity_2026"]),
              "china_import_policy": row["china_import_policy"], "export_regime": row["export_regime"]}
    seed = model.function.seed_for(params)
    direct = ChipMarketModel(rng=seed, n_developers=30, **params).run(3).iloc[-1]["us_stack_share"]
    assert outcomes["us_stack_share"][4] == direct
    # common random numbers: the seed depends on the scenario, not the policy
    assert seed == model.function.seed_for(params | {"export_regime": "h20"})


@pytest.mark.parametrize("kwargs, fragment", [
    ({"uncertainties": {"huawei_capacity": (1, 2)}}, "unknown parameter"),
    ({"uncertainties": {"export_regime": (0, 1)}}, "give a list of values"),
    ({"uncertainties": {"domestic_efficiency": (0.9, 0.5)}}, "not below high"),
    ({"uncertainties": {"domestic_efficiency": (0.5, 0.9)}, "outcomes": ["share"]}, "unknown reporter"),
    ({"uncertainties": {"domestic_efficiency": (0.5, 0.9)}, "levers": {"domestic_efficiency": [0.6, 0.7]}},
     "more than one"),
])
def test_ema_adapter_bad_declarations(kwargs, fragment):
    from model.analysis.ema_adapter import ema_model

    with pytest.raises(UsageError, match=fragment):
        ema_model(**kwargs)


def test_import_model_does_not_load_ema_workbench():
    code = ("import sys, model, model.cli, model.sweep.experiment, model.sweep.design; "
            "bad = [m for m in ('ema_workbench', 'seaborn', 'sklearn') if m in sys.modules]; "
            "sys.exit(1 if bad else 0)")
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_atomic_folder_keeps_the_old_results_when_writing_fails(tmp_path):
    from model.analysis.futures import atomic_folder

    target = tmp_path / "robust"
    with atomic_folder(target) as tmp:
        (tmp / "a.txt").write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_folder(target) as tmp:
            (tmp / "a.txt").write_text("half")
            raise RuntimeError("figure failed")
    assert (target / "a.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["robust"]  # no temporary folder left
    with atomic_folder(target) as tmp:
        (tmp / "b.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["b.txt"]


def test_prim_inputs_are_floats_for_integer_parameters():
    """EMA's PRIM pastes a box edge half-way between two values (e.g. us_roadmap_delay_quarters -1.5), which
    pandas refuses to write into an integer column (a traceback from ``chipstack discover`` on the
    policy_robustness sweep): integer parameters go to PRIM as floats, choices and booleans as text."""
    import pandas as pd

    from model.analysis.discover import _prim_inputs

    x = _prim_inputs(pd.DataFrame({"q": [-2, 0, 4], "r": [0.5, 1.0, 2.0], "on": [True, False, True],
                                   "policy": ["ban", "open", "ban"]}))
    assert x["q"].dtype == float and x["r"].dtype == float
    assert x["on"].dtype == object and x["policy"].dtype == object and list(x["q"]) == [-2.0, 0.0, 4.0]


# ---------------------------------------------------------------------------------------------
# Analyses say what they left out (issue 31 item 3)
@pytest.mark.slow  # over ~2.5 s: make test runs it, make test-fast does not
def test_robust_names_a_policy_whose_runs_all_failed(tmp_path, capsys):
    """The reviewer's case: a policy whose runs all failed dropped out of the ranking without a note, and the
    next one was 'ranked first, max regret 0.000'."""
    from failing_model import FAILING_REGIME, FailingModel
    from model.sweep.runner import run_sweep

    path = tmp_path / "failing.toml"
    path.write_text(TINY.replace('["h20", "open"]', '["h20", "lagged", "open"]'))
    out = tmp_path / "out"
    result = run_sweep(path, out, workers=1, progress=False, model_cls=FailingModel)
    assert result.failed == 8 and result.done == 16
    assert main(["robust", str(out)]) == 0
    printed = capsys.readouterr()
    gone = f"export_regime={FAILING_REGIME} (none of its 8 runs has a finite us_share_legal or " \
           f"china_compute_h100e: 8 failed, 0 non-finite)"
    assert f"**Left out of the ranking** (regret is among the others): {gone}." in printed.out
    assert f"chipstack: warning: left out of the ranking: {gone}" in printed.err
    assert f"note: export_regime={FAILING_REGIME}: 8 of 8 runs failed (failures.csv)" in printed.out
    assert gone in (out / "robust" / "ranking.md").read_text()
    assert json.loads((out / "robust" / "robust.json").read_text())["left_out"] == [gone]
    runs = pd.read_csv(out / "robust" / "runs.csv").set_index("policy")
    assert runs.loc[f"export_regime={FAILING_REGIME}"].tolist() == [8, 8, 0, 0]
    assert runs.loc["export_regime=h20"].tolist() == [8, 0, 8, 0]
    assert len(pd.read_csv(out / "robust" / "ranking.csv")) == 2
    # discover with that policy: not 'was not run', but that every run of it failed
    proc = run_cli("discover", str(out), "--below", "0.5", "--policy", f"export_regime={FAILING_REGIME}")
    assert proc.returncode == 2 and "every run of it failed" in proc.stderr, proc.stderr


def _with_runs(final: pd.DataFrame, sweep: Sweep, failed: list[dict]) -> Sweep:
    """``sweep`` whose manifest lists the runs of ``final`` and the ``failed`` runs (not in final)."""
    runs = [{"run_id": f"r{i}", "sample_index": int(row["sample_index"]), "params": row}
            for i, row in enumerate(final.drop(columns=["us_stack_share", "china_compute_h100e"])
                                    .to_dict("records"))]
    runs += [{"run_id": f"f{i}", "sample_index": r["sample_index"], "params": r}
             for i, r in enumerate(failed)]
    sweep.manifest |= {"runs": runs, "failed_run_ids": [f"f{i}" for i in range(len(failed))]}
    return sweep


def test_robust_does_not_average_over_a_failed_or_nan_replication(tmp_path):
    rows = []
    for policy, shares in (("P1", [0.6, 0.2, 0.5]), ("P2", [0.4, 0.5, 0.4])):
        for future, share in enumerate(shares):
            for rep in (0, 1):
                rows.append({"export_regime": policy, "sample_index": future, "replication": rep,
                             "domestic_efficiency": 0.5 + future / 10, "us_stack_share": share,
                             "china_compute_h100e": 1.0})
    final = pd.DataFrame(rows)
    final.loc[(final["export_regime"] == "P1") & (final["sample_index"] == 0) & (final["replication"] == 1),
              "us_stack_share"] = np.nan
    failed = final[(final["export_regime"] == "P2") & (final["sample_index"] == 1)
                   & (final["replication"] == 1)].drop(columns=["us_stack_share", "china_compute_h100e"])
    final = final.drop(failed.index).reset_index(drop=True)
    sweep = _with_runs(final, fake_sweep(final, ["export_regime"], ["domestic_efficiency"], tmp_path),
                       failed.to_dict("records"))
    r = robustness(sweep, "us_stack_share")
    assert r.outcomes.columns.tolist() == [2]  # futures 0 (a NaN) and 1 (a failed run) left out for both
    assert any("2 of 3 future(s) left out" in n for n in r.notes)
    assert "export_regime=P1: 1 finished with a non-finite us_stack_share or china_compute_h100e" in r.notes
    assert "export_regime=P2: 1 of 6 runs failed (failures.csv)" in r.notes
    assert r.runs.loc["export_regime=P1"].tolist() == [6, 0, 6, 1] and not r.left_out


def test_discover_says_what_it_left_out(tmp_path):
    final = synthetic_failures(200)
    final.loc[:4, "us_stack_share"] = np.nan
    failed = final.iloc[5:8].drop(columns=["us_stack_share", "china_compute_h100e"])
    final = final.drop(failed.index).reset_index(drop=True)
    sweep = fake_sweep(final, [], ["huawei_capacity_2026", "domestic_efficiency"], tmp_path)
    sweep = _with_runs(final, sweep, failed.to_dict("records"))
    d = discover(sweep, "us_stack_share", 0.3, "below")
    assert d.n_runs == 192 and d.runs == {"planned": 200, "failed": 3, "not_finite": 5}
    assert d.notes[0] == ("3 run(s) failed (failures.csv) and 5 finished with a non-finite us_stack_share: "
                          "left out; PRIM sees 192 of the 200 runs")


@pytest.mark.parametrize("command", [["robust"], ["discover", "--below", "0.3"]])
def test_robust_and_discover_refuse_altered_data(tiny_sweep, tmp_path, command):
    """A hand-edited final.csv was used without the checksum verdict that 'report' acts on."""
    import shutil

    folder = tmp_path / "edited"
    shutil.copytree(tiny_sweep, folder)
    shutil.rmtree(folder / command[0], ignore_errors=True)  # written by an earlier test of the module
    final = pd.read_csv(folder / "final.csv")
    final.loc[0, "us_share_legal"] = 0.99
    final.to_csv(folder / "final.csv", index=False)
    proc = run_cli(command[0], str(folder), *command[1:])
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chipstack: error:"), proc.stderr
    assert "final.csv': sha256 differs from the manifest" in lines[0]
    assert not (folder / command[0]).exists()
