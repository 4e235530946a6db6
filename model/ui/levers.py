"""The UI's levers and presets, as data.

``LEVERS`` is a table with one line per lever: its group (US / Beijing / markets / uncertainties,
then the run's own settings), the model parameter it sets, a short label, where its slider range
comes from, and what the lever does. Everything else comes from the parameter table
(``model.core.parameters.PARAMS``), never typed again here:

* the **control**: a choice is a Select, a bool a Checkbox, a schedule a text field, a cap that
  may be off (``allow_off``) a text field taking a number or ``off``; other numbers are sliders;
* the **unit**: a slider shows it with its value (``value_text``), any other control appends it to
  its label;
* the slider's **range**: ``span="sweep"`` (the default) is the range the sensitivity analysis
  explores (``Param.sweep_range``) widened to hold the default; ``span="allowed"`` is the
  parameter's whole allowed range (``Param.low``-``Param.high``, for shares 0-1 and the like).
  Only the run's own settings (developers, seed) give a range here: the table allows up to ten
  million developers, the UI stops at ``MAX_UI_DEVELOPERS``. The slider's step is a round number
  near 1/100 of the range, and the ends are rounded out to whole steps (inside the allowed range);
* what the lever **does**: the parameter's doc unless the line says it more plainly.

A new lever of the model is one new line here; the sidebar controls (``CONTROLS``), the
compare-mode editor for scenario B and the lever legend in the page are all built from this table.
``PRESETS`` maps a preset's name to the parameter values it changes (every other lever takes the
model's default); ``PRESET_NOTES`` says where a preset's values come from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from model.core.catalogue import DOMESTIC_LEADER, MAKERS
from model.core.parameters import DEFAULTS, PARAMS_BY_NAME, Param, coerce_text, validate_value

GROUPS = ("US", "Beijing", "markets", "uncertainties", "run")
#: Parameters that scenario B always takes from A (compare mode runs B on A's seed and population).
SHARED_WITH_B = ("n_developers", "rng")
DEFAULT_SEED = 42
MAX_UI_DEVELOPERS = 10_000
#: What a text field of a cap that may be off shows for "no cap".
OFF = "off"


@dataclass(frozen=True)
class Lever:
    group: str  # one of GROUPS
    name: str  # the model parameter (or "rng" for the seed)
    short: str  # what the control says, without the unit (the unit is the parameter table's)
    span: str | tuple = "sweep"  # slider range: "sweep", "allowed", or (low, high, step) for run settings
    does_text: str = ""  # what moving it does; "" = the parameter's doc

    @property
    def param(self) -> Param | None:
        return PARAMS_BY_NAME.get(self.name)

    @property
    def unit(self) -> str:
        p = self.param
        if p is None or p.unit in ("-", ""):
            return ""
        return p.unit

    @property
    def label(self) -> str:
        """The label with the unit (and, for a cap that may be off, how to turn it off)."""
        p = self.param
        bits = [self.unit] if self.unit else []
        if p is not None and p.allow_off:
            bits.append(f"'{OFF}' = no cap")
        if p is not None and p.kind == "schedule":
            bits.append("QUARTER:VALUE,...; empty = none")
        if p is not None and p.kind == "count_schedule":
            bits.append("QUARTER:COUNT,...; empty = none")
        return f"{self.short} ({', '.join(bits)})" if bits else self.short

    @property
    def is_slider(self) -> bool:
        return self.control["type"] in ("SliderInt", "SliderFloat")

    @property
    def control_label(self) -> str:
        """What the control says: a slider says its unit with its value (``value_text``), not here."""
        return f"{self.group} · {self.short if self.is_slider else self.label}"

    def value_text(self, value: Any) -> str:
        """A slider's value as it shows it, with the unit: "1,000,000 HBM stacks/year", "0.50 share"."""
        spec = self.control
        if spec["type"] == "SliderInt":
            number = f"{int(round(value)):,}"
        else:
            step = float(spec.get("step") or 0.01)
            decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
            number = f"{float(value):,.{decimals}f}"
        unit = self.unit
        if not unit:
            return number
        return f"{number}, scale {unit}" if unit[0].isdigit() else f"{number} {unit}"

    @property
    def does(self) -> str:
        return self.does_text or (self.param.doc if self.param is not None else "")

    @property
    def control(self) -> dict[str, Any]:
        """The SolaraViz user-input spec without "label" and "value", from the parameter table."""
        p = self.param
        if p is None or isinstance(self.span, tuple):  # the seed, the number of developers
            low, high, step = self.span
            return {"type": "SliderInt", "min": low, "max": high, "step": step}
        if p.kind == "choice":
            return {"type": "Select", "values": list(p.choices)}
        if p.kind == "bool":
            return {"type": "Checkbox"}
        if p.kind in ("schedule", "count_schedule", "quarter") or p.allow_off:
            return {"type": "InputText"}
        low, high, step = slider_range(p, self.span)
        kind = "SliderInt" if p.kind == "int" or (step >= 1 and float(step).is_integer()) else "SliderFloat"
        cast = int if kind == "SliderInt" else float
        return {"type": kind, "min": cast(low), "max": cast(high), "step": cast(step)}


