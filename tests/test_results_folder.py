"""A results folder you can trust (issue 15; README "What chipstack guarantees about a results folder"):
verified resume, the folder lock, nothing written outside the folder, no hangs, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from model.cli import main
from model.core.paths import REPO_ROOT as ROOT
from model.sweep.errors import UsageError, one_line
from model.sweep.executors import InlineExecutor
from model.sweep.experiment import experiment_from_dict
from model.sweep.io import sha256_file
from model.sweep.runner import run_sweep
from model.sweep.store import PARTS_DIR, folder_lock, part_record
from sweep_files import assert_same_data, write_toml

STEPS = 4


def spec(name: str = "trust") -> dict:
    return {"experiment": {"name": name, "description": "test", "steps": STEPS, "replications": 2,
                           "seed": 11},
            "parameters": {"n_developers": 20},
            "grid": {"export_regime": ["ban", "lagged", "open"], "china_import_policy": ["open", "restrict"]}}


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("chipstack: error:") and "Traceback" not in stderr
    return lines[0]


def cli(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "model.cli", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=cwd)


class Proc:
    """What ``main`` returned and printed, shaped like a finished subprocess."""

    def __init__(self, returncode: int, stdout: str, stderr: str):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


@pytest.fixture
def chipstack(capsys):
    """``chipstack ARGS`` in this process (no interpreter start-up): returns a :class:`Proc`."""

    def run(*args) -> Proc:
        capsys.readouterr()
        code = main(list(args))
        out, err = capsys.readouterr()
        return Proc(code, out, err)

    return run


class StopAfter(InlineExecutor):
    """Runs ``n`` tasks, then acts as if Ctrl-C was pressed: the sweep keeps what is saved."""

    def __init__(self, n: int):
        self.n = n

    def submit(self, fn, /, *args, **kwargs):
        if self.n == 0:
            raise KeyboardInterrupt
        self.n -= 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("ref") / "out"
    assert run_sweep(experiment_from_dict(spec()), out, workers=1, progress=False).exit_code == 0
    return out


@pytest.fixture
def partial(tmp_path) -> Path:
    """A sweep interrupted after three of its six tasks: three part files saved."""
    out = tmp_path / "out"
    result = run_sweep(experiment_from_dict(spec()), out, workers=1, progress=False, executor=StopAfter(3))
    assert result.interrupted and 0 < result.done < result.total
    return out


@pytest.fixture
def complete(tmp_path, reference) -> Path:
    out = tmp_path / "done"
    shutil.copytree(reference, out)
    return out


def parts(out: Path) -> list[Path]:
    return sorted((out / PARTS_DIR).glob("part-*.parquet"))


def resume(out: Path):
    return run_sweep(experiment_from_dict(spec()), out, workers=1, resume=True, progress=False)


# ---------------------------------------------------------------------------------------------
# 1. Verified resume: each corruption of a saved run is found and the run is run again
def _keep_first_half_of_steps(path: Path) -> None:
    table = pq.read_table(path)
    pq.write_table(table.filter(pq.read_table(path, columns=["step"])["step"].to_numpy() < STEPS // 2), path)


def _duplicate_rows(path: Path) -> None:
    import pyarrow as pa

    table = pq.read_table(path)
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), path)


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _rewrite_and_rehash(path: Path) -> None:
    """Lost rows, and the part's record edited to match: the row count check still finds it."""
    _keep_first_half_of_steps(path)
    record = json.loads(part_record(path).read_text())
    record["sha256"] = sha256_file(path)
    record["rows"] = pq.read_metadata(path).num_rows
    part_record(path).write_text(json.dumps(record))


def _drop_record(path: Path) -> None:
    part_record(path).unlink()


@pytest.mark.parametrize("damage", [_keep_first_half_of_steps, _duplicate_rows, _truncate,
                                    _rewrite_and_rehash, _drop_record])
def test_resume_reruns_a_damaged_part_and_ends_with_identical_data(partial, reference, damage):
    victim = parts(partial)[0]
    damage(victim)
    result = resume(partial)
    assert result.exit_code == 0
    assert result.resumed < 12 and result.done == 12
    assert_same_data(partial, reference)
    assert any(note.startswith(f"{str(victim)!r}: ") and "its runs are run again" in note
               for note in result.warnings)  # the command line prints them as "chipstack: warning: ..."
    assert not (partial / PARTS_DIR).exists()


