"""The README's headline tables are generated from the committed reference results (model.analysis.headline)."""

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
