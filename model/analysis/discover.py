"""Scenario discovery: ``chipstack discover SWEEP_DIR --reporter R (--below X | --above X)
[--policy NAME=VALUE ...]``.

Which combinations of the uncertainties make a policy fail? A run is a *case of interest* when its
reporter at the last quarter is below (or above) the threshold; PRIM (the Patient Rule Induction
Method, Friedman and Fisher 1999, as used for scenario discovery by Bryant and Lempert 2010) peels the
space of uncertainties down to a box that holds many of the cases (coverage: the share of all cases
inside the box) and few others (density: the share of the box's runs that are cases). The PRIM is EMA
Workbench's (``ema_workbench.analysis.prim``, the optional extra ``chipstack[explore]``), run with its
defaults (lenient objective, peel and paste alpha 0.05, minimum mass 0.05).

The box reported is the one on the peeling trajectory with the highest coverage among those whose
density is at least ``--min-density`` (default 0.8) (the densest of those with equal coverage), or the
densest one when none is; ``--box I`` picks trajectory entry I instead. Each restricted dimension comes
with its quasi-p-value (a one-sided binomial test of whether the restriction adds density, Bryant and
Lempert 2010; EMA Workbench's).

Runs that failed (not in ``final.csv``) and runs whose reporter is NaN or infinite are left out of PRIM's
data and said in a note and in ``discover.json`` (``runs_left_out``); ``discover_folder`` reads only a folder
whose data match the manifest's sha256 (as ``report``).

With ``--policy NAME=VALUE`` (repeatable) only the runs of that lever combination are used and the
box is over the uncertainties; without it, levers that vary are dimensions too. Writes into
``SWEEP_DIR/discover/<reporter>_<below|above>_<X>[_<policy>]/`` atomically: ``box.md`` (a table to
paste), ``box.csv``, ``trajectory.csv``, ``discover.json``, ``tradeoff.png`` (the peeling trajectory:
coverage against density), ``box.png`` (EMA's box figure) and ``pairs.png`` (EMA's pairs plot of the
restricted dimensions).
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from model.analysis.futures import (  # noqa: E402
    atomic_folder,
    check_reporter,
    levers_of,
    markdown_table,
    parse_policy,
    policy_label,
    runs_left_out,
    select_policy,
    slug,
    uncertainties_of,
)
from model.analysis.labels import HEADLINE_REPORTER, fmt_value  # noqa: E402
from model.analysis.style import DPI, PAGE_WIDTH_IN, styled  # noqa: E402
from model.analysis.sweep_data import Sweep, checked_sweep  # noqa: E402
from model.sweep.errors import UsageError  # noqa: E402

DEFAULT_MIN_DENSITY = 0.8


def num(value: float) -> str:
    """A box limit in 3 significant digits: 1712120 -> '1.71M', 0.8123 -> '0.812'."""
    v = float(value)
    for scale, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= scale:
            return f"{v / scale:.3g}{suffix}"
    return f"{v:.3g}"


def import_prim():
    """EMA Workbench's PRIM module (an optional extra); UsageError naming the install when missing."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # ipyparallel/altair notices at import
            from ema_workbench.analysis import prim
    except ImportError as exc:
        raise UsageError(f"scenario discovery needs EMA Workbench ({exc}); allowed: install it with "
                         f"pip install -c requirements.lock -e '.[explore]'") from None
    return prim