@pytest.mark.slow  # a sweep through a subprocess with broken stdio: make test, not make test-fast
def test_resume_of_a_truncated_part_through_the_command_line(partial, reference, tmp_path):
    _truncate(parts(partial)[0])
    exp = write_toml(tmp_path / "trust.toml", spec())
    proc = cli("sweep", str(exp), "--out", str(partial), "--resume", "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "ArrowInvalid" not in proc.stderr
    assert_same_data(partial, reference)


def test_resume_of_a_complete_folder_with_a_truncated_runs_parquet_is_refused(complete, tmp_path):
    _truncate(complete / "runs.parquet")
    with pytest.raises(UsageError, match=r"runs.parquet: sha256 differs from the manifest"):
        resume(complete)
    exp = write_toml(tmp_path / "trust.toml", spec())
    proc = cli("sweep", str(exp), "--out", str(complete), "--resume", "--workers", "1")
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert "delete" in line and "runs.parquet" in line and "--resume" in line


def test_following_the_advice_reruns_the_sweep(complete, reference):
    _truncate(complete / "runs.parquet")
    with pytest.raises(UsageError):
        resume(complete)
    (complete / "runs.parquet").unlink()
    assert resume(complete).exit_code == 0
    assert_same_data(complete, reference)


@pytest.mark.parametrize("edit", [
    lambda m: m.update(root_seed=m["root_seed"] + 1),
    lambda m: m["runs"][3].update(seed=m["runs"][3]["seed"] + 1),
    lambda m: m["counts"].update(total=m["counts"]["total"] + 1, done=m["counts"]["done"] + 1),
    lambda m: m["files"].update({"summary.csv": "0" * 64}),
    lambda m: m["files"].pop("final.csv"),
], ids=["root_seed", "run_seed", "counts", "file_hash", "file_dropped"])
def test_resume_of_a_complete_folder_with_a_hand_edited_manifest_is_refused(complete, edit):
    manifest = json.loads((complete / "manifest.json").read_text())
    edit(manifest)
    (complete / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match="does not match its manifest.json"):
        resume(complete)


def test_resume_of_an_intact_complete_folder_still_says_done(complete):
    result = resume(complete)
    assert (result.exit_code, result.done, result.total) == (0, 12, 12)


def test_resume_removes_leftover_temporary_files(complete):
    leftovers = [complete / ".runs.parquet.k2j3h4g5.tmp", complete / ".final.csv.abcdefgh.tmp",
                 complete / "figures" / ".tradeoff.png.x1y2z3w4.tmp"]
    (complete / "figures").mkdir(exist_ok=True)
    for path in leftovers:
        path.write_bytes(b"half-written")
    (complete / PARTS_DIR).mkdir()
    (complete / PARTS_DIR / "part-0-1.parquet").write_bytes(b"stale part")  # killed after the manifest
    result = resume(complete)
    assert result.exit_code == 0
    assert not any(p.exists() for p in leftovers)
    assert not (complete / PARTS_DIR).exists()
    assert any("left by an interrupted write" in note for note in result.warnings)


def test_resume_of_a_partial_folder_removes_leftover_temporary_files(partial, reference):
    stale = [partial / ".runs.parquet.k2j3h4g5.tmp", partial / PARTS_DIR / ".part-a-b.parquet.q1w2e3r4.tmp"]
    for path in stale:
        path.write_bytes(b"half-written")
    assert resume(partial).exit_code == 0
    assert not any(p.exists() for p in stale)
    assert_same_data(partial, reference)


# ---------------------------------------------------------------------------------------------
# 2. The lock
def test_a_second_process_on_a_locked_folder_fails_at_once(partial, tmp_path):
    exp = write_toml(tmp_path / "trust.toml", spec())
    before = sorted(p.name for p in (partial / PARTS_DIR).iterdir())
    with folder_lock(partial):
        proc = cli("sweep", str(exp), "--out", str(partial), "--resume", "--workers", "1", timeout=60)
    assert proc.returncode == 2
    assert "in use by another chipstack process" in one_error_line(proc.stderr)
    assert sorted(p.name for p in (partial / PARTS_DIR).iterdir()) == before


def test_replicate_and_report_wait_for_no_one_but_fail_on_a_locked_folder(complete, chipstack):
    with folder_lock(complete):
        for args in (("replicate", str(complete / "manifest.json"), "--workers", "1"),
                     ("report", str(complete))):
            proc = chipstack(*args)
            assert proc.returncode == 2, proc.stderr
            assert "in use by another chipstack process" in one_error_line(proc.stderr)


def test_the_lock_leaves_no_file_and_is_released(complete):
    before = sorted(p.name for p in complete.iterdir())
    with folder_lock(complete):
        with pytest.raises(UsageError, match="in use"):
            with folder_lock(complete, shared=True):
                pass
    with folder_lock(complete, shared=True), folder_lock(complete, shared=True):
        pass  # readers share
    assert sorted(p.name for p in complete.iterdir()) == before


# ---------------------------------------------------------------------------------------------
# 4. Safe messages
def test_one_line_escapes_control_characters():
    assert (one_line("a\nchipstack: error: forged\x1b[31m\u202e")
            == "a\\nchipstack: error: forged\\x1b[31m\\u202e")


# ---------------------------------------------------------------------------------------------
# 3. Nothing outside the folder
def _files_outside(top: Path, folder: Path) -> set[Path]:
    return {p for p in top.rglob("*") if p.is_file() and folder not in p.parents}


def _craft(folder: Path, name: str) -> None:
    """A parameter column ``name`` in final.csv, summary.csv and the manifest, the manifest's hashes
    updated to match (as anyone sharing the folder could)."""
    final = pd.read_csv(folder / "final.csv")
    final[name] = final["replication"].astype(float)
    final.to_csv(folder / "final.csv", index=False)
    summary = pd.read_csv(folder / "summary.csv")
    summary = pd.concat([summary, pd.Series([float(i % 2) for i in range(len(summary))], name=name)], axis=1)
    summary.to_csv(folder / "summary.csv", index=False)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["varying"].append(name)
    manifest["design"]["grid"][name] = [0.0, 1.0]
    for file in ("final.csv", "summary.csv"):
        manifest["files"][file] = sha256_file(folder / file)
    (folder / "manifest.json").write_text(json.dumps(manifest))


def test_report_of_a_crafted_folder_writes_nothing_outside_it(complete, tmp_path, chipstack):
    name = "x/../../../ESCAPED"  # figures/response_x/../../../ESCAPED.png is tmp_path/ESCAPED.png
    _craft(complete, name)
    before = _files_outside(tmp_path, complete)
    proc = chipstack("report", str(complete))
    assert proc.returncode == 0, proc.stderr
    assert _files_outside(tmp_path, complete) == before
    assert not list(tmp_path.rglob("*ESCAPED*"))
    assert "skipped (not a parameter name that can name a file)" in proc.stdout


def test_replicate_refuses_manifest_file_names_outside_the_folder(complete, tmp_path, chipstack):
    secret = tmp_path / "secret.txt"
    secret.write_text("not the sweep's")
    for name in (str(secret), "../secret.txt"):
        manifest = json.loads((complete / "manifest.json").read_text())
        manifest["files"][name] = sha256_file(secret)
        (complete / "manifest.json").write_text(json.dumps(manifest))
        proc = chipstack("replicate", str(complete / "manifest.json"), "--workers", "1")
        assert proc.returncode == 2
        assert "key files names" in one_error_line(proc.stderr)
        manifest["files"].pop(name)
        (complete / "manifest.json").write_text(json.dumps(manifest))


def test_replicate_refuses_files_that_are_not_a_table(complete, chipstack):
    manifest = json.loads((complete / "manifest.json").read_text())
    manifest["files"] = list(manifest["files"])
    (complete / "manifest.json").write_text(json.dumps(manifest))
    proc = chipstack("replicate", str(complete / "manifest.json"), "--workers", "1")
    assert proc.returncode == 2
    assert "key files is list" in one_error_line(proc.stderr)


@pytest.mark.slow  # over ~2.5 s: make test runs it, make test-fast does not
def test_a_symlinked_output_folder_is_not_followed(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    link = tmp_path / "outputs" / "trust"
    link.parent.mkdir()
    link.symlink_to(elsewhere)
    dangling = tmp_path / "outputs" / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    exp = write_toml(tmp_path / "trust.toml", spec())
    for out in (link, dangling):
        proc = cli("sweep", str(exp), "--out", str(out), "--workers", "1")
        assert proc.returncode == 2
        assert "is a symbolic link" in one_error_line(proc.stderr)
    assert list(elsewhere.iterdir()) == [] and not (tmp_path / "nowhere").exists()


def test_symlinks_inside_a_sweep_folder_are_not_followed(complete, tmp_path, chipstack):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(complete / "figures", ignore_errors=True)
    (complete / "figures").symlink_to(elsewhere)
    proc = chipstack("report", str(complete))
    assert proc.returncode == 2
    assert "is a symbolic link" in one_error_line(proc.stderr)
    assert list(elsewhere.iterdir()) == []


def test_report_of_a_nan_category_is_one_line(complete, chipstack):
    for file in ("final.csv", "summary.csv"):
        frame = pd.read_csv(complete / file)
        frame.loc[0, "export_regime"] = float("nan")
        frame.to_csv(complete / file, index=False)
    manifest = json.loads((complete / "manifest.json").read_text())
    for file in ("final.csv", "summary.csv"):
        manifest["files"][file] = sha256_file(complete / file)
    (complete / "manifest.json").write_text(json.dumps(manifest))
    proc = chipstack("report", str(complete))
    assert proc.returncode == 2
    assert "cannot draw the report from this folder" in one_error_line(proc.stderr)


def test_report_refuses_a_tampered_summary(complete, chipstack):
    summary = pd.read_csv(complete / "summary.csv")
    summary["us_stack_share_mean"] = 0.99
    summary.to_csv(complete / "summary.csv", index=False)
    proc = chipstack("report", str(complete))
    assert proc.returncode == 2
    assert "summary.csv" in one_error_line(proc.stderr) and "sha256 differs" in proc.stderr
    assert not (complete / "figures").exists()  # no figure redrawn from it


def test_report_of_figures_being_a_file_or_a_string_design_is_one_line(complete, chipstack):
    (complete / "figures").write_text("a file")
    proc = chipstack("report", str(complete))
    assert proc.returncode == 2 and "not a folder" in one_error_line(proc.stderr)
    (complete / "figures").unlink()
    manifest = json.loads((complete / "manifest.json").read_text())
    manifest["design"] = "grid"
    (complete / "manifest.json").write_text(json.dumps(manifest))
    proc = chipstack("report", str(complete))
    assert proc.returncode == 2 and "key design is str" in one_error_line(proc.stderr)


# ---------------------------------------------------------------------------------------------
# Replicate checks the seeds; a damaged runs.parquet is reported, not a traceback
@pytest.mark.parametrize("edit", [lambda m: m.update(root_seed=m["root_seed"] + 1),
                                  lambda m: m["runs"][0].update(seed=m["runs"][0]["seed"] + 1)],
                         ids=["root_seed", "run_seed"])
def test_replicate_finds_edited_seeds(complete, edit):
    from model.sweep.replicate import replicate, report_text

    manifest = json.loads((complete / "manifest.json").read_text())
    edit(manifest)
    (complete / "manifest.json").write_text(json.dumps(manifest))
    r = replicate(complete / "manifest.json", workers=1, progress=False)
    assert not r.identical and r.seed_differences
    assert "all values identical" not in report_text(r, complete / "manifest.json")
    assert r.differences.empty  # the data themselves replicate: only the manifest lies


def test_replicate_of_a_truncated_runs_parquet_is_not_a_traceback(complete):
    _truncate(complete / "runs.parquet")
    proc = cli("replicate", str(complete / "manifest.json"), "--workers", "1")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "NOT replicated" in proc.stdout and "runs.parquet" in proc.stdout


# ---------------------------------------------------------------------------------------------
# A precision target too tight to reach
def test_a_tiny_precision_target_goes_to_max_replications_and_says_it_missed(tmp_path):
    from model.sweep.summary import summary_text

    data = spec()
    data["grid"] = {"export_regime": ["lagged", "open"]}
    data["experiment"] |= {"target_half_width": 1e-12, "max_replications": 6}
    out = tmp_path / "tight"
    result = run_sweep(experiment_from_dict(data), out, workers=1, progress=False)
    assert result.exit_code == 0
    assert pd.read_csv(out / "summary.csv")["n_runs"].tolist() == [6, 6]
    assert "target not reached at 2 of 2 points" in summary_text(out)


# ---------------------------------------------------------------------------------------------
# 4./6. One line, exit 2, for every bad input; names escaped
def _toml(tmp_path, body: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('[experiment]\nname = "bad"\nsteps = 2\n' + body, encoding="utf-8")
    return path


BAD_TOML = {
    "int_5000_digits": "replications = " + "9" * 5000 + "\n",
    "parameters_400_digits": "[parameters]\nhuawei_capacity_2026 = " + "9" * 400 + "\n",
    "grid_400_digits": "[grid]\nhuawei_capacity_2026 = [1, " + "9" * 400 + "]\n",
    "ranges_400_digits": "[sample]\nmethod = \"lhs\"\nn = 2\n[sample.ranges]\nhuawei_capacity_2026 = [1, "
                         + "9" * 400 + "]\n",
    "nested_100000": "[grid]\nx = " + "[" * 100_000 + "]" * 100_000 + "\n",
    "key_with_newline": '[parameters]\n"a\\nchipstack: error: forged\\u001b[31m" = 1\n',
    "negative_zero": "[grid]\ndomestic_subsidy = [0.0, -0.0]\n",
}


@pytest.mark.parametrize("case", list(BAD_TOML))
def test_bad_experiment_files_give_one_escaped_line(tmp_path, case, capsys):
    path = _toml(tmp_path, BAD_TOML[case])
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    line = one_error_line(err)
    assert "\x1b" not in err
    assert not (tmp_path / "out").exists()
    if case == "key_with_newline":
        assert "\\n" in line and "\\x1b" in line


def test_a_grid_of_zero_and_negative_zero_is_a_repeated_value(capsys):
    data = spec()
    data["grid"] = {"domestic_subsidy": [0.0, -0.0]}
    with pytest.raises(UsageError, match="repeated value"):
        experiment_from_dict(data)


def test_400_digit_values_through_the_api_are_usage_errors():
    data = spec()
    data["parameters"] = {"huawei_capacity_2026": 10**400}
    with pytest.raises(UsageError, match="too large"):
        experiment_from_dict(data)


@pytest.mark.parametrize("args, expected", [
    (["run", "--seed", "-1"], "argument --seed: invalid value '-1'"),
    (["run", "--set", "n_developers=1\nx"], "--set 'n_developers=1\\nx'"),
    (["run", "--steps", "20000"], "argument --steps: invalid value '20000'"),
    (["sweep", "quick", "--scheduler", "tcp://127.0.0.1:abc"], "not a scheduler address"),
    (["sweep", "quick", "--out", "/proc/chipstack-x"], "cannot create the folder"),
])
def test_command_line_errors_are_one_line(args, expected, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    assert expected in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "outputs").exists()


def test_a_failing_run_is_one_line_pointing_to_debug(tmp_path, monkeypatch, capsys):
    from model.core.chip_market import ChipMarketModel

    def boom(self, steps):
        raise OverflowError("math range error")

    monkeypatch.setattr(ChipMarketModel, "run", boom)
    assert main(["run", "--out", str(tmp_path / "r"), "--set", "n_developers=10"]) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "OverflowError: math range error" in line and "--debug" in line
    assert not (tmp_path / "r").exists()
    with pytest.raises(OverflowError):
        main(["run", "--out", str(tmp_path / "r"), "--set", "n_developers=10", "--debug"])


def test_a_full_disk_is_one_line_and_resume_finishes(tmp_path, reference, monkeypatch, capsys):
    import errno

    from model.sweep import runner

    exp = write_toml(tmp_path / "trust.toml", spec())
    out = tmp_path / "out"
    real = runner.write_part
    calls = {"n": 0}

    def full(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 2:
            raise OSError(errno.ENOSPC, "No space left on device", str(out / PARTS_DIR / "part-x.parquet"))
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "write_part", full)
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err  # the progress bar, then the error
    line = err.strip().splitlines()[-1]
    assert line.startswith("chipstack: error:") and err.count("chipstack: error:") == 1
    assert "Traceback" not in err
    assert "No space left on device" in line and "--resume" in line
    monkeypatch.setattr(runner, "write_part", real)
    assert main(["sweep", str(exp), "--out", str(out), "--workers", "1", "--resume"]) == 0
    assert_same_data(out, reference)


def test_ui_on_every_interface_warns(capsys):
    from model.cli import _warn_if_not_loopback

    _warn_if_not_loopback("127.0.0.1", 8765)
    _warn_if_not_loopback("localhost", 8765)
    _warn_if_not_loopback("::1", 8765)
    assert capsys.readouterr().err == ""
    _warn_if_not_loopback("0.0.0.0", 8765)
    err = capsys.readouterr().err
    assert err.startswith("chipstack: warning: --host '0.0.0.0'") and "without a password" in err


@pytest.mark.slow  # a sweep through a subprocess with broken stdio: make test, not make test-fast
def test_a_closed_stderr_does_not_crash_the_progress_bar(tmp_path):
    exp = write_toml(tmp_path / "trust.toml", spec())
    proc = subprocess.run(f"{sys.executable} -m model.cli sweep {exp} --out {tmp_path / 'out'} "
                          "--workers 1 2>&-",
                          shell=True, capture_output=False, stdout=subprocess.PIPE, text=True, timeout=120,
                          cwd=ROOT)
    assert proc.returncode == 0
    assert (tmp_path / "out" / "manifest.json").is_file()


# ---------------------------------------------------------------------------------------------
# 5. Clean exits: SIGTERM, a killed main process, --workers, the scheduler handshake
def _start_long_sweep(tmp_path, name: str) -> tuple[subprocess.Popen, Path, list[int]]:
    """A real `chipstack sweep --workers 2` of a few seconds, once its first part is saved, and its
    workers."""
    import psutil

    data = spec(name)
    data["experiment"] |= {"replications": 100, "steps": 20}
    data["parameters"]["n_developers"] = 150
    path = write_toml(tmp_path / f"{name}.toml", data)
    out = tmp_path / name
    proc = subprocess.Popen([sys.executable, "-m", "model.cli", "sweep", str(path), "--out", str(out),
                             "--workers", "2"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    deadline = __import__("time").monotonic() + 60
    while __import__("time").monotonic() < deadline and not list((out / PARTS_DIR).glob("part-*.parquet")):
        __import__("time").sleep(0.01)
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert children, "the sweep runs in worker processes"
    return proc, out, children


def _gone_within(pids: list[int], seconds: float) -> bool:
    import psutil

    _, alive = psutil.wait_procs([p for p in map(_process, pids) if p is not None], timeout=seconds)
    return not alive


def _process(pid: int):
    import psutil

    try:
        return psutil.Process(pid)
    except psutil.NoSuchProcess:
        return None


@pytest.mark.slow  # over 10 s: a real sweep, or the 10 s handshake timeout
def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    import signal

    proc, out, workers = _start_long_sweep(tmp_path, "term")
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "chipstack: terminated:" in err and "--resume" in err and "Traceback" not in err
    assert _gone_within(workers, 10)
    assert list((out / PARTS_DIR).glob("part-*.parquet")) and not list(out.rglob(".*.tmp"))


@pytest.mark.slow  # over 10 s: a real sweep, or the 10 s handshake timeout
def test_workers_die_with_a_killed_main_process(tmp_path):
    import signal

    proc, out, workers = _start_long_sweep(tmp_path, "orphans")
    proc.send_signal(signal.SIGKILL)  # the main process only, as the OOM killer would
    proc.communicate(timeout=30)
    try:
        assert _gone_within(workers, 10), "worker processes outlived the main process"
    finally:
        for pid in workers:
            with __import__("contextlib").suppress(ProcessLookupError):
                __import__("os").kill(pid, signal.SIGKILL)


def test_workers_are_capped(monkeypatch, capsys):
    from model.sweep.runner import MAX_WORKERS_PER_CPU, capped_workers

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    notes: list[str] = []
    assert capped_workers(1000, 10_000, notes.append) == 2 * MAX_WORKERS_PER_CPU
    assert len(notes) == 1 and "--workers 1000: more than 4 x the 2 cores" in notes[0]
    assert capped_workers(1000, 8, notes.append) == 8  # never more workers than runs
    assert capped_workers(None, 100, notes.append) == 2
    assert len(notes) == 1 and capsys.readouterr().err == ""  # the runner does not print


@pytest.mark.slow  # over 10 s: a real sweep, or the 10 s handshake timeout
@pytest.mark.parametrize("mode", ["silent", "garbage"])
def test_a_scheduler_that_never_answers_or_answers_garbage_fails_within_the_timeout(tmp_path, mode):
    import socket
    import threading
    import time

    pytest.importorskip("distributed")
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    held = []

    def serve():
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)
            if mode == "garbage":
                with __import__("contextlib").suppress(OSError):
                    conn.sendall(b"\xff" * 64)

    threading.Thread(target=serve, daemon=True).start()
    exp = write_toml(tmp_path / "trust.toml", spec())
    t0 = time.monotonic()
    try:
        proc = cli("sweep", str(exp), "--out", str(tmp_path / "out"), "--scheduler", f"tcp://127.0.0.1:{port}",
                   timeout=60)
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert proc.returncode == 2
    assert "no Dask scheduler answered within 10 s" in one_error_line(proc.stderr)
    assert time.monotonic() - t0 < 30  # 10 s for the handshake, the rest Python and Dask start-up
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# 7. The README's table names a test for every row, and each exists
def test_every_guarantee_in_the_readme_names_existing_tests():
    import re

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## What chipstack guarantees about a results folder", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| **")]
    assert len(rows) >= 10
    here = "\n".join(p.read_text(encoding="utf-8") for p in Path(__file__).parent.rglob("test_*.py"))
    for row in rows:
        names = re.findall(r"`(test_\w+)`", row)
        assert names, row
        for name in names:
            assert f"def {name}(" in here, name


# ---------------------------------------------------------------------------------------------
# 8. Audit 2: uncreatable run folders, numpy warnings, manifest entries, UI SIGTERM, stdout/stderr errors
@pytest.mark.parametrize("case", ["proc", "sys", "under_a_file", "dangling_symlink"])
def test_run_into_a_folder_it_cannot_create_is_one_line(case, tmp_path, chipstack):
    (tmp_path / "afile").write_text("a file")
    (tmp_path / "dangling").symlink_to(tmp_path / "nowhere")
    out = {"proc": "/proc/chipstack-x", "sys": "/sys/kernel/chipstack-x",
           "under_a_file": str(tmp_path / "afile" / "sub"),
           "dangling_symlink": str(tmp_path / "dangling")}[case]
    proc = chipstack("run", "--out", out, "--steps", "2", "--set", "n_developers=5")
    assert proc.returncode == 2, proc.stderr
    line = one_error_line(proc.stderr)
    assert "--out" in line and "cannot create the folder" in line and "allowed:" in line
    assert not (tmp_path / "nowhere").exists()


def test_run_checks_its_folder_before_the_model_runs(tmp_path, monkeypatch, capsys):
    """A folder that cannot be made fails before the quarters are simulated, not after them; and a run
    interrupted by Ctrl-C leaves no folder behind."""
    from model.core.chip_market import ChipMarketModel

    ran = []
    monkeypatch.setattr(ChipMarketModel, "run", lambda self, steps: ran.append(steps))
    (tmp_path / "afile").write_text("a file")
    assert main(["run", "--out", str(tmp_path / "afile" / "sub"), "--set", "n_developers=5"]) == 2
    assert "cannot create the folder" in one_error_line(capsys.readouterr().err)
    assert ran == []

    def interrupted(self, steps):
        raise KeyboardInterrupt

    monkeypatch.setattr(ChipMarketModel, "run", interrupted)
    assert main(["run", "--out", str(tmp_path / "new" / "deeper"), "--set", "n_developers=5"]) == 130
    assert capsys.readouterr().err.strip() == "chipstack: interrupted"
    assert not (tmp_path / "new").exists()


#: A float overflow in the model's step (tests/failing_model.py): numpy warns, then the model raises
#: converting inf to an integer, as 2,000 quarters of 300% demand growth did before MAX_STEPS was 1,000.
OVERFLOW_RUN = ("import sys; from failing_model import overflowing_step; from model.core.chip_market import "
                "ChipMarketModel; ChipMarketModel.step = overflowing_step; from model.cli import main; "
                "sys.exit(main())")
OVERFLOW_SWEEP = ("import functools, sys; import model.cli as cli; from model.cli_commands import cmd_sweep; "
                  "from failing_model import OverflowingModel; "
                  "cli.cmd_sweep = functools.partial(cmd_sweep, model_cls=OverflowingModel); "
                  "sys.exit(cli.main())")


def _overflowing(code: str, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]))
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120,
                          env=env, cwd=ROOT)


def test_a_run_that_overflows_is_one_line_without_numpy_warnings(tmp_path):
    proc = _overflowing(OVERFLOW_RUN, "run", "--out", str(tmp_path / "r"), "--set", "n_developers=5")
    assert proc.returncode == 1, proc.stderr
    line = one_error_line(proc.stderr)
    assert "the run failed" in line and "--debug" in line
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # over ~2.5 s: make test runs it, make test-fast does not
def test_a_sweep_whose_runs_overflow_shows_no_numpy_warnings_from_its_workers(tmp_path):
    data = spec("overflow")
    data["experiment"] |= {"steps": 3, "replications": 1}
    data["parameters"] = {"n_developers": 5}
    data["grid"] = {"export_regime": ["ban", "open"]}
    exp = write_toml(tmp_path / "overflow.toml", data)
    proc = _overflowing(OVERFLOW_SWEEP, "sweep", str(exp), "--out", str(tmp_path / "out"), "--workers", "2")
    assert proc.returncode == 1
    assert "RuntimeWarning" not in proc.stderr and "encountered" not in proc.stderr, proc.stderr
    assert "2 of 2 runs failed" in proc.stderr


def test_a_precision_target_near_zero_warns_of_no_overflow(tmp_path):
    import warnings

    data = spec()
    data["grid"] = {"export_regime": ["lagged", "open"]}
    data["experiment"] |= {"target_half_width": 1e-300, "max_replications": 3}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = run_sweep(experiment_from_dict(data), tmp_path / "tiny", workers=1, progress=False)
    assert result.exit_code == 0
    assert [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)] == []
    assert pd.read_csv(tmp_path / "tiny" / "summary.csv")["n_runs"].tolist() == [3, 3]


