"""Figures of a single run: the main reporters against the calendar quarter."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from model.analysis.style import PAGE_WIDTH_IN, styled  # noqa: E402
from model.core.catalogue import US_LEADER  # noqa: E402
from model.core.reporters import REPORTERS_BY_NAME as R  # noqa: E402


def quarter_axis(ax, quarters: list[str], max_labels: int = 10) -> None:
    """Label a time axis with calendar quarters (at most ``max_labels`` ticks)."""
    every = max(1, -(-len(quarters) // max_labels))
    ticks = list(range(0, len(quarters), every))
    ax.set_xticks(ticks)
    ax.set_xticklabels([quarters[i] for i in ticks], rotation=45, ha="right")
    ax.set_xlabel("quarter")


#: The reporters of the rules in force (codes, ``Reporter.decode``): the figure's bands.
RULE_REPORTERS = ("us_regime_code", "china_policy_code")


def rule_spans(df: pd.DataFrame) -> list[tuple[int, int, str]]:
    """(first row, last row, 'US regime / Beijing's policy') of each run of quarters under the same rules
    (the code reporters ``us_regime_code`` and ``china_policy_code``); empty when ``df`` has neither."""
    if not set(RULE_REPORTERS) <= set(df.columns):
        return []
    us, china = (R[name] for name in RULE_REPORTERS)
    labels = [f"{us.decode(a)} / {china.decode(b)}"
              for a, b in zip(df[RULE_REPORTERS[0]], df[RULE_REPORTERS[1]])]
    spans: list[tuple[int, int, str]] = []
    for k, label in enumerate(labels):
        if spans and spans[-1][2] == label:
            spans[-1] = (spans[-1][0], k, label)
        else:
            spans.append((k, k, label))
    return spans


def rule_bands(ax, df: pd.DataFrame) -> None:
    """Shade ``ax`` by the rules in force each quarter (alternating greys) and name each span on top
    (upright in a span of three quarters or more, else turned)."""
    import matplotlib.transforms as mtransforms

    top = mtransforms.blended_transform_factory(ax.transData, ax.transAxes)
    for k, (first, last, label) in enumerate(rule_spans(df)):
        ax.axvspan(first - 0.5, last + 0.5, color="0.94" if k % 2 == 0 else "0.86", lw=0, zorder=0)
        wide = last - first >= 2
        ax.text((first + last) / 2, 0.985, label.replace(" / ", "\n" if wide else " "), transform=top,
                ha="center", va="top", fontsize=7, rotation=0 if wide else 90, color="0.25",
                clip_on=True)


@styled
def run_figure(df: pd.DataFrame, title: str = "chipstack: one run"):
    """A 2x2 figure of one run's model reporters (``df`` from ``ChipMarketModel.dataframe``); units and
    scales from the reporter table (``model.core.reporters.REPORTERS``)."""
    quarters = df["quarter"].tolist()
    x = range(len(df))
    fig, axes = plt.subplots(2, 2, figsize=(PAGE_WIDTH_IN, 6.4), constrained_layout=True)
    ax = axes[0, 0]
    if "us_share_legal" in df:
        ax.plot(x, df["us_share_legal"], label="installed, bought legally since the start", lw=2)
    ax.plot(x, df["us_stack_share"], label="installed, all channels", lw=1.2)
    ax.plot(x, df["us_share_new"], label="new purchases, all channels", lw=1.2, ls="--")
    ax.plot(x, df["developers_on_us_stack"], label="developers mostly on US", lw=1, ls=":")
    ax.set_ylim(-0.02, 1.25 if any(last - first < 2 for first, last, _ in rule_spans(df)) else 1.12)
    ax.set_ylabel("share on the US stack\n(0-1, FLOP-based)")
    ax.set_title("US stack share\n(bands: US regime / Beijing's policy in force)")
    rule_bands(ax, df)
    ax.legend(fontsize=7, loc="lower right")
    quarter_axis(ax, quarters)

    ax = axes[0, 1]
    compute = R["china_compute_h100e"]  # unmet demand on the same axis, in the same unit
    ax.plot(x, compute.shown(df["china_compute_h100e"]), lw=1.6, label="installed")
    ax.plot(x, compute.shown(df["unmet_demand_h100e"]), lw=1.2, ls="--", label="unmet demand this quarter")
    ax.set_ylabel(compute.unit)
    ax.set_title("China's AI compute")
    ax.legend(fontsize=7)
    quarter_axis(ax, quarters)

    ax = axes[1, 0]
    revenue = R["nvidia_china_revenue_usd"]  # domestic revenue in the same unit
    ax.plot(x, revenue.shown(df["nvidia_china_revenue_usd"]), lw=1.6, label=f"{US_LEADER} (China)")
    ax.plot(x, revenue.shown(df["domestic_revenue_usd"]), lw=1.6, label="domestic chipmakers")
    ax.set_ylabel(f"revenue ({revenue.unit})")
    ax.set_title("Chip revenue in China")
    ax.legend(fontsize=7)
    quarter_axis(ax, quarters)

    ax = axes[1, 1]
    ax.plot(x, df["domestic_ecosystem"], lw=1.6, color="tab:red", label=R["domestic_ecosystem"].axis_label)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("ecosystem maturity (0-1)")
    ax2 = ax.twinx()
    gap = R["capability_gap_months"]
    ax2.plot(x, df["capability_gap_months"], lw=1.2, ls="--", color="tab:gray", label=gap.label)
    ax2.spines["right"].set_visible(True)
    ax2.set_ylabel(gap.axis_label)
    ax2.set_ylim(bottom=0)
    ax.set_title("Domestic ecosystem and capability gap")
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="lower right")
    quarter_axis(ax, quarters)
    fig.suptitle(title)
    return fig
