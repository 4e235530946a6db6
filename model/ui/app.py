"""The chipstack browser UI: Mesa 3.5 SolaraViz with scenario presets, offline.

Start it with ``chipstack ui`` (see ``model.ui.serve``), which runs ``solara run model.ui.app``.
Solara serves the module attribute ``page`` (the component ``Page``): a thin wrapper around
``mesa.visualization.SolaraViz`` that adds

* a **scenario preset** picker. SolaraViz 3.5 has no presets, and the model must keep explicit
  keyword parameters only (a ``preset`` or ``scenario`` argument would break Reset), so a preset is
  applied *around* SolaraViz: choosing one rebuilds SolaraViz's ``model_params`` with the preset's
  values and remounts SolaraViz under a new key, so that Mesa's own controls show the preset
  values and Mesa's own parameter store (the one its Reset button reads) holds them. The running
  model is kept (it lives in this wrapper's reactive variable); pressing Reset starts a new run
  with the preset, exactly as after moving any control by hand;
* a status line (quarter, regimes, headline numbers) above the views, which come first in the page
  (their own grid, ``components.Views``; SolaraViz is given no components), and under them the
  running parameters and a short description;
* readable controls: Mesa's ``UserInputs`` is replaced in Mesa's module by ``components.ControlInputs``
  (the same controls; each slider shows its value and unit, a long label wraps), and the page's
  ``CSS`` keeps the sidebar 400 px wide (the ☰ button in the app bar hides it) and the views two to
  a row at 1400 px.

``chipstack ui`` runs ``solara run model.ui.app`` (the module, with the project folder on
``PYTHONPATH``): given the file path instead, Solara would import app.py as a top-level module with
model/ui/ first on ``sys.path``, a second copy of the page beside the package's ``model.ui.app``.

This module builds the page and is what Solara serves; the parts live beside it, imports
flowing one way (each module imports only those above it):

* ``model.ui.levers``: the levers, their controls and the presets (data);
* ``model.ui.sweep_run``: a sweep run rebuilt from its manifest, and the check of its replay;
* ``model.ui.ui_model``: ``ChipMarketModelUI`` and its modes (compare, replay), ``make_model``;
* ``model.ui.text``: the status line, the running parameters, the about text;
* ``model.ui.view_base``, ``model.ui.series``, ``model.ui.views``: the matplotlib views;
* ``model.ui.components``: the Solara components (views, status bar, sidebar cards);
* ``model.ui.watch``: whether a page still has a tab (a closed tab's model stops playing);
* ``model.ui.app`` (here): the page, ``Page``, served as ``page``;
* ``model.ui.screenshots``: the README's screenshots of the page, regenerated (serves it, drives Chromium).
"""

from __future__ import annotations

import os

import solara
from mesa.visualization import SolaraViz
from mesa.visualization import solara_viz as _mesa_solara_viz

from model.sweep.errors import UsageError
from model.ui.components import (
    About,
    CompareCard,
    ControlInputs,
    PresetPicker,
    RunCard,
    RunParameters,
    StatusBar,
    Views,
)
from model.ui.levers import DEFAULT_B_PRESET, DEFAULT_PRESET, preset_values
from model.ui.serve import RUN_ENV
from model.ui.sweep_run import SweepRun, open_run
from model.ui.ui_model import (
    ChipMarketModelUI,
    make_model,
    model_kwargs,
    model_params,
    replay_model,
    replay_scenario,
    ui_model_class,
)
from model.ui.watch import page_gone

APP_NAME = "chipstack: AI chips in China"

# every model the page builds (and Reset rebuilds) stops stepping once its tab is gone
ChipMarketModelUI.unwatched = staticmethod(page_gone)
# Mesa's ModelCreator renders the controls with the module's UserInputs: ours shows the sliders' values
if not hasattr(_mesa_solara_viz, "UserInputs"):  # pragma: no cover - a Mesa without it
    raise ImportError("mesa.visualization.solara_viz has no UserInputs to replace; see model.ui.app")
_mesa_solara_viz.UserInputs = ControlInputs

#: The page's style: a sidebar of 400 px (Solara's is as wide as its widest line, up to 600 px; Vuetify
#: moves the main area by the drawer's width, and to 0 when ☰ closes it), the views two to a row at
#: 1400 px (three with the sidebar closed) and as wide as their column, slider labels wrapping.
SIDEBAR_PX = 400
CSS = f"""
.v-navigation-drawer {{ width: {SIDEBAR_PX}px !important; min-width: 0 !important; }}
.chipstack-views {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(440px, 1fr));
  gap: 12px 16px; margin: 8px 0 12px 0; }}
.chipstack-view img.widget-image {{ width: 100%; height: auto; }}
.chipstack-slider {{ width: 100%; margin: 6px 0 2px 0; }}
.chipstack-slider-head {{ flex-wrap: nowrap !important; align-items: baseline;
  justify-content: space-between; }}
.chipstack-slider-label {{ flex: 1 1 auto; min-width: 0; white-space: normal; font-size: 0.85em;
  opacity: 0.75; line-height: 1.25; }}
.chipstack-slider-value {{ flex: 0 0 auto; max-width: 50%; text-align: right; font-size: 0.85em;
  font-weight: 500; white-space: normal; }}
.chipstack-slider-track {{ width: 100%; }}
.v-input .v-label {{ white-space: normal; }}
.chipstack-field {{ width: 100%; margin-top: 8px; }}
.chipstack-field-label {{ font-size: 0.85em; opacity: 0.75; line-height: 1.25;
  white-space: normal; }}
.chipstack-field .v-input {{ margin-top: 0; padding-top: 0; }}
.chipstack-field .v-label {{ display: none; }}
/* Mesa's own sliders (play and render interval) show their value always, not only while dragged */
.v-navigation-drawer .v-input:not(.chipstack-slider-track) .v-slider__thumb-label-container {{
  display: block !important; }}
.v-navigation-drawer .v-input:not(.chipstack-slider-track).v-input__slider {{ margin-top: 28px; }}
"""


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
    from_run = solara.use_reactive(run0 is not None)  # the controls hold the replayed run's values

    def remount() -> None:
        generation.set(generation.value + 1)  # remount SolaraViz: its controls take the scenario

    def apply(name: str) -> None:
        from_run.set(False)
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
        from_run.set(True)
        scenario.set(replay_scenario(run))
        model.set(replay_model(run, b_values.value if compare.value else None))
        remount()

    def close_replay() -> None:
        replay.set(None)
        from_run.set(False)
        values = preset_values(preset.value)
        scenario.set((values, {}))
        model.set(ui_model_class(b_values.value if compare.value else None)(**values))
        remount()

    solara.Style(CSS)
    with solara.Sidebar():
        PresetPicker(preset, apply, replay.value if from_run.value else None)
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
    with solara.Column(style={"padding": "0 12px"}, gap="4px"):
        if run_error:
            solara.Error(f"chipstack: error: {run_error}")
        StatusBar(model)
        Views(model)
        RunParameters(model)
        About()
    values, fixed = scenario.value
    SolaraViz(
        model,
        components=[],  # the views are the page's own (Views, above): first, and in a grid of their own
        model_params=model_params(values, fixed),
        name=APP_NAME,
    ).key(f"solaraviz-{generation.value}")


#: What ``solara run model.ui.app`` serves.
page = Page

__all__ = ["APP_NAME", "RUN_ENV", "Page", "initial_run", "page"]
