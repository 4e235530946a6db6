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
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import json
import math
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from model.sweep.design import Design, Run, build_design
from model.sweep.errors import UsageError
from model.sweep.experiment import REPO_ROOT, Experiment, load_experiment
from model.sweep.io import atomic_path, sha256_file, write_json_atomic, write_text_atomic
from model.core.chip_market import MODEL_REPORTERS, ChipMarketModel
from model.core.parameters import PARAMS_BY_NAME
from model.sweep.provenance import git_state, package_versions, platform_info

PARTS_DIR = ".parts"
SPEC_FILE = "experiment.json"
MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
#: Developer-quarters per task: a task of this much work takes roughly 0.3-0.5 s.
WORK_PER_TASK = 200_000
MAX_RUNS_PER_TASK = 64
TASKS_PER_WORKER = 6
ROWS_PER_ROW_GROUP = 4096  # small row groups keep the writer's buffers small


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

    @property
    def exit_code(self) -> int:
        if self.interrupted:
            return 130
        return 1 if (self.failed or self.broken or self.done < self.total) else 0


# =============================================================================================
# Command line
def cmd_sweep(args) -> int:
    """``chipstack sweep EXPERIMENT [--workers N] [--scheduler ADDRESS] [--resume] [--out DIR]``."""
    experiment = load_experiment(args.experiment)
    out_dir = Path(args.out) if args.out else Path("outputs") / experiment.name
    result = run_sweep(experiment, out_dir, workers=args.workers, resume=args.resume,
                       scheduler=args.scheduler)
    if result.interrupted:
        print(f"chipstack: interrupted: {result.done} of {result.total} runs are saved in {out_dir}; "
              f"run the same command with --resume to finish", file=sys.stderr)
        return 130
    if result.broken:
        print(f"chipstack: error: {result.broken}; {result.done} of {result.total} runs are saved in "
              f"{out_dir}; run the same command with --resume to finish", file=sys.stderr)
        return 1
    print(summary_text(out_dir))
    if result.failed:
        print(f"chipstack: {result.failed} of {result.total} runs failed; see {out_dir / 'failures.csv'} "
              f"(--resume retries them)", file=sys.stderr)
    return result.exit_code


# =============================================================================================
# The sweep
def run_sweep(
    experiment: Experiment | str | Path,
    out_dir: str | Path,
    workers: int | None = None,
    resume: bool = False,
    executor: Executor | None = None,
    progress: bool = True,
    scheduler: str | None = None,
    report: bool = True,
) -> SweepResult:
    """Run (or finish, with ``resume``) a sweep into ``out_dir``; see the module docstring.

    ``executor``: any ``concurrent.futures.Executor`` (it is not shut down here); by default one is
    made by :func:`make_executor` from ``workers`` and ``scheduler``. Raises UsageError on bad
    input before anything is written.
    """
    if not isinstance(experiment, Experiment):
        experiment = load_experiment(experiment)
    out_dir = Path(out_dir)
    design = build_design(experiment)
    state = check_output_folder(out_dir, experiment, resume)
    workers = workers or os.cpu_count() or 1
    own_executor = executor is None
    if own_executor:
        executor = make_executor(workers, scheduler)
    started = _now()
    t0 = time.perf_counter()
    try:
        if state == "complete":
            return _already_complete(out_dir, design, t0)
        sweep = _Sweep(experiment, design, out_dir, workers, progress)
        sweep.prepare(fresh=state == "fresh")
        sweep.execute(executor)
    finally:
        if own_executor:
            executor.shutdown(wait=True, cancel_futures=True)
    result = sweep.result(time.perf_counter() - t0)
    if result.interrupted or result.broken:
        return result
    result.files = finalize(sweep, started, report=report, executor_name=_executor_name(executor, workers))
    result.seconds = time.perf_counter() - t0
    return result


def _already_complete(out_dir: Path, design: Design, t0: float) -> SweepResult:
    n = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))["counts"]["total"]
    return SweepResult(out_dir, total=n, done=n, failed=0, resumed=n, seconds=time.perf_counter() - t0)


