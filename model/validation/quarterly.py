"""The quarterly replay 2022Q4-2026Q2 scored against what happened (docs/VALIDATION.md §3).

``experiments/history_2022_2026.toml`` replays the dated policy timeline as it was announced; this
module runs its replications (the sweep's seeds), tabulates each maker's units and revenue per
quarter (``by_maker``), and scores the model against the observed series of
``experiments/data/observed.csv`` with the forecaster's roles:

* **calibration** — quarters up to 2024Q4 (the only ones the calibration may use);
* **out of sample** — 2025Q1-2025Q4 (scored, never fitted);
* **forecast** — 2026Q1 onward: frozen in ``docs/forecasts/`` before any outcome was looked up
  (``model.validation.forecasts``: ``freeze_forecast`` refuses to overwrite a frozen file).

Every observed quantity is matched to a model quantity by ``MODEL_QUANTITY``; where the two measure
different things (Nvidia's reported China revenue includes gaming and other products; the model's is
AI accelerators only) the table says so in its ``comparison`` column.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.analysis.by_maker import summarise
from model.core import catalogue
from model.core.catalogue import US_LEADER
from model.core.docblocks import maintenance_arguments, replace_block
from model.core.paths import DOCS_VALIDATION, FORECASTS_DIR, VALIDATION_MD  # noqa: F401 (re-exported)
from model.core.quarters import parse_quarter
from model.core.reporters import maker_columns
from model.sweep.experiment import EXPERIMENTS_DIR
from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

OBSERVED_CSV = EXPERIMENTS_DIR / "data" / "observed.csv"
# FORECASTS_DIR; DOCS_VALIDATION: the committed validation results (``chipstack validate all --out
# docs/validation``); VALIDATION_MD: all three from model.core.paths
#: Last quarter of the calibration window; 2025 is out of sample; 2026 on is forecast.
CALIBRATION_END = parse_quarter("2024Q4")
OUT_OF_SAMPLE_END = parse_quarter("2025Q4")
#: CNY per USD for yuan-denominated observations (ASSUMPTION 7.2, the approximate 2024-25 average;
#: range 7.0-7.3).
CNY_PER_USD = 7.2


def domestic_makers() -> list[str]:
    """Names of the domestic chipmakers of the catalogue in force (``Maker.is_domestic``), in its order."""
    return [m.name for m in catalogue.makers() if m.is_domestic]


def run_replay(params: dict | None = None, seeds=None, steps: int | None = None) -> pd.DataFrame:
    """One row per (seed, quarter): each maker's units and revenue, H20 units and revenue, and the
    spending abroad and on the grey market, from the replay file's parameters and seeds."""
    from model.core.chip_market import ChipMarketModel

    file_params, file_steps, file_seeds = replay_spec(REPLAY_EXPERIMENT)
    params = file_params if params is None else dict(params)
    seeds = file_seeds if seeds is None else list(seeds)
    steps = file_steps if steps is None else int(steps)
    rows = []
    for seed in seeds:
        m = ChipMarketModel(rng=int(seed), **params)
        cat = m.catalogue
        h20, h200 = cat.names.index("H20"), cat.names.index("H200")
        hopper = [cat.names.index(c) for c in ("H100", "H800", "H20", "H200")]
        for _ in range(steps):
            m.step()
            row = {"seed": int(seed), "quarter": m.quarter_label, "us_regime": m.us_government.regime,
                   "china_stance": m.china_government.stance,
                   "h20_units": float(m.chips_sold[h20]),
                   "h20_revenue_usd": float(m.chips_sold[h20] * m.china_price[h20]),
                   "h200_units": float(m.chips_sold[h200]),
                   "h200_revenue_usd": float(m.chips_sold[h200] * m.china_price[h200]),
                   "hopper_revenue_usd": float((m.chips_sold[hopper] * m.china_price[hopper]).sum()),
                   "legal_h100e_added": math.fsum((m.chips_sold * cat.flop_h100e).tolist()),
                   **{c: m.reported[c] for c in ("spent_offshore_usd", "spent_grey_usd", "unspent_usd",
                                                 "grey_units", "china_compute_h100e", "grey_compute_h100e")}}
            row.update({c: m.reported[c] for pair in maker_columns(cat.makers).values() for c in pair})
            rows.append(row)
    return pd.DataFrame(rows)


def _interval(values: np.ndarray) -> tuple[float, float, float]:
    return float(np.mean(values)), float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))


def by_maker(runs: pd.DataFrame) -> pd.DataFrame:
    """quarter, maker, units and revenue_usd: mean and 95% interval (2.5-97.5 percentiles) over seeds."""
    return summarise(runs, ["quarter"])


