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

import json
import math
import warnings
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402
from scipy import stats  # noqa: E402

from model.sweep.errors import UsageError  # noqa: E402
from model.analysis.figures import quarter_axis  # noqa: E402
from model.sweep.io import atomic_path, sha256_file, write_atomic  # noqa: E402
from model.core.chip_market import MODEL_REPORTERS  # noqa: E402
from model.core.parameters import PARAMS_BY_NAME  # noqa: E402
from model.core.policy import CHINA_STANCES, US_REGIMES  # noqa: E402

#: The files a sweep folder must hold (INTERFACES §5).
SWEEP_FILES = ("runs.parquet", "final.csv", "summary.csv", "manifest.json")
#: Outputs whose sensitivity to the sampled parameters is analysed.
SENSITIVITY_OUTPUTS = ("us_stack_share", "china_compute_h100e")
DPI = 110
CONF_LEVEL = 0.95
#: Lines per figure before a varying parameter is pooled instead of drawn one line per value.
MAX_LINES = 8
#: Design points in the trade-off scatter above which error bars are left out (unreadable).
MAX_ERRORBAR_POINTS = 80
#: Resamples for the bootstrap confidence intervals of SALib's analyses.
NUM_RESAMPLES = 500

_ID_COLUMNS = ("run_id", "replication", "seed", "sample_index", "step", "quarter", "n_runs")
_ORDERS = {"export_regime": tuple(US_REGIMES), "china_import_policy": tuple(CHINA_STANCES)}
_NICE_NAMES = {
    "export_regime": "US export regime",
    "china_import_policy": "Beijing's stance on US chips",
    "huawei_capacity_2026": "Huawei 2026 capacity",
}
#: reporter -> (label, divisor, unit)
REPORTER_INFO: dict[str, tuple[str, float, str]] = {
    "us_stack_share": ("US stack share of installed compute", 1.0, "0-1"),
    "us_share_new": ("US share of new purchases", 1.0, "0-1"),
    "developers_on_us_stack": ("developers mostly on the US stack", 1.0, "share, 0-1"),
    "china_compute_h100e": ("China's installed AI compute", 1e6, "million H100e"),
    "nvidia_china_revenue_usd": ("Nvidia China revenue", 1e9, "billion USD per quarter"),
    "domestic_revenue_usd": ("domestic chipmakers' revenue", 1e9, "billion USD per quarter"),
    "domestic_ecosystem": ("domestic ecosystem maturity", 1.0, "0-1, CUDA = 1"),
    "capability_gap_months": ("capability gap", 1.0, "months behind US frontier"),
    "unmet_demand_h100e": ("unmet demand", 1e3, "thousand H100e per quarter"),
}
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


# --------------------------------------------------------------------------------------------------
# Reading a sweep folder
# --------------------------------------------------------------------------------------------------

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

    @property
    def runs_path(self) -> Path:
        return self.dir / "runs.parquet"

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