@dataclass
class Discovery:
    """The result of one PRIM run: the trajectory, the chosen box and its restricted dimensions."""

    reporter: str
    direction: str  # "below" | "above"
    threshold: float
    policy: dict
    dimensions: list[str]
    n_runs: int
    n_cases: int
    trajectory: pd.DataFrame  # id, coverage, density, mass, mean, res_dim, n, k
    chosen: int
    box: pd.DataFrame  # one row per restricted dimension
    notes: list[str] = field(default_factory=list)
    prim_box: object = None  # EMA's PrimBox (for its figures)
    runs: dict = field(default_factory=dict)  # planned, failed, not_finite: the runs PRIM did not see

    @property
    def stats(self) -> dict:
        row = self.trajectory.loc[self.chosen]
        return {k: float(row[k]) for k in ("coverage", "density", "mass")} | {
            "res_dim": int(row["res_dim"]), "n": int(row["n"]), "k": int(row["k"])}

    def condition(self) -> str:
        op = "<" if self.direction == "below" else ">"
        return f"{self.reporter} {op} {fmt_value(self.threshold)}"

    def sentence(self) -> str:
        """'With export_regime=lagged, us_stack_share < 0.3 when huawei_capacity_2026 > 1.9M and ...:
        coverage 0.80, density 0.90.'"""
        s = self.stats
        where = " and ".join(self.box["restriction"]) if len(self.box) else "anywhere (no restriction)"
        who = f"With {policy_label(self.policy)}, " if self.policy else ""
        return (f"{who}{self.condition()} ({self.n_cases} of {self.n_runs} runs) when {where}: "
                f"coverage {s['coverage']:.2f}, density {s['density']:.2f} "
                f"({s['k']} of the {s['n']} runs in the box; mass {s['mass']:.2f}).")

    def table(self) -> pd.DataFrame:
        """The box as a paste-able table: dimension, box, full range, quasi-p."""
        return pd.DataFrame({
            "dimension": self.box["dimension"],
            "box": self.box["box"],
            "full range": self.box["full_range"],
            "quasi-p": self.box["quasi_p"],
        })

    def markdown(self) -> str:
        s = self.stats
        lines = [f"**Scenario discovery (PRIM)**: {self.sentence()}", "",
                 markdown_table(self.table()) if len(self.box) else "(the box restricts no dimension)", "",
                 f"Box {self.chosen} of {len(self.trajectory)} on the peeling trajectory; coverage "
                 f"{s['coverage']:.3f}, density {s['density']:.3f}, mass {s['mass']:.3f}, "
                 f"{s['res_dim']} restricted dimension(s) of {len(self.dimensions)}; "
                 f"base rate {self.n_cases / self.n_runs:.3f}."]
        return "\n".join(lines) + "\n"


def discover(sweep: Sweep, reporter: str, threshold: float, direction: str = "below",
             policy_items: list[str] | None = None, min_density: float = DEFAULT_MIN_DENSITY,
             box_index: int | None = None, peel_alpha: float = 0.05, mass_min: float = 0.05) -> Discovery:
    """Run PRIM on ``sweep``'s final values. Raises UsageError on bad input or an empty result."""
    reporter = check_reporter(sweep, reporter)
    if direction not in ("below", "above"):
        raise UsageError(f"direction {direction!r}; allowed: below, above")
    if not math.isfinite(threshold):
        raise UsageError(f"--{direction} {threshold}: allowed: a finite number")
    policy = parse_policy(sweep, policy_items or [])
    final = select_policy(sweep.final, policy).reset_index(drop=True)
    levers = levers_of(sweep)
    candidates = uncertainties_of(sweep) + [lv for lv in levers if lv not in policy]
    dims = [d for d in candidates if d in final.columns and final[d].nunique(dropna=True) > 1]
    if not dims:
        raise UsageError(f"{sweep.dir}: no parameter varies across the runs"
                         f"{' of ' + policy_label(policy) if policy else ''}; "
                         "allowed: a sweep with [uncertainties] or [sample] (or [grid]) "
                         "to discover boxes in")
    values = final[reporter].to_numpy(float)
    ok = np.isfinite(values)
    final, values = final[ok].reset_index(drop=True), values[ok]
    # failed runs are not in final.csv, a non-finite value is no case either way: left out, and said
    left, notes = runs_left_out(sweep, reporter, policy, len(values))
    y = values < threshold if direction == "below" else values > threshold
    op = "<" if direction == "below" else ">"
    span = (f"the final values run from {fmt_value(values.min())} to {fmt_value(values.max())}"
            if len(values) else "no runs")
    if not y.any() or y.all():
        which = "no run" if not y.any() else "every run"
        raise UsageError(f"--{direction} {fmt_value(threshold)}: {which} has {reporter} {op} "
                         f"{fmt_value(threshold)} ({span}; {len(values)} runs); allowed: a threshold that "
                         f"some runs cross and others do not")
    x = _prim_inputs(final[dims])
    prim = import_prim()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        p = prim.Prim(x, y, peel_alpha=peel_alpha, paste_alpha=peel_alpha, mass_min=mass_min)
        box = p.find_box()
    if box is None:
        raise UsageError(f"{sweep.dir}: PRIM found no box for {reporter} {op} {fmt_value(threshold)}; "
                         f"allowed: a threshold that some runs cross")
    traj = box.peeling_trajectory.reset_index(drop=True)
    chosen = _choose(traj, min_density, box_index)
    if box_index is None and traj["density"].max() < min_density:
        notes.append(f"no box reaches density {min_density}; "
                     f"the densest ({traj['density'].max():.2f}) is shown")
    table = _box_table(box, p, chosen, x)
    return Discovery(reporter, direction, float(threshold), policy, dims, len(y), int(y.sum()), traj,
                     chosen, table, notes, box, left)


