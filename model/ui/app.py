"""The chipstack browser UI: Mesa 3.5 SolaraViz with scenario presets, offline.

Start it with ``chipstack ui`` (see ``model.ui.serve``), which runs ``solara run model/app.py``.
Solara serves the module attribute ``page`` (the component ``Page``): a thin wrapper around
``mesa.visualization.SolaraViz`` that adds

* a **scenario preset** picker. SolaraViz 3.5 has no presets, and the model must keep explicit
  keyword parameters only (a ``preset`` or ``scenario`` argument would break Reset), so a preset is
  applied *around* SolaraViz: choosing one rebuilds SolaraViz's ``model_params`` with the preset's
  values and remounts SolaraViz under a new key, so that Mesa's own controls show the preset
  values and Mesa's own parameter store (the one its Reset button reads) holds them. The running
  model is kept (it lives in this wrapper's reactive variable); pressing Reset starts a new run
  with the preset, exactly as after moving any control by hand;
* a status line (quarter, regimes, headline numbers) and a short description above the views.

``chipstack ui`` runs ``solara run model.ui.app`` (the module, with the project folder on
``PYTHONPATH``): given the file path instead, Solara would put model/ first on ``sys.path``, where
``model`` names model/model.py rather than the package.

Views are matplotlib only (Altair needs a CDN, and the UI must work offline). Every view is
memoised on (model, step) so a re-render that is not a new step costs nothing; the developer
network is drawn from the model's arrays with a fixed layout cached per model.

``ChipMarketModelUI`` subclasses ``ChipMarketModel`` only to record the installed base per
chipmaker after every step (the model reports totals, not a per-maker history); it inherits the
model's explicit keyword signature, so SolaraViz's Reset can rebuild it.
"""

from __future__ import annotations

import io
import itertools
import weakref
from typing import Any

import numpy as np
import reacton.ipywidgets as rw
import solara
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from PIL import Image as PILImage
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from model.core.population import SEGMENTS
from model.core.chip_market import ChipMarketModel
from model.core.network import edge_list
from model.core.parameters import DEFAULTS, PARAMS_BY_NAME, validate_value
from model.core.policy import CHINA_STANCES, US_REGIMES
from model.core.quarters import format_quarter

APP_NAME = "chipstack: AI chips in China"
DEFAULT_SEED = 42
#: Most peer links drawn in the network view, and most developers (the largest) drawn as nodes.
MAX_DRAWN_EDGES = 1500
MAX_DRAWN_NODES = 2000
#: Resolution of the figures sent to the browser (small PNGs keep a step's redraw fast).
FIG_DPI = 80
#: Quarters shown on the time axes (the default run is 20 quarters, 2026Q1-2030Q4).
HORIZON_QUARTERS = 20

MAKER_COLOURS = {
    "Nvidia": "#2e7d32", "AMD": "#81c784",  # US stack: greens
    "Huawei": "#c62828", "Cambricon": "#ef6c00", "MooreThreads": "#ad1457",  # domestic: reds
}


# ---------------------------------------------------------------------------------------------
# The model as seen by the UI
class ChipMarketModelUI(ChipMarketModel):
    """``ChipMarketModel`` that also keeps the installed base per chipmaker after each step."""

    def step(self) -> None:
        super().step()
        history = self.__dict__.setdefault("installed_by_maker_history", [])
        history.append(self.developers.installed.sum(axis=0))


_tokens = itertools.count(1)


def model_token(model: ChipMarketModel) -> int:
    """A number unique to this model object (``id()`` can be reused after a Reset)."""
    token = getattr(model, "_ui_token", None)
    if token is None:
        token = next(_tokens)
        model._ui_token = token
    return token


