"""The command line: `chipstack run` output and bad-input handling (one line, exit 2, nothing written)."""

import subprocess
import sys

import pandas as pd
import pytest

from model import MODEL_REPORTERS
from model.cli import main


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "model.cli", *args], capture_output=True, text=True,
                          cwd=cwd, timeout=120)


def test_run_prints_summary_and_writes_csv_and_png(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(["run", "--steps", "6", "--seed", "3", "--set", "n_developers=50",
                 "--set", "export_regime=open", "--out", str(out)])
    assert code == 0
    text = capsys.readouterr().out
    assert "US stack share of installed compute, all channels (0-1, FLOP-based)" in text
    assert "2026Q1" in text and "2027Q2" in text
    df = pd.read_csv(out / "timeseries.csv")
    assert len(df) == 6 and set(MODEL_REPORTERS) <= set(df.columns)
    assert (out / "run.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(out.glob(".*tmp"))  # no temporary files left behind


def test_run_is_reproducible_from_the_command_line(tmp_path):
    for d in ("a", "b"):
        assert main(["run", "--steps", "4", "--set", "n_developers=30", "--out", str(tmp_path / d)]) == 0
    a = pd.read_csv(tmp_path / "a" / "timeseries.csv")
    b = pd.read_csv(tmp_path / "b" / "timeseries.csv")
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("args, fragment", [
    (["--set", "export_regim=open"], "did you mean 'export_regime'"),
    (["--set", "n_developers=abc"], "not a number"),
    (["--set", "export_lag_months=100"], "out of range"),
    (["--set", "export_regime=partial"], "one of ban, h20, threshold, lagged, open"),
    (["--set", "china_import_policy=closed"], "one of open, discourage"),
    (["--set", "us_policy_schedule=2027Q1-ban"], "QUARTER:VALUE"),
    (["--set", "state_mandate=maybe"], "true or false"),
    (["--set", "noequals"], "NAME=VALUE"),
    (["--steps", "0"], "--steps"),
    (["--seed", "x"], "--seed"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_input_is_one_line_exit_2_nothing_written(tmp_path, capsys, args, fragment):
    """In process (``main`` returns the exit code; the subprocess test below checks the process itself)."""
    out = tmp_path / "never"
    assert main(["run", *args, "--out", str(out)]) == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chipstack: error:"), captured.err
    assert fragment in lines[0]
    assert "Traceback" not in captured.err and captured.out == ""
    assert not out.exists()


@pytest.mark.parametrize("args, fragment", [(["--set", "noequals"], "NAME=VALUE"),
                                            (["--bogus"], "unrecognized arguments")])
def test_bad_input_is_one_line_exit_2_from_the_process(tmp_path, args, fragment):
    out = tmp_path / "never"
    proc = run_cli("run", *args, "--out", str(out))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chipstack: error:"), proc.stderr
    assert fragment in lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_unknown_command_is_a_usage_error():
    proc = run_cli("runn")
    assert proc.returncode == 2 and proc.stderr.startswith("chipstack: error:")
    assert len(proc.stderr.strip().splitlines()) == 1
