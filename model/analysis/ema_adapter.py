"""EMA Workbench adapter: chipstack as a workbench ``Model`` (docs/EXPLORING.md).

    from ema_workbench import perform_experiments
    from model.analysis.ema_adapter import ema_model

    model = ema_model(
        uncertainties={"huawei_capacity_2026": (200_000, 3_000_000),
                       "china_import_policy": ["decides", "open", "restrict", "ban"]},
        levers={"export_regime": ["h20", "threshold", "lagged", "open"]},
        constants={"n_developers": 300}, steps=20)
    experiments, outcomes = perform_experiments(model, scenarios=64, policies=4)

Uncertainties and levers are declared from the parameter table (``model.core.parameters.PARAMS``):
a ``(low, high)`` pair becomes a ``RealParameter`` (``IntegerParameter`` for an integer parameter), a
list a ``CategoricalParameter`` (``BooleanParameter`` for a boolean one); ranges and values are
checked as for experiment files. Outcomes are reporters (``model.core.reporters``) at the last
quarter, ``ScalarOutcome`` each (default: all of them). Each experiment's seed comes from its
uncertainty values and ``seed`` alone, so the same scenario gets the same seed under every policy:
common random numbers, as in ``chipstack sweep`` with ``[levers]`` (``model.sweep.design``).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from model.core.chip_market import MODEL_REPORTERS, ChipMarketModel
from model.core.parameters import PARAMS_BY_NAME, suggest, validate_value
from model.sweep.design import make_run_id, run_seed
from model.sweep.errors import UsageError


class ChipstackFunction:
    """The callable EMA runs: parameters in, the reporters' last-quarter values out (picklable, so
    EMA's multiprocessing evaluator can ship it to workers)."""

    def __init__(self, steps: int, seed: int, uncertainties: Sequence[str], outcomes: Sequence[str]):
        self.steps, self.seed = int(steps), int(seed)
        self.uncertainties, self.outcomes = list(uncertainties), list(outcomes)

    def seed_for(self, params: Mapping[str, Any]) -> int:
        future = {k: _plain(params[k]) for k in self.uncertainties if k in params}
        return run_seed(self.seed, make_run_id(future, None, 0))

    def __call__(self, **params) -> dict[str, float]:
        params = {k: _plain(v) for k, v in params.items()}
        model = ChipMarketModel(rng=self.seed_for(params), **params)
        last = model.run(self.steps).iloc[-1]
        return {name: float(last[name]) for name in self.outcomes}


def _plain(value: Any) -> Any:
    """numpy scalars -> Python (the model's validation and canonical JSON want plain values)."""
    return value.item() if hasattr(value, "item") else value


def _parameter(name: str, spec: Any, where: str):
    from ema_workbench import BooleanParameter, CategoricalParameter, IntegerParameter, RealParameter

    if name not in PARAMS_BY_NAME or name in ("rng", "seed"):
        raise UsageError(f"{where} {name!r}: unknown parameter{suggest(name)}; allowed: a model parameter")
    kind = PARAMS_BY_NAME[name].kind
    try:
        if isinstance(spec, tuple):
            if kind not in ("int", "float") or len(spec) != 2:
                raise ValueError(f"(low, high) is for a numeric parameter; {name} is a {kind}: "
                                 "give a list of values")
            low, high = (validate_value(name, v) for v in spec)
            if not low < high:
                raise ValueError(f"low {low} is not below high {high}")
            return (IntegerParameter(name, int(low), int(high)) if kind == "int"
                    else RealParameter(name, float(low), float(high)))
        values = [validate_value(name, v) for v in spec]
    except ValueError as exc:
        raise UsageError(f"{where} {name} = {spec!r}: {exc}") from None
    if len(values) < 2:
        raise UsageError(f"{where} {name} = {spec!r}: fewer than two values; allowed: a list of two or more "
                         f"values (fix a single value in constants)")
    if kind == "bool" and set(values) == {True, False}:
        return BooleanParameter(name)
    return CategoricalParameter(name, values)


def _checked_constant(name: str, value: Any) -> Any:
    if name not in PARAMS_BY_NAME or name in ("rng", "seed"):
        raise UsageError(f"constants {name!r}: unknown parameter{suggest(name)}; allowed: a model parameter")
    try:
        return validate_value(name, value)
    except ValueError as exc:
        raise UsageError(f"constants {name} = {value!r}: {exc}") from None


def ema_model(uncertainties: Mapping[str, Any], levers: Mapping[str, Any] | None = None,
              outcomes: Sequence[str] | None = None, constants: Mapping[str, Any] | None = None,
              steps: int = 20, seed: int = 0, name: str = "chipstack"):
    """A workbench ``Model`` that runs chipstack; see the module docstring. Raises UsageError."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from ema_workbench import Constant, Model, ScalarOutcome
    outcomes = list(outcomes or MODEL_REPORTERS)
    bad = [o for o in outcomes if o not in MODEL_REPORTERS]
    if bad:
        raise UsageError(f"outcomes {bad}: unknown reporter(s); allowed: {', '.join(MODEL_REPORTERS)}")
    constants = {k: _checked_constant(k, v) for k, v in (constants or {}).items()}
    names = list(uncertainties) + list(levers or {}) + list(constants)
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise UsageError(f"{repeated}: in more than one of uncertainties, levers, constants; "
                         "allowed: each once")
    model = Model(name, function=ChipstackFunction(steps, seed, list(uncertainties), outcomes))
    model.uncertainties = [_parameter(k, v, "uncertainties") for k, v in uncertainties.items()]
    model.levers = [_parameter(k, v, "levers") for k, v in (levers or {}).items()]
    model.outcomes = [ScalarOutcome(o) for o in outcomes]
    model.constants = [Constant(k, v) for k, v in constants.items()]
    return model