# ---------------------------------------------------------------------------------------------
# Controls and presets
#: The controls, in sidebar order: parameter -> SolaraViz user-input spec (without "value").
CONTROLS: dict[str, dict[str, Any]] = {
    "export_regime": {"type": "Select", "values": list(US_REGIMES), "label": "US export regime"},
    "export_tpp_cap": {"type": "SliderInt", "min": 5_000, "max": 60_000, "step": 1_000,
                       "label": "TPP cap (with 'threshold'; enacted 21,000)"},
    "us_volume_cap_share": {"type": "SliderFloat", "min": 0.0, "max": 1.0, "step": 0.05,
                            "label": "China units <= share of US units (with 'threshold'/'lagged')"},
    "export_lag_months": {"type": "SliderInt", "min": 0, "max": 60, "step": 3,
                          "label": "Export lag (months, with 'lagged')"},
    "approved_customer_share": {"type": "SliderFloat", "min": 0.0, "max": 1.0, "step": 0.05,
                                "label": "Approved-customer share (US licence)"},
    "us_revenue_share": {"type": "SliderFloat", "min": 0.0, "max": 1.0, "step": 0.05,
                         "label": "US government revenue share"},
    "us_reversal_prob": {"type": "SliderFloat", "min": 0.0, "max": 0.5, "step": 0.01,
                         "label": "US reversal chance per quarter"},
    "china_import_policy": {"type": "Select", "values": list(CHINA_STANCES),
                            "label": "Beijing's stance (china_import_policy)"},
    "domestic_subsidy": {"type": "SliderFloat", "min": 0.0, "max": 0.9, "step": 0.05,
                         "label": "Domestic-chip subsidy (share of cost)"},
    "china_adaptive": {"type": "Checkbox", "label": "Beijing tightens as domestic supply grows"},
    "huawei_capacity_2026": {"type": "SliderInt", "min": 0, "max": 5_000_000, "step": 100_000,
                             "label": "Huawei Ascend output 2026 (chips/year)"},
    "n_developers": {"type": "SliderInt", "min": 50, "max": 10_000, "step": 50,
                     "label": "AI developers (agents)"},
    "rng": {"type": "SliderInt", "min": 0, "max": 999, "step": 1, "label": "Random seed"},
}

#: Presets: values that differ from the model's defaults (every other control takes its default).
PRESETS: dict[str, dict[str, Any]] = {
    "December 2025 decision (as enacted)": {"export_regime": "threshold", "china_import_policy": "restrict"},
    "Rolling 18-month lag (proposal)": {"export_regime": "lagged", "export_lag_months": 18,
                                        "china_import_policy": "restrict"},
    "No exports": {"export_regime": "ban"},
    "H20 only": {"export_regime": "h20"},
    "Open market": {"export_regime": "open", "china_import_policy": "open"},
    "Beijing blocks": {"china_import_policy": "ban"},
}
DEFAULT_PRESET = "December 2025 decision (as enacted)"


def preset_values(name: str) -> dict[str, Any]:
    """Every control's value under preset ``name``: the model defaults overridden by the preset.

    Values are validated with the model's own rules (``model.core.parameters.validate_value``).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    values: dict[str, Any] = {}
    for param in CONTROLS:
        if param == "rng":
            values[param] = DEFAULT_SEED
        else:
            values[param] = DEFAULTS[param]
    values.update(PRESETS[name])
    return {k: (v if k == "rng" else validate_value(k, v)) for k, v in values.items()}


def model_params(values: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """SolaraViz ``model_params`` showing ``values`` in the controls."""
    out = {}
    for param, spec in CONTROLS.items():
        value = values[param]
        if spec["type"] == "SliderInt":
            value = int(value)
        elif spec["type"] == "SliderFloat":
            value = float(value)
        out[param] = {**spec, "value": value}
    return out


def make_model(preset: str = DEFAULT_PRESET) -> ChipMarketModelUI:
    """A fresh model with a preset's values (what the page starts with)."""
    return ChipMarketModelUI(**preset_values(preset))


# ---------------------------------------------------------------------------------------------
# Text
def status_text(model: ChipMarketModel) -> str:
    """One line: the quarter just simulated, regime and stance in force, headline numbers."""
    regime = model.us_government.regime
    stance = model.china_government.stance
    if model.steps == 0:
        return (f"Quarter: {model.quarter_label} (start, not yet simulated) · Step: 0 · "
                f"US regime: {regime} · Beijing: {stance} · US share of new purchases: – · "
                f"press Step to simulate a quarter")
    return (f"Quarter: {model.quarter_label} · Step: {model.steps} · US regime: {regime} · "
            f"Beijing: {stance} · US share of new purchases: {model.us_share_new:.2f} · "
            f"US share of installed compute: {model.us_stack_share:.2f} · "
            f"China compute: {model.china_compute_h100e / 1e6:.2f} M H100e")