@pytest.mark.parametrize("files", ["entry_dropped", "null", "empty"])
def test_report_requires_the_manifest_entries_of_the_tables_it_reads(complete, chipstack, files):
    summary = pd.read_csv(complete / "summary.csv")
    summary["us_stack_share_mean"] = 0.99
    summary.to_csv(complete / "summary.csv", index=False)
    manifest = json.loads((complete / "manifest.json").read_text())
    if files == "entry_dropped":
        del manifest["files"]["summary.csv"]
    else:
        manifest["files"] = None if files == "null" else {}
    (complete / "manifest.json").write_text(json.dumps(manifest))
    proc = chipstack("report", str(complete))
    assert proc.returncode == 2
    line = one_error_line(proc.stderr)
    assert "files" in line and ("summary.csv" if files == "entry_dropped" else "runs.parquet") in line
    assert not (complete / "figures").exists()


def test_resume_of_a_complete_folder_with_rows_lost_and_rehashed_is_refused(complete):
    path = complete / "runs.parquet"
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows // 2), path)
    manifest = json.loads((complete / "manifest.json").read_text())
    manifest["files"]["runs.parquet"] = sha256_file(path)
    (complete / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(UsageError, match=r"runs.parquet: holds 24 rows; the manifest's 12 runs x 4 steps "
                                         r"are 48"):
        resume(complete)


@pytest.mark.slow  # over ~2.5 s: make test runs it, make test-fast does not
def test_sigterm_twice_stops_the_ui_with_143_and_no_traceback():
    """As ``timeout`` does: SIGTERM to chipstack, then to its whole process group (the server too)."""
    import os
    import signal
    import socket
    import time

    pytest.importorskip("solara", reason="the UI needs the 'ui' extra")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "model.cli", "ui", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert "serving" in proc.stdout.readline()
        time.sleep(0.5)
        os.kill(proc.pid, signal.SIGTERM)
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 143, err
    assert "Traceback" not in err and "chipstack ui: stopping" in err, err


@pytest.mark.slow  # a sweep through a subprocess with broken stdio: make test, not make test-fast
def test_a_full_stderr_does_not_stop_the_sweep(tmp_path):
    exp = write_toml(tmp_path / "trust.toml", spec())
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "model.cli", "sweep", str(exp), "--out",
                               str(tmp_path / "out"), "--workers", "1"], stdout=subprocess.PIPE, stderr=full,
                              text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 0
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "complete"
    assert proc.stdout.strip()  # the summary table


