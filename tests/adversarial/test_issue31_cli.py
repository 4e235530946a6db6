"""The issue 31 cases of tests/adversarial/issue31_cli.py (items 4, 7, 10, 11) as one slow test."""

import subprocess
import sys
from pathlib import Path

import pytest

HARNESS = Path(__file__).with_name("issue31_cli.py")


@pytest.mark.slow  # ~2 minutes of real commands
def test_every_case_as_promised():
    proc = subprocess.run([sys.executable, str(HARNESS)], capture_output=True, text=True, timeout=1800)
    last = proc.stdout.strip().splitlines()[-1]
    n = last.split()[0]
    assert last == f"{n} cases, {n} as promised", proc.stdout