ABOUT = """\
**chipstack** is an agent-based model (Mesa) of the market for AI chips in China after the US
decision of December 2025 to let Nvidia sell H200s to approved Chinese customers. Each step is one
quarter: the US and Chinese governments set the rules, chipmakers (Nvidia, AMD; Huawei, Cambricon,
Moore Threads) supply chips, and Chinese AI developers choose what to buy.

* **Levers** (left): the US *export regime* (`ban`; `h20` = cut-down China parts only; `lagged` =
  chips at least *export lag* months old; `open`), the share of developers holding a US licence,
  the US government's cut of sales and the chance it tightens again; Beijing's *stance* (`open`,
  `discourage`, `restrict`, `ban`) and its domestic-chip subsidy; Huawei's 2026 output. A
  **preset** sets several at once. Controls take effect on **Reset**; then **Step** or ▶ runs
  quarters.
* **Views**: the US stack's share of China's AI compute (installed, and of each quarter's
  purchases); installed compute by chipmaker; Nvidia vs domestic revenue; domestic software-ecosystem
  maturity (CUDA = 1) and the capability gap to the US frontier; the developer network (colour:
  each developer's US share, size: its compute; one cluster per segment).
* Full description (ODD protocol, sources): [docs/ODD.md](docs/ODD.md) in the repository.
"""


# ---------------------------------------------------------------------------------------------
# Figures. One matplotlib figure per (model, view), built once. Its frame (axes, ticks, labels,
# legend, title, the network's links) is drawn once into an Agg background; each step restores
# that background and draws only the changing artists (lines, areas, nodes) on it, then encodes
# the PNG. Text is what makes a matplotlib draw slow (~30-40 ms a figure here), so a step costs a
# few ms per view instead. The frame is redrawn only when it changes: the time axis spans a fixed
# horizon and data-driven y limits move in "nice" steps (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k),
# so that is rare.
def _series(model: ChipMarketModel, name: str) -> np.ndarray:
    return np.asarray(model.datacollector.model_vars.get(name, []), dtype=float)


