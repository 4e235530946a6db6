"""The browser UI in a real browser: ``chipstack ui`` driven by Playwright and Debian's Chromium.

Starts ``chipstack ui --port <free port>`` as a subprocess in its own process group, waits for
HTTP 200, and drives the page with Playwright's Python API and ``/usr/bin/chromium`` (never
``playwright install``). Every request that does not go to the UI server is blocked and recorded,
so the test also proves that the page renders completely with no internet. Checks the controls
and views, the "No exports" and "Open market" presets through Reset and Step, that every Step moves
the quarter label by exactly one and Reset returns to the initial state, Play and pause; compare
mode (two series, A and B, in the US-share view; A, B and A − B in the status line); a run of the
shipped sweep outputs/export_regimes/ opened with ``chipstack ui --run`` and replayed to the tick
"matches saved run". Measures the median time from a Step click to the new quarter label (and to
all the views redrawn) in single and compare mode (printed, never asserted; run with ``-s -p
no:xdist`` to see it). At 1400 x 1000 the page is readable: every slider shows its value, no control
is narrower than MIN_CONTROL_PX, a view is wholly on screen and its text is >= 11 px on screen;
``python -m model.ui.screenshots`` (the README's screenshots) runs into a temporary folder.
The server is stopped by killing its process group in the fixture's teardown.

Skipped, with the reason, when /usr/bin/chromium or Playwright is missing
(``apt-get install -y chromium``).
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import time
from pathlib import Path

import pytest

from model.core.paths import REFERENCE_SWEEP
from model.core.paths import REPO_ROOT as ROOT

CHROMIUM = Path("/usr/bin/chromium")
#: A run of the shipped reference sweep (export_regime=h20, china_import_policy=open, Huawei 3M).
SWEEP = REFERENCE_SWEEP
RUN_ID = "00035e941dd7efa1"
#: The narrowest a control of the sidebar may be (before: sliders squeezed to a dot by long labels).
MIN_CONTROL_PX = 120
#: The smallest text of a view on screen, in CSS pixels.
MIN_VIEW_FONT_PX = 11

pytestmark = [
    pytest.mark.browser,
    # one xdist worker runs the browser tests and the other whole-machine tests one after another
    # (`make test` uses --dist loadgroup), so a page is never stepped while a 2-worker sweep runs beside it
    pytest.mark.xdist_group("machine"),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)"),
]
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="needs Playwright for Python (pip install playwright)")

from model.ui import screenshots  # noqa: E402
from model.ui.levers import CONTROLS, LEVERS_BY_NAME, preset_values  # noqa: E402
from model.ui.screenshots import CHROMIUM_ARGS, MAX_BYTES, VIEWPORT  # noqa: E402
from model.ui.view_base import FONT_PT, font_px  # noqa: E402
from model.ui.views import VIEW_CLASSES  # noqa: E402

CONTROL_LABELS = [spec["label"] for spec in CONTROLS.values()]
N_VIEWS = len(VIEW_CLASSES)


def _serve(*extra: str, env: dict[str, str] | None = None, logs: list | None = None):
    """``screenshots.serve`` as a generator for the fixtures: yields the URL; a server that does not come up
    fails the test."""
    try:
        with screenshots.serve(*extra, env=env, logs=logs) as url:
            yield url
    except RuntimeError as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def ui_url():
    """``chipstack ui`` on a free port."""
    yield from _serve()


@pytest.fixture(scope="module")
def run_url():
    """``chipstack ui --run outputs/export_regimes RUN_ID`` on a free port."""
    yield from _serve("--run", str(SWEEP.relative_to(ROOT)), RUN_ID)


def _open_page(url: str):
    """A Chromium page on ``url`` with every non-local request blocked and recorded."""
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            record = {"external": [], "failed": [], "page_errors": []}

            def route(r):
                target = r.request.url
                if target.startswith(url) or target.startswith(("data:", "blob:")):
                    r.continue_()
                else:
                    record["external"].append(target)
                    r.abort()

            page.route("**/*", route)
            page.on("response",
                    lambda r: record["failed"].append((r.url, r.status)) if r.status >= 400 else None)
            page.on("requestfailed", lambda r: record["failed"].append((r.url, r.failure)))
            page.on("pageerror", lambda e: record["page_errors"].append(str(e)))
            page.goto(url)
            page.get_by_role("button", name="Step", exact=True).wait_for(timeout=60_000)
            page.locator("img.widget-image").nth(4).wait_for(timeout=30_000)
            yield page, record
        finally:
            browser.close()


def start_play(page) -> None:
    """Click ▶ until the pause button shows that play started (a click that lands while the last step's
    redraw is still in flight can be dropped: seen once in a full suite on 2 busy cores)."""
    for attempt in range(3):
        page.get_by_role("button", name="▶", exact=True).click()
        try:
            page.get_by_role("button", name="❚❚", exact=True).wait_for(timeout=10_000)
            return
        except sync_api.TimeoutError:
            assert attempt < 2, "▶ did not start play in three clicks"


@pytest.fixture()
def browser_page(ui_url):
    yield from _open_page(ui_url)


@pytest.fixture()
def run_page(run_url):
    yield from _open_page(run_url)


def assert_offline_and_clean(record) -> None:
    """Nothing outside the UI server was requested, nothing failed to load, no JavaScript error."""
    assert record["external"] == [], f"requests to the internet: {record['external']}"
    assert record["failed"] == [], f"failed to load: {record['failed']}"
    assert record["page_errors"] == [], f"JavaScript errors: {record['page_errors']}"


# ---------------------------------------------------------------------------------------------
def status(page) -> str:
    return page.locator(".chipstack-status").inner_text()


def us_share_legal(page) -> float:
    m = re.search(r"US share via legal sales since the start \(0-1, FLOP-based\): ([0-9.]+)", status(page))
    assert m, f"no legal-channel US share in the status line: {status(page)!r}"
    return float(m.group(1))


def view_sources(page) -> list[str]:
    return page.locator("img.widget-image").evaluate_all("imgs => imgs.map(i => i.src)")


def settled_views(page, t0: float, timeout: float, what: str, changed_from: list[str] | None = None) -> float:
    """Wait until all N_VIEWS views are in the page and loaded, differ from ``changed_from`` (if given),
    and have not changed for half a second; return when they last changed (``time.perf_counter()``).
    A view whose pixels happen not to change is not waited for; a view re-mounted while the page
    settles (after it opens or a preset re-mounts the views) is."""
    last, stable_since = None, None
    while True:
        now = time.perf_counter()
        srcs = view_sources(page)
        loaded = page.locator("img.widget-image").evaluate_all(
            "imgs => imgs.every(i => i.complete && i.naturalWidth > 0)")
        if srcs != last:
            last, stable_since = srcs, now
        elif (loaded and len(srcs) == N_VIEWS and now - stable_since >= 0.5
              and (changed_from is None or srcs != changed_from)):
            return stable_since
        assert now < t0 + timeout, (
            f"views not settled within {timeout:.0f} s {what}: {status(page)!r}; all loaded: {loaded}; "
            f"views {len(srcs)} of {N_VIEWS}; last change {now - stable_since:.1f} s ago"
            + ("" if changed_from is None else
               f"; changed: {[a != b for a, b in zip(srcs, changed_from)]} (before: {len(changed_from)})"))
        page.wait_for_timeout(50)


def wait_views(page) -> None:
    """Wait until the views are in the page, loaded and settled (after the page opens or a preset)."""
    settled_views(page, time.perf_counter(), 60.0, "after the page opened")


QUARTER = re.compile(r"Quarter: end of (\d{4})Q([1-4])")


def quarter_index(page) -> int:
    """The status line's quarter ("end of 2026Q1") as year * 4 + q - 1."""
    m = QUARTER.search(status(page))
    assert m, f"no 'Quarter: end of YYYYQn' in the status line: {status(page)!r}"
    return int(m.group(1)) * 4 + int(m.group(2)) - 1


