"""One run of a finished sweep, rebuilt for the UI, and the check of its replay against the saved rows.

``chipstack ui --run SWEEP_DIR RUN_ID`` and the page's run picker open a run of a sweep folder:
its model parameters are the manifest's ``fixed`` parameters plus the run's ``params`` (from
``manifest["runs"]``), its seed the run's ``seed``, its length ``experiment.steps``. As the UI
steps it, ``replay_verdict`` compares the model's reporters with the run's rows of
``runs.parquet`` value by value (bit for bit, NaN equal to NaN): a tick and the number of
quarters that match, or the first quarter that differs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import pandas as pd

from model.core.parameters import DEFAULTS, validate_value
from model.core.reporters import MODEL_REPORTERS, REPORTERS_BY_NAME
from model.sweep.errors import UsageError
from model.ui.levers import MAX_UI_DEVELOPERS


def _read_manifest(folder: Path) -> tuple[Path, dict]:
    """The sweep's manifest, read and checked by its owner (``model.sweep.manifest.Manifest``)."""
    from model.sweep.manifest import Manifest

    manifest = Manifest.read(folder)
    return manifest.path, manifest.data


@dataclass(frozen=True)
class RunEntry:
    run_id: str
    replication: int
    seed: int
    params: dict = field(hash=False, compare=False)

    @property
    def point(self) -> str:
        """The design point, e.g. 'export_regime=ban · china_import_policy=open'."""
        return " · ".join(f"{k}={_short(v)}" for k, v in self.params.items()) or "(no varying parameters)"


@dataclass(frozen=True)
class Sweep:
    folder: Path
    name: str
    fixed: dict = field(hash=False, compare=False)
    steps: int
    runs: tuple[RunEntry, ...] = field(hash=False, compare=False)

    def points(self) -> dict[str, list[RunEntry]]:
        """Design point label -> its runs in replication order."""
        out: dict[str, list[RunEntry]] = {}
        for run in self.runs:
            out.setdefault(run.point, []).append(run)
        for runs in out.values():
            runs.sort(key=lambda r: r.replication)
        return out


