"""Dask backend: identical data to the process pool, worker failure tolerance, bad addresses."""

import os
import signal
import subprocess
import sys
import threading
import time

import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

from model.sweep.runner import run_sweep  # noqa: E402

EXPERIMENT = """
[experiment]
name = "dask-test"
description = "Dask backend test"
steps = {steps}
replications = {reps}
seed = 99

[parameters]
n_developers = {n}

[grid]
export_regime = ["h20", "lagged", "open"]
china_import_policy = ["open", "restrict"]
"""


def write_experiment(tmp_path, steps=6, reps=2, n=60):
    path = tmp_path / "exp.toml"
    path.write_text(EXPERIMENT.format(steps=steps, reps=reps, n=n))
    return path


def runs(folder):
    return pd.read_parquet(folder / "runs.parquet")


@pytest.fixture
def local_cluster():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       host="127.0.0.1", dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.slow
def test_local_cluster_gives_the_process_pool_data(tmp_path, local_cluster):
    exp = write_experiment(tmp_path)
    run_sweep(exp, tmp_path / "pool", workers=1, progress=False)
    result = run_sweep(exp, tmp_path / "dask", executor=_executor(local_cluster), progress=False)
    assert result.exit_code == 0
    pd.testing.assert_frame_equal(runs(tmp_path / "pool"), runs(tmp_path / "dask"))


def _executor(client):
    return client.get_executor(pure=False)


@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_and_duplicates_nothing(tmp_path, local_cluster):
    exp = write_experiment(tmp_path, steps=20, reps=10, n=1500)
    out = tmp_path / "dask"
    killed = []

    def kill_one_worker_when_work_is_under_way():
        deadline = time.time() + 60
        while time.time() < deadline:
            parts = out / ".parts"
            if parts.is_dir() and len(list(parts.glob("*.parquet"))) >= 1:
                pids = local_cluster.run(os.getpid)
                victim = sorted(pids.values())[0]
                os.kill(victim, signal.SIGKILL)
                killed.append(victim)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_one_worker_when_work_is_under_way, daemon=True)
    killer.start()
    result = run_sweep(exp, out, executor=_executor(local_cluster), progress=False)
    killer.join(timeout=5)
    assert killed, "the sweep finished before a worker could be killed"
    assert result.exit_code == 0 and result.failed == 0
    run_sweep(exp, tmp_path / "pool", workers=1, progress=False)
    got, want = runs(out), runs(tmp_path / "pool")
    assert not got.duplicated(["run_id", "step"]).any()
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_scheduler_local_through_the_cli(tmp_path):
    exp = write_experiment(tmp_path, steps=4, reps=1, n=30)
    proc = subprocess.run([sys.executable, "-m", "model.cli", "sweep", str(exp), "--scheduler", "local",
                           "--workers", "2", "--out", str(tmp_path / "o")], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    pool = tmp_path / "p"
    run_sweep(exp, pool, workers=1, progress=False)
    pd.testing.assert_frame_equal(runs(tmp_path / "o"), runs(pool))


@pytest.mark.parametrize("address", [pytest.param("tcp://127.0.0.1:1", marks=pytest.mark.slow), "udp://nowhere",
                                     pytest.param("somewhere:8786", marks=pytest.mark.slow)])
def test_bad_scheduler_address_is_one_line_exit_2_in_bounded_time(tmp_path, address):
    exp = write_experiment(tmp_path, steps=2, reps=1, n=10)
    t0 = time.time()
    proc = subprocess.run([sys.executable, "-m", "model.cli", "sweep", str(exp), "--scheduler", address,
                           "--out", str(tmp_path / "o")], capture_output=True, text=True, timeout=120)
    assert time.time() - t0 < 60
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chipstack: error:"), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_model_class_reaches_dask_workers(tmp_path, local_cluster):
    """The runner's model class travels with each task to Dask worker processes (spawned, so the
    class is pickled by reference and imported there): a failing subclass fails the same runs as
    inline, and only those."""
    from failing_model import FAILING_REGIME, FailingModel

    exp = write_experiment(tmp_path)
    inline = run_sweep(exp, tmp_path / "inline", workers=1, progress=False, model_cls=FailingModel)
    result = run_sweep(exp, tmp_path / "dask", executor=_executor(local_cluster), progress=False,
                       model_cls=FailingModel)
    assert result.failed == inline.failed > 0 and result.done == inline.done > 0
    failures = pd.read_csv(tmp_path / "dask" / "failures.csv")
    assert (failures["export_regime"] == FAILING_REGIME).all()
    pd.testing.assert_frame_equal(runs(tmp_path / "inline"), runs(tmp_path / "dask"))
