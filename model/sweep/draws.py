"""Futures drawn from a file of weighted draws: ``[uncertainties] method = "posterior"`` (issue 29 item 7).

A calibration's posterior (``docs/validation/calibration/posterior.parquet``: a ``weight`` column and one
column per calibrated parameter) becomes the futures every policy of a ``[levers]`` sweep runs on: ``n``
rows drawn by weight, with replacement, with the sample's seed. The file's sha256 is part of the
experiment's identity (``SampleSpec.draws_sha256``), so ``--resume`` and ``replicate`` refuse a folder
whose draws file has changed since its runs were made. The sample's ``ranges`` are each parameter's
[min, max] over the file: what ``robust``, ``discover`` and the report read as the uncertainties.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from model.core.paths import REPO_ROOT
from model.sweep.errors import UsageError, shown
from model.sweep.experiment import SampleSpec
from model.sweep.io import sha256_file

WEIGHT = "weight"


def draws_path(name: str) -> Path:
    """The draws file: a path relative to the repository root (as experiment files give it), or absolute."""
    path = Path(name)
    return path if path.is_absolute() else REPO_ROOT / path


def read_draws(name: str, where: str = "[uncertainties] draws") -> pd.DataFrame:
    """The file's rows, checked: readable Parquet, a ``weight`` column of finite weights >= 0 summing to
    more than 0, finite numeric parameter columns. Raises UsageError (one line)."""
    path = draws_path(name)
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - any reader error is a bad file
        raise UsageError(f"{where} = {name!r}: cannot be read as Parquet ({type(exc).__name__}: "
                         f"{shown(path)}); allowed: a Parquet file of weighted draws, e.g. "
                         f"docs/validation/calibration/posterior.parquet") from None
    if WEIGHT not in frame.columns or len(frame.columns) < 2 or frame.empty:
        raise UsageError(f"{where} = {name!r}: needs a column {WEIGHT!r} and one column per parameter, and "
                         f"at least one row (found columns {list(frame.columns)[:6]}, {len(frame)} rows)")
    values = frame.apply(pd.to_numeric, errors="coerce")
    if not np.isfinite(values.to_numpy(float)).all():
        raise UsageError(f"{where} = {name!r}: every value must be a finite number")
    w = values[WEIGHT].to_numpy(float)
    if (w < 0).any() or w.sum() <= 0:
        raise UsageError(f"{where} = {name!r}: the weights must be >= 0 with a positive sum")
    return values


def posterior_sample(checker, section, experiment_seed: int) -> SampleSpec:
    """The SampleSpec of ``method = "posterior"`` (``checker``: the schema's checker, for names, values and
    one-line errors)."""
    if section.method != "posterior" or section.draws is None:
        raise checker.fail("[uncertainties] method 'posterior' and draws come together; allowed: method = "
                           "'posterior' with draws = 'FILE.parquet'")
    if section.ranges or section.choices or section.num_levels is not None:
        raise checker.fail("[uncertainties] method 'posterior': the parameters come from the draws file; "
                           "allowed: no [uncertainties.ranges], [uncertainties.choices] or num_levels")
    frame = read_draws(section.draws)
    ranges = {}
    for name in (c for c in frame.columns if c != WEIGHT):
        checker.name("uncertainties.draws", name)
        param = checker.params[name]
        if param.kind not in ("int", "float"):
            raise checker.fail(f"[uncertainties] draws column {name}: a {param.kind} parameter cannot be "
                               f"drawn; allowed: numeric parameters")
        for value in (frame[name].min(), frame[name].max()):
            checker.value("uncertainties.draws", name, float(value))
        ranges[name] = (float(frame[name].min()), float(frame[name].max()))
    return SampleSpec(method="posterior", n=section.n, ranges=ranges,
                      seed=experiment_seed if section.seed is None else section.seed,
                      integers=tuple(n for n in ranges if checker.params[n].kind == "int"),
                      draws=section.draws, draws_sha256=sha256_file(draws_path(section.draws)))


def draw_points(sample: SampleSpec) -> np.ndarray:
    """(n x parameters) rows of the draws file, drawn by weight with replacement with the sample's seed,
    columns in ``sample.ranges`` order. Refuses a file whose sha256 is not the one the experiment recorded."""
    path = draws_path(sample.draws)
    if sha256_file(path) != sample.draws_sha256:
        raise UsageError(f"{shown(path)}: its sha256 is not the one recorded for this sweep (the draws file "
                         f"changed since); allowed: the file the sweep was made with, or a new --out folder")
    frame = read_draws(sample.draws)
    w = frame[WEIGHT].to_numpy(float)
    rng = np.random.default_rng(sample.seed)
    picks = rng.choice(len(frame), size=sample.n, replace=True, p=w / w.sum())
    return frame[list(sample.ranges)].to_numpy(float)[picks]
