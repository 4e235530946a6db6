"""Robustness of policies across futures: ``chipstack robust SWEEP_DIR [--reporter R] [--cost C]
[--target X] [--cap Y]``.

Input: a sweep of an experiment with ``[levers]`` and ``[uncertainties]``, so that every policy (lever
combination) ran on the same futures (sample points) with the same seeds (common random numbers).
A future's outcome for a policy is the mean over its replications of the reporter at the last
quarter. For each policy, across the futures:

- ``mean``, ``p10``, ``p50``, ``p90`` of the reporter R (default ``us_share_legal``, larger is better)
  and the median and 10th/90th percentiles of the cost C (default ``china_compute_h100e``, smaller is
  better);
- the *satisficing share*: the share of futures where R >= ``--target`` and (with ``--cap``) C <= cap;
- *regret* in each future: the best policy's R in that future minus this policy's R (0 for the best);
  ``max_regret`` (the policy's worst regret across futures: minimax regret, Savage 1951, as used in
  robust decision making, Lempert et al. 2006) and ``mean_regret``.

Lever combinations whose outcomes are identical in every future (a lever that does not act under
a regime, e.g. the TPP cap under 'h20': with common random numbers their runs are the same) are one
policy, labelled by the lever values they share.

Policies are ranked by max regret (smaller first), then satisficing share and mean (larger first);
``--rank-by satisficing`` (or ``mean``, ``p10``) puts that key first.
The trade-off frontier: each policy's median R against its median C (10th-90th percentile bars),
the policies that no other beats on both medians (Pareto non-dominated) marked and labelled.

Failed runs and non-finite outcomes are said, never averaged over (issue 31 item 3): per lever combination
the runs planned, failed, finished and finished with NaN/inf (``runs.csv``, and a note for each combination
with any); a future in which any policy lacks a run (failed, or non-finite) is left out for every policy; a
policy without one usable run is named under "Left out of the ranking". ``robust_folder`` reads only a
folder whose data match the manifest's sha256 (as ``report``).

Writes ``SWEEP_DIR/robust/`` atomically: ``ranking.md`` (to paste), ``ranking.csv``, ``regret.csv``
(policy x future), ``frontier.csv``, ``runs.csv``, ``robust.json``, ``robust.png`` (distribution across
futures and regret per policy) and ``frontier.png``.
"""

from __future__ import annotations

import json
import math
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
    manifest_runs,
    markdown_table,
    policy_label,
    run_counts,
    run_problems,
    uncertainties_of,
)
from model.analysis.labels import HEADLINE_REPORTER, reporter_label, reporter_scale  # noqa: E402
from model.analysis.style import DPI, PAGE_WIDTH_IN, styled  # noqa: E402
from model.analysis.sweep_data import Sweep, checked_sweep  # noqa: E402
from model.sweep.errors import UsageError  # noqa: E402

#: Satisficing target of the default reporter: a quarter of China's installed compute on US chips sold to it
#: through the channels the US decides (an analysis choice, not a model assumption; ``--target``).
DEFAULT_TARGET = 0.25
#: --rank-by: the sort key (column, ascending) before the tie-breaks.
RANKINGS = {"max_regret": ("max_regret", True), "satisficing": ("satisficing", False),
            "mean": ("mean", False), "p10": ("p10", False)}
RANK_TEXT = {"max_regret": "maximum regret (minimax regret)", "satisficing": "satisficing share",
             "mean": "mean", "p10": "10th percentile"}


