"""`chipstack replicate`: re-running a sweep from its manifest, number for number."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from model.replicate import replicate, report_text
from model.runner import run_sweep

EXPERIMENT = """
[experiment]
name = "rep"
description = "replication test"
steps = 5
replications = 2
seed = 7

[parameters]
n_developers = 40

[grid]
export_regime = ["lagged", "open"]
"""


@pytest.fixture
def sweep(tmp_path):
    exp = tmp_path / "rep.toml"
    exp.write_text(EXPERIMENT)
    out = tmp_path / "out"
    result = run_sweep(exp, out, workers=1, progress=False, report=False)
    assert result.exit_code == 0
    return out


def cli(*args):
    return subprocess.run([sys.executable, "-m", "model.cli", *args], capture_output=True, text=True, timeout=300)


def test_untouched_sweep_replicates_exactly(sweep):
    proc = cli("replicate", str(sweep / "manifest.json"), "--workers", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "replicated: 4 runs, all values identical"


def test_one_altered_value_is_found_by_run_and_column(sweep):
    df = pd.read_parquet(sweep / "runs.parquet")
    row = 7
    run_id, step = df.at[row, "run_id"], int(df.at[row, "step"])
    df.at[row, "china_compute_h100e"] *= 1 + 1e-12
    df.to_parquet(sweep / "runs.parquet", index=False)
    r = replicate(sweep / "manifest.json", workers=1, progress=False)
    assert not r.identical
    assert ("runs.parquet", "sha256 differs from the manifest: altered after the sweep") in r.altered_files
    assert len(r.differences) == 1
    diff = r.differences.iloc[0]
    assert (diff["run_id"], diff["step"], diff["column"]) == (run_id, step, "china_compute_h100e")
    text = report_text(r, sweep / "manifest.json")
    assert run_id in text and "china_compute_h100e" in text
    assert cli("replicate", str(sweep / "manifest.json"), "--workers", "1").returncode == 1


def test_manifest_hash_mismatch_fails_even_when_data_agree(sweep):
    manifest = json.loads((sweep / "manifest.json").read_text())
    manifest["files"]["final.csv"] = "0" * 64
    (sweep / "manifest.json").write_text(json.dumps(manifest))
    r = replicate(sweep / "manifest.json", workers=1, progress=False)
    assert not r.identical
    assert [name for name, _ in r.altered_files] == ["final.csv"]
    assert r.differences.empty  # the numbers themselves replicate


def test_environment_differences_are_warnings(sweep):
    manifest = json.loads((sweep / "manifest.json").read_text())
    manifest["versions"]["numpy"] = "0.0.1"
    (sweep / "manifest.json").write_text(json.dumps(manifest))
    proc = cli("replicate", str(sweep / "manifest.json"), "--workers", "1")
    assert proc.returncode == 0
    assert "chipstack: warning: numpy 0.0.1 in the manifest" in proc.stderr


@pytest.mark.parametrize("content", [None, "not json", '{"a": 1}'])
def test_bad_manifest_is_a_usage_error(tmp_path, content):
    path = tmp_path / "manifest.json"
    if content is not None:
        path.write_text(content)
    proc = cli("replicate", str(path))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chipstack: error:") and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_the_shipped_reference_results_replicate(root):
    """outputs/export_regimes/ is committed: a model change that alters any number must come with
    regenerated reference results (`chipstack sweep export_regimes`)."""
    manifest = root / "outputs" / "export_regimes" / "manifest.json"
    r = replicate(manifest, workers=2, progress=False)
    assert r.identical, report_text(r, manifest)
    assert r.runs == len(pd.read_parquet(manifest.parent / "runs.parquet", columns=["run_id"])["run_id"].unique())
