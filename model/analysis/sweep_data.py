"""Reading a finished sweep folder (``runs.parquet``, ``final.csv``, ``summary.csv``, ``manifest.json``)
for the analysis: :func:`load_sweep` returns a :class:`Sweep`; the manifest is read and its file
hashes checked through :class:`model.sweep.manifest.Manifest`."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from model.core.chip_market import MODEL_REPORTERS
from model.sweep.chip_table import CHIP_FILE
from model.sweep.errors import UsageError, shown
from model.sweep.manifest import MANIFEST, Manifest

#: The files a sweep folder must hold (INTERFACES §5).
SWEEP_FILES = ("runs.parquet", "final.csv", "summary.csv", "manifest.json")
#: ChipMarketModel's headline reporter (figures show the first reporter of other models).
HEADLINE = "us_stack_share"
ID_COLUMNS = ("run_id", "replication", "seed", "sample_index", "step", "quarter", "n_runs")


@dataclass
class Sweep:
    """A finished sweep folder, read once."""

    dir: Path
    manifest: dict
    final: pd.DataFrame
    summary: pd.DataFrame
    varying: list[str]
    grid_params: list[str]
    sample_params: list[str]
    method: str | None  # "sobol" | "morris" | "lhs" | None
    notes: list[str] = field(default_factory=list)
    #: The model's reporters (the manifest's ``reporters``; ChipMarketModel's for older manifests).
    reporters: list[str] = field(default_factory=lambda: list(MODEL_REPORTERS))

    @property
    def outcome(self) -> str:
        """The reporter figures show by default: ChipMarketModel's headline ``us_stack_share`` when the
        model has it, else the model's first reporter."""
        return HEADLINE if HEADLINE in self.reporters else self.reporters[0]

    def has(self, *reporters: str) -> bool:
        """Whether the sweep's model reports all of ``reporters``."""
        return all(r in self.reporters for r in reporters)

    @property
    def runs_path(self) -> Path:
        return self.dir / "runs.parquet"

    @property
    def chips_path(self) -> Path | None:
        """``chip_sales.parquet`` when the sweep recorded one (a model class with a per-chip table)."""
        return self.dir / CHIP_FILE if CHIP_FILE in (self.manifest.get("files") or {}) else None

    @property
    def name(self) -> str:
        return str(self.manifest.get("experiment", {}).get("name") or self.dir.name)

    @property
    def sample(self) -> dict:
        return (self.manifest.get("design") or {}).get("sample") or {}

    @property
    def last_quarter(self) -> str:
        """Calendar quarter of the last step (e.g. '2030Q4')."""
        if "quarter" in self.final:
            return str(self.final["quarter"].iloc[0])
        q = self.runs(["step", "quarter"])
        return str(q.loc[q["step"].idxmax(), "quarter"]) if len(q) else "the last quarter"

    @property
    def run_columns(self) -> list[str]:
        """The column names of ``runs.parquet`` (its schema only); [] when it cannot be read."""
        try:
            import pyarrow.parquet as pq

            return list(pq.read_schema(self.runs_path).names)
        except Exception:  # noqa: BLE001 - an unreadable file says so when its columns are read
            return []

    def runs(self, columns: list[str]) -> pd.DataFrame:
        """Columns of ``runs.parquet`` (read lazily: the file holds one row per run and step)."""
        try:
            return pd.read_parquet(self.runs_path, columns=list(dict.fromkeys(columns)))
        except Exception as exc:  # noqa: BLE001 - any reader error is bad input
            raise UsageError(f"{self.runs_path}: cannot read the columns {columns}: {exc}") from None


def check_sweep_dir(path: str | Path, require_manifest: bool = True) -> Path:
    """Return ``path`` as a Path if it is a sweep folder; raise UsageError naming what is missing."""
    path = Path(path)
    expected = ", ".join(SWEEP_FILES)
    if not path.exists():
        raise UsageError(f"{path}: no such folder; expected a sweep output folder "
                         f"(from 'chipstack sweep') holding {expected}")
    if not path.is_dir():
        raise UsageError(f"{path}: not a folder; expected a sweep output folder holding {expected}")
    needed = SWEEP_FILES if require_manifest else tuple(f for f in SWEEP_FILES if f != "manifest.json")
    missing = [f for f in needed if not (path / f).is_file()]
    if missing:
        raise UsageError(f"{path}: not a finished sweep folder: missing {', '.join(missing)} "
                         f"(expected {expected}, as written by 'chipstack sweep')")
    return path