@dataclass
class Robustness:
    reporter: str
    cost: str
    target: float
    cap: float | None
    levers: list[str]
    outcomes: pd.DataFrame  # policy x future: the reporter (mean over replications)
    costs: pd.DataFrame  # policy x future: the cost
    ranking: pd.DataFrame  # one row per policy, ranked
    frontier: pd.DataFrame  # one row per policy: medians, intervals, pareto
    notes: list[str] = field(default_factory=list)
    rank_by: str = "max_regret"
    runs: pd.DataFrame | None = None  # per lever combination: planned, failed, finished, not_finite
    left_out: list[str] = field(default_factory=list)  # policies without one usable run, and why

    @property
    def regret(self) -> pd.DataFrame:
        return regret_table(self.outcomes)

    def markdown(self) -> str:
        shown = self.ranking.copy()
        cols = {"rank": "rank", "policy": "policy", "mean": f"mean {self.reporter}", "p10": "p10",
                "p50": "median", "max_regret": "max regret", "mean_regret": "mean regret",
                "satisficing": "satisficing share", "cost_p50": f"median {self.cost}"}
        shown = shown[list(cols)].rename(columns=cols)
        scale = reporter_scale(self.cost)
        for c in shown.columns:
            if c == f"median {self.cost}":
                shown[c] = [f"{v / scale:.3g}" for v in shown[c]]
            elif c not in ("rank", "policy"):
                shown[c] = [f"{v:.3f}" for v in shown[c]]
        cond = f"{self.reporter} >= {self.target:g}" + (f" and {self.cost} <= {self.cap:g}"
                                                        if self.cap is not None else "")
        n_f = self.outcomes.shape[1]
        best = self.ranking.iloc[0]
        pareto = self.frontier[self.frontier["pareto"]]["policy"].tolist()
        gone = (f"**Left out of the ranking** (regret is among the others): {'; '.join(self.left_out)}.\n\n"
                if self.left_out else "")
        return (f"{gone}**Robustness across {n_f} futures** (ranked by {RANK_TEXT[self.rank_by]}; regret in "
                f"{self.reporter}; satisficing: {cond}; "
                f"{self.cost} in {_unit(self.cost)}).\n\n{markdown_table(shown)}\n\n"
                f"Ranked first: **{best['policy']}** (max regret {best['max_regret']:.3f}, "
                f"satisficing in {best['satisficing']:.0%} of futures). Non-dominated on the medians of "
                f"{self.reporter} (higher) and {self.cost} (lower): {'; '.join(pareto)}.\n")


def _unit(reporter: str) -> str:
    label = reporter_label(reporter)
    return label[label.rfind("(") + 1:-1] if label.endswith(")") else "its unit"


def regret_table(outcomes: pd.DataFrame, larger_is_better: bool = True) -> pd.DataFrame:
    """Regret of each policy (row) in each future (column): the best policy's value in that future
    minus this one's (for larger-is-better; the reverse otherwise). Never negative; 0 for the best."""
    values = outcomes.to_numpy(float)
    if larger_is_better:
        reg = values.max(axis=0, keepdims=True) - values
    else:
        reg = values - values.min(axis=0, keepdims=True)
    return pd.DataFrame(reg, index=outcomes.index, columns=outcomes.columns)


