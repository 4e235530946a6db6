"""Ctrl-C and SIGTERM during a sweep: the sweep ends soon and keeps every run that finished.

* The first Ctrl-C cancels the tasks not yet started and waits for those in progress, saving each as
  it finishes (a second Ctrl-C stops waiting).
* A second Ctrl-C, or SIGTERM (:class:`Terminated`), stops at once: the tasks that already finished
  are saved, the workers are killed (a stopped or hung worker included; its runs are not saved and
  ``--resume`` runs them again), and the sweep returns within a second or two.
* A finished task is saved with both signals deferred (:func:`signals_deferred`): a signal that
  arrives while its part file is written takes effect once the part is on disk, so a finished run is
  never lost to an interrupt.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait

#: How often the wait for the tasks in progress looks at them (seconds).
POLL_S = 0.25
#: The signals a sweep answers: Ctrl-C and SIGTERM.
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (what is done is kept), with exit code 143; it does not wait for
    the tasks in progress."""


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """A block that a Ctrl-C or SIGTERM does not interrupt: a signal that arrives inside it is raised
    (by its own handler) when the block ends. Outside the main thread, a plain block."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, frame: arrived.append(signum)) for sig in SIGNALS}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for sig in dict.fromkeys(arrived):
            signal.raise_signal(sig)  # the handler of before: KeyboardInterrupt, Terminated ...


def stop(executor: Executor, pending: dict[Future, object], save: Callable[[Future], None],
         interrupt: KeyboardInterrupt, notify: Callable[[str], None] | None = None) -> None:
    """After ``interrupt`` in the loop that hands results over: cancel what has not started; unless it
    is SIGTERM, wait for the tasks in progress and ``save`` each (until a second Ctrl-C); then save
    every task that finished and kill the workers of those still running."""
    for future in pending:
        future.cancel()
    running = [future for future in pending if not future.cancelled()]
    try:
        if running and not isinstance(interrupt, Terminated):
            if notify is not None:
                notify(f"interrupted: finishing the {len(running)} task(s) in progress and saving their "
                       f"runs; press Ctrl-C again to stop now (--resume then runs them again)")
            while running:
                done, _ = wait(running, timeout=POLL_S, return_when=FIRST_COMPLETED)
                for future in done:
                    running.remove(future)
                    with signals_deferred():
                        save(future)
    except KeyboardInterrupt:  # the second Ctrl-C, or SIGTERM: stop now
        pass
    with signals_deferred():
        for future in [future for future in running if future.done()]:
            running.remove(future)
            with contextlib.suppress(Exception):
                save(future)
        if running:
            kill_workers(executor)


def kill_workers(executor: Executor) -> None:
    """Kill the executor's worker processes (SIGKILL: a stopped or hung worker too) where it has any
    (``kill_workers()``, as Python 3.14's process pool has; the in-process executor has none)."""
    kill = getattr(executor, "kill_workers", None)
    if kill is not None:
        with contextlib.suppress(Exception):
            kill()
