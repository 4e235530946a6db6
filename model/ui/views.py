"""The page's views: installed compute by chipmaker, chips sold by product, the developer network
(drawn from the model's arrays with a fixed layout computed once per model), and the list of all
views in page order (``VIEW_CLASSES``, with the time-series views of ``model.ui.series``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from model.core.chip_market import ChipMarketModel
from model.core.network import edge_list
from model.core.population import SEGMENTS
from model.core.quarters import format_quarter
from model.ui.series import SERIES_VIEW_CLASSES, USShareView
from model.ui.text import state_quarter
from model.ui.view_base import FONT_PT, TITLE_PT, View, nice_ceiling

#: Most peer links drawn in the network view, and most developers (the largest) drawn as nodes.
MAX_DRAWN_EDGES = 1500
MAX_DRAWN_NODES = 2000


class InstalledByMakerView(View):
    """Stacked area: installed compute (M H100e) by chipmaker, US makers at the bottom. In compare
    mode B's stack is drawn over it as dashed boundaries in the same colours."""

    title = "Installed compute by chipmaker"

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        self.ax = self._axes()
        self.ax.set_ylabel("installed compute (million H100e)", fontsize=FONT_PT)
        names = model.catalogue.maker_names
        makers = model.catalogue.makers  # the model's own: any maker added at run time included
        self.order = [k for k in range(len(names)) if model.us_maker_mask[k]] + \
                     [k for k in range(len(names)) if not model.us_maker_mask[k]]
        self.colours = [makers[k].colour for k in self.order]
        extra, extra_labels = self._ab_handles()
        if extra:
            extra_labels = ["A (areas)", "B (dashed: top of each maker)"]
        self.legend = self.ax.legend([Patch(color=c) for c in self.colours] + extra,
                                     [names[k] for k in self.order] + extra_labels,
                                     fontsize=FONT_PT, loc="upper left", ncols=2)
        self.areas: list = []
        self.b_lines = []
        if self.compare:
            for c in self.colours:
                (line,) = self.ax.plot([], [], color=c, ls="--", lw=1.5)
                line.set_path_effects([])
                self.b_lines.append(line)
                self._animate(line)
        self.n = 0
        self.totals = (0.0, 0.0)

    @staticmethod
    def _stack(model, order) -> np.ndarray:
        history = getattr(model, "installed_by_maker_history", [])
        if not history:
            return np.zeros((len(order), 0))
        return np.asarray(history, dtype=float).T[order] / 1e6  # makers x steps

    def update(self) -> Figure:
        data = self._stack(self.model, self.order)
        n = data.shape[1]
        for area in self.areas:
            area.remove()
            self.dynamic.remove(area)
        self.areas = []
        top = 0.0
        total_b = 0.0
        if n:
            self.areas = self.ax.stackplot(np.arange(n), data, colors=self.colours, alpha=0.9)
            for area in self.areas:  # under B's lines
                area.set_animated(True)
                self.dynamic.insert(0, area)
            top = float(data.sum(axis=0).max())
        if self.compare:
            b = self._stack(self.twin, self.order)
            cum = np.cumsum(b, axis=0)
            for k, line in enumerate(self.b_lines):
                line.set_data(np.arange(b.shape[1]), cum[k])
            if b.shape[1]:
                total_b = float(cum[-1, -1])
                top = max(top, float(cum[-1].max()))
        if n:
            top = nice_ceiling(top * 1.35)  # room for the legend
            if self.ax.get_ylim() != (0.0, top):
                self.ax.set_ylim(0.0, top)
        self.legend.set_visible(n > 0)
        self._quarter_axis(self.ax, n)
        self.n = n
        self.totals = (float(data[:, -1].sum()) if n else 0.0, total_b)
        return self.fig

    def frame_key(self) -> Any:
        return (self._span, self.n == 0, self.ax.get_ylim())

    def caption(self) -> str:
        if not self.n:
            return ""
        text = f"A: installed compute {self.totals[0]:.3g} (million H100e)"
        if self.compare:
            text += f" | B: installed compute {self.totals[1]:.3g} (million H100e)"
        return text