def step(page, expected_step: int) -> tuple[float, float]:
    """Click Step; return (seconds until the status line shows the new step, seconds until the
    status line and all the views have been redrawn)."""
    before = view_sources(page)
    t0 = time.perf_counter()
    page.get_by_role("button", name="Step", exact=True).click()
    page.wait_for_function(
        """n => { const s = document.querySelector('.chipstack-status');
                  return s && s.innerText.includes('Step: ' + n + ' '); }""",
        arg=expected_step, timeout=30_000, polling=5)
    t_label = time.perf_counter() - t0
    # then the views: redrawn since the click and settled (eight views are redrawn server-side, so
    # allow for a loaded machine: times are printed, not asserted)
    settled = settled_views(page, t0, 120.0, f"after Step {expected_step}", changed_from=before)
    return t_label, settled - t0


def time_steps(page, first: int, n: int, mode: str) -> float:
    """Click Step ``n`` times from step ``first - 1``; print and return the median seconds to the label."""
    times = [step(page, k) for k in range(first, first + n)]
    label = [t for t, _ in times]
    views = [t for _, t in times]
    print(f"\nbrowser, {mode} mode (1000 developers): seconds from Step to new quarter label: median "
          f"{statistics.median(label):.3f} (min {min(label):.3f}, max {max(label):.3f}); "
          f"to label and {N_VIEWS} views redrawn: median {statistics.median(views):.3f}; all "
          + ", ".join(f"{t:.2f}" for t in label))
    return statistics.median(label)


