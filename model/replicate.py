"""``chipstack replicate DIR/manifest.json``: re-run a finished sweep and compare every number.

A published sweep must be re-runnable from its manifest. This module

1. checks that every saved output file still has the sha256 the manifest recorded (a file altered
   after the sweep is reported, and fails the replication);
2. warns when the package versions, the git commit or the lock file differ from the manifest's
   (the numbers may still agree, but the user should know);
3. re-runs the experiment the manifest describes (``manifest["experiment"]["spec"]``, the same
   design, seeds and parameters) into a temporary folder, on the process pool or Dask;
4. compares the replicated ``runs.parquet`` with the saved one value by value (exact equality,
   NaN equal to NaN), and prints ``replicated: N runs, all values identical`` (exit 0) or a table
   of the runs and columns that differ (exit 1).
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import UsageError
from .io import sha256_file

KEY = ["run_id", "step"]
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

    @property
    def identical(self) -> bool:
        return (not self.altered_files and not self.missing_runs and not self.extra_runs
                and (self.differences is None or self.differences.empty))


def read_manifest(path: str | Path) -> tuple[Path, dict]:
    """Load and sanity-check a sweep manifest. Raises UsageError."""
    path = Path(path)
    if path.is_dir():
        path = path / "manifest.json"
    if not path.is_file():
        raise UsageError(f"{path}: no such manifest; allowed: DIR/manifest.json written by 'chipstack sweep'")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(f"{path}: not a readable JSON manifest ({exc}); allowed: a manifest written by "
                         f"'chipstack sweep'") from None
    if not isinstance(manifest, dict) or "chipstack_manifest" not in manifest:
        raise UsageError(f"{path}: not a chipstack sweep manifest (no 'chipstack_manifest' key)")
    spec = manifest.get("experiment", {}).get("spec")
    if not isinstance(spec, dict):
        raise UsageError(f"{path}: key experiment.spec is missing; allowed: a manifest written by "
                         f"'chipstack sweep'")
    if manifest.get("status") != "complete":
        raise UsageError(f"{path}: status is {manifest.get('status')!r}; allowed: a finished sweep "
                         f"(status 'complete'); finish it with 'chipstack sweep ... --resume'")
    if "runs.parquet" not in manifest.get("files", {}):
        raise UsageError(f"{path}: key files has no runs.parquet; allowed: a manifest of a finished sweep")
    return path, manifest


def check_files(folder: Path, manifest: dict) -> list[tuple[str, str]]:
    """Saved files whose sha256 differs from the manifest's, or that are missing."""
    altered = []
    for name, digest in manifest.get("files", {}).items():
        path = folder / name
        if not path.is_file():
            altered.append((name, "missing"))
        elif sha256_file(path) != digest:
            altered.append((name, "sha256 differs from the manifest: altered after the sweep"))
    return altered


def environment_warnings(manifest: dict) -> list[str]:
    """Differences between this environment and the one that made the sweep."""
    from .experiment import REPO_ROOT
    from .runner import git_state, package_versions

    notes = []
    saved, now = manifest.get("versions") or {}, package_versions()
    for name in sorted(set(saved) | set(now)):
        if saved.get(name) != now.get(name):
            notes.append(f"{name} {saved.get(name)} in the manifest, {now.get(name)} here")
    saved_git, now_git = manifest.get("git") or {}, git_state() or {}
    if saved_git.get("commit") and saved_git.get("commit") != now_git.get("commit"):
        notes.append(f"git commit {saved_git.get('commit')} in the manifest, {now_git.get('commit')} here")
    lock = REPO_ROOT / "requirements.lock"
    saved_lock = manifest.get("requirements_lock_sha256")
    if saved_lock and lock.is_file() and sha256_file(lock) != saved_lock:
        notes.append("requirements.lock differs from the one recorded in the manifest")
    return notes