def _nice_ceiling(x: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k that is >= x (x > 0); 1.0 for x <= 0."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    base = 10.0 ** np.floor(np.log10(x))
    for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if m * base >= x * (1 - 1e-12):
            return m * base
    return 10.0 * base  # pragma: no cover


_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def view_for(model: ChipMarketModel, cls: type[_View]) -> _View:
    """The (cached) view ``cls`` of ``model``."""
    views = _views.setdefault(model, {})
    view = views.get(cls)
    if view is None:
        view = views[cls] = cls(model)
    return view


class _View:
    """A figure for one model: ``update()`` sets the changing artists, ``png()`` renders it."""

    title = ""

    def __init__(self, model: ChipMarketModel):
        self.model = weakref.proxy(model)
        self.fig = Figure(figsize=(5.6, 4.0), dpi=FIG_DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self.dynamic: list = []  # artists drawn on top of the background every time
        self._background = None
        self._frame_key: Any = None

    # --- to override
    def update(self) -> Figure:
        """Bring the artists up to date with the model; return the figure."""
        return self.fig

    def frame_key(self) -> Any:
        """Anything that changes when the frame (background) must be redrawn."""
        return None

    # --- rendering
    def _animate(self, *artists) -> None:
        for a in artists:
            a.set_animated(True)
            self.dynamic.append(a)

    def png(self) -> bytes:
        """The updated figure as PNG bytes (frame from the cached background when unchanged)."""
        self.update()
        key = self.frame_key()
        if self._background is None or key != self._frame_key:
            self.canvas.draw()  # animated artists are left out of a full draw
            self._background = self.canvas.copy_from_bbox(self.fig.bbox)
            self._frame_key = key
        else:
            self.canvas.restore_region(self._background)
        for artist in self.dynamic:
            if artist.get_visible():
                self.fig.draw_artist(artist)
        w, h = self.canvas.get_width_height()
        image = PILImage.frombuffer("RGBA", (w, h), self.canvas.buffer_rgba(), "raw", "RGBA", 0, 1)
        out = io.BytesIO()
        image.save(out, format="PNG", compress_level=1)
        return out.getvalue()

    # --- helpers for time axes
    def _axes(self, right: float = 0.96):
        ax = self.fig.add_subplot()
        self.fig.subplots_adjust(left=0.13, right=right, top=0.88, bottom=0.14)
        ax.set_title(self.title, fontsize=11)
        ax.grid(alpha=0.3)
        self.placeholder = ax.text(0.5, 0.5, f"press Step to simulate {format_quarter(self.model.start)}",
                                   ha="center", va="center", transform=ax.transAxes, color="0.4")
        self._span = None
        return ax

    def _quarter_axis(self, ax, n: int) -> None:
        """X axis in calendar quarters over a fixed horizon (``HORIZON_QUARTERS``, longer if the
        run is): the ticks only change when the run outgrows it."""
        self.placeholder.set_visible(n == 0)
        span = max(HORIZON_QUARTERS, -(-n // 4) * 4)
        if span == self._span:
            return
        self._span = span
        every = 4 * max(1, span // 24)
        ticks = np.arange(0, span, every)
        ax.set_xticks(ticks, [format_quarter(self.model.start + int(k)) for k in ticks], fontsize=8)
        ax.set_xlim(-0.5, span - 0.5)


class _SeriesView(_View):
    """Reporters against quarters: LINES = (reporter, scale, label, style, axis 0 or 1)."""

    LINES: tuple = ()
    YLABELS: tuple = ("", "")
    YLIM: tuple = ((0.0, None), (0.0, None))  # fixed (low, high) per axis; None = nice ceiling of the data
    LEGEND_LOC = "best"

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        twin = any(axis == 1 for *_, axis in self.LINES)
        ax = self._axes(right=0.86 if twin else 0.96)
        self.axes = [ax, ax.twinx()] if twin else [ax]
        self.lines = []
        for reporter, scale, label, style, axis in self.LINES:
            (line,) = self.axes[axis].plot([], [], label=label, **style)
            self.lines.append((line, reporter, scale, axis))
            self._animate(line)
        for k, label in enumerate(self.YLABELS[: len(self.axes)]):
            colour = self.LINES[[a for *_, a in self.LINES].index(k)][3]["color"] if twin else "black"
            self.axes[k].set_ylabel(label, color=colour)
        handles = [line for line, *_ in self.lines]
        self.legend = ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc=self.LEGEND_LOC)
        self._animate(self.legend)  # drawn over the lines
        self.n = 0

    def update(self) -> Figure:
        model = self.model
        n = 0
        top = [0.0] * len(self.axes)
        for line, reporter, scale, axis in self.lines:
            y = _series(model, reporter) * scale
            n = len(y)
            line.set_data(np.arange(n), y)
            if n:
                top[axis] = max(top[axis], float(np.nanmax(y)))
        for k, ax in enumerate(self.axes):
            low, high = self.YLIM[k]
            if high is None:
                high = self.min_top(k, _nice_ceiling(top[k] * 1.08))
            if ax.get_ylim() != (low, high):
                ax.set_ylim(low, high)
        self.legend.set_visible(n > 0)
        self._quarter_axis(self.axes[0], n)
        self.n = n
        return self.fig

    def min_top(self, axis: int, top: float) -> float:
        return top

    def frame_key(self) -> Any:
        return (self._span, self.n == 0, tuple(ax.get_ylim() for ax in self.axes))


class USShareView(_SeriesView):
    title = "US stack share"
    LINES = (
        ("us_stack_share", 1.0, "installed compute", {"color": "#1565c0", "marker": "o", "ms": 3}, 0),
        ("us_share_new", 1.0, "new purchases", {"color": "#2e7d32", "marker": "o", "ms": 3}, 0),
        ("developers_on_us_stack", 1.0, "developers mostly on US stack", {"color": "0.45", "ls": "--"}, 0),
    )
    YLABELS = ("share on the US stack",)
    YLIM = ((-0.02, 1.02),)


class RevenueView(_SeriesView):
    title = "Nvidia vs domestic revenue"
    LINES = (
        ("nvidia_china_revenue_usd", 1e-9, "Nvidia (China)",
         {"color": MAKER_COLOURS["Nvidia"], "marker": "o", "ms": 3}, 0),
        ("domestic_revenue_usd", 1e-9, "domestic chipmakers",
         {"color": MAKER_COLOURS["Huawei"], "marker": "o", "ms": 3}, 0),
    )
    YLABELS = ("revenue ($B per quarter)",)
    YLIM = ((0.0, None),)
    LEGEND_LOC = "upper left"


class EcosystemGapView(_SeriesView):
    title = "Domestic ecosystem and capability gap"
    LINES = (
        ("domestic_ecosystem", 1.0, "domestic ecosystem (CUDA = 1)",
         {"color": "#6a1b9a", "marker": "o", "ms": 3}, 0),
        ("capability_gap_months", 1.0, "capability gap (months)",
         {"color": "#ef6c00", "marker": "s", "ms": 3}, 1),
    )
    YLABELS = ("ecosystem maturity (CUDA = 1)", "capability gap (months)")
    YLIM = ((0.0, 1.02), (0.0, None))
    LEGEND_LOC = "lower left"

    def min_top(self, axis: int, top: float) -> float:
        return max(top, 30.0) if axis == 1 else top


class InstalledByMakerView(_View):
    """Stacked area: installed compute (M H100e) by chipmaker, US makers at the bottom."""

    title = "Installed compute by chipmaker"

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        self.ax = self._axes()
        self.ax.set_ylabel("installed compute (M H100e)")
        names = model.catalogue.maker_names
        self.order = [k for k in range(len(names)) if model.us_maker_mask[k]] + \
                     [k for k in range(len(names)) if not model.us_maker_mask[k]]
        self.colours = [MAKER_COLOURS.get(names[k], "0.5") for k in self.order]
        self.legend = self.ax.legend([Patch(color=c) for c in self.colours], [names[k] for k in self.order],
                                     fontsize=7, loc="upper left", ncols=2)
        self.areas: list = []
        self.n = 0

    def update(self) -> Figure:
        history = getattr(self.model, "installed_by_maker_history", [])
        n = len(history)
        for area in self.areas:
            area.remove()
            self.dynamic.remove(area)
        self.areas = []
        if n:
            data = np.asarray(history, dtype=float).T[self.order] / 1e6  # makers x steps
            self.areas = self.ax.stackplot(np.arange(n), data, colors=self.colours, alpha=0.9)
            self._animate(*self.areas)
            top = _nice_ceiling(float(data.sum(axis=0).max()) * 1.35)  # room for the legend
            if self.ax.get_ylim() != (0.0, top):
                self.ax.set_ylim(0.0, top)
        self.legend.set_visible(n > 0)
        self._quarter_axis(self.ax, n)
        self.n = n
        return self.fig

    def frame_key(self) -> Any:
        return (self._span, self.n == 0, self.ax.get_ylim())


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


class NetworkView(_View):
    """The developers' peer network: colour = US share of a developer's compute, size = compute.

    Layout, links, labels and colour bar are the fixed frame; a step only recolours and resizes
    the nodes.
    """

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
                    ha="center", va="center", fontsize=8, color="0.25")
        ax.set_xlim(-1.75, 1.75)
        ax.set_ylim(-1.85, 1.85)
        ax.set_aspect("equal", adjustable="box")
        ax.axis("off")
        cb = fig.colorbar(self.nodes, cax=cax)
        cb.set_label("US share of developer's compute", fontsize=8)
        cb.ax.tick_params(labelsize=7)
        n = len(model.developers.segment)
        shown = f"{len(self.drawn)} largest of {n}" if len(self.drawn) < n else f"{n}"
        fig.suptitle(f"Developer network ({shown} developers, {len(rows)} links drawn)",
                     fontsize=10, x=0.45, y=0.97)

    def update(self) -> Figure:
        installed = self.model.developers.installed.sum(axis=1)
        top = float(installed.max()) if len(installed) and installed.max() > 0 else 1.0
        self.nodes.set_sizes(3.0 + 90.0 * np.sqrt(installed[self.drawn] / top))
        self.nodes.set_array(developer_us_share(self.model)[self.drawn])
        return self.fig


VIEW_CLASSES = (USShareView, InstalledByMakerView, RevenueView, EcosystemGapView, NetworkView)


def fig_us_share(model: ChipMarketModel) -> Figure:
    """US stack share of installed compute and of new purchases, and developers mostly on it."""
    return view_for(model, USShareView).update()


def fig_installed_by_maker(model: ChipMarketModel) -> Figure:
    """Stacked area: installed compute (M H100e) by chipmaker."""
    return view_for(model, InstalledByMakerView).update()


def fig_revenue(model: ChipMarketModel) -> Figure:
    """Nvidia's China data-centre revenue vs all domestic chipmakers', per quarter."""
    return view_for(model, RevenueView).update()


def fig_ecosystem_gap(model: ChipMarketModel) -> Figure:
    """Domestic ecosystem maturity (left axis) and the capability gap in months (right axis)."""
    return view_for(model, EcosystemGapView).update()


def fig_network(model: ChipMarketModel) -> Figure:
    """The developer network, coloured by each developer's US share and sized by its compute."""
    return view_for(model, NetworkView).update()


def view_png(model: ChipMarketModel, cls: type[_View]) -> bytes:
    """View ``cls`` of ``model`` as PNG bytes, as sent to the browser."""
    return view_for(model, cls).png()


VIEWS = (fig_us_share, fig_installed_by_maker, fig_revenue, fig_ecosystem_gap, fig_network)


# ---------------------------------------------------------------------------------------------
# Solara components
def _view_component(cls):
    """A SolaraViz view: ``cls``'s PNG, re-rendered only when the model has stepped."""

    def view(model: ChipMarketModel):
        deps = [model_token(model), model.steps]
        png = solara.use_memo(lambda: view_png(model, cls), deps)
        return rw.Image(value=png, format="png")

    view.__name__ = view.__qualname__ = "View" + cls.__name__
    return view


VIEW_COMPONENTS = [(_view_component(cls), 0) for cls in VIEW_CLASSES]


@solara.component
def StatusBar(model: solara.Reactive[ChipMarketModel]):
    """The status line; re-rendered on every step (Mesa's update counter) and on Reset."""
    update_counter.get()
    with solara.Column(gap="2px"):
        solara.Text(status_text(model.value), classes=["chipstack-status"],
                    style={"font-size": "1.05em", "font-weight": "500"})
        solara.Text(run_parameters_text(model.value), classes=["chipstack-run-parameters"],
                    style={"font-size": "0.85em", "color": "#555"})


def about_html() -> str:
    """ABOUT as HTML, converted here: ``solara.Markdown`` would fetch KaTeX from a CDN (404 offline)."""
    import markdown

    return markdown.markdown(ABOUT)


def run_parameters_text(model: ChipMarketModel) -> str:
    """The running model's values of the UI's controls (sliders do not print their values)."""
    shown = [f"{name}={_fmt(model.parameters[name])}" for name in CONTROLS if name in model.parameters]
    seed = getattr(model, "_seed", None)
    return "This run: " + " · ".join(shown + ([f"seed={seed}"] if seed is not None else []))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"
    return str(value)


@solara.component
def About():
    """What the model is, what the levers mean and how to read the views."""
    html = solara.use_memo(about_html, [])
    solara.HTML(tag="div", unsafe_innerHTML=html, classes=["chipstack-about"])


@solara.component
def PresetPicker(preset: solara.Reactive[str], on_apply):
    """Select a scenario preset; it sets the controls below (press Reset to run it)."""
    with solara.Card("Scenario preset"):
        solara.Select("Preset", values=list(PRESETS), value=preset.value, on_value=on_apply)
        changed = ", ".join(f"{k}={v}" for k, v in PRESETS[preset.value].items())
        solara.Text(f"Sets {changed}; other controls to their defaults. Press Reset to run it.",
                    style={"font-size": "0.85em", "color": "#555"})


@solara.component
def Page():
    """The chipstack UI: preset picker + Mesa SolaraViz (controls, Step/Reset, views)."""
    initial = solara.use_memo(lambda: make_model(DEFAULT_PRESET), [])
    model = solara.use_reactive(initial)
    preset = solara.use_reactive(DEFAULT_PRESET)
    generation = solara.use_reactive(0)

    def apply(name: str) -> None:
        preset.set(name)
        generation.set(generation.value + 1)  # remount SolaraViz: its controls take the preset

    with solara.Sidebar():
        PresetPicker(preset, apply)
        if generation.value % 2:
            # Solara's sidebar is a portal whose entries are matched by position, not by the
            # key of their owner: without this shift, SolaraViz's sidebar (its parameter store
            # and controls) would be re-used rather than re-mounted under the new key, and Reset
            # would see an empty parameter set. Alternating one hidden element moves SolaraViz's
            # sidebar to a new position each time a preset is applied, so it mounts afresh.
            solara.Div(style={"display": "none"})
    with solara.Column(style={"padding": "0 12px"}):
        About()
        StatusBar(model)
    SolaraViz(
        model,
        components=VIEW_COMPONENTS,
        model_params=model_params(preset_values(preset.value)),
        name=APP_NAME,
    ).key(f"solaraviz-{generation.value}")


#: What ``solara run model/app.py`` serves.
page = Page

__all__ = ["ChipMarketModelUI", "CONTROLS", "PRESETS", "DEFAULT_PRESET", "Page", "page", "make_model",
           "preset_values", "model_params", "status_text", "run_parameters_text", "VIEWS",
           "VIEW_CLASSES", "view_png", "network_layout", "developer_us_share"]

if not set(CONTROLS) - {"rng"} <= PARAMS_BY_NAME.keys():  # pragma: no cover - developer guard
    raise ImportError("CONTROLS names a parameter that model.core.parameters does not define")
