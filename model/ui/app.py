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

import inspect
import io
import itertools
import os
import threading
import weakref
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import reacton.ipywidgets as rw
import solara
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from PIL import Image as PILImage
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from model.core.population import SEGMENTS
from model.core.chip_market import ChipMarketModel
from model.core.network import edge_list
from model.core.parameters import DEFAULTS, validate_value
from model.core.quarters import format_quarter
from model.core.reporters import REPORTERS_BY_NAME
from model.sweep.errors import UsageError
from model.ui.levers import (CONTROLS, DEFAULT_B_PRESET, DEFAULT_PRESET, GROUPS, LEVERS, PRESET_NOTES,
                             PRESETS, SHARED_WITH_B, coerce_control, preset_values, to_model)
from model.ui.sweep_run import SweepRun, open_run, open_sweep, replay_verdict

APP_NAME = "chipstack: AI chips in China"
#: ``chipstack ui --run DIR RUN_ID`` passes the run to open to the server in this variable ("DIR\nRUN_ID").
RUN_ENV = "CHIPSTACK_UI_RUN"
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
    "THead": "#8d6e63", "Kunlunxin": "#f9a825",
}


# ---------------------------------------------------------------------------------------------
# The model as seen by the UI
_twin_lock = threading.Lock()


class ChipMarketModelUI(ChipMarketModel):
    """``ChipMarketModel`` that also keeps the installed base per chipmaker after each step and,
    in compare mode, steps scenario B (``twin``) in lockstep with itself.

    Compare mode and a replayed sweep run are properties of the *class* (see ``ui_model_class``):
    SolaraViz's Reset rebuilds the model as ``type(model)(**controls)``, so a Reset keeps B and
    the replay check while the model keeps the plain explicit keyword signature.
    """

    #: Scenario B's lever values, as sorted (name, value) pairs; None = single mode.
    compare_values: ClassVar[tuple | None] = None
    #: The sweep run this model replays (its saved rows are checked as it steps); None = none.
    replay: ClassVar[SweepRun | None] = None

    def __init__(self, **kwargs):
        # Text fields (caps that may be off, schedules) reach the model as text: parse them here.
        # Text a parameter does not allow is replaced by the default and reported in the page
        # (``ui_problems``) rather than crashing SolaraViz's Reset.
        problems = []
        for name, value in kwargs.items():
            if CONTROLS.get(name, {}).get("type") != "InputText":
                continue
            try:
                kwargs[name] = validate_value(name, to_model(name, value))
            except ValueError as exc:
                problems.append(f"{exc}; the default {coerce_control(name, DEFAULTS[name])!r} is used instead")
                kwargs[name] = DEFAULTS[name]
        super().__init__(**kwargs)
        self.ui_problems = problems

    # SolaraViz checks the keywords of the model against this signature (explicit keywords only).
    __init__.__signature__ = inspect.signature(ChipMarketModel.__init__)

    def step(self) -> None:
        super().step()
        history = self.__dict__.setdefault("installed_by_maker_history", [])
        history.append(self.developers.installed.sum(axis=0))
        if self.compare_values is not None:
            self.twin  # noqa: B018 - steps B up to A's step (built on first use)

    @property
    def twin(self) -> ChipMarketModelUI | None:
        """Scenario B on A's seed and population, at A's step; None in single mode."""
        if self.compare_values is None:
            return None
        with _twin_lock:
            twin = self.__dict__.get("_twin")
            if twin is None:
                twin = self.__dict__["_twin"] = ChipMarketModelUI(**b_kwargs(self, dict(self.compare_values)))
            while twin.steps < self.steps:
                twin.step()
        return twin


def b_kwargs(a: ChipMarketModel, b_values: dict[str, Any]) -> dict[str, Any]:
    """Scenario B's model keywords: A's parameters, B's levers, A's seed and population size."""
    kwargs = {**a.parameters, **{k: v for k, v in b_values.items() if k not in SHARED_WITH_B}}
    kwargs["rng"] = getattr(a, "_seed", None)
    return kwargs


def model_kwargs(model: ChipMarketModel) -> dict[str, Any]:
    """Keywords that rebuild ``model`` from scratch (every parameter and the seed)."""
    return {**model.parameters, "rng": getattr(model, "_seed", None)}