class ChipSalesView(View):
    """Chips sold by product in the latest quarter (thousand units), one bar per product sold so
    far in the run, coloured by chipmaker, US products first. From ``model.sales_by_chip`` (this
    quarter) and the ``chip_sales`` table (which products have sold). In compare mode B's bar is
    drawn hatched under A's."""

    title = "Chips sold by product"

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        cat = model.catalogue
        self.names = cat.names
        self.colours = [cat.makers[cat.maker_of_chip[j]].colour for j in range(len(cat.names))]
        self.ax = self.fig.add_subplot()
        self.fig.subplots_adjust(left=0.3, right=0.96, top=0.78, bottom=0.12)
        self.fig.suptitle(self.title, fontsize=TITLE_PT, y=0.985)
        self.ax.set_xlabel("units sold in the quarter (thousand)", fontsize=FONT_PT, color="0.3")
        self.ax.grid(alpha=0.3, axis="x")
        self.ax.tick_params(labelsize=FONT_PT)
        self.placeholder = self.ax.text(0.5, 0.5, f"press Step to simulate {format_quarter(model.start)}",
                                        ha="center", va="center", transform=self.ax.transAxes, color="0.4",
                                        fontsize=FONT_PT)
        handles = [Patch(color=m.colour) for m in cat.makers]  # the model's makers, in catalogue order
        labels = [m.name for m in cat.makers]
        if self.compare:
            handles += [Patch(facecolor="0.4"), Patch(facecolor="white", edgecolor="0.4", hatch="////")]
            labels += ["A", "B (hatched)"]
        self.fig.legend(handles, labels, fontsize=FONT_PT, ncols=4, loc="upper center", frameon=False,
                        bbox_to_anchor=(0.5, 0.95), columnspacing=1.0, handlelength=1.5)
        self.rows: tuple[int, ...] = ()
        self.bars: list = []  # (rectangle, chip index, scenario)
        self.n = 0
        self.latest: dict[str, np.ndarray] = {}

    @staticmethod
    def _ever_sold(model) -> set[str]:
        if model is None:
            return set()
        return set(model.datacollector.tables["chip_sales"]["chip"])

    def _sold(self, model) -> np.ndarray:
        """Units sold by product in the model's latest quarter (zeros before the first step)."""
        if model is None or model.steps == 0:
            return np.zeros(len(self.names))
        return np.array([model.sales_by_chip.get(name, 0.0) for name in self.names], dtype=float)

    def _build_rows(self, rows: tuple[int, ...]) -> None:
        for rect, _, _ in self.bars:
            rect.remove()
            self.dynamic.remove(rect)
        self.bars = []
        self.rows = rows
        y = np.arange(len(rows))[::-1]  # first product at the top
        height = 0.4 if self.compare else 0.75
        for pos, j in zip(y, rows, strict=True):
            a = self.ax.barh(pos + (height / 2 if self.compare else 0.0), 0.0, height=height,
                             color=self.colours[j], edgecolor="none")[0]
            self.bars.append((a, j, "A"))
            self._animate(a)
            if self.compare:
                b = self.ax.barh(pos - height / 2, 0.0, height=height, facecolor="white",
                                 edgecolor=self.colours[j], hatch="////", linewidth=0.8)[0]
                self.bars.append((b, j, "B"))
                self._animate(b)
        self.ax.set_yticks(y, [self.names[j] for j in rows])
        self.ax.set_ylim(-0.6, max(len(rows), 1) - 0.4)

    def update(self) -> Figure:
        sold = self._ever_sold(self.model) | self._ever_sold(self.twin)
        rows = tuple(j for j, name in enumerate(self.names) if name in sold)
        if rows != self.rows:
            self._build_rows(rows)
        self.latest = {"A": self._sold(self.model) / 1e3}
        if self.compare:
            self.latest["B"] = self._sold(self.twin) / 1e3
        for rect, j, scenario in self.bars:
            rect.set_width(self.latest[scenario][j])
        top = max(float(v.max()) for v in self.latest.values())
        high = nice_ceiling(top * 1.05)
        if self.ax.get_xlim() != (0.0, high):
            self.ax.set_xlim(0.0, high)
        self.n = self.model.steps
        self.placeholder.set_visible(self.n == 0)
        return self.fig

    def frame_key(self) -> Any:
        return (self.rows, self.n == 0, self.ax.get_xlim())

    def caption(self) -> str:
        """The best-selling products of the latest quarter, by scenario."""
        if not self.n:
            return ""
        out = []
        for scenario, units in self.latest.items():
            top = [j for j in np.argsort(-units, kind="stable")[:4] if units[j] > 0]
            shown = ", ".join(f"{self.names[j]} {units[j]:.3g}" for j in top) or "none"
            out.append(f"{scenario}: {shown} (thousand units in {format_quarter(state_quarter(self.model))}; "
                       f"{float(units.sum()):.3g} in all)")
        return " | ".join(out)


