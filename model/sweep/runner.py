"""The sweep runner: ``chipstack sweep EXPERIMENT`` (INTERFACES §3-5).

Runs every run of an experiment's design on a ``concurrent.futures`` executor (a process pool by
default, in-process for one worker, Dask through ``--scheduler``), several runs per task. Results
stream to disk as tasks finish: each finished task becomes one atomic Parquet part file in
``OUT/.parts/``, so the main process holds no run data and ``--resume`` (after Ctrl-C, a crash or
SIGKILL at any moment) skips exactly the runs already saved.

At the end the parts are merged, a bounded number at a time, into ``runs.parquet`` (sorted by
``run_id`` then ``step``), and ``final.csv``, ``summary.csv``, ``failures.csv`` (when runs failed),
``manifest.json`` and the report's ``figures/`` are written, each atomically. Parts are deleted once
the manifest is complete and no run failed (with failures they stay, so ``--resume`` retries only
the failed runs).

With a precision target (``target_half_width`` in ``[experiment]``) the runs go in rounds: after
each round the points whose 95% CI half-width is still too wide get more replications (at most 8x
a round). Each round's decision uses only the runs of the earlier rounds, so a resumed sweep replays
the same rounds and ends with the same runs.

Output folder rules: bad input is found before the folder is created. Without ``--resume`` an
existing non-empty folder is an error (suggesting ``--resume``); nothing is ever overwritten
silently. With ``--resume`` the folder must hold a sweep of the same experiment (same fingerprint).

Any model class of :mod:`model.sweep.protocol` can be swept (``model_cls``; the experiment's class by
default, ``ChipMarketModel`` for experiment files). The runner does not print: warnings go to
``on_warning`` (and :attr:`SweepResult.warnings`), progress to a :class:`Progress` the caller gives
(the ``chipstack`` command draws a bar on stderr). The output stage (merging the parts, the data files,
the manifest) is :mod:`model.sweep.finalize`'s; the folder store, the executors and the statistics
live in their own modules beside it.
"""

from __future__ import annotations

import bisect
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from model.sweep.chip_table import chip_schema
from model.sweep.design import Design, Run, build_design
from model.sweep.errors import UsageError, shown
from model.sweep.executors import InlineExecutor, executor_name, make_executor
from model.sweep.experiment import Experiment, experiment_from_dict, load_experiment
from model.sweep.finalize import OnFinished, finalize, finish_report, now
from model.sweep.interrupts import kill_workers
from model.sweep.io import write_json_atomic
from model.sweep.manifest import MANIFEST, Manifest
from model.sweep.protocol import has_chip_table, parameters_by_name
from model.sweep.provenance import code_identity
from model.sweep.stats import t_quantile
from model.sweep.store import (
    PARTS_DIR,
    SPEC_FILE,
    check_output_folder,
    discard_parts,
    folder_lock,
    load_parts,
    remove_leftovers,
    verify_complete,
    write_part,
)
from model.sweep.tasks import Task, TaskResult, drain, output_schema

#: Developer-quarters per task: a task of this much work takes roughly 0.3-0.5 s.
WORK_PER_TASK = 200_000
MAX_RUNS_PER_TASK = 64
TASKS_PER_WORKER = 6
#: Replications a precision target may ask for before ``max_replications`` caps them (keeps the
#: arithmetic in int64 when the target is tiny, e.g. 1e-12).
MAX_NEED = 2**52
#: ``--workers`` above this many per core is capped, with a warning.
MAX_WORKERS_PER_CPU = 4
#: Where the runner's warnings go (one line of text each, without a "chipstack: warning:" prefix).
Warn = Callable[[str], None]


class Progress(Protocol):
    """A progress display the caller gives ``run_sweep`` (e.g. the command line's bar on stderr)."""

    def start(self, header: str, name: str, total: int, saved: int) -> None:
        """The sweep begins: a one-line ``header``, ``total`` runs of which ``saved`` are already done."""

    def set_total(self, total: int, finished: int) -> None:
        """The runs of this round: ``total`` in all (more than before in a precision target's later
        rounds), ``finished`` of them already done or failed."""

    def advance(self, runs: int, failed: int) -> None:
        """``runs`` more runs ended; ``failed`` runs have failed so far."""

    def close(self) -> None: ...