_classes: dict[tuple, type] = {}


def ui_model_class(compare: dict[str, Any] | None = None, replay: SweepRun | None = None) -> type:
    """The UI model class for a mode: single (``ChipMarketModelUI``), compare with B = ``compare``
    (lever values), and/or replaying the sweep run ``replay``. Cached: one class per mode."""
    if compare is None and replay is None:
        return ChipMarketModelUI
    pairs = None if compare is None else tuple(sorted(compare.items()))
    key = (pairs, None if replay is None else (str(replay.sweep.folder), replay.run_id))
    cls = _classes.get(key)
    if cls is None:
        cls = _classes[key] = type("ChipMarketModelUI", (ChipMarketModelUI,),
                                   {"compare_values": pairs, "replay": replay,
                                    "__module__": __name__, "__doc__": ChipMarketModelUI.__doc__})
    return cls


_tokens = itertools.count(1)


def model_token(model: ChipMarketModel) -> int:
    """A number unique to this model object (``id()`` can be reused after a Reset)."""
    token = getattr(model, "_ui_token", None)
    if token is None:
        token = next(_tokens)
        model._ui_token = token
    return token


# ---------------------------------------------------------------------------------------------
# Controls and presets: the table of levers and the presets are data, in model.ui.levers
def model_params(values: dict[str, Any], fixed: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """SolaraViz ``model_params`` showing ``values`` in the controls; ``fixed`` parameters (not a
    control, or the seed of a replayed run) are passed to the model as they are on Reset."""
    fixed = fixed or {}
    out: dict[str, Any] = {}
    for param, spec in CONTROLS.items():
        if param not in fixed:
            out[param] = {**spec, "value": coerce_control(param, values[param])}
    out.update(fixed)
    return out


def make_model(preset: str = DEFAULT_PRESET, compare: str | dict | None = None) -> ChipMarketModelUI:
    """A fresh model with a preset's values (what the page starts with); ``compare``: B's preset
    name or lever values for compare mode."""
    if isinstance(compare, str):
        compare = preset_values(compare)
    return ui_model_class(compare)(**preset_values(preset))


def replay_model(run: SweepRun, compare: dict | None = None) -> ChipMarketModelUI:
    """A fresh model of the sweep run ``run`` (its manifest's parameters and seed)."""
    return ui_model_class(compare, run)(**run.kwargs)


def replay_scenario(run: SweepRun) -> tuple[dict[str, Any], dict[str, Any]]:
    """(control values, fixed parameters) that make SolaraViz's Reset rebuild ``run``."""
    kwargs = run.kwargs
    values = {k: kwargs[k] for k in CONTROLS if k in kwargs}
    fixed = {k: v for k, v in kwargs.items() if k not in CONTROLS or k == "rng"}
    for k in CONTROLS:  # a value a slider cannot show (e.g. the seed) is fixed rather than shown
        spec = CONTROLS[k]
        if k in values and spec["type"] in ("SliderInt", "SliderFloat") and not (
                spec["min"] <= values[k] <= spec["max"]
                and (spec["type"] == "SliderFloat" or float(values[k]).is_integer())):
            fixed[k] = values.pop(k)
    return values, fixed


# ---------------------------------------------------------------------------------------------
# Text
def state_quarter(model: ChipMarketModel) -> int:
    """The quarter whose end the model's state belongs to: the quarter before the start at step 0,
    the start quarter after one step (row ``step`` k of a run's output is the end of start + k)."""
    return model.start + model.steps - 1


def clock_text(model: ChipMarketModel) -> str:
    return f"end of {format_quarter(state_quarter(model))}"


def _rep(name: str, value: float, fmt: str = "{:.2f}") -> str:
    rep = REPORTERS_BY_NAME[name]
    return f"{rep.label} ({rep.unit}): {fmt.format(rep.shown(value))}"


def status_text(model: ChipMarketModel) -> str:
    """One line: the quarter the state belongs to, regimes in force, headline numbers (A, B and
    A − B in compare mode)."""
    twin = getattr(model, "twin", None)
    regime, stance = model.us_government.regime, model.china_government.stance
    if twin is not None:
        regime = f"A {regime} / B {twin.us_government.regime}"
        stance = f"A {stance} / B {twin.china_government.stance}"
    head = f"Quarter: {clock_text(model)}"
    if model.steps == 0:
        return (f"{head} (initial state) · Step: 0 · US regime: {regime} · Beijing: {stance} · "
                f"press Step to simulate {format_quarter(model.start)}")
    head += f" · Step: {model.steps} · US regime: {regime} · Beijing: {stance}"
    if twin is None:
        return f"{head} · " + " · ".join(
            _rep(name, model.reported[name]) for name in ("us_share_new", "us_stack_share", "china_compute_h100e"))
    parts = [head]
    for name, fmt in (("us_stack_share", "{:.3f}"), ("china_compute_h100e", "{:.2f}")):
        rep = REPORTERS_BY_NAME[name]
        a, b = rep.shown(model.reported[name]), rep.shown(twin.reported[name])
        diff = fmt.replace(":", ":+").format(a - b)
        parts.append(f"{rep.label} ({rep.unit}): A {fmt.format(a)}, B {fmt.format(b)}, A − B {diff}")
    return " · ".join(parts)

ABOUT = """\
**chipstack** is an agent-based model (Mesa) of the market for AI chips in China after the US
decision of December 2025 to let Nvidia sell H200s to approved Chinese customers. Each step is one
quarter: the US and Chinese governments set the rules, chipmakers (Nvidia, AMD; Huawei, Cambricon,
Moore Threads) supply chips, and Chinese AI developers choose what to buy.

* **Levers** (left), grouped US / Beijing / markets / uncertainties (table below): the US *export
  regime* and, under the rule as enacted (*threshold*), its TPP and bandwidth caps, the volume cap,
  a per-customer cap, the licences issued (dated), the levies on licensed chips and on China parts;
  Beijing's *stance*, approvals, import cap, pairing quota and subsidy; domestic supply and demand
  growth; domestic chip efficiency and software maturity; dated policy changes (schedules). Ranges
  and units come from the model's parameter table. A **preset** sets several at once. Controls take
  effect on **Reset**; then **Step** or ▶ runs quarters. The clock shows the quarter the state
  belongs to: *end of 2025Q4* before the first step, *end of 2026Q1* after one.
* **Compare** runs a scenario B (a preset, or its own levers) in lockstep with A on the same seed:
  the views show A solid and B dashed, the status line A, B and A − B.
* **Open a sweep run** replays one run of a `chipstack sweep` folder from its manifest and checks
  its reporters against the saved rows (✓, or the first quarter that differs).
* **Views**: the US stack's share of China's AI compute (installed, and of each quarter's
  purchases); installed compute by chipmaker; chips sold by product in the latest quarter;
  Nvidia vs domestic revenue; domestic software-ecosystem
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
        self.compare = getattr(model, "twin", None) is not None
        self.fig = Figure(figsize=(5.6, 4.0), dpi=FIG_DPI)
        self.canvas = FigureCanvasAgg(self.fig)
        self.dynamic: list = []  # artists drawn on top of the background every time
        self._background = None
        self._frame_key: Any = None

    @property
    def twin(self):
        return self.model.twin if self.compare else None

    # --- to override
    def update(self) -> Figure:
        """Bring the artists up to date with the model; return the figure."""
        return self.fig

    def frame_key(self) -> Any:
        """Anything that changes when the frame (background) must be redrawn."""
        return None

    def caption(self) -> str:
        """What the figure shows now, as text (under the view, and for tests); '' for none."""
        return ""

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
        self.fig.subplots_adjust(left=0.13, right=right, top=0.88, bottom=0.17)
        ax.set_title(self.title, fontsize=11)
        ax.set_xlabel("state at the end of quarter", fontsize=8, color="0.3")
        ax.grid(alpha=0.3)
        self.placeholder = ax.text(0.5, 0.5, f"press Step to simulate {format_quarter(self.model.start)}",
                                   ha="center", va="center", transform=ax.transAxes, color="0.4")
        self._span = None
        return ax

    def _quarter_axis(self, ax, n: int) -> None:
        """X axis in calendar quarters over a fixed horizon (``HORIZON_QUARTERS``, longer if the
        run is): point k is the state at the end of quarter start + k, as row ``step`` k of a run's
        output. The ticks only change when the run outgrows the horizon."""
        self.placeholder.set_visible(n == 0)
        span = max(HORIZON_QUARTERS, -(-n // 4) * 4)
        if span == self._span:
            return
        self._span = span
        every = 4 * max(1, span // 24)
        ticks = np.arange(0, span, every)
        ax.set_xticks(ticks, [format_quarter(self.model.start + int(k)) for k in ticks], fontsize=8)
        ax.set_xlim(-0.5, span - 0.5)

    def _ab_handles(self) -> tuple[list, list]:
        """Legend entries that say which line style is which scenario (compare mode)."""
        if not self.compare:
            return [], []
        return ([Line2D([], [], color="0.2", lw=1.5), Line2D([], [], color="0.2", lw=1.5, ls="--")],
                ["A (solid)", "B (dashed)"])


class _SeriesView(_View):
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
            self.axes[k].set_ylabel(label, color=colour, fontsize=9)
        # The legend sits above the axes, in the static frame: it never overlaps a line, so it is
        # drawn once (text is the slow part of a matplotlib draw), not on every step.
        handles = [line for line, _, s, _ in self.lines if s == "A"]
        labels = [h.get_label() for h in handles]
        extra, extra_labels = self._ab_handles()
        rows = -(-(len(handles) + len(extra)) // 2)
        self.fig.subplots_adjust(top=0.905 - 0.052 * rows)
        ax.set_title("")
        self.fig.suptitle(self.title, fontsize=11, y=0.985)
        box = ax.get_position()
        self.legend = self.fig.legend(handles + extra, labels + extra_labels, fontsize=7, ncols=2,
                                      loc="upper center", bbox_to_anchor=((box.x0 + box.x1) / 2, 0.93),
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
                high = self.min_top(k, _nice_ceiling(top[k] * 1.08))
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
    SeriesSpec("RevenueView", "Nvidia vs domestic revenue", (
        ("nvidia_china_revenue_usd", MAKER_COLOURS["Nvidia"], 0, "o"),
        ("domestic_revenue_usd", MAKER_COLOURS["Huawei"], 0, "o"),
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
    SeriesSpec("SupplyView", "Nvidia's China supply and Huawei's output ceiling", (
        ("nvidia_china_supply_units", MAKER_COLOURS["Nvidia"], 0, "o"),
        ("huawei_output_cap_units", MAKER_COLOURS["Huawei"], 0, "s"),
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
RevenueView = SERIES_VIEW_CLASSES["RevenueView"]
EcosystemGapView = SERIES_VIEW_CLASSES["EcosystemGapView"]


class InstalledByMakerView(_View):
    """Stacked area: installed compute (M H100e) by chipmaker, US makers at the bottom. In compare
    mode B's stack is drawn over it as dashed boundaries in the same colours."""

    title = "Installed compute by chipmaker"

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        self.ax = self._axes()
        self.ax.set_ylabel("installed compute (million H100e)", fontsize=9)
        names = model.catalogue.maker_names
        self.order = [k for k in range(len(names)) if model.us_maker_mask[k]] + \
                     [k for k in range(len(names)) if not model.us_maker_mask[k]]
        self.colours = [MAKER_COLOURS.get(names[k], "0.5") for k in self.order]
        extra, extra_labels = self._ab_handles()
        if extra:
            extra_labels = ["A (areas)", "B (dashed: top of each maker)"]
        self.legend = self.ax.legend([Patch(color=c) for c in self.colours] + extra,
                                     [names[k] for k in self.order] + extra_labels,
                                     fontsize=7, loc="upper left", ncols=2)
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
            top = _nice_ceiling(top * 1.35)  # room for the legend
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


class ChipSalesView(_View):
    """Chips sold by product in the latest quarter (thousand units), one bar per product sold so
    far in the run, coloured by chipmaker, US products first. From ``model.sales_by_chip`` (this
    quarter) and the ``chip_sales`` table (which products have sold). In compare mode B's bar is
    drawn hatched under A's."""

    title = "Chips sold by product"

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        cat = model.catalogue
        self.names = cat.names
        self.colours = [MAKER_COLOURS.get(cat.maker_names[cat.maker_of_chip[j]], "0.5") for j in range(len(cat.names))]
        self.ax = self.fig.add_subplot()
        self.fig.subplots_adjust(left=0.27, right=0.96, top=0.83, bottom=0.13)
        self.fig.suptitle(self.title, fontsize=11, y=0.985)
        self.ax.set_xlabel("units sold in the quarter (thousand)", fontsize=8, color="0.3")
        self.ax.grid(alpha=0.3, axis="x")
        self.ax.tick_params(labelsize=7)
        self.placeholder = self.ax.text(0.5, 0.5, f"press Step to simulate {format_quarter(model.start)}",
                                        ha="center", va="center", transform=self.ax.transAxes, color="0.4")
        makers = [m for m in MAKER_COLOURS if m in cat.maker_names]
        handles = [Patch(color=MAKER_COLOURS[m]) for m in makers]
        labels = list(makers)
        if self.compare:
            handles += [Patch(facecolor="0.4"), Patch(facecolor="white", edgecolor="0.4", hatch="////")]
            labels += ["A", "B (hatched)"]
        box = self.ax.get_position()
        self.fig.legend(handles, labels, fontsize=7, ncols=4, loc="upper center", frameon=False,
                        bbox_to_anchor=((box.x0 + box.x1) / 2, 0.945))
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
        high = _nice_ceiling(top * 1.05)
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
        which = "scenario A: " if self.compare else ""
        fig.suptitle(f"Developer network ({which}{shown} developers, {len(rows)} links drawn)",
                     fontsize=10, x=0.45, y=0.97)

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


def fig_us_share(model: ChipMarketModel) -> Figure:
    """US stack share of installed compute and of new purchases, and developers mostly on it."""
    return view_for(model, USShareView).update()


def fig_installed_by_maker(model: ChipMarketModel) -> Figure:
    """Stacked area: installed compute (M H100e) by chipmaker."""
    return view_for(model, InstalledByMakerView).update()


def fig_revenue(model: ChipMarketModel) -> Figure:
    """Nvidia's China data-centre revenue vs all domestic chipmakers', per quarter."""
    return view_for(model, RevenueView).update()


def fig_chip_sales(model: ChipMarketModel) -> Figure:
    """Chips sold by product in the latest quarter (A and B in compare mode)."""
    return view_for(model, ChipSalesView).update()


def fig_ecosystem_gap(model: ChipMarketModel) -> Figure:
    """Domestic ecosystem maturity (left axis) and the capability gap in months (right axis)."""
    return view_for(model, EcosystemGapView).update()


def fig_network(model: ChipMarketModel) -> Figure:
    """The developer network, coloured by each developer's US share and sized by its compute."""
    return view_for(model, NetworkView).update()


def view_png(model: ChipMarketModel, cls: type[_View]) -> bytes:
    """View ``cls`` of ``model`` as PNG bytes, as sent to the browser."""
    return view_for(model, cls).png()


VIEWS = (fig_us_share, fig_installed_by_maker, fig_chip_sales, fig_revenue, fig_ecosystem_gap, fig_network)


# ---------------------------------------------------------------------------------------------
# Solara components
def view_caption(model: ChipMarketModel, cls: type[_View]) -> str:
    """What view ``cls`` of ``model`` shows now, as text (after ``view_png``)."""
    return view_for(model, cls).caption()


def _view_component(cls):
    """A SolaraViz view: ``cls``'s PNG and a caption, re-rendered only when the model has stepped."""
    with_caption = cls is not NetworkView

    def view(model: ChipMarketModel):
        deps = [model_token(model), model.steps]
        png, caption = solara.use_memo(lambda: (view_png(model, cls), view_caption(model, cls)), deps)
        with solara.Column(gap="0px") as column:
            rw.Image(value=png, format="png")
            if with_caption:
                solara.Text(caption or "–", classes=["chipstack-caption", f"chipstack-caption-{cls.__name__}"],
                            style={"font-size": "0.75em", "color": "#555", "line-height": "1.2"})
        return column

    view.__name__ = view.__qualname__ = "View" + cls.__name__
    return view


VIEW_COMPONENTS = [(_view_component(cls), 0) for cls in VIEW_CLASSES]


def run_parameters_text(model: ChipMarketModel) -> str:
    """The running model's values of the UI's controls (sliders do not print their values); in
    compare mode also what B changes."""
    shown = [f"{name}={_fmt(model.parameters[name])}" for name in CONTROLS if name in model.parameters]
    seed = getattr(model, "_seed", None)
    text = "This run (A): " + " · ".join(shown + ([f"seed={seed}"] if seed is not None else []))
    twin = getattr(model, "twin", None)
    if twin is not None:
        changed = [f"{k}={_fmt(v)}" for k, v in twin.parameters.items() if model.parameters.get(k) != v]
        text += " | B: same seed and developers, " + (", ".join(changed) if changed else "same levers as A")
    return text


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:g}"
    return str(value)