def _period_values(runs: pd.DataFrame, period: str, column_fn) -> np.ndarray | None:
    """Per-seed values of ``column_fn(frame)`` summed over the quarters of ``period`` (a quarter or a
    year); None when the replay does not cover the whole period."""
    quarters = [period] if "Q" in period else [f"{period}Q{k}" for k in range(1, 5)]
    sel = runs[runs["quarter"].isin(quarters)]
    if sel["quarter"].nunique() != len(quarters):
        return None
    return sel.groupby("seed").apply(column_fn, include_groups=False).to_numpy(dtype=float)


def _revenue(g: pd.DataFrame, makers) -> float:
    columns = maker_columns()
    return float(sum(g[columns[m][1]].sum() for m in makers))


def _units(g: pd.DataFrame, makers) -> float:
    columns = maker_columns()
    return float(sum(g[columns[m][0]].sum() for m in makers))


def _all_makers(g: pd.DataFrame):
    """The makers of the catalogue in force whose reporters ``g`` holds."""
    return [name for name, (_, revenue) in maker_columns().items() if revenue in g.columns]


def _per_maker_quantities() -> dict:
    """The observed quantities that name one chipmaker, mapped through the catalogue by its reporter key:
    ``ai_accelerator_shipments_china_<key>`` (its units) for every maker, ``<key>_revenue`` (its revenue in
    CNY, as Chinese listed makers report it) for every domestic maker. Only those observed.csv holds are
    scored."""
    out = {}
    for m in catalogue.makers():
        out[f"ai_accelerator_shipments_china_{m.reporter_key}"] = (
            lambda g, name=m.name: _units(g, [name]), f"{m.name} units")
        if m.is_domestic:
            out[f"{m.reporter_key}_revenue"] = (
                lambda g, name=m.name: _revenue(g, [name]) * CNY_PER_USD,
                f"{m.name} revenue, model USD x {CNY_PER_USD} CNY/USD (ASSUMPTION)")
    return out


#: observed quantity -> (model quantity per seed over a period, what is compared)
MODEL_QUANTITY = {
    "nvidia_china_revenue": (lambda g: _revenue(g, [US_LEADER]),
                             "model: Nvidia AI-chip revenue in China; observed: all Nvidia revenue "
                             "attributed to China incl. Hong Kong, by billing location to FY2026 Q3 and by "
                             "customer headquarters from the FY2026 10-K on (also gaming and other products, "
                             "and China-headquartered customers abroad: not the same measure)"),
    "nvidia_h200_revenue_china": (lambda g: float(g["h200_revenue_usd"].sum()), "H200 revenue in China"),
    "nvidia_h200_units_china": (lambda g: float(g["h200_units"].sum()), "H200 units sold in China"),
    "nvidia_datacenter_hopper_revenue_china": (lambda g: float(g["hopper_revenue_usd"].sum()),
                                               "Hopper (H100/H800/H20/H200) revenue in China"),
    "nvidia_datacenter_hopper_revenue_china_upper_bound": (
        lambda g: float(g["hopper_revenue_usd"].sum()),
        "Hopper revenue in China; observed is an UPPER BOUND (< 1% of data-centre revenue)"),
    "chinese_offshore_compute_value": (lambda g: float(g["spent_offshore_usd"].sum()),
                                       "model: all Chinese developers' spending abroad; observed: one firm's "
                                       "(ByteDance) reported build-out"),
    "nvidia_h20_revenue_china": (lambda g: float(g["h20_revenue_usd"].sum()), "H20 revenue in China"),
    "nvidia_h20_units_china": (lambda g: float(g["h20_units"].sum()), "H20 units sold in China"),
    "china_compute_added_h100e": (lambda g: float(g["legal_h100e_added"].sum()),
                                  "FLOP-based H100e sold legally in China (units x flop_h100e)"),
    "smuggled_chips": (lambda g: float(g["grey_units"].sum()), "chips delivered by the grey market"),
    "china_compute_stock_h100e_excl_grey": (
        lambda g: float(g["china_compute_h100e"].iloc[-1] - g["grey_compute_h100e"].iloc[-1]),
        "FLOP-based H100e installed in China at the period's end (the ledger), smuggled chips left out"),
    "nvidia_share_china_ai_chip_market": (
        lambda g: _revenue(g, [US_LEADER]) / max(_revenue(g, _all_makers(g)), 1e-9),
        f"{US_LEADER}'s share of AI-chip revenue in China (legal sales)"),
    "nvidia_share_china_advanced_ai_chips": (
        lambda g: _revenue(g, [US_LEADER]) / max(_revenue(g, _all_makers(g)), 1e-9),
        f"{US_LEADER}'s share of AI-chip revenue in China (legal sales)"),
    "domestic_vendor_share_china_ai_chip_sales": (
        lambda g: _revenue(g, domestic_makers()) / max(_revenue(g, _all_makers(g)), 1e-9),
        "domestic makers' share of AI-chip revenue in China"),
    "china_ai_chip_market": (lambda g: _revenue(g, _all_makers(g)),
                             "all makers' AI-chip revenue in China (legal sales)"),
    "ai_accelerator_shipments_china_all": (lambda g: _units(g, _all_makers(g)),
                                           "all accelerator units sold in China (legal sales)"),
    "ai_accelerator_shipments_china_domestic": (
        lambda g: _units(g, domestic_makers()), "domestic units"),
    **_per_maker_quantities(),
}
SHARE_QUANTITIES = {"nvidia_share_china_ai_chip_market", "nvidia_share_china_advanced_ai_chips",
                    "domestic_vendor_share_china_ai_chip_sales"}

