"""Figures and sensitivity tables from a finished sweep (``chipstack report DIR``, INTERFACES §3 and §5).

``write_report(out_dir)`` reads a sweep folder (``runs.parquet``, ``chip_sales.parquet`` when there is one,
``final.csv``, ``summary.csv``, ``manifest.json``) and writes, each file atomically:

* ``by_maker.csv`` (:mod:`model.analysis.by_maker`) and ``by_chip.csv`` (:mod:`model.analysis.by_chip`):
  units and revenue per chipmaker, and units, revenue and FLOP-based compute per chip, per quarter and
  design point;

* ``figures/heatmap_us_stack_share.png`` - final US stack share (mean ± 95% CI half-width) by US export
  regime × Beijing's stance, one panel per Huawei 2026 capacity scenario when that varies (grid
  experiments where both ``export_regime`` and ``china_import_policy`` vary);
* ``figures/heatmap_us_share_legal.png`` - the same for the US share bought through legal sales since the
  start (issue 26: what the policy debate means by the US stack), when the model reports it;
* ``figures/timeseries_us_stack_share.png`` - the US stack share per quarter with 95% bands of the mean
  across runs, one line per export regime (or per value of the first varying parameter), one panel per
  Chinese stance when it varies;
* ``figures/tradeoff.png`` - the policy dilemma in one picture: final US stack share against China's
  installed compute per design point, with 95% CI error bars;
* ``figures/response_<parameter>.png`` - for each numeric grid parameter: final US stack share and
  China's compute against it, with 95% bands;
* for sampled designs (``[sample]``): ``sensitivity.csv`` and ``figures/sensitivity.png`` - sensitivity
  of the final US stack share and China's compute to the sampled parameters (Sobol S1/ST for ``sobol``,
  Morris mu*/sigma for ``morris``, partial rank correlation coefficients (PRCC) for ``lhs``), computed
  on the mean over replications of each sample point, per grid cell for ``grid+sample`` designs; and
  ``figures/sample_scatter.png`` - the final US stack share against each sampled parameter.

Figures that do not apply (their axes do not vary) are skipped, with a note saying why.
``checked_report(folder)`` is what ``chipstack report DIR`` runs: it checks that ``folder`` is a sweep
folder (``UsageError`` otherwise), writes the report and returns it (the CLI prints what it wrote).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from model.analysis.by_chip import by_chip_table
from model.analysis.by_maker import by_maker_table
from model.analysis.labels import is_numeric
from model.analysis.sensitivity import sensitivity_figure, sensitivity_table
from model.analysis.sweep_data import Sweep, check_data_files, check_sweep_dir, load_sweep
from model.analysis.sweep_figures import (
    heatmap_figure,
    response_figure,
    sample_scatter_figure,
    save_figure,
    timeseries_figure,
    tradeoff_figure,
)
from model.sweep.errors import UsageError, one_line, shown
from model.sweep.io import write_atomic
from model.sweep.store import check_no_symlinks, folder_lock

__all__ = ["Report", "Sweep", "build_report", "check_sweep_dir", "checked_report", "heatmap_figure",
           "load_sweep", "write_report"]


@dataclass
class Report:
    paths: list[Path]
    notes: list[str]


#: Parameter names that may name a figure file (``response_<parameter>.png``); others are skipped.
SAFE_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
#: Reporters drawn as a heatmap beside the sweep's outcome when the model reports them: the US share
#: bought through legal sales since the start (what the policy debate means by the US stack).
CHANNEL_HEATMAPS = ("us_share_legal",)


def build_report(out_dir: str | Path, formats: tuple[str, ...] = ("png",)) -> Report:
    """Write the report of a sweep folder; return the written paths and notes on what was skipped.

    Every file goes inside the folder: ``figures`` must be a real folder there (not a link, not a file),
    and a figure named after a parameter is skipped when the name is not letters, digits and ``_``."""
    sweep = load_sweep(out_dir)
    figdir = sweep.dir / "figures"
    check_no_symlinks(sweep.dir, "report")
    if figdir.exists() and not figdir.is_dir():
        raise UsageError(f"{shown(figdir)}: not a folder; "
                         f"allowed: a sweep folder whose 'figures' is a folder (move the file away)")
    paths: list[Path] = []
    notes = list(sweep.notes)

    def emit(fig, name: str, why_not: str) -> None:
        if fig is None:
            notes.append(f"{name}: skipped ({why_not})")
        else:
            paths.extend(save_figure(fig, figdir / name, formats))

    for name, table, why_not in (
            ("by_maker.csv", by_maker_table(sweep),
             "runs.parquet has no per-maker reporters or lacks a design column"),
            ("by_chip.csv", by_chip_table(sweep),
             "the sweep has no chip_sales.parquet (a model without a per-chip table, or an older sweep)")):
        if table.empty:
            notes.append(f"{name}: skipped ({why_not})")
        else:
            write_atomic(sweep.dir / name, lambda tmp, table=table: table.to_csv(tmp, index=False))
            paths.append(sweep.dir / name)
    outcome = sweep.outcome
    for reporter in dict.fromkeys((outcome, *(r for r in CHANNEL_HEATMAPS if sweep.has(r)))):
        emit(heatmap_figure(sweep, reporter), f"heatmap_{reporter}.png",
             "export_regime and china_import_policy do not both vary in the grid")
    emit(timeseries_figure(sweep, outcome), f"timeseries_{outcome}.png", "no data")
    if sweep.has("us_stack_share", "china_compute_h100e"):
        emit(tradeoff_figure(sweep), "tradeoff.png", "only one design point")
    for p in sweep.grid_params:
        if not SAFE_NAME.fullmatch(p):
            notes.append(f"response figure of parameter {one_line(shown(p))}: skipped (not a parameter name "
                         f"that can name a file)")
        elif is_numeric(sweep.final[p]) and sweep.final[p].nunique() >= 2:
            emit(response_figure(sweep, p), f"response_{p}.png", "not a numeric grid parameter")
    if sweep.sample_params:
        table, snotes = sensitivity_table(sweep)
        notes += snotes
        if not table.empty:
            path = sweep.dir / "sensitivity.csv"
            write_atomic(path, lambda tmp: table.to_csv(tmp, index=False))
            paths.append(path)
        emit(sensitivity_figure(sweep, table), "sensitivity.png", "no sensitivity indices computed")
        emit(sample_scatter_figure(sweep, outcome), "sample_scatter.png", "no numeric sampled parameter")
    return Report(paths, notes)


def write_report(out_dir: Path) -> list[Path]:
    """Write ``by_maker.csv``, ``by_chip.csv``, ``figures/*.png`` (and ``sensitivity.csv`` for sampled
    designs); return the written paths."""
    return build_report(out_dir).paths


def checked_report(folder: str, formats: tuple[str, ...] = ("png",)) -> Report:
    """``chipstack report DIR``: check DIR is a finished sweep folder whose data files match the sha256
    its manifest recorded, write its report, record the files written as derived in the manifest
    (:meth:`Manifest.record_derived`) and return the report (its paths and notes)."""
    path = check_sweep_dir(folder)
    check_no_symlinks(path, "report")
    with folder_lock(path):  # no sweep writes there meanwhile
        manifest = check_data_files(path)
        try:
            report = build_report(path, formats)
        except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:
            raise UsageError(f"{shown(path)}: cannot draw the report from this folder ({type(exc).__name__}: "
                             f"{exc}); allowed: a sweep folder as 'chipstack sweep' wrote it") from None
        manifest.record_derived(report.paths)  # redrawn files: recorded as derived, not as data
    return report