# ---------------------------------------------------------------------------------------------
# Output folder checks (all before anything is created)
def check_output_folder(out_dir: Path, experiment: Experiment, resume: bool) -> str:
    """'fresh', 'partial' or 'complete'. Raises UsageError when the folder may not be used."""
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"--out {str(out_dir)!r}: exists and is not a folder; allowed: a folder path")
    if not _has_files(out_dir):
        return "fresh"
    if not resume:
        raise UsageError(f"output folder {str(out_dir)!r} is not empty; allowed: --resume to finish the "
                         f"sweep saved there, another --out folder, or delete the folder first")
    saved = _saved_fingerprint(out_dir)
    if saved is None:
        raise UsageError(f"--resume: output folder {str(out_dir)!r} holds no chipstack sweep "
                         f"(no {MANIFEST} or {PARTS_DIR}/{SPEC_FILE}); allowed: a folder written by "
                         f"'chipstack sweep', or another --out folder")
    if saved != experiment.fingerprint():
        raise UsageError(f"--resume: output folder {str(out_dir)!r} holds a sweep of a different experiment "
                         f"(its design, steps, seed or parameters differ from {experiment.source}); "
                         f"allowed: the same experiment, or another --out folder")
    return "complete" if _manifest_complete(out_dir) else "partial"


def _has_files(folder: Path) -> bool:
    return folder.is_dir() and any(p.is_file() for p in folder.rglob("*"))


def _saved_fingerprint(out_dir: Path) -> str | None:
    for path in (out_dir / PARTS_DIR / SPEC_FILE, out_dir / MANIFEST):
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            return json.loads(path.read_text(encoding="utf-8"))["fingerprint"]
    return None


def _manifest_complete(out_dir: Path) -> bool:
    try:
        manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    counts = manifest.get("counts", {})
    return (manifest.get("status") == "complete" and counts.get("failed") == 0
            and counts.get("done") == counts.get("total")
            and all((out_dir / name).is_file() for name in manifest.get("files", {})))


# ---------------------------------------------------------------------------------------------
# Executors: the plug-in seam
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
    return _ProcessPool(max_workers=workers, mp_context=_mp_context(), initializer=_worker_init)


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


def _mp_context():
    """fork where available (workers start in milliseconds, modules already imported)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else None)


def _worker_init() -> None:
    """Workers ignore Ctrl-C: the main process decides what to keep and stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _executor_name(executor: Executor, workers: int) -> str:
    if isinstance(executor, InlineExecutor):
        return "inline"
    if isinstance(executor, ProcessPoolExecutor):
        return f"processes:{workers}"
    return getattr(executor, "name", type(executor).__name__)


# ---------------------------------------------------------------------------------------------
# Tasks (run in the workers)
@dataclass(frozen=True)
class Task:
    steps: int
    fixed: dict
    runs: list[Run]
    schema: pa.Schema


@dataclass
class TaskResult:
    table: pa.Table | None  # rows of the runs that finished, sorted by run_id then step
    done: list[str]  # their run ids
    failures: list[dict]


def run_task(task: Task) -> TaskResult:
    """Run a task's runs; a run that raises is recorded, the others go on."""
    frames, finished, failures = [], [], []
    for run in task.runs:
        try:
            model = ChipMarketModel(rng=run.seed, **task.fixed, **run.values)
            frames.append(model.run(task.steps))
        except Exception as exc:
            failures.append(failure_record(run, exc, traceback.format_exc()))
            continue
        finished.append(run)
    table = runs_table(frames, finished, task.schema) if frames else None
    return TaskResult(table, [run.run_id for run in finished], failures)


def failure_record(run: Run, exc: BaseException, trace: str) -> dict:
    return {"run_id": run.run_id, "replication": run.replication, "seed": run.seed,
            "sample_index": run.sample_index, **run.values,
            "error": f"{type(exc).__name__}: {exc}", "traceback": trace}


def runs_table(frames: list[pd.DataFrame], runs: list[Run], schema: pa.Schema) -> pa.Table:
    """The runs' model data with their identity and varying parameters, in ``schema``'s columns."""
    data = pd.concat(frames, ignore_index=True)
    lengths = [len(f) for f in frames]
    identity = {"run_id": [r.run_id for r in runs], "replication": [r.replication for r in runs],
                "seed": [r.seed for r in runs], "sample_index": [r.sample_index for r in runs]}
    for name in schema.names:
        if name in identity:
            data[name] = np.repeat(np.array(identity[name], dtype=object), lengths)
        elif name not in data:
            data[name] = np.repeat(np.array([r.values[name] for r in runs], dtype=object), lengths)
    return pa.Table.from_pandas(data[schema.names], schema=schema, preserve_index=False)