@dataclass
class SweepResult:
    out_dir: Path
    total: int
    done: int  # runs saved (including those saved before a resume)
    failed: int
    resumed: int  # runs found already saved at the start
    seconds: float
    interrupted: bool = False
    broken: str = ""  # why the executor stopped early, if it did
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # as given to on_warning

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if (self.failed or self.broken or self.done < self.total) else 0


# =============================================================================================
# The sweep
def run_sweep(
    experiment: Experiment | str | Path,
    out_dir: str | Path,
    workers: int | None = None,
    resume: bool = False,
    executor: Executor | None = None,
    progress: Progress | None = None,
    scheduler: str | None = None,
    model_cls: type | None = None,
    on_finished: OnFinished | None = None,
    warm_up: Callable[[], None] | None = None,
    on_warning: Warn | None = None,
) -> SweepResult:
    """Run (or finish, with ``resume``) a sweep into ``out_dir``; see the module docstring.

    ``executor``: any ``concurrent.futures.Executor`` (it is not shut down here); by default one is
    made by :func:`make_executor` from ``workers`` and ``scheduler``. ``model_cls``: the model class
    to run, any class of :mod:`model.sweep.protocol` (pickled by reference to the workers, so it must
    be importable there); by default the experiment's (``ChipMarketModel`` for a file); an
    experiment of another class is validated again for this one. ``progress``: a :class:`Progress`,
    or None/False for none. ``on_finished(out_dir)``: called once the data files are written (e.g. the
    report, by the ``chipstack sweep`` command); the files it returns are recorded in the manifest;
    if it raises, the sweep only warns. ``warm_up``: called in a background thread while the first
    tasks run (imports for ``on_finished``). ``on_warning(text)``: each warning, as it happens (they
    are also in :attr:`SweepResult.warnings`). Raises UsageError on bad input before anything is
    written.
    """
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment, model_cls)
    elif model_cls is not None and model_cls is not experiment.model_cls:
        experiment = experiment_from_dict(experiment.spec, experiment.source, model_cls)
    if progress is True:
        raise TypeError("progress: a model.sweep.runner.Progress (the runner does not print), or None")
    notes: list[str] = []

    def warn(message: str) -> None:
        notes.append(message)
        if on_warning is not None:
            on_warning(message)

    out_dir = Path(out_dir)
    design = build_design(experiment)
    check_output_folder(out_dir, experiment, resume)  # bad input is found before anything is created
    workers = capped_workers(workers, len(design.runs), warn)
    own_executor = executor is None
    if own_executor:
        executor = make_executor(workers, scheduler)
    started = now()
    t0 = time.perf_counter()
    try:
        with folder_lock(out_dir, create=True):
            state = check_output_folder(out_dir, experiment, resume)  # again, now that no one else can write
            for path in remove_leftovers(out_dir):
                warn(f"removed {shown(path)}, left by an interrupted write")
            if state == "complete":
                result = _already_complete(out_dir, experiment, t0)
                result.files = finish_report(Manifest.load(out_dir), on_finished, warn)  # if it failed
                result.warnings = notes
                return result
            sweep = _Sweep(experiment, design, out_dir, workers, progress or None, warn)
            try:
                sweep.prepare(fresh=state == "fresh")
                sweep.execute(executor, warm_up)
            except BaseException:  # e.g. EMFILE while starting workers: none may be left waiting for work
                if own_executor:
                    kill_workers(executor)
                raise
            finally:
                if own_executor:
                    executor.shutdown(wait=True, cancel_futures=True)
                    own_executor = False
            result = sweep.result(time.perf_counter() - t0)
            result.warnings = notes
            if result.interrupted or result.broken:
                return result
            result.files = finalize(sweep, started, on_finished,
                                    executor_name=executor_name(executor, workers), warn=warn)
    finally:
        if own_executor:
            executor.shutdown(wait=True, cancel_futures=True)
    result.seconds = time.perf_counter() - t0
    return result


def capped_workers(workers: int | None, n_runs: int, warn: Warn | None = None) -> int:
    """``workers`` (default: the number of cores), at most :data:`MAX_WORKERS_PER_CPU` x the cores
    (with a warning to ``warn``) and at most one per run."""
    cpus = os.cpu_count() or 1
    asked = workers or cpus
    workers = max(1, min(asked, n_runs))
    cap = MAX_WORKERS_PER_CPU * cpus
    if workers > cap and warn is not None:
        warn(f"--workers {asked}: more than {MAX_WORKERS_PER_CPU} x the {cpus} cores of this machine; "
             f"using {cap} (each worker holds a model in memory)")
    return min(workers, cap)


