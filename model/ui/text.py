"""The page's text: the clock and status line (A, B and A − B in compare mode), the running
parameters, the replay check's verdict, and the "about" text with the table of levers as HTML."""

from __future__ import annotations

from typing import Any

from model.core.chip_market import ChipMarketModel
from model.core.quarters import format_quarter
from model.core.reporters import REPORTERS_BY_NAME
from model.ui.levers import CONTROLS, GROUPS, LEVERS
from model.ui.sweep_run import replay_verdict


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
    regime, stance = model.us_government.describe(), model.china_government.describe()
    if twin is not None:
        regime = f"A {regime} / B {twin.us_government.describe()}"
        stance = f"A {stance} / B {twin.china_government.describe()}"
    head = f"Quarter: {clock_text(model)}"
    if model.steps == 0:
        return (f"{head} (initial state) · Step: 0 · US regime: {regime} · Beijing: {stance} · "
                f"press Step to simulate {format_quarter(model.start)}")
    head += f" · Step: {model.steps} · US regime: {regime} · Beijing: {stance}"
    if twin is None:
        return f"{head} · " + " · ".join(
            _rep(name, model.reported[name], fmt)
            for name, fmt in (("us_share_legal", "{:.3f}"), ("us_stack_share", "{:.3f}"),
                              ("china_compute_h100e", "{:.2f}"), ("china_to_us_compute_ratio", "{:.4f}"),
                              ("domestic_price_markup", "{:.2f}")))
    parts = [head]
    for name, fmt in (("us_share_legal", "{:.3f}"), ("us_stack_share", "{:.3f}"),
                      ("china_compute_h100e", "{:.2f}")):
        rep = REPORTERS_BY_NAME[name]
        a, b = rep.shown(model.reported[name]), rep.shown(twin.reported[name])
        diff = fmt.replace(":", ":+").format(a - b)
        parts.append(f"{rep.label} ({rep.unit}): A {fmt.format(a)}, B {fmt.format(b)}, A − B {diff}")
    return " · ".join(parts)


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


def makers_text() -> str:
    """The chipmakers of the catalogue, US then domestic: "Nvidia, AMD; Huawei, ..." (7 makers)."""
    from model.core.catalogue import MAKERS

    us = [m.name for m in MAKERS if m.stack == "US"]
    cn = [m.name for m in MAKERS if m.stack != "US"]
    return f"{', '.join(us)}; {', '.join(cn)}"


def views_text() -> str:
    """The page's views by title, in page order (from ``model.ui.views.VIEW_CLASSES``)."""
    from model.ui.views import VIEW_CLASSES

    return "; ".join(cls.title for cls in VIEW_CLASSES)


def ui_summary() -> str:
    """What the page shows, counted from the code: the README's block between ``<!-- ui-summary -->``
    markers is this text (written by ``python -m model.ui.screenshots``, checked by tests/test_ui.py)."""
    from model.core.catalogue import MAKERS
    from model.ui.views import VIEW_CLASSES

    sliders = sum(spec["type"] in ("SliderInt", "SliderFloat") for spec in CONTROLS.values())
    return (f"The page has {len(VIEW_CLASSES)} views: {views_text()}. They draw the "
            f"{len(MAKERS)} chipmakers of the catalogue ({makers_text()}) in their colours. The sidebar "
            f"has {len(CONTROLS)} controls ({sliders} sliders, each showing its value and unit), grouped "
            f"{' / '.join(GROUPS)}.")


ABOUT = """\
**chipstack** is an agent-based model (Mesa) of the market for AI chips in China after the US
decision of December 2025 to let Nvidia sell H200s to approved Chinese customers. Each step is one
quarter: the US and Chinese governments set the rules, chipmakers ({makers}) supply chips, and
Chinese AI developers choose what to buy.

* **Levers** (left; ☰ hides them), grouped US / Beijing / markets / uncertainties (table below): the
  US *export regime* and, under the rule as enacted (*threshold*), its TPP and bandwidth caps, the volume cap,
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
* **Views** ({n_views}, above): {views}. In the developer network, colour is each developer's US
  share, size its compute, one cluster per segment.
* Full description (ODD protocol, sources): [docs/ODD.md](docs/ODD.md) in the repository.
"""


def about_html() -> str:
    """ABOUT and the table of levers as HTML, converted here: ``solara.Markdown`` would fetch
    KaTeX from a CDN (404 offline)."""
    import markdown

    from model.ui.views import VIEW_CLASSES

    about = ABOUT.format(makers=makers_text(), n_views=len(VIEW_CLASSES), views=views_text())
    return markdown.markdown(about) + levers_html()


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