def output_schema(experiment: Experiment) -> pa.Schema:
    """Columns of runs.parquet (INTERFACES §5)."""
    fields = [pa.field("run_id", pa.string()), pa.field("replication", pa.int64()),
              pa.field("seed", pa.int64())]
    if experiment.sample is not None:
        fields.append(pa.field("sample_index", pa.int64()))
    fields += [pa.field(name, _arrow_type(name)) for name in experiment.varying]
    fields += [pa.field("step", pa.int64()), pa.field("quarter", pa.string())]
    fields += [pa.field(name, pa.float64()) for name in MODEL_REPORTERS]
    return pa.schema(fields)


def _arrow_type(name: str) -> pa.DataType:
    kind = PARAMS_BY_NAME[name].kind
    return {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}.get(kind, pa.string())


# ---------------------------------------------------------------------------------------------
# The main process's side of a sweep
class _Sweep:
    """State of one sweep in the main process: saved parts, failures, progress."""

    def __init__(self, experiment: Experiment, design: Design, out_dir: Path, workers: int, progress: bool):
        self.experiment, self.design, self.out_dir = experiment, design, out_dir
        self.parts_dir = out_dir / PARTS_DIR
        self.workers, self.progress = workers, progress
        self.schema = output_schema(experiment)
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
        for stale in self.parts_dir.glob(".*.tmp"):
            stale.unlink(missing_ok=True)
        if fresh or not (self.parts_dir / SPEC_FILE).is_file():
            write_json_atomic(self.parts_dir / SPEC_FILE, {"fingerprint": self.experiment.fingerprint(),
                                                           "experiment": self.experiment.resolved()})
        for path in sorted(self.parts_dir.glob("part-*.parquet")):
            ids = pq.read_table(path, columns=["run_id"])["run_id"].unique().to_pylist()
            self.parts[path] = sorted(ids)
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
                yield Task(self.experiment.steps, fixed, chunk, self.schema)
                chunk = []
            chunk.append(run)
            segment = seg
        if chunk:
            yield Task(self.experiment.steps, fixed, chunk, self.schema)

    def execute(self, executor: Executor) -> None:
        """Run every unsaved run; with a precision target, add replications in rounds."""
        bar = self._progress_bar()
        replications = np.full(self.design.n_points, self.design.replications)
        try:
            while True:
                self.rounds += 1
                self.runs = self.design.runs_for(replications) if self.rounds > 1 else self.design.runs
                if bar is not None:
                    bar.total = len(self.runs)
                    bar.refresh()
                self._run_missing(executor, bar)
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

    def _run_missing(self, executor: Executor, bar) -> None:
        saved = self.saved_ids()
        todo = sorted((run for run in self.runs if run.run_id not in saved), key=lambda r: r.run_id)
        in_flight = 1 if isinstance(executor, InlineExecutor) else 2 * self.workers
        drain(executor, self.tasks(todo), in_flight, lambda res: self.save(res, bar))

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

    def save(self, result: TaskResult, bar) -> None:
        """Write a finished task's rows as one atomic part file; note its failures."""
        if result.table is not None and result.table.num_rows:
            ids = sorted(result.done)
            path = self.parts_dir / f"part-{ids[0]}-{ids[-1]}.parquet"
            with atomic_path(path) as tmp:
                pq.write_table(result.table, tmp)
            self.parts[path] = ids
        self.failures.extend(result.failures)
        if bar is not None:
            bar.update(len(result.done) + len(result.failures))
            bar.set_postfix_str(f"failed={len(self.failures)}", refresh=False)

    def _progress_bar(self):
        if not self.progress:
            return None
        from tqdm import tqdm

        total = len(self.design.runs)
        more = " at least" if self.experiment.precision else ""
        print(f"chipstack: sweep {self.experiment.name}: {total} runs ({self.design.n_points} points x{more} "
              f"{self.experiment.replications} replications), {self.resumed} already saved, "
              f"{self.workers} workers -> {self.out_dir}", file=sys.stderr)
        return tqdm(total=total, initial=self.resumed, unit="run", desc=self.experiment.name,
                    file=sys.stderr, dynamic_ncols=True, postfix="failed=0")

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
    developers = experiment.parameters.get("n_developers", PARAMS_BY_NAME["n_developers"].default)
    developers = max([developers] + [v for v in experiment.grid.get("n_developers", [])])
    by_work = WORK_PER_TASK // max(1, experiment.steps * max(developers, 100))
    by_balance = math.ceil(n_todo / (workers * TASKS_PER_WORKER))
    return max(1, min(MAX_RUNS_PER_TASK, by_work, by_balance))


