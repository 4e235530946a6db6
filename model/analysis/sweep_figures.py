"""The figures of a sweep's report (``figures/*.png``): heat map, time series, trade-off, response
curves and the sample scatter. Each returns a matplotlib figure, or None when its axes do not vary."""

from __future__ import annotations

import textwrap
from itertools import product
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import EngFormatter  # noqa: E402

from model.analysis.cells import cell_stats, ci_half_width, grouped_ci  # noqa: E402
from model.analysis.figures import quarter_axis  # noqa: E402
from model.analysis.labels import (  # noqa: E402
    NICE_NAMES,
    fmt_value,
    is_numeric,
    is_share,
    ordered_values,
    param_label,
    reporter_label,
    reporter_scale,
    reporter_title,
    reporter_unit,
)
from model.analysis.style import DPI, PAGE_WIDTH_IN, styled  # noqa: E402
from model.analysis.sweep_data import Sweep  # noqa: E402
from model.sweep.io import atomic_path  # noqa: E402

#: Characters per line of a long axis label (wrapped, not clipped at the figure's edge), and of a title.
LABEL_WIDTH = 34
TITLE_WIDTH = 100
#: Lines per figure before a varying parameter is pooled instead of drawn one line per value.
MAX_LINES = 8
#: Design points in the trade-off scatter above which error bars are left out (unreadable).
MAX_ERRORBAR_POINTS = 80
_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")


#: The formats ``chipstack report --format`` writes (matplotlib's backends); PNG is the default.
FORMATS = ("png", "pdf", "svg")
#: No creation date in vector files (matplotlib would stamp the time of drawing).
_NO_DATE = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}