def replay_text(model: ChipMarketModel) -> tuple[bool | None, str]:
    """The replay check of a model opened from a sweep run; (None, '') for other models."""
    run = getattr(model, "replay", None)
    if run is None:
        return None, ""
    return replay_verdict(model, run)


@solara.component
def StatusBar(model: solara.Reactive[ChipMarketModel]):
    """The status line; re-rendered on every step (Mesa's update counter) and on Reset."""
    update_counter.get()
    m = model.value
    ok, verdict = solara.use_memo(lambda: replay_text(m), [model_token(m), m.steps])
    with solara.Column(gap="2px"):
        solara.Text(status_text(m), classes=["chipstack-status"],
                    style={"font-size": "1.05em", "font-weight": "500"})
        solara.Text(run_parameters_text(m), classes=["chipstack-run-parameters"],
                    style={"font-size": "0.85em", "color": "#555"})
        problems = list(getattr(m, "ui_problems", []))
        twin = getattr(m, "twin", None)
        problems += [f"B: {p}" for p in getattr(twin, "ui_problems", [])] if twin is not None else []
        for problem in problems:
            solara.Text(problem, classes=["chipstack-problem"], style={"font-size": "0.85em", "color": "#c62828"})
        if verdict:
            colour = {True: "#2e7d32", False: "#c62828", None: "#555"}[ok]
            solara.Text(verdict, classes=["chipstack-replay"],
                        style={"font-size": "0.95em", "font-weight": "500", "color": colour})


