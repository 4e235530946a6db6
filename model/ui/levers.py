"""The UI's levers and presets, as data.

``LEVERS`` is a table with one line per lever: its group (US / Beijing / markets / uncertainties,
then the run's own settings), the model parameter it sets, a label with the unit, the control and
what the lever does. A new lever of the model is one new line here; the sidebar controls
(``CONTROLS``), the compare-mode editor for scenario B and the lever legend in the page are all
built from this table. ``PRESETS`` maps a preset's name to the parameter values it changes (every
other lever takes the model's default).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from model.core.parameters import DEFAULTS, PARAMS_BY_NAME, validate_value
from model.core.policy import CHINA_STANCES, US_REGIMES

GROUPS = ("US", "Beijing", "markets", "uncertainties", "run")
#: Parameters that scenario B always takes from A (compare mode runs B on A's seed and population).
SHARED_WITH_B = ("n_developers", "rng")
DEFAULT_SEED = 42


def select(values) -> dict[str, Any]:
    return {"type": "Select", "values": list(values)}


def slider_int(low: int, high: int, step: int) -> dict[str, Any]:
    return {"type": "SliderInt", "min": low, "max": high, "step": step}


def slider_float(low: float, high: float, step: float) -> dict[str, Any]:
    return {"type": "SliderFloat", "min": low, "max": high, "step": step}


def checkbox() -> dict[str, Any]:
    return {"type": "Checkbox"}


@dataclass(frozen=True)
class Lever:
    group: str  # one of GROUPS
    name: str  # the model parameter (or "rng" for the seed)
    label: str  # what the control shows, with the unit
    control: dict[str, Any]  # SolaraViz user-input spec without "label" and "value"
    does: str  # one sentence: what moving it does

    @property
    def control_label(self) -> str:
        return f"{self.group} · {self.label}"


# One line per lever: group, parameter, label (unit), control, what it does.
LEVERS: tuple[Lever, ...] = (
    Lever("US", "export_regime", "export regime", select(US_REGIMES), "what Nvidia and AMD may sell in China: ban; h20 = cut-down China parts only; lagged = chips at least the export lag old; open"),
    Lever("US", "export_tpp_cap", "TPP cap (TPP, with 'threshold'; enacted 21,000)", slider_int(5_000, 60_000, 1_000), "US chips with a total processing performance below this may be licensed under 'threshold'"),
    Lever("US", "us_volume_cap_share", "China units <= share of US units (0-1, with 'threshold'/'lagged')", slider_float(0.0, 1.0, 0.05), "a licensed product's China units per quarter are capped at this share of its US units"),
    Lever("US", "export_lag_months", "export lag (months, with 'lagged')", slider_int(0, 60, 3), "how old a US chip must be before it may be sold to China under 'lagged'"),
    Lever("US", "approved_customer_share", "approved customers (share of developers, 0-1)", slider_float(0.0, 1.0, 0.05), "share of Chinese developers holding a US licence to buy the newest allowed chips"),
    Lever("US", "us_revenue_share", "US cut of sales (share of revenue, 0-1)", slider_float(0.0, 1.0, 0.05), "share of Nvidia's and AMD's China revenue the US government takes; half is passed on in prices"),
    Lever("US", "us_reversal_prob", "reversal chance (per quarter, 0-0.5)", slider_float(0.0, 0.5, 0.01), "chance each quarter that Washington tightens again; developers price this risk in"),
    Lever("Beijing", "china_import_policy", "stance on US chips", select(CHINA_STANCES), "Beijing's guidance on buying US chips: open, discourage, restrict (state buyers domestic only), ban"),
    Lever("Beijing", "domestic_subsidy", "domestic-chip subsidy (share of cost, 0-0.9)", slider_float(0.0, 0.9, 0.05), "share of a domestic chip's price paid by the state"),
    Lever("Beijing", "china_adaptive", "tightens as domestic supply grows", checkbox(), "if on, Beijing moves to a stricter stance once domestic chips can cover demand"),
    Lever("markets", "huawei_capacity_2026", "Huawei Ascend output 2026 (chips/year)", slider_int(0, 5_000_000, 100_000), "how many Ascend chips Huawei can make in 2026 (grows from there)"),
    Lever("uncertainties", "demand_growth", "demand growth (per year, 0-1.5)", slider_float(0.0, 1.5, 0.01), "yearly growth of Chinese developers' compute budgets"),
    Lever("uncertainties", "domestic_efficiency", "domestic chip efficiency (x paper spec, 0.3-1.2)", slider_float(0.3, 1.2, 0.01), "share of a domestic chip's paper performance that training and inference actually get"),
    Lever("run", "n_developers", "AI developers (agents)", slider_int(50, 10_000, 50), "number of developer agents (more: smoother, slower)"),
    Lever("run", "rng", "random seed", slider_int(0, 999, 1), "seed of the run; compare mode runs B on the same seed"),
)
LEVERS_BY_NAME = {lever.name: lever for lever in LEVERS}

#: The controls, in sidebar order: parameter -> SolaraViz user-input spec (without "value").
CONTROLS: dict[str, dict[str, Any]] = {
    lever.name: {**lever.control, "label": lever.control_label} for lever in LEVERS
}

#: Presets: values that differ from the model's defaults (every other lever takes its default).
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
DEFAULT_B_PRESET = "No exports"


def preset_values(name: str) -> dict[str, Any]:
    """Every lever's value under preset ``name``: the model defaults overridden by the preset.

    Values are validated with the model's own rules (``model.core.parameters.validate_value``).
    """
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    values = {name: (DEFAULT_SEED if name == "rng" else DEFAULTS[name]) for name in CONTROLS}
    values.update(PRESETS[name])
    return {k: (v if k == "rng" else validate_value(k, v)) for k, v in values.items()}


def coerce_control(name: str, value: Any) -> Any:
    """``value`` in the type the control ``name`` shows (int for SliderInt, float for SliderFloat)."""
    kind = CONTROLS[name]["type"]
    if kind == "SliderInt":
        return int(value)
    if kind == "SliderFloat":
        return float(value)
    if kind == "Checkbox":
        return bool(value)
    return value


if not set(CONTROLS) - {"rng"} <= PARAMS_BY_NAME.keys():  # pragma: no cover - developer guard
    raise ImportError("LEVERS names a parameter that model.core.parameters does not define")
if not {lever.group for lever in LEVERS} <= set(GROUPS):  # pragma: no cover - developer guard
    raise ImportError(f"a lever's group is not one of {GROUPS}")
