"""The model as the UI sees it: ``ChipMarketModelUI`` and the one class per mode (single, compare
with a scenario B stepped in lockstep, replay of a sweep run), the factories that build it
(``make_model``, ``replay_model``) and the SolaraViz ``model_params`` that make Reset rebuild it.

``ChipMarketModelUI`` subclasses ``ChipMarketModel`` only to record the installed base per
chipmaker after every step (the model reports totals, not a per-maker history) and to step B; it
inherits the model's explicit keyword signature, so SolaraViz's Reset can rebuild it. No plotting
and no Solara here.
"""

from __future__ import annotations

import inspect
import itertools
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from model.core.chip_market import ChipMarketModel
from model.core.parameters import DEFAULTS, validate_value
from model.ui.levers import CONTROLS, DEFAULT_PRESET, SHARED_WITH_B, coerce_control, preset_values, to_model
from model.ui.sweep_run import SweepRun

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
    #: Says that the page showing the model is gone (``model.ui.watch.page_gone``, installed by the app
    #: as a staticmethod); None outside the UI.
    unwatched: ClassVar[Callable[[], bool] | None] = None

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
                problems.append(f"{exc}; the default {coerce_control(name, DEFAULTS[name])!r} "
                                "is used instead")
                kwargs[name] = DEFAULTS[name]
        super().__init__(**kwargs)
        self.ui_problems = problems

    # SolaraViz checks the keywords of the model against this signature (explicit keywords only).
    __init__.__signature__ = inspect.signature(ChipMarketModel.__init__)

    def step(self) -> None:
        if self.unwatched is not None and self.unwatched():
            self.running = False  # its tab was closed: ▶ stops here instead of stepping for nobody
            return
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