def check_data_files(path: Path) -> Manifest:
    """The manifest of the sweep folder ``path``, once its data tables (``runs.parquet``, ``final.csv``,
    ``summary.csv``) are recorded in it and match their sha256 (and ``chip_sales.parquet``, when recorded);
    else UsageError naming the file. What ``report``, ``robust``, ``discover`` and ``game`` read is what
    the sweep wrote (issue 31 item 3)."""
    manifest = Manifest.load(path)
    tables = tuple(f for f in SWEEP_FILES if f != MANIFEST)
    unrecorded = manifest.unrecorded(tables)
    tables += (CHIP_FILE,) if CHIP_FILE in manifest.files else ()
    if unrecorded:
        raise UsageError(f"{shown(manifest.path)}: key files has no sha256 of {unrecorded[0]}, so it "
                         f"cannot be checked; allowed: a manifest recording {', '.join(tables)}, as "
                         f"'chipstack sweep' writes it (run the sweep again)")
    altered = manifest.altered_files(tables)
    if altered:
        name, why = altered[0]
        raise UsageError(f"{shown(path / name)}: {why}; "
                         f"allowed: a sweep folder as 'chipstack sweep' wrote "
                         f"it (check it with 'chipstack replicate', or run the sweep again)")
    return manifest


def checked_sweep(folder: str | Path) -> Sweep:
    """:func:`load_sweep` of a sweep folder whose data files match its manifest (:func:`check_data_files`)."""
    path = check_sweep_dir(folder)
    check_data_files(path)
    return load_sweep(path)


def load_sweep(out_dir: str | Path) -> Sweep:
    """Read a sweep folder. Raises UsageError on missing or unreadable files."""
    out_dir = check_sweep_dir(out_dir, require_manifest=False)
    notes: list[str] = []
    manifest: dict = {}
    if (out_dir / MANIFEST).is_file():
        manifest = Manifest.load(out_dir).data
        notes += _check_hashes(out_dir, manifest)
    else:
        notes.append("manifest.json missing: varying parameters inferred from summary.csv")
    frames = {}
    for name in ("final.csv", "summary.csv"):
        try:
            frames[name] = pd.read_csv(out_dir / name)
        except Exception as exc:  # noqa: BLE001
            raise UsageError(f"{out_dir / name}: cannot read it as CSV ({exc})") from None
    final, summary = frames["final.csv"], frames["summary.csv"]
    if final.empty or summary.empty:
        raise UsageError(f"{out_dir}: final.csv or summary.csv holds no rows; "
                         "expected at least one finished run")

    reporters = manifest.get("reporters")
    if not (isinstance(reporters, list) and reporters and all(isinstance(r, str) for r in reporters)):
        reporters = list(MODEL_REPORTERS)  # a manifest older than the field: ChipMarketModel's
    reporter_cols = {f"{r}{s}" for r in reporters for s in ("", "_mean", "_sd", "_ci_low", "_ci_high")}
    varying = manifest.get("varying")
    if not isinstance(varying, list):
        varying = [c for c in summary.columns if c not in reporter_cols and c not in ID_COLUMNS]
    varying = [str(v) for v in varying]
    missing = [v for v in varying if v not in final.columns or v not in summary.columns]
    if missing:
        raise UsageError(f"{out_dir}: varying parameter(s) {missing} listed in manifest.json "
                         "are not columns of final.csv and summary.csv")
    for r in [r for r in (HEADLINE, "china_compute_h100e") if r in reporters] or reporters[:1]:
        if r not in final.columns or f"{r}_mean" not in summary.columns:
            raise UsageError(f"{out_dir}: final.csv / summary.csv lack the reporter {r!r} "
                             f"(expected columns {r} and {r}_mean, {r}_ci_low, {r}_ci_high)")

    design = manifest.get("design") or {}
    sample = design.get("sample") or {}
    grid = design.get("grid") or {}
    problem = sample.get("salib_problem") or {}
    sample_params = [str(n) for n in (problem.get("names") or list((sample.get("ranges") or {}).keys()))]
    if not sample_params and "sample_index" in final.columns and not design:
        sample_params = [v for v in varying if pd.api.types.is_float_dtype(final[v])]
    sample_params = [p for p in sample_params if p in varying]
    grid_params = [p for p in varying if p not in sample_params and (not grid or p in grid)]
    grid_params += [p for p in varying if p not in sample_params and p not in grid_params]
    method = sample.get("method") if sample_params else None
    if sample_params and method is None:
        notes.append("sampled parameters found but the sampling method is unknown: "
                     "sensitivity analysis uses partial rank correlations")
        method = "lhs"
    return Sweep(out_dir, manifest, final, summary, varying, grid_params, sample_params, method, notes,
                 [str(r) for r in reporters])


def _check_hashes(out_dir: Path, manifest: dict) -> list[str]:
    """Notes for data files whose sha256 differs from the manifest's (files the manifest records
    without a sha256, or that are missing, are not checked here)."""
    recorded = Manifest(out_dir, manifest)
    names = tuple(name for name, digest in recorded.files.items()
                  if name in SWEEP_FILES and isinstance(digest, str))
    return [f"warning: {out_dir / name} differs from the sha256 recorded in manifest.json"
            for name, why in recorded.altered_files(names) if why != "missing"]
