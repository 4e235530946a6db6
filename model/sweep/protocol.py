"""What a Mesa model class must offer to be swept, and the helpers the sweep uses to run one.

A model class is sweepable when it has

* ``cls.parameter_table()``: a tuple of :class:`model.core.parameters.Param` (name, default, kind,
  unit, range or choices, ...), the parameters an experiment may set; their values are validated with
  :func:`model.core.parameters.validate_value` against that table;
* ``cls.reporter_table()``: a tuple of :class:`model.core.reporters.Reporter` (name, label, unit,
  scale), the output columns in order;
* construction as ``cls(rng=seed, **parameters)``, ``model.step()`` once per step, and one row per
  step in ``model.datacollector.get_model_vars_dataframe()`` whose columns include every reporter
  name (values taken as float64);
* optionally ``model.time_label(step) -> str``, the ``quarter`` column of the outputs
  (``ChipMarketModel``: '2026Q1', ...); without it the column holds the step number as text;
* optionally ``model.chip_sales_table() -> DataFrame``, a row per chip and step with sales: columns
  ``step``, ``quarter``, ``chip``, ``maker`` and :data:`CHIP_VALUES` (``ChipMarketModel``: units,
  revenue and FLOP-based compute sold). A class that has it gets the sweep's second table,
  ``chip_sales.parquet`` (:func:`has_chip_table`).

The class is named in the manifest as ``module:qualname`` (:func:`model_path`), and ``replicate``
imports it back from there (:func:`import_model`); workers receive it pickled by reference, so it
must live at module level in an importable module. ``ChipMarketModel`` is the default
(:data:`DEFAULT_MODEL`, imported only when asked for).
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

from model.core.parameters import Param
from model.core.reporters import CHIP_VALUES, Reporter
from model.sweep.errors import UsageError

#: The model class of the ``chipstack`` command and of experiment files.
DEFAULT_MODEL = "model.core.chip_market:ChipMarketModel"


@runtime_checkable
class SweepableModel(Protocol):
    """A Mesa model class the sweep can run (see the module docstring)."""

    datacollector: Any  # a mesa.DataCollector with one model-reporter row per step

    @classmethod
    def parameter_table(cls) -> tuple[Param, ...]: ...

    @classmethod
    def reporter_table(cls) -> tuple[Reporter, ...]: ...

    def step(self) -> None: ...


def default_model() -> type:
    """The default model class, ``ChipMarketModel``."""
    return import_model(DEFAULT_MODEL)


def model_path(cls: type) -> str:
    """``module:qualname`` of a model class, as the manifest records it."""
    return f"{cls.__module__}:{cls.__qualname__}"


def import_model(path: str) -> type:
    """The class named ``module:qualname`` (as :func:`model_path` writes it). Raises UsageError."""
    module_name, _, qualname = str(path).partition(":")
    try:
        target: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            target = getattr(target, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UsageError(f"model class {path!r} cannot be imported ({type(exc).__name__}: {exc}); allowed: "
                         f"module:qualname of a class importable here") from None
    check_model_class(target, path)
    return target


def check_model_class(cls: Any, name: str | None = None) -> type:
    """``cls`` if it is a class with ``parameter_table``, ``reporter_table`` and ``step``; else UsageError."""
    missing = [attr for attr in ("parameter_table", "reporter_table", "step") if not hasattr(cls, attr)]
    if not isinstance(cls, type) or missing:
        what = name or getattr(cls, "__qualname__", repr(cls))
        raise UsageError(f"model class {what}: not sweepable (missing {', '.join(missing) or 'a class'}); "
                         f"allowed: a Mesa model class with the methods of model.sweep.protocol")
    return cls


def parameters_of(cls: type) -> tuple[Param, ...]:
    return tuple(cls.parameter_table())


def parameters_by_name(cls: type) -> dict[str, Param]:
    return {p.name: p for p in parameters_of(cls)}


def reporter_names(cls: type) -> tuple[str, ...]:
    """The output columns of ``cls``, in order."""
    return tuple(r.name for r in cls.reporter_table())


def time_label(model: Any, step: int) -> str:
    """The ``quarter`` column's text for ``step``: the model's ``time_label`` if it has one, else the step."""
    label = getattr(model, "time_label", None)
    return str(label(step)) if callable(label) else str(step)


#: The columns of a model's per-chip table (``chip_sales_table``), in order; the values are float64.
CHIP_COLUMNS = ("step", "quarter", "chip", "maker", *CHIP_VALUES)


def has_chip_table(cls: type) -> bool:
    """Whether runs of ``cls`` have a per-chip table (``model.chip_sales_table()``)."""
    return callable(getattr(cls, "chip_sales_table", None))


def run_model(cls: type, seed: int, parameters: dict[str, Any], steps: int
              ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """One run: ``cls(rng=seed, **parameters)`` stepped ``steps`` times; its rows, with columns
    ``step``, ``quarter`` and every reporter (float64), and its per-chip rows (:data:`CHIP_COLUMNS`;
    None for a class without :func:`has_chip_table`). Raises ValueError when the model's data
    collector does not hold one row per step with every reporter, or the per-chip table lacks a column."""
    model = cls(rng=seed, **parameters)
    for _ in range(steps):
        model.step()
    data = model.datacollector.get_model_vars_dataframe()
    names = reporter_names(cls)
    missing = [name for name in names if name not in data.columns]
    if missing or len(data) != steps:
        raise ValueError(f"{model_path(cls)}: the data collector holds {len(data)} rows for {steps} steps"
                         + (f" and lacks the reporters {missing}" if missing else "")
                         + "; allowed: one row per step (collect once in step()) with every reporter "
                           "of reporter_table()")
    columns: dict[str, Any] = {"step": np.arange(steps),
                               "quarter": [time_label(model, k) for k in range(steps)]}
    columns.update({name: np.asarray(data[name], dtype=float) for name in names})
    return pd.DataFrame(columns), (chip_rows(model) if has_chip_table(cls) else None)


def chip_rows(model: Any) -> pd.DataFrame:
    """``model.chip_sales_table()`` in :data:`CHIP_COLUMNS` (values as float64). Raises ValueError."""
    table = model.chip_sales_table()
    missing = [c for c in CHIP_COLUMNS if c not in table.columns]
    if missing:
        raise ValueError(f"{model_path(type(model))}: chip_sales_table() lacks the columns {missing}; "
                         f"allowed: {', '.join(CHIP_COLUMNS)}")
    return table[list(CHIP_COLUMNS)].astype({c: float for c in CHIP_VALUES})
