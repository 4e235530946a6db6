"""The end of a sweep (INTERFACES §5): the saved parts merged into ``runs.parquet`` (their chip rows
into ``chip_sales.parquet``, for a model class with a per-chip table), then
``final.csv``, ``summary.csv``, ``failures.csv`` (when runs failed), the ``on_finished`` hook (the
report, whose files the manifest records as derived) and ``manifest.json``, whose content is built
here (:func:`build_manifest`).

Called by :func:`model.sweep.runner.run_sweep` with the sweep's main-process state (the runner's
``_Sweep``: experiment, design, runs, parts, failures); the folder's files are written by
:mod:`model.sweep.store` and the manifest by :class:`model.sweep.manifest.Manifest`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from model.core.paths import REQUIREMENTS_LOCK
from model.sweep.chip_table import CHIP_FILE
from model.sweep.io import sha256_or_none
from model.sweep.io import utc_now as now
from model.sweep.manifest import MANIFEST_VERSION, Manifest
from model.sweep.protocol import reporter_names
from model.sweep.provenance import git_state, package_versions, platform_info
from model.sweep.store import in_design_order, merge_parts, write_final
from model.sweep.tables import write_failures, write_summary

#: Manifest key set when ``on_finished`` (the report) failed: ``--resume`` draws it again.
REPORT_FAILED = "report_failed"
#: What ``on_finished`` receives (the sweep folder) and returns (the files it wrote there).
OnFinished = Callable[[Path], list[Path]]


def finalize(sweep: Any, started: str, on_finished: OnFinished | None, executor_name: str,
             warn: Callable[[str], None]) -> list[Path]:
    """Merge the parts and write every output file; returns the files written. ``sweep``: the
    runner's ``_Sweep``; ``warn``: where a failed ``on_finished`` is reported."""
    out = sweep.out_dir
    keep = {run.run_id for run in sweep.runs}
    chips = out / CHIP_FILE if sweep.chip_schema is not None else None
    final = merge_parts(sweep.parts, out / "runs.parquet", sweep.schema, sweep.experiment.steps, keep, chips)
    final = in_design_order(final, sweep.runs)
    write_final(final, out / "final.csv")
    write_summary(final, sweep.design, sweep.runs, out / "summary.csv",
                  reporter_names(sweep.experiment.model_cls))
    failures_path = out / "failures.csv"
    if sweep.failures:
        write_failures(sweep.failures, sweep.runs, failures_path)
    else:
        failures_path.unlink(missing_ok=True)
    files = [out / "runs.parquet", *([chips] if chips else []), out / "final.csv", out / "summary.csv"]
    files += [failures_path] if sweep.failures else []
    counts = {"total": len(sweep.runs), "done": len(sweep.done_ids()), "failed": len(sweep.failures)}
    manifest = Manifest(out, build_manifest(sweep, started, counts, executor_name))
    manifest.write(files, status="reporting")
    extra = _call_on_finished(on_finished, out, warn) if on_finished is not None else None
    if extra is None and on_finished is not None:
        manifest.data[REPORT_FAILED] = True  # drawn again by the next --resume (finish_report)
    derived = [p for p in extra or [] if p.is_file()]  # the report's: a record, not checked (manifest.py)
    manifest.data["finished"] = now()
    manifest.write(files, status="complete", derived=derived)
    if not sweep.failures:
        shutil.rmtree(sweep.parts_dir, ignore_errors=True)
    return files + derived + [manifest.path]


def _call_on_finished(on_finished: OnFinished, out: Path, warn: Callable[[str], None]) -> list[Path] | None:
    """The files ``on_finished`` wrote; if it fails (None) the data are saved anyway, with a warning."""
    try:
        return [Path(p) for p in on_finished(out)]
    except Exception as exc:  # the data are saved; a broken figure must not lose them
        warn(f"the report failed ({type(exc).__name__}: {exc}); the sweep's data are saved; run the same "
             f"command with --resume (or 'chipstack report {out}') to draw it")
        return None


def finish_report(manifest: Manifest, on_finished: OnFinished | None,
                  warn: Callable[[str], None]) -> list[Path]:
    """``--resume`` of a finished sweep whose report failed (a full disk while drawing): draw it now and
    record its files in the manifest; the files written (none when there was nothing to draw)."""
    if not manifest.data.get(REPORT_FAILED) or on_finished is None:
        return []
    extra = _call_on_finished(on_finished, manifest.folder, warn)
    if extra is None:
        return []
    drawn = [p for p in extra if p.is_file()]
    del manifest.data[REPORT_FAILED]
    manifest.data["status"] = "complete"
    manifest.record_derived(drawn)  # the report's files: a record, not checked (as after a sweep)
    return drawn


# ---------------------------------------------------------------------------------------------
# Manifest
def build_manifest(sweep: Any, started: str, counts: dict, executor_name: str) -> dict:
    exp, design = sweep.experiment, sweep.design
    return {
        "chipstack_manifest": MANIFEST_VERSION,
        "status": "running",
        "experiment": {
            "name": exp.name, "description": exp.description, "steps": exp.steps,
            "replications": exp.replications, "seed": exp.seed,
            "source": exp.source, "source_sha256": sha256_or_none(exp.source),
            "parameters": exp.parameters, "grid": exp.grid,
            "sample": exp.sample.as_dict() if exp.sample else None,
            "spec": exp.spec,
        },
        "fixed": exp.fixed_parameters(),
        "root_seed": exp.seed,
        "varying": exp.varying,
        "design": design.manifest_entry(exp),
        "fingerprint": exp.fingerprint(),
        "model": exp.model,
        "reporters": list(reporter_names(exp.model_cls)),
        "runs": [{"run_id": r.run_id, "replication": r.replication, "seed": r.seed,
                  "sample_index": r.sample_index, "params": r.values} for r in sweep.runs],
        "rounds": sweep.rounds,
        "failed_run_ids": [f["run_id"] for f in sweep.failures],
        "versions": package_versions(),
        "git": git_state(),
        "platform": platform_info(),
        "requirements_lock_sha256": sha256_or_none(REQUIREMENTS_LOCK),
        "executor": executor_name,
        "workers": sweep.workers,
        "started": started,
        "finished": now(),
        "counts": counts,
        "files": {},
        "derived": {},
    }
