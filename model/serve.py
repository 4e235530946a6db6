"""``chipstack ui``: serve the SolaraViz app (``model/app.py``) in a child ``solara run`` process.

    chipstack ui [--host 127.0.0.1] [--port 8765]

Binds 127.0.0.1 unless told otherwise. Checks first that the port is free (a port in use is bad
input: ``chipstack: error: port P on H is in use``, exit 2, nothing started), then runs
``python -m solara run model.app --host H --port P --production --no-open --no-check-version``
(no call to PyPI for a newer Solara) as a child process, prints the URL and waits. Ctrl-C (or SIGTERM to this process) stops the server.

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

from .errors import UsageError

APP_PATH = Path(__file__).with_name("app.py")
#: Solara is given the app as a module, not as the file: run as a file, Solara puts model/ first
#: on sys.path, where ``model`` then names model/model.py instead of the package.
APP_MODULE = "model.app"
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
    check_port_free(host, port)
    try:
        import mesa.visualization  # noqa: F401  (fail here, with a clear message, not in the child)
        import solara  # noqa: F401
    except ImportError as exc:
        raise UsageError(f"the UI needs the 'ui' extra (pip install 'chipstack[ui]'): {exc}") from None

    env = dict(os.environ)
    env.setdefault("SOLARA_TELEMETRY_MIXPANEL_ENABLE", "False")
    # the app imports ``model`` as a package: make the project importable from any folder
    project = str(APP_PATH.parent.parent)
    env["PYTHONPATH"] = project + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    proc = None
    try:
        proc = subprocess.Popen(server_command(host, port), env=env)
        print(f"chipstack ui: serving {url(host, port)} (Ctrl-C to stop)", flush=True)
        code = proc.wait()
        if code != 0:
            print(f"chipstack: error: the UI server exited with code {code}", file=sys.stderr)
            return 1
        return 0
    except KeyboardInterrupt:
        print("chipstack ui: stopping", file=sys.stderr, flush=True)
        return 0
    finally:
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        signal.signal(signal.SIGTERM, previous)
