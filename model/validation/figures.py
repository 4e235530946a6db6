"""The validation figures (``docs/validation/validation_{arthur,bass,replay,quarterly}.png``)."""

from __future__ import annotations

import functools
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd

from model.core.catalogue import US_LEADER
from model.sweep.io import atomic_path
from model.validation.arthur import gamblers_ruin
from model.validation.bass import bass_continuous, bass_peak_time


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _styled(draw):
    """``draw`` under the house style (``model.analysis.style``, imported when a figure is drawn)."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        from model.analysis.style import house_style

        with house_style():
            return draw(*args, **kwargs)

    return wrapper


@_styled
def arthur_figure(table: pd.DataFrame, path: Path) -> None:
    plt = _plt()
    sw = table[table["group"] == "width_sweep"].copy()
    sw["w"] = sw["upper"] - 1
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6), constrained_layout=True)
    for (p_r, g), color in zip(sw.groupby("p_r"), ["tab:blue", "tab:orange", "tab:green", "tab:red"],
                               strict=False):
        g = g.sort_values("upper")
        x = g["upper"].to_numpy()
        dense = np.arange(x.min(), x.max() + 1)
        cf = [gamblers_ruin(-u, u, p_r) for u in dense]
        axes[0].plot(dense, [c[0] for c in cf], color=color, lw=1.2, label=f"closed form, p_r={p_r:g}")
        axes[0].errorbar(x, g["sim_p_lock_a"], yerr=1.96 * g["se_p_lock_a"], fmt="o", color=color,
                         ms=4, capsize=3, label=f"simulated ±1.96 se, p_r={p_r:g}")
        axes[1].plot(dense, [c[1] for c in cf], color=color, lw=1.2)
        axes[1].errorbar(x, g["sim_mean_time"], yerr=1.96 * g["se_mean_time"], fmt="o", color=color,
                         ms=4, capsize=3)
    axes[0].set_xlabel("barrier |L| = U (symmetric barriers)")
    axes[0].set_ylabel("P(lock-in to A)")
    axes[0].set_title("Arthur (1989): lock-in probability")
    axes[0].legend(fontsize=7)
    axes[1].set_xlabel("barrier |L| = U (symmetric barriers)")
    axes[1].set_ylabel("mean arrivals to lock-in")
    axes[1].set_title("Arthur (1989): expected lock-in time\n(gambler's ruin)")
    _save(plt, fig, path)


@_styled
def bass_figure(curves: dict, table: pd.DataFrame, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7.2, 4.6), constrained_layout=True)
    colors = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    for name, color in zip(curves, colors, strict=False):
        mean, sd, rec, _ = curves[name]
        row = table[table["case"] == name].iloc[0]
        t = np.arange(len(mean))
        tt = np.linspace(0, len(mean) - 1, 300)
        ax.fill_between(t, mean - 1.96 * sd, mean + 1.96 * sd, color=color, alpha=0.2, lw=0)
        ax.plot(t, mean, "o", ms=3, color=color, label=f"ABM mean (p={row.p:g}, q={row.q:g})")
        ax.plot(t, rec, "-", lw=1.2, color=color, label="discrete recursion")
        ax.plot(tt, bass_continuous(row.p, row.q, tt), ":", lw=1.2, color=color, label="continuous F(t)")
        ax.axvline(bass_peak_time(row.p, row.q), color=color, lw=0.6, ls="--")
    ax.set_xlabel("step")
    ax.set_ylabel("cumulative adopted share F")
    ax.set_title("Bass (1969): ABM (band: ±1.96 sd of runs) vs closed forms; dashed: t*")
    ax.legend(fontsize=7, ncol=2)
    _save(plt, fig, path)


@_styled
def replay_figure(table: pd.DataFrame, runs: pd.DataFrame, path: Path) -> None:
    plt = _plt()
    quarters = [c for c in runs.columns if "Q" in str(c)]
    fig, axes = plt.subplots(1, 2, figsize=(7.2, 3.6), constrained_layout=True)
    ax = axes[0]
    years = table[table["period"].str.len() == 4]
    x = np.arange(len(years))
    ax.errorbar(x, years["model_mean"], yerr=[years["model_mean"] - years["model_lo"],
                                             years["model_hi"] - years["model_mean"]],
                fmt="o-", capsize=4, label="model mean, 95% interval over seeds")
    ax.plot(x, years["public"], "s", color="k", label="public (SOURCES §E4)")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{p}\n({textwrap.fill(r, 12)})" for p, r in zip(years["period"], years["role"],
                                                                          strict=True)], fontsize=7)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel(f"{US_LEADER} share of China AI-chip revenue")
    ax.set_title("History replay 2022Q4-2025Q4, by year")
    ax.legend(fontsize=7)
    ax = axes[1]
    q = runs[quarters].to_numpy(dtype=float)
    xq = np.arange(len(quarters))
    ax.fill_between(xq, np.nanpercentile(q, 2.5, axis=0), np.nanpercentile(q, 97.5, axis=0), alpha=0.3)
    ax.plot(xq, np.nanmean(q, axis=0), "o-", ms=3)
    ax.set_xticks(xq[::2])
    ax.set_xticklabels(quarters[::2], rotation=60, fontsize=7)
    ax.set_ylim(-0.02, 1.05)
    ax.set_title(f"{US_LEADER} revenue share by quarter\n(mean, 95% interval)")
    _save(plt, fig, path)


@_styled
def quarterly_figure(runs: pd.DataFrame, scored: pd.DataFrame, path: Path) -> None:
    """The quarterly replay: model bands (95% over seeds) with the observed points (marker by grade),
    the calibration window, out-of-sample year and forecast quarters shaded."""
    plt = _plt()
    quarters = sorted(runs["quarter"].unique())
    x = np.arange(len(quarters))
    pos = {q: k for k, q in enumerate(quarters)}
    from model.core import catalogue
    from model.core.catalogue import DOMESTIC_LEADER
    from model.core.reporters import maker_columns
    from model.validation.quarterly import CNY_PER_USD

    columns = {name: pair for name, pair in maker_columns().items() if pair[1] in runs.columns}
    revenue_cols = [revenue for _, revenue in columns.values()]
    # The domestic maker whose revenue (in CNY) is observed: the first whose ``<key>_revenue`` is scored.
    domestic = [m for m in catalogue.makers() if m.is_domestic and m.name in columns]
    observed = set(scored["quantity"]) if "quantity" in scored else set()
    reported = next((m for m in domestic if f"{m.reporter_key}_revenue" in observed),
                    next(m for m in domestic if m.name == DOMESTIC_LEADER))
    leader = runs[columns[US_LEADER][1]]
    runs = runs.assign(
        leader_bn=leader / 1e9,
        leader_share=leader / runs[revenue_cols].sum(axis=1).where(lambda v: v > 0),
        domestic_leader_k=runs[columns[DOMESTIC_LEADER][0]] / 1e3,
        reported_cny_bn=runs[columns[reported.name][1]] * CNY_PER_USD / 1e9)
    panels = [("leader_bn", f"{US_LEADER} China revenue (bn USD)",
               ("nvidia_china_revenue", "nvidia_h20_revenue_china"), 1e9),
              ("leader_share", f"{US_LEADER} share of AI-chip revenue",
               ("nvidia_share_china_ai_chip_market", "nvidia_share_china_advanced_ai_chips"), 1.0),
              ("domestic_leader_k", f"{DOMESTIC_LEADER} units (thousand)", (), 1e3),
              ("reported_cny_bn", f"{reported.name} revenue (bn CNY)", (f"{reported.reporter_key}_revenue",),
               1e9)]
    fig, axes = plt.subplots(2, 2, figsize=(7.2, 5.6), constrained_layout=True, sharex=True)
    markers = {"H": "o", "M/H": "o", "M": "s", "L": "^", "L/M": "^"}
    for ax, (col, title, quantities, scale) in zip(axes.flat, panels, strict=True):
        g = runs.groupby("quarter")[col]
        mean, lo, hi = g.mean(), g.quantile(0.025), g.quantile(0.975)
        ax.fill_between(x, lo.reindex(quarters), hi.reindex(quarters), color="tab:blue", alpha=0.25, lw=0,
                        label="model, 95% over seeds")
        ax.plot(x, mean.reindex(quarters), color="tab:blue", lw=1.5)
        for q in quantities:
            obs = scored[(scored["quantity"] == q) & scored["period"].str.contains("Q")]
            for r in obs.itertuples():
                if r.period in pos:
                    ax.plot(pos[r.period], r.observed / scale, markers.get(r.grade, "o"), color="black",
                            mfc="white" if q.endswith("h20_revenue_china") else "black", ms=4.5)
        ax.axvspan(-0.5, pos.get("2024Q4", -0.5) + 0.5, color="0.92", zorder=0)
        if "2026Q1" in pos:
            ax.axvspan(pos["2026Q1"] - 0.5, len(quarters) - 0.5, color="#fff3e0", zorder=0)
        ax.set_title(title)
        ax.set_ylim(bottom=0)
    for ax in axes[1]:
        ax.set_xticks(x[::2], [quarters[k] for k in range(0, len(quarters), 2)], rotation=45, fontsize=7)
    axes[0, 0].plot([], [], "o", color="black", label="observed (filled: all products; open: H20)")
    axes[0, 0].legend(fontsize=7, loc="lower left")
    fig.suptitle("Quarterly replay 2022Q4-2026Q2: grey = calibration window (to 2024Q4), white = 2025 out of "
                 "sample,\norange = 2026 forecast; circles H, squares M")
    _save(plt, fig, path)


def _save(plt, fig, path: Path) -> None:
    """Write ``fig`` as a PNG atomically, then close it."""
    from model.analysis.style import DPI

    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=DPI, format="png")
    plt.close(fig)