def compare_runs(saved: pd.DataFrame, replicated: pd.DataFrame) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Cells that differ (long format), run ids only saved, run ids only replicated."""
    saved_ids, new_ids = set(saved["run_id"]), set(replicated["run_id"])
    missing = sorted(saved_ids - new_ids)
    extra = sorted(new_ids - saved_ids)
    common = sorted(saved_ids & new_ids)
    a = saved[saved["run_id"].isin(common)].sort_values(KEY).reset_index(drop=True)
    b = replicated[replicated["run_id"].isin(common)].sort_values(KEY).reset_index(drop=True)
    rows = []
    if len(a) != len(b) or not (a[KEY].to_numpy() == b[KEY].to_numpy()).all():
        merged = a[KEY].merge(b[KEY], how="outer", indicator=True)
        for _, r in merged[merged["_merge"] != "both"].iterrows():
            rows.append((r["run_id"], r["step"], "(row)", "present" if r["_merge"] == "left_only" else "absent",
                         "present" if r["_merge"] == "right_only" else "absent"))
        a = a.merge(b[KEY], on=KEY)
        b = b.merge(a[KEY], on=KEY)
    for column in [c for c in a.columns if c not in KEY]:
        if column not in b.columns:
            rows.append(("*", "*", column, "present", "absent"))
            continue
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if x.dtype.kind in "fc" and y.dtype.kind in "fc":
            differ = ~((x == y) | (np.isnan(x) & np.isnan(y)))
        else:
            differ = np.asarray(pd.Series(x).astype(str) != pd.Series(y).astype(str))
        for i in np.flatnonzero(differ):
            rows.append((a.at[i, "run_id"], int(a.at[i, "step"]), column, x[i], y[i]))
    for column in [c for c in b.columns if c not in a.columns]:
        rows.append(("*", "*", column, "absent", "present"))
    diffs = pd.DataFrame(rows, columns=["run_id", "step", "column", "saved", "replicated"])
    return diffs, missing, extra


def replicate(manifest_path: str | Path, workers: int | None = None, scheduler: str | None = None,
              progress: bool = True) -> Replication:
    """Re-run the sweep of ``manifest_path`` in a temporary folder and compare (see module doc)."""
    from .experiment import experiment_from_dict
    from .runner import run_sweep

    path, manifest = read_manifest(manifest_path)
    folder = path.parent
    altered = check_files(folder, manifest)
    experiment = experiment_from_dict(manifest["experiment"]["spec"], source=f"{path} (experiment.spec)")
    result = Replication(runs=len(manifest.get("runs", [])), rows=0, altered_files=altered,
                         warnings=environment_warnings(manifest))
    if any(name == "runs.parquet" and why == "missing" for name, why in altered):
        return result
    tmp = Path(tempfile.mkdtemp(prefix="chipstack-replicate-"))
    try:
        sweep = run_sweep(experiment, tmp / "sweep", workers=workers, scheduler=scheduler,
                          progress=progress, report=False)
        if sweep.interrupted:
            raise KeyboardInterrupt
        saved = pd.read_parquet(folder / "runs.parquet")
        again = pd.read_parquet(tmp / "sweep" / "runs.parquet")
        result.rows = len(saved)
        result.differences, result.missing_runs, result.extra_runs = compare_runs(saved, again)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def report_text(r: Replication, manifest_path: str | Path) -> str:
    if r.identical:
        return f"replicated: {r.runs} runs, all values identical"
    lines = [f"NOT replicated: {manifest_path}"]
    for name, why in r.altered_files:
        lines.append(f"  file {name}: {why}")
    if r.missing_runs:
        lines.append(f"  {len(r.missing_runs)} saved runs were not reproduced: {', '.join(r.missing_runs[:10])}")
    if r.extra_runs:
        lines.append(f"  {len(r.extra_runs)} replicated runs are not in the saved data: {', '.join(r.extra_runs[:10])}")
    d = r.differences
    if d is not None and not d.empty:
        runs = d["run_id"].nunique()
        cols = ", ".join(sorted(d["column"].unique()))
        lines.append(f"  {len(d)} values differ in {runs} runs; columns: {cols}")
        shown = d.head(MAX_ROWS_SHOWN).to_string(index=False, formatters={
            "saved": _exact, "replicated": _exact})
        lines += ["    " + line for line in shown.splitlines()]
        if len(d) > MAX_ROWS_SHOWN:
            lines.append(f"    ... and {len(d) - MAX_ROWS_SHOWN} more")
    return "\n".join(lines)


def _exact(value) -> str:
    """Full precision for floats, so a difference in the 17th digit is visible."""
    return repr(float(value)) if isinstance(value, (float, np.floating)) else str(value)


def cmd_replicate(args) -> int:
    """``chipstack replicate DIR/manifest.json [--workers N] [--scheduler ADDRESS]``."""
    r = replicate(args.manifest, workers=getattr(args, "workers", None),
                  scheduler=getattr(args, "scheduler", None))
    for note in r.warnings:
        print(f"chipstack: warning: {note}", file=sys.stderr)
    print(report_text(r, args.manifest))
    return 0 if r.identical else 1