def required_replications(final: pd.DataFrame, current: np.ndarray, precision) -> np.ndarray:
    """Replications per point for a 95% CI half-width <= the target (growing at most 8x a round)."""
    from scipy.special import stdtrit  # the t quantile; scipy.stats costs 0.25 s to import

    grouped = final.groupby("point")["value"]
    n = grouped.count().reindex(range(len(current)), fill_value=0).to_numpy()
    sd = grouped.std(ddof=1).reindex(range(len(current))).fillna(0.0).to_numpy()
    need = np.maximum(n, 2)
    for _ in range(5):  # n >= (t_{n-1} sd / h)^2, solved by fixed-point iteration
        t = stdtrit(np.maximum(need, 2) - 1, 0.975)
        need = np.maximum(n, np.ceil((t * sd / precision.half_width) ** 2)).astype(int)
    need = np.minimum(need, np.maximum(8 * current, 2))
    need = np.where(n < current, current, need)  # failed runs: do not chase their replacements
    return np.minimum(need, precision.max_replications)


_WARMED = threading.Event()


def _warm_up_outputs() -> None:
    """Import what the output stage needs (scipy.stats, matplotlib, the report: ~1.5 s) in a
    background thread while the workers run, instead of serially after them.

    Called once the first tasks are submitted: a fork-based pool has started all its workers by
    then, so no worker is forked while the thread holds an import lock.
    """
    if _WARMED.is_set():
        return
    _WARMED.set()

    def imports() -> None:
        with contextlib.suppress(Exception):
            import scipy.stats  # noqa: F401

            from . import report  # noqa: F401  (imports matplotlib.pyplot)

    threading.Thread(target=imports, name="chipstack-warm-up", daemon=True).start()


def drain(executor: Executor, tasks: Iterable[Task], in_flight: int, on_result: Callable) -> None:
    """Keep ``in_flight`` tasks submitted; hand each result to ``on_result`` as it finishes.

    On Ctrl-C: tasks not yet started are cancelled, running ones are finished and saved; a second
    Ctrl-C abandons them. KeyboardInterrupt is re-raised at the end.
    """
    tasks = iter(tasks)
    pending: dict[Future, Task] = {}

    def fill() -> None:
        while len(pending) < in_flight and (task := next(tasks, None)) is not None:
            pending[executor.submit(run_task, task)] = task

    try:
        fill()
        _warm_up_outputs()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                on_result(_task_result(future, pending.pop(future)))
            fill()
    except KeyboardInterrupt:
        for future in pending:
            future.cancel()
        for future, task in pending.items():
            if not future.cancelled():
                with contextlib.suppress(Exception):
                    on_result(_task_result(future, task))
        raise


def _task_result(future: Future, task: Task) -> TaskResult:
    """The task's result; an exception outside the runs (e.g. pickling) fails the task's runs."""
    try:
        return future.result()
    except BrokenProcessPool:
        raise
    except Exception as exc:
        trace = "".join(traceback.format_exception(exc))
        return TaskResult(None, [], [failure_record(run, exc, trace) for run in task.runs])