def _already_complete(out_dir: Path, experiment: Experiment, t0: float) -> SweepResult:
    """A folder whose manifest says complete: verified again (file hashes, seeds), then reported as done."""
    problems = verify_complete(out_dir, experiment)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UsageError(f"--resume: {shown(out_dir)} holds a finished sweep that does not match its "
                         f"{MANIFEST}: {problems[0]}{more}; allowed: delete "
                         f"{shown(out_dir / 'runs.parquet')} "
                         f"and run the same command with --resume to run the sweep again (same numbers), "
                         f"or another --out folder")
    # left if the sweep was killed just after its manifest
    shutil.rmtree(out_dir / PARTS_DIR, ignore_errors=True)
    n = Manifest.load(out_dir).counts["total"]
    return SweepResult(out_dir, total=n, done=n, failed=0, resumed=n, seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# The main process's side of a sweep
class _Sweep:
    """State of one sweep in the main process: saved parts, failures, progress."""

    def __init__(self, experiment: Experiment, design: Design, out_dir: Path, workers: int,
                 progress: Progress | None = None, warn: Warn | None = None):
        self.experiment, self.design, self.out_dir = experiment, design, out_dir
        self.model_cls = experiment.model_cls
        self.parts_dir = out_dir / PARTS_DIR
        self.workers, self.progress = workers, progress or None
        self.warn: Warn = warn or (lambda message: None)
        self.schema = output_schema(experiment)
        self.chip_schema = chip_schema() if has_chip_table(self.model_cls) else None
        self.runs: list[Run] = design.runs  # grows by rounds with a precision target
        self.rounds = 0
        self.parts: dict[Path, list[str]] = {}  # part file -> its sorted run ids
        self.failures: list[dict] = []
        self.resumed = 0
        self.interrupted = False
        self.broken = ""

    # -- setup
    def prepare(self, fresh: bool) -> None:
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        if fresh or not (self.parts_dir / SPEC_FILE).is_file():
            write_json_atomic(self.parts_dir / SPEC_FILE, {"fingerprint": self.experiment.fingerprint(),
                                                           "experiment": self.experiment.resolved(),
                                                           "code": code_identity()})
        self.parts, damaged = load_parts(self.parts_dir, self.experiment.steps, self.schema, self.chip_schema)
        for path, why in damaged:
            self.warn(f"{shown(path)}: {why}; its runs are run again")
        discard_parts(damaged)
        self.resumed = sum(len(ids) for ids in self.parts.values())

    def saved_ids(self) -> set[str]:
        return {run_id for ids in self.parts.values() for run_id in ids}

    # -- execution
    def tasks(self, todo: list[Run]) -> Iterator[Task]:
        """Tasks of consecutive runs (by run_id) that never straddle a saved part's id range."""
        size = runs_per_task(self.experiment, len(todo), self.workers)
        bounds = sorted({b for ids in self.parts.values() for b in (ids[0], ids[-1])})
        chunk: list[Run] = []
        segment = None
        fixed = self.experiment.parameters
        for run in todo:
            seg = bisect.bisect_left(bounds, run.run_id)
            if chunk and (len(chunk) >= size or seg != segment):
                yield Task(self.experiment.steps, fixed, chunk, self.schema, self.model_cls, self.chip_schema)
                chunk = []
            chunk.append(run)
            segment = seg
        if chunk:
            yield Task(self.experiment.steps, fixed, chunk, self.schema, self.model_cls, self.chip_schema)

    def execute(self, executor: Executor, warm_up: Callable[[], None] | None = None) -> None:
        """Run every unsaved run; with a precision target, add replications in rounds."""
        bar = self._start_progress()
        replications = np.full(self.design.n_points, self.design.replications)
        try:
            while True:
                self.rounds += 1
                self.runs = self.design.runs_for(replications) if self.rounds > 1 else self.design.runs
                if bar is not None:
                    bar.set_total(len(self.runs), len(self.done_ids()) + len(self.failures))
                self._run_missing(executor, bar, warm_up)
                if self.experiment.precision is None:
                    break
                more = required_replications(self.final_values(), replications, self.experiment.precision)
                if (more <= replications).all():
                    break
                replications = np.maximum(replications, more)
        except KeyboardInterrupt:
            self.interrupted = True
        except BrokenProcessPool as exc:
            self.broken = f"a worker process died ({exc})"
        finally:
            if bar is not None:
                bar.close()

    def _run_missing(self, executor: Executor, bar: Progress | None,
                     warm_up: Callable[[], None] | None = None) -> None:
        saved = self.saved_ids()
        todo = sorted((run for run in self.runs if run.run_id not in saved), key=lambda r: r.run_id)
        in_flight = 1 if isinstance(executor, InlineExecutor) else 2 * self.workers
        drain(executor, self.tasks(todo), in_flight, lambda res: self.save(res, bar), warm_up, self.warn)

    def final_values(self) -> pd.DataFrame:
        """(point, value) of the precision reporter at the last step, for the current runs."""
        reporter = self.experiment.precision.reporter
        point_of = {run.run_id: run.point for run in self.runs}
        frames = []
        for path in self.parts:
            table = pq.read_table(path, columns=["run_id", "step", reporter],
                                  filters=[("step", "=", self.experiment.steps - 1)])
            frames.append(table.to_pandas())
        data = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["run_id", reporter])
        data["point"] = data["run_id"].map(point_of)
        return data.dropna(subset=["point"]).rename(columns={reporter: "value"})[["point", "value"]]

    def save(self, result: TaskResult, bar: Progress | None) -> None:
        """Write a finished task's rows as one atomic part file; note its failures."""
        if result.table is not None and result.table.num_rows:
            ids = sorted(result.done)
            self.parts[write_part(self.parts_dir, result.table, ids, result.chips)] = ids
        self.failures.extend(result.failures)
        if bar is not None:
            bar.advance(len(result.done) + len(result.failures), len(self.failures))

    def _start_progress(self) -> Progress | None:
        if self.progress is None:
            return None
        total = len(self.design.runs)
        more = " at least" if self.experiment.precision else ""
        self.progress.start(f"chipstack: sweep {self.experiment.name}: {total} runs ({self.design.n_points} "
                            f"points x{more} {self.experiment.replications} replications), {self.resumed} "
                            f"already saved, {self.workers} workers -> {self.out_dir}",
                            self.experiment.name, total, self.resumed)
        return self.progress

    def done_ids(self) -> set[str]:
        """Saved runs that belong to the current run list."""
        return self.saved_ids() & {run.run_id for run in self.runs}

    def result(self, seconds: float) -> SweepResult:
        return SweepResult(self.out_dir, total=len(self.runs),
                           done=len(self.done_ids()), failed=len(self.failures),
                           resumed=self.resumed, seconds=seconds, interrupted=self.interrupted,
                           broken=self.broken)


