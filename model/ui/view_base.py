"""How a view is drawn: the base class ``View`` (one matplotlib figure per model and view, its
static frame cached as an Agg background), the per-model cache of views (``view_for``) and the
PNG and caption sent to the browser (``view_png``, ``view_caption``).

Views are matplotlib only (Altair needs a CDN, and the UI must work offline). One matplotlib
figure per (model, view), built once. Its frame (axes, ticks, labels, legend, title, the
network's links) is drawn once into an Agg background; each step restores that background and
draws only the changing artists (lines, areas, nodes) on it, then encodes the PNG. Text is what
makes a matplotlib draw slow (~30-40 ms a figure here), so a step costs a few ms per view
instead. The frame is redrawn only when it changes: the time axis spans a fixed horizon and
data-driven y limits move in "nice" steps (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k), so that is rare.
"""

from __future__ import annotations

import io
import weakref
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from PIL import Image as PILImage

from model.core import catalogue
from model.core.chip_market import ChipMarketModel
from model.core.quarters import format_quarter

#: Resolution of the figures sent to the browser (small PNGs keep a step's redraw fast).
FIG_DPI = 80
#: Size of a figure in inches: FIG_DPI x this = 440 x 384 px, the narrowest a view is shown in the page
#: (the views' grid column is at least 440 px wide, ``model.ui.app.CSS``), so a view is never shrunk.
FIG_SIZE = (5.5, 4.8)
#: The smallest text in a view (ticks, legends, axis labels), in points: 10 pt at FIG_DPI = 11.1 px in
#: the PNG, and so at least that on screen; titles are TITLE_PT.
FONT_PT = 10
TITLE_PT = 12


def font_px(points: float) -> float:
    """Height in PNG pixels of text of ``points`` points at FIG_DPI."""
    return points * FIG_DPI / 72


def legend_layout(labels: list[str], width_px: float = 400) -> tuple[int, int]:
    """(columns, rows) of a legend of ``labels`` at FONT_PT: two columns if the longest label fits in half
    of ``width_px`` (about 0.55 em a character), else one."""
    longest = max((len(t) for t in labels), default=0) + 5  # the handle and the gap
    ncols = 2 if longest * 0.55 * font_px(FONT_PT) <= width_px / 2 else 1
    return ncols, -(-len(labels) // ncols)


def legend_row_fraction() -> float:
    """Height of one legend row as a fraction of the figure's height."""
    return FONT_PT * 1.45 / 72 / FIG_SIZE[1]
#: Quarters shown on the time axes (the default run is 20 quarters, 2026Q1-2030Q4).
HORIZON_QUARTERS = 20

#: Colour of a chipmaker the catalogue does not know (never drawn for the catalogue's own makers).
UNKNOWN_MAKER_COLOUR = "0.5"


def maker_colour(name: str) -> str:
    """The colour chipmaker ``name`` is drawn in: its catalogue entry's (``Maker.colour``), read from the
    catalogue in force, so that a maker added with ``catalogue.extended`` has its own."""
    return next((m.colour for m in catalogue.makers() if m.name == name), UNKNOWN_MAKER_COLOUR)


#: chipmaker name -> colour, for the sourced catalogue (``Maker.colour``; views of a model read the
#: model's own makers, ``model.catalogue.makers``, which include any added at run time).
MAKER_COLOURS = {m.name: m.colour for m in catalogue.MAKERS}


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 x 10^k that is >= x (x > 0); 1.0 for x <= 0."""
    if not np.isfinite(x) or x <= 0:
        return 1.0
    base = 10.0 ** np.floor(np.log10(x))
    for m in (1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0):
        if m * base >= x * (1 - 1e-12):
            return m * base
    return 10.0 * base  # pragma: no cover


_views: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def view_for(model: ChipMarketModel, cls: type[View]) -> View:
    """The (cached) view ``cls`` of ``model``."""
    views = _views.setdefault(model, {})
    view = views.get(cls)
    if view is None:
        view = views[cls] = cls(model)
    return view


class View:
    """A figure for one model: ``update()`` sets the changing artists, ``png()`` renders it."""

    title = ""

    def __init__(self, model: ChipMarketModel):
        self.model = weakref.proxy(model)
        self.compare = getattr(model, "twin", None) is not None
        self.fig = Figure(figsize=FIG_SIZE, dpi=FIG_DPI)
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
        self.fig.subplots_adjust(left=0.15, right=right, top=0.9, bottom=0.15)
        ax.set_title(self.title, fontsize=TITLE_PT)
        ax.set_xlabel("state at the end of quarter", fontsize=FONT_PT, color="0.3")
        ax.tick_params(labelsize=FONT_PT)
        ax.grid(alpha=0.3)
        self.placeholder = ax.text(0.5, 0.5, f"press Step to simulate {format_quarter(self.model.start)}",
                                   ha="center", va="center", transform=ax.transAxes, color="0.4",
                                   fontsize=FONT_PT)
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
        ax.set_xticks(ticks, [format_quarter(self.model.start + int(k)) for k in ticks], fontsize=FONT_PT)
        ax.set_xlim(-0.5, span - 0.5)

    def _ab_handles(self) -> tuple[list, list]:
        """Legend entries that say which line style is which scenario (compare mode)."""
        if not self.compare:
            return [], []
        return ([Line2D([], [], color="0.2", lw=1.5), Line2D([], [], color="0.2", lw=1.5, ls="--")],
                ["A (solid)", "B (dashed)"])


def view_png(model: ChipMarketModel, cls: type[View]) -> bytes:
    """View ``cls`` of ``model`` as PNG bytes, as sent to the browser."""
    return view_for(model, cls).png()


def view_caption(model: ChipMarketModel, cls: type[View]) -> str:
    """What view ``cls`` of ``model`` shows now, as text (after ``view_png``)."""
    return view_for(model, cls).caption()
