"""A chipmaker is described once, in the catalogue (issue 25, item 1): a maker added at run time with
``catalogue.extended`` and nothing else sells its chips in a model run, has its reporters, its rows in a
sweep's by_maker.csv and its colour and name in the UI's views. And no code outside the catalogue names a
maker, so adding one (or renaming one) touches the catalogue only."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pandas as pd
import pytest

from model.analysis import by_maker
from model.analysis.report import build_report
from model.core import catalogue
from model.core.catalogue import DOMESTIC, Capacity, Chip, Maker
from model.core.chip_market import ChipMarketModel
from model.sweep.experiment import experiment_from_dict
from model.sweep.runner import run_sweep

ROOT = Path(__file__).resolve().parents[1]

#: A what-if domestic maker and its one chip (numbers for the test only: Biren's BR100, ~1 PF BF16 and
#: ~2.3 TB/s -> sqrt(1.03 x 0.69) ~ 0.84 of an H100).
BIREN = Maker(
    "Biren", "CN", DOMESTIC, colour="#00acc1",
    capacity=Capacity("biren_capacity_2026", 80_000, "Biren's output in 2026 (test)", "test",
                      (40_000, 160_000)),
    capacity_source="test", revenue_2026_usd=0.5e9, revenue_source="test", history_share=0.0,
    hbm_stacks_per_chip=4.0, hbm_source="test")
BR100 = Chip("BR100", "Biren", "2025Q1", 0.84, 11_000, source="test", tpp=16_384, mem_bw_gbs=2_300)


@pytest.fixture
def with_biren():
    with catalogue.extended(new_makers=(BIREN,), new_chips=(BR100,)):
        yield


def test_extended_is_undone_on_exit():
    with catalogue.extended(new_makers=(BIREN,), new_chips=(BR100,)):
        assert catalogue.makers()[-1] is BIREN and "BR100" in [c.name for c in catalogue.chips()]
    assert BIREN not in catalogue.makers() and catalogue.makers() == catalogue.MAKERS


# --- (a) the model sells its chip and reports it ------------------------------------------------------
def test_new_maker_sells_and_is_reported(with_biren):
    m = ChipMarketModel(rng=3)
    assert m.chipmakers[-1].name == "Biren" and m.chipmakers[-1].is_domestic
    assert m.catalogue.maker_names[-1] == "Biren"
    assert {"units_biren", "revenue_biren"} <= set(m.reporter_names)
    sold = 0.0
    for _ in range(8):
        m.step()
        sold += m.sales_by_chip["BR100"]
    assert sold > 0
    df = m.dataframe()
    assert df["units_biren"].sum() > 0 and df["revenue_biren"].sum() > 0
    sales = m.datacollector.get_table_dataframe("chip_sales")
    assert (sales.loc[sales["chip"] == "BR100", "maker"] == "Biren").all()
    assert sales.loc[sales["chip"] == "BR100", "units"].sum() == pytest.approx(df["units_biren"].sum())


# --- (b) a sweep's by_maker.csv has its rows ----------------------------------------------------------
def test_by_maker_table_finds_makers_from_columns(with_biren):
    runs = pd.DataFrame({"quarter": ["2026Q1"] * 2, "units_biren": [1.0, 3.0], "revenue_biren": [2.0, 4.0],
                         "units_nvidia": [5.0, 5.0], "revenue_nvidia": [6.0, 6.0],
                         "units_other": [1.0, 1.0], "revenue_other": [1.0, 1.0],
                         "revenue_passthrough": [0.1, 0.1]})
    table = by_maker.summarise(runs, ["quarter"])
    # makers in force first, in catalogue order, then a pair no maker in force owns, under its key
    assert list(table["maker"]) == ["Nvidia", "Biren", "other"]
    assert table.set_index("maker").loc["Biren", "units_mean"] == 2.0


def test_new_maker_in_by_maker_csv(with_biren, tmp_path):
    spec = {"experiment": {"name": "biren", "description": "test", "steps": 4, "replications": 2, "seed": 5},
            "parameters": {"n_developers": 20}, "grid": {"export_regime": ["ban", "open"]}}
    out = tmp_path / "out"
    result = run_sweep(experiment_from_dict(spec), out, workers=1, progress=False)
    assert result.exit_code == 0
    build_report(out)
    table = pd.read_csv(out / "by_maker.csv")
    assert "Biren" in set(table["maker"])
    biren = table[table["maker"] == "Biren"]
    assert biren["units_mean"].sum() > 0 and biren["revenue_usd_mean"].sum() > 0


# --- (c) the UI draws it in its colour, with its name -------------------------------------------------
def test_new_maker_drawn_in_ui(with_biren):
    pytest.importorskip("solara", reason="the UI needs the 'ui' extra")
    from matplotlib.colors import to_rgba

    from model.ui import ui_model, view_base
    from model.ui import views as ui_views

    m = ui_model.ChipMarketModelUI(rng=3)
    for _ in range(8):
        m.step()
    view = view_base.view_for(m, ui_views.InstalledByMakerView)
    assert view_base.view_png(m, ui_views.InstalledByMakerView).startswith(b"\x89PNG")
    labels = [t.get_text() for t in view.legend.get_texts()]
    assert "Biren" in labels
    patch = view.legend.legend_handles[labels.index("Biren")]
    assert to_rgba(patch.get_facecolor()) == to_rgba(BIREN.colour)
    k = view.order.index(m.catalogue.maker_index("Biren"))
    assert to_rgba(view.areas[k].get_facecolor()[0], 1.0) == to_rgba(BIREN.colour)

    sales = view_base.view_for(m, ui_views.ChipSalesView)
    view_base.view_png(m, ui_views.ChipSalesView)
    legend = sales.fig.legends[0]
    labels = [t.get_text() for t in legend.get_texts()]
    assert "Biren" in labels
    assert to_rgba(legend.legend_handles[labels.index("Biren")].get_facecolor()) == to_rgba(BIREN.colour)
    j = m.catalogue.names.index("BR100")
    assert j in sales.rows  # it sold, so it has a bar, in Biren's colour
    bar = next(rect for rect, jj, scenario in sales.bars if jj == j and scenario == "A")
    assert to_rgba(bar.get_facecolor()) == to_rgba(BIREN.colour)


def test_maker_colours_are_the_catalogues():
    from model.ui import view_base

    assert view_base.MAKER_COLOURS == {m.name: m.colour for m in catalogue.MAKERS}
    with catalogue.extended(new_makers=(BIREN,), new_chips=(BR100,)):
        assert view_base.maker_colour("Biren") == BIREN.colour
    assert view_base.maker_colour("Biren") == view_base.UNKNOWN_MAKER_COLOUR


# --- validation lists derive from the catalogue -------------------------------------------------------
def test_validation_lists_follow_the_catalogue(with_biren):
    from model.validation import quarterly

    assert quarterly.domestic_makers() == [m.name for m in catalogue.makers() if m.is_domestic]
    assert quarterly.domestic_makers()[-1] == "Biren"


# --- docs/INTERFACES.md: the per-maker reporters, generated from the catalogue ------------------------
def test_interfaces_maker_table_is_current():
    text = by_maker.INTERFACES_MD.read_text(encoding="utf-8")
    generated = text.split(by_maker.DOC_BEGIN, 1)[1].split(by_maker.DOC_END, 1)[0]
    assert generated.strip() == by_maker.interfaces_block().strip(), (
        "docs/INTERFACES.md's per-maker table is stale: run `python -m model.analysis.by_maker`")
    for m in catalogue.MAKERS:
        assert f"`units_{m.reporter_key}`" in generated


# --- the rule: no code outside the catalogue names a maker --------------------------------------------
def _docstring_nodes(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def maker_names_in_code(path: Path, names: set[str]) -> list[tuple[int, str]]:
    """String literals of ``path`` (not docstrings; comments are not literals) that name a maker: the name
    itself (``"Nvidia"``) or an identifier-like string with the name as one of its ``_``-separated parts in
    the catalogue's spelling (``"rev_Nvidia"``). Prose for people ("Nvidia vs domestic revenue") and the
    lower-case names of contract reporters, parameters and observed-data series
    (``nvidia_china_revenue_usd``, ``huawei_capacity_2026``, ``cambricon_revenue``) are allowed: those are
    names defined elsewhere, not lists of makers."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = _docstring_nodes(tree)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            s = node.value
            if s in names or (re.fullmatch(r"\w+", s) and set(s.split("_")) & names):
                found.append((node.lineno, s))
    return sorted(found)


def test_no_maker_named_outside_the_catalogue():
    names = {m.name for m in catalogue.MAKERS}
    allowed = {ROOT / "model" / "core" / "catalogue.py"}
    offenders = [f"{p.relative_to(ROOT)}:{line}: {s!r}"
                 for p in sorted((ROOT / "model").rglob("*.py")) if p not in allowed
                 for line, s in maker_names_in_code(p, names)]
    assert not offenders, ("maker names outside model/core/catalogue.py (derive them from the catalogue):\n"
                           + "\n".join(offenders))


def test_the_rule_catches_a_named_maker(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""Nvidia in a docstring is fine."""\n# Huawei in a comment is fine\n'
                   'X = COLOURS["Nvidia"]\nY = "rev_Huawei"\nZ = "Nvidia vs domestic revenue"\n'
                   'W = "nvidia_china_revenue_usd"\n')
    assert maker_names_in_code(bad, {"Nvidia", "Huawei"}) == [(3, "Nvidia"), (4, "rev_Huawei")]
