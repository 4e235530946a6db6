"""Fast tests of the browser UI without a browser: the page module, its views, presets and server.

The page is rendered in-process with ``solara.render`` (no server, no browser) to check that a
preset followed by Reset builds the model with the preset's parameters, which depends on how
Solara re-mounts SolaraViz's sidebar (see ``model.ui.app.Page``). The real-browser test is
tests/test_ui_browser.py.
"""

from __future__ import annotations

import argparse
import inspect
import socket
import subprocess
import sys

import pytest

solara = pytest.importorskip("solara", reason="the UI needs the 'ui' extra")

from model import ChipMarketModel  # noqa: E402
from model.core.parameters import PARAMS_BY_NAME  # noqa: E402
from model.core.paths import REFERENCE_SWEEP  # noqa: E402
from model.core.paths import REPO_ROOT as ROOT  # noqa: E402
from model.core.quarters import parse_quarter  # noqa: E402
from model.sweep.errors import UsageError  # noqa: E402
from model.ui import app, levers, series, ui_model, view_base, watch  # noqa: E402
from model.ui import text as ui_text  # noqa: E402  (tests name local strings 'text')
from model.ui import views as ui_views  # noqa: E402  (and local dicts 'views')
from model.ui.serve import APP_MODULE, check_port_free, cmd_ui, server_command, url  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_page_module_imports_and_exposes_page():
    assert callable(app.page) and app.page is app.Page
    assert app.__doc__ and "SolaraViz" in app.__doc__
    assert APP_MODULE == "model.ui.app"


def test_ui_model_keeps_explicit_keyword_signature():
    """SolaraViz's Reset rebuilds the model from keywords: no **kwargs, no scenario."""
    params = inspect.signature(ui_model.ChipMarketModelUI.__init__).parameters
    assert not any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params.values())
    assert "scenario" not in params
    for name in levers.CONTROLS:
        assert name in params, name


def test_controls_cover_every_lever_and_key_parameter():
    for name in ("export_regime", "export_lag_months", "approved_customer_share", "us_revenue_share",
                 "china_import_policy", "domestic_subsidy", "huawei_capacity_2026", "n_developers", "rng"):
        assert name in levers.CONTROLS, name
    assert levers.CONTROLS["export_regime"]["type"] == "Select"
    assert levers.CONTROLS["china_import_policy"]["type"] == "Select"
    for name, spec in levers.CONTROLS.items():
        if name == "rng" or spec["type"] not in ("SliderInt", "SliderFloat"):
            continue
        p = PARAMS_BY_NAME[name]
        assert p.low is None or spec["min"] >= p.low, name
        assert p.high is None or spec["max"] <= p.high, name
        assert spec["min"] <= p.default <= spec["max"], f"{name}: default outside the slider"


@pytest.mark.parametrize("preset", list(levers.PRESETS))
def test_presets_map_to_valid_parameters(preset):
    values = levers.preset_values(preset)
    assert set(values) == set(levers.CONTROLS)
    model = ChipMarketModel(**values)  # valid for the model itself
    assert model.p.export_regime == values["export_regime"]
    params = ui_model.model_params(values)
    for name, spec in params.items():
        assert levers.to_model(name, spec["value"]) == values[name], (preset, name)  # round trip
        if spec["type"] == "Select":
            assert spec["value"] in spec["values"]
        if spec["type"] in ("SliderInt", "SliderFloat"):
            assert spec["min"] <= spec["value"] <= spec["max"], (preset, name)


def test_presets_say_what_the_brief_says():
    assert levers.preset_values("December 2025 decision (as enacted)")["export_regime"] == "threshold"
    assert levers.preset_values("December 2025 decision (as enacted)")["export_tpp_cap"] == 21_000
    assert levers.preset_values("December 2025 decision (as enacted)")["china_import_policy"] == "decides"
    assert levers.preset_values("Rolling 18-month lag (proposal)")["export_regime"] == "lagged"
    assert levers.preset_values("Rolling 18-month lag (proposal)")["export_lag_months"] == 18
    assert levers.preset_values("No exports")["export_regime"] == "ban"
    assert levers.preset_values("H20 only")["export_regime"] == "h20"
    assert levers.preset_values("Open market")["export_regime"] == "open"
    assert levers.preset_values("Open market")["china_import_policy"] == "open"
    assert levers.preset_values("Beijing blocks")["china_import_policy"] == "ban"
    with pytest.raises(ValueError, match="unknown preset"):
        levers.preset_values("Nope")


