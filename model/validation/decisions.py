"""The replay of decisions (docs/VALIDATION.md §3.5): Beijing and Nvidia as deciding agents, against the
record.

The history replay (``experiments/history_2022_2026.toml``) runs with ``china_import_policy = "decides"``
and without Beijing's dated schedule, so Beijing's levels for each US product come from its rule
(``model.core.beijing.ChinaGovernment.decide``). Two tables:

* **decisions** — for each dated decision of the record (``RECORD``: Beijing's restrictions of each US
  product, and Nvidia halting a product's China line, ``model.core.makers``' ``run_lines``), the first
  quarter in which the model's agent takes it, over the replay's seeds: the modal quarter, the share of
  seeds on the record's quarter and within one quarter of it, and a hit (modal quarter = the record's),
  near (one off) or miss;
* **market** — the market quantities these decisions decide (Nvidia's H20 and Hopper revenue in China in
  2025Q3-2026Q2), scored as ``model.validation.quarterly`` scores them, for the replay through the dated
  schedule and for the replay with Beijing deciding, side by side.

The rule's two numbers are set a priori (``china_review_quarters`` from the 2023 Micron review,
``china_match_ratio`` 1 from Beijing's stated test) and nothing here is fitted: 2022Q4-2024Q4 is the
calibration window, in which Beijing never acted (so it cannot identify either number), and 2025Q1 on is
out of sample. The rule's form was written knowing the 2025-26 record (the forecaster's caveat). Nvidia's
rule (ODD 7.5: a China line runs while a unit made for it pays, net of the levy and the risk that it cannot
be sold) has no fitted number either. The H20's 2025 halts are not scored: in the replay its line ends with
the catalogue's end of production (2025Q2), a sourced input, not the maker's decision. Washington's rule
changes are the replay's dated schedule (inputs), so they are not scored as decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.core.catalogue import US_LEADER
from model.core.docblocks import maintenance_arguments, replace_block
from model.core.paths import DOCS_VALIDATION, VALIDATION_MD
from model.core.policy import APPROVAL, BLOCKED, HELD
from model.core.quarters import parse_quarter
from model.validation.quarterly import run_replay, scored_table
from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

#: What a decision of the record means as the model's product levels (``model.core.policy``).
RESTRICTS = {"restricted": lambda lv: lv >= APPROVAL,  # approval, guided, held or blocked: not free to buy
             "stopped at customs": lambda lv: lv in (HELD, BLOCKED),
             "blocked": lambda lv: lv == BLOCKED}
#: A decision never taken in the replay's quarters.
NEVER = "never"
#: Nvidia's decisions about a product's China line (``USMaker.halted``, the rule of ODD 7.5).
HALTS = ("halted",)
#: Beijing's pairing quota on US imports (``ChinaGovernment.decide_pairing``); ``chip`` names no product.
PAIRING = "pairing quota"


@dataclass(frozen=True)
class Decision:
    """One dated decision of the record: ``actor`` first took ``what`` against ``chip`` in ``quarter``."""

    actor: str
    chip: str
    what: str  # a key of RESTRICTS
    quarter: str  # the record's first quarter, or NEVER within the replay
    source: str
    grade: str
    role: str | None = None  # None: calibration for NEVER, else out of sample


RECORD = (
    Decision("Beijing", "A800", "restricted", NEVER,
             "no Chinese measure against US AI chips before mid-2025 (SOURCES §C2)", "H"),
    Decision("Beijing", "H800", "restricted", NEVER, "as above (§C2)", "H"),
    Decision("Beijing", "H20", "restricted", "2025Q3",
             "Aug 12 2025 notices; MIIT asks Alibaba and ByteDance to justify H20 orders (§C2)", "H"),
    Decision("Beijing", "H20", "stopped at customs", "2025Q4",
             "~Oct 10 2025 customs crackdown on Nvidia imports, H20 and RTX Pro 6000D (§C2)", "H"),
    Decision("Beijing", "RTXPro6000D", "restricted", "2025Q3",
             "Sep 17 2025 CAC: stop testing and cancel RTX Pro 6000D orders (§C2)", "H"),
    Decision("Beijing", "RTXPro6000D", "stopped at customs", "2025Q4", "~Oct 10 2025 customs crackdown (§C2)",
             "H"),
    Decision("Beijing", "MI308", "restricted", "2025Q3",
             "Aug 2025 guidance reported to extend to AMD's MI308, unclear whether it was named (§C2)", "M"),
    Decision("Beijing", "MI308", "stopped at customs", "2025Q4",
             "customs crackdown widened to all advanced chips (§C2)", "H/M"),
    Decision("Beijing", "H200", "restricted", "2026Q1",
             "Jan 13-15 2026: customs told the H200 is not permitted; Jan 28 first approvals (§C3)", "H"),
    Decision("Beijing", "H200", "stopped at customs", "2026Q1", "Jan 13-15 2026 customs instruction (§C3)",
             "H"),
    Decision(US_LEADER, "H200", "halted", "2026Q1",
             "Jan 17 2026: Nvidia's H200 component suppliers pause production after the customs block "
             "(FT, via Reuters; §B5)", "M"),
    Decision("Beijing", "US imports", PAIRING, NEVER,
             "Jan 2026: Beijing weighs requiring domestic chips to be bought with imports (The Information, "
             "§C3 M; Reuters/Nikkei, §C2 M); no report of it in force through 2026Q2 was found (absence: L)",
             "L", role="out of sample"),
)

#: The market rows the decisions decide (quarterly.py's observed quantities), in this order.
MARKET_ROWS = (("2025Q3", "nvidia_h20_revenue_china"), ("2026Q1", "nvidia_datacenter_hopper_revenue_china"),
               ("2026Q1", "nvidia_h200_units_china"),
               ("2026Q2", "nvidia_datacenter_hopper_revenue_china_upper_bound"))
#: Tolerance, stated before scoring: the model's mean within USD 0.5B of the record (for a bound, under it
#: plus 0.5B). Beijing's decisions move a quarter's Nvidia revenue in China by USD 0-5B.
TOLERANCE_USD = 0.5e9


def deciding_params(params: dict | None = None) -> dict:
    """The replay's parameters with Beijing deciding instead of its dated schedule."""
    params = replay_spec(REPLAY_EXPERIMENT)[0] if params is None else params
    return {**params, "china_import_policy": "decides", "china_policy_schedule": ""}