def save_figure(fig, path: Path, formats: tuple[str, ...] = ("png",)) -> list[Path]:
    """``fig`` written as ``path`` with each suffix of ``formats`` (atomically); the paths written."""
    paths = []
    for fmt in formats:
        target = path.with_suffix(f".{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, dpi=DPI, format=fmt, metadata=_NO_DATE.get(fmt))
        paths.append(target)
    plt.close(fig)
    return paths


def wrapped(text: str, width: int = TITLE_WIDTH) -> str:
    """``text`` with each of its lines wrapped at ``width`` characters (titles that fit the page)."""
    return "\n".join(textwrap.fill(line, width) for line in text.split("\n"))


def pooled_note(pooled: list[str], sampled: list[str] = ()) -> str:
    """'; pooled over X, Y' (runs of every value of the parameters not shown), or ''."""
    if not pooled:
        return ""
    grid = [p for p in pooled if p not in sampled]
    parts = [NICE_NAMES.get(p, p.replace("_", " ")) for p in grid]
    if len(parts) > 2:
        parts = [f"{len(parts)} other grid parameters"]
    if len(grid) < len(pooled):
        parts.append("the sampled parameters")
    return "; pooled over " + " and ".join(parts)


def discrete_panel_param(sweep: Sweep, exclude: list[str], max_values: int = 4) -> str | None:
    """A grid parameter to split panels by: Huawei's capacity if it varies, else a small one."""
    cands = [p for p in sweep.grid_params if p not in exclude]
    if "huawei_capacity_2026" in cands:
        return "huawei_capacity_2026"
    for p in cands:
        if sweep.final[p].nunique() <= max_values:
            return p
    return None



#: The heat map's two factors when both vary: the US export regime (rows) × Beijing's stance (columns).
POLICY_FACTORS = ("export_regime", "china_import_policy")
#: Values per factor above which a heat map is not drawn (unreadable cells).
MAX_HEATMAP_VALUES = 12


def heatmap_factors(sweep: Sweep) -> tuple[str, str] | None:
    """The heat map's (rows, columns): the export regime × Beijing's stance when both vary in the grid,
    else the first two grid parameters with 2 to ``MAX_HEATMAP_VALUES`` values each; None if there are
    not two."""
    if set(POLICY_FACTORS) <= set(sweep.grid_params):
        return POLICY_FACTORS
    factors = [p for p in sweep.grid_params if 2 <= sweep.final[p].nunique() <= MAX_HEATMAP_VALUES]
    return (factors[0], factors[1]) if len(factors) >= 2 else None


@styled
def heatmap_figure(sweep: Sweep, reporter: str = "us_stack_share"):
    """Final ``reporter`` over two grid factors (:func:`heatmap_factors`: the export regime (rows) ×
    Beijing's stance (columns) when both vary), one cell per combination with its 95% interval of the
    mean; None without two factors."""
    factors = heatmap_factors(sweep)
    if factors is None:
        return None
    row_p, col_p = factors
    panel = discrete_panel_param(sweep, list(factors))
    keys = [row_p, col_p] + ([panel] if panel else [])
    pooled = [p for p in sweep.varying if p not in keys]
    cells = cell_stats(sweep, keys, reporter)
    regimes = ordered_values(row_p, cells[row_p])
    stances = ordered_values(col_p, cells[col_p])
    panels = ordered_values(panel, cells[panel]) if panel else [None]
    scale = reporter_scale(reporter)
    if is_share(reporter):
        vmin, vmax = 0.0, 1.0
    else:
        vmin, vmax = float(np.nanmin(cells["mean"])) / scale, float(np.nanmax(cells["mean"])) / scale
    n = len(panels)
    ncols = min(n, 3)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN if n > 1 else 5.4, 1.2 + 2.6 * nrows),
                             squeeze=False, constrained_layout=True)
    im = None
    for k, (ax, pv) in enumerate(zip(axes.flat, panels)):
        sub = cells if panel is None else cells[cells[panel] == pv]
        mat = np.full((len(regimes), len(stances)), np.nan)
        half = np.full_like(mat, np.nan)
        for _, row in sub.iterrows():
            i, j = regimes.index(row[row_p]), stances.index(row[col_p])
            mat[i, j] = row["mean"] / scale
            half[i, j] = ci_half_width(row) / scale
        im = ax.imshow(mat, cmap="RdBu", vmin=vmin, vmax=vmax, aspect="auto")
        for i, j in product(range(len(regimes)), range(len(stances))):
            if np.isnan(mat[i, j]):
                continue
            text = f"{mat[i, j]:.2f}" + ("" if np.isnan(half[i, j]) else f"\n±{half[i, j]:.2f}")
            frac = (mat[i, j] - vmin) / (vmax - vmin) if vmax > vmin else 0.5
            ax.text(j, i, text, ha="center", va="center", fontsize=7.5,
                    color="white" if frac < 0.2 or frac > 0.8 else "black")
        ax.set_xticks(range(len(stances)), [fmt_value(v) for v in stances], rotation=30 if n > 2 else 0)
        first = k % ncols == 0  # the rows are named on the first panel of each row only
        ax.set_yticks(range(len(regimes)), [fmt_value(v) for v in regimes] if first else [])
        ax.set_xlabel(textwrap.fill(param_label(col_p), 30))
        if first:
            ax.set_ylabel(param_label(row_p))
        if panel is not None:
            ax.set_title(textwrap.fill(f"{param_label(panel)} = {fmt_value(pv)}", 30))
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    cbar = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.9)
    label, unit = reporter_title(reporter), reporter_unit(reporter)
    cbar.set_label(textwrap.fill(f"{label} ({unit})" if unit else label, LABEL_WIDTH))
    fig.suptitle(wrapped(f"{sweep.name}: {label} in {sweep.last_quarter}\n"
                         f"(mean ± 95% CI half-width{pooled_note(pooled, sweep.sample_params)})"))
    return fig


