"""The README's headline tables are generated from the committed reference results
(model.analysis.headline)."""

import pandas as pd
import pytest

from model.analysis import headline


def test_readme_headline_tables_match_the_reference_results():
    text = headline.README.read_text(encoding="utf-8")
    expected = headline.render(text, headline.blocks(pd.read_csv(headline.SUMMARY)))
    assert text == expected, "README headline tables are stale: run `python -m model.analysis.headline`"


def test_a_changed_number_is_caught():
    summary = pd.read_csv(headline.SUMMARY)
    text = headline.README.read_text(encoding="utf-8")
    summary["us_stack_share_mean"] += 0.01
    altered = headline.render(text, headline.blocks(summary))
    assert altered != text
    with pytest.raises(ValueError, match="no block"):
        headline.render("no markers here", {"us_stack_share": "x"})


def test_numbers_quoted_in_the_headline_text_match_the_reference_results():
    """The in-text numbers of README's "What this says about the December 2025 decision" paragraph."""
    s = pd.read_csv(headline.SUMMARY)
    s = s[s["huawei_capacity_2026"] == headline.HUAWEI].set_index(["export_regime", "china_import_policy"])

    def v(regime, stance, reporter, scale=1.0):
        return s.loc[(regime, stance), f"{reporter}_mean"] / scale

    text = " ".join(headline.README.read_text(encoding="utf-8").split())
    quoted = [
        f"the threshold rule keeps {v('threshold', 'restrict', 'us_stack_share'):.2f} "
        "of China's installed compute",
        f"against {v('h20', 'restrict', 'us_stack_share'):.2f} under H20-only and "
        f"{v('ban', 'restrict', 'us_stack_share'):.2f} under a full US ban",
        f"({v('threshold', 'restrict', 'china_compute_h100e', 1e6):.1f}M vs "
        f"{v('ban', 'restrict', 'china_compute_h100e', 1e6):.1f}M)",
        f"The rolling lag would keep {v('lagged', 'restrict', 'us_stack_share'):.2f}",
        f"gain ({v('lagged', 'restrict', 'china_compute_h100e', 1e6):.1f}M)",
    ]
    for phrase in quoted:
        assert phrase in text, phrase
    gain = (v('threshold', 'restrict', 'china_compute_h100e', 1e6)
            - v('ban', 'restrict', 'china_compute_h100e', 1e6))
    assert f"it adds {gain:.1f}M H100e" in text
    incl = [v(r, st, "us_stack_share_incl_offshore") for r in ("ban", "h20", "threshold")
            for st in ("discourage", "restrict", "ban")]
    assert f"near {min(incl):.2f}–{max(incl):.2f}" in text