def about_html() -> str:
    """ABOUT and the table of levers as HTML, converted here: ``solara.Markdown`` would fetch
    KaTeX from a CDN (404 offline)."""
    import markdown

    return markdown.markdown(ABOUT) + levers_html()


def levers_html() -> str:
    """The levers by group: label (unit) and what each does."""
    from html import escape

    rows = []
    for group in GROUPS:
        for lever in (lv for lv in LEVERS if lv.group == group):
            rows.append(f"<tr><td>{escape(group)}</td><td>{escape(lever.label)}</td>"
                        f"<td>{escape(lever.does)}</td></tr>")
    return ("<details class='chipstack-levers'><summary>What each lever does</summary>"
            "<table><tr><th>group</th><th>lever (unit)</th><th>what it does</th></tr>"
            + "".join(rows) + "</table></details>")


@solara.component
def About():
    """What the model is, what the levers mean and how to read the views."""
    html = solara.use_memo(about_html, [])
    solara.HTML(tag="div", unsafe_innerHTML=html, classes=["chipstack-about"])


@solara.component
def PresetPicker(preset: solara.Reactive[str], on_apply):
    """Select a scenario preset; it sets the controls below (press Reset to run it)."""
    with solara.Card("Scenario preset (A)"):
        solara.Select("Preset", values=list(PRESETS), value=preset.value, on_value=on_apply)
        changed = ", ".join(f"{k}={coerce_control(k, v)}" for k, v in PRESETS[preset.value].items())
        solara.Text(f"Sets {changed}; other controls to their defaults. Press Reset to run it.",
                    style={"display": "block", "font-size": "0.85em", "color": "#555"})
        solara.Text(PRESET_NOTES.get(preset.value, ""), classes=["chipstack-preset-note"],
                    style={"display": "block", "margin-top": "4px", "font-size": "0.8em", "color": "#777"})


