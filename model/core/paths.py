"""Where the repository's files are: the one definition of the repository root and of the folders and
files the code reads or writes by a fixed path.

In the bottom layer (``core``) so that every layer, ``benchmarks/`` and the tests may import it; nothing
else computes the root from ``__file__``. With an editable install (``make venv``) the root is the
checkout; ``model.sweep.experiment.EXPERIMENTS_DIR`` also knows the installed copy of the experiments.
"""

from __future__ import annotations

from pathlib import Path

#: The repository root (the folder holding ``model/``, ``docs/``, ``experiments/``, ``outputs/``).
REPO_ROOT = Path(__file__).resolve().parents[2]

DOCS = REPO_ROOT / "docs"
EXPERIMENTS = REPO_ROOT / "experiments"
OUTPUTS = REPO_ROOT / "outputs"
#: The exact versions every result was made with (its hash goes into each manifest).
REQUIREMENTS_LOCK = REPO_ROOT / "requirements.lock"
README_MD = REPO_ROOT / "README.md"
SOURCES_MD = DOCS / "SOURCES.md"
VALIDATION_MD = DOCS / "VALIDATION.md"
#: Frozen forecasts (never overwritten) and the validation tables and figures.
FORECASTS_DIR = DOCS / "forecasts"
DOCS_VALIDATION = DOCS / "validation"
#: The committed sensitivity tables and figures (docs/figures/{screening,sensitivity,sensitivity_rules}.*).
DOCS_FIGURES = DOCS / "figures"
#: The committed reference results of the headline experiment (``chipstack replicate`` checks them; the
#: README's headline tables and the UI's replay read them).
REFERENCE_SWEEP = OUTPUTS / "export_regimes"
