"""The Solara components the page is built from, besides SolaraViz itself: the views (each memoised on
(model, step), so a re-render that is not a new step costs nothing) in a grid of their own at the top
of the page, the status bar, the running parameters, the about text, the cards of the sidebar (preset,
compare, open a sweep run) and the sidebar's controls (``ControlInputs``, in place of Mesa's
``UserInputs``: every slider shows its value with its unit, and a long label wraps instead of squeezing
the slider)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import reacton.ipyvuetify as rv
import reacton.ipywidgets as rw
import solara
from mesa.visualization.utils import force_update, update_counter

from model.core.chip_market import ChipMarketModel
from model.core.paths import REPO_ROOT
from model.sweep.errors import UsageError
from model.ui.levers import (
    GROUPS,
    LEVERS,
    LEVERS_BY_NAME,
    PRESET_NOTES,
    PRESETS,
    SHARED_WITH_B,
    coerce_control,
)
from model.ui.sweep_run import SweepRun, open_sweep
from model.ui.text import about_html, replay_text, run_parameters_text, status_text
from model.ui.ui_model import model_token
from model.ui.view_base import view_caption, view_png
from model.ui.views import VIEW_CLASSES, NetworkView


@solara.component
def ViewPanel(model: ChipMarketModel, cls: type):
    """View ``cls`` of ``model``: its PNG and a caption, re-drawn only when the model has stepped."""
    update_counter.get()
    deps = [model_token(model), model.steps]
    png, caption = solara.use_memo(lambda: (view_png(model, cls), view_caption(model, cls)), deps)
    with solara.Column(gap="0px", classes=["chipstack-view"]):
        rw.Image(value=png, format="png")
        if cls is not NetworkView:
            solara.Text(caption or "–", classes=["chipstack-caption", f"chipstack-caption-{cls.__name__}"],
                        style={"font-size": "0.8em", "color": "#555", "line-height": "1.25"})


@solara.component
def Views(model: solara.Reactive[ChipMarketModel]):
    """Every view, in a grid of two columns at 1400 px (``chipstack-views`` in ``app.CSS``), on top of
    the page: re-rendered on every step (Mesa's update counter) and on Reset."""
    update_counter.get()
    m = model.value
    with solara.Div(classes=["chipstack-views"]):
        for cls in VIEW_CLASSES:
            ViewPanel(m, cls).key(cls.__name__)


@solara.component
def StatusBar(model: solara.Reactive[ChipMarketModel]):
    """The status line; re-rendered on every step (Mesa's update counter) and on Reset."""
    update_counter.get()
    m = model.value
    ok, verdict = solara.use_memo(lambda: replay_text(m), [model_token(m), m.steps])
    with solara.Column(gap="2px"):
        solara.Text(status_text(m), classes=["chipstack-status"],
                    style={"font-size": "1.05em", "font-weight": "500"})
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
def RunParameters(model: solara.Reactive[ChipMarketModel]):
    """Every parameter of the running model (A), under the views."""
    update_counter.get()
    solara.Text(run_parameters_text(model.value), classes=["chipstack-run-parameters"],
                style={"font-size": "0.85em", "color": "#555"})


@solara.component
def About():
    """What the model is, what the levers mean and how to read the views."""
    html = solara.use_memo(about_html, [])
    solara.HTML(tag="div", unsafe_innerHTML=html, classes=["chipstack-about"])


@solara.component
def PresetPicker(preset: solara.Reactive[str], on_apply, run: SweepRun | None = None):
    """Select a scenario preset; it sets the controls below (press Reset to run it). ``run``: the sweep
    run whose parameters the controls hold (opened with ``--run`` or the run picker), shown instead of
    a preset until a preset is chosen."""
    with solara.Card("Scenario preset (A)"):
        solara.Select("Preset", values=list(PRESETS), value=None if run is not None else preset.value,
                      on_value=on_apply)
        if run is not None:
            solara.Text(f"The controls hold run {run.run_id} of sweep {run.sweep.name} ({run.entry.point}, "
                        f"replication {run.entry.replication}), not a preset. Choosing a preset sets them "
                        "to the preset's values.",
                        classes=["chipstack-preset-run"],
                        style={"display": "block", "font-size": "0.85em", "color": "#555"})
            return
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
    elif spec["type"] in ("SliderInt", "SliderFloat"):
        LeverSlider(lever.name, label, value, on_value, spec)
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


def shown_folder(folder: str | Path) -> str:
    """``folder`` as the run picker shows it: relative to the repository when inside it (no one's
    home folder in the page or its screenshots), else as it is."""
    path = Path(folder)
    try:
        return str(path.resolve().relative_to(REPO_ROOT))
    except ValueError:
        return str(folder)


def default_sweep_folder() -> str:
    """The folder the run picker starts with: the shipped reference sweep, if present."""
    from model.core.paths import REFERENCE_SWEEP as folder
    return shown_folder(folder) if (folder / "manifest.json").is_file() else ""


def _resolve_folder(text: str) -> Path:
    """A typed folder: as given, or, if relative and not found from the current folder, relative to the
    repository (how the picker shows the shipped sweep)."""
    path = Path(text)
    if not path.is_absolute() and not path.exists() and (REPO_ROOT / path).is_dir():
        return REPO_ROOT / path
    return path


def _try_open_sweep(folder: str):
    if not folder.strip():
        return None, "type the path of a sweep output folder (with manifest.json)"
    try:
        return open_sweep(_resolve_folder(folder.strip())), ""
    except UsageError as exc:
        return None, str(exc)


@solara.component
def RunCard(replay: solara.Reactive[SweepRun | None], model: solara.Reactive[ChipMarketModel],
            on_open, on_close):
    """Open a run of a sweep folder by design point and replication; replay it and check it."""
    run0 = replay.value
    folder = solara.use_reactive(shown_folder(run0.sweep.folder) if run0 is not None
                                 else default_sweep_folder())
    # the pickers start on the run being replayed (given with --run), else on the sweep's first run
    point = solara.use_reactive(run0.entry.point if run0 is not None else "")
    replication = solara.use_reactive(f"{run0.entry.replication} · {run0.run_id}" if run0 is not None else "")
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

            with solara.Row(style={"flex-wrap": "wrap"}):
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


@solara.component
def LeverSlider(name: str, label: str, value, on_value, spec: dict):
    """A slider whose label wraps on its own line(s) over the full width, with its current value and
    unit beside it (``Lever.value_text``), always shown, not only while dragging."""
    integer = spec["type"] == "SliderInt"
    current = solara.use_reactive(int(value) if integer else float(value), on_value)
    lever = LEVERS_BY_NAME.get(name)
    shown = lever.value_text(current.value) if lever is not None else f"{current.value:,}"
    with solara.Column(gap="0px", classes=["chipstack-slider"]):
        with solara.Row(gap="8px", classes=["chipstack-slider-head"]):
            solara.Text(label, classes=["chipstack-slider-label"])
            solara.Text(shown, classes=["chipstack-slider-value"])
        rv.Slider(v_model=current.value, on_v_model=lambda v: current.set(int(v) if integer else float(v)),
                  min=spec["min"], max=spec["max"], step=spec["step"], thumb_label=True, dense=True,
                  hide_details=True, class_="chipstack-slider-track")


@solara.component
def ControlInputs(user_params: dict, on_change=None):
    """Mesa's ``UserInputs`` (``mesa.visualization.solara_viz``) with readable sliders: the same controls
    from the same ``model_params`` specs, each slider a ``LeverSlider``. ``model.ui.app`` installs it
    in Mesa's module, where Mesa's ``ModelCreator`` looks it up when it renders the controls."""
    for name, options in user_params.items():

        def change(value, name=name):
            on_change(name, value)

        kind = options.get("type")
        label = options.get("label", name)
        if kind in ("SliderInt", "SliderFloat"):
            LeverSlider(name, label, options.get("value"), change, options)
        elif kind == "Select":
            with _field(label):
                solara.Select(label, value=options.get("value"), on_value=change,
                              values=options.get("values"))
        elif kind == "Checkbox":
            solara.Checkbox(label=label, on_value=change, value=options.get("value"))
        elif kind == "InputText":
            with _field(label):
                solara.InputText(label=label, on_value=change, value=options.get("value"))
        else:
            raise ValueError(f"{kind} is not a supported input type")


@contextlib.contextmanager
def _field(label: str):
    """A select or text field under its whole label, wrapped over as many lines as it takes (the field's
    own one-line label, cut at the sidebar's edge, is hidden by ``app.CSS`` but stays its name)."""
    with solara.Column(gap="0px", classes=["chipstack-field"]):
        solara.Text(label, classes=["chipstack-field-label"])
        yield
