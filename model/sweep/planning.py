"""Planning a sweep before its first run: what a large design costs, said before the silence, and refused
when this machine cannot hold it (issue 31 item 9).

Building a design (run ids, seeds, the manifest's list of runs) takes time and memory per run before any
run starts: about ``SECONDS_PER_RUN`` and ``BYTES_PER_RUN`` (measured here: 40 us a run for
``build_design`` on a loaded 2-core machine; ~2.3 GB for the 5M-run maximum, i.e. ~460 B a run, by the
adversarial review of issue 31). From ``NOTICE_RUNS`` runs on, ``chipstack sweep`` prints the estimate
first; above ``MEMORY_SHARE`` of the memory the machine has available it refuses with the estimate.
"""

from __future__ import annotations

import os

from model.sweep.errors import UsageError

SECONDS_PER_RUN = 40e-6
BYTES_PER_RUN = 500
NOTICE_RUNS = 100_000
MEMORY_SHARE = 0.8


def available_bytes() -> int | None:
    """Memory available to a new process (Linux: MemAvailable of /proc/meminfo), or None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:.1f} GB"


def plan(name: str, n_runs: int, available: int | None = None) -> str | None:
    """The notice to print before planning ``n_runs`` runs (None below ``NOTICE_RUNS``); raises UsageError
    when the plan needs more than ``MEMORY_SHARE`` of ``available`` (default: this machine's)."""
    need = n_runs * BYTES_PER_RUN
    available = available_bytes() if available is None else available
    if available is not None and need > MEMORY_SHARE * available:
        raise UsageError(f"experiment {name}: {n_runs:,} runs need about {_gb(need)} of memory to plan "
                         f"before the first run, and this machine has {_gb(available)} available; allowed: a "
                         f"design that fits (reduce [grid], [sample] n or replications, or split it into "
                         f"several experiments)")
    if n_runs < NOTICE_RUNS:
        return None
    return (f"chipstack: sweep {name}: planning {n_runs:,} runs (about {n_runs * SECONDS_PER_RUN:.0f} s and "
            f"{_gb(need)} of memory before the first run starts)")
