"""``chipstack ui``: serve the SolaraViz app (``model.ui.app``) in a child ``solara run`` process.

    chipstack ui [--host 127.0.0.1] [--port 8765] [--run SWEEP_DIR RUN_ID]

``--run SWEEP_DIR RUN_ID`` opens the page on run RUN_ID of a finished sweep (rebuilt from the
sweep's manifest.json: same parameters, same seed) and checks its reporters against the saved
runs.parquet rows as it steps. The folder and run id are checked before the server starts (bad
input: one ``chipstack: error:`` line, exit 2) and passed to the app in ``CHIPSTACK_UI_RUN``.

Binds 127.0.0.1 unless told otherwise. Checks first that the port is free (a port in use is bad
input: ``chipstack: error: port P on H is in use``, exit 2, nothing started), then runs
``python -m solara run model.ui.app --host H --port P --production --no-open --no-check-version``
(no call to PyPI for a newer Solara) as a child process, prints the URL and waits. Ctrl-C stops
the server (the terminal sends SIGINT to both processes; the server gets a grace period, then
SIGTERM, then SIGKILL); SIGTERM to ``chipstack`` stops it too (further SIGTERMs are ignored while it
stops: ``timeout`` sends two). Exit code 0 after Ctrl-C, 143 after SIGTERM (as ``chipstack sweep``),
1 if the server exits by itself with an error.

Solara's telemetry is switched off in the child (``SOLARA_TELEMETRY_MIXPANEL_ENABLE=False``):
the UI must work with no internet, and it should not phone home anyway. Its front-end assets
come from the ``solara-assets`` package (pinned by the ``ui`` extra), not from a CDN.
"""

from __future__ import annotations

import argparse
import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from model.core.paths import REPO_ROOT
from model.sweep.errors import UsageError

APP_PATH = Path(__file__).with_name("app.py")
#: Solara is given the app as a module, not as the file: run as a file, Solara imports app.py as a
#: top-level module with model/ui/ first on sys.path, a second copy beside the package's model.ui.app.
APP_MODULE = "model.ui.app"
#: The run to open (``--run``), passed to the app as "SWEEP_DIR\nRUN_ID" (``model.ui.app.RUN_ENV``).
RUN_ENV = "CHIPSTACK_UI_RUN"
#: How long a page's server-side state outlives its closed tab (Solara's kernel cull timeout; a reload
#: within it keeps the page's state).
CULL_TIMEOUT = "10s"
#: Seconds to wait for the server to stop after Ctrl-C / SIGTERM before killing it.
STOP_TIMEOUT = 10.0


def check_port_free(host: str, port: int) -> None:
    """Raise UsageError if ``host:port`` cannot be bound (in use, or not an address here)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise UsageError(f"--host {host!r}: cannot resolve ({exc.strerror})") from None
    family, socktype, proto, _, address = infos[0]
    with socket.socket(family, socktype, proto) as sock:
        # as uvicorn does: a port with only TIME_WAIT connections counts as free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(f"port {port} on {host} is in use") from None
            if exc.errno in (errno.EACCES, errno.EPERM):
                raise UsageError(f"port {port} on {host}: permission denied") from None
            if exc.errno == errno.EADDRNOTAVAIL:
                raise UsageError(f"--host {host!r}: not an address of this machine") from None
            raise UsageError(f"cannot bind {host}:{port}: {exc.strerror}") from None


def server_command(host: str, port: int) -> list[str]:
    """The ``solara run`` command line for the app."""
    return [sys.executable, "-m", "solara", "run", APP_MODULE, "--host", host, "--port", str(port),
            "--production", "--no-open", "--no-check-version"]


def url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def cmd_ui(args: argparse.Namespace) -> int:
    """Start the UI server and wait until it exits or the user stops it."""
    host, port = args.host, args.port
    run = getattr(args, "run", None)
    if run is not None:
        from model.ui.sweep_run import open_run

        open_run(run[0], run[1])  # raises UsageError on a bad folder or run id
    check_port_free(host, port)
    try:
        import mesa.visualization  # noqa: F401  (fail here, with a clear message, not in the child)
        import solara  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"the UI needs the 'ui' extra (pip install 'chipstack[ui]'): {exc}") from None

    env = dict(os.environ)
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    # a closed tab's page ends CULL_TIMEOUT after the tab closes, not 24 h later (Solara's default), and
    # with it the play loop of its model (tests/test_ui_browser.py measures the server's CPU afterwards)
    env.setdefault("SOLARA_KERNEL_CULL_TIMEOUT", CULL_TIMEOUT)
    # Solara warns on every first visit over plain http (its cookie falls back to samesite=lax,
    # which is right for a local server): keep the terminal quiet
    quiet = "ignore:Cookies with samesite=none require https:UserWarning"
    env["PYTHONWARNINGS"] = ",".join(w for w in (env.get("PYTHONWARNINGS"), quiet) if w)
    # the app imports ``model`` as a package: make the project importable from any folder
    project = str(REPO_ROOT)
    env["PYTHONPATH"] = project + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop(RUN_ENV, None)
    if run is not None:
        env[RUN_ENV] = f"{Path(run[0]).resolve()}\n{run[1]}"

    class Terminated(Exception):
        """SIGTERM to this process (only): the server did not get it and must be stopped."""

    def on_sigterm(signum, frame):
        # idempotent: `timeout` sends SIGTERM twice (to chipstack, then to its process group), and a
        # second Terminated raised while the first is handled would be a traceback
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        raise Terminated

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    proc = None
    terminated = False
    grace = 0.0  # seconds to let the server stop on its own before we signal it
    try:
        proc = subprocess.Popen(server_command(host, port), env=env)
        print(f"chipstack ui: serving {url(host, port)} (Ctrl-C to stop)", flush=True)
        code = proc.wait()
        if code != 0:
            print(f"chipstack: error: the UI server exited with code {code}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        # Ctrl-C reaches the whole foreground process group: the server is stopping already
        grace = STOP_TIMEOUT
        print("chipstack ui: stopping", file=sys.stderr, flush=True)
        return 0
    except Terminated:
        terminated = True
        print("chipstack ui: stopping", file=sys.stderr, flush=True)
        return 143  # as the sweep after SIGTERM
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # no second interruption while cleaning up
        if proc is not None:
            _stop(proc, grace)
        if not terminated:  # after SIGTERM, further ones are ignored until the process exits
            signal.signal(signal.SIGTERM, previous)


def _stop(proc: subprocess.Popen, grace: float) -> None:
    """Wait ``grace`` seconds for the server to exit, then SIGTERM it, then SIGKILL it."""
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if proc.poll() is not None:
            return
        if sig is not None:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=grace if sig is None else STOP_TIMEOUT)
            return
        except subprocess.TimeoutExpired:
            continue
        except KeyboardInterrupt:  # a second Ctrl-C: stop now
            proc.kill()
            proc.wait()
            return