@pytest.mark.slow  # a sweep through a subprocess with broken stdio: make test, not make test-fast
def test_a_full_stdout_is_one_line_and_the_folder_complete(tmp_path):
    exp = write_toml(tmp_path / "trust.toml", spec())
    with open("/dev/full", "w") as full:
        proc = subprocess.run([sys.executable, "-m", "model.cli", "sweep", str(exp), "--out",
                               str(tmp_path / "out"), "--workers", "1"], stdout=full, stderr=subprocess.PIPE,
                              text=True, timeout=120, cwd=ROOT)
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip().splitlines()[-1]
    assert line.startswith("chipstack: error:") and "Traceback" not in proc.stderr
    assert proc.stderr.count("chipstack: error:") == 1
    assert "standard output" in line and "No space left on device" in line
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["status"] == "complete"


def test_resume_refuses_runs_made_by_other_code(partial, chipstack, monkeypatch, tmp_path):
    """Issue 31 item 1: the saved runs of a partial folder record the code and packages that made them
    (``.parts/experiment.json``); a resume by other code or packages is refused with one line naming what
    differs, and nothing is run or written; by the same code it finishes with the reference's data."""
    from model.sweep import provenance

    record = json.loads((partial / PARTS_DIR / "experiment.json").read_text(encoding="utf-8"))["code"]
    assert record["code_sha256"] == provenance.code_sha256() and record["versions"]["numpy"]
    before = sorted(p.name for p in (partial / PARTS_DIR).iterdir())
    monkeypatch.setattr(provenance, "code_sha256", lambda: "0" * 64)
    with pytest.raises(UsageError, match=r"made by other code or packages \(the model code"):
        resume(partial)
    versions = {**provenance.package_versions(), "numpy": "0.0"}
    monkeypatch.setattr(provenance, "code_sha256", lambda: record["code_sha256"])
    monkeypatch.setattr(provenance, "package_versions", lambda: versions)
    with pytest.raises(UsageError) as err:
        resume(partial)
    assert f"numpy {record['versions']['numpy']} -> 0.0" in one_line(str(err.value))
    assert sorted(p.name for p in (partial / PARTS_DIR).iterdir()) == before
    monkeypatch.undo()
    assert resume(partial).exit_code == 0


