"""The experiment file's schema (INTERFACES §4) and its one-line error messages.

The structure (sections, keys, types) is checked by pydantic (:class:`ExperimentFile`); parameter
names and values against the model class's parameter table (``model_cls.parameter_table()``, through
``model.core.parameters.validate_value``), with overlaps, sample ranges and the design's size, by
:func:`validate`, which returns the :class:`~model.sweep.experiment.Experiment`. Every problem is a
:class:`~model.sweep.errors.UsageError` whose one-line message names the file, the key, the value and
what is allowed; most of this module is those messages.
"""

from __future__ import annotations

import difflib
import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from model.core.limits import MAX_SEED, MAX_STEPS
from model.core.parameters import suggest, validate_value
from model.sweep.draws import posterior_sample
from model.sweep.errors import UsageError
from model.sweep.experiment import Experiment, Precision, SampleSpec, too_small
from model.sweep.protocol import check_model_class, parameters_by_name, parameters_of, reporter_names

NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_REPLICATIONS = 100_000
MAX_SAMPLE_N = 1_000_000
MAX_RUNS = 5_000_000
SAMPLE_METHODS = ("lhs", "sobol", "morris")
#: Sample methods that take categorical values ([sample.choices], [uncertainties.choices]): a Latin
#: hypercube or Sobol' column each, value k of m where the unit draw is in [k/m, (k+1)/m).
CHOICE_METHODS = ("lhs", "sobol")
#: Parameters an experiment may not vary or fix: the runner sets them itself.
RESERVED = ("rng", "seed")

ALLOWED: dict[tuple[str, ...], str] = {
    ("experiment",): "a table [experiment] with keys name, description, steps, replications, seed "
                     "(and optionally target_half_width, target_reporter, max_replications)",
    ("experiment", "name"): "letters, digits, - and _ only (it names the output folder under outputs/)",
    ("experiment", "description"): "a string",
    ("experiment", "steps"): f"an integer from 1 to {MAX_STEPS}",
    ("experiment", "replications"): f"an integer from 1 to {MAX_REPLICATIONS}",
    ("experiment", "seed"): f"an integer from 0 to {MAX_SEED}",
    ("experiment", "target_half_width"): "a number > 0 (95% CI half-width of the mean to reach per point)",
    ("experiment", "target_reporter"): "a model reporter's name",
    ("experiment", "max_replications"): f"an integer from 1 to {MAX_REPLICATIONS}, at least replications",
    ("parameters",): "a table of parameter = value",
    ("grid",): "a table of parameter = [value, ...]",
    ("sample",): "a table [sample] with keys method, n, seed, num_levels and a table [sample.ranges]",
    ("sample", "method"): "one of " + ", ".join(SAMPLE_METHODS),
    ("sample", "n"): f"an integer from 1 to {MAX_SAMPLE_N} (a power of 2 for sobol; at least 2 for sobol "
                     f"and morris)",
    ("sample", "seed"): f"an integer from 0 to {MAX_SEED} (default: the experiment's seed)",
    ("sample", "num_levels"): "an even integer from 2 to 100 (morris only; default 4)",
    ("sample", "ranges"): "a table of parameter = [low, high]",
    ("sample", "choices"): "a table of parameter = [value, ...] (method lhs or sobol)",
    ("levers",): "a table of parameter = [value, ...] (policies, crossed in full)",
    ("uncertainties",): "a table [uncertainties] with keys method, n, seed, num_levels and tables "
                        "[uncertainties.ranges] and [uncertainties.choices]",
    ("uncertainties", "method"): "one of " + ", ".join(SAMPLE_METHODS) + ", posterior (with draws)",
    ("uncertainties", "draws"): "with method 'posterior': a Parquet file of weighted draws (a column "
                                "'weight' > 0 and one numeric column per model parameter), e.g. "
                                "docs/validation/calibration/posterior.parquet",
    ("uncertainties", "n"): f"an integer from 1 to {MAX_SAMPLE_N} (a power of 2 for sobol; at least 2 for "
                            f"sobol and morris)",
    ("uncertainties", "seed"): f"an integer from 0 to {MAX_SEED} (default: the experiment's seed)",
    ("uncertainties", "num_levels"): "an even integer from 2 to 100 (morris only; default 4)",
    ("uncertainties", "ranges"): "a table of parameter = [low, high]",
    ("uncertainties", "choices"): "a table of parameter = [value, ...] (method lhs or sobol)",
    ("game",): "a table [game] with tables [game.us], [game.china] and optionally [game.futures] "
               "(docs/EXPLORING.md §6)",
}