def load_sweep(out_dir: str | Path) -> Sweep:
    """Read a sweep folder. Raises UsageError on missing or unreadable files."""
    out_dir = check_sweep_dir(out_dir, require_manifest=False)
    notes: list[str] = []
    manifest: dict = {}
    mpath = out_dir / "manifest.json"
    if mpath.is_file():
        try:
            manifest = json.loads(mpath.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise UsageError(f"{mpath}: not valid JSON ({exc})") from None
        if not isinstance(manifest, dict):
            raise UsageError(f"{mpath}: expected a JSON object")
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

    reporter_cols = {f"{r}{s}" for r in MODEL_REPORTERS for s in ("", "_mean", "_sd", "_ci_low", "_ci_high")}
    varying = manifest.get("varying")
    if not isinstance(varying, list):
        varying = [c for c in summary.columns if c not in reporter_cols and c not in _ID_COLUMNS]
    varying = [str(v) for v in varying]
    missing = [v for v in varying if v not in final.columns or v not in summary.columns]
    if missing:
        raise UsageError(f"{out_dir}: varying parameter(s) {missing} listed in manifest.json "
                         "are not columns of final.csv and summary.csv")
    for r in ("us_stack_share", "china_compute_h100e"):
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
    return Sweep(out_dir, manifest, final, summary, varying, grid_params, sample_params, method, notes)


def _check_hashes(out_dir: Path, manifest: dict) -> list[str]:
    """Notes for data files whose sha256 differs from the manifest's."""
    notes = []
    files = manifest.get("files")
    if not isinstance(files, dict):
        return notes
    for name, entry in files.items():
        digest = entry.get("sha256") if isinstance(entry, dict) else entry
        path = out_dir / str(name)
        if name in SWEEP_FILES and isinstance(digest, str) and path.is_file():
            if sha256_file(path) != digest:
                notes.append(f"warning: {path} differs from the sha256 recorded in manifest.json")
    return notes


# --------------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------------

def param_label(name: str) -> str:
    """Axis label for a parameter, with its unit."""
    base = _NICE_NAMES.get(name, name.replace("_", " "))
    p = PARAMS_BY_NAME.get(name)
    if p is not None and p.unit and p.unit != "-":
        return f"{base} ({p.unit})"
    return base


def reporter_label(reporter: str) -> str:
    label, _, unit = REPORTER_INFO.get(reporter, (reporter.replace("_", " "), 1.0, ""))
    return f"{label} ({unit})" if unit else label


def _scale(reporter: str) -> float:
    return REPORTER_INFO.get(reporter, ("", 1.0, ""))[1]


def fmt_value(value: Any) -> str:
    """Short text for a parameter value: 600000 -> '600k', 0.25 -> '0.25', 'ban' -> 'ban'."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return str(value)
        if abs(v) >= 1e6:
            return f"{v / 1e6:g}M"
        if abs(v) >= 1e4:
            return f"{v / 1e3:g}k"
        return f"{v:g}"
    return str(value)


def ordered_values(name: str, values) -> list:
    """Distinct values of a parameter in a meaningful order (policy order, numeric, or as listed)."""
    uniq = list(pd.unique(pd.Series(list(values)).dropna()))
    order = _ORDERS.get(name)
    if order:
        known = [v for v in order if v in uniq]
        return known + sorted((v for v in uniq if v not in order), key=str)
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def mean_ci(values) -> tuple[float, float, float, int]:
    """Mean and 95% t-interval of the mean; the interval is NaN with fewer than two values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(x.mean())
    if n < 2:
        return m, math.nan, math.nan, n
    half = float(stats.t.ppf(0.5 + CONF_LEVEL / 2, n - 1) * x.std(ddof=1) / math.sqrt(n))
    return m, m - half, m + half, n


def _grouped_ci(df: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Per group of ``keys``: mean, ci_low, ci_high, n of ``value`` (t-interval, as ``mean_ci``)."""
    g = df.groupby(keys, sort=False, dropna=False)[value] if keys else None
    if g is None:
        m, lo, hi, n = mean_ci(df[value])
        return pd.DataFrame({"mean": [m], "ci_low": [lo], "ci_high": [hi], "n": [n]})
    out = g.agg(["mean", "std", "count"]).reset_index()
    tq = stats.t.ppf(0.5 + CONF_LEVEL / 2, np.maximum(out["count"] - 1, 1))
    half = np.where(out["count"] >= 2, tq * out["std"] / np.sqrt(out["count"]), np.nan)
    out["ci_low"] = out["mean"] - half
    out["ci_high"] = out["mean"] + half
    return out.rename(columns={"count": "n"}).drop(columns="std")


def cell_stats(sweep: Sweep, keys: list[str], reporter: str) -> pd.DataFrame:
    """Final ``reporter`` per combination of ``keys``: columns keys + mean, ci_low, ci_high, n.

    When ``keys`` are exactly the varying parameters the numbers come from ``summary.csv``; otherwise
    the runs of ``final.csv`` are pooled over the other varying parameters.
    """
    if keys and set(keys) == set(sweep.varying):
        s = sweep.summary
        out = s[keys].copy()
        out["mean"] = s[f"{reporter}_mean"]
        out["ci_low"] = s.get(f"{reporter}_ci_low", np.nan)
        out["ci_high"] = s.get(f"{reporter}_ci_high", np.nan)
        out["n"] = s["n_runs"] if "n_runs" in s else np.nan
        return out.reset_index(drop=True)
    return _grouped_ci(sweep.final, keys, reporter)


def _half_width(row) -> float:
    lo, hi = row["ci_low"], row["ci_high"]
    if pd.isna(lo) or pd.isna(hi):
        return math.nan
    return (hi - lo) / 2


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    plt.close(fig)
    return path


def _pooled_note(pooled: list[str], sampled: list[str] = ()) -> str:
    """'; pooled over X, Y' (runs of every value of the parameters not shown), or ''."""
    if not pooled:
        return ""
    grid = [p for p in pooled if p not in sampled]
    parts = [_NICE_NAMES.get(p, p.replace("_", " ")) for p in grid]
    if len(parts) > 2:
        parts = [f"{len(parts)} other grid parameters"]
    if len(grid) < len(pooled):
        parts.append("the sampled parameters")
    return "; pooled over " + " and ".join(parts)


def _discrete_panel_param(sweep: Sweep, exclude: list[str], max_values: int = 4) -> str | None:
    """A grid parameter to split panels by: Huawei's capacity if it varies, else a small one."""
    cands = [p for p in sweep.grid_params if p not in exclude]
    if "huawei_capacity_2026" in cands:
        return "huawei_capacity_2026"
    for p in cands:
        if sweep.final[p].nunique() <= max_values:
            return p
    return None


# --------------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------------

def heatmap_figure(sweep: Sweep, reporter: str = "us_stack_share"):
    """Final ``reporter`` by export regime (rows) × Chinese stance (columns); None if they don't vary."""
    if not {"export_regime", "china_import_policy"} <= set(sweep.grid_params):
        return None
    panel = _discrete_panel_param(sweep, ["export_regime", "china_import_policy"])
    keys = ["export_regime", "china_import_policy"] + ([panel] if panel else [])
    pooled = [p for p in sweep.varying if p not in keys]
    cells = cell_stats(sweep, keys, reporter)
    regimes = ordered_values("export_regime", cells["export_regime"])
    stances = ordered_values("china_import_policy", cells["china_import_policy"])
    panels = ordered_values(panel, cells[panel]) if panel else [None]
    scale = _scale(reporter)
    share = reporter in ("us_stack_share", "us_share_new", "developers_on_us_stack")
    if share:
        vmin, vmax = 0.0, 1.0
    else:
        vmin, vmax = float(np.nanmin(cells["mean"])) / scale, float(np.nanmax(cells["mean"])) / scale
    n = len(panels)
    fig, axes = plt.subplots(1, n, figsize=(max(6.4, 0.8 + 4.2 * n), 4.6), squeeze=False,
                             constrained_layout=True)
    im = None
    for ax, pv in zip(axes[0], panels):
        sub = cells if panel is None else cells[cells[panel] == pv]
        mat = np.full((len(regimes), len(stances)), np.nan)
        half = np.full_like(mat, np.nan)
        for _, row in sub.iterrows():
            i, j = regimes.index(row["export_regime"]), stances.index(row["china_import_policy"])
            mat[i, j] = row["mean"] / scale
            half[i, j] = _half_width(row) / scale
        im = ax.imshow(mat, cmap="RdBu", vmin=vmin, vmax=vmax, aspect="auto")
        for i, j in product(range(len(regimes)), range(len(stances))):
            if np.isnan(mat[i, j]):
                continue
            text = f"{mat[i, j]:.2f}" + ("" if np.isnan(half[i, j]) else f"\n±{half[i, j]:.2f}")
            frac = (mat[i, j] - vmin) / (vmax - vmin) if vmax > vmin else 0.5
            ax.text(j, i, text, ha="center", va="center", fontsize=8,
                    color="white" if frac < 0.2 or frac > 0.8 else "black")
        ax.set_xticks(range(len(stances)), stances)
        ax.set_yticks(range(len(regimes)), regimes)
        ax.set_xlabel("Beijing's stance on US chips")
        ax.set_ylabel("US export regime")
        if panel is not None:
            ax.set_title(f"{param_label(panel)} = {fmt_value(pv)}", fontsize=10)
    cbar = fig.colorbar(im, ax=axes[0].tolist(), shrink=0.9)
    label, _, unit = REPORTER_INFO.get(reporter, (reporter, 1.0, ""))
    cbar.set_label(f"{label} ({unit})" if unit else label)
    fig.suptitle(f"{sweep.name}: {label} in {sweep.last_quarter}\n"
                 f"(mean ± 95% CI half-width{_pooled_note(pooled, sweep.sample_params)})", fontsize=11)
    return fig


def timeseries_figure(sweep: Sweep, reporter: str = "us_stack_share"):
    """``reporter`` per quarter with 95% bands of the mean across runs."""
    group = "export_regime" if "export_regime" in sweep.varying else (sweep.varying[0] if sweep.varying else None)
    if group is not None and sweep.final[group].nunique() > MAX_LINES:
        group = None  # too many values (e.g. a sampled parameter): one pooled line
    panel = "china_import_policy" if ("china_import_policy" in sweep.varying and group != "china_import_policy"
                                       and sweep.final["china_import_policy"].nunique() <= MAX_LINES) else None
    keys = [k for k in (panel, group) if k]
    pooled = [p for p in sweep.varying if p not in keys]
    df = sweep.runs(keys + ["step", "quarter", reporter])
    quarters = df.drop_duplicates("step").sort_values("step")["quarter"].astype(str).tolist()
    stats_df = _grouped_ci(df, keys + ["step"], reporter)
    scale = _scale(reporter)
    panels = ordered_values(panel, df[panel]) if panel else [None]
    groups = ordered_values(group, df[group]) if group else [None]
    n = len(panels)
    ncols = n if n <= 3 else (2 if n == 4 else 3)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 + 3.9 * ncols, 1.0 + 3.1 * nrows),
                             squeeze=False, sharey=True, constrained_layout=True)
    colours = plt.get_cmap("tab10")
    pooled_everything = group is None
    for k, pv in enumerate(panels):
        ax = axes.flat[k]
        for c, gv in enumerate(groups):
            sub = stats_df
            if panel is not None:
                sub = sub[sub[panel] == pv]
            if group is not None:
                sub = sub[sub[group] == gv]
            sub = sub.sort_values("step")
            label = "all runs" if group is None else fmt_value(gv)
            ax.plot(sub["step"], sub["mean"] / scale, color=colours(c % 10), lw=1.8, label=label)
            ax.fill_between(sub["step"], sub["ci_low"] / scale, sub["ci_high"] / scale,
                            color=colours(c % 10), alpha=0.2, lw=0)
        if pooled_everything:  # also show the spread of individual runs
            sel = df if panel is None else df[df[panel] == pv]
            q = sel.groupby("step")[reporter].quantile([0.05, 0.95]).unstack()
            ax.fill_between(q.index, q[0.05] / scale, q[0.95] / scale, color="gray", alpha=0.15, lw=0,
                            label="5-95% of runs")
        if reporter in ("us_stack_share", "us_share_new", "developers_on_us_stack"):
            ax.set_ylim(0, 1)
        quarter_axis(ax, quarters, max_labels=6)
        if k % ncols == 0:
            ax.set_ylabel(reporter_label(reporter))
        if k < n - ncols:  # shared calendar axis: label only the bottom row
            ax.set_xlabel("")
        if panel is not None:
            ax.set_title(f"Beijing: {pv}", fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    title = param_label(group) if group else None
    fig.legend(handles, labels, title=title, loc="outside right center", fontsize=8, title_fontsize=8)
    label = REPORTER_INFO.get(reporter, (reporter,))[0]
    fig.suptitle(f"{sweep.name}: {label} over time\n(shaded: 95% CI of the mean across runs"
                 f"{_pooled_note(pooled, sweep.sample_params)})", fontsize=11)
    return fig


def tradeoff_figure(sweep: Sweep):
    """Final US stack share (x) against China's installed compute (y), one point per design point."""
    s = sweep.summary
    if len(s) < 2:
        return None
    x = s["us_stack_share_mean"].to_numpy(float)
    y = s["china_compute_h100e_mean"].to_numpy(float) / 1e6
    xerr = _errs(s, "us_stack_share", 1.0)
    yerr = _errs(s, "china_compute_h100e", 1e6)
    colour_p = "export_regime" if "export_regime" in sweep.varying else (sweep.varying[0] if sweep.varying else None)
    marker_p = next((p for p in (["china_import_policy"] + sweep.grid_params)
                     if p in sweep.varying and p != colour_p and s[p].nunique() <= len(_MARKERS)), None)
    size_p = next((p for p in (["huawei_capacity_2026"] + sweep.grid_params)
                   if p in sweep.varying and p not in (colour_p, marker_p) and s[p].nunique() <= 4), None)
    many = len(s) > MAX_ERRORBAR_POINTS
    fig, ax = plt.subplots(figsize=(9.2, 5.8), constrained_layout=True)
    handles: list = []
    continuous = colour_p is not None and _is_numeric(s[colour_p]) and s[colour_p].nunique() > 10
    if continuous:
        sc = ax.scatter(x, y, c=s[colour_p].to_numpy(float), cmap="viridis", s=18, alpha=0.8)
        fig.colorbar(sc, ax=ax).set_label(param_label(colour_p))
    else:
        cvals = ordered_values(colour_p, s[colour_p]) if colour_p else [None]
        mvals = ordered_values(marker_p, s[marker_p]) if marker_p else [None]
        svals = ordered_values(size_p, s[size_p]) if size_p else [None]
        sizes = dict(zip(svals, np.linspace(5, 11, len(svals)))) if size_p else {None: 4 if many else 7}
        cmap = plt.get_cmap("tab10")
        for (ci, cv), (mi, mv), sv in product(enumerate(cvals), enumerate(mvals), svals):
            sel = np.ones(len(s), bool)
            for p, v in ((colour_p, cv), (marker_p, mv), (size_p, sv)):
                if p is not None:
                    sel &= (s[p] == v).to_numpy()
            if not sel.any():
                continue
            ax.errorbar(x[sel], y[sel], xerr=None if many else xerr[:, sel], yerr=None if many else yerr[:, sel],
                        fmt=_MARKERS[mi % len(_MARKERS)], color=cmap(ci % 10), ms=sizes[sv], mec="black",
                        mew=0.5, elinewidth=0.8, capsize=2, alpha=0.9)
        if colour_p:
            handles.append(Line2D([], [], ls="", label=f"colour: {param_label(colour_p)}"))
            handles += [Line2D([], [], ls="", marker="o", color=cmap(i % 10), label=fmt_value(v))
                        for i, v in enumerate(cvals)]
        if marker_p:
            handles.append(Line2D([], [], ls="", label=f"marker: {param_label(marker_p)}"))
            handles += [Line2D([], [], ls="", marker=_MARKERS[i % len(_MARKERS)], color="gray", label=fmt_value(v))
                        for i, v in enumerate(mvals)]
        if size_p:
            handles.append(Line2D([], [], ls="", label=f"size: {param_label(size_p)}"))
            handles += [Line2D([], [], ls="", marker="o", color="gray", ms=sizes[v], label=fmt_value(v))
                        for v in svals]
    if handles:
        leg = ax.legend(handles=handles, fontsize=7.5, loc="center left", bbox_to_anchor=(1.01, 0.5),
                        frameon=False)
        for text in leg.get_texts():
            if text.get_text().split(":")[0] in ("colour", "marker", "size"):
                text.set_fontweight("bold")
    ax.set_xlabel("final US stack share of China's installed AI compute (0-1)")
    ax.set_ylabel("China's installed AI compute, final quarter (million H100e)")
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(bottom=0)  # installed compute is never negative (wide intervals are cut at 0)
    ax.grid(alpha=0.3)
    bars = "" if many else "; bars: 95% CI of the mean"
    fig.suptitle(f"{sweep.name}: the policy dilemma in one picture\n"
                 f"right = more of China's compute on the US stack, up = more compute for China{bars}",
                 fontsize=10)
    return fig


def _errs(s: pd.DataFrame, reporter: str, scale: float) -> np.ndarray:
    m = s[f"{reporter}_mean"].to_numpy(float)
    lo = s.get(f"{reporter}_ci_low", pd.Series(np.nan, index=s.index)).to_numpy(float)
    hi = s.get(f"{reporter}_ci_high", pd.Series(np.nan, index=s.index)).to_numpy(float)
    err = np.vstack([m - lo, hi - m]) / scale
    return np.nan_to_num(np.clip(err, 0, None), nan=0.0)


def response_figure(sweep: Sweep, param: str):
    """Final US stack share and China's compute against one numeric grid parameter, with 95% bands."""
    if param not in sweep.grid_params or not _is_numeric(sweep.final[param]) or sweep.final[param].nunique() < 2:
        return None
    others = [p for p in sweep.grid_params if p != param]
    combos = sweep.final[others].drop_duplicates() if others else pd.DataFrame(index=[0])
    if len(combos) > 6:
        # keep the most informative split (export regime, else stance) if that is small, pool the rest
        split = next((p for p in ("export_regime", "china_import_policy") + tuple(others)
                      if p in others and sweep.final[p].nunique() <= 6), None)
        others = [split] if split else []
    pooled = [p for p in sweep.varying if p not in others + [param]]
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), constrained_layout=True)
    cmap = plt.get_cmap("tab10")
    for ax, reporter in zip(axes, ("us_stack_share", "china_compute_h100e")):
        cells = cell_stats(sweep, [param] + others, reporter)
        scale = _scale(reporter)
        groups = cells[others].drop_duplicates() if others else pd.DataFrame(index=[0])
        for c, (_, g) in enumerate(groups.iterrows()):
            sub = cells
            for p in others:
                sub = sub[sub[p] == g[p]]
            sub = sub.sort_values(param)
            label = ", ".join(fmt_value(g[p]) for p in others) or "all runs"
            ax.plot(sub[param], sub["mean"] / scale, marker="o", ms=3.5, color=cmap(c % 10), label=label)
            ax.fill_between(sub[param], sub["ci_low"] / scale, sub["ci_high"] / scale,
                            color=cmap(c % 10), alpha=0.2, lw=0)
        ax.set_xlabel(param_label(param))
        ax.set_ylabel(f"final {reporter_label(reporter)}")
        if reporter == "us_stack_share":
            ax.set_ylim(0, 1)
        if sweep.final[param].abs().max() >= 1e4:
            ax.xaxis.set_major_formatter(EngFormatter())
        ax.grid(alpha=0.3)
        ax.set_title(REPORTER_INFO[reporter][0], fontsize=10)
    if others:
        axes[1].legend(title=", ".join(_NICE_NAMES.get(p, p) for p in others), fontsize=8, title_fontsize=8)
    fig.suptitle(f"{sweep.name}: final outcomes against {_NICE_NAMES.get(param, param.replace('_', ' '))}\n"
                 f"(shaded: 95% CI of the mean across runs{_pooled_note(pooled, sweep.sample_params)})", fontsize=11)
    return fig


