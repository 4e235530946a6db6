"""The README's screenshots of the UI, regenerated: serve ``chipstack ui``, drive Debian's Chromium with
Playwright, write ``ui.png`` and ``ui_compare.png``.

    python -m model.ui.screenshots [--out docs] [--readme README.md]

* ``ui.png``: the "Open market" preset after Reset and 12 quarters, the sidebar at Mesa's controls
  (Step, Reset, the sliders);
* ``ui_compare.png``: compare mode, A the default preset (the rule as enacted), B "No exports", after
  10 quarters.

Both at the size a reader sees the page, 1400 x 1000 CSS pixels, under ``MAX_BYTES`` (a 256-colour
palette if needed). The script fails (exit 1) if the page shows the repository's absolute path (the run
picker shows its folder relative to the repository) or the user's home folder. ``--readme`` also
rewrites the README's block between ``<!-- ui-summary -->`` and ``<!-- /ui-summary -->`` with
``model.ui.text.ui_summary()`` (the views, makers and controls counted from the code).

Needs Chromium at ``/usr/bin/chromium`` (``apt-get install -y chromium``) and Playwright for Python (the
``dev`` extra); ``playwright install`` is never run. The page is served on a free port of 127.0.0.1 and
every request elsewhere is blocked. tests/test_ui_browser.py runs this into a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from model.core.paths import REPO_ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
#: The window the screenshots (and the browser tests) show the page in.
VIEWPORT = {"width": 1400, "height": 1000}
MAX_BYTES = 300_000
START_TIMEOUT_S = 120.0
SUMMARY_START, SUMMARY_END = "<!-- ui-summary -->", "<!-- /ui-summary -->"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serve(*extra: str, env: dict[str, str] | None = None, logs: list | None = None) -> Iterator[str]:
    """``chipstack ui --port P *extra`` (from the repository folder, in its own process group, with ``env``
    added to the environment): yields its URL once it answers HTTP 200; stops the group. The server's
    output file is appended to ``logs``. RuntimeError if it exits or does not answer in time."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")
    if logs is not None:
        logs.append(log)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), **(env or {})}
    proc = subprocess.Popen([sys.executable, "-m", "model.cli", "ui", "--port", str(port), *extra],
                            cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                            env=env)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"chipstack ui exited with {proc.returncode}:\n{log.read()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as resp:
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"chipstack ui did not answer HTTP 200 within {START_TIMEOUT_S:.0f} s")
            time.sleep(0.3)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@contextlib.contextmanager
def browser_page(url: str):
    """A Chromium page of VIEWPORT on ``url``, every request elsewhere blocked; waits for the views."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.route("**/*", lambda r: r.continue_() if r.request.url.startswith((url, "data:", "blob:"))
                       else r.abort())
            page.goto(url)
            page.get_by_role("button", name="Step", exact=True).wait_for(timeout=60_000)
            page.locator("img.widget-image").last.wait_for(timeout=60_000)
            yield page
        finally:
            browser.close()


def _wait_status(page, *parts: str, timeout: float = 60_000) -> None:
    page.wait_for_function(
        """parts => { const s = document.querySelector('.chipstack-status');
                      return s !== null && parts.every(p => s.innerText.includes(p)); }""",
        arg=list(parts), timeout=timeout)


def _steps(page, n: int) -> None:
    """Click Step ``n`` times, each after the last one's quarter is on the page."""
    for k in range(1, n + 1):
        page.get_by_role("button", name="Step", exact=True).click()
        _wait_status(page, f"Step: {k} ")
    page.wait_for_timeout(1500)  # the views' redraw of the last step


def _select(page, label: str):
    return page.locator(".v-select").filter(
        has=page.locator("label", has_text=re.compile(f"^{re.escape(label)}$")))


def _choose(page, label: str, option: str) -> None:
    _select(page, label).locator(".v-input__slot").click()
    page.locator(".menuable__content__active").get_by_role("option", name=option, exact=True).click()


def _wait_select(page, label: str, value: str) -> None:
    """Wait until the select labelled ``label`` shows ``value`` (SolaraViz re-mounted with a preset)."""
    from playwright.sync_api import expect

    expect(_select(page, label).locator(".v-select__selection").first).to_have_text(value, timeout=60_000)
    page.wait_for_timeout(1000)


