"""The replay of Beijing's decisions (model.validation.decisions): scoring against the record."""

import pandas as pd

from model.validation import decisions as d


def firsts(quarters_by_row: dict[int, list[str]]) -> pd.DataFrame:
    rows = [{"seed": s, "row": k, "model_quarter": q}
            for k, qs in quarters_by_row.items() for s, q in enumerate(qs)]
    return pd.DataFrame(rows)


def test_a_decision_is_a_hit_on_its_quarter_near_one_off_and_a_miss_otherwise():
    h20 = next(k for k, r in enumerate(d.RECORD) if r.chip == "H20" and r.what == "restricted")  # 2025Q3
    a800 = next(k for k, r in enumerate(d.RECORD) if r.chip == "A800")  # never
    firsts_by_row = {k: ["2025Q3"] * 4 for k in range(len(d.RECORD))}
    firsts_by_row[h20] = ["2025Q4", "2025Q4", "2025Q3", "2026Q2"]
    firsts_by_row[a800] = ["2024Q1", d.NEVER, d.NEVER, d.NEVER]
    table = d.decision_table(firsts(firsts_by_row)).set_index(["chip", "decision"])
    row = table.loc[("H20", "restricted")]
    assert row.model_modal == "2025Q4" and row.verdict == "near"
    assert row.share_on_record == 0.25 and row.share_within_1q == 0.75
    row = table.loc[("A800", "restricted")]
    assert row.verdict == "hit" and row.share_on_record == 0.75 and row.share_within_1q == 0.75
    h200 = table.loc[("H200", "restricted")]  # record 2026Q1, model 2025Q3: two quarters early
    assert h200.verdict == "miss" and h200.share_within_1q == 0.0


def test_market_rows_use_the_stated_tolerance_and_read_bounds_as_bounds():
    def scored(h20_revenue: float, hopper_q2: float) -> pd.DataFrame:
        rows = [("2025Q3", "nvidia_h20_revenue_china", 5e7, h20_revenue),
                ("2026Q1", "nvidia_datacenter_hopper_revenue_china", 0.0, 0.0),
                ("2026Q1", "nvidia_h200_units_china", 0.0, 0.0),
                ("2026Q2", "nvidia_datacenter_hopper_revenue_china_upper_bound", 8.9023e8, hopper_q2)]
        return pd.DataFrame([{"period": p, "quantity": q, "observed": o, "model_mean": v, "model_lo": v,
                              "model_hi": v, "role": "out of sample"} for p, q, o, v in rows])

    table = d.market_table(scored(2.5e9, 0.0), scored(0.5e9, 1.5e9))
    table = table.set_index(["replay", "period", "quantity"])
    ok = table["within_tolerance"]
    assert not ok[("dated schedule", "2025Q3", "nvidia_h20_revenue_china")]  # $2.5B vs $0.05B
    assert ok[("Beijing decides", "2025Q3", "nvidia_h20_revenue_china")]  # $0.5B: within 0.5B of $0.05B
    bound = "nvidia_datacenter_hopper_revenue_china_upper_bound"
    assert ok[("dated schedule", "2026Q2", bound)]  # 0 is under the bound
    assert not ok[("Beijing decides", "2026Q2", bound)]  # $1.5B > $0.89B + $0.5B


def test_the_committed_tables_render_into_validation_md():
    from model.core.paths import DOCS_VALIDATION, VALIDATION_MD

    dec = pd.read_csv(DOCS_VALIDATION / "decisions.csv")
    market = pd.read_csv(DOCS_VALIDATION / "decisions_market.csv")
    assert len(dec) == len(d.RECORD)
    assert d.markdown(dec, market) in VALIDATION_MD.read_text(encoding="utf-8")


def test_nvidia_s_halt_is_read_from_its_china_line_and_scored_like_beijing_s_decisions():
    """``taken`` reads an Nvidia row from the maker's halted China line (not Beijing's levels), and the
    table scores it like any other row."""
    from model.core.chip_market import ChipMarketModel

    row = next(r for r in d.RECORD if r.actor == "Nvidia")
    assert row.chip == "H200" and row.what in d.HALTS
    m = ChipMarketModel(rng=1, n_developers=30)
    nvidia = next(mk for mk in m.chipmakers if mk.name == "Nvidia")
    j = m.catalogue.names.index("H200") - nvidia.rows.start
    assert not d.taken(m, row)
    m.china_government.levels[:] = max(m.china_government.levels.max(), 5)  # Beijing's levels do not count
    assert not d.taken(m, row)
    nvidia.halted[j] = True
    assert d.taken(m, row)
    k = d.RECORD.index(row)
    table = d.decision_table(firsts({i: ["2026Q1"] * 3 for i in range(len(d.RECORD))} | {k: [d.NEVER] * 3}))
    got = table.set_index(["actor", "chip", "decision"]).loc[("Nvidia", "H200", "halted")]
    assert got.verdict == "miss" and got.share_within_1q == 0.0 and got.model_modal == d.NEVER