@styled
def timeseries_figure(sweep: Sweep, reporter: str = "us_stack_share"):
    """``reporter`` per quarter with 95% bands of the mean across runs."""
    group = ("export_regime" if "export_regime" in sweep.varying
             else (sweep.varying[0] if sweep.varying else None))
    if group is not None and sweep.final[group].nunique() > MAX_LINES:
        group = None  # too many values (e.g. a sampled parameter): one pooled line
    panel = ("china_import_policy"
             if ("china_import_policy" in sweep.varying and group != "china_import_policy"
                 and sweep.final["china_import_policy"].nunique() <= MAX_LINES)
             else None)
    keys = [k for k in (panel, group) if k]
    # the other grid parameters are held at their middle value, so that each band is an interval for one
    # scenario (not a mixture of design points); sampled parameters are pooled (and said so)
    columns = set(sweep.run_columns)
    held = {p: ordered_values(p, sweep.final[p])[(sweep.final[p].nunique() - 1) // 2]
            for p in sweep.grid_params if p not in keys and p in columns}
    pooled = [p for p in sweep.varying if p not in keys and p not in held]
    df = sweep.runs(keys + list(held) + ["step", "quarter", reporter])
    for p, value in held.items():
        df = df[df[p] == value]
    quarters = df.drop_duplicates("step").sort_values("step")["quarter"].astype(str).tolist()
    stats_df = grouped_ci(df, keys + ["step"], reporter)
    scale = reporter_scale(reporter)
    panels = ordered_values(panel, df[panel]) if panel else [None]
    groups = ordered_values(group, df[group]) if group else [None]
    n = len(panels)
    ncols = n if n <= 2 else (2 if n == 4 else 3)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN if n > 1 else 5.4, 1.1 + 2.3 * nrows),
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
            ax.plot(sub["step"], sub["mean"] / scale, color=colours(c % 10), label=label)
            ax.fill_between(sub["step"], sub["ci_low"] / scale, sub["ci_high"] / scale,
                            color=colours(c % 10), alpha=0.2, lw=0)
        if pooled_everything:  # also show the spread of individual runs
            sel = df if panel is None else df[df[panel] == pv]
            q = sel.groupby("step")[reporter].quantile([0.05, 0.95]).unstack()
            ax.fill_between(q.index, q[0.05] / scale, q[0.95] / scale, color="gray", alpha=0.15, lw=0,
                            label="5-95% of runs")
        if is_share(reporter):
            ax.set_ylim(0, 1)
        quarter_axis(ax, quarters, max_labels=6)
        if k % ncols == 0:
            ax.set_ylabel(textwrap.fill(reporter_label(reporter), LABEL_WIDTH))
        if k < n - ncols:  # shared calendar axis: label only the bottom row
            ax.set_xlabel("")
        if panel is not None:
            ax.set_title(f"Beijing: {pv}")
        ax.grid(alpha=0.3)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    title = textwrap.fill(param_label(group), 24) if group else None
    fig.legend(handles, labels, title=title, loc="outside right center")
    label = reporter_title(reporter)
    at = "".join(f"; {NICE_NAMES.get(p, p.replace('_', ' '))} = {fmt_value(v)}" for p, v in held.items())
    fig.suptitle(wrapped(f"{sweep.name}: {label} over time\n(shaded: 95% CI of the mean across runs{at}"
                         f"{pooled_note(pooled, sweep.sample_params)})"))
    return fig