def _lever_control(lever, value, on_value):
    """A Solara control for ``lever`` (B's editor), from the same table as SolaraViz's controls."""
    spec, label = lever.control, f"B · {lever.control_label}"
    if spec["type"] == "Select":
        solara.Select(label, values=spec["values"], value=value, on_value=on_value)
    elif spec["type"] == "SliderInt":
        solara.SliderInt(label, value=int(value), min=spec["min"], max=spec["max"], step=spec["step"],
                         on_value=on_value, thumb_label="always")
    elif spec["type"] == "SliderFloat":
        solara.SliderFloat(label, value=float(value), min=spec["min"], max=spec["max"], step=spec["step"],
                           on_value=on_value, thumb_label="always")
    elif spec["type"] == "InputText":
        solara.InputText(label, value=coerce_control(lever.name, value), on_value=on_value,
                         continuous_update=False)
    else:
        solara.Checkbox(label=label, value=bool(value), on_value=on_value)


@solara.component
def CompareCard(on: solara.Reactive[bool], b_preset: solara.Reactive[str],
                b_values: solara.Reactive[dict], on_change):
    """Compare mode: scenario B (a preset, then any of its levers) stepped with A on A's seed."""
    with solara.Card("Compare with scenario B"):
        solara.Checkbox(label="Compare A with B", value=on.value, on_value=lambda v: on_change(on=v))
        solara.Select("B preset", values=list(PRESETS), value=b_preset.value,
                      on_value=lambda name: on_change(preset=name))
        with solara.Details("B's levers"):
            for group in GROUPS:
                levers = [lv for lv in LEVERS if lv.group == group and lv.name not in SHARED_WITH_B]
                if not levers:
                    continue
                solara.Text(group, style={"font-weight": "500", "font-size": "0.85em"})
                for lever in levers:
                    _lever_control(lever, b_values.value[lever.name],
                                   lambda v, name=lever.name: on_change(lever=(name, v)))
        solara.Text("B runs on A's seed and number of developers. Turning compare on or changing B "
                    "restarts A (its running parameters) and B from the start.",
                    style={"font-size": "0.85em", "color": "#555"})


