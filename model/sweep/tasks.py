"""Tasks, the unit of work sent to the workers: several runs of one model class, their rows as one
Arrow table, and the loop (:func:`drain`) that keeps the executor busy and hands each result back.

A task carries its model class (``Task.model_cls``, any class of :mod:`model.sweep.protocol`: built as
``model_cls(rng=seed, **params)``, stepped, its rows read from its data collector), so a worker process
needs only to be able to import that class (pickled by reference).
"""

from __future__ import annotations

import contextlib
import threading
import traceback
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from model.sweep.design import Run
from model.sweep.errors import quiet_floating_point
from model.sweep.experiment import Experiment
from model.sweep.interrupts import signals_deferred, stop
from model.sweep.protocol import parameters_by_name, reporter_names, run_model


# ---------------------------------------------------------------------------------------------
# Tasks (run in the workers)
@dataclass(frozen=True)
class Task:
    steps: int
    fixed: dict
    runs: list[Run]
    schema: pa.Schema
    model_cls: type  # run as model_cls(rng=seed, **fixed, **run.values); must be importable by workers
    chips: pa.Schema | None = None  # the per-chip table's columns (chip_table.chip_schema()), if any


@dataclass
class TaskResult:
    table: pa.Table | None  # rows of the runs that finished, sorted by run_id then step
    done: list[str]  # their run ids
    failures: list[dict]
    chips: pa.Table | None = None  # their per-chip rows (Task.chips' columns), when the model has the table


def run_task(task: Task) -> TaskResult:
    """Run a task's runs; a run that raises is recorded, the others go on."""
    frames, chips, finished, failures = [], [], [], []
    for run in task.runs:
        try:
            with quiet_floating_point():  # a run that overflows is a failure in failures.csv, not warnings
                values = {**task.fixed, **run.values}
                frame, chip_rows = run_model(task.model_cls, run.seed, values, task.steps)
        except Exception as exc:
            failures.append(failure_record(run, exc, traceback.format_exc()))
            continue
        frames.append(frame)
        if chip_rows is not None:
            chips.append(chip_rows.assign(run_id=run.run_id))
        finished.append(run)
    table = runs_table(frames, finished, task.schema) if frames else None
    chip_table = chips_table(chips, task.chips) if chips and task.chips is not None else None
    return TaskResult(table, [run.run_id for run in finished], failures, chip_table)


def chips_table(frames: list[pd.DataFrame], schema: pa.Schema) -> pa.Table:
    """The finished runs' per-chip rows (each with its ``run_id``) in ``schema``'s columns."""
    data = pd.concat(frames, ignore_index=True)
    return pa.Table.from_pandas(data[schema.names], schema=schema, preserve_index=False)


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
    params = parameters_by_name(experiment.model_cls)
    fields += [pa.field(name, _arrow_type(params[name].kind)) for name in experiment.varying]
    fields += [pa.field("step", pa.int64()), pa.field("quarter", pa.string())]
    fields += [pa.field(name, pa.float64()) for name in reporter_names(experiment.model_cls)]
    return pa.schema(fields)


def _arrow_type(kind: str) -> pa.DataType:
    return {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_()}.get(kind, pa.string())


def _start_warm_up(warm_up: Callable[[], None]) -> None:
    """Run ``warm_up`` (imports for the output stage, e.g. the report's matplotlib: ~1.5 s) in a
    background thread while the workers run, instead of serially after them.

    Called once the first tasks are submitted: a fork-based pool has started all its workers by
    then, so no worker is forked while the thread holds an import lock.
    """

    def run() -> None:
        with contextlib.suppress(Exception):
            warm_up()

    threading.Thread(target=run, name="chipstack-warm-up", daemon=True).start()


def drain(executor: Executor, tasks: Iterable[Task], in_flight: int, on_result: Callable,
          warm_up: Callable[[], None] | None = None, notify: Callable[[str], None] | None = None) -> None:
    """Keep ``in_flight`` tasks submitted; hand each result to ``on_result`` as it finishes
    (``warm_up``, if given, runs in a background thread once the first tasks are submitted).

    A result is handed over with Ctrl-C and SIGTERM deferred, so a finished task is never lost. On
    Ctrl-C: tasks not yet started are cancelled, running ones are finished and saved (``notify`` says
    so); a second Ctrl-C or SIGTERM saves what finished and kills the workers
    (:mod:`model.sweep.interrupts`). KeyboardInterrupt is re-raised at the end.
    """
    tasks = iter(tasks)
    pending: dict[Future, Task] = {}

    def fill() -> None:
        while len(pending) < in_flight and (task := next(tasks, None)) is not None:
            pending[executor.submit(run_task, task)] = task

    def save(future: Future) -> None:
        on_result(_task_result(future, pending.pop(future)))

    try:
        fill()
        if warm_up is not None:
            _start_warm_up(warm_up)
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                with signals_deferred():
                    save(future)
            fill()
    except KeyboardInterrupt as interrupt:
        stop(executor, pending, save, interrupt, notify)
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