def runs_per_task(experiment: Experiment, n_todo: int, workers: int) -> int:
    """Enough runs per task to hide process overhead, few enough to balance the workers."""
    default = getattr(parameters_by_name(experiment.model_cls).get("n_developers"), "default", 0)
    developers = experiment.parameters.get("n_developers", default)  # agents, for ChipMarketModel
    developers = max([developers] + [v for v in experiment.grid.get("n_developers", [])])
    by_work = WORK_PER_TASK // max(1, experiment.steps * max(developers, 100))
    by_balance = math.ceil(n_todo / (workers * TASKS_PER_WORKER))
    return max(1, min(MAX_RUNS_PER_TASK, by_work, by_balance))


def required_replications(final: pd.DataFrame, current: np.ndarray, precision) -> np.ndarray:
    """Replications per point for a 95% CI half-width <= the target (growing at most 8x a round)."""
    grouped = final.groupby("point")["value"]
    n = grouped.count().reindex(range(len(current)), fill_value=0).to_numpy()
    sd = grouped.std(ddof=1).reindex(range(len(current))).fillna(0.0).to_numpy()
    need = np.maximum(n, 2)
    for _ in range(5):  # n >= (t_{n-1} sd / h)^2, solved by fixed-point iteration
        t = t_quantile(np.maximum(need, 2))
        with np.errstate(over="ignore"):  # a target near 0 (1e-300) squares to inf: capped just below
            wanted = np.minimum(np.ceil((t * sd / precision.half_width) ** 2), float(MAX_NEED))  # int64-safe
        need = np.maximum(n, wanted).astype(np.int64)
    need = np.minimum(need, np.maximum(8 * current, 2))
    need = np.where(n < current, current, need)  # failed runs: do not chase their replacements
    return np.minimum(need, precision.max_replications)