def default_sweep_folder() -> str:
    """The folder the run picker starts with: the shipped reference sweep, if present."""
    from pathlib import Path

    folder = Path(__file__).resolve().parents[2] / "outputs" / "export_regimes"
    return str(folder) if (folder / "manifest.json").is_file() else ""


def _try_open_sweep(folder: str):
    if not folder.strip():
        return None, "type the path of a sweep output folder (with manifest.json)"
    try:
        return open_sweep(folder.strip()), ""
    except UsageError as exc:
        return None, str(exc)


@solara.component
def RunCard(replay: solara.Reactive[SweepRun | None], model: solara.Reactive[ChipMarketModel],
            on_open, on_close):
    """Open a run of a sweep folder by design point and replication; replay it and check it."""
    initial = str(replay.value.sweep.folder) if replay.value is not None else default_sweep_folder()
    folder = solara.use_reactive(initial)
    point = solara.use_reactive("")
    replication = solara.use_reactive("")
    sweep, error = solara.use_memo(lambda: _try_open_sweep(folder.value), [folder.value])
    with solara.Card("Open a sweep run"):
        run = replay.value
        if run is not None:
            update_counter.get()
            solara.Text(f"Replaying {run.title}", classes=["chipstack-replay-title"],
                        style={"font-size": "0.85em"})

            def replay_all():
                m = model.value
                while m.steps < run.steps:
                    m.step()
                force_update()

            with solara.Row():
                solara.Button(f"Replay all {run.steps} quarters", on_click=replay_all, color="primary",
                              disabled=model.value.steps >= run.steps)
                solara.Button("Close run", on_click=on_close)
        solara.InputText("Sweep folder", value=folder, continuous_update=False)
        if sweep is None:
            solara.Text(error, style={"font-size": "0.85em", "color": "#c62828"})
            return
        points = sweep.points()
        names = list(points)
        p = point.value if point.value in points else names[0]
        solara.Select("Design point", values=names, value=p, on_value=point.set)
        labels = [f"{r.replication} · {r.run_id}" for r in points[p]]
        r = replication.value if replication.value in labels else labels[0]
        solara.Select("Replication · run_id", values=labels, value=r, on_value=replication.set)
        chosen = points[p][labels.index(r)]
        solara.Button("Open run", on_click=lambda: on_open(SweepRun(sweep, chosen)))
        solara.Text(f"{len(sweep.runs)} runs, {len(points)} design points, {sweep.steps} quarters each",
                    style={"font-size": "0.85em", "color": "#555"})