def absolute_paths(page) -> list[str]:
    """Absolute paths the page shows (text and form fields): the repository's or the home folder's."""
    text = page.evaluate("""() => document.body.innerText + '\\n' +
        [...document.querySelectorAll('input, textarea')].map(e => e.value).join('\\n')""")
    home = str(Path.home())
    return [p for p in {str(REPO_ROOT), home} if len(p) > 1 and p in text]


def small_png(png: bytes, limit: int = MAX_BYTES) -> bytes:
    """``png`` as a PNG under ``limit`` bytes (a 256-colour palette if needed, then smaller)."""
    if len(png) < limit:
        return png
    from PIL import Image

    img = Image.open(io.BytesIO(png)).convert("RGB")
    for colours, scale in ((256, 1.0), (128, 1.0), (128, 0.8), (64, 0.7)):
        im = img if scale == 1.0 else img.resize((int(img.width * scale), int(img.height * scale)))
        out = io.BytesIO()
        im.quantize(colors=colours, method=Image.Quantize.MEDIANCUT).save(out, format="PNG", optimize=True)
        if out.tell() < limit:
            return out.getvalue()
    return out.getvalue()


def save(page, path: Path, sidebar_at: str | None = None) -> Path:
    """A screenshot of the page as it is (VIEWPORT) to ``path``, the sidebar scrolled to its top or to
    the card titled ``sidebar_at``."""
    shown = absolute_paths(page)
    if shown:
        raise RuntimeError(f"the page shows absolute paths {shown}: not for a published screenshot")
    page.evaluate("""title => {
        document.querySelectorAll('.v-navigation-drawer__content').forEach(e => e.scrollTop = 0);
        const card = [...document.querySelectorAll('.v-navigation-drawer .v-card__title')]
            .find(e => e.innerText.trim() === title);
        if (card) card.scrollIntoView({block: 'start'});
    }""", sidebar_at)
    page.wait_for_timeout(500)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(small_png(page.screenshot()))
    return path


def take(out: Path) -> list[Path]:
    """Serve the UI and write ``out``/ui.png and ``out``/ui_compare.png; return their paths."""
    written = []
    with serve() as url:
        with browser_page(url) as page:
            _choose(page, "Preset", "Open market")
            _wait_select(page, "US · export regime", "open")
            page.get_by_role("button", name="Reset", exact=True).click()
            _wait_status(page, "Step: 0 ", "US regime: open", "Beijing: open")
            _steps(page, 12)
            written.append(save(page, out / "ui.png", sidebar_at="Controls"))  # Step, Reset, sliders
        with browser_page(url) as page:
            page.get_by_text("Compare A with B", exact=True).click()
            _wait_status(page, "US regime: A threshold / B ban", "Step: 0 ")
            page.wait_for_timeout(1000)
            _steps(page, 10)
            written.append(save(page, out / "ui_compare.png"))
    return written


def update_readme(path: Path) -> bool:
    """Rewrite the ui-summary block of the README at ``path``; True if it changed."""
    from model.ui.text import ui_summary

    text = path.read_text(encoding="utf-8")
    start, end = text.index(SUMMARY_START) + len(SUMMARY_START), text.index(SUMMARY_END)
    new = text[:start] + "\n" + ui_summary() + "\n" + text[end:]
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.ui.screenshots",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("docs"), help="folder of the screenshots (docs)")
    parser.add_argument("--readme", type=Path, help="also rewrite this README's ui-summary block")
    args = parser.parse_args(argv)
    if not CHROMIUM.exists():
        print(f"chipstack: error: needs Chromium at {CHROMIUM} (apt-get install -y chromium)",
              file=sys.stderr)
        return 2
    if args.readme is not None and update_readme(args.readme):
        print(f"wrote the UI summary of {args.readme}")
    try:
        for path in take(args.out):
            print(f"wrote {path} ({path.stat().st_size / 1000:.0f} KB)")
    except RuntimeError as exc:
        print(f"chipstack: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
