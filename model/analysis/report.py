"""Figures and sensitivity tables from a finished sweep (``chipstack report DIR``, INTERFACES §3 and §5).

``write_report(out_dir)`` reads a sweep folder (``runs.parquet``, ``final.csv``, ``summary.csv``,
``manifest.json``) and writes, each file atomically:

* ``figures/heatmap_us_stack_share.png`` - final US stack share (mean ± 95% CI half-width) by US export
  regime × Beijing's stance, one panel per Huawei 2026 capacity scenario when that varies (grid
  experiments where both ``export_regime`` and ``china_import_policy`` vary);
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
``cmd_report(args)`` is the command-line entry: it checks that ``args.dir`` is a sweep folder
(``UsageError`` otherwise), writes the report and prints what it wrote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.analysis.labels import is_numeric
from model.analysis.sensitivity import sensitivity_figure, sensitivity_table
from model.analysis.sweep_data import Sweep, check_sweep_dir, load_sweep
from model.analysis.sweep_figures import (
    heatmap_figure,
    response_figure,
    sample_scatter_figure,
    save_figure,
    timeseries_figure,
    tradeoff_figure,
)
from model.sweep.io import write_atomic

__all__ = ["Report", "Sweep", "build_report", "check_sweep_dir", "cmd_report", "heatmap_figure", "load_sweep",
           "write_report"]


@dataclass
class Report:
    paths: list[Path]
    notes: list[str]


def build_report(out_dir: str | Path) -> Report:
    """Write the report of a sweep folder; return the written paths and notes on what was skipped."""
    sweep = load_sweep(out_dir)
    figdir = sweep.dir / "figures"
    paths: list[Path] = []
    notes = list(sweep.notes)

    def emit(fig, name: str, why_not: str) -> None:
        if fig is None:
            notes.append(f"{name}: skipped ({why_not})")
        else:
            paths.append(save_figure(fig, figdir / name))

    emit(heatmap_figure(sweep), "heatmap_us_stack_share.png",
         "export_regime and china_import_policy do not both vary in the grid")
    emit(timeseries_figure(sweep), "timeseries_us_stack_share.png", "no data")
    emit(tradeoff_figure(sweep), "tradeoff.png", "only one design point")
    for p in sweep.grid_params:
        if is_numeric(sweep.final[p]) and sweep.final[p].nunique() >= 2:
            emit(response_figure(sweep, p), f"response_{p}.png", "not a numeric grid parameter")
    if sweep.sample_params:
        table, snotes = sensitivity_table(sweep)
        notes += snotes
        if not table.empty:
            path = sweep.dir / "sensitivity.csv"
            write_atomic(path, lambda tmp: table.to_csv(tmp, index=False))
            paths.append(path)
        emit(sensitivity_figure(sweep, table), "sensitivity.png", "no sensitivity indices computed")
        emit(sample_scatter_figure(sweep), "sample_scatter.png", "no numeric sampled parameter")
    return Report(paths, notes)


def write_report(out_dir: Path) -> list[Path]:
    """Write ``figures/*.png`` (and ``sensitivity.csv`` for sampled designs); return the written paths."""
    return build_report(out_dir).paths


def cmd_report(args) -> int:
    """``chipstack report DIR``: check DIR is a finished sweep folder, write its report, list the files."""
    path = check_sweep_dir(args.dir)
    report = build_report(path)
    for p in report.paths:
        print(f"wrote {p}")
    for note in report.notes:
        print(f"note: {note}")
    return 0
