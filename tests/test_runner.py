"""The sweep runner: identical data for any worker count, resume after a kill, failures, outputs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import mesa
import pandas as pd
import pyarrow.parquet as pq
import pytest

from failing_model import FAILING_REGIME, MESSAGE, FailingModel
from model import MODEL_REPORTERS, ChipMarketModel
from model.cli import cmd_sweep, main
from model.core.paths import REPO_ROOT as ROOT
from model.sweep import finalize, runner
from model.sweep.design import build_design
from model.sweep.experiment import experiment_from_dict, load_experiment
from model.sweep.io import sha256_file
from model.sweep.runner import InlineExecutor, run_sweep
from sweep_files import assert_same_data, read_all, write_toml


def spec(name: str = "t", replications: int = 2, steps: int = 4, **grid) -> dict:
    grid = grid or {"export_regime": ["ban", "lagged", "open"], "china_import_policy": ["open", "restrict"]}
    return {"experiment": {"name": name, "description": "test", "steps": steps,
                           "replications": replications, "seed": 11},
            "parameters": {"n_developers": 20}, "grid": grid}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    """An uninterrupted serial sweep of spec(), the reference the other tests compare with."""
    out = tmp_path_factory.mktemp("ref") / "out"
    result = run_sweep(experiment_from_dict(spec()), out, workers=1, progress=False)
    assert result.exit_code == 0
    return out


# ---------------------------------------------------------------------------------------------
def test_outputs_have_design_columns(reference):
    data = read_all(reference)
    runs, final, summary = data["runs"], data["final"], data["summary"]
    varying = ["export_regime", "china_import_policy"]
    assert list(runs.columns) == ["run_id", "replication", "seed", *varying, "step", "quarter",
                                  *MODEL_REPORTERS]
    assert len(runs) == 12 * 4 and runs["run_id"].nunique() == 12
    assert runs.equals(runs.sort_values(["run_id", "step"]).reset_index(drop=True))
    assert runs["quarter"].iloc[:4].tolist() == ["2026Q1", "2026Q2", "2026Q3", "2026Q4"]
    assert list(final.columns) == ["run_id", "replication", "seed", *varying, *MODEL_REPORTERS]
    assert len(final) == 12
    last = runs[runs["step"] == 3].set_index("run_id")
    for name in MODEL_REPORTERS:
        assert final.set_index("run_id")[name].to_dict() == pytest.approx(last[name].to_dict(), rel=1e-12)
    assert len(summary) == 6 and (summary["n_runs"] == 2).all()
    for name in MODEL_REPORTERS:
        for stat in ("mean", "sd", "ci_low", "ci_high"):
            assert f"{name}_{stat}" in summary
    assert (summary["us_stack_share_ci_low"] <= summary["us_stack_share_mean"]).all()
    assert not (reference / ".parts").exists() and not (reference / "failures.csv").exists()


def test_manifest(reference):
    manifest = json.loads((reference / "manifest.json").read_text())
    assert manifest["status"] == "complete"
    assert manifest["root_seed"] == 11
    assert manifest["varying"] == ["export_regime", "china_import_policy"]
    assert manifest["fixed"]["n_developers"] == 20 and "export_regime" not in manifest["fixed"]
    assert manifest["design"]["kind"] == "grid" and manifest["design"]["sample"] is None
    assert manifest["counts"] == {"total": 12, "done": 12, "failed": 0}
    runs = pd.read_parquet(reference / "runs.parquet")
    seeds = runs.groupby("run_id")["seed"].first().to_dict()
    assert {r["run_id"]: r["seed"] for r in manifest["runs"]} == seeds
    assert {"run_id", "replication", "seed", "sample_index", "params"} <= set(manifest["runs"][0])
    for name in ("chipstack", "mesa", "numpy", "pandas", "pyarrow", "scipy", "SALib", "pydantic", "python"):
        assert manifest["versions"][name]
    for name, digest in manifest["files"].items():
        assert sha256_file(reference / name) == digest
    assert {"runs.parquet", "final.csv", "summary.csv"} <= set(manifest["files"])
    assert manifest["started"] <= manifest["finished"]
    assert "git" in manifest and "requirements_lock_sha256" in manifest


def test_workers_1_and_2_give_identical_data(reference, tmp_path):
    result = run_sweep(experiment_from_dict(spec()), tmp_path / "w2", workers=2, progress=False)
    assert result.exit_code == 0
    assert_same_data(reference, tmp_path / "w2")


def test_interrupt_then_resume_equals_uninterrupted(reference, tmp_path):
    """Ctrl-C (KeyboardInterrupt) after two tasks keeps them; --resume finishes with the same data."""

    class Interrupting(InlineExecutor):
        calls = 0

        def submit(self, fn, /, *args, **kwargs):
            Interrupting.calls += 1
            if Interrupting.calls == 3:
                raise KeyboardInterrupt
            return super().submit(fn, *args, **kwargs)

    out = tmp_path / "out"
    exp = experiment_from_dict(spec())
    first = run_sweep(exp, out, workers=6, executor=Interrupting(), progress=False)
    assert first.interrupted and first.exit_code == 130
    assert 0 < first.done < 12 and not (out / "runs.parquet").exists()
    second = run_sweep(exp, out, workers=1, resume=True, progress=False)
    assert second.exit_code == 0 and second.resumed == first.done
    assert_same_data(reference, out)


def test_crash_during_outputs_then_resume(reference, tmp_path, monkeypatch):
    """Killed after runs.parquet but before the manifest: --resume rebuilds the outputs."""
    out = tmp_path / "out"
    exp = experiment_from_dict(spec())

    def crash(*args, **kwargs):
        raise SystemExit("killed")

    with monkeypatch.context() as patch:
        patch.setattr(finalize, "write_summary", crash)
        with pytest.raises(SystemExit):
            run_sweep(exp, out, workers=1, progress=False)
    assert (out / "runs.parquet").exists() and not (out / "manifest.json").exists()
    result = run_sweep(exp, out, workers=1, resume=True, progress=False)
    assert result.exit_code == 0 and result.resumed == 12
    assert_same_data(reference, out)


def test_resume_of_complete_sweep_does_nothing(reference, tmp_path):
    import shutil

    out = tmp_path / "copy"
    shutil.copytree(reference, out)
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    result = run_sweep(experiment_from_dict(spec()), out, resume=True, progress=False)
    assert result.exit_code == 0 and result.done == 12
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before


def test_existing_folder_needs_resume(reference, tmp_path, capsys):
    path = write_toml(tmp_path / "t.toml", spec())
    before = sorted(p.name for p in reference.iterdir())
    assert main(["sweep", str(path), "--out", str(reference)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chipstack: error:") and "--resume" in err and err.count("\n") == 1
    assert sorted(p.name for p in reference.iterdir()) == before


def test_resume_with_other_experiment_is_refused(reference, tmp_path, capsys):
    path = write_toml(tmp_path / "t.toml", spec(replications=3))
    assert main(["sweep", str(path), "--out", str(reference), "--resume"]) == 2
    assert "different experiment" in capsys.readouterr().err


def _sweep_args(path: Path, out: Path, workers: int | None = None, resume: bool = False):
    return types.SimpleNamespace(experiment=str(path), out=str(out), workers=workers, scheduler=None,
                                 resume=resume)


@pytest.mark.slow  # over ~4 s (make test-fast leaves it to make test)
def test_failing_runs_are_recorded_and_the_rest_saved(tmp_path, capsys):
    # a failing subclass passed to the runner (through the sweep command): the runs with
    # export_regime = "open" fail inside step 2, on a process pool of 2 workers
    data = spec(export_regime=["ban", "open"], china_import_policy=["open", "restrict"])
    path = write_toml(tmp_path / "fail.toml", data)
    out = tmp_path / "out"
    assert cmd_sweep(_sweep_args(path, out, workers=2), model_cls=FailingModel) == 1
    captured = capsys.readouterr()
    assert "4 of 8 runs failed" in captured.err
    failures = pd.read_csv(out / "failures.csv")
    assert len(failures) == 4 and (failures["export_regime"] == FAILING_REGIME).all()
    assert {"run_id", "replication", "seed", "export_regime", "error", "traceback"} <= set(failures.columns)
    assert failures["traceback"].str.contains(MESSAGE).all()
    runs = pd.read_parquet(out / "runs.parquet")
    assert runs["run_id"].nunique() == 4 and (runs["export_regime"] == "ban").all()
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"] == {"total": 8, "done": 4, "failed": 4}
    assert sorted(manifest["failed_run_ids"]) == sorted(failures["run_id"])
    assert "fail_at_step" not in manifest["fixed"] and "fail_at_step" not in json.dumps(manifest)
    summary = pd.read_csv(out / "summary.csv")
    assert summary.groupby("export_regime")["n_runs"].sum().to_dict() == {"ban": 4, "open": 0}
    # --resume retries only the failed runs (which fail again) and keeps the rest
    assert cmd_sweep(_sweep_args(path, out, resume=True), model_cls=FailingModel) == 1
    assert pd.read_parquet(out / "runs.parquet").equals(runs)
    # the same folder resumed with the working model class: the failed runs now succeed
    assert cmd_sweep(_sweep_args(path, out, resume=True)) == 0
    assert pd.read_parquet(out / "runs.parquet")["run_id"].nunique() == 8
    assert not (out / "failures.csv").exists()


def test_model_class_reaches_inline_and_pool_workers(tmp_path):
    exp = experiment_from_dict(spec(export_regime=["ban", "open"], china_import_policy=["open"]))
    for workers in (1, 2):
        result = run_sweep(exp, tmp_path / f"w{workers}", workers=workers, progress=False,
                           model_cls=FailingModel)
        assert (result.done, result.failed) == (2, 2), workers


def test_sampled_design_outputs(tmp_path):
    data = {"experiment": {"name": "s", "steps": 3, "replications": 2, "seed": 4},
            "parameters": {"n_developers": 10},
            "sample": {"method": "sobol", "n": 2,
                       "ranges": {"lockin_weight": [0.0, 4.0], "risk_horizon_quarters": [4, 16]}}}
    out = tmp_path / "s"
    result = run_sweep(experiment_from_dict(data), out, workers=1, progress=False)
    assert result.exit_code == 0 and result.total == 2 * 4 * 2
    runs = pd.read_parquet(out / "runs.parquet")
    assert list(runs.columns[:6]) == ["run_id", "replication", "seed", "sample_index", "lockin_weight",
                                      "risk_horizon_quarters"]
    assert str(runs["risk_horizon_quarters"].dtype) == "int64"
    summary = pd.read_csv(out / "summary.csv")
    assert summary["sample_index"].tolist() == list(range(8))
    sample = json.loads((out / "manifest.json").read_text())["design"]["sample"]
    assert sample["method"] == "sobol" and sample["calc_second_order"] is False
    assert sample["salib_problem"]["names"] == ["lockin_weight", "risk_horizon_quarters"]
    assert list(sample["ranges"]) == ["lockin_weight", "risk_horizon_quarters"]


def test_quick_experiment_on_command_line(tmp_path, capsys):
    out = tmp_path / "quick"
    assert main(["sweep", "quick", "--out", str(out), "--workers", "2"]) == 0
    text = capsys.readouterr().out
    assert "export_regime \\ china_import_policy" in text and "lagged" in text
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["failed"] == 0
    assert manifest["experiment"]["name"] == "quick"


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_sigkill_then_resume_equals_uninterrupted(tmp_path):
    """A real `chipstack sweep` killed with SIGKILL mid-way, then --resume: the same data."""
    data = spec(name="kill", replications=60, steps=20)  # 360 runs, a few seconds: killed mid-way
    data["parameters"]["n_developers"] = 150
    path = write_toml(tmp_path / "kill.toml", data)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "model.cli", "sweep", str(path), "--out", str(out), "--workers", "2"]
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list((out / ".parts").glob("part-*.parquet"))) < 2:
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = len(list((out / ".parts").glob("part-*.parquet")))
    assert saved >= 2 and not (out / "manifest.json").exists()
    # `chipstack sweep ... --resume` without the figures (the command itself is tested elsewhere)
    resumed = run_sweep(load_experiment(path), out, workers=2, resume=True, progress=False)
    assert resumed.exit_code == 0 and resumed.resumed >= 2
    reference = tmp_path / "reference"
    run_sweep(experiment_from_dict(data), reference, workers=1, progress=False)
    assert_same_data(reference, out)


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_sigint_stops_cleanly(tmp_path):
    data = spec(name="int", replications=300, steps=20)  # ~10 s of work: Ctrl-C lands mid-sweep
    data["parameters"]["n_developers"] = 200
    path = write_toml(tmp_path / "int.toml", data)
    out = tmp_path / "int"
    command = [sys.executable, "-m", "model.cli", "sweep", str(path), "--out", str(out), "--workers", "2"]
    # restore the default SIGINT disposition in the child: pytest-xdist workers ignore SIGINT, and an
    # ignored signal stays ignored across exec (Python then installs no KeyboardInterrupt handler)
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not list((out / ".parts").glob("part-*.parquet")):
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "--resume" in err and "Traceback" not in err
    assert list((out / ".parts").glob("part-*.parquet"))


def test_order_independent_run_ids(tmp_path):
    a = build_design(experiment_from_dict(spec(export_regime=["ban", "open"], export_lag_months=[6, 18])))
    b = build_design(experiment_from_dict(spec(export_lag_months=[18, 6], export_regime=["open", "ban"])))
    key = lambda run: (run.run_id, run.seed, tuple(sorted(run.values.items())), run.replication)  # noqa: E731
    assert sorted(map(key, a.runs)) == sorted(map(key, b.runs))


def test_batch_run_returns_every_reporter():
    results = mesa.batch_run(ChipMarketModel,
                             parameters={"n_developers": 20, "export_regime": ["ban", "open"]},
                             rng=[1, 2], max_steps=3, number_processes=1, display_progress=False)
    assert len(results) == 4
    for row in results:
        assert set(MODEL_REPORTERS) <= set(row)
        assert row["Step"] == 3


def test_make_executor_bad_scheduler_is_usage_error():
    from model.sweep.errors import UsageError

    with pytest.raises(UsageError, match="--scheduler"):
        runner.make_executor(2, "udp://nowhere")


def test_load_shipped_and_partition_tasks():
    exp = load_experiment("export_regimes")
    design = build_design(exp)
    assert len({r.run_id for r in design.runs}) == len(design.runs)
    assert 1 <= runner.runs_per_task(exp, len(design.runs), 2) <= runner.MAX_RUNS_PER_TASK


def test_parts_are_in_run_id_order_and_never_overlap(tmp_path):
    exp = experiment_from_dict(spec(replications=5))
    out = tmp_path / "p"
    sweep = runner._Sweep(exp, build_design(exp), out, workers=2, progress=False)
    sweep.prepare(fresh=True)
    tasks = list(sweep.tasks(sorted(sweep.design.runs, key=lambda r: r.run_id)))
    ids = [run.run_id for task in tasks for run in task.runs]
    assert ids == sorted(ids) and len(ids) == 30
    assert pq is not None


# ---------------------------------------------------------------------------------------------
# Precision target: replications added in rounds
def precision_spec() -> dict:
    data = spec(name="prec", replications=3, steps=12,
                export_regime=["ban", "lagged"], china_import_policy=["open"])
    data["experiment"] |= {"target_half_width": 0.05, "max_replications": 40}
    # realized US reversals (the default before issue 32): the spread that makes some point need more runs
    data["parameters"]["realize_reversals"] = True
    return data


@pytest.fixture(scope="module")
def precision_reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("prec") / "out"
    result = run_sweep(experiment_from_dict(precision_spec()), out, workers=1, progress=False)
    assert result.exit_code == 0
    return out


def test_precision_target_is_reached(precision_reference):
    summary = pd.read_csv(precision_reference / "summary.csv")
    half = (summary["us_stack_share_ci_high"] - summary["us_stack_share_ci_low"]) / 2
    assert ((half <= 0.05) | (summary["n_runs"] == 40)).all()
    assert summary["n_runs"].min() >= 3 and summary["n_runs"].max() > 3  # some point needed more
    manifest = json.loads((precision_reference / "manifest.json").read_text())
    assert manifest["rounds"] >= 2 and manifest["counts"]["total"] == summary["n_runs"].sum()
    runs = pd.read_parquet(precision_reference / "runs.parquet")
    assert runs["run_id"].nunique() == summary["n_runs"].sum()
    # the replications of each point are 0..n-1
    reps = runs.groupby(["export_regime", "run_id"])["replication"].first().groupby(level=0)
    assert all(sorted(g) == list(range(len(g))) for _, g in reps)


def test_precision_target_same_data_with_2_workers_and_after_interrupt(precision_reference, tmp_path):
    exp = experiment_from_dict(precision_spec())
    run_sweep(exp, tmp_path / "w2", workers=2, progress=False)
    assert_same_data(precision_reference, tmp_path / "w2")

    class Interrupting(InlineExecutor):
        calls = 0

        def submit(self, fn, /, *args, **kwargs):
            Interrupting.calls += 1
            if Interrupting.calls == 4:  # in the second round
                raise KeyboardInterrupt
            return super().submit(fn, *args, **kwargs)

    out = tmp_path / "int"
    assert run_sweep(exp, out, workers=1, executor=Interrupting(), progress=False).interrupted
    assert run_sweep(exp, out, workers=1, resume=True, progress=False).exit_code == 0
    assert_same_data(precision_reference, out)