def first_quarters(params: dict, seeds, steps: int) -> pd.DataFrame:
    """One row per (seed, record row): the first quarter the model's Beijing took that decision (or
    NEVER), from the levels it held each quarter."""
    from model.core.chip_market import ChipMarketModel

    rows = []
    for seed in seeds:
        m = ChipMarketModel(rng=int(seed), **params)
        first: dict[int, str] = {}
        for _ in range(steps):
            m.step()
            for k, d in enumerate(RECORD):
                if k not in first and taken(m, d):
                    first[k] = m.quarter_label
        rows += [{"seed": int(seed), "row": k, "model_quarter": first.get(k, NEVER)}
                 for k in range(len(RECORD))]
    return pd.DataFrame(rows)


def taken(m, d: Decision) -> bool:
    """Whether the model's agent has ``d`` in force now: Beijing's level for the product, or the maker's
    China line for it halted."""
    if d.what == PAIRING:
        return m.china_government.pairing is not None
    j = m.catalogue.names.index(d.chip)
    if d.what in HALTS:
        maker = next(mk for mk in m.chipmakers if mk.name == d.actor)
        return bool(maker.halted[j - maker.rows.start])
    return RESTRICTS[d.what](int(m.china_government.levels[j]))


def _off_by(model_quarter: str, record: str) -> float:
    if NEVER in (model_quarter, record):
        return 0.0 if model_quarter == record else np.inf
    return float(abs(parse_quarter(model_quarter) - parse_quarter(record)))


def decision_table(firsts: pd.DataFrame) -> pd.DataFrame:
    """The decisions table: per record row, the model's modal first quarter, the share of seeds on the
    record's quarter and within one quarter of it, and hit / near / miss (of the modal quarter)."""
    rows = []
    for k, d in enumerate(RECORD):
        got = firsts.loc[firsts["row"] == k, "model_quarter"]
        modal = got.value_counts().sort_index().idxmax()
        off = np.array([_off_by(q, d.quarter) for q in got])
        modal_off = _off_by(modal, d.quarter)
        verdict = "hit" if modal_off == 0 else "near" if modal_off <= 1 else "miss"
        rows.append({"actor": d.actor, "chip": d.chip, "decision": d.what, "record": d.quarter,
                     "model_modal": modal, "share_on_record": float((off == 0).mean()),
                     "share_within_1q": float((off <= 1).mean()), "verdict": verdict,
                     "role": d.role or ("calibration" if d.quarter == NEVER else "out of sample"),
                     "grade": d.grade, "source": d.source})
    return pd.DataFrame(rows)