#: One line per miss larger than 10 points of share (or a factor of two in a level), written after
#: looking at the table: the mechanism the model lacks, or the mismatch of measures.
_CAMBRICON_BACKCAST = ("capacity backcast: Cambricon's output before 2025 is its 2025 output (142k, "
                       "Goldman, §B2) discounted at the replay's domestic_capacity_growth, one rate for all "
                       "domestic makers; its revenue rose 4.5x in 2025 (§B2), so its 2024 output was far "
                       "smaller")
_IDC_UNITS = ("IDC counts all accelerator cards, incl. low-end inference and workstation parts (L20, "
              "RTX-class) and probably grey imports; the catalogue has only data-centre parts (Nvidia's "
              "booked China revenue, $5.5B in Feb-Apr and $2.8B in Aug-Oct 2025, cannot pay for 2.2M "
              "data-centre chips)")
_HBM_CAMBRICON = ("the model's HBM pool (3.2M stacks shared by need, drawn over 4 quarters) cuts "
                  "Cambricon's output by ~45% from 2025Q4; Cambricon's revenue grew instead: HBM bound "
                  "Cambricon less than assumed (fewer stacks per chip, priority, or more HBM)")
_HQ_BASIS = ("not the same measure: from the FY2026 10-K Nvidia counts customers headquartered in China "
             "wherever they are (e.g. data centres abroad) and all products; no Hopper data-centre chips "
             "were shipped to China in 2026Q1 and under 1% of data-centre revenue in 2026Q2")
REASONS: dict[tuple[str, str], str] = {
    ("2024Q1", "cambricon_revenue"): _CAMBRICON_BACKCAST,
    ("2024Q2", "cambricon_revenue"): _CAMBRICON_BACKCAST,
    ("2024Q3", "cambricon_revenue"): _CAMBRICON_BACKCAST,
    ("2025", "ai_accelerator_shipments_china_all"): _IDC_UNITS,
    ("2025", "ai_accelerator_shipments_china_nvidia"): _IDC_UNITS,
    ("2025", "ai_accelerator_shipments_china_amd"): (
        _IDC_UNITS + "; AMD's China parts other than the MI308 are missing"),
    ("2025", "nvidia_share_china_ai_chip_market"): (
        "measures differ: the analysts' ~54% counts Nvidia's Q1 H20 shipments, the non-H20 products "
        "behind its $2.8B of Aug-Oct China revenue and probably grey sales; the model's is Nvidia's "
        "share of legal data-centre-chip spending, 0 in the two blocked quarters and low in 2025Q3 "
        "(see next row)"),
    ("2026Q1", "cambricon_revenue"): _HBM_CAMBRICON,
    ("2026Q2", "cambricon_revenue"): (
        _HBM_CAMBRICON + "; from 2026Q2 its price rises with its excess demand (ODD 7.5), which brings its "
        "revenue nearer the record than at list prices"),
    ("2026Q1", "nvidia_china_revenue"): _HQ_BASIS,
    ("2026Q2", "nvidia_china_revenue"): _HQ_BASIS,
    ("2025Q3", "nvidia_h20_revenue_china"): (
        "Beijing's Aug 2025 guidance (MIIT justification requests, CAC summons) stopped H20 buying almost "
        "entirely; this replay follows Beijing's dated stance, and 'discourage' is a 1-util penalty, so the "
        "H20's 200k stock sells; with Beijing deciding by its rule (VALIDATION §3.5) the H20 is guided and "
        "sells nothing"),
}


def role_of(period: str) -> str:
    q = parse_quarter(period if "Q" in period else f"{period}Q4")
    if q <= CALIBRATION_END:
        return "calibration"
    if q <= OUT_OF_SAMPLE_END:
        return "out of sample"
    return "forecast"


