"""The house style (model/analysis/style.py): every figure ``chipstack report`` draws is at most a page wide,
with no text under 7 pt and none outside the figure, for the designs the report knows (a 4 x 4 policy
grid, three grid factors, a Sobol' sample)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.analysis import report as report_module
from model.analysis import style
from test_report import GRID, model_sweep, synthetic_sample_sweep


@pytest.fixture()
def drawn(monkeypatch):
    """The figures build_report draws, by file name, each with its style problems."""
    figures: dict[str, list[str]] = {}

    def record(fig, path, formats=("png",)):
        figures[path.name] = style.figure_problems(fig)
        style.plt.close(fig)
        return []

    monkeypatch.setattr(report_module, "save_figure", record)
    return figures


def _check(figures: dict[str, list[str]], expected: set[str]) -> None:
    assert expected <= set(figures), sorted(figures)
    bad = {name: problems for name, problems in figures.items() if problems}
    assert not bad, bad


@pytest.mark.slow  # runs 32 + 16 short model runs
def test_grid_report_figures_follow_the_house_style(tmp_path, drawn):
    report_module.build_report(model_sweep(tmp_path / "grid", GRID))
    _check(drawn, {"heatmap_us_stack_share.png", "heatmap_us_share_legal.png",
                   "timeseries_us_stack_share.png", "tradeoff.png"})
    drawn.clear()
    grid = {"export_regime": ["h20", "open"], "china_import_policy": ["open", "restrict"],
            "huawei_capacity_2026": [200_000, 3_000_000]}
    report_module.build_report(model_sweep(tmp_path / "huawei", grid))
    _check(drawn, {"heatmap_us_stack_share.png", "response_huawei_capacity_2026.png"})


def test_sample_report_figures_follow_the_house_style(tmp_path, drawn):
    from SALib.sample import sobol as sobol_sample

    names = ["domestic_hbm_growth", "us_roadmap_perf_scale", "grey_supply_units"]
    bounds = [[0.0, 1.0]] * 3
    X = sobol_sample.sample({"num_vars": 3, "names": names, "bounds": bounds}, 64, calc_second_order=False,
                            seed=3)
    out = synthetic_sample_sweep(tmp_path / "sobol", X, names, bounds, "sobol", lambda x: x[0] + 2 * x[1])
    report_module.build_report(out)
    _check(drawn, {"sensitivity.png"})


def test_figure_problems_finds_what_breaks_the_style():
    with style.house_style():
        fig, ax = style.plt.subplots(figsize=(9.0, 3.0))
        ax.set_title("a small title", fontsize=5)
        ax.text(1.4, 0.5, "off the edge", transform=ax.transAxes)
        ax.plot(np.arange(3))
    problems = style.figure_problems(fig)
    assert any("wide" in p for p in problems)
    assert any("'a small title': 5 pt" in p for p in problems)
    assert any("outside the figure" in p for p in problems)  # the text off the axes' right edge
    with style.house_style():
        fig, (a1, a2) = style.plt.subplots(1, 2, figsize=(3.0, 2.0), constrained_layout=True)
        a1.set_xlabel("a long label that runs well into the next panel")
        a2.set_xlabel("another long label of the next panel")
    assert any("overlaps" in p for p in style.figure_problems(fig))
    with style.house_style():
        fig, ax = style.plt.subplots(figsize=style.page_size(9.0, 3.0))
        ax.set_title("fine")
        ax.plot(np.arange(3))
    assert style.figure_problems(fig) == []
    assert style.page_size(9.0, 3.0) == (style.PAGE_WIDTH_IN, pytest.approx(2.4))


@pytest.mark.slow  # the quick validation runs (docking, replay, quarterly replay)
def test_validation_figures_follow_the_house_style(tmp_path, monkeypatch):
    from model.validation import cli as validation_cli
    from model.validation import figures as validation_figures

    drawn: dict[str, list[str]] = {}

    def record(plt, fig, path):
        drawn[path.name] = style.figure_problems(fig)
        plt.close(fig)

    monkeypatch.setattr(validation_figures, "_save", record)
    for what in ("arthur", "bass", "replay", "quarterly"):
        list(validation_cli.run_checks(what, tmp_path, quick=True))
    _check(drawn, {f"validation_{w}.png" for w in ("arthur", "bass", "replay", "quarterly")})


def test_the_run_figure_follows_the_house_style():
    from model import ChipMarketModel
    from model.analysis.figures import run_figure

    df = ChipMarketModel(rng=2, n_developers=40, realize_reversals=True, us_reversal_prob=0.3).run(20)
    assert style.figure_problems(run_figure(df)) == []


@pytest.mark.slow  # a tiny exploratory sweep and a tiny game, run for real
def test_robust_discover_and_game_figures_follow_the_house_style(tmp_path, monkeypatch):
    import matplotlib.figure

    import test_explore
    import test_game
    from model.cli import main
    from model.sweep.runner import run_sweep

    drawn: dict[str, list[str]] = {}
    savefig = matplotlib.figure.Figure.savefig

    def record(fig, fname, *args, **kwargs):
        drawn[Path(str(fname)).name] = style.figure_problems(fig, kwargs.get("bbox_inches") == "tight")
        return savefig(fig, fname, *args, **kwargs)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", record)
    path = tmp_path / "tiny_explore.toml"
    path.write_text(test_explore.TINY)
    out = tmp_path / "explore"
    assert run_sweep(path, out, workers=1, progress=False).exit_code == 0
    assert main(["robust", str(out)]) == 0
    import pandas as pd

    median = float(pd.read_csv(out / "final.csv")["us_stack_share"].median())
    assert main(["discover", str(out), "--reporter", "us_stack_share", "--below", str(median),
                 "--policy", "export_regime=h20"]) == 0
    game = test_game.write_toml(tmp_path / "tiny_game.toml", test_game.TINY)
    assert main(["game", str(game), "--out", str(tmp_path / "game"), "--workers", "1"]) == 0
    _check(drawn, {"robust.png", "frontier.png", "tradeoff.png", "best_responses.png"})