def nice_step(span: float) -> float:
    """The smallest of 1, 2, 2.5, 5 x 10^k that is >= span / 100."""
    target = span / 100.0
    if target <= 0:
        return 1.0
    base = 10.0 ** math.floor(math.log10(target))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if m * base >= target * (1 - 1e-9):
            return _tidy(m * base)
    return _tidy(10.0 * base)  # pragma: no cover


def _tidy(x: float) -> float:
    return float(f"{x:.12g}")


def slider_range(p: Param, span: str) -> tuple[float, float, float]:
    """(low, high, step) of a slider for parameter ``p`` (see the module docstring)."""
    if span == "allowed":
        low, high = p.low, p.high
    elif span == "sweep":
        if p.sweep_range is None:
            raise ValueError(f"lever {p.name!r}: the parameter table gives no sweep_range; "
                             "use span='allowed'")
        low, high = min(p.sweep_range[0], p.default), max(p.sweep_range[1], p.default)
    else:
        raise ValueError(f"lever {p.name!r}: span {span!r} is not 'sweep' or 'allowed'")
    if low is None or high is None or not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"lever {p.name!r}: no finite range in the parameter table")
    step = nice_step(high - low)
    if p.kind == "int":
        step = max(1.0, round(step))
    low_r = _tidy(math.floor(low / step + 1e-9) * step)
    high_r = _tidy(math.ceil(high / step - 1e-9) * step)
    if p.low is not None and low_r < p.low:
        low_r = low
    if p.high is not None and high_r > p.high:
        high_r = high
    return low_r, high_r, step


# One line per lever: group, parameter, short label, slider range, what it does (default: the doc).
def _maker_of(param: str) -> str:
    """The catalogue maker whose capacity the parameter ``param`` sets."""
    return next(m.name for m in MAKERS if m.capacity is not None and m.capacity.param == param)