@dataclass(frozen=True)
class SweepRun:
    """A sweep run to replay: everything the model needs, and the rows it saved."""

    sweep: Sweep
    entry: RunEntry

    @property
    def run_id(self) -> str:
        return self.entry.run_id

    @property
    def steps(self) -> int:
        return self.sweep.steps

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of the model (the seed as ``rng``): every parameter, those the manifest does
        not name (a sweep saved before the parameter existed) at their defaults, which is the model
        that sweep ran."""
        return {**DEFAULTS, **self.sweep.fixed, **self.entry.params, "rng": int(self.entry.seed)}

    @property
    def title(self) -> str:
        return (f"run {self.run_id} of sweep {self.sweep.name}: {self.entry.point}, "
                f"replication {self.entry.replication}, seed {self.entry.seed}")

    def saved_rows(self) -> pd.DataFrame:
        return _saved_rows(str(self.sweep.folder), self.run_id)

    def problem(self) -> str | None:
        """Why the UI cannot replay this run (a parameter the model refuses, or more developers than the
        UI's limit), or None. Checked before a run is opened, so the page never builds a model from a
        manifest's bad values."""
        kwargs = {k: v for k, v in self.kwargs.items() if k != "rng"}
        for name, value in kwargs.items():
            try:
                validate_value(name, value)
            except ValueError as exc:
                return f"run {self.run_id} of {self.sweep.folder / 'manifest.json'}: {exc}"
        n = kwargs["n_developers"]
        if n > MAX_UI_DEVELOPERS:
            return (f"run {self.run_id} has n_developers = {n:,}; allowed in the UI: at most "
                    f"{MAX_UI_DEVELOPERS:,} (replay it with 'chipstack run' or 'chipstack replicate')")
        if n < 1:
            return f"run {self.run_id} has n_developers = {n}; allowed: at least 1"
        return None


def _short(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{int(value)}"
    return str(value)


def open_sweep(folder: str | Path) -> Sweep:
    """The sweep in ``folder`` (a finished ``chipstack sweep`` output). Raises UsageError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"--run {folder}: no such folder; allowed: a sweep output folder with manifest.json")
    path, manifest = _read_manifest(folder)
    try:
        fixed = dict(manifest["fixed"])
        steps = int(manifest["experiment"]["steps"])
        runs = tuple(RunEntry(str(r["run_id"]), int(r["replication"]), int(r["seed"]), dict(r["params"]))
                     for r in manifest["runs"])
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"{path}: missing or malformed key {exc}; allowed: a manifest written by "
                         f"'chipstack sweep'") from None
    if not (folder / "runs.parquet").is_file():
        raise UsageError(f"{folder}: no runs.parquet; allowed: a finished sweep folder")
    if not runs:
        raise UsageError(f"{path}: no runs in the manifest; allowed: a finished sweep folder with runs")
    sweep = Sweep(folder, str(manifest["experiment"].get("name", folder.name)), fixed, steps, runs)
    problems = [SweepRun(sweep, entry).problem() for entry in runs]
    if all(problems):
        raise UsageError(problems[0])
    return sweep


def open_run(folder: str | Path, run_id: str) -> SweepRun:
    """Run ``run_id`` of the sweep in ``folder``. Raises UsageError."""
    sweep = open_sweep(folder)
    for entry in sweep.runs:
        if entry.run_id == run_id:
            run = SweepRun(sweep, entry)
            if run.problem():
                raise UsageError(run.problem())
            return run
    example = sweep.runs[0].run_id if sweep.runs else "none"
    raise UsageError(f"--run: no run {run_id!r} in {Path(folder) / 'manifest.json'}; allowed: a run_id "
                     f"of its runs ({len(sweep.runs)}, e.g. {example})")


@lru_cache(maxsize=16)
def _saved_rows(folder: str, run_id: str) -> pd.DataFrame:
    """The run's rows of runs.parquet, sorted by step (the model's reporters the file has: a sweep made
    before a reporter was added has no column for it)."""
    import pyarrow.dataset as ds

    data = ds.dataset(Path(folder) / "runs.parquet")
    saved = [name for name in MODEL_REPORTERS if name in data.schema.names]
    table = data.to_table(columns=["step", "quarter", *saved], filter=ds.field("run_id") == run_id)
    return table.to_pandas().sort_values("step", kind="stable").reset_index(drop=True)


def parameters_match(model, run: SweepRun) -> bool:
    """True if ``model`` was built with the run's parameters and seed."""
    kwargs = run.kwargs
    if getattr(model, "_seed", None) != kwargs["rng"]:
        return False
    return all(model.parameters.get(k) == v for k, v in kwargs.items() if k != "rng")


def replay_verdict(model, run: SweepRun) -> tuple[bool | None, str]:
    """(ok, text): True and a tick if every quarter simulated so far equals the saved rows bit for
    bit; False and the first differing quarter if not; None while there is nothing to compare."""
    if not parameters_match(model, run):
        return False, (f"not the saved run any more: the parameters or seed differ from run {run.run_id} "
                       f"(open it again to replay it)")
    values = model.datacollector.model_vars
    n = len(values.get(MODEL_REPORTERS[0], []))
    if n == 0:
        return None, (f"replaying run {run.run_id}: press Step (or 'Replay all') to compare with the "
                      "saved rows")
    saved = run.saved_rows()
    compared = [name for name in MODEL_REPORTERS if name in saved.columns]
    for k in range(n):
        if k >= len(saved):
            return False, f"✗ step {k} goes past the saved run ({len(saved)} quarters)"
        row = saved.iloc[k]
        for name in compared:
            here, there = float(values[name][k]), float(row[name])
            if not (here == there or (math.isnan(here) and math.isnan(there))):
                rep = REPORTERS_BY_NAME[name]
                return False, (f"✗ differs from saved run from end of {row['quarter']} (step {k}) on: "
                               f"{rep.label} {rep.shown(here):.6g} here, {rep.shown(there):.6g} saved "
                               f"({rep.unit})")
    last = saved.iloc[n - 1]["quarter"]
    return True, (f"✓ matches saved run, {n} quarter{'s' if n != 1 else ''} (to end of {last}; "
                  f"{len(compared)} reporters bit for bit" + (
                      f"; {len(MODEL_REPORTERS) - len(compared)} newer reporters not in the saved file)"
                      if len(compared) < len(MODEL_REPORTERS) else ")"))