# ---------------------------------------------------------------------------------------------
# Structure, checked by pydantic
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExperimentSection(_Strict):
    name: Annotated[StrictStr, Field(pattern=NAME_PATTERN, min_length=1, max_length=100)]
    description: StrictStr = ""
    steps: Annotated[StrictInt, Field(ge=1, le=MAX_STEPS)] = 20
    replications: Annotated[StrictInt, Field(ge=1, le=MAX_REPLICATIONS)] = 1
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED)] = 0
    target_half_width: Annotated[StrictFloat | StrictInt, Field(gt=0)] | None = None
    target_reporter: StrictStr | None = None  # default: the model's first reporter; checked by validate
    max_replications: Annotated[StrictInt, Field(ge=1, le=MAX_REPLICATIONS)] = 1000


class SampleSection(_Strict):
    method: Literal["lhs", "sobol", "morris"]
    n: Annotated[StrictInt, Field(ge=1, le=MAX_SAMPLE_N)]
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED)] | None = None
    num_levels: Annotated[StrictInt, Field(ge=2, le=100)] | None = None
    ranges: dict[str, list[Any]] = {}
    choices: dict[str, list[Any]] = {}


class UncertaintiesSection(_Strict):
    method: Literal["lhs", "sobol", "morris", "posterior"]
    n: Annotated[StrictInt, Field(ge=1, le=MAX_SAMPLE_N)]
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED)] | None = None
    num_levels: Annotated[StrictInt, Field(ge=2, le=100)] | None = None
    ranges: dict[str, list[Any]] = {}
    choices: dict[str, list[Any]] = {}
    draws: StrictStr | None = None


class ExperimentFile(_Strict):
    experiment: ExperimentSection
    parameters: dict[str, Any] = {}
    grid: dict[str, list[Any]] = {}
    sample: SampleSection | None = None
    levers: dict[str, list[Any]] = {}
    uncertainties: UncertaintiesSection | None = None
    game: dict[str, Any] | None = None  # the policy game; checked by model.sweep.game_spec


def validate(data: dict, source: str, model_cls: type) -> Experiment:
    """Experiment data (a parsed TOML file, or a manifest's ``experiment.spec``) validated against
    ``model_cls``'s parameters and reporters. Raises UsageError."""
    try:
        parsed = ExperimentFile.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source}: {_describe(exc.errors()[0])}") from None
    except RecursionError:
        raise UsageError(f"{source}: values nested too deeply; allowed: the sections of docs/INTERFACES.md "
                         f"§4, with flat lists of values") from None
    return _Checker(source, model_cls).experiment(parsed, data)


# ---------------------------------------------------------------------------------------------
# Error messages for structural problems
def _describe(error: dict) -> str:
    loc = tuple(str(part) for part in error["loc"])
    kind = error["type"]
    if kind == "extra_forbidden":
        return _unknown_key(loc)
    if kind == "missing":
        return f"missing {_where(loc)}; allowed: {ALLOWED.get(loc, 'required')}"
    allowed = ALLOWED.get(loc) or ALLOWED.get(loc[:2]) or ALLOWED.get(loc[:1]) or error["msg"]
    value = error.get("input")
    return f"{_where(loc)} = {_show(value)}: invalid value ({error['msg'].lower()}); allowed: {allowed}"


def _unknown_key(loc: tuple[str, ...]) -> str:
    models = {(): ExperimentFile, ("experiment",): ExperimentSection, ("sample",): SampleSection,
              ("uncertainties",): UncertaintiesSection}
    parent, key = loc[:-1], loc[-1]
    known = list(models[parent].model_fields) if parent in models else []
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    if not parent:
        return f"unknown section [{key}]{hint}; allowed sections: " + ", ".join(f"[{k}]" for k in known)
    return f"unknown key {key!r} in [{'.'.join(parent)}]{hint}; allowed keys: {', '.join(known)}"


def _where(loc: tuple[str, ...]) -> str:
    if len(loc) == 1:
        return f"[{loc[0]}]"
    return f"[{loc[0]}] {'.'.join(loc[1:])}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _identity(value: Any) -> str:
    """What makes two grid values the same point: -0.0 is 0.0 (the model cannot tell them apart)."""
    return repr(value + 0.0 if isinstance(value, float) else value)