def _prim_inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """Numbers become floats (integers too: EMA's PRIM pastes a box edge half-way between two values, e.g.
    -1.5 quarters, which pandas refuses to write into an integer column); everything else (choices,
    booleans) becomes text, which EMA's PRIM treats as categorical."""
    out = {}
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            out[name] = col.astype(str).astype(object)
        else:
            out[name] = col.astype(float)
    return pd.DataFrame(out)


def _choose(traj: pd.DataFrame, min_density: float, box_index: int | None) -> int:
    if box_index is not None:
        if not 0 <= box_index < len(traj):
            raise UsageError(f"--box {box_index}: not on the peeling trajectory; "
                             f"allowed: 0 to {len(traj) - 1}")
        return int(box_index)
    dense = traj[traj["density"] >= min_density]
    if len(dense):  # the highest coverage; among equal coverage, the densest
        return int(dense.sort_values(["coverage", "density"], ascending=False, kind="stable").index[0])
    return int(traj["density"].idxmax())


def _box_table(box, p, i: int, x: pd.DataFrame) -> pd.DataFrame:
    lims = box.box_lims[i]
    init = p.box_init
    qp = box.p_values[i]
    rows = []
    for name in x.columns:
        lo, hi = lims.loc[0, name], lims.loc[1, name]
        ilo, ihi = init.loc[0, name], init.loc[1, name]
        if isinstance(ilo, set):
            if set(lo) == set(ilo):
                continue
            kept = sorted(map(str, lo))
            restriction = f"{name} in {{{', '.join(kept)}}}"
            shown, full = "{" + ", ".join(kept) + "}", "{" + ", ".join(sorted(map(str, ilo))) + "}"
            low = high = None
        else:
            if lo == ilo and hi == ihi:
                continue
            parts = []
            if lo != ilo:
                parts.append(f"{name} > {num(lo)}" if hi == ihi else f"{num(lo)} < {name}")
            if hi != ihi:
                parts.append(f"{name} < {num(hi)}" if lo == ilo else f"< {num(hi)}")
            restriction = " ".join(parts) if len(parts) == 2 else parts[0]
            shown, full = f"{num(lo)} – {num(hi)}", f"{num(ilo)} – {num(ihi)}"
            low, high = float(lo), float(hi)
        q = [v for v in qp.get(name, []) if v is not None and v != -1 and np.isfinite(v)]
        rows.append({"dimension": name, "restriction": restriction, "box": shown, "full_range": full,
                     "low": low, "high": high, "quasi_p": ", ".join(f"{v:.2g}" for v in q) or "-",
                     "quasi_p_min": min(q) if q else np.nan})
    columns = ["dimension", "restriction", "box", "full_range", "low", "high", "quasi_p", "quasi_p_min"]
    frame = pd.DataFrame(rows, columns=columns)
    return frame.sort_values("quasi_p_min", kind="stable").reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# Figures