def test_enacted_and_timeline_presets():
    enacted = levers.preset_values("December 2025 decision (as enacted)")
    assert (enacted["export_tpp_cap"], enacted["export_bw_cap_gbs"], enacted["us_volume_cap_share"]) == (
        21_000, 6_500, 0.5)
    assert (enacted["us_revenue_share"], enacted["china_part_revenue_share"]) == (0.25, 0.15)
    assert enacted["per_customer_cap_units"] == float("inf") and enacted["us_licence_schedule"] == ""
    assert enacted["us_licence_total_cap_units"] == float("inf")
    timeline = levers.preset_values("2026 timeline as it happened")
    assert timeline["export_regime"] == "threshold" and timeline["china_import_policy"] == "decides"
    assert timeline["us_licence_schedule"] == "2026Q1:3,2026Q2:10"
    assert timeline["per_customer_cap_units"] == 75_000 and timeline["realize_reversals"] is False
    assert timeline["us_licence_total_cap_units"] == 1_000_000
    assert timeline["china_policy_schedule"] == ""
    m = ui_model.make_model("2026 timeline as it happened")
    licensed = []
    for _ in range(3):
        m.step()
        licensed.append(int(m.developers.licensed.sum()))
    assert licensed == [3, 10, 10]  # the licences issued: 3 in 2026Q1, ~10 from 2026Q2
    assert set(levers.PRESET_NOTES) == set(levers.PRESETS)


def test_levers_take_range_unit_and_control_from_the_parameter_table():

    for lever in levers.LEVERS:
        p, spec = lever.param, levers.CONTROLS[lever.name]
        if lever.group == "run":
            continue
        assert not isinstance(lever.span, tuple), f"{lever.name}: range typed in the UI"
        if p.unit not in ("-", "") and spec["type"] in ("SliderInt", "SliderFloat"):
            # a slider says its unit with its value, always shown (components.LeverSlider)
            assert lever.value_text(p.default).endswith(p.unit) or p.unit in lever.value_text(p.default)
            assert f"({p.unit}" not in spec["label"], lever.name
        elif p.unit not in ("-", ""):
            assert f"({p.unit}" in spec["label"], lever.name
        if p.kind == "choice":
            assert spec["type"] == "Select" and spec["values"] == list(p.choices)
        elif p.kind == "bool":
            assert spec["type"] == "Checkbox"
        elif p.kind in ("schedule", "count_schedule") or p.allow_off:
            assert spec["type"] == "InputText"
        else:
            low, high, step = levers.slider_range(p, lever.span)
            assert (spec["min"], spec["max"], spec["step"]) == (low, high, step), lever.name
            source = (p.low, p.high) if lever.span == "allowed" else p.sweep_range
            assert low <= source[0] and high >= source[1], lever.name  # the table's range is covered
            assert p.low <= low and high <= p.high, lever.name  # never outside what the model allows
            on_grid = (p.default - low) / step
            assert abs(on_grid - round(on_grid)) < 1e-6, f"{lever.name}: default not on the slider's grid"
    # the issue-12 instruments are levers, grouped
    for name, group in [("export_tpp_cap", "US"), ("us_volume_cap_share", "US"),
                        ("per_customer_cap_units", "US"), ("us_licence_schedule", "US"),
                        ("china_part_revenue_share", "US"),
                        ("china_import_cap_units", "Beijing"), ("domestic_pairing_ratio", "Beijing")]:
        assert {lv.name: lv.group for lv in levers.LEVERS}[name] == group


def test_nice_step_and_slider_range():
    from model.core.parameters import PARAMS_BY_NAME

    assert [levers.nice_step(x) for x in (1.0, 0.35, 30_000, 358_000)] == [0.01, 0.005, 500, 5000]
    assert levers.slider_range(PARAMS_BY_NAME["cambricon_capacity_2026"], "sweep") == (140_000, 500_000, 5000)
    assert levers.slider_range(PARAMS_BY_NAME["us_volume_cap_share"], "allowed") == (0.0, 1.0, 0.01)
    with pytest.raises(ValueError, match="no sweep_range"):
        levers.slider_range(PARAMS_BY_NAME["per_customer_cap_units"], "sweep")


def test_text_levers_parse_caps_and_schedules():

    assert levers.coerce_control("per_customer_cap_units", float("inf")) == "off"
    assert levers.coerce_control("per_customer_cap_units", 75_000.0) == "75000"
    assert levers.to_model("per_customer_cap_units", "75,000") == 75_000.0
    for off in ("off", "", "inf", " None "):
        assert levers.to_model("china_import_cap_units", off) == float("inf")
    assert levers.to_model("us_licence_schedule", "2026Q1:3") == "2026Q1:3"
    m = ui_model.ChipMarketModelUI(n_developers=50, per_customer_cap_units="20000",
                                   china_import_cap_units="off", us_licence_schedule="2026Q2:5")
    assert m.p.per_customer_cap_units == 20_000 and m.p.china_import_cap_units == float("inf")
    assert m.ui_problems == []
    bad = ui_model.ChipMarketModelUI(n_developers=50, us_licence_schedule="soon",
                                     per_customer_cap_units="lots")
    assert bad.p.us_licence_schedule == "" and bad.p.per_customer_cap_units == PARAMS_BY_NAME[
        "per_customer_cap_units"].default  # defaults
    assert len(bad.ui_problems) == 2 and "us_licence_schedule" in bad.ui_problems[0]
    with pytest.raises(ValueError):  # a plain model still refuses text for a number
        ChipMarketModel(n_developers=50, per_customer_cap_units="20000")


