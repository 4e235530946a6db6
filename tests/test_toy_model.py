"""The sweep runs any model class (model.sweep.protocol): a Boltzmann wealth model, written here with its
own parameter and reporter tables, swept through the Python API, interrupted, resumed and replicated.

The model is defined at module level so that it pickles by reference (the manifest names it
``test_toy_model:BoltzmannWealth`` and ``replicate`` imports it back from there).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import mesa
import pandas as pd
import pytest

from model.core.parameters import Param
from model.core.reporters import REPORTERS as CHIP_REPORTERS
from model.core.reporters import Reporter
from model.sweep.errors import UsageError
from model.sweep.executors import InlineExecutor
from model.sweep.experiment import experiment_from_dict
from model.sweep.protocol import model_path
from model.sweep.replicate import replicate, report_text
from model.sweep.runner import run_sweep
from model.sweep.store import PARTS_DIR, part_record

TOY_PARAMS = (
    Param("n_agents", 20, "int", "agents", "number of agents", "toy model", low=2, high=1000),
    Param("start_wealth", 1, "int", "coins", "each agent's coins at the start", "toy model", low=1, high=100),
)
TOY_REPORTERS = (
    Reporter("gini", "Gini coefficient of wealth", "0-1"),
    Reporter("richest", "wealth of the richest agent", "coins"),
)
DATA_FILES = ("runs.parquet", "final.csv", "summary.csv")


class WealthAgent(mesa.Agent):
    def __init__(self, model: BoltzmannWealth, wealth: int):
        super().__init__(model)
        self.wealth = wealth

    def give(self) -> None:
        if self.wealth > 0:
            other = self.model.people[int(self.model.rng.integers(len(self.model.people)))]
            other.wealth += 1
            self.wealth -= 1


def gini(model: BoltzmannWealth) -> float:
    wealth = sorted(agent.wealth for agent in model.people)
    n, total = len(wealth), sum(wealth)
    weighted = sum((i + 1) * w for i, w in enumerate(wealth))
    return (2 * weighted) / (n * total) - (n + 1) / n


class BoltzmannWealth(mesa.Model):
    """Agents give a coin to a random agent each step (Mesa's tutorial model); randomness only
    through ``self.rng``."""

    def __init__(self, *, n_agents: int = 20, start_wealth: int = 1, rng=None):
        super().__init__(rng=rng)
        self.people = [WealthAgent(self, start_wealth) for _ in range(n_agents)]
        self.datacollector = mesa.DataCollector(model_reporters={
            "gini": gini, "richest": lambda m: max(agent.wealth for agent in m.people)})

    @classmethod
    def parameter_table(cls) -> tuple[Param, ...]:
        return TOY_PARAMS

    @classmethod
    def reporter_table(cls) -> tuple[Reporter, ...]:
        return TOY_REPORTERS

    def step(self) -> None:
        for k in self.rng.permutation(len(self.people)):
            self.people[int(k)].give()
        self.datacollector.collect(self)


class GenerousWealth(BoltzmannWealth):
    """Another model: every agent gives twice a step (replicate with it must find differences)."""

    def step(self) -> None:
        for k in self.rng.permutation(len(self.people)):
            self.people[int(k)].give()
            self.people[int(k)].give()
        self.datacollector.collect(self)


def toy_spec(**extra) -> dict:
    return {"experiment": {"name": "toy", "steps": 15, "replications": 2, "seed": 5},
            "parameters": {"start_wealth": 3}, "grid": {"n_agents": [10, 20, 40]}} | extra


class StopAfter(InlineExecutor):
    """Runs ``n`` tasks, then acts as if Ctrl-C was pressed: the sweep keeps what is saved."""

    def __init__(self, n: int):
        self.n = n

    def submit(self, fn, /, *args, **kwargs):
        if self.n == 0:
            raise KeyboardInterrupt
        self.n -= 1
        return super().submit(fn, *args, **kwargs)


def digests(out: Path) -> dict[str, str]:
    return {name: hashlib.sha256((out / name).read_bytes()).hexdigest() for name in DATA_FILES}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted sweep of the toy model (a process pool: the class pickles by reference)."""
    out = tmp_path_factory.mktemp("toy") / "ref"
    exp = experiment_from_dict(toy_spec(), model_cls=BoltzmannWealth)
    result = run_sweep(exp, out, workers=2)
    assert (result.exit_code, result.done, result.total) == (0, 6, 6)
    return out


def test_outputs_are_the_toy_models(reference):
    runs = pd.read_parquet(reference / "runs.parquet")
    assert list(runs.columns) == ["run_id", "replication", "seed", "n_agents", "step", "quarter",
                                  "gini", "richest"]
    assert not {r.name for r in CHIP_REPORTERS} & set(runs.columns)
    assert len(runs) == 6 * 15 and runs["run_id"].nunique() == 6
    assert runs["quarter"].iloc[:3].tolist() == ["0", "1", "2"]  # no time_label: the step as text
    assert str(runs["n_agents"].dtype) == "int64"
    final = pd.read_csv(reference / "final.csv")
    assert list(final.columns) == ["run_id", "replication", "seed", "n_agents", "gini", "richest"]
    summary = pd.read_csv(reference / "summary.csv")
    assert list(summary.columns) == ["n_agents", "n_runs", "gini_mean", "gini_sd", "gini_ci_low",
                                     "gini_ci_high", "richest_mean", "richest_sd", "richest_ci_low",
                                     "richest_ci_high"]
    assert summary["n_agents"].tolist() == [10, 20, 40] and (summary["n_runs"] == 2).all()
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["model"] == model_path(BoltzmannWealth) == f"{__name__}:BoltzmannWealth"
    assert manifest["reporters"] == ["gini", "richest"]
    assert manifest["fixed"] == {"start_wealth": 3}  # the toy's table, not ChipMarketModel's


def test_each_run_is_the_model_run_directly(reference):
    """A run's rows are the model built with its seed and parameters, stepped, read from its collector."""
    runs = pd.read_parquet(reference / "runs.parquet")
    first = runs[runs["run_id"] == runs["run_id"].iloc[0]]
    model = BoltzmannWealth(rng=int(first["seed"].iloc[0]), n_agents=int(first["n_agents"].iloc[0]),
                            start_wealth=3)
    for _ in range(15):
        model.step()
    direct = model.datacollector.get_model_vars_dataframe()
    assert first["gini"].tolist() == direct["gini"].astype(float).tolist()
    assert first["richest"].tolist() == direct["richest"].astype(float).tolist()
    assert sum(agent.wealth for agent in model.people) == 3 * len(model.people)


def test_interrupted_and_resumed_sweep_is_bit_identical(reference, tmp_path):
    exp = experiment_from_dict(toy_spec(), model_cls=BoltzmannWealth)
    out = tmp_path / "resumed"
    first = run_sweep(exp, out, workers=1, executor=StopAfter(3))
    assert first.interrupted and 0 < first.done < first.total and not (out / "runs.parquet").exists()
    parts = sorted((out / PARTS_DIR).glob("part-*.parquet"))
    part_record(parts[0]).unlink()  # a part whose record was lost is not trusted: its runs run again
    notes: list[str] = []
    second = run_sweep(exp, out, workers=1, resume=True, on_warning=notes.append)
    assert second.exit_code == 0 and second.resumed == first.done - 1
    assert notes == second.warnings and any("no record of its sha256" in note for note in notes)
    assert digests(out) == digests(reference)


def test_replicate_re_imports_the_model_class(reference):
    r = replicate(reference / "manifest.json", workers=1)
    assert r.identical and r.exact and r.runs == 6 and r.rows == 6 * 15, report_text(r, reference)
    assert report_text(r, reference) == "replicated: 6 runs, all values identical"
    explicit = replicate(reference / "manifest.json", workers=1, model_cls=BoltzmannWealth)
    assert explicit.identical
    other = replicate(reference / "manifest.json", workers=1, model_cls=GenerousWealth)
    assert not other.identical and set(other.differences["column"]) <= {"gini", "richest"}


def test_experiments_are_validated_against_the_toy_tables():
    with pytest.raises(UsageError, match=r"n_agent: unknown parameter \(did you mean 'n_agents'\?\)"):
        experiment_from_dict(toy_spec(grid={"n_agent": [10]}), model_cls=BoltzmannWealth)
    with pytest.raises(UsageError, match="export_regime: unknown parameter"):
        experiment_from_dict(toy_spec(grid={"export_regime": ["ban"]}), model_cls=BoltzmannWealth)
    with pytest.raises(UsageError, match=r"n_agents = 1: .*out of range.*\[2, 1000\]"):
        experiment_from_dict(toy_spec(grid={"n_agents": [1, 10]}), model_cls=BoltzmannWealth)
    data = toy_spec()
    data["experiment"] |= {"target_half_width": 0.1, "target_reporter": "us_stack_share"}
    with pytest.raises(UsageError, match="target_reporter = 'us_stack_share'.*one of gini, richest"):
        experiment_from_dict(data, model_cls=BoltzmannWealth)
    data["experiment"]["target_reporter"] = "gini"
    assert experiment_from_dict(data, model_cls=BoltzmannWealth).precision.reporter == "gini"
    exp = experiment_from_dict(toy_spec(), model_cls=BoltzmannWealth)
    assert exp.fixed_parameters() == {"start_wealth": 3} and exp.model_cls is BoltzmannWealth


def test_a_sampled_integer_parameter_of_the_toy_is_rounded(tmp_path):
    data = {"experiment": {"name": "toys", "steps": 3, "replications": 1, "seed": 2},
            "sample": {"method": "lhs", "n": 3, "ranges": {"n_agents": [5, 50]}}}
    out = tmp_path / "s"
    assert run_sweep(experiment_from_dict(data, model_cls=BoltzmannWealth), out, workers=1).exit_code == 0
    runs = pd.read_parquet(out / "runs.parquet")
    assert str(runs["n_agents"].dtype) == "int64" and runs["n_agents"].between(5, 50).all()


def test_report_draws_the_toy_models_reporters(reference, tmp_path):
    """``chipstack report`` reads the reporters from the manifest: the toy's figures show its first
    reporter, and no ChipMarketModel figure or table is drawn for it."""
    import shutil

    from model.analysis.report import build_report
    from model.analysis.sweep_data import load_sweep

    out = tmp_path / "ref"
    shutil.copytree(reference, out)
    sweep = load_sweep(out)
    assert sweep.reporters == ["gini", "richest"] and sweep.outcome == "gini"
    report = build_report(out)
    names = {p.name for p in report.paths}
    assert names == {"timeseries_gini.png", "response_n_agents.png"}
    assert not any("us_stack_share" in n or n == "tradeoff.png" for n in names)
    assert any(n.startswith("by_maker.csv: skipped") for n in report.notes)