@styled
def tradeoff_figure(d: Discovery):
    """The peeling trajectory: coverage (x) against density (y), coloured by restricted dimensions;
    the chosen box ringed and labelled."""
    t = d.trajectory
    fig, ax = plt.subplots(figsize=(7.0, 5.2), constrained_layout=True)
    res = t["res_dim"].to_numpy(int)
    cmap = plt.get_cmap("viridis", max(2, res.max() + 1))
    sc = ax.scatter(t["coverage"], t["density"], c=res, cmap=cmap, vmin=-0.5, vmax=max(1, res.max()) + 0.5,
                    s=22, edgecolor="black", linewidth=0.3, zorder=3)
    ax.plot(t["coverage"], t["density"], color="gray", lw=0.6, zorder=2)
    fig.colorbar(sc, ax=ax, ticks=range(res.max() + 1)).set_label("restricted dimensions")
    row = t.loc[d.chosen]
    ax.scatter([row["coverage"]], [row["density"]], s=160, facecolor="none", edgecolor="red", lw=1.6,
               zorder=4)
    ax.annotate(f"box {d.chosen}: coverage {row['coverage']:.2f}, density {row['density']:.2f}",
                (row["coverage"], row["density"]), xytext=(-10, 12), textcoords="offset points", ha="right",
                fontsize=8.5, color="red")
    ax.axhline(d.n_cases / d.n_runs, color="gray", ls=":", lw=0.8)
    ax.text(0.01, d.n_cases / d.n_runs, " base rate", va="bottom", fontsize=7.5, color="gray")
    ax.set_xlim(0, 1.05)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("coverage (share of all cases inside the box)")
    ax.set_ylabel("density (share of the box's runs that are cases)")
    ax.grid(alpha=0.3)
    who = f" [{policy_label(d.policy)}]" if d.policy else ""
    ax.set_title(f"PRIM peeling trajectory: {d.condition()}{who}", fontsize=9.5)
    return fig


@styled
def box_figure(d: Discovery):
    """EMA Workbench's box figure (restricted dimensions normalised, quasi-p-values in the labels)."""
    if not len(d.box):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # 0.8 in short of the page: EMA Workbench adds its labels on the right
        fig, ax = plt.subplots(figsize=(PAGE_WIDTH_IN - 0.8, 1.2 + 0.55 * len(d.box)))
        d.prim_box.inspect(d.chosen, style="graph", ax=ax)
        ax.set_title(f"{d.condition()}: box {d.chosen}", fontsize=9.5)
    return fig


