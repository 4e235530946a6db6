"""The headline's US share split by channel (model/validation/decomposition.py): the parts add up to the
share, a US ban leaves no legal channel, and README's generated table is not stale."""

from __future__ import annotations

import pytest

from model.core.paths import README_MD
from model.validation import decomposition as dc


@pytest.fixture(scope="module")
def fresh():
    return dc.table()


@pytest.fixture(scope="module")
def fresh_licence():
    return dc.licence_table()


def test_each_licence_term_added_never_sells_more_licensed_units(fresh_licence):
    """Washington's terms added one at a time (caps only ever tighten): the licensed units sold never rise,
    the 1M total holds, and the caps cost legal share under both of Beijing's stances."""
    for _, t in fresh_licence.groupby("stance"):
        units = t.licensed_units.to_numpy()
        # the allocation step may move units either way; from it on each step only adds a cap
        assert all(b <= a * (1 + 1e-9) for a, b in zip(units[1:], units[2:])), units
        assert units[-1] <= 1_000_000 * (1 + 1e-9)
        assert t.legal.iloc[-1] < t.legal.iloc[1]


def test_channels_add_up_to_the_us_stack_share_in_every_regime(fresh):
    total = fresh["legal"] + fresh["legacy"] + fresh["grey"]
    assert (total - fresh["us_stack_share"]).abs().max() < 1e-12  # means of exact sums, to rounding
    assert (fresh[["legacy", "grey"]] >= 0).all().all()


@pytest.mark.parametrize("regime", ["ban", "h20", "threshold", "lagged", "open"])
@pytest.mark.parametrize("seed", [1, 2])
def test_channel_reporters_sum_exactly_every_quarter(regime, seed):
    """The three channel shares sum to us_stack_share exactly (the same floats, in order), and the
    new-purchase shares to us_share_new, in every quarter, seed and regime."""
    from model import ChipMarketModel

    df = ChipMarketModel(rng=seed, n_developers=60, export_regime=regime,
                         china_import_policy="open").run(12)
    assert ((df.us_share_legal + df.us_share_legacy + df.us_share_grey) == df.us_stack_share).all()
    assert ((df.us_share_new_legal + df.us_share_new_grey) == df.us_share_new).all()
    assert (df.us_stack_share > 0).all() and (df.us_stack_share <= 1).all()
    # the legacy base only depreciates: its compute falls by the depreciation rate each quarter
    legacy = df.us_share_legacy * df.china_compute_h100e
    assert (legacy.diff().dropna() < 0).all()


def test_designed_parts_are_part_of_the_legal_share_and_only_under_rules_with_caps(fresh):
    by = fresh.set_index("export_regime")
    assert (by.us_share_designed <= by.legal + 1e-12).all()
    assert (by.loc[["ban", "lagged", "open"], "us_share_designed"] == 0).all()
    # with Beijing deciding, the China parts designed to the h20-era caps are matched by the Ascend 910C and
    # blocked (as the RTX Pro 6000D was); the licensed part under the threshold is approved
    assert by.loc["h20", "us_share_designed"] == 0 and by.loc["threshold", "us_share_designed"] > 0


def test_a_us_ban_leaves_no_legal_channel_and_opening_up_grows_it(fresh):
    by = fresh.set_index("export_regime")
    assert abs(by.loc["ban", "legal"]) < 1e-9
    assert by.loc["ban", "grey"] > 0 and by.loc["ban", "legacy"] > 0
    # looser rules buy more through the legal channel and leave less to smuggling
    legal = [by.loc[r, "legal"] for r in ("h20", "threshold", "lagged", "open")]
    assert legal == sorted(legal) and len(set(legal)) == 4
    assert by.loc["open", "grey"] < by.loc["ban", "grey"]


def test_a_grey_channel_closed_under_a_ban_leaves_only_the_legacy_base():
    from model import ChipMarketModel

    for seed in (3, 4):
        df = ChipMarketModel(rng=seed, **{**dc.SETTINGS, "n_developers": 80, "export_regime": "ban",
                                          "grey_supply_units": 0.0}).run(12)
        assert (df.us_share_legal == 0.0).all() and (df.us_share_grey == 0.0).all()
        assert (df.us_share_new == 0.0).all() and (df.grey_units == 0.0).all()
        assert (df.us_stack_share == df.us_share_legacy).all() and (df.us_share_legacy > 0).all()


def test_readme_table_is_generated_from_a_fresh_decomposition(fresh, fresh_licence):
    readme = README_MD.read_text(encoding="utf-8")
    fresh_text = dc.render(readme, fresh, fresh_licence)
    assert fresh_text == readme, "stale: run python -m model.validation.decomposition"