# =============================================================================================
# Outputs
def finalize(sweep: _Sweep, started: str, report: bool, executor_name: str) -> list[Path]:
    """Merge the parts and write every output file; returns the files written."""
    out = sweep.out_dir
    keep = {run.run_id for run in sweep.runs}
    final = merge_parts(sweep.parts, out / "runs.parquet", sweep.schema, sweep.experiment.steps, keep)
    final = _in_design_order(final, sweep.runs)
    with atomic_path(out / "final.csv") as tmp:
        final.to_csv(tmp, index=False)
    write_summary(final, sweep.design, sweep.runs, out / "summary.csv")
    failures_path = out / "failures.csv"
    if sweep.failures:
        write_failures(sweep.failures, sweep.runs, failures_path)
    else:
        failures_path.unlink(missing_ok=True)
    files = [out / "runs.parquet", out / "final.csv", out / "summary.csv"]
    files += [failures_path] if sweep.failures else []
    counts = {"total": len(sweep.runs), "done": len(sweep.done_ids()), "failed": len(sweep.failures)}
    manifest = build_manifest(sweep, started, counts, executor_name)
    write_manifest(out, manifest, files, status="reporting")
    figures = _write_report(out) if report else []
    files += [p for p in figures if p.is_file()]
    manifest["finished"] = _now()
    write_manifest(out, manifest, files, status="complete")
    if not sweep.failures:
        shutil.rmtree(sweep.parts_dir, ignore_errors=True)
    return files + [out / MANIFEST]


def merge_parts(parts: dict[Path, list[str]], path: Path, schema: pa.Schema, steps: int,
                keep: set[str]) -> pd.DataFrame:
    """Stream the parts into ``path`` sorted by run_id then step; return the last step of each run.

    Parts whose run-id ranges overlap are merged together; the others one at a time, so memory
    holds about one task's rows, however many runs there are.
    """
    finals: list[pa.Table] = []
    dictionary = [f.name for f in schema if f.type == pa.string() and f.name != "run_id"]
    with atomic_path(path) as tmp, pq.ParquetWriter(tmp, schema, use_dictionary=dictionary) as writer:
        buffer: list[pa.Table] = []
        for group in overlapping_groups(parts):
            table = pa.concat_tables([pq.read_table(p, schema=schema) for p in group])
            if not all(run_id in keep for p in group for run_id in parts[p]):
                table = table.filter(pc.is_in(table["run_id"], pa.array(sorted(keep))))
            table = table.sort_by([("run_id", "ascending"), ("step", "ascending")])
            finals.append(table.filter(pc.equal(table["step"], steps - 1)))
            buffer.append(table)
            if sum(t.num_rows for t in buffer) >= ROWS_PER_ROW_GROUP:
                writer.write_table(pa.concat_tables(buffer), row_group_size=ROWS_PER_ROW_GROUP)
                buffer = []
        if buffer:
            writer.write_table(pa.concat_tables(buffer), row_group_size=ROWS_PER_ROW_GROUP)
    final = pa.concat_tables(finals) if finals else schema.empty_table()
    return final.drop_columns(["step", "quarter"]).to_pandas()


def overlapping_groups(parts: dict[Path, list[str]]) -> Iterator[list[Path]]:
    """Parts in run-id order, grouped where their [first, last] run-id ranges overlap."""
    ordered = sorted(parts.items(), key=lambda item: (item[1][0], item[1][-1]))
    group: list[Path] = []
    group_end = ""
    for path, ids in ordered:
        if group and ids[0] > group_end:
            yield group
            group = []
        group.append(path)
        group_end = max(group_end, ids[-1]) if len(group) > 1 else ids[-1]
    if group:
        yield group


def _design_position(runs: list[Run]) -> dict[str, tuple[int, int]]:
    return {run.run_id: (run.point, run.replication) for run in runs}


def _in_design_order(final: pd.DataFrame, runs: list[Run]) -> pd.DataFrame:
    """Rows sorted by design point, then replication."""
    point = final["run_id"].map({run.run_id: run.point for run in runs}).to_numpy()
    order = np.lexsort((final["replication"].to_numpy(), point))
    return final.iloc[order].reset_index(drop=True)


def write_summary(final: pd.DataFrame, design: Design, runs: list[Run], path: Path) -> None:
    """One row per design point: n_runs and mean, sd and 95% t-interval of each reporter."""
    with atomic_path(path) as tmp:
        summary_frame(final, design, runs).to_csv(tmp, index=False)