@styled
def tradeoff_figure(sweep: Sweep):
    """Final US stack share (x) against China's installed compute (y), one point per design point."""
    s = sweep.summary
    if len(s) < 2:
        return None
    x = s["us_stack_share_mean"].to_numpy(float)
    y = s["china_compute_h100e_mean"].to_numpy(float) / 1e6
    xerr = _errs(s, "us_stack_share", 1.0)
    yerr = _errs(s, "china_compute_h100e", 1e6)
    colour_p = ("export_regime" if "export_regime" in sweep.varying
                else (sweep.varying[0] if sweep.varying else None))
    marker_p = next((p for p in (["china_import_policy"] + sweep.grid_params)
                     if p in sweep.varying and p != colour_p and s[p].nunique() <= len(_MARKERS)), None)
    size_p = next((p for p in (["huawei_capacity_2026"] + sweep.grid_params)
                   if p in sweep.varying and p not in (colour_p, marker_p) and s[p].nunique() <= 4), None)
    many = len(s) > MAX_ERRORBAR_POINTS
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH_IN, 4.6), constrained_layout=True)
    handles: list = []
    continuous = colour_p is not None and is_numeric(s[colour_p]) and s[colour_p].nunique() > 10
    if continuous:
        sc = ax.scatter(x, y, c=s[colour_p].to_numpy(float), cmap="viridis", s=18, alpha=0.8)
        fig.colorbar(sc, ax=ax).set_label(param_label(colour_p))
    else:
        cvals = ordered_values(colour_p, s[colour_p]) if colour_p else [None]
        mvals = ordered_values(marker_p, s[marker_p]) if marker_p else [None]
        svals = ordered_values(size_p, s[size_p]) if size_p else [None]
        sizes = dict(zip(svals, np.linspace(4, 9, len(svals)))) if size_p else {None: 3.5 if many else 5.5}
        cmap = plt.get_cmap("tab10")
        for (ci, cv), (mi, mv), sv in product(enumerate(cvals), enumerate(mvals), svals):
            sel = np.ones(len(s), bool)
            for p, v in ((colour_p, cv), (marker_p, mv), (size_p, sv)):
                if p is not None:
                    sel &= (s[p] == v).to_numpy()
            if not sel.any():
                continue
            ax.errorbar(x[sel], y[sel], xerr=None if many else xerr[:, sel],
                        yerr=None if many else yerr[:, sel],
                        fmt=_MARKERS[mi % len(_MARKERS)], color=cmap(ci % 10), ms=sizes[sv], mec="black",
                        mew=0.5, elinewidth=0.8, capsize=2, alpha=0.9)
        if colour_p:
            handles.append(Line2D([], [], ls="", label=f"colour: {param_label(colour_p)}"))
            handles += [Line2D([], [], ls="", marker="o", color=cmap(i % 10), label=fmt_value(v))
                        for i, v in enumerate(cvals)]
        if marker_p:
            handles.append(Line2D([], [], ls="", label=f"marker: {param_label(marker_p)}"))
            handles += [Line2D([], [], ls="", marker=_MARKERS[i % len(_MARKERS)], color="gray",
                               label=fmt_value(v))
                        for i, v in enumerate(mvals)]
        if size_p:
            handles.append(Line2D([], [], ls="", label=f"size: {param_label(size_p)}"))
            handles += [Line2D([], [], ls="", marker="o", color="gray", ms=sizes[v], label=fmt_value(v))
                        for v in svals]
    if handles:
        leg = ax.legend(handles=handles, loc="center left", bbox_to_anchor=(1.01, 0.5))
        for text in leg.get_texts():
            if text.get_text().split(":")[0] in ("colour", "marker", "size"):
                text.set_fontweight("bold")
    ax.set_xlabel("final US stack share of China's installed AI compute (0-1)")
    ax.set_ylabel(textwrap.fill("China's installed AI compute, final quarter (million H100e)", LABEL_WIDTH))
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(bottom=0)  # installed compute is never negative (wide intervals are cut at 0)
    ax.grid(alpha=0.3)
    bars = "" if many else "; bars: 95% CI of the mean"
    fig.suptitle(wrapped(f"{sweep.name}: the policy dilemma in one picture\n"
                         "right = more of China's compute on the US stack, up = more compute for China"
                         f"{bars}"))
    return fig


def _errs(s: pd.DataFrame, reporter: str, scale: float) -> np.ndarray:
    m = s[f"{reporter}_mean"].to_numpy(float)
    lo = s.get(f"{reporter}_ci_low", pd.Series(np.nan, index=s.index)).to_numpy(float)
    hi = s.get(f"{reporter}_ci_high", pd.Series(np.nan, index=s.index)).to_numpy(float)
    err = np.vstack([m - lo, hi - m]) / scale
    return np.nan_to_num(np.clip(err, 0, None), nan=0.0)


