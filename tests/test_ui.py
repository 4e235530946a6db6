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
from pathlib import Path

import pytest

solara = pytest.importorskip("solara", reason="the UI needs the 'ui' extra")

from model import ChipMarketModel  # noqa: E402
from model.core.parameters import PARAMS_BY_NAME  # noqa: E402
from model.sweep.errors import UsageError  # noqa: E402
from model.ui import app  # noqa: E402
from model.ui.serve import APP_MODULE, check_port_free, cmd_ui, server_command, url  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def test_page_module_imports_and_exposes_page():
    assert callable(app.page) and app.page is app.Page
    assert app.__doc__ and "SolaraViz" in app.__doc__
    assert APP_MODULE == "model.ui.app"


def test_ui_model_keeps_explicit_keyword_signature():
    """SolaraViz's Reset rebuilds the model from keywords: no **kwargs, no scenario."""
    params = inspect.signature(app.ChipMarketModelUI.__init__).parameters
    assert not any(p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) for p in params.values())
    assert "scenario" not in params
    for name in app.CONTROLS:
        assert name in params, name


def test_controls_cover_every_lever_and_key_parameter():
    for name in ("export_regime", "export_lag_months", "approved_customer_share", "us_revenue_share",
                 "china_import_policy", "domestic_subsidy", "huawei_capacity_2026", "n_developers", "rng"):
        assert name in app.CONTROLS, name
    assert app.CONTROLS["export_regime"]["type"] == "Select"
    assert app.CONTROLS["china_import_policy"]["type"] == "Select"
    for name, spec in app.CONTROLS.items():
        if name == "rng" or spec["type"] not in ("SliderInt", "SliderFloat"):
            continue
        p = PARAMS_BY_NAME[name]
        assert p.low is None or spec["min"] >= p.low, name
        assert p.high is None or spec["max"] <= p.high, name
        assert spec["min"] <= p.default <= spec["max"], f"{name}: default outside the slider"


@pytest.mark.parametrize("preset", list(app.PRESETS))
def test_presets_map_to_valid_parameters(preset):
    values = app.preset_values(preset)
    assert set(values) == set(app.CONTROLS)
    model = ChipMarketModel(**values)  # valid for the model itself
    assert model.export_regime == values["export_regime"]
    params = app.model_params(values)
    for name, spec in params.items():
        assert spec["value"] == values[name] or float(spec["value"]) == float(values[name])
        if spec["type"] == "Select":
            assert spec["value"] in spec["values"]
        if spec["type"] in ("SliderInt", "SliderFloat"):
            assert spec["min"] <= spec["value"] <= spec["max"], (preset, name)


def test_presets_say_what_the_brief_says():
    assert app.preset_values("December 2025 decision (as enacted)")["export_regime"] == "threshold"
    assert app.preset_values("December 2025 decision (as enacted)")["export_tpp_cap"] == 21_000
    assert app.preset_values("December 2025 decision (as enacted)")["china_import_policy"] == "restrict"
    assert app.preset_values("Rolling 18-month lag (proposal)")["export_regime"] == "lagged"
    assert app.preset_values("Rolling 18-month lag (proposal)")["export_lag_months"] == 18
    assert app.preset_values("No exports")["export_regime"] == "ban"
    assert app.preset_values("H20 only")["export_regime"] == "h20"
    assert app.preset_values("Open market")["export_regime"] == "open"
    assert app.preset_values("Open market")["china_import_policy"] == "open"
    assert app.preset_values("Beijing blocks")["china_import_policy"] == "ban"
    with pytest.raises(ValueError, match="unknown preset"):
        app.preset_values("Nope")


def test_status_text_before_and_after_steps():
    m = app.make_model("No exports")
    s = app.status_text(m)
    assert "Quarter: 2026Q1 (start" in s and "Step: 0" in s and "US regime: ban" in s
    for _ in range(3):
        m.step()
    s = app.status_text(m)
    assert "Quarter: 2026Q3" in s and "Step: 3" in s and "Beijing: restrict" in s
    assert "US share of new purchases: " in s
    assert m.nvidia_china_revenue_usd == 0.0  # under a ban only smuggled US chips reach China
    assert "seed=42" in app.run_parameters_text(m)


def test_views_render_pngs_and_record_history():
    m = app.make_model("Open market")
    for cls in app.VIEW_CLASSES:  # before any step: placeholders
        assert app.view_png(m, cls).startswith(PNG_MAGIC)
    for _ in range(5):
        m.step()
    assert len(m.installed_by_maker_history) == 5
    for cls in app.VIEW_CLASSES:
        png = app.view_png(m, cls)
        assert png.startswith(PNG_MAGIC) and 2_000 < len(png) < 400_000
        assert app.view_png(m, cls) == png  # same state, same pixels (background cache is exact)
    for fig_fn in app.VIEWS:
        assert fig_fn(m).axes


def test_network_layout_is_fixed_cached_and_capped():
    m = app.make_model()
    pos, drawn, (rows, cols) = app.network_layout(m)
    assert pos.shape == (m.n_developers, 2) and np_isfinite(pos)
    assert len(rows) <= app.MAX_DRAWN_EDGES and len(drawn) <= app.MAX_DRAWN_NODES
    pos2, _, (rows2, _) = app.network_layout(m)
    assert (pos == pos2).all() and (rows == rows2).all()  # deterministic
    view = app.view_for(m, app.NetworkView)
    assert app.view_for(m, app.NetworkView) is view  # cached per model
    share = app.developer_us_share(m)
    assert ((share >= 0) & (share <= 1)).all()


def np_isfinite(a) -> bool:
    import numpy as np

    return bool(np.isfinite(a).all())


def test_about_text_links_odd_and_has_no_cdn_markdown():
    html = app.about_html()
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


def test_page_renders_steps_and_resets_in_process():
    import ipyvuetify as v

    rc, status, click, choose = _render_page()
    assert "Step: 0" in status()
    assert len(rc.find(v.Btn, children=["Reset"]).widgets) == 1
    for label in ("Preset", "US export regime", "Beijing's stance (china_import_policy)"):
        rc.find(v.Select, label=label).assert_single()
    click("Step")
    click("Step")
    assert "Step: 2" in status() and "Quarter: 2026Q2" in status()
    click("Reset")
    assert "Step: 0" in status() and "Quarter: 2026Q1" in status()


def test_preset_then_reset_builds_the_preset_model():
    """Choosing a preset sets Mesa's controls; Reset then builds the model with them."""
    import ipyvuetify as v

    rc, status, click, choose = _render_page()
    for preset, regime, stance in [("No exports", "ban", "restrict"), ("Open market", "open", "open"),
                                   ("Beijing blocks", "threshold", "ban"), ("H20 only", "h20", "restrict")]:
        choose("Preset", preset)
        assert rc.find(v.Select, label="US export regime").widget.v_model == regime
        click("Reset")
        assert f"US regime: {regime}" in status() and f"Beijing: {stance}" in status(), preset
    # a control changed by hand after a preset is used too
    choose("US export regime", "ban")
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