def summary_frame(final: pd.DataFrame, design: Design, runs: list[Run]) -> pd.DataFrame:
    from scipy.special import stdtrit  # the t quantile; scipy.stats costs 0.25 s to import

    point_of = {run.run_id: run.point for run in runs}
    points = pd.DataFrame([{**({"sample_index": p.sample_index} if design.sample else {}), **p.values}
                           for p in design.points])
    grouped = final.assign(_point=final["run_id"].map(point_of)).groupby("_point")
    groups = grouped[list(MODEL_REPORTERS)]
    n = grouped.size().reindex(range(len(points)), fill_value=0)
    mean = groups.mean().reindex(range(len(points)))
    sd = groups.std(ddof=1).reindex(range(len(points)))
    with np.errstate(invalid="ignore", divide="ignore"):
        t = stdtrit(n.to_numpy() - 1, 0.975)
        half = sd.to_numpy() * (t / np.sqrt(n.to_numpy()))[:, None]
    columns = {"n_runs": n.to_numpy()}
    for k, name in enumerate(MODEL_REPORTERS):
        columns[f"{name}_mean"] = mean[name].to_numpy()
        columns[f"{name}_sd"] = sd[name].to_numpy()
        columns[f"{name}_ci_low"] = mean[name].to_numpy() - half[:, k]
        columns[f"{name}_ci_high"] = mean[name].to_numpy() + half[:, k]
    return pd.concat([points, pd.DataFrame(columns)], axis=1)


def write_failures(failures: list[dict], runs: list[Run], path: Path) -> None:
    position = _design_position(runs)
    rows = sorted(failures, key=lambda f: position[f["run_id"]])
    frame = pd.DataFrame(rows)
    if frame["sample_index"].isna().all():
        frame = frame.drop(columns=["sample_index"])
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


# ---------------------------------------------------------------------------------------------
# Manifest
def build_manifest(sweep: _Sweep, started: str, counts: dict, executor_name: str) -> dict:
    exp, design = sweep.experiment, sweep.design
    return {
        "chipstack_manifest": MANIFEST_VERSION,
        "status": "running",
        "experiment": {
            "name": exp.name, "description": exp.description, "steps": exp.steps,
            "replications": exp.replications, "seed": exp.seed,
            "source": exp.source, "source_sha256": _sha256_or_none(exp.source),
            "parameters": exp.parameters, "grid": exp.grid,
            "sample": exp.sample.as_dict() if exp.sample else None,
            "spec": exp.spec,
        },
        "fixed": exp.fixed_parameters(),
        "root_seed": exp.seed,
        "varying": exp.varying,
        "design": design.manifest_entry(exp),
        "fingerprint": exp.fingerprint(),
        "reporters": list(MODEL_REPORTERS),
        "runs": [{"run_id": r.run_id, "replication": r.replication, "seed": r.seed,
                  "sample_index": r.sample_index, "params": r.values} for r in sweep.runs],
        "rounds": sweep.rounds,
        "failed_run_ids": [f["run_id"] for f in sweep.failures],
        "versions": package_versions(),
        "git": git_state(),
        "platform": platform_info(),
        "requirements_lock_sha256": _sha256_or_none(REPO_ROOT / "requirements.lock"),
        "executor": executor_name,
        "workers": sweep.workers,
        "started": started,
        "finished": _now(),
        "counts": counts,
        "files": {},
    }


def write_manifest(out: Path, manifest: dict, files: list[Path], status: str) -> None:
    manifest["status"] = status
    manifest["files"] = {p.relative_to(out).as_posix(): sha256_file(p) for p in files}
    write_json_atomic(out / MANIFEST, manifest)


def _sha256_or_none(path) -> str | None:
    try:
        return sha256_file(path)
    except (OSError, TypeError):
        return None


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _write_report(out: Path) -> list[Path]:
    """Figures and sensitivity indices from model.analysis.report; a missing or failing report only warns."""
    try:
        from model.analysis.report import write_report
    except ImportError as exc:
        print(f"chipstack: warning: no figures ({exc}); the sweep's data are saved", file=sys.stderr)
        return []
    try:
        return [Path(p) for p in write_report(out)]
    except Exception as exc:  # the data are saved; a broken figure must not lose them
        print(f"chipstack: warning: the report failed ({type(exc).__name__}: {exc}); "
              f"the sweep's data are saved; retry with 'chipstack report {out}'", file=sys.stderr)
        return []