def pareto_mask(benefit: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """True where no other point has benefit >= and cost <= with at least one strict."""
    benefit, cost = np.asarray(benefit, float), np.asarray(cost, float)
    n = len(benefit)
    keep = np.ones(n, bool)
    for i in range(n):
        dominated = (benefit >= benefit[i]) & (cost <= cost[i]) & ((benefit > benefit[i]) | (cost < cost[i]))
        keep[i] = not dominated.any()
    return keep


def robustness(sweep: Sweep, reporter: str = HEADLINE_REPORTER, cost: str = "china_compute_h100e",
               target: float = DEFAULT_TARGET, cap: float | None = None,
               rank_by: str = "max_regret") -> Robustness:
    """Per-policy robustness statistics of a levers+uncertainties sweep. Raises UsageError."""
    reporter = check_reporter(sweep, reporter)
    cost = check_reporter(sweep, cost, "--cost")
    for name, value in (("--target", target), ("--cap", cap)):
        if value is not None and not math.isfinite(value):
            raise UsageError(f"{name} {value}: allowed: a finite number")
    if rank_by not in RANKINGS:
        raise UsageError(f"--rank-by {rank_by!r}; allowed: one of {', '.join(RANKINGS)}")
    levers = levers_of(sweep)
    if not levers:
        raise UsageError(f"{sweep.dir}: a sweep without levers (its experiment has no [levers] section); "
                         f"allowed: a sweep of an experiment with [levers] and [uncertainties] "
                         f"(docs/EXPLORING.md), e.g. chipstack sweep policy_robustness")
    final = sweep.final
    future_key = "sample_index" if "sample_index" in final.columns else None
    if future_key is None:
        raise UsageError(f"{sweep.dir / 'final.csv'}: no sample_index column; allowed: a sweep of an "
                         f"experiment with [uncertainties]")
    # failed runs and non-finite outcomes are counted per policy and said (issue 31 item 3): a policy
    # without one usable run is left out by name, a future where a run is missing is left out for all
    counts = run_counts(sweep, levers, [reporter, cost])
    what = f"{reporter} or {cost}"
    notes = run_problems(counts, what)
    usable = counts["finished"] - counts["not_finite"]
    left_out = [f"{name} (none of its {counts.at[name, 'planned']} runs has a finite {what}: "
                f"{counts.at[name, 'failed']} failed, {counts.at[name, 'not_finite']} non-finite)"
                for name in usable.index[usable == 0]]
    keyed = final.assign(_policy=[policy_label(r) for r in final[levers].to_dict("records")])
    planned = (_cells(manifest_runs(sweep), levers) if manifest_runs(sweep)
               else keyed.groupby(["_policy", future_key]).size())
    keyed = keyed[np.isfinite(keyed[[reporter, cost]].to_numpy(float)).all(axis=1)]
    policies = keyed[levers].drop_duplicates().reset_index(drop=True)
    if len(policies) < 2:
        only = (f"only one policy ({policy_label(policies.iloc[0].to_dict())})" if len(policies)
                else "no policy")
        raise UsageError(f"{sweep.dir}: {only} with finished runs"
                         + (f"; left out: {'; '.join(left_out)}" if left_out else "")
                         + "; allowed: a sweep whose [levers] give at least two lever combinations that ran")
    labels = [policy_label(row) for row in policies.to_dict("records")]
    means = keyed.groupby(["_policy", future_key])[[reporter, cost]].mean()
    outcomes = means[reporter].unstack(future_key).reindex(labels)
    costs = means[cost].unstack(future_key).reindex(labels)
    have = keyed.groupby(["_policy", future_key]).size().unstack(future_key).reindex(labels)
    want = planned.unstack(future_key).reindex(index=labels, columns=have.columns)
    complete = (have == want).all(axis=0)  # every policy has all its runs there, with finite values
    if not complete.all():
        notes.append(f"{int((~complete).sum())} of {len(complete)} future(s) left out: in them a run of a "
                     f"policy failed or has a non-finite {what} (every policy is compared on the same "
                     f"futures)")
        outcomes, costs = outcomes.loc[:, complete], costs.loc[:, complete]
    if outcomes.shape[1] == 0:
        raise UsageError(f"{sweep.dir}: no future in which every policy has all its runs finished with a "
                         f"finite {what}; allowed: a sweep whose runs finished (run it with --resume, see "
                         f"failures.csv)")
    policies, outcomes, costs, merged = _merge_identical(policies, labels, outcomes, costs, levers)
    labels = outcomes.index.tolist()
    if merged:
        notes.append(f"{merged} lever combination(s) merged into others with identical outcomes in every "
                     f"future (a lever that does not act under that regime)")
    reg = regret_table(outcomes)
    y, c = outcomes.to_numpy(float), costs.to_numpy(float)
    ok = y >= target
    if cap is not None:
        ok &= c <= cap
    table = pd.DataFrame({
        "policy": labels,
        **{lv: policies[lv].to_numpy() for lv in levers},
        "mean": y.mean(axis=1), "p10": np.percentile(y, 10, axis=1), "p50": np.median(y, axis=1),
        "p90": np.percentile(y, 90, axis=1), "min": y.min(axis=1),
        "satisficing": ok.mean(axis=1),
        "max_regret": reg.to_numpy().max(axis=1), "mean_regret": reg.to_numpy().mean(axis=1),
        "cost_mean": c.mean(axis=1), "cost_p10": np.percentile(c, 10, axis=1),
        "cost_p50": np.median(c, axis=1), "cost_p90": np.percentile(c, 90, axis=1),
        "n_futures": outcomes.shape[1],
    })
    # ties within rounding (e.g. 0.6 - 0.4 vs 0.5 - 0.3) are ties: rank on 12 decimals
    column, ascending = RANKINGS[rank_by]
    order = [(column, ascending)] + [
        c for c in (("max_regret", True), ("satisficing", False), ("mean", False)) if c[0] != column]
    key = table.assign(**{f"_{c}": table[c].round(12) for c, _ in order})
    ranked = table.loc[key.sort_values([f"_{c}" for c, _ in order], ascending=[a for _, a in order],
                                       kind="stable").index].reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    frontier = table[["policy", *levers, "p10", "p50", "p90", "cost_p10", "cost_p50", "cost_p90"]].copy()
    frontier["pareto"] = pareto_mask(frontier["p50"].to_numpy(), frontier["cost_p50"].to_numpy())
    return Robustness(reporter, cost, float(target), cap, levers, outcomes, costs, ranked, frontier, notes,
                      rank_by, counts, left_out)


def _cells(runs: list[dict], levers: list[str]) -> pd.Series:
    """The manifest's runs counted per (policy, future): the runs each cell should have."""
    keys = [(policy_label({lv: r["params"].get(lv) for lv in levers}), r.get("sample_index")) for r in runs]
    index = pd.MultiIndex.from_tuples(keys, names=["_policy", "sample_index"])
    return pd.Series(1, index=index).groupby(level=[0, 1]).sum()


def _merge_identical(policies: pd.DataFrame, labels: list[str], outcomes: pd.DataFrame, costs: pd.DataFrame,
                     levers: list[str]):
    """Group lever combinations whose outcome and cost are identical in every future; label each
    group by the lever values its members share ('any' levers left out)."""
    keys = [tuple(o) + tuple(c) for o, c in zip(outcomes.to_numpy().tolist(), costs.to_numpy().tolist())]
    groups: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    rows, new_labels, firsts = [], [], []
    for members in groups.values():
        sub = policies.iloc[members]
        shared = {lv: sub[lv].iloc[0] for lv in levers if sub[lv].nunique() == 1}
        rows.append({lv: (sub[lv].iloc[0] if lv in shared else "any") for lv in levers})
        new_labels.append(_group_label(sub, levers) if len(members) > 1 else labels[members[0]])
        firsts.append(members[0])
    out = outcomes.iloc[firsts].set_axis(new_labels)
    cst = costs.iloc[firsts].set_axis(new_labels)
    return pd.DataFrame(rows, columns=levers), out, cst, len(labels) - len(firsts)


def _group_label(sub: pd.DataFrame, levers: list[str]) -> str:
    """Label of equivalent lever combinations: per value of the first lever, the levers that stay
    fixed within it; e.g. 'export_regime=h20 or export_regime=threshold, export_tpp_cap=10000'."""
    first = levers[0]
    parts = []
    for _value, part in sub.groupby(first, sort=False):
        shared = {lv: part[lv].iloc[0] for lv in levers if part[lv].nunique() == 1}
        parts.append(policy_label(shared))
    return " or ".join(parts)


# ---------------------------------------------------------------------------------------------
# Figures
@styled
def robust_figure(r: Robustness, name: str = ""):
    """Left: the reporter across futures per policy (box plots, ranked); right: max and mean regret."""
    order = r.ranking["policy"].tolist()
    data = [r.outcomes.loc[p].to_numpy(float) for p in order]
    height = max(3.2, 0.42 * len(order) + 1.6)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(PAGE_WIDTH_IN, height), sharey=True,
                                   constrained_layout=True, gridspec_kw={"width_ratios": [1.7, 1]})
    pos = np.arange(len(order))[::-1]
    ax1.boxplot(data, positions=pos, orientation="horizontal", widths=0.6, whis=(10, 90), showfliers=True,
                flierprops={"markersize": 2.5}, medianprops={"color": "black"})
    ax1.axvline(r.target, color="tab:red", ls="--", lw=0.9)
    ax1.text(r.target, pos.max() + 0.6, f" target {r.target:g}", color="tab:red", fontsize=7.5, va="bottom")
    ticks = [f"{i + 1}. {p}\n(satisficing in {share:.0%} of futures)"
             for i, (p, share) in enumerate(zip(order, r.ranking["satisficing"]))]
    ax1.set_yticks(pos, ticks, fontsize=7.5)
    ax1.set_xlabel(f"{reporter_label(r.reporter)}, final quarter")
    ax1.grid(axis="x", alpha=0.3)
    ax2.barh(pos + 0.18, r.ranking["max_regret"], height=0.36, color="tab:red", label="maximum regret")
    ax2.barh(pos - 0.18, r.ranking["mean_regret"], height=0.36, color="tab:orange", label="mean regret")
    ax2.set_xlabel(f"regret in {r.reporter}")
    ax2.legend(fontsize=7.5, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, frameon=False)
    ax2.grid(axis="x", alpha=0.3)
    fig.suptitle(f"{name}: policies ranked by {RANK_TEXT[r.rank_by]} across {r.outcomes.shape[1]} futures\n"
                 f"(boxes: quartiles, whiskers: 10th-90th percentile)")
    return fig