def test_status_text_before_and_after_steps():
    m = ui_model.make_model("No exports")
    s = ui_text.status_text(m)
    assert "Quarter: end of 2025Q4 (initial state)" in s and "Step: 0" in s and "US regime: ban" in s
    for _ in range(3):
        m.step()
    s = ui_text.status_text(m)
    assert "Quarter: end of 2026Q3" in s and "Step: 3" in s and "Beijing: decides" in s
    assert "US share via legal sales since the start (0-1, FLOP-based): 0.000" in s  # a ban: none legal
    assert m.reported["nvidia_china_revenue_usd"] == 0.0  # under a ban only smuggled US chips reach China
    assert "China's installed AI compute (million H100e, FLOP-based):" in s
    ratio = m.reported["china_to_us_compute_ratio"]
    assert f"China's compute / the US's (ratio, FLOP-based): {ratio:.4f}" in s
    assert "seed=42" in ui_text.run_parameters_text(m)


def test_clock_moves_one_quarter_per_step_like_the_run_output():
    """Row ``step`` k of a run's output is the end of quarter start + k: the label after k + 1 steps."""
    m = ui_model.make_model()
    labels = [ui_text.clock_text(m)]
    for _ in range(6):
        m.step()
        labels.append(ui_text.clock_text(m))
    assert labels[:3] == ["end of 2025Q4", "end of 2026Q1", "end of 2026Q2"]
    quarters = [parse_quarter(label.removeprefix("end of ")) for label in labels]
    assert all(b - a == 1 for a, b in zip(quarters, quarters[1:]))  # every step moves it by one
    df = m.dataframe()
    assert [f"end of {q}" for q in df["quarter"]] == labels[1:]
    # the x axis: point k is labelled with the row's quarter
    view = view_base.view_for(m, series.USShareView)
    view.png()
    ticks = [t.get_text() for t in view.axes[0].get_xticklabels()]
    assert ticks[0] == df["quarter"].iloc[0] == "2026Q1" and ticks[1] == df["quarter"].iloc[4]


def test_cli_summary_says_whose_end_the_columns_are(tmp_path):
    from model.cli import main

    out = tmp_path / "run"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        assert main(["run", "--steps", "2", "--set", "n_developers=50", "--out", str(out)]) == 0
    header = next(line for line in buf.getvalue().splitlines() if line.startswith("state at the end of"))
    assert header.split()[-2:] == ["2026Q1", "2026Q2"]


def test_compare_mode_steps_b_in_lockstep_on_the_same_seed():
    a = ui_model.make_model("December 2025 decision (as enacted)", compare="No exports")
    assert a.twin is not None and a.twin._seed == a._seed == 42
    assert a.twin.p.export_regime == "ban" and a.p.export_regime == "threshold"
    for _ in range(4):
        a.step()
    assert a.twin.steps == a.steps == 4
    # B is exactly the B scenario run alone on A's seed; A is exactly A run alone
    b_alone = ChipMarketModel(**ui_model.b_kwargs(a, levers.preset_values("No exports")))
    a_alone = ChipMarketModel(**levers.preset_values("December 2025 decision (as enacted)"))
    b_alone.run(4)
    a_alone.run(4)
    assert a.twin.dataframe().equals(b_alone.dataframe())
    assert a.dataframe().equals(a_alone.dataframe())
    s = ui_text.status_text(a)
    assert a.us_government.regime == "threshold"  # the rule as enacted holds (no random reversals by default)
    assert f"US regime: A {a.us_government.describe()} / B ban" in s
    us_a, us_b = a.reported["us_stack_share"], a.twin.reported["us_stack_share"]
    assert (f"US stack share of installed compute, all channels (0-1, FLOP-based): "
            f"A {us_a:.3f}, B {us_b:.3f}, "
            f"A − B {us_a - us_b:+.3f}") in s
    assert "China's installed AI compute (million H100e, FLOP-based): A " in s
    assert "B: same seed and developers, export_regime=ban" in ui_text.run_parameters_text(a)
    # SolaraViz's Reset rebuilds type(model)(**controls): still in compare mode
    again = type(a)(**{**levers.preset_values("Open market"), "n_developers": 200, "rng": 7})
    assert again.twin is not None and again.twin.p.export_regime == "ban"
    assert again.twin.p.china_import_policy == "decides"  # B's own levers, not A's
    assert again.twin.p.n_developers == 200 and again.twin._seed == 7  # A's population and seed


def test_single_mode_has_no_twin():
    m = ui_model.make_model()
    assert m.twin is None and type(m) is ui_model.ChipMarketModelUI
    m.step()
    assert "A − B" not in ui_text.status_text(m)


