"""``chipstack replicate DIR/manifest.json``: re-run a finished sweep and compare every number.

A published sweep must be re-runnable from its manifest. This module

1. checks that every saved output file still has the sha256 the manifest recorded (a file altered
   after the sweep is reported, and fails the replication);
2. warns when the package versions, the git commit or the lock file differ from the manifest's
   (the numbers may still agree, but the user should know);
3. re-runs the experiment the manifest describes (``manifest["experiment"]["spec"]``, the same
   design, seeds and parameters) into a temporary folder, on the process pool or Dask, with the
   model class the manifest names (``model``, ``module:qualname``; ``ChipMarketModel`` for older
   manifests without it), or the class given to :func:`replicate`;
4. compares the replicated ``runs.parquet`` with the saved one value by value (exact equality,
   NaN equal to NaN), and ``chip_sales.parquet`` when the sweep has one (row by row, keyed by run,
   step and chip; a difference is named ``<column> [<chip>]``); :func:`report_text` says
   ``replicated: N runs, all values identical`` or
   gives a table of the runs and columns that differ (the ``chipstack replicate`` command prints it,
   exit 0 or 1).

Exactness is the default and the promise on x86-64 with the pinned lock file (the simulation's
arithmetic does not depend on the CPU or BLAS kernel: ``model.core.fixedmath``). For another platform
(another OS, ARM, another numpy) ``--rtol``/``--atol`` accept float values within
``|saved - replicated| <= atol + rtol * |saved|``; the verdict then says so
(``replicated within rtol=...: N runs; max relative difference ...; K values not bit-identical``).
The manifest's CPU and BLAS record (``platform``) is compared too, and each difference is a warning.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.sweep.chip_table import CHIP_FILE, CHIP_KEY
from model.sweep.errors import one_line, shown
from model.sweep.io import sha256_file, temporary_folder
from model.sweep.manifest import Manifest
from model.sweep.protocol import DEFAULT_MODEL, import_model
from model.sweep.store import folder_lock

KEY = ["run_id", "step"]
DIFF_COLUMNS = ["run_id", "step", "column", "saved", "replicated"]
MAX_ROWS_SHOWN = 20


@dataclass
class Replication:
    """What a replication found."""

    runs: int
    rows: int
    altered_files: list[tuple[str, str]] = field(default_factory=list)  # (file, why)
    warnings: list[str] = field(default_factory=list)
    differences: pd.DataFrame | None = None  # run_id, step, column, saved, replicated
    missing_runs: list[str] = field(default_factory=list)
    extra_runs: list[str] = field(default_factory=list)
    rtol: float | None = None
    atol: float | None = None
    within_tolerance: int = 0  # float values not bit-identical but within rtol/atol
    max_relative_difference: float = 0.0
    seed_differences: list[str] = field(default_factory=list)  # manifest seeds vs the experiment's

    @property
    def identical(self) -> bool:
        return (not self.altered_files and not self.missing_runs and not self.extra_runs
                and not self.seed_differences
                and (self.differences is None or self.differences.empty))

    @property
    def exact(self) -> bool:
        return self.identical and self.within_tolerance == 0


def read_manifest(path: str | Path) -> tuple[Path, dict]:
    """Load and sanity-check a sweep manifest (:meth:`Manifest.read`). Raises UsageError."""
    manifest = Manifest.read(path)
    return manifest.path, manifest.data


def check_files(folder: Path, manifest: dict) -> list[tuple[str, str]]:
    """Saved files whose sha256 differs from the manifest's, or that are missing."""
    return Manifest(folder, manifest).altered_files()


