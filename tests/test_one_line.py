"""Issue 31 items 4, 10 and 11: every command answers a file error, an odd path or locale, a deleted
working directory, running out of memory and a malformed manifest with one line (``chipstack: error:``,
no traceback), each cause in its own words (model/cli_errors.py, model.sweep.errors.os_error_text)."""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from pathlib import Path

import pytest

from model.cli import main
from model.core.paths import REPO_ROOT as ROOT
from model.sweep.errors import os_error_text
from sweep_files import write_toml
from test_game import TINY
from test_game import write_toml as write_game_toml

#: A sweep with levers and uncertainties: report, robust, discover and replicate all take it.
SMALL = {"experiment": {"name": "small", "description": "one-line tests", "steps": 3, "replications": 1,
                        "seed": 3},
         "parameters": {"n_developers": 20}, "levers": {"export_regime": ["lagged", "open"]},
         "uncertainties": {"method": "lhs", "n": 4}}


def _small(path: Path) -> Path:
    write_toml(path, SMALL)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("[uncertainties.ranges]\ndemand_growth = [0.3, 0.5]\n")
    return path


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("small")
    out = base / "out"
    assert main(["sweep", str(_small(base / "small.toml")), "--out", str(out), "--workers", "1"]) == 0
    return out


def _one_line(err: str) -> str:
    assert "Traceback" not in err, err
    assert err.count("chipstack: error:") == 1, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("chipstack: error:"), err
    return line


def _cli(*args: str, cwd: Path | str = ROOT, **kwargs) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT), **kwargs.pop("env", {}))
    kwargs.setdefault("stdout", subprocess.PIPE)
    return subprocess.run([sys.executable, "-m", "model.cli", *args], cwd=cwd, env=env,
                          stderr=subprocess.PIPE, text=True, timeout=300, **kwargs)


def _commands(sweep_dir: Path, tmp_path: Path) -> dict[str, list[str]]:
    game = write_game_toml(tmp_path / "tiny_game.toml", TINY)
    return {
        "run": ["run", "--steps", "2", "--set", "n_developers=10", "--out", str(tmp_path / "run")],
        "sweep": ["sweep", "quick", "--out", str(tmp_path / "sweep"), "--workers", "1"],
        "report": ["report", str(sweep_dir)],
        "robust": ["robust", str(sweep_dir)],
        "discover": ["discover", str(sweep_dir), "--below", "0.3"],
        "replicate": ["replicate", str(sweep_dir / "manifest.json"), "--workers", "1"],
        "validate": ["validate", "arthur", "--quick", "--out", str(tmp_path / "validation")],
        "game": ["game", str(game), "--out", str(tmp_path / "game"), "--workers", "1"],
    }


# ---------------------------------------------------------------------------------------------
# Item 10: file errors in every command
@pytest.mark.parametrize("command", ["run", "sweep", "report", "robust", "discover", "replicate", "validate",
                                     "game"])
@pytest.mark.parametrize("code", [errno.EACCES, errno.ENOSPC])
def test_a_file_that_cannot_be_written_is_one_line_in_every_command(command, code, sweep_dir, tmp_path,
                                                                     monkeypatch, capsys):
    """Every output goes through a temporary file or folder (model.sweep.io.atomic_path, the analyses'
    atomic_folder, replicate's folder in TMPDIR): a read-only folder (EACCES; these tests may run as
    root, whom no folder refuses) or a full disk there."""
    args = _commands(sweep_dir, tmp_path)[command]

    def refuse(*a, **k):
        raise OSError(code, os.strerror(code), str(k.get("dir", "x")))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    monkeypatch.setattr(tempfile, "mkdtemp", refuse)
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert os.strerror(code) in line
    assert ("free disk space" in line) == (code == errno.ENOSPC)


class _FullStdout:
    """A standard output on a full disk (as ``>/dev/full``)."""

    encoding = "utf-8"

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("command", ["run", "report", "robust", "discover", "replicate", "validate", "game"])
def test_a_full_stdout_is_one_line_in_every_command(command, sweep_dir, tmp_path, monkeypatch, capsys):
    args = _commands(sweep_dir, tmp_path)[command]
    monkeypatch.setattr(sys, "stdout", _FullStdout())
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert "standard output" in line and "No space left on device" in line


