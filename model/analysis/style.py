"""The house style of chipstack's figures: drawn at the width they are printed at, with text that reads there.

A figure is at most ``PAGE_WIDTH_IN`` wide (a journal page's text width; ``COLUMN_WIDTH_IN`` for one
column), so it is printed at 100% or larger and its text keeps the size it was drawn at: at least
``MIN_FONT_PT`` points, 8 for most of it. Figure functions are drawn under ``house_style`` (the
``styled`` decorator); ``figure_problems`` lists what breaks the style (too wide, text too small, text
outside the figure) and is what the tests check every report figure with.
"""

from __future__ import annotations

import functools

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

#: Text width of a two-column journal page, and of one column (inches).
PAGE_WIDTH_IN = 7.2
COLUMN_WIDTH_IN = 3.5
#: The smallest text at the printed size (points).
MIN_FONT_PT = 7.0
#: Resolution of the PNG files: 7.2 in at 150 dpi is 1,080 px, sharp on a screen (higher costs drawing time).
DPI = 150

RC = {
    "font.size": 8.0,
    "axes.titlesize": 8.5,
    "axes.labelsize": 8.0,
    "xtick.labelsize": 7.5,
    "ytick.labelsize": 7.5,
    "legend.fontsize": 7.5,
    "legend.title_fontsize": 7.5,
    "figure.titlesize": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.6,
    "lines.linewidth": 1.2,
    "lines.markersize": 4.0,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "grid.linewidth": 0.5,
    "legend.frameon": False,
    "figure.dpi": 100,
    "savefig.dpi": DPI,
    "font.family": "DejaVu Sans",  # matplotlib's own font: the same glyphs on every machine
}


def house_style():
    """A context in which figures are drawn in the house style."""
    return matplotlib.rc_context(RC)


def styled(draw):
    """``draw`` (a function returning a figure, or None) run under ``house_style``."""

    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with house_style():
            return draw(*args, **kwargs)

    return wrapper


def page_size(width: float, height: float) -> tuple[float, float]:
    """(width, height) in inches with the width held to the page: a wider request is scaled down whole."""
    if width <= PAGE_WIDTH_IN:
        return width, height
    return PAGE_WIDTH_IN, height * PAGE_WIDTH_IN / width


def figure_problems(fig, saved_tight: bool = False) -> list[str]:
    """What breaks the house style in ``fig``: wider than the page, text under ``MIN_FONT_PT``, labels of
    different panels overlapping, or text that does not lie inside the figure (clipped at its edge; for a
    figure ``saved_tight``, with ``bbox_inches="tight"``, the saved image grows to hold it, and its width
    is what is measured). Draws the figure to measure it."""
    problems = []
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    width = fig.get_tightbbox(renderer).width if saved_tight else fig.get_size_inches()[0]
    if width > PAGE_WIDTH_IN + 1e-9:
        problems.append(f"{width:.2f} in wide (the page is {PAGE_WIDTH_IN} in)")
    for text in fig.findobj(matplotlib.text.Text):
        label = text.get_text().strip()
        if label and text.get_visible() and text.get_fontsize() < MIN_FONT_PT - 1e-9:
            problems.append(f"{label[:40]!r}: {text.get_fontsize():g} pt (at least {MIN_FONT_PT:g})")
    # what is drawn: each axes with its tick labels, labels, title and legend; the figure's own texts
    drawn = [(ax.get_title() or ax.get_ylabel() or f"axes {k}", ax.get_tightbbox(renderer))
             for k, ax in enumerate(fig.axes) if ax.get_visible()]
    drawn += [(t.get_text(), t.get_window_extent(renderer)) for t in fig.texts if t.get_text().strip()]
    drawn += [("figure legend", leg.get_window_extent(renderer)) for leg in fig.legends]
    if fig._suptitle is not None and fig._suptitle.get_text():
        drawn.append((fig._suptitle.get_text(), fig._suptitle.get_window_extent(renderer)))
    # the labels and titles of different axes must not overlap (long labels on narrow panels did)
    labels = [(k, t) for k, ax in enumerate(fig.axes) if ax.get_visible()
              for t in (ax.title, ax.xaxis.label, ax.yaxis.label) if t.get_text().strip()]
    extents = [(k, t, t.get_window_extent(renderer)) for k, t in labels]
    for i, (k1, t1, e1) in enumerate(extents):
        for k2, t2, e2 in extents[i + 1:]:
            if k1 != k2 and e1.overlaps(e2):
                problems.append(f"{t1.get_text().strip()[:30]!r} overlaps {t2.get_text().strip()[:30]!r}")
    box = fig.bbox
    for label, extent in ([] if saved_tight else drawn):
        if extent is None:
            continue
        if (extent.x0 < box.x0 - 1 or extent.x1 > box.x1 + 1 or extent.y0 < box.y0 - 1
                or extent.y1 > box.y1 + 1):
            problems.append(f"{label.strip()[:40]!r}: outside the figure")
    return problems


__all__ = ["COLUMN_WIDTH_IN", "DPI", "MIN_FONT_PT", "PAGE_WIDTH_IN", "RC", "figure_problems", "house_style",
           "page_size", "plt", "styled"]
