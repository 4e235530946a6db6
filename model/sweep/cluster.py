"""Dask backend for sweeps: ``--scheduler local`` or ``--scheduler tcp://HOST:PORT``.

The sweep runner only needs a ``concurrent.futures.Executor``; Dask distributed provides one
(``Client.get_executor()``), so the same runner, seeds and outputs work on a cluster with no code
change. The coordinating process writes every output file, so workers need no shared filesystem:
they only need chipstack installed (``pip install 'chipstack[cluster]'``) at the same version.

When a worker dies, the scheduler re-runs its unfinished tasks on another worker; since a run's
seed depends only on its identity and results are saved by run id in the coordinator, no run is
lost and none is written twice.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import Executor

from model.sweep.errors import UsageError, shown

#: How long to wait for a remote scheduler before giving up (seconds).
CONNECT_TIMEOUT_S = 10


def _import_distributed():
    try:
        import distributed
    except ImportError:  # pragma: no cover - dask is in the dev and cluster extras
        raise UsageError("--scheduler needs Dask: pip install 'chipstack[cluster]'") from None
    return distributed


class DaskExecutor(Executor):
    """A ``concurrent.futures`` executor on a Dask client, closing what it opened on shutdown."""

    def __init__(self, client, cluster=None):
        self.client = client
        self.cluster = cluster
        self._executor = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs):
        return self._executor.submit(fn, *args, **kwargs)

    def map(self, fn, *iterables, timeout=None, chunksize=1):
        return self._executor.map(fn, *iterables, timeout=timeout)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with _quiet_shutdown():  # what Dask logs while its comms close is not the sweep's concern
            try:
                self._executor.shutdown(wait=wait and not cancel_futures)
            finally:
                self.client.close()
                if self.cluster is not None:
                    self.cluster.close()

    def kill_workers(self) -> None:
        """A second Ctrl-C or SIGTERM (``model.sweep.interrupts``): stop without waiting for the tasks in
        progress; a local cluster's processes are closed with it."""
        self.shutdown(wait=False, cancel_futures=True)

    @property
    def name(self) -> str:
        return f"dask:{self.client.scheduler.address}"


@contextlib.contextmanager
def _quiet_shutdown() -> Iterator[None]:
    """Dask's, Tornado's and asyncio's loggers silent while a client and its cluster close: a comm closed
    mid-heartbeat logs a traceback there now and then ('--workers 1' printed one 1 time in 13)."""
    loggers = [logging.getLogger(name) for name in ("distributed", "tornado", "asyncio")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def dask_executor(scheduler: str, workers: int | None) -> DaskExecutor:
    """``local``: a LocalCluster of ``workers`` single-threaded processes on loopback;
    ``tcp://HOST:PORT``: an existing cluster. Raises UsageError (within CONNECT_TIMEOUT_S) when
    the address is malformed or no scheduler answers."""
    distributed = _import_distributed()
    if scheduler == "local":
        import os

        n = workers or os.cpu_count() or 1
        cluster = distributed.LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                           host="127.0.0.1", dashboard_address=None,
                                           silence_logs=logging.ERROR)
        return DaskExecutor(distributed.Client(cluster), cluster)
    check_address(scheduler)
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    return DaskExecutor(_connect(distributed, scheduler))


def check_address(scheduler: str) -> tuple[str, int]:
    """(host, port) of ``tcp://HOST:PORT``; UsageError for anything else."""
    rest = scheduler[len("tcp://"):] if scheduler.startswith("tcp://") else ""
    host, _, port = rest.rpartition(":")
    host = host.strip("[]")
    if not host or not port.isdigit() or not 1 <= int(port) <= 65535 or any(c in host for c in "/@ "):
        raise UsageError(f"--scheduler {shown(scheduler)}: not a scheduler address; allowed: 'local' or "
                         f"tcp://HOST:PORT with PORT from 1 to 65535 (the address 'dask scheduler' prints)")
    return host, int(port)


def _connect(distributed, scheduler: str):
    """A Client of ``scheduler``, or UsageError within about CONNECT_TIMEOUT_S: the handshake runs in a
    daemon thread, so a peer that accepts the connection but never answers (or answers garbage)
    cannot hang or crash the sweep."""
    outcome: dict = {}

    def connect() -> None:
        try:
            outcome["client"] = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
        except BaseException as exc:  # noqa: BLE001 - reported below, whatever the peer sent
            outcome["error"] = exc

    thread = threading.Thread(target=connect, name="chipstack-dask-connect", daemon=True)
    thread.start()
    thread.join(CONNECT_TIMEOUT_S)
    if "client" in outcome:
        return outcome["client"]
    why = (f"the peer did not answer as a Dask scheduler: {type(outcome['error']).__name__}"
           if "error" in outcome else "no answer")
    raise UsageError(f"--scheduler {shown(scheduler)}: no Dask scheduler answered within "
                     f"{CONNECT_TIMEOUT_S} s "
                     f"({why}); allowed: the address of a running 'dask scheduler', or 'local'")