def reset(page, *expect: str) -> None:
    """Click Reset; wait until the status line shows step 0 and every string in ``expect``."""
    page.get_by_role("button", name="Reset", exact=True).click()
    page.wait_for_function(
        """parts => {
            const s = document.querySelector('.chipstack-status');
            return s && parts.every(p => s.innerText.includes(p));
        }""", arg=["Step: 0 ", *expect], timeout=30_000)
    wait_views(page)
    page.wait_for_timeout(200)  # let the views' post-Reset redraw land before the next snapshot


def choose(page, label: str, option: str) -> None:
    """Pick ``option`` in the Vuetify select labelled ``label``."""
    select = page.locator(".v-select").filter(
        has=page.locator("label", has_text=re.compile(f"^{re.escape(label)}$")))
    select.locator(".v-input__slot").click()
    page.locator(".menuable__content__active").get_by_role("option", name=option, exact=True).click()
    expect_select(page, label, option)
    wait_views(page)


def expect_select(page, label: str, value: str) -> None:
    """Wait (up to 15 s) until the select labelled ``label`` shows ``value``."""
    select = page.locator(".v-select").filter(
        has=page.locator("label", has_text=re.compile(f"^{re.escape(label)}$")))
    sync_api.expect(select.locator(".v-select__selection").first).to_have_text(value, timeout=15_000)