def test_the_code_hash_sees_an_edit_of_the_model(tmp_path, monkeypatch):
    """``code_sha256`` changes with one byte of the model package (committed or not)."""
    import model
    from model.sweep import provenance

    copy = tmp_path / "model"
    shutil.copytree(Path(model.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(model, "__file__", str(copy / "__init__.py"))
    same = provenance.code_sha256()
    (copy / "core" / "reporters.py").write_text((copy / "core" / "reporters.py").read_text() + "#\n")
    assert provenance.code_sha256() != same


def test_resume_reruns_a_part_whose_columns_are_not_the_sweeps(partial, reference):
    """Issue 31 item 1: a part is verified column by column against the sweep's schema. A part without one
    reporter column (its record rewritten to match, so only the schema can tell) is run again, not merged with
    NaN, and the folder ends with the reference's data."""
    victim = parts(partial)[0]
    table = pq.read_table(victim)
    dropped = table.schema.names[-1]
    pq.write_table(table.drop_columns([dropped]), victim)
    record = json.loads(part_record(victim).read_text(encoding="utf-8"))
    record["sha256"] = sha256_file(victim)
    part_record(victim).write_text(json.dumps(record), encoding="utf-8")
    result = resume(partial)
    assert result.exit_code == 0 and result.done == 12
    assert any(f"its columns are not the sweep's (missing {dropped})" in note for note in result.warnings)
    assert_same_data(partial, reference)


# ---------------------------------------------------------------------------------------------
# Derived files are derived, not evidence (issue 31 item 2)
@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_report_in_another_environment_leaves_the_folder_resumable_and_replicable(tmp_path):
    """The reviewer's case: 'chipstack report' run where a matplotlibrc changes font.size redrew the figures
    whose sha256 the manifest recorded; '--resume' then refused the folder and 'replicate' said NOT
    replicated though no number changed. The figures are now recorded as derived (outside the integrity
    check) and report rewrites that record."""
    experiment = write_toml(tmp_path / "derived.toml", spec("derived") | {
        "experiment": spec()["experiment"] | {"name": "derived", "replications": 1}})
    out = tmp_path / "out"
    assert cli("sweep", str(experiment), "--out", str(out), "--workers", "1").returncode == 0
    manifest = json.loads((out / "manifest.json").read_text())
    figures = {p: sha256_file(p) for p in (out / "figures").glob("*.png")}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # (the house style sets the font sizes, so a font.size there no longer changes the figures; a background
    # colour still does)
    (elsewhere / "matplotlibrc").write_text("axes.facecolor: 0.85\n")
    proc = cli("report", str(out.resolve()), cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    assert any(sha256_file(p) != digest for p, digest in figures.items())  # the figures were redrawn
    resumed = cli("sweep", str(experiment), "--out", str(out), "--workers", "1", "--resume")
    assert resumed.returncode == 0, resumed.stderr
    replicated = cli("replicate", str(out / "manifest.json"), "--workers", "1")
    assert replicated.returncode == 0, replicated.stdout + replicated.stderr
    assert replicated.stdout.startswith("replicated:")
    # the manifest: the data under files (checked), the report's files under derived (a record, kept current)
    after = json.loads((out / "manifest.json").read_text())
    assert set(manifest["files"]) == {"runs.parquet", "chip_sales.parquet", "final.csv", "summary.csv"}
    assert after["files"] == manifest["files"]
    assert {"by_maker.csv", "by_chip.csv"} <= set(after["derived"])
    assert {f"figures/{p.name}" for p in figures} <= set(after["derived"])
    assert after["derived"] == {name: sha256_file(out / name) for name in after["derived"]}


def test_report_moves_figures_out_of_the_data_record_of_an_older_manifest(complete, chipstack):
    """A manifest from before the split recorded figures among the data files: after 'report' they are
    recorded as derived, and a redrawn figure no longer fails the integrity check."""
    (complete / "figures").mkdir(exist_ok=True)
    (complete / "figures" / "tradeoff.png").write_bytes(b"old figure")
    data = json.loads((complete / "manifest.json").read_text())
    data["files"]["figures/tradeoff.png"] = sha256_file(complete / "figures" / "tradeoff.png")
    data.pop("derived", None)
    (complete / "manifest.json").write_text(json.dumps(data))
    assert chipstack("report", str(complete)).returncode == 0
    after = json.loads((complete / "manifest.json").read_text())
    assert "figures/tradeoff.png" not in after["files"] and "figures/tradeoff.png" in after["derived"]
    assert resume(complete).exit_code == 0