@styled
def frontier_figure(r: Robustness, name: str = ""):
    """Median reporter (x) against median cost (y) per policy, 10th-90th percentile bars; the
    non-dominated policies (higher reporter, lower cost) filled, labelled and joined."""
    f = r.frontier
    scale = reporter_scale(r.cost)
    x, y = f["p50"].to_numpy(float), f["cost_p50"].to_numpy(float) / scale
    xerr = np.vstack([x - f["p10"], f["p90"] - x])
    yerr = np.vstack([y - f["cost_p10"] / scale, f["cost_p90"] / scale - y])
    fig, ax = plt.subplots(figsize=(PAGE_WIDTH_IN, 4.8), constrained_layout=True)
    ax.errorbar(x, y, xerr=np.clip(xerr, 0, None), yerr=np.clip(yerr, 0, None), fmt="none", ecolor="0.6",
                elinewidth=0.8, capsize=2, zorder=1)
    pareto = f["pareto"].to_numpy(bool)
    ax.scatter(x[~pareto], y[~pareto], s=36, facecolor="white", edgecolor="black", zorder=2,
               label="dominated policy")
    ax.scatter(x[pareto], y[pareto], s=48, color="tab:red", edgecolor="black", zorder=3,
               label="non-dominated (Pareto) policy")
    order = np.argsort(x[pareto])
    ax.plot(x[pareto][order], y[pareto][order], color="tab:red", lw=1, zorder=2)
    rank = dict(zip(r.ranking["policy"], r.ranking["rank"]))
    spots: dict[tuple, list[int]] = {}
    for xi, yi, lab in zip(x, y, f["policy"]):
        spots.setdefault((round(xi, 3), round(yi, 1)), []).append(rank[lab])
    for (xi, yi), ranks in spots.items():
        is_p = any(pareto[f["policy"].map(rank).to_numpy() == k].any() for k in ranks)
        ax.annotate(", ".join(f"#{k}" for k in sorted(ranks)), (xi, yi), xytext=(5, 4),
                    textcoords="offset points", fontsize=8 if is_p else 7,
                    color="black" if is_p else "0.45")
    key = "\n".join(f"#{k} {lab}{'  (Pareto)' if p else ''}"
                    for lab, k, p in sorted(zip(f["policy"], f["policy"].map(rank), pareto),
                                            key=lambda t: t[1]))
    fig.text(0.01, -0.01, key, fontsize=7.5, va="top", ha="left", family="monospace")
    ax.set_xlabel(f"median {reporter_label(r.reporter)} across futures, final quarter")
    ax.set_ylabel(f"median {reporter_label(r.cost)} across futures, final quarter")
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.suptitle(f"{name}: the trade-off frontier over the policy levers ({r.outcomes.shape[1]} futures; "
                 f"bars: 10th-90th percentile)\nright = more of China's compute on the US stack, "
                 f"up = more compute for China", fontsize=10)
    return fig