# =============================================================================================
# The summary table printed at the end
def summary_text(out_dir: Path, reporter: str = "us_stack_share") -> str:
    """Readable table of the final ``reporter`` (mean and 95% interval) per design point."""
    manifest = json.loads((out_dir / MANIFEST).read_text(encoding="utf-8"))
    summary = pd.read_csv(out_dir / "summary.csv")
    exp = manifest["experiment"]
    counts = manifest["counts"]
    low, high = summary["n_runs"].min(), summary["n_runs"].max()
    per_point = f"{low}" if low == high else f"{low}-{high}"
    precision = manifest["design"].get("precision")
    target = (f" (until the 95% CI half-width of {precision['reporter']} <= {precision['half_width']:g},"
              f" at most {precision['max_replications']})") if precision else ""
    head = (f"chipstack sweep {exp['name']}: {counts['done']} of {counts['total']} runs done, "
            f"{counts['failed']} failed; {exp['steps']} quarters, {per_point} runs per point{target}, "
            f"root seed {manifest['root_seed']}\n"
            f"final {reporter}: mean [95% interval] per design point; outputs in {out_dir}")
    grid = manifest["design"]["grid"]
    if manifest["design"]["sample"] is not None:
        body = _sample_text(summary, out_dir, reporter)
    elif grid:
        body = _grid_text(summary, list(grid), grid, reporter)
    else:
        body = _cell(summary.iloc[0], reporter) if len(summary) else "(no runs)"
    return f"{head}\n\n{body}"


def _grid_text(summary: pd.DataFrame, axes: list[str], grid: dict, reporter: str) -> str:
    """Rows x columns from the first two axes; one table per combination of the other axes."""
    rows = axes[0]
    cols = axes[1] if len(axes) > 1 else None
    blocks = []
    for _, block in summary.groupby(axes[2:], sort=False) if len(axes) > 2 else [((), summary)]:
        title = ", ".join(f"{a} = {_fmt(block.iloc[0][a])}" for a in axes[2:])
        blocks.append((title + "\n" if title else "") + _table(block, rows, cols, grid, reporter))
    return "\n\n".join(blocks)


def _table(block: pd.DataFrame, rows: str, cols: str | None, grid: dict, reporter: str) -> str:
    col_values = grid[cols] if cols else [None]
    width = 24
    corner = f"{rows} \\ {cols}" if cols else rows
    label_width = max(len(corner), *(len(_fmt(v)) for v in grid[rows])) + 2
    titles = [_fmt(c) if cols else reporter for c in col_values]
    lines = [f"{corner:<{label_width}}" + "".join(f"{t:>{width}}" for t in titles)]
    for r in grid[rows]:
        cells = []
        for c in col_values:
            match = block[_equal(block[rows], r) & (_equal(block[cols], c) if cols else True)]
            cells.append(_cell(match.iloc[0], reporter) if len(match) else "-")
        lines.append(f"{_fmt(r):<{label_width}}" + "".join(f"{cell:>{width}}" for cell in cells))
    return "\n".join(lines)


def _equal(column: pd.Series, value) -> pd.Series:
    if isinstance(value, float) or isinstance(value, int) and not isinstance(value, bool):
        return np.isclose(column.astype(float), float(value))
    return column.astype(str) == str(value)


def _sample_text(summary: pd.DataFrame, out_dir: Path, reporter: str) -> str:
    values = summary[f"{reporter}_mean"].dropna()
    text = (f"{len(summary)} sample points: final {reporter} across points "
            f"mean {values.mean():.3f}, min {values.min():.3f}, max {values.max():.3f}")
    sensitivity = out_dir / "sensitivity.csv"
    if sensitivity.is_file():
        table = pd.read_csv(sensitivity)
        text += f"\n\nsensitivity indices ({sensitivity}):\n" + table.head(20).to_string(index=False)
    return text


def _cell(row: pd.Series, reporter: str) -> str:
    mean, low, high = (row[f"{reporter}_{k}"] for k in ("mean", "ci_low", "ci_high"))
    if pd.isna(mean):
        return "n/a"
    if pd.isna(low):
        return f"{mean:.3f}"
    return f"{mean:.3f} [{low:.3f}, {high:.3f}]"


def _fmt(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