def environment_warnings(manifest: dict) -> list[str]:
    """Differences between this environment and the one that made the sweep."""
    from model.core.paths import REQUIREMENTS_LOCK
    from model.sweep.provenance import git_state, model_changes_since, package_versions, platform_info

    notes = []
    saved, now = manifest.get("versions") or {}, package_versions()
    for name in sorted(set(saved) | set(now)):
        if saved.get(name) != now.get(name):
            notes.append(f"{name} {saved.get(name)} in the manifest, {now.get(name)} here")
    saved_git, now_git = manifest.get("git") or {}, git_state() or {}
    # the commit of the model code, not of the repository: a later commit that only adds results
    # or documentation does not change a number (older manifests record only 'commit')
    saved_commit = saved_git.get("model_commit") or saved_git.get("commit")
    now_commit = now_git.get("model_commit") or now_git.get("commit")
    if saved_commit and saved_commit != now_commit:
        changed = model_changes_since(saved_commit)
        notes.append(f"model code from git commit {saved_commit[:12]} in the manifest, "
                     f"{str(now_commit)[:12]} "
                     f"here ({changed or 'that commit is not in this repository'})")
    if saved_git.get("dirty"):
        notes.append("the sweep was made with uncommitted changes to the model code")
    elif now_git.get("dirty"):
        notes.append("the model code here has uncommitted changes")
    saved_platform, now_platform = manifest.get("platform") or {}, platform_info()
    for key in ("machine", "system", "numpy_simd_dispatch", "blas", "env"):
        if key in saved_platform and saved_platform.get(key) != now_platform.get(key):
            notes.append(f"platform {key} {saved_platform.get(key)} in the manifest, "
                         f"{now_platform.get(key)} here "
                         f"(results should not depend on it on x86-64; see README 'Replicating a result')")
    lock = REQUIREMENTS_LOCK
    saved_lock = manifest.get("requirements_lock_sha256")
    if saved_lock and lock.is_file() and sha256_file(lock) != saved_lock:
        notes.append("requirements.lock differs from the one recorded in the manifest")
    return notes


def compare_runs(saved: pd.DataFrame, replicated: pd.DataFrame, rtol: float | None = None,
                 atol: float | None = None, key: list[str] = KEY
                 ) -> tuple[pd.DataFrame, list[str], list[str], int, float]:
    """Cells that differ (long format), run ids only saved, run ids only replicated, the count of
    float values that are not bit-identical but within the tolerance, and the largest relative
    difference among float values (0 when all are identical).

    Without ``rtol``/``atol`` every difference counts; with them, float values with
    ``|saved - replicated| <= atol + rtol * |saved|`` are accepted (NaN equals NaN). ``key``: the
    columns that identify a row, ``run_id`` and ``step`` first; with more (the chip table's ``chip``)
    a run need not have rows (a run that sold nothing), so every row is compared and a row only one
    side has is a difference, and a difference's column is named ``<column> [<the other keys>]``."""
    tolerant = rtol is not None or atol is not None
    rtol_, atol_ = rtol or 0.0, atol or 0.0
    within, max_rel = 0, 0.0
    saved_ids, new_ids = set(saved["run_id"]), set(replicated["run_id"])
    by_run = list(key) == KEY
    missing = sorted(saved_ids - new_ids) if by_run else []
    extra = sorted(new_ids - saved_ids) if by_run else []
    common = sorted(saved_ids & new_ids) if by_run else sorted(saved_ids | new_ids)
    a = saved[saved["run_id"].isin(common)].sort_values(key).reset_index(drop=True)
    b = replicated[replicated["run_id"].isin(common)].sort_values(key).reset_index(drop=True)
    rows = []

    def label(column: str, row) -> str:
        return column if by_run else f"{column} [{', '.join(str(row[k]) for k in key[2:])}]"

    if len(a) != len(b) or not (a[key].to_numpy() == b[key].to_numpy()).all():
        merged = a[key].merge(b[key], how="outer", indicator=True)
        for _, r in merged[merged["_merge"] != "both"].iterrows():
            rows.append((r["run_id"], r["step"], label("(row)", r),
                         "present" if r["_merge"] == "left_only" else "absent",
                         "present" if r["_merge"] == "right_only" else "absent"))
        a = a.merge(b[key], on=key)
        b = b.merge(a[key], on=key)
    for column in [c for c in a.columns if c not in key]:
        if column not in b.columns:
            rows.append(("*", "*", column, "present", "absent"))
            continue
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            same = (x == y) | (np.isnan(x) & np.isnan(y))
            with np.errstate(divide="ignore", invalid="ignore"):
                gap = np.abs(x - y)
                rel = np.where(same, 0.0, gap / np.abs(x))
            if (~same).any():
                finite = rel[~same & np.isfinite(rel)]
                max_rel = max(max_rel, float(finite.max()) if finite.size else float("inf"))
            if tolerant:
                close = ~same & (gap <= atol_ + rtol_ * np.abs(x))
                within += int(close.sum())
                same |= close
            differ = ~same
        else:
            differ = np.asarray(pd.Series(x).astype(str) != pd.Series(y).astype(str))
        for i in np.flatnonzero(differ):
            rows.append((a.at[i, "run_id"], int(a.at[i, "step"]), label(column, a.iloc[i]), x[i], y[i]))
    for column in [c for c in b.columns if c not in a.columns]:
        rows.append(("*", "*", column, "absent", "present"))
    diffs = pd.DataFrame(rows, columns=DIFF_COLUMNS)
    return diffs, missing, extra, within, max_rel


