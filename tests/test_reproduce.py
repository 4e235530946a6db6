"""make reproduce's comparisons (model.reproduce): tables value by value, quoted numbers, the summary line."""

import pandas as pd

from model import reproduce


def test_tables_match_only_when_every_value_does(tmp_path):
    a = pd.DataFrame({"run_id": ["x", "y"], "v": [0.1, 0.2], "w": [1, 2]})
    path_a = tmp_path / "a.csv"
    a.to_csv(path_a, index=False)
    same = tmp_path / "same.csv"
    a.to_csv(same, index=False)
    assert reproduce.compare_tables(path_a, same, 0.0) == []
    moved = a.copy()
    moved.loc[1, "v"] = 0.2 + 1e-12
    moved.to_csv(tmp_path / "moved.csv", index=False)
    diff = reproduce.compare_tables(path_a, tmp_path / "moved.csv", 0.0)
    assert len(diff) == 1 and diff[0].startswith("v: 1 values differ (row 1")
    assert reproduce.compare_tables(path_a, tmp_path / "moved.csv", 1e-9) == []  # the documented tolerance
    a.drop(columns="w").to_csv(tmp_path / "fewer.csv", index=False)
    assert "columns differ" in reproduce.compare_tables(path_a, tmp_path / "fewer.csv", 0.0)[0]
    assert "was not regenerated" in reproduce.compare_tables(path_a, tmp_path / "none.csv", 0.0)[0]


def test_quoted_numbers_are_counted_and_compared():
    n, diffs = reproduce.quoted_numbers("| a | 0.43 [0.42, 0.44] | 10.5 |",
                                        "| a | 0.43 [0.42, 0.44] | 10.5 |")
    assert n == 4 and diffs == []
    n, diffs = reproduce.quoted_numbers("| 0.43 | 10.5 |", "| 0.44 | 10.5 |")
    assert n == 2 and diffs == ["0.43 -> 0.44"]


def test_summary_line_says_all_match_or_lists_what_differs():
    ok = reproduce.Outcome(tables={"t": []}, figures={"f": []}, quoted={"q": (3, [])})
    assert ok.ok and ok.summary() == "reproduced: 1 tables, 1 figures, 3 quoted numbers; all match"
    bad = reproduce.Outcome(tables={"t": ["v: 1 values differ"]}, figures={"f": ["its table t differs"]},
                            quoted={"q": (3, ["0.43 -> 0.44"])})
    assert not bad.ok
    text = bad.summary()
    assert text.startswith("reproduced: 1 tables, 1 figures, 3 quoted numbers; 3 differ:")
    assert "table t: v: 1 values differ" in text and "quoted q: 0.43 -> 0.44" in text


def test_every_published_figure_is_mapped_to_a_committed_table():
    for figure, sources in reproduce.FIGURES.items():
        assert (reproduce.ROOT / figure).exists(), figure
        for source in sources:
            path = reproduce.ROOT / (source if source.startswith("docs/") else f"outputs/{source}")
            assert path.exists(), (figure, source)


def test_missing_text_on_both_sides_matches(tmp_path):
    a = pd.DataFrame({"reason": ["", "a miss", ""], "v": [1.0, 2.0, 3.0]})
    a.to_csv(tmp_path / "a.csv", index=False)
    a.to_csv(tmp_path / "b.csv", index=False)
    assert reproduce.compare_tables(tmp_path / "a.csv", tmp_path / "b.csv", 0.0) == []
    a.assign(reason=["", "another", ""]).to_csv(tmp_path / "c.csv", index=False)
    assert reproduce.compare_tables(tmp_path / "a.csv", tmp_path / "c.csv", 0.0)[0].startswith(
        "reason: 1 values")


def test_bad_arguments_are_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "x").write_text("x")
    for argv in (["--rtol", "abc"], ["--rtol", "-1"], ["--scratch", str(tmp_path / "full")], ["--bogus"]):
        assert reproduce.main(argv) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("chipstack: error:"), (argv, err)
