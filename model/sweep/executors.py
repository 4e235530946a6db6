"""Executors, the plug-in seam of the runner: in-process (``--workers 1``), a process pool, or Dask
(``--scheduler``, through :mod:`model.sweep.cluster`). Any ``concurrent.futures.Executor`` works."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import os
import signal
import sys
import warnings
from concurrent.futures import Executor, Future, ProcessPoolExecutor

from model.sweep.errors import UsageError
from model.sweep.store import close_inherited_locks

PR_SET_PDEATHSIG = 1  # linux/prctl.h


class InlineExecutor(Executor):
    """Runs each task in this process when it is submitted (``--workers 1``: no process overhead)."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:  # KeyboardInterrupt and SystemExit propagate
            future.set_exception(exc)
        return future


def make_executor(workers: int | None, scheduler: str | None = None) -> Executor:
    """An executor for ``workers`` processes, or for a Dask scheduler (``local`` or tcp://HOST:PORT,
    through ``model.sweep.cluster``). Raises UsageError for a bad or unreachable scheduler."""
    if scheduler is not None:
        try:
            from model.sweep.cluster import dask_executor
        except ImportError:
            raise UsageError(f"--scheduler {scheduler!r}: the Dask backend is not available; "
                             f"allowed: leave out --scheduler and use --workers N") from None
        return dask_executor(scheduler, workers)
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        return InlineExecutor()
    return _ProcessPool(max_workers=workers, mp_context=_mp_context(), initializer=_worker_init,
                        initargs=(os.getpid(),))


class _ProcessPool(ProcessPoolExecutor):
    """A process pool that forks its workers (where possible) without Python 3.12's warning.

    The main process's only other threads at that moment are idle native ones (OpenBLAS, jemalloc)
    that register fork handlers; the workers run only the model. Forking keeps start-up at a few
    milliseconds, which matters for parallel efficiency on short sweeps.
    """

    def submit(self, fn, /, *args, **kwargs) -> Future:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*use of fork\(\) may lead to deadlocks",
                                    category=DeprecationWarning)
            return super().submit(fn, *args, **kwargs)

    def kill_workers(self) -> None:
        """SIGKILL every worker (a stopped or hung one too) and shut down without waiting: a second
        Ctrl-C or SIGTERM ends the sweep at once (``model.sweep.interrupts``)."""
        for process in list((self._processes or {}).values()):
            with contextlib.suppress(OSError, ValueError, AttributeError):
                process.kill()
        self.shutdown(wait=False, cancel_futures=True)


def _mp_context():
    """fork where available (workers start in milliseconds, modules already imported)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _worker_init(parent: int | None = None) -> None:
    """Workers ignore Ctrl-C and take SIGTERM's default (the main process decides what to keep and
    stops them), and die with the main process: on Linux the kernel sends them SIGKILL when it dies
    (``PR_SET_PDEATHSIG``), however it dies (SIGKILL included)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    close_inherited_locks()  # the sweep folder's lock belongs to the main process alone
    die_with_parent(parent)


def die_with_parent(parent: int | None = None) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; elsewhere a no-op)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - no prctl
        return
    if parent is not None and os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def executor_name(executor: Executor, workers: int) -> str:
    if isinstance(executor, InlineExecutor):
        return "inline"
    if isinstance(executor, ProcessPoolExecutor):
        return f"processes:{workers}"
    return getattr(executor, "name", type(executor).__name__)