def network_layout(model: ChipMarketModel) -> tuple[np.ndarray, np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """(positions n x 2, drawn nodes, drawn edges as (rows, cols)) for the network view.

    Developers sit in one cluster per segment (hyperscaler, AI lab, state, enterprise) on a
    circle; inside a cluster they follow a sunflower (golden-angle) spiral with the largest (by
    base demand) at the centre, and the cluster's area grows with its size. No iteration and no
    randomness for positions: O(n). At most ``MAX_DRAWN_NODES`` (the largest) and
    ``MAX_DRAWN_EDGES`` (a seeded sample of the links among drawn nodes) are drawn. Computed once
    per model (the population and its peers are fixed for a run).
    """
    dev = model.developers
    n = len(dev.segment)
    demand = np.asarray(dev.base_demand, dtype=float)
    pos = np.zeros((n, 2))
    n_seg = len(SEGMENTS)
    golden = np.pi * (3.0 - np.sqrt(5.0))
    largest = max(1, int(np.bincount(dev.segment, minlength=n_seg).max()))
    for s in range(n_seg):
        members = np.flatnonzero(dev.segment == s)
        if len(members) == 0:
            continue
        members = members[np.argsort(-demand[members], kind="stable")]
        k = np.arange(len(members))
        radius = 0.62 * max(0.35, np.sqrt(len(members) / largest))  # cluster area ~ its size
        r = radius * np.sqrt((k + 0.5) / len(members))
        theta = k * golden
        angle = np.pi / 4 + 2 * np.pi * s / n_seg
        pos[members, 0] = np.cos(angle) + r * np.cos(theta)
        pos[members, 1] = np.sin(angle) + r * np.sin(theta)
    if n > MAX_DRAWN_NODES:
        drawn = np.sort(np.argsort(-demand, kind="stable")[:MAX_DRAWN_NODES])
    else:
        drawn = np.arange(n)
    rows, cols = edge_list(dev.peers)
    keep = np.zeros(n, dtype=bool)
    keep[drawn] = True
    sel = keep[rows] & keep[cols]
    rows, cols = rows[sel], cols[sel]
    if len(rows) > MAX_DRAWN_EDGES:
        pick = np.sort(np.random.default_rng(0).choice(len(rows), MAX_DRAWN_EDGES, replace=False))
        rows, cols = rows[pick], cols[pick]
    return pos, drawn, (rows, cols)


def developer_us_share(model: ChipMarketModel) -> np.ndarray:
    """Each developer's share of its installed compute on US chips (0 if it has none)."""
    installed = model.developers.installed
    total = installed.sum(axis=1)
    us = installed[:, model.us_maker_mask].sum(axis=1)
    return np.divide(us, total, out=np.zeros_like(total), where=total > 0)


class NetworkView(View):
    """The developers' peer network: colour = US share of a developer's compute, size = compute.

    Layout, links, labels and colour bar are the fixed frame; a step only recolours and resizes
    the nodes.
    """

    title = "Developer network"  # the figure's own title adds the counts

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        self.pos, self.drawn, (rows, cols) = network_layout(model)
        fig = self.fig
        ax = fig.add_axes((0.01, 0.02, 0.8, 0.86))
        cax = fig.add_axes((0.84, 0.12, 0.03, 0.66))
        if len(rows):
            segs = np.stack([self.pos[rows], self.pos[cols]], axis=1)
            ax.add_collection(LineCollection(segs, colors="0.55", linewidths=0.4, alpha=0.25, zorder=1))
        self.nodes = ax.scatter(self.pos[self.drawn, 0], self.pos[self.drawn, 1], s=5.0,
                                c=np.zeros(len(self.drawn)), cmap="RdYlGn", vmin=0.0, vmax=1.0,
                                linewidths=0.2, edgecolors="0.3", zorder=2)
        self._animate(self.nodes)
        for s, name in enumerate(SEGMENTS):
            angle = np.pi / 4 + 2 * np.pi * s / len(SEGMENTS)
            ax.text(np.cos(angle), np.sin(angle) + (0.72 if np.sin(angle) > 0 else -0.76), name,
                    ha="center", va="center", fontsize=FONT_PT, color="0.25")
        ax.set_xlim(-1.75, 1.75)
        ax.set_ylim(-1.85, 1.85)
        ax.set_aspect("equal", adjustable="box")
        ax.axis("off")
        cb = fig.colorbar(self.nodes, cax=cax)
        cb.set_label("US share of developer's compute", fontsize=FONT_PT)
        cb.ax.tick_params(labelsize=FONT_PT)
        n = len(model.developers.segment)
        shown = f"{len(self.drawn)} largest of {n}" if len(self.drawn) < n else f"{n}"
        which = "scenario A: " if self.compare else ""
        fig.suptitle(f"Developer network ({which}{shown} developers, {len(rows)} links drawn)",
                     fontsize=FONT_PT, x=0.45, y=0.97)

    def update(self) -> Figure:
        installed = self.model.developers.installed.sum(axis=1)
        top = float(installed.max()) if len(installed) and installed.max() > 0 else 1.0
        self.nodes.set_sizes(3.0 + 90.0 * np.sqrt(installed[self.drawn] / top))
        self.nodes.set_array(developer_us_share(self.model)[self.drawn])
        return self.fig


#: The views in page order: US share, installed base by maker, chips sold by product, the other
#: time-series views of ``SERIES_VIEWS`` in table order, the developer network.
VIEW_CLASSES = (USShareView, InstalledByMakerView, ChipSalesView,
                *(cls for cls in SERIES_VIEW_CLASSES.values() if cls is not USShareView), NetworkView)

