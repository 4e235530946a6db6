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
