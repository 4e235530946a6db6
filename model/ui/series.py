"""The time-series views: a table of reporter names (``SERIES_VIEWS``), one line per view, turned
into view classes that draw those reporters against quarters (A solid, B dashed in compare mode).
Labels, units and scales are the reporter table's (``model.core.reporters.REPORTERS``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from model.core.catalogue import DOMESTIC_LEADER, US_LEADER
from model.core.chip_market import ChipMarketModel
from model.core.reporters import REPORTERS_BY_NAME
from model.ui.view_base import (
    FONT_PT,
    TITLE_PT,
    View,
    legend_layout,
    legend_row_fraction,
    maker_colour,
    nice_ceiling,
)


def _series(model: ChipMarketModel, name: str) -> np.ndarray:
    return np.asarray(model.datacollector.model_vars.get(name, []), dtype=float)


class _SeriesView(View):
    """Reporters against quarters: LINES = (reporter, style, axis 0 or 1). Labels, units and scales
    come from ``model.core.reporters.REPORTERS``. In compare mode each line has a dashed B twin."""

    LINES: tuple = ()
    YLABELS: tuple = ("", "")  # "" = the axis's first reporter's label and unit
    YLIM: tuple = ((0.0, None), (0.0, None))  # fixed (low, high) per axis; None = nice ceiling of the data
    MIN_TOP: tuple = (0.0, 0.0)  # the data-driven ceiling is at least this, per axis

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        twin = any(axis == 1 for *_, axis in self.LINES)
        ax = self._axes(right=0.86 if twin else 0.96)
        self.axes = [ax, ax.twinx()] if twin else [ax]
        self.lines = []  # (line, reporter, scenario "A" or "B", axis)
        for reporter, style, axis in self.LINES:
            rep = REPORTERS_BY_NAME[reporter]
            (line,) = self.axes[axis].plot([], [], label=rep.label, **style)
            self.lines.append((line, reporter, "A", axis))
            self._animate(line)
            if self.compare:
                b_style = {**style, "ls": "--", "marker": None, "lw": 1.5}
                (b_line,) = self.axes[axis].plot([], [], label=f"B: {rep.label}", **b_style)
                self.lines.append((b_line, reporter, "B", axis))
                self._animate(b_line)
        for k in range(len(self.axes)):
            first = next(r for r, _, a in self.LINES if a == k)
            label = self.YLABELS[k] or REPORTERS_BY_NAME[first].axis_label
            colour = next(st["color"] for _, st, a in self.LINES if a == k) if twin else "black"
            self.axes[k].set_ylabel(label, color=colour, fontsize=FONT_PT)
            self.axes[k].tick_params(labelsize=FONT_PT)
        # The legend sits above the axes, in the static frame: it never overlaps a line, so it is
        # drawn once (text is the slow part of a matplotlib draw), not on every step.
        handles = [line for line, _, s, _ in self.lines if s == "A"]
        labels = [h.get_label() for h in handles]
        extra, extra_labels = self._ab_handles()
        ncols, rows = legend_layout(labels + extra_labels)
        self.fig.subplots_adjust(top=0.925 - legend_row_fraction() * rows - 0.02)
        ax.set_title("")
        self.fig.suptitle(self.title, fontsize=TITLE_PT, y=0.985)
        box = ax.get_position()
        self.legend = self.fig.legend(handles + extra, labels + extra_labels, fontsize=FONT_PT, ncols=ncols,
                                      loc="upper center", bbox_to_anchor=((box.x0 + box.x1) / 2, 0.935),
                                      frameon=False, handlelength=2.5, columnspacing=1.2)
        self.n = 0

    def update(self) -> Figure:
        models = {"A": self.model, "B": self.twin}
        n = 0
        top = [0.0] * len(self.axes)
        for line, reporter, scenario, axis in self.lines:
            y = _series(models[scenario], reporter) / REPORTERS_BY_NAME[reporter].scale
            if scenario == "A":
                n = len(y)
            line.set_data(np.arange(len(y)), y)
            if len(y):
                top[axis] = max(top[axis], float(np.nanmax(y)))
        for k, ax in enumerate(self.axes):
            low, high = self.YLIM[k]
            if high is None:
                high = self.min_top(k, nice_ceiling(top[k] * 1.08))
            if ax.get_ylim() != (low, high):
                ax.set_ylim(low, high)
        self._quarter_axis(self.axes[0], n)
        self.n = n
        return self.fig

    def min_top(self, axis: int, top: float) -> float:
        return max(top, self.MIN_TOP[axis]) if axis < len(self.MIN_TOP) else top

    def frame_key(self) -> Any:
        return (self._span, self.n == 0, tuple(ax.get_ylim() for ax in self.axes))

    def caption(self) -> str:
        """The series drawn, by scenario, with their latest values and units."""
        out = []
        for scenario in ("A", "B"):
            shown = []
            for line, reporter, s, _ in self.lines:
                y = line.get_ydata()
                if s == scenario and len(y):
                    rep = REPORTERS_BY_NAME[reporter]
                    shown.append(f"{rep.label} {float(y[-1]):.3g} ({rep.unit})")
            if shown:
                out.append(f"{scenario}: " + "; ".join(shown))
        return " | ".join(out)


@dataclass(frozen=True)
class SeriesSpec:
    """One time-series view: reporters (by name) against quarters, A solid and B dashed.

    ``lines``: (reporter, colour, axis 0 = left or 1 = right, marker). Labels, units and scales
    are the reporter table's (``model.core.reporters.REPORTERS``).
    """

    cls_name: str  # the view's class name (also in the caption's CSS class)
    title: str
    lines: tuple[tuple[str, str, int, str], ...]
    ylabels: tuple[str, ...] = ("", "")  # "" = the axis's first reporter's label and unit
    ylim: tuple = ((0.0, None), (0.0, None))  # fixed (low, high) per axis; None = nice ceiling of the data
    min_top: tuple = (0.0, 0.0)  # the data-driven ceiling is at least this, per axis


#: The time-series views, in page order. A view of reporters is one line here: a later "budget
#: split" or "Nvidia China supply" view is its title and reporter names (the reporters must be in
#: ``model.core.reporters.REPORTERS``, which gives labels, units and scales). Views in this table
#: whose reporters the model does not have are left out (``series_views``).
SERIES_VIEWS: tuple[SeriesSpec, ...] = (
    SeriesSpec("USShareView", "US stack share", (
        ("us_stack_share", "#1565c0", 0, "o"),
        ("us_share_new", "#2e7d32", 0, "o"),
        ("developers_on_us_stack", "0.45", 0, "."),
        ("us_stack_share_incl_offshore", "#64b5f6", 0, "^"),
    ), ylabels=("share on the US stack (0-1)",), ylim=((-0.02, 1.02),)),
    SeriesSpec("ChannelView", "US share by channel", (
        ("us_share_legal", "#1565c0", 0, "o"),
        ("us_share_legacy", "0.45", 0, "."),
        ("us_share_grey", "#6d4c41", 0, "s"),
    ), ylabels=("US share of China's compute (0-1, FLOP-based)",), ylim=((-0.02, 1.02),)),
    SeriesSpec("ComputeGapView", "China's compute against the US's", (
        ("china_to_us_compute_ratio", "#c62828", 0, "o"),
        ("frontier_gap", "#ef6c00", 0, "s"),
    ), ylabels=("ratio, FLOP-based",), ylim=((0.0, None),)),
    SeriesSpec("RevenueView", f"{US_LEADER} vs domestic revenue", (
        ("nvidia_china_revenue_usd", maker_colour(US_LEADER), 0, "o"),
        ("domestic_revenue_usd", maker_colour(DOMESTIC_LEADER), 0, "o"),
    ), ylabels=("revenue (billion USD per quarter)",), ylim=((0.0, None),)),
    SeriesSpec("EcosystemGapView", "Domestic ecosystem and capability gap", (
        ("domestic_ecosystem", "#6a1b9a", 0, "o"),
        ("capability_gap_months", "#ef6c00", 1, "s"),
    ), ylim=((0.0, 1.02), (0.0, None)), min_top=(0.0, 30.0)),
    SeriesSpec("BudgetSplitView", "Where the budget went", (
        ("budget_usd", "0.3", 0, "."),
        ("spent_china_usd", "#1565c0", 0, "o"),
        ("spent_offshore_usd", "#00838f", 0, "o"),
        ("spent_grey_usd", "#6d4c41", 0, "o"),
        ("unspent_usd", "#c62828", 0, "o"),
    ), ylabels=("billion USD per quarter",), ylim=((0.0, None),)),
    SeriesSpec("SupplyView", f"{US_LEADER}'s China supply and {DOMESTIC_LEADER}'s output ceiling", (
        ("nvidia_china_supply_units", maker_colour(US_LEADER), 0, "o"),
        ("huawei_output_cap_units", maker_colour(DOMESTIC_LEADER), 0, "s"),
    ), ylabels=("thousand units per quarter",), ylim=((0.0, None),)),
)


def series_view_class(spec: SeriesSpec) -> type[_SeriesView]:
    """The view class of a ``SERIES_VIEWS`` line."""
    lines = tuple((rep, {"color": colour, "marker": marker, "ms": 3 if marker != "." else 2}, axis)
                  for rep, colour, axis, marker in spec.lines)
    return type(spec.cls_name, (_SeriesView,), {
        "title": spec.title, "LINES": lines, "YLABELS": spec.ylabels, "YLIM": spec.ylim,
        "MIN_TOP": spec.min_top, "__module__": __name__,
        "__doc__": f"{spec.title}: " + ", ".join(r for r, *_ in spec.lines) + " against quarters."})


def series_views() -> dict[str, type[_SeriesView]]:
    """Class name -> view class of every ``SERIES_VIEWS`` line whose reporters all exist."""
    return {spec.cls_name: series_view_class(spec) for spec in SERIES_VIEWS
            if all(rep in REPORTERS_BY_NAME for rep, *_ in spec.lines)}


SERIES_VIEW_CLASSES = series_views()
USShareView = SERIES_VIEW_CLASSES["USShareView"]
