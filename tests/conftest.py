"""Shared test settings."""

import os
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# the bootstrap that makes ``benchmarks`` importable (model.core.paths.REPO_ROOT is the definition)
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

settings.register_profile(
    "chipstack", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "chipstack"))


@pytest.fixture
def root() -> Path:
    return ROOT


# ---------------------------------------------------------------------------------------------
# What the run did, by group: the fast tier (model, CLI and sweep contracts), the slow tests and the
# browser tests, each with its number of tests and the seconds they took (summed over the workers).
GROUPS = ("browser", "slow")
_TIMES: dict[str, list[float]] = {}


def group_of(keywords) -> str:
    """The group of a test from its markers: 'browser', 'slow', else 'fast'."""
    return next((g for g in GROUPS if g in keywords), "fast")


def pytest_runtest_logreport(report):
    counts = _TIMES.setdefault(group_of(report.keywords), [0.0, 0.0])
    counts[1] += report.duration
    if report.when == "call" or (report.when == "setup" and report.skipped):
        counts[0] += 1


def pytest_terminal_summary(terminalreporter):
    if not _TIMES:
        return
    parts = [f"{group} {int(n)} tests, {seconds:.0f} s" for group, (n, seconds) in sorted(_TIMES.items())]
    terminalreporter.write_line("test time by group (summed over workers): " + "; ".join(parts))