def test_compare_views_draw_a_and_b():
    single, compare = ui_model.make_model(), ui_model.make_model(compare="No exports")
    for m in (single, compare):
        for _ in range(3):
            m.step()
        for cls in ui_views.VIEW_CLASSES:
            assert view_base.view_png(m, cls).startswith(PNG_MAGIC)
    cap_single = view_base.view_caption(single, series.USShareView)
    cap_compare = view_base.view_caption(compare, series.USShareView)
    assert cap_single.startswith("A: US stack share of installed compute") and "B:" not in cap_single
    a_part, b_part = cap_compare.split(" | ")
    assert a_part.startswith("A: ") and b_part.startswith("B: US stack share of installed compute")
    assert "US share of new purchases" in b_part and "US stack share incl. offshore" in b_part
    view = view_base.view_for(compare, series.USShareView)
    styles = {(s, line.get_linestyle()) for line, _, s, _ in view.lines}
    assert styles == {("A", "-"), ("B", "--")}
    assert [t.get_text() for t in view.legend.get_texts()][-2:] == ["A (solid)", "B (dashed)"]
    assert "B:" in view_base.view_caption(compare, ui_views.InstalledByMakerView)


def test_levers_are_one_line_each_in_groups():

    assert {lv.group for lv in levers.LEVERS} <= set(levers.GROUPS)
    for lever in levers.LEVERS:
        assert levers.CONTROLS[lever.name]["label"].startswith(f"{lever.group} · ")
        assert lever.does
    for group in ("US", "Beijing", "markets", "uncertainties"):
        assert any(lv.group == group for lv in levers.LEVERS), group
    assert "What each lever does" in ui_text.about_html()


def test_chip_sales_view_shows_sales_by_product():
    m = ui_model.make_model("December 2025 decision (as enacted)", compare="No exports")
    view = view_base.view_for(m, ui_views.ChipSalesView)
    assert view_base.view_png(m, ui_views.ChipSalesView).startswith(PNG_MAGIC) and view.caption() == ""
    for _ in range(2):
        m.step()
    view_base.view_png(m, ui_views.ChipSalesView)
    sold = (set(m.datacollector.tables["chip_sales"]["chip"])
            | set(m.twin.datacollector.tables["chip_sales"]["chip"]))
    assert [m.catalogue.names[j] for j in view.rows] == [n for n in m.catalogue.names if n in sold]
    for rect, j, scenario in view.bars:
        model = m if scenario == "A" else m.twin
        assert rect.get_width() == pytest.approx(model.sales_by_chip[m.catalogue.names[j]] / 1e3)
    assert {s for _, _, s in view.bars} == {"A", "B"}
    assert all(rect.get_width() == 0 for rect, j, s in view.bars
               if s == "B" and m.catalogue.maker_names[m.catalogue.maker_of_chip[j]] in ("Nvidia", "AMD"))
    caption = view_base.view_caption(m, ui_views.ChipSalesView)
    assert caption.startswith("A: ") and " | B: " in caption and "thousand units in 2026Q2" in caption


def test_series_views_are_a_table_of_reporter_names(monkeypatch):
    """A new time-series view is one SERIES_VIEWS line of reporter names; unknown reporters leave it out."""
    assert {spec.cls_name for spec in series.SERIES_VIEWS} <= {cls.__name__ for cls in ui_views.VIEW_CLASSES}
    extra = series.SeriesSpec("BudgetProbeView", "probe", (("unmet_demand_h100e", "#000000", 0, "o"),))
    missing = series.SeriesSpec("MissingView", "not yet", (("no_such_reporter", "#000000", 0, "o"),))
    monkeypatch.setattr(series, "SERIES_VIEWS", series.SERIES_VIEWS + (extra, missing))
    views = series.series_views()
    assert "BudgetProbeView" in views and "MissingView" not in views
    m = ui_model.make_model()
    m.step()
    assert view_base.view_png(m, views["BudgetProbeView"]).startswith(PNG_MAGIC)
    assert "unmet" in view_base.view_caption(m, views["BudgetProbeView"]).lower()


def test_views_render_pngs_and_record_history():
    m = ui_model.make_model("Open market")
    for cls in ui_views.VIEW_CLASSES:  # before any step: placeholders
        assert view_base.view_png(m, cls).startswith(PNG_MAGIC)
    for _ in range(5):
        m.step()
    assert len(m.installed_by_maker_history) == 5
    for cls in ui_views.VIEW_CLASSES:
        png = view_base.view_png(m, cls)
        assert png.startswith(PNG_MAGIC) and 2_000 < len(png) < 400_000
        assert view_base.view_png(m, cls) == png  # same state, same pixels (background cache is exact)
    for cls in ui_views.VIEW_CLASSES:
        assert view_base.view_for(m, cls).update().axes


def test_network_layout_is_fixed_cached_and_capped():
    m = ui_model.make_model()
    pos, drawn, (rows, cols) = ui_views.network_layout(m)
    assert pos.shape == (m.p.n_developers, 2) and np_isfinite(pos)
    assert len(rows) <= ui_views.MAX_DRAWN_EDGES and len(drawn) <= ui_views.MAX_DRAWN_NODES
    pos2, _, (rows2, _) = ui_views.network_layout(m)
    assert (pos == pos2).all() and (rows == rows2).all()  # deterministic
    view = view_base.view_for(m, ui_views.NetworkView)
    assert view_base.view_for(m, ui_views.NetworkView) is view  # cached per model
    share = ui_views.developer_us_share(m)
    assert ((share >= 0) & (share <= 1)).all()