LEVERS: tuple[Lever, ...] = (
    # --- Washington
    Lever("US", "export_regime", "export regime", does_text=(
        "what Nvidia and AMD may sell in China: ban; h20 = China parts only; threshold = the Jan 2026 rule "
        "as enacted (licences below a TPP and bandwidth cap, volume cap, levies); lagged = the rolling-lag "
        "proposal (chips at least the export lag old); open")),
    Lever("US", "export_tpp_cap", "TPP cap with 'threshold', enacted 21,000"),
    Lever("US", "export_bw_cap_gbs", "memory-bandwidth cap with 'threshold', enacted 6,500"),
    Lever("US", "us_volume_cap_share", "China volume cap per product", "allowed"),
    Lever("US", "per_customer_cap_units", "licensed units per customer per year, with 'threshold'"),
    Lever("US", "us_licence_total_cap_units", "licensed units in all, with 'threshold'"),
    Lever("US", "us_licence_schedule", "licensed Chinese customers, dated"),
    Lever("US", "us_licence_allocation", "who holds the licences, without a licence schedule"),
    Lever("US", "approved_customer_share", "approved customers, without a licence schedule", "allowed"),
    Lever("US", "us_revenue_share", "US levy on licensed chips", "allowed"),
    Lever("US", "china_part_revenue_share", "US levy on China parts (H20, MI308, RTX Pro 6000D)", "allowed"),
    Lever("US", "export_lag_months", "export lag, with 'lagged'", "allowed"),
    Lever("US", "us_adaptive", "TPP cap tracks China's best chip (with 'threshold')"),
    Lever("US", "us_adaptive_margin", "adaptive cap as a multiple of China's best chip"),
    Lever("US", "us_policy_schedule", "dated US regime changes (threshold@CAP sets the cap)"),
    Lever("US", "us_reversal_prob", "chance the US tightens"),
    # --- Beijing
    Lever("Beijing", "china_import_policy", "policy on US chips", does_text=(
        "Beijing's stance on buying US chips: open, discourage, restrict (state buyers domestic only, "
        "a share of private buyers approved), ban; or decides (a level for each US product by its rule)")),
    Lever("Beijing", "china_review_quarters", "quarters Beijing reviews before each step", "allowed"),
    Lever("Beijing", "china_match_ratio", "domestic chip's performance that counts as a match", "allowed"),
    Lever("Beijing", "china_approval_share", "private developers approved under 'restrict'", "allowed"),
    Lever("Beijing", "china_import_cap_units", "import cap on US AI chips"),
    Lever("Beijing", "domestic_pairing_ratio", "pairing quota: domestic per imported compute"),
    Lever("Beijing", "domestic_subsidy", "domestic-chip subsidy", "allowed"),
    Lever("Beijing", "state_mandate", "state buyers domestic only (unless 'open')"),
    Lever("Beijing", "china_adaptive", "tightens as domestic supply grows"),
    Lever("Beijing", "china_policy_schedule", "dated changes of Beijing's stance"),
    # --- Supply and demand
    Lever("markets", "huawei_capacity_2026", f"{DOMESTIC_LEADER} Ascend output 2026"),
    Lever("markets", "cambricon_capacity_2026", f"{_maker_of('cambricon_capacity_2026')} output 2026"),
    Lever("markets", "domestic_capacity_growth", "domestic capacity growth after 2026"),
    Lever("markets", "demand_growth", "growth of AI-chip spending"),
    Lever("markets", "us_china_production_share", "US makers' China production, of US units"),
    Lever("markets", "design_to_rule", "US makers design China parts to the rule"),
    Lever("markets", "design_lead_quarters", "quarters to bring out a part designed to the rule"),
    Lever("markets", "revenue_passthrough", "most of the levy passed on when scarce", "allowed"),
    Lever("markets", "domestic_price_response", "domestic price response to excess demand"),
    Lever("markets", "domestic_markup_max", "most domestic markup over list"),
    Lever("markets", "hbm_stockpile_2026", "HBM stacks stockpiled at 2026Q1"),
    Lever("markets", "domestic_hbm_2026", "domestic HBM output 2026"),
    Lever("markets", "offshore_capacity_share", "budget private firms can spend abroad"),
    Lever("markets", "offshore_owned_share", "of it, owned abroad (the rest rented)", "allowed"),
    Lever("markets", "offshore_rent_usd_per_h100e_hour", "cloud rent abroad in 2026"),
    Lever("markets", "offshore_open_after_rule", "offshore channel left after the May 2026 guidance",
          "allowed"),
    Lever("markets", "grey_supply_units", "smugglers' supply (chips a quarter at +100%)"),
    Lever("markets", "grey_seizure_share", "smuggled chips seized (enforcement)", "allowed"),
    Lever("markets", "grey_lag_quarters", "quarters before a chip is smuggled"),
    Lever("markets", "carryover_share", "unspent budget carried over"),
    Lever("markets", "stockpile_share", "budget brought forward to stockpile"),
    # --- What nobody knows well
    Lever("uncertainties", "domestic_efficiency", "domestic chip efficiency, of paper spec"),
    Lever("uncertainties", "ecosystem_maturity_2026", "domestic software ecosystem in 2026Q1"),
    Lever("uncertainties", "us_roadmap_delay_quarters", "US roadmap after Blackwell: delay"),
    Lever("uncertainties", "us_roadmap_perf_scale", "US roadmap after Blackwell: performance"),
    Lever("uncertainties", "realize_reversals", "US reversals happen (off: only priced in)"),
    # --- The run
    Lever("run", "n_developers", "AI developers", (50, MAX_UI_DEVELOPERS, 50),
          "number of developer agents (more: smoother, slower; aggregate demand does not depend on it)"),
    Lever("run", "rng", "random seed", (0, 999, 1), "seed of the run; compare mode runs B on the same seed"),
)

#: Parameter -> its lever.
LEVERS_BY_NAME: dict[str, Lever] = {lever.name: lever for lever in LEVERS}
#: The controls, in sidebar order: parameter -> SolaraViz user-input spec (without "value").
CONTROLS: dict[str, dict[str, Any]] = {
    lever.name: {**lever.control, "label": lever.control_label} for lever in LEVERS
}

