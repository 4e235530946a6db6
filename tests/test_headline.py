"""The README's headline tables are generated from the committed reference results
(model.analysis.headline)."""

import pandas as pd
import pytest

from model.analysis import headline


def test_readme_headline_tables_match_the_reference_results():
    text = headline.README.read_text(encoding="utf-8")
    expected = headline.render(text, headline.blocks(pd.read_csv(headline.SUMMARY)))
    assert text == expected, "README headline tables are stale: run `python -m model.analysis.headline`"


def test_readme_assumption_tables_match_the_committed_sensitivity_results():
    text = headline.README.read_text(encoding="utf-8")
    blocks = headline.committed_assumption_blocks()
    assert text == headline.render(text, blocks), "stale: run `python -m model.analysis.headline`"
    # the screening table lists exactly the parameters at or above the floor multiple on some output
    screening = pd.read_csv(headline.SCREENING_CSV)
    listed = {line.split("`")[1] for line in blocks["screening"].splitlines()[2:]}
    above = set()
    for _, sub in screening.groupby("output"):
        floor = sub.set_index("parameter").loc[list(headline.DUMMIES), "mu_star"].max()
        above |= set(sub.loc[sub["mu_star"] >= headline.FLOOR_MULTIPLE * floor, "parameter"])
    assert listed == above


def test_a_changed_number_is_caught():
    summary = pd.read_csv(headline.SUMMARY)
    text = headline.README.read_text(encoding="utf-8")
    summary["us_stack_share_mean"] += 0.01
    altered = headline.render(text, headline.blocks(summary))
    assert altered != text
    with pytest.raises(ValueError, match="no block"):
        headline.render("no markers here", {"us_stack_share": "x"})


def test_the_generated_reading_quotes_the_reference_results():
    """The paragraph after the tables is generated from the same cells (the legal share leads)."""
    s = pd.read_csv(headline.SUMMARY)
    s = s[s["huawei_capacity_2026"] == headline.HUAWEI].set_index(["export_regime", "china_import_policy"])

    def v(regime, reporter, scale=1.0, policy="decides"):
        return s.loc[(regime, policy), f"{reporter}_mean"] / scale

    text = " ".join(headline.README.read_text(encoding="utf-8").split())
    gain = v("threshold", "china_compute_h100e", 1e6) - v("ban", "china_compute_h100e", 1e6)
    for phrase in (
        f"the rule as enacted keeps **{v('threshold', 'us_share_legal'):.2f}** of China's installed",
        f"against {v('h20', 'us_share_legal'):.2f} under H20-only and "
        f"{v('ban', 'us_share_legal'):.2f} under a ban",
        f"the US share is {v('threshold', 'us_stack_share'):.2f} "
        f"({v('ban', 'us_stack_share'):.2f} under a ban)",
        f"The rule adds {gain:.1f}M H100e",
        f"{v('threshold', 'china_to_us_compute_ratio'):.4f} of the US's in 2030",
        f"The rolling lag would keep {v('lagged', 'us_share_legal'):.2f} legally",
        f"the rule kept {v('threshold', 'us_share_legal', policy='restrict'):.2f}, H20-only "
        f"{v('h20', 'us_share_legal', policy='restrict'):.2f}",
    ):
        assert phrase in text, phrase
    assert v("ban", "us_share_legal") == 0.0  # a ban leaves no legal channel, in every run of the cell


def test_rules_table_reads_the_choices_and_ranks_the_rest():
    """A hand-made table: the two choices first, then the assumptions by total index."""
    rows = [("x", "export_regime", 0.6, 0.1, 0.02), ("x", "china_import_policy", 0.3, 0.2, 0.01),
            ("x", "a", 0.05, 0.01, 0.01), ("x", "b", 0.2, 0.1, 0.03), ("x", "c", 0.1, 0.0, 0.02),
            ("x", "d", 0.01, 0.0, 0.01)]
    table = pd.DataFrame(rows, columns=["output", "parameter", "ST", "S1", "ST_conf"])
    line = headline.rules_table(table).splitlines()[2]
    assert line == "| `x` | 0.60 ± 0.02 (0.10) | 0.30 ± 0.01 (0.20) | `b` 0.20, `c` 0.10, `a` 0.05 |"
