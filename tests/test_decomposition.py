"""The headline's US share split by channel (model/validation/decomposition.py): the parts add up to the
share, a US ban leaves no legal channel, and README's generated table is not stale."""

from __future__ import annotations

import pytest

from model.core.paths import README_MD
from model.validation import decomposition as dc


@pytest.fixture(scope="module")
def fresh():
    return dc.table()


def test_channels_add_up_to_the_us_stack_share_in_every_regime(fresh):
    total = fresh["legal"] + fresh["legacy"] + fresh["grey"]
    assert (total - fresh["us_stack_share"]).abs().max() < 1e-12
    assert (fresh[["legacy", "grey"]] >= 0).all().all()


def test_a_us_ban_leaves_no_legal_channel_and_opening_up_grows_it(fresh):
    by = fresh.set_index("export_regime")
    assert abs(by.loc["ban", "legal"]) < 1e-9
    assert by.loc["ban", "grey"] > 0 and by.loc["ban", "legacy"] > 0
    # looser rules buy more through the legal channel and leave less to smuggling
    legal = [by.loc[r, "legal"] for r in ("h20", "threshold", "lagged", "open")]
    assert legal == sorted(legal) and len(set(legal)) == 4
    assert by.loc["open", "grey"] < by.loc["ban", "grey"]


def test_a_grey_channel_closed_under_a_ban_leaves_only_the_legacy_base():
    row = dc.decompose({**dc.SETTINGS, "export_regime": "ban", "grey_capacity_usd": 0.0}, seed=3, steps=8)
    assert row["grey"] == 0.0 and abs(row["legal"]) < 1e-9
    assert row["us_stack_share"] == pytest.approx(row["legacy"], rel=1e-12)


def test_readme_table_is_generated_from_a_fresh_decomposition(fresh):
    readme = README_MD.read_text(encoding="utf-8")
    assert dc.render(readme, fresh) == readme, "stale: run python -m model.validation.decomposition"