def market_table(schedule_scored: pd.DataFrame, deciding_scored: pd.DataFrame) -> pd.DataFrame:
    """The market rows the decisions decide, from both replays' ``quarterly.scored_table``, with the stated
    tolerance."""
    rows = []
    for label, scored in (("dated schedule", schedule_scored), ("Beijing decides", deciding_scored)):
        scored = scored.set_index(["period", "quantity"])
        for key in MARKET_ROWS:
            if key not in scored.index:
                continue
            r = scored.loc[key]
            bound = key[1].endswith("upper_bound")
            units = key[1].endswith("_units_china")
            tol = 0.0 if units else TOLERANCE_USD
            ok = (r.model_mean <= r.observed + tol) if bound else abs(r.model_mean - r.observed) <= tol
            rows.append({"replay": label, "period": key[0], "quantity": key[1], "observed": r.observed,
                         "model_mean": r.model_mean, "model_lo": r.model_lo, "model_hi": r.model_hi,
                         "within_tolerance": bool(ok), "role": r.role})
    return pd.DataFrame(rows)


def run(seeds=None, n_developers: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(decisions, market) over the replay's seeds (or ``seeds``)."""
    params, steps, file_seeds = replay_spec(REPLAY_EXPERIMENT)
    seeds = file_seeds if seeds is None else list(seeds)
    if n_developers is not None:
        params = {**params, "n_developers": n_developers}
    deciding = deciding_params(params)
    decisions = decision_table(first_quarters(deciding, seeds, steps))
    market = market_table(scored_table(run_replay(params, seeds, steps)),
                          scored_table(run_replay(deciding, seeds, steps)))
    return decisions, market


#: Markers of the generated tables in docs/VALIDATION.md §3.5.
TABLE_BEGIN = "<!-- decisions:table begin -->"
TABLE_END = "<!-- decisions:table end -->"


def _usd(v: float) -> str:
    return f"${v / 1e9:.2f}B"


def markdown(decisions: pd.DataFrame, market: pd.DataFrame) -> str:
    lines = ["| decision | record | model (modal quarter) | seeds on the record's quarter "
             "| within one quarter | verdict | role | source (grade) |",
             "|---|---|---|---|---|---|---|---|"]
    for r in decisions.itertuples():
        line = " line" if r.decision in HALTS else ""
        what = f"{r.actor}: {r.chip}{line} {r.decision}"
        lines.append(f"| {what} | {r.record} | {r.model_modal} | {r.share_on_record:.0%} "
                     f"| {r.share_within_1q:.0%} | **{r.verdict}** | {r.role} | {r.source} ({r.grade}) |")
    lines += ["", "| market quantity | period | record | replay | model mean [95%] | within tolerance |",
              "|---|---|---|---|---|---|"]
    for r in market.itertuples():
        fmt = (lambda v: f"{v:,.0f}") if r.quantity.endswith("_units_china") else _usd
        record = ("< " if r.quantity.endswith("upper_bound") else "") + fmt(r.observed)
        lines.append(f"| `{r.quantity}` | {r.period} | {record} | {r.replay} | {fmt(r.model_mean)} "
                     f"[{fmt(r.model_lo)}, {fmt(r.model_hi)}] | {'yes' if r.within_tolerance else '**no**'} "
                     "|")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m model.validation.decisions``: re-render VALIDATION.md §3.5 from docs/validation/'s CSVs."""
    maintenance_arguments("model.validation.decisions", "docs/VALIDATION.md §3.5 from "
                          "docs/validation/decisions.csv and decisions_market.csv", argv)
    text = VALIDATION_MD.read_text(encoding="utf-8")
    new = replace_block(text, TABLE_BEGIN, TABLE_END,
                        markdown(pd.read_csv(DOCS_VALIDATION / "decisions.csv"),
                                 pd.read_csv(DOCS_VALIDATION / "decisions_market.csv")))
    if new != text:
        VALIDATION_MD.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())