# ---------------------------------------------------------------------------------------------
# Semantic checks: parameter names and values (of the model class), overlaps, sizes
class _Checker:
    """The semantic checks of one file (``source``) against one model class's tables."""

    def __init__(self, source: str, model_cls: type):
        self.source, self.model_cls = source, check_model_class(model_cls)
        self.table = parameters_of(model_cls)
        self.params = parameters_by_name(model_cls)
        self.reporters = reporter_names(model_cls)

    def fail(self, message: str) -> UsageError:
        return UsageError(f"{self.source}: {message}")

    def experiment(self, parsed: ExperimentFile, data: dict) -> Experiment:
        fixed = {name: self.value("parameters", name, value) for name, value in parsed.parameters.items()}
        exploratory = bool(parsed.levers) or parsed.uncertainties is not None
        game = None
        if parsed.game is not None:
            game = self.game(parsed)
            grid, sample = game.grid, None
            places = {"[parameters]": list(fixed), "[game.us.strategies]": list(game.us.strategies),
                      "[game.china.strategies]": list(game.china.strategies),
                      "[game.futures]": list(game.futures)}
        elif exploratory:
            self.exploratory_sections(parsed)
            grid = {name: self.axis(name, values, "levers") for name, values in parsed.levers.items()}
            sample = self.sample(parsed.uncertainties, parsed.experiment.seed, "uncertainties")
            places = {"[parameters]": list(fixed), "[levers]": list(grid),
                      "[uncertainties.ranges]": list(sample.ranges),
                      "[uncertainties.choices]": list(sample.choices)}
        else:
            grid = {name: self.axis(name, values) for name, values in parsed.grid.items()}
            sample = self.sample(parsed.sample, parsed.experiment.seed) if parsed.sample else None
            places = {"[parameters]": list(fixed), "[grid]": list(grid),
                      "[sample.ranges]": list(sample.ranges) if sample else [],
                      "[sample.choices]": list(sample.choices) if sample else []}
        self.overlaps(places)
        section = parsed.experiment
        exp = Experiment(
            name=section.name, description=section.description, steps=section.steps,
            replications=section.replications, seed=section.seed, parameters=fixed, grid=grid,
            sample=sample, precision=self.precision(section), source=self.source, spec=data,
            levers=game.levers if game else tuple(grid) if exploratory else (), model_cls=self.model_cls,
            game=game,
        )
        if exp.n_runs() > MAX_RUNS:
            raise self.fail(f"the design has {exp.n_runs()} runs; allowed: at most {MAX_RUNS} "
                            f"(reduce [grid], [sample] n or replications)")
        return exp

    def precision(self, section: ExperimentSection) -> Precision | None:
        reporter = self.reporters[0] if section.target_reporter is None else section.target_reporter
        if reporter not in self.reporters:
            raise self.fail(f"[experiment] target_reporter = {_show(reporter)}: invalid value; "
                            f"allowed: one of {', '.join(self.reporters)}")
        if section.target_half_width is None:
            return None
        if section.max_replications < section.replications:
            raise self.fail(f"[experiment] max_replications = {section.max_replications}: below "
                            f"replications = {section.replications}; "
                            f"allowed: {ALLOWED[('experiment', 'max_replications')]}")
        return Precision(float(section.target_half_width), reporter, section.max_replications)

    def name(self, section: str, name: str) -> None:
        if name in RESERVED:
            raise self.fail(f"[{section}] {name}: not a model parameter (the runner derives each run's seed "
                            f"from [experiment] seed); allowed: a model parameter name")
        if name not in self.params:
            raise self.fail(f"[{section}] {name}: unknown parameter{suggest(name, self.table)}; allowed: a "
                            f"model parameter, one of {', '.join(sorted(self.params))}")

    def value(self, section: str, name: str, value: Any) -> Any:
        self.name(section, name)
        try:
            return validate_value(name, value, self.table)
        except ValueError as exc:
            raise self.fail(f"[{section}] {name} = {_show(value)}: {exc}") from None
        except OverflowError:
            raise self.fail(f"[{section}] {name} = {_show(value)}: too large to be a number; allowed: "
                            f"{self.params[name].allowed()}") from None

    def axis(self, name: str, values: list, section: str = "grid") -> list:
        self.name(section, name)
        if not values:
            raise self.fail(f"[{section}] {name} = []: empty list; allowed: a non-empty list of values")
        checked = [self.value(section, name, v) for v in values]
        if len(set(map(_identity, checked))) != len(checked):
            raise self.fail(f"[{section}] {name} = {_show(values)}: repeated value; allowed: distinct values")
        return checked

    def game(self, parsed: ExperimentFile):
        """[game]: the policy game (model.sweep.game_spec), alone in place of the design sections."""
        from model.sweep.game_spec import parse_game

        for other in ("grid", "sample", "levers", "uncertainties"):
            if getattr(parsed, other):
                raise self.fail(f"[{other}] given with [game]; allowed: [game] alone (its strategies and "
                                f"futures are the design), or [{other}] without [game]")
        return parse_game(parsed.game, self.source, self.reporters, self.axis)

    def exploratory_sections(self, parsed: ExperimentFile) -> None:
        """[levers] and [uncertainties] come together, and without [grid] and [sample]."""
        for other in ("grid", "sample"):
            if getattr(parsed, other):
                raise self.fail(f"[{other}] given with [levers]/[uncertainties]; allowed: either "
                                f"[grid]/[sample], or [levers] (policies) with [uncertainties] (futures), "
                                f"not both")
        if not parsed.levers:
            raise self.fail("[levers] is missing or empty; allowed: with [uncertainties], a table [levers] "
                            "of parameter = [value, ...] (the policies to compare)")
        if parsed.uncertainties is None:
            raise self.fail("[uncertainties] is missing; allowed: with [levers], a table [uncertainties] "
                            "with method, n and [uncertainties.ranges] (the futures every policy runs on)")

    def sample(self, section: SampleSection | UncertaintiesSection, experiment_seed: int,
               where: str = "sample") -> SampleSpec:
        choices_given = getattr(section, "choices", {})
        if section.method == "posterior" or getattr(section, "draws", None) is not None:
            return posterior_sample(self, section, experiment_seed)
        if not section.ranges and not choices_given:
            raise self.fail(f"[{where}.ranges] is empty; allowed: at least one parameter = [low, high]")
        ranges = {name: self.range(name, bounds, f"{where}.ranges")
                  for name, bounds in section.ranges.items()}
        choices = {name: tuple(self.axis(name, values, f"{where}.choices"))
                   for name, values in choices_given.items()}
        if choices and section.method not in CHOICE_METHODS:
            raise self.fail(f"[{where}.choices] with method {section.method!r}; allowed: categorical "
                            f"values with method {' or '.join(map(repr, CHOICE_METHODS))} only (or move "
                            f"{', '.join(choices)} to [{'levers' if where == 'uncertainties' else 'grid'}])")
        if too_small(section.method, section.n):
            raise self.fail(f"[{where}] n = {section.n}: too small; allowed: "
                            f"{too_small(section.method, section.n)}")
        if section.method == "sobol" and section.n & (section.n - 1):
            raise self.fail(f"[{where}] n = {section.n}: invalid value for method 'sobol'; allowed: a power "
                            f"of 2 (e.g. {1 << max(0, section.n.bit_length() - 1)} or "
                            f"{1 << section.n.bit_length()})")
        if section.method == "morris":
            levels = 4 if section.num_levels is None else section.num_levels
            if levels % 2:
                raise self.fail(f"[{where}] num_levels = {levels}: invalid value; "
                                f"allowed: {ALLOWED[('sample', 'num_levels')]}")
        elif section.num_levels is not None:
            raise self.fail(f"[{where}] num_levels = {section.num_levels}: only for method 'morris'; "
                            f"allowed: leave it out for method {section.method!r}")
        return SampleSpec(method=section.method, n=section.n, ranges=ranges,
                          seed=experiment_seed if section.seed is None else section.seed,
                          num_levels=(section.num_levels or 4) if section.method == "morris" else None,
                          choices=choices,
                          integers=tuple(name for name in ranges if self.params[name].kind == "int"))

    def range(self, name: str, bounds: list, where: str = "sample.ranges") -> tuple[float, float]:
        self.name(where, name)
        param = self.params[name]
        if param.kind not in ("int", "float"):
            other = "[uncertainties.choices]" if where.startswith("uncertainties") else "[grid]"
            raise self.fail(f"[{where}] {name}: a {param.kind} parameter cannot be sampled; "
                            f"allowed: a numeric parameter (put {name} in {other} instead)")
        numeric = all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
        if len(bounds) != 2 or not numeric:
            raise self.fail(f"[{where}] {name} = {_show(bounds)}: invalid value; allowed: [low, high], "
                            f"two numbers with low < high within {param.allowed()}")
        low, high = (self.value(where, name, b) for b in bounds)
        if not (math.isfinite(low) and math.isfinite(high)):  # a cap off (inf) is no bound to draw from
            other = ("[levers] or [uncertainties.choices]" if where.startswith("uncertainties") else "[grid]")
            raise self.fail(f"[{where}] {name} = {_show(bounds)}: inf (off) cannot bound a sampled range; "
                            f"allowed: two finite numbers within {param.allowed().split(', or inf')[0]}; to "
                            f"compare the cap off with caps, list the values in {other}, e.g. "
                            f"{name} = [inf, 75000]")
        if not low < high:
            raise self.fail(f"[{where}] {name} = {_show(bounds)}: low is not below high; allowed: "
                            f"[low, high] with low < high")
        return float(low), float(high)

    def overlaps(self, places: dict[str, list[str]]) -> None:
        seen: dict[str, str] = {}
        for place, names in places.items():
            for name in names:
                if name in seen:
                    raise self.fail(f"{place} {name}: also in {seen[name]}; allowed: each parameter in one "
                                    "place (fixed in [parameters], or varied in "
                                    f"{' or '.join(p for p in places if p != '[parameters]')})")
                seen[name] = place