def replicate(manifest_path: str | Path, workers: int | None = None, scheduler: str | None = None,
              progress=None, rtol: float | None = None, atol: float | None = None,
              model_cls: type | None = None, on_warning: Callable[[str], None] | None = None) -> Replication:
    """Re-run the sweep of ``manifest_path`` in a temporary folder and compare (see module doc).

    ``model_cls``: the model class to run (default: the one the manifest names); ``progress`` and
    ``on_warning``: as for :func:`model.sweep.runner.run_sweep`."""
    path, manifest = read_manifest(manifest_path)
    folder = path.parent
    with folder_lock(folder, shared=True):  # no sweep may write there while it is compared
        return _replicate(path, manifest, workers, scheduler, progress, rtol, atol, model_cls, on_warning)


def manifest_model(manifest: dict) -> type:
    """The model class a manifest names (``ChipMarketModel`` when it names none). Raises UsageError."""
    return import_model(manifest.get("model") or DEFAULT_MODEL)


def _replicate(path: Path, manifest: dict, workers: int | None, scheduler: str | None, progress,
               rtol: float | None, atol: float | None, model_cls: type | None,
               on_warning: Callable[[str], None] | None) -> Replication:
    from model.sweep.experiment import experiment_from_dict
    from model.sweep.runner import run_sweep

    folder = path.parent
    altered = check_files(folder, manifest)
    experiment = experiment_from_dict(manifest["experiment"]["spec"], source=f"{path} (experiment.spec)",
                                      model_cls=model_cls or manifest_model(manifest))
    result = Replication(runs=len(manifest.get("runs") or []), rows=0, altered_files=altered,
                         warnings=environment_warnings(manifest), rtol=rtol, atol=atol)
    if any(name == "runs.parquet" and why == "missing" for name, why in altered):
        return result
    try:
        saved = pd.read_parquet(folder / "runs.parquet")
    except Exception as exc:  # noqa: BLE001 - any reader error means a damaged file
        result.altered_files.append(
            ("runs.parquet", f"cannot be read ({type(exc).__name__}); nothing to compare"))
        return result
    with temporary_folder("chipstack-replicate-") as tmp:  # a killed replicate's folder goes next time
        sweep = run_sweep(experiment, tmp / "sweep", workers=workers, scheduler=scheduler,
                          progress=progress, on_warning=on_warning)
        if sweep.interrupted:
            raise KeyboardInterrupt
        again = pd.read_parquet(tmp / "sweep" / "runs.parquet")
        result.seed_differences = seed_differences(manifest, Manifest.load(tmp / "sweep").data)
        result.rows = len(saved)
        (result.differences, result.missing_runs, result.extra_runs, result.within_tolerance,
         result.max_relative_difference) = compare_runs(saved, again, rtol, atol)
        if CHIP_FILE in (manifest.get("files") or {}):  # a sweep from before the table: runs.parquet only
            _compare_chips(result, folder, tmp / "sweep", rtol, atol)
    return result


