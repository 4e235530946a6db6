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

import logging
from concurrent.futures import Executor

from model.sweep.errors import UsageError

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
        try:
            self._executor.shutdown(wait=wait and not cancel_futures)
        finally:
            self.client.close()
            if self.cluster is not None:
                self.cluster.close()

    @property
    def name(self) -> str:
        return f"dask:{self.client.scheduler.address}"


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
    if not scheduler.startswith("tcp://") or ":" not in scheduler[len("tcp://"):]:
        raise UsageError(f"--scheduler {scheduler!r}: not a scheduler address; allowed: 'local' or "
                         f"tcp://HOST:PORT (the address 'dask scheduler' prints)")
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    try:
        client = distributed.Client(scheduler, timeout=f"{CONNECT_TIMEOUT_S}s")
    except (OSError, TimeoutError) as exc:
        raise UsageError(f"--scheduler {scheduler!r}: no Dask scheduler answered within "
                         f"{CONNECT_TIMEOUT_S} s ({type(exc).__name__}); allowed: the address of a "
                         f"running 'dask scheduler', or 'local'") from None
    return DaskExecutor(client)