# ---------------------------------------------------------------------------------------------
def test_ui_end_to_end(browser_page):
    page, record = browser_page
    t_start = time.perf_counter()

    # controls, presets, text and views are there
    for label in CONTROL_LABELS + ["Preset"]:
        assert page.get_by_text(label, exact=True).count() >= 1, f"control {label!r} missing"
    for name in ("Reset", "Step"):
        assert page.get_by_role("button", name=name, exact=True).is_visible()
    about = page.locator(".chipstack-about")
    assert "agent-based model" in about.inner_text()
    assert about.locator("a", has_text="docs/ODD.md").count() == 1
    wait_views(page)  # the views may re-mount once after the first render on a loaded machine
    assert page.locator("img.widget-image").count() == N_VIEWS
    s = status(page)
    assert "Quarter: end of 2025Q4 (initial state)" in s and "Step: 0 " in s
    assert "US regime: threshold" in s and "Beijing: decides" in s

    # every Step moves the quarter label by exactly one
    q0 = quarter_index(page)
    for k in range(1, 4):
        step(page, k)
        assert quarter_index(page) == q0 + k, status(page)
    assert "Quarter: end of 2026Q3" in status(page)

    # "No exports": after Reset and a few quarters Nvidia sells nothing in China (only smuggled chips arrive)
    choose(page, "Preset", "No exports")
    expect_select(page, "US · export regime", "ban")  # the preset has set Mesa's control
    reset(page, "US regime: ban")
    for k in range(1, 4):
        step(page, k)
    assert "Quarter: end of 2026Q3" in status(page)
    revenue = page.locator(".chipstack-caption-RevenueView").inner_text()
    assert revenue.startswith("A: Nvidia China revenue 0 (billion USD per quarter)"), revenue

    # Reset returns to the initial state
    reset(page)
    s = status(page)
    assert "Quarter: end of 2025Q4 (initial state)" in s and "Step: 0 " in s

    # "Open market": US share bought legally > 0; time the redraw of each step (single mode)
    choose(page, "Preset", "Open market")
    expect_select(page, "US · export regime", "open")
    expect_select(page, "Beijing · policy on US chips", "open")
    reset(page, "US regime: open", "Beijing: open")
    time_steps(page, 1, 10, "single")
    assert us_share_legal(page) > 0.0
    assert "B:" not in page.locator(".chipstack-caption-USShareView").inner_text()

    # Play runs quarters by itself until paused
    start_play(page)
    page.wait_for_function(
        "() => { const el = document.querySelector('.chipstack-status');"  # absent while it is redrawn
        " return el !== null && /Step: (1[2-9]|[2-9][0-9]) /.test(el.innerText); }",
        timeout=60_000)
    page.get_by_role("button", name="❚❚", exact=True).click()
    page.get_by_role("button", name="▶", exact=True).wait_for(timeout=15_000)
    page.wait_for_timeout(600)
    paused = status(page)
    page.wait_for_timeout(800)
    assert status(page) == paused, "the model kept running after pause"

    assert_offline_and_clean(record)
    print(f"browser: test body took {time.perf_counter() - t_start:.1f} s")


def test_compare_mode(browser_page):
    """Compare mode: B stepped with A; two series (A and B) in the US-share view; A − B shown."""
    page, record = browser_page
    wait_views(page)
    page.get_by_text("Compare A with B", exact=True).click()
    page.wait_for_function(
        "() => document.querySelector('.chipstack-status').innerText"
        ".includes('US regime: A threshold / B ban')",
        timeout=30_000)
    wait_views(page)
    page.wait_for_timeout(500)  # let the restarted model's redraw land before the first Step
    assert "Step: 0 " in status(page) and "Quarter: end of 2025Q4" in status(page)
    q0 = quarter_index(page)
    time_steps(page, 1, 10, "compare")
    assert quarter_index(page) == q0 + 10
    s = status(page)
    share = re.search(r"US stack share of installed compute, all channels \(0-1, FLOP-based\): "
                      r"A ([0-9.]+), B ([0-9.]+), "
                      r"A − B ([-+][0-9.]+)", s)
    assert share, s
    a, b, diff = (float(x) for x in share.groups())
    assert abs((a - b) - diff) <= 0.0015 and a != b
    assert re.search(r"China's installed AI compute \(million H100e, FLOP-based\): A [0-9.]+, B [0-9.]+, "
                     r"A − B [-+][0-9.]+", s), s
    caption = page.locator(".chipstack-caption-USShareView").inner_text()
    a_part, b_part = caption.split(" | ")
    assert a_part.startswith("A: US stack share of installed compute"), caption
    assert b_part.startswith("B: US stack share of installed compute"), caption
    revenue = page.locator(".chipstack-caption-RevenueView").inner_text()
    assert "B: Nvidia China revenue 0 (billion USD per quarter)" in revenue, revenue  # B = "No exports"
    assert_offline_and_clean(record)


def text_field(page, label: str):
    """The input of the Vuetify text field labelled ``label``."""
    field = page.locator(".v-text-field").filter(
        has=page.locator("label", has_text=re.compile(f"^{re.escape(label)}$")))
    return field.locator("input").first