def _compare_chips(result: Replication, folder: Path, again: Path, rtol: float | None,
                   atol: float | None) -> None:
    """Add the differences of the saved and replicated ``chip_sales.parquet`` to ``result`` (a saved
    table that is missing or unreadable is an altered file; one the replication lacks, a difference)."""
    try:
        saved = pd.read_parquet(folder / CHIP_FILE)
    except Exception as exc:  # noqa: BLE001 - any reader error means a damaged (or missing) file
        if not any(name == CHIP_FILE for name, _ in result.altered_files):
            result.altered_files.append((CHIP_FILE, f"cannot be read ({type(exc).__name__})"))
        return
    if not (again / CHIP_FILE).is_file():
        extra = pd.DataFrame([("*", "*", f"({CHIP_FILE})", "present", "absent")], columns=DIFF_COLUMNS)
        result.differences = pd.concat([d for d in (result.differences, extra) if len(d)], ignore_index=True)
        return
    diffs, _, _, within, max_rel = compare_runs(saved, pd.read_parquet(again / CHIP_FILE), rtol, atol,
                                                key=list(CHIP_KEY))
    result.differences = pd.concat([d for d in (result.differences, diffs) if len(d)] or [diffs],
                                   ignore_index=True)
    result.within_tolerance += within
    result.max_relative_difference = max(result.max_relative_difference, max_rel)


def seed_differences(saved: dict, replicated: dict) -> list[str]:
    """The manifest's root seed and per-run seeds against those of the replication."""
    notes = []
    if saved.get("root_seed") != replicated.get("root_seed"):
        notes.append(f"root_seed {shown(saved.get('root_seed'))} in the manifest, "
                     f"{replicated.get('root_seed')} in the experiment it records")
    again = {r["run_id"]: r["seed"] for r in replicated.get("runs") or []}
    runs = [r for r in saved.get("runs") or [] if isinstance(r, dict)]
    wrong = [r.get("run_id") for r in runs if again.get(r.get("run_id")) != r.get("seed")]
    if wrong or len(runs) != len(again):
        notes.append(f"the seeds of {len(wrong)} runs in the manifest are not the ones the experiment derives"
                     + (f" (first: run {shown(wrong[0])})" if wrong else "")
                     + ("" if len(runs) == len(again)
                        else f"; it lists {len(runs)} runs, the replication {len(again)}"))
    return notes


def report_text(r: Replication, manifest_path: str | Path) -> str:
    tol = ", ".join(f"{k}={v:g}" for k, v in (("rtol", r.rtol), ("atol", r.atol)) if v is not None)
    if r.identical and r.within_tolerance == 0:
        return f"replicated: {r.runs} runs, all values identical"
    if r.identical:
        return (f"replicated within {tol}: {r.runs} runs; max relative difference "
                f"{r.max_relative_difference:.3g}; {r.within_tolerance} values not bit-identical")
    lines = [f"NOT replicated{' within ' + tol if tol else ''}: {manifest_path}"]
    for name, why in r.altered_files:
        lines.append(f"  file {one_line(name)}: {why}")
    for note in r.seed_differences:
        lines.append(f"  manifest: {one_line(note)}")
    if r.missing_runs:
        lines.append(f"  {len(r.missing_runs)} saved runs were not reproduced: "
                     f"{', '.join(r.missing_runs[:10])}")
    if r.extra_runs:
        lines.append(f"  {len(r.extra_runs)} replicated runs are not in the saved data: "
                     f"{', '.join(r.extra_runs[:10])}")
    d = r.differences
    if d is not None and not d.empty:
        runs = d["run_id"].nunique()
        cols = ", ".join(sorted(d["column"].unique()))
        lines.append(f"  {len(d)} values differ in {runs} runs; columns: {cols}; max relative difference "
                     f"{r.max_relative_difference:.3g}")
        shown = d.head(MAX_ROWS_SHOWN).to_string(index=False, formatters={
            "saved": _exact, "replicated": _exact})
        lines += ["    " + line for line in shown.splitlines()]
        if len(d) > MAX_ROWS_SHOWN:
            lines.append(f"    ... and {len(d) - MAX_ROWS_SHOWN} more")
    return "\n".join(lines)


def _exact(value) -> str:
    """Full precision for floats, so a difference in the 17th digit is visible."""
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)