def sample_scatter_figure(sweep: Sweep, reporter: str = "us_stack_share"):
    """Final ``reporter`` (mean over replications) against each sampled parameter."""
    params = [p for p in sweep.sample_params if _is_numeric(sweep.final[p])][:8]
    if not params:
        return None
    keys = [k for k in ("sample_index",) if k in sweep.final] + sweep.grid_params + params
    pts = sweep.final.groupby(keys, dropna=False)[reporter].mean().reset_index()
    ncols = min(len(params), 4)
    nrows = -(-len(params) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(0.8 + 3.3 * ncols, 0.8 + 3.0 * nrows),
                             squeeze=False, sharey=True, constrained_layout=True)
    scale = _scale(reporter)
    for k, p in enumerate(params):
        ax = axes.flat[k]
        ax.scatter(pts[p], pts[reporter] / scale, s=6, alpha=0.5)
        ax.set_xlabel(param_label(p), fontsize=8)
        if pts[p].abs().max() >= 1e4:
            ax.xaxis.set_major_formatter(EngFormatter())
        if k % ncols == 0:
            ax.set_ylabel(f"final {reporter_label(reporter)}", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(params):]:
        ax.set_visible(False)
    grid_note = _pooled_note(sweep.grid_params)
    fig.suptitle(f"{sweep.name}: final {REPORTER_INFO.get(reporter, (reporter,))[0]} per sample point "
                 f"(mean over replications{grid_note})", fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------------
# Sensitivity analysis
# --------------------------------------------------------------------------------------------------

def _analysis_seed(sweep: Sweep) -> int:
    seed = sweep.manifest.get("experiment", {}).get("seed")
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        seed = 1
    return seed % (2**31 - 1) or 1  # SALib's sobol treats 0 as "no seed"


def _problem(sweep: Sweep) -> dict:
    sample = sweep.sample
    prob = sample.get("salib_problem") or {}
    names = list(sweep.sample_params)
    if prob.get("names") and list(prob["names"]) == names and prob.get("bounds"):
        bounds = [list(map(float, b)) for b in prob["bounds"]]
    else:
        ranges = sample.get("ranges") or {}
        bounds = [list(map(float, ranges[n])) if n in ranges else
                  [float(sweep.final[n].min()), float(sweep.final[n].max())] for n in names]
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def sensitivity_table(sweep: Sweep) -> tuple[pd.DataFrame, list[str]]:
    """Sensitivity indices of the final outputs to the sampled parameters, and notes on what was skipped.

    Y per sample point is the mean over replications of the reporter at the last step, ordered by
    ``sample_index``; for ``grid+sample`` designs one analysis per grid cell.
    """
    notes: list[str] = []
    if not sweep.sample_params:
        return pd.DataFrame(), notes
    if "sample_index" not in sweep.final:
        return pd.DataFrame(), [f"{sweep.dir / 'final.csv'} has no sample_index column: sensitivity skipped"]
    method = sweep.method
    problem = _problem(sweep)
    names = problem["names"]
    cells_keys = list(sweep.grid_params)
    per_point = (sweep.final.groupby(cells_keys + ["sample_index"], dropna=False)
                 .agg({**{o: "mean" for o in SENSITIVITY_OUTPUTS}, **{n: "first" for n in names}})
                 .reset_index())
    cells = per_point[cells_keys].drop_duplicates() if cells_keys else pd.DataFrame(index=[0])
    rows: list[dict] = []
    for _, cell in cells.iterrows():
        sub = per_point
        for p in cells_keys:
            sub = sub[sub[p] == cell[p]]
        sub = sub.sort_values("sample_index")
        where = (" (" + ", ".join(f"{p}={fmt_value(cell[p])}" for p in cells_keys) + ")") if cells_keys else ""
        idx = sub["sample_index"].to_numpy()
        try:  # the runner records the number of sample points; else assume none is missing at the end
            expected = int(sweep.sample["n_points"])
        except (KeyError, TypeError, ValueError):
            expected = int(idx.max()) + 1 if len(idx) else 0
        if len(idx) != expected or not np.array_equal(idx, np.arange(expected)):
            notes.append(f"sensitivity{where}: {expected - len(idx)} of {expected} sample points missing "
                         f"(failed runs?): skipped")
            continue
        X = sub[names].to_numpy(float)
        for output in SENSITIVITY_OUTPUTS:
            Y = sub[output].to_numpy(float)
            base = {p: cell[p] for p in cells_keys}
            base.update(output=output, method=method)
            if not np.all(np.isfinite(Y)):
                notes.append(f"sensitivity of {output}{where}: non-finite outputs: skipped")
                continue
            try:
                res = _analyse(method, problem, X, Y, sweep)
            except Exception as exc:  # noqa: BLE001 - SALib raises RuntimeError/ValueError on bad shapes
                notes.append(f"sensitivity of {output}{where} ({method}): {exc}".replace("\n", " ").strip())
                continue
            if np.ptp(Y) == 0:
                notes.append(f"sensitivity of {output}{where}: the output is constant; indices undefined")
            for j, name in enumerate(names):
                rows.append({**base, "parameter": name, **{k: float(v[j]) for k, v in res.items()}})
    table = pd.DataFrame(rows)
    if not table.empty:
        first = cells_keys + ["output", "parameter", "method"]
        table = table[first + [c for c in table.columns if c not in first]]
    return table, notes


def _analyse(method: str, problem: dict, X: np.ndarray, Y: np.ndarray, sweep: Sweep) -> dict[str, np.ndarray]:
    seed = _analysis_seed(sweep)
    D = problem["num_vars"]
    constant = np.ptp(Y) == 0
    if method == "sobol":
        from SALib.analyze import sobol

        second = bool(sweep.sample.get("calc_second_order", False))
        per = 2 * D + 2 if second else D + 2
        if len(Y) % per:
            raise ValueError(f"{len(Y)} sample points is not a multiple of {per} "
                             f"(Saltelli/Sobol sample with calc_second_order={second})")
        if constant:
            nan = np.full(D, np.nan)
            return {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            si = sobol.analyze(dict(problem), Y, calc_second_order=second, num_resamples=NUM_RESAMPLES,
                               conf_level=CONF_LEVEL, seed=seed)
        return {k: np.asarray(si[k], float) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    if method == "morris":
        from SALib.analyze import morris

        if len(Y) % (D + 1):
            raise ValueError(f"{len(Y)} sample points is not a multiple of {D + 1} (Morris trajectories)")
        levels = int(sweep.sample.get("num_levels", 4))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            si = morris.analyze(dict(problem), X, Y, num_resamples=NUM_RESAMPLES, conf_level=CONF_LEVEL,
                                num_levels=levels, seed=seed)
        return {k: np.asarray(si[k], float) for k in ("mu_star", "mu_star_conf", "sigma", "mu")}
    return prcc(X, Y)


def prcc(X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
    """Partial rank correlation coefficients of Y with each column of X, with 95% Fisher-z intervals.

    Each column's ranks and Y's ranks are regressed on the ranks of the other columns; the PRCC is the
    correlation of the two residuals. ``prcc_conf`` is the half-width of the interval on the z scale
    mapped back (the interval itself is ``prcc_ci_low``..``prcc_ci_high``).
    """
    n, k = X.shape
    R = np.column_stack([stats.rankdata(X[:, j]) for j in range(k)])
    ry = stats.rankdata(Y)
    out = {key: np.full(k, np.nan) for key in ("prcc", "prcc_ci_low", "prcc_ci_high", "p_value")}
    dof = n - 2 - (k - 1)
    if dof < 2 or np.ptp(Y) == 0:
        return out
    for j in range(k):
        A = np.column_stack([np.ones(n), np.delete(R, j, axis=1)])
        rx = R[:, j] - A @ np.linalg.lstsq(A, R[:, j], rcond=None)[0]
        ey = ry - A @ np.linalg.lstsq(A, ry, rcond=None)[0]
        den = math.sqrt(float(rx @ rx) * float(ey @ ey))
        if den == 0:
            continue
        r = float(np.clip(rx @ ey / den, -1.0, 1.0))
        z, se = math.atanh(min(max(r, -0.999999), 0.999999)), 1 / math.sqrt(max(n - 3 - (k - 1), 1))
        zq = stats.norm.ppf(0.5 + CONF_LEVEL / 2)
        t = r * math.sqrt(dof / max(1 - r * r, 1e-300))
        out["prcc"][j] = r
        out["prcc_ci_low"][j] = math.tanh(z - zq * se)
        out["prcc_ci_high"][j] = math.tanh(z + zq * se)
        out["p_value"][j] = float(2 * stats.t.sf(abs(t), dof))
    return out


def sensitivity_figure(sweep: Sweep, table: pd.DataFrame):
    """Horizontal bars of the sensitivity indices, one panel per output."""
    if table.empty:
        return None
    method = sweep.method
    bars = {"sobol": [("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total order ST")],
            "morris": [("mu_star", "mu_star_conf", "mu* (mean |elementary effect|)"),
                       ("sigma", None, "sigma (interactions / non-linearity)")]}.get(
        method, [("prcc", None, "PRCC")])
    cells_keys = [p for p in sweep.grid_params if p in table.columns]
    cells = table[cells_keys].drop_duplicates() if cells_keys else pd.DataFrame(index=[0])
    names = list(dict.fromkeys(table["parameter"]))
    outputs = [o for o in SENSITIVITY_OUTPUTS if o in set(table["output"])]
    fig, axes = plt.subplots(1, len(outputs), figsize=(1.5 + 4.6 * len(outputs), 1.6 + 0.42 * len(names) *
                                                       max(1, min(len(cells), 4))),
                             squeeze=False, constrained_layout=True)
    nbars = len(bars) * len(cells)
    height = 0.8 / nbars
    tab10, tab20 = plt.get_cmap("tab10"), plt.get_cmap("tab20")

    def colour(ci: int, bi: int):
        if len(cells) == 1:
            return tab10(bi % 10)
        if len(bars) == 1:
            return tab10(ci % 10)
        return tab20((2 * ci + (1 if bi == 0 else 0)) % 20)  # one hue per grid cell, light = first metric

    ypos = np.arange(len(names))
    for ax, output in zip(axes[0], outputs):
        t = table[table["output"] == output]
        b = 0
        for ci, (_, cell) in enumerate(cells.iterrows()):
            sub = t
            for p in cells_keys:
                sub = sub[sub[p] == cell[p]]
            sub = sub.set_index("parameter").reindex(names)
            cell_label = ", ".join(f"{p}={fmt_value(cell[p])}" for p in cells_keys)
            for bi, (col, conf, label) in enumerate(bars):
                vals = sub[col].to_numpy(float)
                if method == "morris" and output in REPORTER_INFO:
                    vals = vals / _scale(output)
                if method == "lhs":
                    err = np.vstack([vals - sub["prcc_ci_low"], sub["prcc_ci_high"] - vals])
                elif conf:
                    err = sub[conf].to_numpy(float) / (_scale(output) if method == "morris" else 1.0)
                else:
                    err = None
                off = (b - (nbars - 1) / 2) * height
                ax.barh(ypos + off, np.nan_to_num(vals), height=height * 0.95, xerr=err, capsize=2,
                        color=colour(ci, bi), label=f"{label}" + (f" [{cell_label}]" if cell_label else ""),
                        error_kw={"elinewidth": 0.8})
                b += 1
        ax.set_yticks(ypos, [_NICE_NAMES.get(n, n.replace("_", " ")) for n in names], fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", lw=0.6)
        ax.grid(axis="x", alpha=0.3)
        olabel = REPORTER_INFO.get(output, (output, 1.0, ""))
        ax.set_title(f"final {olabel[0]}", fontsize=10)
        if method == "sobol":
            ax.set_xlabel("Sobol index (share of output variance; bars: 95% CI)")
        elif method == "morris":
            ax.set_xlabel(f"elementary effect over the full parameter range\n({olabel[2]}; bars: 95% CI of mu*)")
        else:
            ax.set_xlabel("partial rank correlation coefficient (-1..1)\nbars: 95% CI (Fisher z)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7.5, loc="outside lower center", ncol=2 if len(cells) > 1 else len(bars),
               frameon=False)
    what = {"sobol": "Sobol indices (SALib, Saltelli/Jansen estimators)",
            "morris": "Morris screening (SALib)"}.get(method, "partial rank correlation coefficients (LHS)")
    fig.suptitle(f"{sweep.name}: sensitivity to the sampled parameters - {what}", fontsize=11)
    return fig


# --------------------------------------------------------------------------------------------------
# Entry points
# --------------------------------------------------------------------------------------------------

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
            paths.append(_save(fig, figdir / name))

    emit(heatmap_figure(sweep), "heatmap_us_stack_share.png",
         "export_regime and china_import_policy do not both vary in the grid")
    emit(timeseries_figure(sweep), "timeseries_us_stack_share.png", "no data")
    emit(tradeoff_figure(sweep), "tradeoff.png", "only one design point")
    for p in sweep.grid_params:
        if _is_numeric(sweep.final[p]) and sweep.final[p].nunique() >= 2:
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