def test_timeline_preset_text_levers_and_chip_sales(browser_page):
    """The "2026 timeline as it happened" preset fills the text levers (licence schedule, per-customer
    cap); a cap typed by hand reaches the model on Reset; the chips-sold view has a caption."""
    page, record = browser_page
    wait_views(page)
    licences = text_field(page, CONTROLS["us_licence_schedule"]["label"])
    per_customer = text_field(page, CONTROLS["per_customer_cap_units"]["label"])
    sync_api.expect(per_customer).to_have_value("off")
    choose(page, "Preset", "2026 timeline as it happened")
    sync_api.expect(page.locator(".chipstack-preset-note")).to_contain_text("SOURCES §C3")
    licences = text_field(page, CONTROLS["us_licence_schedule"]["label"])
    sync_api.expect(licences).to_have_value("2026Q1:3,2026Q2:10", timeout=15_000)
    sync_api.expect(text_field(page, CONTROLS["per_customer_cap_units"]["label"])).to_have_value("75000")
    import_cap = text_field(page, CONTROLS["china_import_cap_units"]["label"])
    import_cap.fill("300,000")
    import_cap.press("Enter")
    reset(page, "US regime: threshold")
    params = page.locator(".chipstack-run-parameters")
    sync_api.expect(params).to_contain_text("us_licence_schedule=2026Q1:3,2026Q2:10", timeout=15_000)
    sync_api.expect(params).to_contain_text("per_customer_cap_units=75,000")
    sync_api.expect(params).to_contain_text("china_import_cap_units=300,000")
    assert page.locator(".chipstack-problem").count() == 0
    step(page, 1)
    caption = page.locator(".chipstack-caption-ChipSalesView").inner_text()
    assert caption.startswith("A: ") and "thousand units in 2026Q1" in caption, caption
    assert_offline_and_clean(record)


def test_open_sweep_run_from_the_command_line(run_page):
    """``chipstack ui --run outputs/export_regimes RUN_ID`` replays the run to the saved rows' tick."""
    page, record = run_page
    wait_views(page)
    s = status(page)
    assert "Step: 0 " in s and "US regime: h20" in s and "Beijing: open" in s
    assert "n_developers=300" in page.locator(".chipstack-run-parameters").inner_text()
    # the sidebar shows the replayed run's scenario everywhere, its folder relative to the repository
    sync_api.expect(page.locator(".chipstack-preset-run")).to_contain_text(
        f"run {RUN_ID} of sweep export_regimes")
    expect_select(page, "Design point",
                  "export_regime=h20 · china_import_policy=open · huawei_capacity_2026=3000000")
    expect_select(page, "Replication · run_id", f"1 · {RUN_ID}")
    expect_select(page, "US · export regime", "h20")
    sync_api.expect(text_field(page, "Sweep folder")).to_have_value("outputs/export_regimes")
    assert screenshots.absolute_paths(page) == []
    step(page, 1)
    sync_api.expect(page.locator(".chipstack-replay")).to_have_text(
        re.compile(r"^✓ matches saved run, 1 quarter "), timeout=15_000)
    page.get_by_role("button", name="Replay all 20 quarters", exact=True).click()
    sync_api.expect(page.locator(".chipstack-replay")).to_have_text(
        re.compile(r"^✓ matches saved run, 20 quarters \(to end of 2030Q4"), timeout=60_000)
    assert "Step: 20 " in status(page) and "Quarter: end of 2030Q4" in status(page)
    assert_offline_and_clean(record)


