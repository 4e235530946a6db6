"""`make test` states what it runs, and stops with one line when the browser tests cannot run."""

import shutil
import subprocess

import pytest

from model.core.paths import REPO_ROOT

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def test_missing_chromium_stops_make_test_with_one_line_saying_how_to_install_it(tmp_path):
    # were the check gone, pytest would only collect one small file (and exit 0)
    proc = subprocess.run(["make", "-s", "test", f"CHROMIUM={tmp_path / 'no-chromium'}",
                           "PYTEST_ARGS=--collect-only -q tests/test_headline.py"], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if line.startswith("chipstack: error:")]
    assert len(errors) == 1 and "apt-get install -y chromium" in errors[0] and "SKIP_BROWSER=1" in errors[0]
    assert "Traceback" not in proc.stderr and "make test: ruff passed" not in proc.stdout  # no test ran


def test_skip_browser_says_so_and_deselects_only_the_browser_tests():
    proc = subprocess.run(["make", "-n", "test", "SKIP_BROWSER=1"], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0
    assert "browser left out by SKIP_BROWSER" in proc.stdout
    assert '-m "not browser"' in proc.stdout