@pytest.mark.slow  # a subprocess per command
@pytest.mark.parametrize("command", ["report", "robust", "validate"])
def test_stdout_to_dev_full_is_one_line(command, sweep_dir, tmp_path):
    with open("/dev/full", "w") as full:
        proc = _cli(*_commands(sweep_dir, tmp_path)[command], stdout=full)
    assert proc.returncode == 2, proc.stderr
    assert "standard output" in _one_line(proc.stderr)
    assert "Exception ignored" not in proc.stderr


def test_an_unreadable_file_is_one_line(sweep_dir, monkeypatch, capsys):
    import pandas as pd

    def unreadable(*a, **k):
        raise PermissionError(errno.EACCES, "Permission denied", str(sweep_dir / "final.csv"))

    monkeypatch.setattr(pd, "read_csv", unreadable)
    assert main(["robust", str(sweep_dir)]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "final.csv" in line and "permission denied" in line.lower() and "free disk space" not in line


@pytest.mark.parametrize("command", ["resume", "replicate"])
def test_an_unreadable_runs_parquet_is_said_so(command, sweep_dir, tmp_path, monkeypatch, capsys):
    """It used to say 'free disk space ... run with --resume' (or advise deleting runs.parquet)."""
    from model.sweep import manifest

    real = manifest.sha256_file

    def unreadable(path):
        if Path(path).name == "runs.parquet":
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(manifest, "sha256_file", unreadable)
    args = {"resume": ["sweep", str(_small(tmp_path / "small.toml")), "--resume", "--out", str(sweep_dir)],
            "replicate": ["replicate", str(sweep_dir / "manifest.json"), "--workers", "1"]}[command]
    assert main(args) == 2
    line = _one_line(capsys.readouterr().err)
    assert "runs.parquet" in line and "permission denied" in line
    assert "free disk space" not in line and "delete" not in line


@pytest.mark.parametrize("command", ["sweep", "ui"])
def test_a_deleted_working_directory_is_one_line(command, tmp_path):
    gone = tmp_path / "gone"
    gone.mkdir()
    args = {"sweep": ["sweep", "quick", "--out", str(tmp_path / "abs"), "--workers", "1"],
            "ui": ["ui", "--port", "1"]}[command]
    code = ("import os, sys; os.chdir(sys.argv[1]); os.rmdir(sys.argv[1]); from model.cli import main; "
            "sys.exit(main(sys.argv[2:]))")
    proc = subprocess.run([sys.executable, "-c", code, str(gone), *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "working directory no longer exists" in _one_line(proc.stderr)
    assert not (tmp_path / "abs").exists()


def test_out_of_memory_while_building_the_model_is_one_line(tmp_path, monkeypatch, capsys):
    from model.core.chip_market import ChipMarketModel

    def no_memory(self, *a, **k):
        raise MemoryError

    monkeypatch.setattr(ChipMarketModel, "__init__", no_memory)
    assert main(["run", "--set", "n_developers=5000000", "--out", str(tmp_path / "r")]) == 1
    assert "out of memory" in _one_line(capsys.readouterr().err)
    assert not (tmp_path / "r").exists()


@pytest.mark.slow  # a subprocess under a memory limit
def test_out_of_memory_under_a_memory_limit(tmp_path):
    if shutil.which("prlimit") is None:
        pytest.skip("no prlimit")
    proc = subprocess.run(["prlimit", "--as=2000000000", sys.executable, "-m", "model.cli", "run", "--set",
                           "n_developers=5000000", "--out", str(tmp_path / "r")], cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert "out of memory" in _one_line(proc.stderr)


@pytest.mark.parametrize("edit, key", [
    (lambda m: m.update(experiment=None), "experiment.spec"),
    (lambda m: m["runs"][1].update(run_id=["a", "b"]), "runs[1].run_id"),
])
def test_a_malformed_manifest_is_refused_before_re_running(edit, key, sweep_dir, tmp_path, monkeypatch,
                                                           capsys):
    from model.sweep import runner

    folder = tmp_path / "copy"
    shutil.copytree(sweep_dir, folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    edit(manifest)
    (folder / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(runner, "run_sweep", lambda *a, **k: pytest.fail("re-ran a malformed manifest"))
    assert main(["replicate", str(folder / "manifest.json"), "--workers", "1"]) == 2
    assert key in _one_line(capsys.readouterr().err)


def test_the_maximum_steps_work(tmp_path, capsys):
    from model.core.limits import MAX_STEPS

    out = str(tmp_path / "r")
    assert main(["run", "--steps", str(MAX_STEPS), "--set", "n_developers=10", "--out", out]) == 0
    assert main(["run", "--steps", str(MAX_STEPS + 1), "--out", str(tmp_path / "s")]) == 2
    capsys.readouterr()


def test_run_refuses_negative_steps():
    from model.core.chip_market import ChipMarketModel

    with pytest.raises(ValueError, match="steps -3"):
        ChipMarketModel(rng=1, n_developers=10).run(-3)


# ---------------------------------------------------------------------------------------------
# Item 4: any path, any locale
def test_a_path_that_is_not_utf8_is_refused_in_one_line(sweep_dir, tmp_path, capsys):
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/out\xff")
    assert main(["sweep", "quick", "--out", odd, "--workers", "1"]) == 2
    assert "not valid UTF-8" in _one_line(capsys.readouterr().err)
    assert not os.path.exists(odd)
    folder = os.fsdecode(os.fsencode(str(tmp_path)) + b"/res\xff")
    shutil.copytree(sweep_dir, folder)
    for args in (["report", folder], ["replicate", os.path.join(folder, "manifest.json")],
                 ["sweep", str(_small(tmp_path / "small.toml")), "--resume", "--out", folder],
                 ["robust", folder], ["discover", folder, "--below", "0.3"]):
        assert main(args) == 2, args
        assert "not valid UTF-8" in _one_line(capsys.readouterr().err)


@pytest.mark.slow  # over ~4 s (make test-fast leaves it to make test)
def test_ascii_stdio_with_a_folder_named_u_umlaut(sweep_dir, tmp_path):
    folder = tmp_path / "ü"
    shutil.copytree(sweep_dir, folder)
    proc = _cli("report", "ü", cwd=tmp_path, env={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr and "wrote \\xfc" in proc.stdout
    proc = _cli("report", "nö", cwd=tmp_path, env={"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 2 and "n\\xf6" in _one_line(proc.stderr)


# ---------------------------------------------------------------------------------------------
# Item 11: messages that say what happened
@pytest.mark.parametrize("code, words", [
    (errno.ENOSPC, "the disk is full"), (errno.EROFS, "read-only"), (errno.EACCES, "permission denied"),
    (errno.ENAMETOOLONG, "too long"), (errno.EMFILE, "too many open files"),
])
def test_each_cause_of_a_sweep_file_error_has_its_own_message(code, words, tmp_path, monkeypatch, capsys):
    from model.sweep import runner

    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(tmp_path / "out" / ".parts" / "part-x.parquet"))

    monkeypatch.setattr(runner, "write_part", fail)
    assert main(["sweep", "quick", "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert words in line and "runs saved so far are kept" in line
    assert ("free disk space" in line) == (code == errno.ENOSPC)
    assert ("--resume" in line) == (code in (errno.ENOSPC, errno.EMFILE))


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_too_many_open_files_is_said_so_and_the_sweep_ends(tmp_path):
    """With 16 file descriptors the process pool's pipes run out while its workers start: one line
    naming the cause, and the sweep ends (a worker left waiting for work used to hang it at exit)."""
    if shutil.which("prlimit") is None:
        pytest.skip("no prlimit")
    lines = []
    for limit in (16, 14, 12, 10):  # where descriptors run out depends on what the process inherited
        out = str(tmp_path / f"out{limit}")
        command = [sys.executable, "-m", "model.cli", "sweep", "quick", "--out", out, "--workers", "2"]
        proc = subprocess.run(["prlimit", f"--nofile={limit}", *command], cwd=ROOT, capture_output=True,
                              text=True, timeout=60)  # a hang fails here
        if proc.returncode == 0:
            continue
        assert proc.returncode == 2, proc.stderr
        lines.append(_one_line(proc.stderr))
    assert lines, "no limit made the sweep run out of file descriptors"
    assert all("too many open files" in line and "free disk space" not in line for line in lines), lines


def test_a_name_too_long_is_said_so(tmp_path, capsys):
    assert main(["sweep", "quick", "--out", str(tmp_path / ("x" * 300)), "--workers", "1"]) == 2
    line = _one_line(capsys.readouterr().err)
    assert "File name too long" in line and "free disk space" not in line


def test_os_error_text_names_no_disk_for_other_causes():
    texts = {code: os_error_text(OSError(code, os.strerror(code), "f")) for code in
             (errno.ENOSPC, errno.EROFS, errno.EACCES, errno.ENAMETOOLONG, errno.EMFILE, errno.EIO)}
    assert len(set(texts.values())) == len(texts)
    assert [c for c, t in texts.items() if "disk" in t] == [errno.ENOSPC]


@pytest.mark.parametrize("command", ["run", "sweep", "game", "validate", "calibrate"])
def test_an_empty_out_is_refused(command, capsys):
    args = {"run": ["run"], "sweep": ["sweep", "quick"], "game": ["game", "policy_game"],
            "validate": ["validate", "arthur"], "calibrate": ["calibrate", "calibration"]}[command]
    assert main([*args, "--out", ""]) == 2
    assert "--out ''" in _one_line(capsys.readouterr().err)


def test_discover_policy_given_twice_is_refused(sweep_dir, capsys):
    assert main(["discover", str(sweep_dir), "--below", "0.3", "--policy", "export_regime=lagged",
                 "--policy", "export_regime=open"]) == 2
    assert "given twice" in _one_line(capsys.readouterr().err)


def test_a_report_that_failed_is_drawn_on_resume(tmp_path, capsys):
    from model.sweep.runner import run_sweep

    exp, out = _small(tmp_path / "small.toml"), tmp_path / "out"

    def full_disk(folder: Path) -> list[Path]:
        raise OSError(errno.ENOSPC, "No space left on device")

    def draw(folder: Path) -> list[Path]:
        (folder / "figure.png").write_bytes(b"png")
        return [folder / "figure.png"]

    notes: list[str] = []
    assert run_sweep(exp, out, workers=1, on_finished=full_disk, on_warning=notes.append).exit_code == 0
    assert "--resume" in notes[-1] and json.loads((out / "manifest.json").read_text())["report_failed"]
    again = run_sweep(exp, out, workers=1, resume=True, on_finished=draw)
    assert again.exit_code == 0 and out / "figure.png" in again.files
    manifest = json.loads((out / "manifest.json").read_text())
    assert "figure.png" in manifest["derived"] and "report_failed" not in manifest  # a record (item 2)
    assert "figure.png" not in manifest["files"]
    assert main(["replicate", str(out / "manifest.json"), "--workers", "1"]) == 0
    capsys.readouterr()


def test_a_killed_replicates_temporary_folder_is_removed_next_time(tmp_path, monkeypatch):
    from model.sweep.io import OWNER_FILE, temporary_folder

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True).stdout.strip()
    stale = tmp_path / "chipstack-replicate-stale"
    (stale / "sweep").mkdir(parents=True)
    (stale / OWNER_FILE).write_text(dead)
    alive = tmp_path / "chipstack-replicate-alive"
    alive.mkdir()
    (alive / OWNER_FILE).write_text(str(os.getppid()))
    with temporary_folder("chipstack-replicate-") as folder:
        assert folder.is_dir() and not stale.exists() and alive.exists()
    assert not folder.exists()


def test_library_warnings_are_not_printed(sweep_dir, monkeypatch, capsys):
    import numpy as np

    from model.analysis import robust

    real = robust.robust_folder

    def noisy(*args, **kwargs):
        np.mean(np.array([]))  # RuntimeWarning: Mean of empty slice
        warnings.warn("Attempting to set identical low and high xlims", UserWarning, stacklevel=1)
        return real(*args, **kwargs)

    monkeypatch.setattr(robust, "robust_folder", noisy)
    with warnings.catch_warnings(record=True) as shown:  # what would be printed (pytest captures it)
        warnings.simplefilter("always")
        assert main(["robust", str(sweep_dir)]) == 0
    assert [str(w.message) for w in shown] == []
    err = capsys.readouterr().err
    assert "Warning" not in err and "xlims" not in err


def test_make_reproduce_warns_on_a_modified_experiment_file(tmp_path, monkeypatch):
    from model import reproduce

    def git(*args):
        subprocess.run(["git", *args], cwd=tmp_path, check=True, capture_output=True)

    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "a.toml").write_text("x = 1\n")
    git("init", "-q")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "a")
    monkeypatch.setattr(reproduce, "ROOT", tmp_path)
    assert reproduce.modified_inputs() == []
    (tmp_path / "experiments" / "a.toml").write_text("x = 2\n")
    assert reproduce.modified_inputs() == ["experiments/a.toml"]