#: Presets: values that differ from the model's defaults (every other lever takes its default).
PRESETS: dict[str, dict[str, Any]] = {
    "December 2025 decision (as enacted)": {
        "export_regime": "threshold", "export_tpp_cap": 21_000.0, "export_bw_cap_gbs": 6_500.0,
        "us_volume_cap_share": 0.5, "us_revenue_share": 0.25, "china_part_revenue_share": 0.15,
        "per_customer_cap_units": float("inf"), "us_licence_total_cap_units": float("inf"),
        "china_import_policy": "decides"},
    "Rolling 18-month lag (proposal)": {"export_regime": "lagged", "export_lag_months": 18,
                                        "china_import_policy": "decides"},
    "2026 timeline as it happened": {
        "export_regime": "threshold", "export_tpp_cap": 21_000.0, "us_volume_cap_share": 0.5,
        "us_licence_schedule": "2026Q1:3,2026Q2:10", "per_customer_cap_units": 75_000.0,
        "china_import_policy": "decides", "realize_reversals": False},
    "H20 only": {"export_regime": "h20"},
    "No exports": {"export_regime": "ban"},
    "Open market": {"export_regime": "open", "china_import_policy": "open"},
    "Beijing blocks": {"china_import_policy": "ban"},
}
#: Where each preset's values come from (shown under the preset picker).
PRESET_NOTES: dict[str, str] = {
    "December 2025 decision (as enacted)": (
        "BIS rule of Jan 13-15 2026: licences below TPP 21,000 and 6,500 GB/s, China units <= 50% of US "
        "units; 25% levy (Section 232), 15% on China parts; no per-customer or total licence cap (reported "
        "from Mar 2026, the model's defaults); Beijing decides product by product by its rule "
        "(ODD 7.1b; SOURCES §C3)."),
    "Rolling 18-month lag (proposal)": "the proposed rolling lag, not enacted; Beijing decides by its rule.",
    "2026 timeline as it happened": (
        "the enacted rule with the licences actually issued: 3 Chinese customers in 2026Q1 (Jan 28 approvals "
        "of ByteDance, Alibaba, Tencent; Mar: 'only a few'), ~10 from 2026Q2 (Reuters, May), up to 75,000 "
        "units each, 1M in all (Bloomberg, Mar); Beijing decides by its rule; no random US reversals "
        "(the timeline is the only US "
        "change, as in the history replay). SOURCES §C3."),
    "H20 only": "China parts only (the 2024-2025 rule); the H20 sells from stock, then the RTX Pro 6000D.",
    "No exports": "a US ban on AI-chip exports to China.",
    "Open market": "no US export rule, Beijing open.",
    "Beijing blocks": "Beijing bans US chips (customs block) under the enacted US rule.",
}
DEFAULT_PRESET = "December 2025 decision (as enacted)"
DEFAULT_B_PRESET = "No exports"


def preset_values(name: str) -> dict[str, Any]:
    """Every lever's value under preset ``name`` as the model takes it: the model defaults
    overridden by the preset. Values are validated with the model's own rules
    (``model.core.parameters.validate_value``)."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; allowed: {', '.join(PRESETS)}")
    values = {name: (DEFAULT_SEED if name == "rng" else DEFAULTS[name]) for name in CONTROLS}
    values.update(PRESETS[name])
    return {k: (v if k == "rng" else validate_value(k, v)) for k, v in values.items()}


def coerce_control(name: str, value: Any) -> Any:
    """A model value of ``name`` as its control shows it (int for SliderInt, float for SliderFloat,
    text for a text field, with ``off`` for a cap that is off)."""
    kind = CONTROLS[name]["type"]
    if kind == "SliderInt":
        return int(value)
    if kind == "SliderFloat":
        return float(value)
    if kind == "Checkbox":
        return bool(value)
    if kind == "InputText":
        if isinstance(value, str):
            return value
        if isinstance(value, float) and math.isinf(value):
            return OFF
        if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))  # 1000000, not 1e+06
        return f"{value:g}" if isinstance(value, float) and abs(value) < 1e15 else str(value)
    return value


def to_model(name: str, value: Any) -> Any:
    """A control's value of ``name`` as the model takes it: text fields of numbers are parsed
    (``off``, ``none``, ``inf`` or empty = no cap); everything else passes unchanged. Raises
    ValueError for text the parameter does not allow."""
    p = PARAMS_BY_NAME.get(name)
    if p is None or not isinstance(value, str) or p.kind not in ("int", "float"):
        return value
    text = value.strip().replace(",", "")
    if p.allow_off and not text:  # an emptied field: no cap (the words for it are the parameters')
        return math.inf
    return coerce_text(name, text)


if not set(CONTROLS) - {"rng"} <= PARAMS_BY_NAME.keys():  # pragma: no cover - developer guard
    raise ImportError("LEVERS names a parameter that model.core.parameters does not define")
if not {lever.group for lever in LEVERS} <= set(GROUPS):  # pragma: no cover - developer guard
    raise ImportError(f"a lever's group is not one of {GROUPS}")
