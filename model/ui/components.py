"""The Solara components the page is built from, besides SolaraViz itself: the views as SolaraViz
components (each memoised on (model, step), so a re-render that is not a new step costs nothing),
the status bar, the about text, and the cards of the sidebar (preset, compare, open a sweep run)."""

from __future__ import annotations

import reacton.ipywidgets as rw
import solara
from mesa.visualization.utils import force_update, update_counter

from model.core.chip_market import ChipMarketModel
from model.sweep.errors import UsageError
from model.ui.levers import GROUPS, LEVERS, PRESET_NOTES, PRESETS, SHARED_WITH_B, coerce_control
from model.ui.sweep_run import SweepRun, open_sweep
from model.ui.text import about_html, replay_text, run_parameters_text, status_text
from model.ui.ui_model import model_token
from model.ui.view_base import view_caption, view_png
from model.ui.views import VIEW_CLASSES, NetworkView


def _view_component(cls):
    """A SolaraViz view: ``cls``'s PNG and a caption, re-rendered only when the model has stepped."""
    with_caption = cls is not NetworkView

    def view(model: ChipMarketModel):
        deps = [model_token(model), model.steps]
        png, caption = solara.use_memo(lambda: (view_png(model, cls), view_caption(model, cls)), deps)
        with solara.Column(gap="0px") as column:
            rw.Image(value=png, format="png")
            if with_caption:
                solara.Text(caption or "–",
                            classes=["chipstack-caption", f"chipstack-caption-{cls.__name__}"],
                            style={"font-size": "0.75em", "color": "#555", "line-height": "1.2"})
        return column

    view.__name__ = view.__qualname__ = "View" + cls.__name__
    return view


VIEW_COMPONENTS = [(_view_component(cls), 0) for cls in VIEW_CLASSES]


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
            solara.Text(problem, classes=["chipstack-problem"],
                        style={"font-size": "0.85em", "color": "#c62828"})
        if verdict:
            colour = {True: "#2e7d32", False: "#c62828", None: "#555"}[ok]
            solara.Text(verdict, classes=["chipstack-replay"],
                        style={"font-size": "0.95em", "font-weight": "500", "color": colour})


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
    from model.core.paths import REFERENCE_SWEEP as folder
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
        chosen = SweepRun(sweep, points[p][labels.index(r)])
        problem = chosen.problem()
        if problem:
            solara.Text(problem, style={"font-size": "0.85em", "color": "#c62828"})
        solara.Button("Open run", on_click=lambda: on_open(chosen), disabled=bool(problem))
        solara.Text(f"{len(sweep.runs)} runs, {len(points)} design points, {sweep.steps} quarters each",
                    style={"font-size": "0.85em", "color": "#555"})