def np_isfinite(a) -> bool:
    import numpy as np

    return bool(np.isfinite(a).all())


def test_mesa_renders_the_controls_with_ours():
    """Mesa's ModelCreator draws the controls with its module's UserInputs, which the app replaces by
    ControlInputs (sliders with their values); if Mesa stops calling it by that name, this says so."""
    from mesa.visualization import solara_viz

    from model.ui.components import ControlInputs

    assert solara_viz.UserInputs is ControlInputs
    assert "UserInputs(" in inspect.getsource(solara_viz.ModelCreator)


def test_slider_values_say_their_unit():
    hbm = levers.LEVERS_BY_NAME["domestic_hbm_2026"]
    assert hbm.control_label == "markets · domestic HBM output 2026"
    assert hbm.value_text(1_000_000.0) == "1,000,000 HBM stacks/year"
    assert levers.LEVERS_BY_NAME["us_volume_cap_share"].value_text(0.5) == "0.50 share of US units"
    assert levers.LEVERS_BY_NAME["us_reversal_prob"].value_text(0.05) == "0.050 per quarter"
    assert levers.LEVERS_BY_NAME["rng"].value_text(42) == "42"


def test_view_text_is_at_least_11_px():
    """Every piece of text in every view (single and compare mode) is at least FONT_PT, which at FIG_DPI
    is >= 11 px in the PNG; the page shows a view at least as wide as the PNG (the grid's column is
    >= the figure's width: app.CSS), so >= 11 px on screen (tests/test_ui_browser.py measures it)."""
    from matplotlib.text import Text

    assert view_base.font_px(view_base.FONT_PT) >= 11
    assert view_base.FIG_SIZE[0] * view_base.FIG_DPI <= 440 and "minmax(440px" in app.CSS
    for m in (ui_model.make_model(), ui_model.make_model(compare="No exports")):
        m.step()
        for cls in ui_views.VIEW_CLASSES:
            view = view_base.view_for(m, cls)
            view_base.view_png(m, cls)
            texts = [t for t in view.fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
            assert texts, cls.__name__
            small = [(t.get_text(), t.get_fontsize()) for t in texts if t.get_fontsize() < view_base.FONT_PT]
            assert not small, f"{cls.__name__}: text under {view_base.FONT_PT} pt: {small[:5]}"


def test_about_text_links_odd_and_has_no_cdn_markdown():
    html = ui_text.about_html()
    assert 'href="docs/ODD.md"' in html
    assert "Levers" in html and "Views" in html and "Reset" in html


def _render_page():
    import ipyvuetify as v

    box, rc = solara.render(solara.AppLayout(children=[app.Page()]), handle_error=False)

    def status():
        return rc.find(v.Html, class_="chipstack-status").widget.children[0]

    def click(label):
        rc.find(v.Btn, children=[label]).widget.click()

    def choose(label, value):
        rc.find(v.Select, label=label).widget.v_model = value

    return rc, status, click, choose


@pytest.mark.slow  # over ~4 s (make test-fast leaves it to make test)
def test_page_renders_steps_and_resets_in_process():
    import ipyvuetify as v

    rc, status, click, choose = _render_page()
    assert "Step: 0" in status()
    # every slider of the levers shows its value and unit (not only while dragged)
    shown = [w.children[0] for w in rc.find(v.Html, class_="chipstack-slider-value").widgets]
    sliders = [n for n, spec in levers.CONTROLS.items() if spec["type"] in ("SliderInt", "SliderFloat")]
    values = levers.preset_values(levers.DEFAULT_PRESET)
    for name in sliders:
        assert levers.LEVERS_BY_NAME[name].value_text(values[name]) in shown, name
    assert "1,000,000 HBM stacks/year" in shown  # domestic_hbm_2026, the README's most important lever
    assert len(rc.find(v.Btn, children=["Reset"]).widgets) == 1
    for label in ("Preset", "US · export regime", "Beijing · policy on US chips"):
        rc.find(v.Select, label=label).assert_single()
    click("Step")
    click("Step")
    assert "Step: 2" in status() and "Quarter: end of 2026Q2" in status()
    click("Reset")
    assert "Step: 0" in status() and "Quarter: end of 2025Q4" in status()


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_preset_then_reset_builds_the_preset_model():
    """Choosing a preset sets Mesa's controls; Reset then builds the model with them."""
    import ipyvuetify as v

    rc, status, click, choose = _render_page()
    for preset, regime, stance in [("No exports", "ban", "decides"), ("Open market", "open", "open"),
                                   ("Beijing blocks", "threshold", "ban"), ("H20 only", "h20", "decides")]:
        choose("Preset", preset)
        assert rc.find(v.Select, label="US · export regime").widget.v_model == regime
        click("Reset")
        assert f"US regime: {regime}" in status() and f"Beijing: {stance}" in status(), preset
    # a control changed by hand after a preset is used too
    choose("US · export regime", "ban")
    click("Reset")
    click("Step")
    assert "US regime: ban" in status() and "Step: 1" in status()


# --- server ----------------------------------------------------------------------------------
def test_server_command_and_url():
    cmd = server_command("127.0.0.1", 8765)
    assert cmd[:4] == [sys.executable, "-m", "solara", "run"] and "model.ui.app" in cmd
    assert {"--production", "--no-open", "--host", "--port"} <= set(cmd)
    assert url("127.0.0.1", 8765) == "http://127.0.0.1:8765/"
    assert url("::1", 80) == "http://[::1]:80/"


def test_port_in_use_is_a_usage_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        with pytest.raises(UsageError, match=f"port {port} on 127.0.0.1 is in use"):
            check_port_free("127.0.0.1", port)
        with pytest.raises(UsageError, match="is in use"):
            cmd_ui(argparse.Namespace(host="127.0.0.1", port=port))


def test_port_in_use_from_the_command_line():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        r = subprocess.run([sys.executable, "-m", "model.cli", "ui", "--port", str(port)], cwd=ROOT,
                           capture_output=True, text=True, timeout=60)
    assert r.returncode == 2
    assert r.stderr.strip() == f"chipstack: error: port {port} on 127.0.0.1 is in use"
    assert r.stdout == ""


def test_free_port_passes_the_check():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    check_port_free("127.0.0.1", port)


def test_bad_host_is_a_usage_error():
    with pytest.raises(UsageError, match="--host"):
        check_port_free("no-such-host.invalid", 8765)


# --- compare mode and sweep runs in the page (in-process) --------------------------------------
@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_page_compare_mode_in_process():
    import ipyvuetify as v

    rc, status, click, choose = _render_page()
    click("Step")
    assert "A − B" not in status()
    rc.find(v.Checkbox, label="Compare A with B").widget.v_model = True
    assert "Step: 0" in status() and "US regime: A threshold / B ban" in status()  # restarted, B = No exports
    click("Step")
    click("Step")
    assert "Step: 2" in status() and "Quarter: end of 2026Q2" in status()
    assert "A − B" in status() and "China's installed AI compute (million H100e, FLOP-based): A " in status()
    choose("B preset", "Open market")
    assert "Step: 0" in status() and "/ B open" in status() and "Beijing: A decides" in status()
    click("Reset")  # Reset keeps compare mode
    click("Step")
    assert "A − B" in status() and "/ B open" in status()
    rc.find(v.Checkbox, label="Compare A with B").widget.v_model = False
    click("Step")
    assert "A − B" not in status()


REFERENCE = REFERENCE_SWEEP
RUN_ID = "00035e941dd7efa1"


def test_replayed_sweep_run_matches_its_saved_rows():
    from model.ui.sweep_run import open_run, replay_verdict

    run = open_run(REFERENCE, RUN_ID)
    m = ui_model.replay_model(run)
    assert m.p.n_developers == 300 and m._seed == run.entry.seed and m.p.export_regime == "h20"
    ok, text = replay_verdict(m, run)
    assert ok is None and "press Step" in text
    m.step()
    from model import MODEL_REPORTERS

    saved = [name for name in MODEL_REPORTERS if name in run.saved_rows().columns]
    newer = len(MODEL_REPORTERS) - len(saved)  # reporters added after the reference sweep was made
    assert replay_verdict(m, run) == (
        True, f"✓ matches saved run, 1 quarter (to end of 2026Q1; {len(saved)} reporters "
              "bit for bit" + (f"; {newer} newer reporters not in the saved file)" if newer else ")"))
    while m.steps < run.steps:
        m.step()
    ok, text = replay_verdict(m, run)
    assert ok is True and text.startswith("✓ matches saved run, 20 quarters (to end of 2030Q4")
    # SolaraViz's Reset with the replay's controls and fixed values rebuilds the same run
    values, fixed = ui_model.replay_scenario(run)
    params = ui_model.model_params(values, fixed)
    assert params["rng"] == run.entry.seed and params["n_developers"]["value"] == 300  # seed: fixed
    kwargs = {k: (p["value"] if isinstance(p, dict) else p) for k, p in params.items()}
    again = type(m)(**kwargs)
    again.step()
    assert replay_verdict(again, run)[0] is True
    # another seed is not the saved run
    other = type(m)(**{**kwargs, "rng": 1})
    other.step()
    assert replay_verdict(other, run)[0] is False


def test_replay_reports_the_first_differing_quarter(tmp_path):
    """A saved row altered at step 3 is reported as the end of 2026Q4."""
    import shutil

    import pandas as pd

    from model.ui.sweep_run import open_run, replay_verdict

    shutil.copy(REFERENCE / "manifest.json", tmp_path / "manifest.json")
    df = pd.read_parquet(REFERENCE / "runs.parquet")
    row = (df["run_id"] == RUN_ID) & (df["step"] == 3)
    assert row.sum() == 1
    df.loc[row, "china_compute_h100e"] = df.loc[row, "china_compute_h100e"] * (1 + 1e-15) + 1e-9
    df.to_parquet(tmp_path / "runs.parquet")
    run = open_run(tmp_path, RUN_ID)
    m = ui_model.replay_model(run)
    for _ in range(3):
        m.step()
    assert replay_verdict(m, run)[0] is True
    m.step()
    ok, text = replay_verdict(m, run)
    assert ok is False and "end of 2026Q4 (step 3)" in text and "China's installed AI compute" in text


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_page_opens_a_sweep_run_with_the_picker_in_process():
    import ipyvuetify as v

    rc, status, click, choose = _render_page()
    folder = rc.find(v.TextField, label="Sweep folder").widget
    assert folder.v_model == "outputs/export_regimes"  # relative to the repository: no one's home folder
    choose("Design point", "export_regime=h20 · china_import_policy=open · huawei_capacity_2026=3000000")
    choose("Replication · run_id", f"1 · {RUN_ID}")
    click("Open run")
    replay = lambda: rc.find(v.Html, class_="chipstack-replay").widget.children[0]  # noqa: E731
    assert "Step: 0" in status() and "US regime: h20" in status()
    click("Step")
    assert replay().startswith("✓ matches saved run, 1 quarter")
    click("Replay all 20 quarters")
    assert "Step: 20" in status() and replay().startswith("✓ matches saved run, 20 quarters")
    click("Reset")  # the controls hold the run's values: Reset replays it again
    click("Step")
    assert replay().startswith("✓ matches saved run, 1 quarter")
    click("Close run")
    assert not rc.find(v.Html, class_="chipstack-replay").widgets


@pytest.mark.slow  # over ~2.5 s: make test runs it, make test-fast does not
def test_page_opens_the_run_given_on_the_command_line(monkeypatch):
    import ipyvuetify as v

    monkeypatch.setenv(app.RUN_ENV, f"{REFERENCE}\n{RUN_ID}")
    rc, status, click, choose = _render_page()
    assert "US regime: h20" in status() and "seed=2167478274798226360" in rc.find(
        v.Html, class_="chipstack-run-parameters").widget.children[0]
    # the sidebar shows the replayed run's scenario everywhere: no preset, the run's design point
    assert rc.find(v.Select, label="Preset").widget.v_model is None
    note = rc.find(v.Html, class_="chipstack-preset-run").widget.children[0]
    assert f"run {RUN_ID} of sweep export_regimes" in note and "export_regime=h20" in note, note
    assert rc.find(v.Select, label="Design point").widget.v_model == (
        "export_regime=h20 · china_import_policy=open · huawei_capacity_2026=3000000")
    assert rc.find(v.Select, label="Replication · run_id").widget.v_model == f"1 · {RUN_ID}"
    assert rc.find(v.TextField, label="Sweep folder").widget.v_model == "outputs/export_regimes"
    assert rc.find(v.Select, label="US · export regime").widget.v_model == "h20"
    click("Step")
    assert rc.find(v.Html, class_="chipstack-replay").widget.children[0].startswith(
        "✓ matches saved run, 1 quarter")


@pytest.mark.parametrize("args, message", [
    (["outputs/no_such_sweep", RUN_ID], "chipstack: error: --run outputs/no_such_sweep: no such folder"),
    (["outputs/export_regimes", "nope"],
     "chipstack: error: --run: no run 'nope' in outputs/export_regimes/manifest.json"),
    (["tests", "x"], "chipstack: error: tests/manifest.json: no such manifest"),
])
def test_bad_run_is_one_error_line_and_exit_2(args, message):
    r = subprocess.run([sys.executable, "-m", "model.cli", "ui", "--port", "1", "--run", *args], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith(message), r.stderr


def test_run_env_names_agree():
    from model.ui import serve

    assert serve.RUN_ENV == app.RUN_ENV


def test_a_run_saved_before_a_parameter_existed_replays_with_its_default(tmp_path):
    """A manifest that does not name a parameter (made before it was added) is the model with that
    parameter at its default: the run opens, shows it in the controls, and replays its saved rows."""
    import json
    import shutil

    from model.core.parameters import DEFAULTS
    from model.ui.sweep_run import open_run, replay_verdict

    manifest = json.loads((REFERENCE / "manifest.json").read_text())
    del manifest["fixed"]["us_roadmap_perf_scale"]
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    shutil.copy(REFERENCE / "runs.parquet", tmp_path / "runs.parquet")
    run = open_run(tmp_path, RUN_ID)
    assert run.kwargs["us_roadmap_perf_scale"] == DEFAULTS["us_roadmap_perf_scale"]
    values, fixed = ui_model.replay_scenario(run)
    assert ui_model.model_params(values, fixed)["us_roadmap_perf_scale"]["value"] == 1.0
    m = ui_model.replay_model(run)
    for _ in range(2):
        m.step()
    assert replay_verdict(m, run)[0] is True


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["fixed"].update(n_developers=1_000_000),
     "n_developers = 1,000,000; allowed in the UI: at most 10,000"),
    (lambda m: m["fixed"].update(n_developers=0), "parameter 'n_developers': invalid value 0"),
    (lambda m: m.update(runs=[]), "no runs in the manifest"),
])
def test_a_sweep_run_the_ui_cannot_replay_is_one_error_line_before_serving(tmp_path, edit, message):
    """`ui --run` and the run picker check the manifest's values and the UI's limits first (a 1M-developer
    run used to be built, ~700 MB; n_developers = 0 or no runs served a page that was a traceback)."""
    import json
    import shutil

    manifest = json.loads((REFERENCE / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest)
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    shutil.copy(REFERENCE / "runs.parquet", tmp_path / "runs.parquet")
    args = [sys.executable, "-m", "model.cli", "ui", "--port", "1", "--run", str(tmp_path), RUN_ID]
    r = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("chipstack: error:"), r.stderr
    assert message in r.stderr, r.stderr
    from model.ui.components import _try_open_sweep

    sweep, error = _try_open_sweep(str(tmp_path))  # the picker shows the same reason instead of a page
    assert sweep is None and message in error


def test_a_model_stops_stepping_once_its_page_is_gone():
    """Mesa's ▶ steps until the model stops running: once ``unwatched`` says the tab is gone, the next
    step does nothing but stop the model."""
    gone = [False]
    cls = type("Watched", (ui_model.ChipMarketModelUI,), {"unwatched": staticmethod(lambda: gone[0])})
    m = cls(n_developers=50, rng=3)
    m.step()
    m.step()
    assert m.running
    installed = m.developers.installed.copy()
    gone[0] = True
    m.step()  # (Mesa's wrapper still counts the call in m.steps)
    assert not m.running
    assert len(m.installed_by_maker_history) == 2 and (m.developers.installed == installed).all()
    assert ui_model.ChipMarketModelUI.unwatched is watch.page_gone  # what the app installs


def test_page_gone_follows_the_tab_and_the_reload_window():
    """No Solara page: never gone. A connected tab: not gone. Disconnected: gone only after UNWATCHED_S
    (a reload within it keeps the page), and a reconnect restarts that clock. A closed page: gone."""
    import dataclasses
    import threading

    from solara.server import kernel_context as kc

    @dataclasses.dataclass  # the parts of Solara's VirtualKernelContext (a dataclass: unhashable) it reads
    class Context:
        id: str = "kernel-1"
        closed_event: threading.Event = dataclasses.field(default_factory=threading.Event)
        lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
        page_status: dict = dataclasses.field(default_factory=lambda: {"p1": kc.PageStatus.CONNECTED})

    assert watch.page_gone() is False  # this thread shows no page
    ctx = Context()
    me = threading.current_thread()
    kc.set_context_for_thread(ctx, me)
    try:
        w = watch.UNWATCHED_S
        assert watch.page_gone(now=0.0) is False
        ctx.page_status["p1"] = kc.PageStatus.DISCONNECTED
        assert watch.page_gone(now=100.0) is False  # the clock starts now
        assert watch.page_gone(now=100.0 + w - 0.5) is False
        assert watch.page_gone(now=100.0 + w) is True
        ctx.page_status["p1"] = kc.PageStatus.CONNECTED  # reloaded in time
        assert watch.page_gone(now=200.0) is False
        ctx.page_status["p1"] = kc.PageStatus.DISCONNECTED
        assert watch.page_gone(now=200.0 + w - 0.5) is False  # a new clock, from 200 + w - 0.5
        assert watch.page_gone(now=200.0 + 2 * w - 0.5) is True
        ctx.page_status["p1"] = kc.PageStatus.CONNECTED
        ctx.closed_event.set()  # culled or closed: gone whatever the tabs say
        assert watch.page_gone(now=300.0) is True
    finally:
        kc.clear_context_for_thread(me)


def test_readme_says_what_the_page_shows():
    """The README's UI summary (views, makers, controls) is counted from the code, not typed: it is
    ``text.ui_summary()``, written by ``python -m model.ui.screenshots --readme README.md``."""
    from model.core.catalogue import MAKERS
    from model.ui.screenshots import SUMMARY_END, SUMMARY_START

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split(SUMMARY_START, 1)[1].split(SUMMARY_END, 1)[0].strip()
    assert block == ui_text.ui_summary(), (
        "README.md's UI summary is stale: run '.venv/bin/python -m model.ui.screenshots --out docs "
        "--readme README.md'")
    assert f"{len(ui_views.VIEW_CLASSES)} views" in block and f"{len(MAKERS)} chipmakers" in block
    for cls in ui_views.VIEW_CLASSES:
        assert cls.title in block and cls.title in ui_text.about_html()
    for maker in MAKERS:
        assert maker.name in block and maker.name in ui_text.about_html()
    # the screenshots it shows are the script's: no developer's absolute path in the README either
    assert "docs/ui.png" in readme and "docs/ui_compare.png" in readme and str(ROOT) not in readme