@styled
def response_figure(sweep: Sweep, param: str):
    """Final US stack share and China's compute against one numeric grid parameter, with 95% bands."""
    if (param not in sweep.grid_params or not is_numeric(sweep.final[param])
            or sweep.final[param].nunique() < 2):
        return None
    others = [p for p in sweep.grid_params if p != param]
    combos = sweep.final[others].drop_duplicates() if others else pd.DataFrame(index=[0])
    if len(combos) > 6:
        # keep the most informative split (export regime, else stance) if that is small, pool the rest
        split = next((p for p in ("export_regime", "china_import_policy") + tuple(others)
                      if p in others and sweep.final[p].nunique() <= 6), None)
        others = [split] if split else []
    pooled = [p for p in sweep.varying if p not in others + [param]]
    shown_reporters = ([r for r in ("us_stack_share", "china_compute_h100e") if sweep.has(r)]
                       or sweep.reporters[:2])
    fig, axes = plt.subplots(1, len(shown_reporters), figsize=(PAGE_WIDTH_IN, 3.6),
                             constrained_layout=True, squeeze=False)
    axes = axes[0]
    cmap = plt.get_cmap("tab10")
    for ax, reporter in zip(axes, shown_reporters):
        cells = cell_stats(sweep, [param] + others, reporter)
        scale = reporter_scale(reporter)
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
        ax.set_xlabel(textwrap.fill(param_label(param), LABEL_WIDTH))
        ax.set_ylabel(textwrap.fill(f"final {reporter_label(reporter)}", LABEL_WIDTH))
        if reporter == "us_stack_share":
            ax.set_ylim(0, 1)
        if sweep.final[param].abs().max() >= 1e4:
            ax.xaxis.set_major_formatter(EngFormatter())
        ax.grid(alpha=0.3)
        ax.set_title(textwrap.fill(reporter_title(reporter), 48))
    if others:
        axes[-1].legend(title=textwrap.fill(", ".join(NICE_NAMES.get(p, p) for p in others), 30))
    fig.suptitle(wrapped(f"{sweep.name}: final outcomes against "
                         f"{NICE_NAMES.get(param, param.replace('_', ' '))}\n"
                         "(shaded: 95% CI of the mean across runs"
                         f"{pooled_note(pooled, sweep.sample_params)})"))
    return fig


@styled
def sample_scatter_figure(sweep: Sweep, reporter: str = "us_stack_share"):
    """Final ``reporter`` (mean over replications) against each sampled parameter."""
    params = [p for p in sweep.sample_params if is_numeric(sweep.final[p])][:8]
    if not params:
        return None
    keys = [k for k in ("sample_index",) if k in sweep.final] + sweep.grid_params + params
    pts = sweep.final.groupby(keys, dropna=False)[reporter].mean().reset_index()
    ncols = min(len(params), 3)
    nrows = -(-len(params) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN, 1.0 + 2.2 * nrows),
                             squeeze=False, sharey=True, constrained_layout=True)
    scale = reporter_scale(reporter)
    for k, p in enumerate(params):
        ax = axes.flat[k]
        ax.scatter(pts[p], pts[reporter] / scale, s=6, alpha=0.5)
        ax.set_xlabel(textwrap.fill(param_label(p), 30))
        if pts[p].abs().max() >= 1e4:
            ax.xaxis.set_major_formatter(EngFormatter())
        if k % ncols == 0:
            ax.set_ylabel(textwrap.fill(f"final {reporter_label(reporter)}", LABEL_WIDTH))
        ax.grid(alpha=0.3)
    for ax in axes.flat[len(params):]:
        ax.set_visible(False)
    grid_note = pooled_note(sweep.grid_params)
    fig.suptitle(wrapped(f"{sweep.name}: final {reporter_title(reporter)} per sample point "
                         f"(mean over replications{grid_note})"))
    return fig