def scored_table(runs: pd.DataFrame, observed: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every observation the replay covers: observed vs model mean and 95% interval over seeds, the
    error (share points for shares, model/observed ratio for levels), the role and a reason for big misses."""
    obs = pd.read_csv(OBSERVED_CSV) if observed is None else observed
    rows = []
    for o in obs.itertuples():
        if o.quantity not in MODEL_QUANTITY:
            continue
        fn, what = MODEL_QUANTITY[o.quantity]
        vals = _period_values(runs, str(o.quarter), fn)
        if vals is None:
            continue
        mean, lo, hi = _interval(vals)
        observed_value = float(o.value)
        share = o.quantity in SHARE_QUANTITIES
        if share:
            error, kind, big = mean - observed_value, "share points", abs(mean - observed_value) > 0.10
        elif o.quantity.endswith("_upper_bound"):  # a bound: a miss only above it
            error, kind = mean / observed_value, "model / observed bound"
            big = mean > observed_value
        elif observed_value:
            error, kind = mean / observed_value, "model / observed"
            big = not (0.5 <= error <= 2.0)
        else:  # an observed zero: the model's level itself, a miss when its interval excludes zero
            error, kind, big = mean, "model - observed (observed 0)", lo > 0
        rows.append({"period": str(o.quarter), "quantity": o.quantity, "observed": observed_value,
                     "unit": o.unit, "grade": o.grade, "model_mean": mean, "model_lo": lo, "model_hi": hi,
                     "error": error, "error_kind": kind,
                     "in_interval": bool(lo <= observed_value <= hi), "big_miss": bool(big),
                     "role": role_of(str(o.quarter)), "comparison": what,
                     "reason": REASONS.get((str(o.quarter), o.quantity), ""), "source": o.source})
    table = pd.DataFrame(rows)
    order = {"calibration": 0, "out of sample": 1, "forecast": 2}
    return table.sort_values(by=["role", "period", "quantity"],
                             key=lambda s: s.map(order) if s.name == "role" else s,
                             kind="stable").reset_index(drop=True)


#: Markers of the generated table in docs/VALIDATION.md §3.3.
TABLE_BEGIN = "<!-- quarterly:table begin -->"
TABLE_END = "<!-- quarterly:table end -->"


def _fmt(value: float, quantity: str) -> str:
    if "share" in quantity and "shipments" not in quantity:
        return f"{value:.2f}"
    if abs(value) >= 1e9:
        return f"{value / 1e9:.2f}B"
    if abs(value) >= 1e3:
        return f"{value / 1e3:.0f}k"
    return f"{value:.3g}"


def markdown_table(scored: pd.DataFrame) -> str:
    """The scored table as Markdown (docs/VALIDATION.md §3.3, between TABLE_BEGIN and TABLE_END)."""
    lines = ["| period | quantity | observed (grade) | model mean [95% over seeds] | error | role "
             "| reason for a big miss |",
             "|---|---|---|---|---|---|---|"]
    for r in scored.itertuples():
        q = r.quantity
        if r.error_kind == "share points":
            error = f"{r.error:+.2f} pts"
        elif r.error_kind == "model / observed":
            error = f"×{r.error:.2f}"
        elif r.error_kind == "model / observed bound":
            error = f"×{r.error:.2f} of the bound"
        else:
            error = f"{_fmt(r.error, q)} (obs. 0)"
        reason = r.reason if isinstance(r.reason, str) else ""
        lines.append(f"| {r.period} | `{q}` | {_fmt(r.observed, q)} ({r.grade}) | {_fmt(r.model_mean, q)} "
                     f"[{_fmt(r.model_lo, q)}, {_fmt(r.model_hi, q)}] | "
                     f"{error}{' **miss**' if r.big_miss else ''} "
                     f"| {r.role} | {reason} |")
    return "\n".join(lines)


def render_validation_md(text: str, scored: pd.DataFrame, claims: pd.DataFrame | None = None) -> str:
    """VALIDATION.md with its generated blocks (the quarterly table; the claims table) re-rendered."""
    from model.validation import claims as claims_module

    text = replace_block(text, TABLE_BEGIN, TABLE_END, markdown_table(scored))
    if claims is not None:
        text = replace_block(text, claims_module.TABLE_BEGIN, claims_module.TABLE_END,
                              claims_module.markdown_table(claims))
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m model.validation.quarterly``: re-render VALIDATION.md's generated tables from the CSVs in
    docs/validation/ (written by ``chipstack validate all --out docs/validation``)."""
    maintenance_arguments("model.validation.quarterly", "the quarterly and claims tables of "
                          "docs/VALIDATION.md from docs/validation/quarterly.csv and claims.csv", argv)
    text = VALIDATION_MD.read_text(encoding="utf-8")
    new = render_validation_md(text, pd.read_csv(DOCS_VALIDATION / "quarterly.csv"),
                               pd.read_csv(DOCS_VALIDATION / "claims.csv"))
    if new != text:
        VALIDATION_MD.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