def initial_run() -> tuple[SweepRun | None, str]:
    """The run named by ``chipstack ui --run DIR RUN_ID`` (``RUN_ENV``), or (None, error)."""
    spec = os.environ.get(RUN_ENV, "")
    if not spec:
        return None, ""
    folder, _, run_id = spec.partition("\n")
    try:
        return open_run(folder, run_id), ""
    except UsageError as exc:
        return None, str(exc)


@solara.component
def Page():
    """The chipstack UI: preset picker, compare mode, run picker + Mesa SolaraViz (controls,
    Step/Reset, views)."""
    run0, run_error = solara.use_memo(initial_run, [])
    initial = solara.use_memo(lambda: replay_model(run0) if run0 else make_model(DEFAULT_PRESET), [])
    model = solara.use_reactive(initial)
    preset = solara.use_reactive(DEFAULT_PRESET)
    scenario = solara.use_reactive(replay_scenario(run0) if run0 else (preset_values(DEFAULT_PRESET), {}))
    generation = solara.use_reactive(0)
    compare = solara.use_reactive(False)
    b_preset = solara.use_reactive(DEFAULT_B_PRESET)
    b_values = solara.use_reactive(preset_values(DEFAULT_B_PRESET))
    replay = solara.use_reactive(run0)

    def remount() -> None:
        generation.set(generation.value + 1)  # remount SolaraViz: its controls take the scenario

    def apply(name: str) -> None:
        preset.set(name)
        scenario.set((preset_values(name), {}))
        remount()

    def change_b(on: bool | None = None, preset: str | None = None, lever: tuple | None = None) -> None:
        if on is not None:
            compare.set(on)
        if preset is not None:
            b_preset.set(preset)
            b_values.set(preset_values(preset))
        if lever is not None:
            b_values.set({**b_values.value, lever[0]: lever[1]})
        if on is not None or compare.value:
            cls = ui_model_class(b_values.value if compare.value else None, replay.value)
            model.set(cls(**model_kwargs(model.value)))

    def open_replay(run: SweepRun) -> None:
        replay.set(run)
        scenario.set(replay_scenario(run))
        model.set(replay_model(run, b_values.value if compare.value else None))
        remount()

    def close_replay() -> None:
        replay.set(None)
        values = preset_values(preset.value)
        scenario.set((values, {}))
        model.set(ui_model_class(b_values.value if compare.value else None)(**values))
        remount()

    with solara.Sidebar():
        PresetPicker(preset, apply)
        CompareCard(compare, b_preset, b_values, change_b)
        RunCard(replay, model, open_replay, close_replay)
        if generation.value % 2:
            # Solara's sidebar is a portal whose entries are matched by position, not by the
            # key of their owner: without this shift, SolaraViz's sidebar (its parameter store
            # and controls) would be re-used rather than re-mounted under the new key, and Reset
            # would see an empty parameter set. Alternating one hidden element moves SolaraViz's
            # sidebar to a new position each time a preset is applied, so it mounts afresh. The
            # cards above are one entry each whatever they show, so this is the only shift.
            solara.Div(style={"display": "none"})
    with solara.Column(style={"padding": "0 12px"}):
        About()
        if run_error:
            solara.Error(f"chipstack: error: {run_error}")
        StatusBar(model)
    values, fixed = scenario.value
    SolaraViz(
        model,
        components=VIEW_COMPONENTS,
        model_params=model_params(values, fixed),
        name=APP_NAME,
    ).key(f"solaraviz-{generation.value}")


#: What ``solara run model.ui.app`` serves.
page = Page

__all__ = ["ChipMarketModelUI", "CONTROLS", "PRESETS", "DEFAULT_PRESET", "LEVERS", "Page", "page",
           "make_model", "replay_model", "ui_model_class", "preset_values", "model_params", "status_text",
           "clock_text", "state_quarter", "run_parameters_text", "VIEWS", "VIEW_CLASSES", "view_png",
           "view_caption", "network_layout", "developer_us_share"]
