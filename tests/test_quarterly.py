"""The quarterly replay and its scoring (model.validation.quarterly): roles by window, the matching of
observed to model quantities, by-maker intervals, and frozen forecasts that are never overwritten."""

import pandas as pd
import pytest

from model.core.catalogue import MAKERS
from model.sweep.errors import UsageError
from model.validation import forecasts as fc
from model.validation import quarterly as qv
from model.validation.replay import replay_spec


@pytest.fixture(scope="module")
def runs():
    params, steps, seeds = replay_spec()
    return qv.run_replay({**params, "n_developers": 120}, seeds[:3], steps)


def test_roles_follow_the_calibration_window():
    assert qv.role_of("2024Q4") == "calibration" and qv.role_of("2024") == "calibration"
    assert qv.role_of("2025Q1") == "out of sample" and qv.role_of("2025") == "out of sample"
    assert qv.role_of("2026Q1") == "forecast"


def test_replay_covers_2022q4_to_2026q2_with_every_maker(runs):
    quarters = sorted(runs["quarter"].unique())
    assert quarters[0] == "2022Q4" and quarters[-1] == "2026Q2" and len(quarters) == 15
    table = qv.by_maker(runs)
    assert set(table["maker"]) == {m.name for m in MAKERS}
    assert ((table["units_p025"] <= table["units_mean"] + 1e-9).all()
            and (table["units_mean"] <= table["units_p975"] + 1e-9).all())
    # Nvidia sells nothing while the US bans the H20 (2025Q2) and Beijing blocks imports (2025Q4)
    nv = table[table["maker"] == "Nvidia"].set_index("quarter")
    assert nv.loc["2025Q2", "units_mean"] == 0 and nv.loc["2025Q4", "units_mean"] == 0
    assert nv.loc["2024Q2", "units_mean"] > 0


def test_scored_table_matches_observations_to_model_quantities(runs):
    observed = pd.DataFrame([
        {"quarter": "2024", "quantity": "nvidia_share_china_ai_chip_market", "value": 0.66, "unit": "share",
         "source": "s", "grade": "M", "note": ""},
        {"quarter": "2025Q1", "quantity": "nvidia_h20_revenue_china", "value": 4.6e9, "unit": "USD",
         "source": "s", "grade": "H", "note": ""},
        {"quarter": "2030Q1", "quantity": "nvidia_china_revenue", "value": 1.0, "unit": "USD",  # not covered
         "source": "s", "grade": "H", "note": ""},
        {"quarter": "2025", "quantity": "not_modelled", "value": 1.0, "unit": "x",
         "source": "s", "grade": "H", "note": ""},
    ])
    table = qv.scored_table(runs, observed)
    assert list(table["period"]) == ["2024", "2025Q1"]
    share, h20 = table.iloc[0], table.iloc[1]
    assert share["role"] == "calibration" and share["error_kind"] == "share points"
    assert share["error"] == pytest.approx(share["model_mean"] - 0.66)
    # the model's H20 revenue in 2025Q1 is the H20's units x China price, summed per seed
    per_seed = runs[runs["quarter"] == "2025Q1"]["h20_revenue_usd"]
    assert (h20["model_mean"] == pytest.approx(per_seed.mean())
            and h20["error"] == pytest.approx(per_seed.mean() / 4.6e9))
    assert h20["role"] == "out of sample"


def test_a_frozen_forecast_is_never_overwritten(tmp_path, runs):
    table = fc.forecast_table(runs, ["2026Q1", "2026Q2"])
    assert set(table["quantity"]) == set(fc.FORECAST_QUANTITIES) and (table["lo"] <= table["hi"]).all()
    path = fc.freeze_forecast(table, tmp_path / "f.csv", "line one\nline two")
    text = path.read_text()
    assert text.startswith("# line one\n# line two\nquarter,quantity,mean,lo,hi,seeds\n")
    with pytest.raises(UsageError, match="never overwritten"):
        fc.freeze_forecast(table, path, "again")
    assert path.read_text() == text
    # its checksum is recorded when it is frozen, and a second forecast adds its own
    assert fc.frozen_sums(tmp_path) == {"f.csv": fc.sha256_of(path)}
    fc.freeze_forecast(table, tmp_path / "g.csv", "another")
    assert set(fc.frozen_sums(tmp_path)) == {"f.csv", "g.csv"}
    with pytest.raises(ValueError, match="does not reach 2027Q1"):
        fc.forecast_table(runs, ["2027Q1"])


def test_the_committed_forecasts_are_frozen_files():
    for name in ("2026H1.csv", "2026Q3-2027Q4.csv"):
        path = fc.FORECASTS_DIR / name
        lines = path.read_text().splitlines()
        assert lines[0].startswith("# chipstack frozen forecast") and "git commit" in lines[0]
        table = pd.read_csv(path, comment="#")
        assert {"quarter", "quantity", "mean", "lo", "hi"} <= set(table.columns)
        # unchanged since it was frozen: the checksum recorded then (docs/forecasts/SHA256SUMS)
        assert fc.frozen_sums(fc.FORECASTS_DIR)[name] == fc.sha256_of(path)
        assert fc.frozen_commit(path) == "50fa855f182909d2dc1c3d37d986613eadfc4001"


def test_the_v2_forecast_is_frozen_with_what_it_had_seen():
    """issue 28 item 5: frozen at a later commit, Beijing deciding, its header listing the 2026 facts seen."""
    name = "2026Q3-2027Q4-v2.csv"
    path = fc.FORECASTS_DIR / name
    text = path.read_text()
    assert "china_import_policy = 'decides'" in text.splitlines()[0]
    assert "Quasi-ex-ante" in text and "Nvidia guides $0 from China" in text and "10,000 units" in text
    assert fc.frozen_sums(fc.FORECASTS_DIR)[name] == fc.sha256_of(path)
    assert fc.frozen_commit(path) not in ("", "50fa855f182909d2dc1c3d37d986613eadfc4001")
    table = pd.read_csv(path, comment="#")
    assert set(table["quarter"]) == {"2026Q3", "2026Q4", "2027Q1", "2027Q2", "2027Q3", "2027Q4"}


def test_validation_md_quotes_the_committed_quarterly_table():
    text = qv.VALIDATION_MD.read_text(encoding="utf-8")
    scored = pd.read_csv(qv.DOCS_VALIDATION / "quarterly.csv")
    claims = pd.read_csv(qv.DOCS_VALIDATION / "claims.csv")
    assert text == qv.render_validation_md(text, scored, claims), "run `python -m model.validation.quarterly`"
    changed = scored.copy()
    changed.loc[0, "model_mean"] *= 1.5
    assert qv.render_validation_md(text, changed, claims) != text