# ---------------------------------------------------------------------------------------------
# The command
def write_robustness(sweep: Sweep, r: Robustness) -> Path:
    target = Path(sweep.dir) / "robust"
    with atomic_folder(target) as tmp:
        (tmp / "ranking.md").write_text(r.markdown(), encoding="utf-8")
        r.ranking.to_csv(tmp / "ranking.csv", index=False)
        r.regret.rename_axis("policy").to_csv(tmp / "regret.csv")
        r.frontier.to_csv(tmp / "frontier.csv", index=False)
        if r.runs is not None:
            r.runs.to_csv(tmp / "runs.csv")
        meta = {"reporter": r.reporter, "cost": r.cost, "target": r.target, "cap": r.cap, "levers": r.levers,
                "uncertainties": uncertainties_of(sweep), "n_futures": int(r.outcomes.shape[1]),
                "n_policies": int(r.outcomes.shape[0]), "rank_by": r.rank_by,
                "ranked_first": r.ranking.iloc[0]["policy"],
                "pareto": r.frontier[r.frontier["pareto"]]["policy"].tolist(), "notes": r.notes,
                "left_out": r.left_out}
        (tmp / "robust.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        for fname, make in (("robust.png", robust_figure), ("frontier.png", frontier_figure)):
            fig = make(r, sweep.name)
            fig.savefig(tmp / fname, dpi=DPI, format="png", bbox_inches="tight")
            plt.close(fig)
    return target


def robust_folder(folder: str, reporter: str | None, cost: str, target: float | None, cap: float | None,
                  rank_by: str) -> tuple[Robustness, Path]:
    """``chipstack robust DIR ...``: the robustness of each policy in the sweep in ``folder``, its files
    written; return it and the folder written (the CLI prints them)."""
    sweep = checked_sweep(folder)
    target = DEFAULT_TARGET if target is None else target
    r = robustness(sweep, reporter or HEADLINE_REPORTER, cost, target, cap, rank_by)
    return r, write_robustness(sweep, r)
