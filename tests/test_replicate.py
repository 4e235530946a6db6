"""`chipstack replicate`: re-running a sweep from its manifest, number for number."""

import json
import os
import subprocess
import sys

import pandas as pd
import pytest

from model.core.paths import REFERENCE_SWEEP, REPO_ROOT
from model.sweep.replicate import replicate, report_text
from model.sweep.runner import run_sweep

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
    result = run_sweep(exp, out, workers=1, progress=False)
    assert result.exit_code == 0
    return out


def cli(*args):
    return subprocess.run([sys.executable, "-m", "model.cli", *args], capture_output=True, text=True,
                          timeout=300)


def test_untouched_sweep_replicates_exactly(sweep):
    proc = cli("replicate", str(sweep / "manifest.json"), "--workers", "1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == "replicated: 4 runs, all values identical"


@pytest.mark.slow  # over ~2.5 s: make test runs it, make test-fast does not
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
# uses both cores: not beside the browser tests (make test: --dist loadgroup)
@pytest.mark.xdist_group("machine")
def test_the_shipped_reference_results_replicate(root):
    """outputs/export_regimes/ is committed: a model change that alters any number must come with
    regenerated reference results (`chipstack sweep export_regimes`)."""
    manifest = REFERENCE_SWEEP / "manifest.json"
    r = replicate(manifest, workers=2, progress=False)
    assert r.identical, report_text(r, manifest)
    assert r.runs == len(pd.read_parquet(manifest.parent / "runs.parquet",
                                         columns=["run_id"])["run_id"].unique())


def _perturb_and_rehash(sweep, rel: float) -> tuple[str, int]:
    """Change one saved value by a relative ``rel`` and record the new file hash in the manifest,
    as if the sweep had been made on a platform whose arithmetic differs in the last bits."""
    from model.sweep.io import sha256_file

    df = pd.read_parquet(sweep / "runs.parquet")
    row = 5
    df.at[row, "us_stack_share"] *= 1 + rel
    df.to_parquet(sweep / "runs.parquet", index=False)
    manifest = json.loads((sweep / "manifest.json").read_text())
    manifest["files"]["runs.parquet"] = sha256_file(sweep / "runs.parquet")
    (sweep / "manifest.json").write_text(json.dumps(manifest))
    return df.at[row, "run_id"], int(df.at[row, "step"])


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_tolerance_accepts_last_bit_differences_and_says_so(sweep):
    _perturb_and_rehash(sweep, 1e-13)
    exact = cli("replicate", str(sweep / "manifest.json"), "--workers", "1")
    assert exact.returncode == 1 and "NOT replicated" in exact.stdout
    tolerant = cli("replicate", str(sweep / "manifest.json"), "--workers", "1", "--rtol", "1e-9")
    assert tolerant.returncode == 0, tolerant.stdout + tolerant.stderr
    last = tolerant.stdout.strip().splitlines()[-1]
    assert last.startswith("replicated within rtol=1e-09: 4 runs; max relative difference ")
    assert 0.5e-13 < float(last.split("max relative difference ")[1].split(";")[0]) < 2e-13
    assert last.endswith("; 1 values not bit-identical")


def test_tolerance_still_fails_beyond_it_with_the_table(sweep):
    run_id, step = _perturb_and_rehash(sweep, 1e-6)
    r = replicate(sweep / "manifest.json", workers=1, progress=False, rtol=1e-9)
    assert not r.identical
    assert list(r.differences[["run_id", "step", "column"]].itertuples(index=False, name=None)) == [
        (run_id, step, "us_stack_share")]
    text = report_text(r, sweep / "manifest.json")
    assert text.startswith("NOT replicated within rtol=1e-09") and run_id in text


@pytest.mark.parametrize("flag,value", [("--rtol", "-1"), ("--atol", "nan"), ("--rtol", "abc")])
def test_bad_tolerance_is_a_usage_error(sweep, flag, value):
    proc = cli("replicate", str(sweep / "manifest.json"), flag, value)
    assert proc.returncode == 2 and proc.stderr.startswith("chipstack: error:") and flag in proc.stderr


def test_manifest_records_the_platform_and_a_platform_change_is_a_warning(sweep):
    manifest = json.loads((sweep / "manifest.json").read_text())
    platform = manifest["platform"]
    assert platform["machine"] and "blas" in platform and "numpy_simd_dispatch" in platform
    assert manifest["git"] is None or "model_commit" in manifest["git"]
    platform["blas"] = {"internal_api": "openblas", "version": "0.0", "architecture": "Prescott"}
    (sweep / "manifest.json").write_text(json.dumps(manifest))
    proc = cli("replicate", str(sweep / "manifest.json"), "--workers", "1")
    assert proc.returncode == 0
    assert "chipstack: warning: platform blas" in proc.stderr and "Prescott" in proc.stderr


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_the_manifest_records_numpys_blas_whichever_library_is_listed_first():
    """scipy ships its own OpenBLAS; the manifest names numpy's. threadpoolctl lists the two in an
    order that follows Python's string hashing, so it changes from process to process: without a
    fixed choice, the manifest names either and replicate, in another process of the same install,
    warns about a BLAS change. Run under several hash seeds: the record is always numpy's."""
    code = ("import json, model.cli; from threadpoolctl import threadpool_info; "
            "from model.sweep.provenance import platform_info; "
            "mine = [i for i in threadpool_info() if '/numpy.libs/' in (i.get('filepath') or '')]; "
            "print(json.dumps([platform_info()['blas'], "
            "{k: mine[0].get(k) for k in ('internal_api', 'version', 'architecture')} if mine else None]))")
    root = REPO_ROOT
    for hash_seed in range(6):
        out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True,
                             check=True, env={**os.environ, "PYTHONHASHSEED": str(hash_seed)})
        recorded, numpys = json.loads(out.stdout)
        if numpys is None:
            pytest.skip("numpy here has no bundled BLAS in numpy.libs/")
        assert recorded == numpys, f"PYTHONHASHSEED={hash_seed}"