def _group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of every live process in process group ``pgid`` (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., utime (11), stime (12)
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def _server_pgid(port: int) -> int:
    """The process group of the ``chipstack ui --port PORT`` that ``_serve`` started in its own session."""
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"ui" in args and b"--port" in args and str(port).encode() in args:
            return os.getpgid(int(cmdline.parent.name))
    raise AssertionError(f"no chipstack ui process on port {port}")


def _thread_cpu(pgid: int) -> dict[str, float]:
    """CPU seconds of every thread of every process in group ``pgid``, by "pid/tid name"."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for stat in Path("/proc").glob("[0-9]*/task/[0-9]*/stat"):
        try:
            name, rest = stat.read_text().split(" (", 1)[1].rsplit(")", 1)
        except (OSError, ValueError, IndexError):
            continue
        fields = rest.split()
        if int(fields[2]) == pgid:
            out[f"{stat.parts[2]}/{stat.parts[4]} {name}"] = (int(fields[11]) + int(fields[12])) / tick
    return out


def _busy_server_report(pgid: int, log) -> str:
    """What a server that keeps using CPU is doing: its busiest threads over 2 s, then every thread's
    Python stack (faulthandler, on SIGABRT to the Solara process), from its log."""
    before = _thread_cpu(pgid)
    time.sleep(2)
    after = _thread_cpu(pgid)
    busy = sorted(((after[k] - before.get(k, 0.0), k) for k in after), reverse=True)[:5]
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if b"solara" in cmdline.read_bytes() and os.getpgid(int(cmdline.parent.name)) == pgid:
                os.kill(int(cmdline.parent.name), signal.SIGABRT)
        except OSError:
            continue
    time.sleep(3)
    log.seek(0)
    tail = log.read()[-12_000:]
    return "busiest threads (CPU s in 2 s): " + ", ".join(f"{k} {v:.2f}" for v, k in busy) + "\n" + tail


def test_a_closed_tab_stops_its_playing_model():
    """Closing a tab while ▶ plays used to leave the model stepping on the server (~0.65 core for 60 s and
    more; Solara keeps a page 24 h). Now the model stops once its page has had no tab for
    serve.CULL_TIMEOUT (``model.ui.watch``), and Solara culls the page: the server's processes go quiet.
    Measured as the first 3-s window with under 0.3 CPU s, which must come within CULL_TIMEOUT + 30 s; if
    none does, the failure shows the busiest threads and every thread's stack."""
    from model.ui.serve import CULL_TIMEOUT

    logs: list = []
    server = _serve(env={"PYTHONFAULTHANDLER": "1"}, logs=logs)
    url = next(server)
    try:
        port = int(url.rstrip("/").rsplit(":", 1)[1])
        pages = _open_page(url)
        page, _ = next(pages)
        pgid = _server_pgid(port)
        start_play(page)
        before = _group_cpu_seconds(pgid)
        page.wait_for_timeout(3_000)  # playing
        playing = _group_cpu_seconds(pgid) - before
        assert playing > 0.3, f"▶ did not make the server step: {playing:.2f} CPU s in 3 s"
        pages.close()  # closes the browser, and so the tab, while the model plays
        closed = time.monotonic()
        deadline = closed + float(CULL_TIMEOUT.rstrip("s")) + 30
        while True:
            before = _group_cpu_seconds(pgid)
            time.sleep(3)
            used = _group_cpu_seconds(pgid) - before
            if used < 0.3:
                break
            if time.monotonic() > deadline:
                waited = time.monotonic() - closed
                pytest.fail(f"the server still used {used:.2f} CPU s in 3 s, {waited:.0f} s after the tab "
                            f"closed\n{_busy_server_report(pgid, logs[0])}")
    finally:
        server.close()


READABILITY = """() => {
    const visible = e => e.checkVisibility() && e.getBoundingClientRect().width > 0;
    const drawer = document.querySelector('.v-navigation-drawer');
    const inputs = [...drawer.querySelectorAll('.v-input')].filter(visible);
    const sliders = [...drawer.querySelectorAll('.chipstack-slider')].filter(visible);
    const imgs = [...document.querySelectorAll('img.widget-image')];
    return {
        controls: inputs.map(e => [e.innerText.split('\\n')[0], e.getBoundingClientRect().width]),
        tracks: [...drawer.querySelectorAll('.v-slider')].filter(visible)
            .map(e => e.getBoundingClientRect().width),
        values: sliders.map(e => (e.querySelector('.chipstack-slider-value') || {}).innerText || ''),
        views: imgs.map(i => { const r = i.getBoundingClientRect();
            return {top: r.top, bottom: r.bottom, left: r.left, right: r.right, width: r.width,
                    natural: i.naturalWidth}; }),
        viewport: [window.innerWidth, window.innerHeight],
    };
}"""


def test_the_page_is_readable_at_1400_by_1000(browser_page):
    """Issue 32 item 6: at 1400 x 1000 every slider shows its value and unit, no control is squeezed under
    MIN_CONTROL_PX by its label, a view is wholly on screen without scrolling, and the views' smallest
    text (FONT_PT at the PNG's dpi, times the PNG's on-screen scale) is >= MIN_VIEW_FONT_PX."""
    page, record = browser_page
    wait_views(page)
    m = page.evaluate(READABILITY)
    assert m["viewport"] == [VIEWPORT["width"], VIEWPORT["height"]]
    # every slider of the levers (and Mesa's play sliders) shows its value, the levers' with the unit
    sliders = [n for n, spec in CONTROLS.items() if spec["type"] in ("SliderInt", "SliderFloat")]
    values = preset_values("December 2025 decision (as enacted)")
    assert len(m["values"]) == len(sliders) and all(m["values"]), m["values"]
    assert m["values"] == [LEVERS_BY_NAME[n].value_text(values[n]) for n in sliders]
    assert "1,000,000 HBM stacks/year" in m["values"]  # domestic_hbm_2026
    # Mesa's own two sliders (play and render interval) show theirs in the thumb
    thumbs = page.evaluate("""() =>
        [...document.querySelectorAll('.v-navigation-drawer .v-slider__thumb-label')]
        .filter(e => e.checkVisibility() && e.getBoundingClientRect().width > 0).map(e => e.innerText)""")
    assert len(thumbs) >= 2 and all(t.strip() for t in thumbs), thumbs
    # no control squeezed by its label
    narrow = [(label, w) for label, w in m["controls"] if w < MIN_CONTROL_PX]
    assert not narrow, f"controls narrower than {MIN_CONTROL_PX} px: {narrow}"
    assert min(m["tracks"]) >= MIN_CONTROL_PX, sorted(m["tracks"])[:5]
    # the views come first: the first row of views is wholly within the window
    width, height = m["viewport"]
    on_screen = [v for v in m["views"] if v["top"] >= 0 and v["bottom"] <= height and v["left"] >= 0
                 and v["right"] <= width]
    assert len(on_screen) >= 2, m["views"][:2]
    # the views' text on screen: FONT_PT at the PNG's dpi, scaled by the shown width over the PNG's
    scales = [v["width"] / v["natural"] for v in m["views"]]
    smallest = font_px(FONT_PT) * min(scales)
    assert smallest >= MIN_VIEW_FONT_PX, f"smallest view text {smallest:.1f} px on screen (scales {scales})"
    first = m["views"][0]
    print(f"\nbrowser, 1400x1000: narrowest control {min(w for _, w in m['controls']):.0f} px, narrowest "
          f"slider track {min(m['tracks']):.0f} px; {len(on_screen)} views wholly on screen, the first at "
          f"{first['top']:.0f}-{first['bottom']:.0f} px; views shown {first['width']:.0f} px wide for "
          f"{first['natural']} px PNGs: smallest text {smallest:.1f} px")
    # ☰ hides the sidebar: the views take the width
    page.locator("header button").first.click()
    page.wait_for_function(
        "() => document.querySelector('.v-navigation-drawer').getBoundingClientRect().right <= 0",
        timeout=10_000)
    page.locator("header button").first.click()
    assert screenshots.absolute_paths(page) == []
    assert_offline_and_clean(record)


def test_the_screenshot_script_writes_the_readme_screenshots(tmp_path):
    """``python -m model.ui.screenshots``'s work (serve, drive Chromium, write both PNGs) into a temporary
    folder: both written, PNGs under MAX_BYTES, the page at 1400 px wide (or shrunk to fit the size)."""
    from PIL import Image

    written = screenshots.take(tmp_path)
    assert [p.name for p in written] == ["ui.png", "ui_compare.png"]
    for path in written:
        assert path.stat().st_size < MAX_BYTES
        with Image.open(path) as im:
            assert im.width / im.height == pytest.approx(VIEWPORT["width"] / VIEWPORT["height"], rel=0.01)