@styled
def pairs_figure(d: Discovery):
    """EMA Workbench's pairs plot of the restricted dimensions (cases coloured), the box drawn."""
    numeric = [n for n, lo in zip(d.box["dimension"], d.box["low"]) if lo is not None and not pd.isna(lo)]
    if not numeric:
        return None
    if len(numeric) == 1:
        return _strip_figure(d, numeric[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        grid = d.prim_box.show_pairs_scatter(d.chosen, dims=numeric, diag="kde", upper="scatter",
                                             lower="scatter")
    fig = grid.figure
    fig.suptitle(f"{d.condition()}: box {d.chosen} (coverage {d.stats['coverage']:.2f}, "
                 f"density {d.stats['density']:.2f})", fontsize=9.5, y=1.02)
    return fig


@styled
def _strip_figure(d: Discovery, name: str):
    """One restricted dimension: its values, cases in orange, the box's range shaded."""
    p = d.prim_box.prim
    x = p.x[name].to_numpy(float)
    y = np.asarray(p.y, bool)
    row = d.box[d.box["dimension"] == name].iloc[0]
    fig, ax = plt.subplots(figsize=(7.0, 2.4), constrained_layout=True)
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, len(x))
    ax.axvspan(row["low"], row["high"], color="0.85", zorder=1, label="box")
    ax.scatter(x[~y], jitter[~y], s=12, color="tab:blue", label="other runs", zorder=2)
    ax.scatter(x[y], jitter[y], s=12, color="tab:orange", label=d.condition(), zorder=3)
    ax.set_yticks([])
    ax.set_xlabel(name)
    ax.legend(fontsize=7.5, loc="upper center", bbox_to_anchor=(0.5, -0.35), ncol=3, frameon=False)
    ax.set_title(f"{d.condition()}: box {d.chosen} (coverage {d.stats['coverage']:.2f}, "
                 f"density {d.stats['density']:.2f})", fontsize=9.5)
    return fig


# ---------------------------------------------------------------------------------------------
# The command
def output_dir(sweep_dir: Path, d: Discovery) -> Path:
    name = f"{d.reporter}_{d.direction}_{fmt_value(d.threshold)}"
    if d.policy:
        name += "_" + "_".join(f"{k}-{v}" for k, v in d.policy.items())
    return Path(sweep_dir) / "discover" / slug(name)


def write_discovery(sweep: Sweep, d: Discovery) -> Path:
    target = output_dir(sweep.dir, d)
    with atomic_folder(target) as tmp:
        (tmp / "box.md").write_text(d.markdown(), encoding="utf-8")
        d.box.to_csv(tmp / "box.csv", index=False)
        d.trajectory.to_csv(tmp / "trajectory.csv", index=False)
        meta = {"reporter": d.reporter, "direction": d.direction, "threshold": d.threshold,
                "policy": {k: (v.item() if hasattr(v, "item") else v) for k, v in d.policy.items()},
                "dimensions": d.dimensions, "n_runs": d.n_runs, "n_cases": d.n_cases, "chosen_box": d.chosen,
                "runs_left_out": d.runs,
                "stats": d.stats, "sentence": d.sentence(), "notes": d.notes,
                "method": "ema_workbench.analysis.prim.Prim (lenient1, peel/paste alpha 0.05, mass_min 0.05)",
                "ema_workbench": _ema_version()}
        (tmp / "discover.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        for name, make in (("tradeoff.png", tradeoff_figure), ("box.png", box_figure),
                           ("pairs.png", pairs_figure)):
            fig = make(d)
            if fig is not None:
                fig.savefig(tmp / name, dpi=DPI, format="png", bbox_inches="tight")
                plt.close(fig)
        plt.close("all")
    return target


def _ema_version() -> str | None:
    try:
        from importlib.metadata import version

        return version("ema_workbench")
    except Exception:  # noqa: BLE001
        return None


def discover_folder(folder: str, reporter: str | None, below: float | None, above: float | None,
                    policy: list[str], min_density: float, box: int | None) -> tuple[Discovery, Path]:
    """``chipstack discover DIR ...``: check the arguments, run PRIM on the sweep in ``folder``, write
    its files; return the discovery and the folder written (the CLI prints them)."""
    if (below is None) == (above is None):
        raise UsageError("discover: give exactly one of --below X or --above X (the failure condition)")
    if not 0 < min_density <= 1:
        raise UsageError(f"--min-density {min_density}: allowed: a number in (0, 1]")
    sweep = checked_sweep(folder)
    direction, threshold = ("below", below) if below is not None else ("above", above)
    d = discover(sweep, reporter or HEADLINE_REPORTER, threshold, direction, policy, min_density, box)
    return d, write_discovery(sweep, d)


__all__ = ["Discovery", "discover", "write_discovery", "discover_folder"]
