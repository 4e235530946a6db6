"""Experiment files (INTERFACES §4): find, read and validate ``experiments/*.toml``.

An experiment file has four sections::

    [experiment]   name, description, steps, replications, seed,
                   and optionally target_half_width, target_reporter, max_replications
    [parameters]   model parameters fixed for every run
    [grid]         parameter = [values...]  (full factorial)
    [sample]       method = "lhs" | "sobol" | "morris", n, seed (optional), num_levels (morris),
                   [sample.ranges] parameter = [low, high]

or, for exploratory modelling (policies compared on identical futures)::

    [levers]        parameter = [values...]  (policies, crossed in full, like [grid])
    [uncertainties] method, n, seed (optional), num_levels (morris),
                    [uncertainties.ranges] parameter = [low, high]
                    [uncertainties.choices] parameter = [value, ...]   (lhs only: a categorical
                    uncertainty, its values drawn in equal shares by the Latin hypercube)

Every lever combination runs on the same sample of futures, and a run's seed depends on its future
(sample point and replication) only, not on its levers: common random numbers, so two policies that
differ in one future differ because of the policy, not the noise (``model.sweep.design``). [levers]
and [uncertainties] come together and replace [grid] and [sample] (they are stored as the grid and the
sample, with :attr:`Experiment.levers` naming the lever axes).

``load_experiment(argument)`` turns a path or a name (``experiments/<name>.toml``) into a validated
:class:`Experiment`; every problem is a :class:`~model.sweep.errors.UsageError` whose one-line message names
the file, the key, the value and what is allowed.

Precision target (an optional extension of INTERFACES §4): with ``target_half_width = h`` the runner
adds replications to each design point, in rounds, until the 95% t-interval of the mean of
``target_reporter`` (default ``us_stack_share``) at the last step has half-width <= h, or the point
has ``max_replications`` runs (default 1000). ``replications`` is then the minimum per point. The
structure (sections, keys, types) is checked by pydantic; parameter names and values by
``model.core.parameters.validate_value``.

Over 400 lines as one job, the schema and its validation: most of the length is the one-line error
message for each way a file can be wrong.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr, ValidationError

from model.core.chip_market import MODEL_REPORTERS
from model.core.parameters import DEFAULTS, PARAMS_BY_NAME, suggest, validate_value
from model.core.paths import EXPERIMENTS, REPO_ROOT  # noqa: F401 (REPO_ROOT re-exported)
from model.sweep.errors import UsageError


def _experiments_dir() -> Path:
    """``experiments/`` of the clone, else the copy an installed wheel ships
    (``<prefix>/share/chipstack``)."""
    clone = EXPERIMENTS
    installed = Path(sys.prefix) / "share" / "chipstack" / "experiments"
    return clone if clone.is_dir() or not installed.is_dir() else installed


#: Folder of the shipped experiments: ``<repository root>/experiments`` (or an installed wheel's copy).
EXPERIMENTS_DIR = _experiments_dir()
NAME_PATTERN = r"^[A-Za-z0-9_-]+$"
MAX_STEPS = 10_000
MAX_REPLICATIONS = 100_000
MAX_SAMPLE_N = 1_000_000
MAX_RUNS = 5_000_000
MAX_SEED = 2**63 - 1
SAMPLE_METHODS = ("lhs", "sobol", "morris")
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
    ("experiment", "target_reporter"): "one of " + ", ".join(MODEL_REPORTERS),
    ("experiment", "max_replications"): f"an integer from 1 to {MAX_REPLICATIONS}, at least replications",
    ("parameters",): "a table of parameter = value",
    ("grid",): "a table of parameter = [value, ...]",
    ("sample",): "a table [sample] with keys method, n, seed, num_levels and a table [sample.ranges]",
    ("sample", "method"): "one of " + ", ".join(SAMPLE_METHODS),
    ("sample", "n"): f"an integer from 1 to {MAX_SAMPLE_N} (a power of 2 for sobol)",
    ("sample", "seed"): f"an integer from 0 to {MAX_SEED} (default: the experiment's seed)",
    ("sample", "num_levels"): "an even integer from 2 to 100 (morris only; default 4)",
    ("sample", "ranges"): "a table of parameter = [low, high]",
    ("levers",): "a table of parameter = [value, ...] (policies, crossed in full)",
    ("uncertainties",): "a table [uncertainties] with keys method, n, seed, num_levels and tables "
                        "[uncertainties.ranges] and [uncertainties.choices]",
    ("uncertainties", "method"): "one of " + ", ".join(SAMPLE_METHODS),
    ("uncertainties", "n"): f"an integer from 1 to {MAX_SAMPLE_N} (a power of 2 for sobol)",
    ("uncertainties", "seed"): f"an integer from 0 to {MAX_SEED} (default: the experiment's seed)",
    ("uncertainties", "num_levels"): "an even integer from 2 to 100 (morris only; default 4)",
    ("uncertainties", "ranges"): "a table of parameter = [low, high]",
    ("uncertainties", "choices"): "a table of parameter = [value, ...] (method lhs only)",
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
    target_reporter: Literal[MODEL_REPORTERS] = "us_stack_share"  # type: ignore[valid-type]
    max_replications: Annotated[StrictInt, Field(ge=1, le=MAX_REPLICATIONS)] = 1000


class SampleSection(_Strict):
    method: Literal["lhs", "sobol", "morris"]
    n: Annotated[StrictInt, Field(ge=1, le=MAX_SAMPLE_N)]
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED)] | None = None
    num_levels: Annotated[StrictInt, Field(ge=2, le=100)] | None = None
    ranges: dict[str, list[Any]]


class UncertaintiesSection(_Strict):
    method: Literal["lhs", "sobol", "morris"]
    n: Annotated[StrictInt, Field(ge=1, le=MAX_SAMPLE_N)]
    seed: Annotated[StrictInt, Field(ge=0, le=MAX_SEED)] | None = None
    num_levels: Annotated[StrictInt, Field(ge=2, le=100)] | None = None
    ranges: dict[str, list[Any]] = {}
    choices: dict[str, list[Any]] = {}


class ExperimentFile(_Strict):
    experiment: ExperimentSection
    parameters: dict[str, Any] = {}
    grid: dict[str, list[Any]] = {}
    sample: SampleSection | None = None
    levers: dict[str, list[Any]] = {}
    uncertainties: UncertaintiesSection | None = None


# ---------------------------------------------------------------------------------------------
# The validated experiment
@dataclass(frozen=True)
class SampleSpec:
    method: str
    n: int
    ranges: dict[str, tuple[float, float]]  # in file order
    seed: int
    num_levels: int | None = None  # morris only
    choices: dict[str, tuple] = field(default_factory=dict)  # categorical uncertainties (lhs only)

    @property
    def names(self) -> list[str]:
        """The sampled parameters: numeric ranges, then categorical choices."""
        return list(self.ranges) + list(self.choices)

    def as_dict(self) -> dict:
        out = {"method": self.method, "n": self.n,
               "ranges": {k: [lo, hi] for k, (lo, hi) in self.ranges.items()}, "seed": self.seed}
        if self.num_levels is not None:
            out["num_levels"] = self.num_levels
        if self.choices:
            out["choices"] = {k: list(v) for k, v in self.choices.items()}
        return out


@dataclass(frozen=True)
class Precision:
    """Add replications until the CI half-width of ``reporter``'s final mean is <= ``half_width``."""

    half_width: float
    reporter: str
    max_replications: int

    def as_dict(self) -> dict:
        return {"half_width": self.half_width, "reporter": self.reporter,
                "max_replications": self.max_replications}


@dataclass(frozen=True)
class Experiment:
    name: str
    description: str
    steps: int
    replications: int
    seed: int
    parameters: dict[str, Any]  # fixed values given in the file, normalised
    grid: dict[str, list[Any]]  # in file order, values normalised
    sample: SampleSpec | None
    precision: Precision | None = None
    source: str = "<memory>"
    spec: dict = field(default_factory=dict, compare=False)  # the file's data, for the manifest
    #: With [levers]/[uncertainties]: the lever names (the grid's axes); the sample is the
    #: uncertainties, and run seeds follow common random numbers. Empty for [grid]/[sample] files.
    levers: tuple[str, ...] = ()

    @property
    def varying(self) -> list[str]:
        """Names of the parameters that vary: grid axes, then sampled parameters."""
        return list(self.grid) + (self.sample.names if self.sample else [])

    @property
    def uncertainties(self) -> list[str]:
        """The uncertain parameters of a [levers]/[uncertainties] experiment (else empty)."""
        return self.sample.names if (self.levers and self.sample) else []

    def fixed_parameters(self) -> dict[str, Any]:
        """Every model parameter that does not vary, resolved (defaults plus [parameters])."""
        varying = set(self.varying)
        return {k: self.parameters.get(k, v) for k, v in DEFAULTS.items() if k not in varying}

    def n_points(self) -> int:
        cells = math.prod(len(v) for v in self.grid.values())
        return cells * (sample_size(self.sample) if self.sample else 1)

    def n_runs(self) -> int:
        return self.n_points() * self.replications

    def resolved(self) -> dict:
        """Everything that determines the sweep's data, as plain JSON-able data."""
        out = {
            "name": self.name, "steps": self.steps, "replications": self.replications, "seed": self.seed,
            "fixed": self.fixed_parameters(), "grid": self.grid,
            "sample": self.sample.as_dict() if self.sample else None,
            "precision": self.precision.as_dict() if self.precision else None,
        }
        if self.levers:  # common random numbers change the seeds: part of the identity
            out["levers"] = list(self.levers)
            out["seeding"] = "crn"
        return out

    def fingerprint(self) -> str:
        """sha256 of :meth:`resolved`: two experiments with the same fingerprint give the same data."""
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def sample_size(sample: SampleSpec) -> int:
    """Number of sample points that ``method`` makes from ``n`` (SALib's conventions)."""
    d = len(sample.ranges)
    if sample.method == "sobol":
        return sample.n * (d + 2)  # Saltelli/Sobol' with calc_second_order=False
    if sample.method == "morris":
        return sample.n * (d + 1)  # n trajectories of d+1 points
    return sample.n


# ---------------------------------------------------------------------------------------------
# Finding and reading the file
def resolve_path(argument: str) -> Path:
    """A path to a file, or a name looked up as ``experiments/<name>.toml`` (repo root, then cwd)."""
    given = Path(argument)
    if given.is_file():
        return given
    if len(given.parts) == 1:  # a bare name: experiments/<name>.toml
        stem = argument.removesuffix(".toml")
        for folder in (EXPERIMENTS_DIR, Path.cwd() / "experiments"):
            candidate = folder / f"{stem}.toml"
            if candidate.is_file():
                return candidate
    if given.exists():
        raise UsageError(f"experiment {argument!r}: not a file; "
                         "allowed: a .toml file or a name in experiments/")
    known = sorted(p.stem for p in EXPERIMENTS_DIR.glob("*.toml")) if EXPERIMENTS_DIR.is_dir() else []
    close = difflib.get_close_matches(given.stem, known, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise UsageError(f"experiment {argument!r}: no such file{hint}; allowed: a path to a .toml file, "
                     f"or a name in {EXPERIMENTS_DIR}: {', '.join(known) or '(none)'}")


def load_experiment(argument: str | Path) -> Experiment:
    """Find, read and validate an experiment file. Raises UsageError."""
    path = resolve_path(str(argument))
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the file ({exc}); allowed: a UTF-8 TOML file") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: TOML syntax error: {exc}; allowed: TOML (https://toml.io)") from None
    except ValueError as exc:  # an integer of more than 4,300 digits
        raise UsageError(f"{path}: a value cannot be read ({exc}); "
                         "allowed: numbers of ordinary size") from None
    except RecursionError:
        raise UsageError(f"{path}: arrays or tables nested too deeply; allowed: the sections of "
                         f"docs/INTERFACES.md §4, with flat lists of values") from None
    return experiment_from_dict(data, str(path))


def experiment_from_dict(data: dict, source: str = "<memory>") -> Experiment:
    """Validate experiment data (a parsed TOML file, or ``manifest['experiment']['spec']``)."""
    try:
        parsed = ExperimentFile.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source}: {_describe(exc.errors()[0])}") from None
    except RecursionError:
        raise UsageError(f"{source}: values nested too deeply; allowed: the sections of docs/INTERFACES.md "
                         f"§4, with flat lists of values") from None
    return _check_semantics(parsed, data, source)


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


# ---------------------------------------------------------------------------------------------
# Semantic checks: parameter names and values, overlaps, sizes
def _check_semantics(parsed: ExperimentFile, data: dict, source: str) -> Experiment:
    def fail(message: str) -> UsageError:
        return UsageError(f"{source}: {message}")

    fixed = {name: _check_value(fail, "parameters", name, value) for name, value in parsed.parameters.items()}
    exploratory = bool(parsed.levers) or parsed.uncertainties is not None
    if exploratory:
        _check_exploratory_sections(fail, parsed)
        grid = {name: _check_axis(fail, name, values, "levers") for name, values in parsed.levers.items()}
        sample = _check_sample(fail, parsed.uncertainties, parsed.experiment.seed, "uncertainties")
        places = {"[parameters]": list(fixed), "[levers]": list(grid),
                  "[uncertainties.ranges]": list(sample.ranges),
                  "[uncertainties.choices]": list(sample.choices)}
    else:
        grid = {name: _check_axis(fail, name, values) for name, values in parsed.grid.items()}
        sample = _check_sample(fail, parsed.sample, parsed.experiment.seed) if parsed.sample else None
        places = {"[parameters]": list(fixed), "[grid]": list(grid),
                  "[sample.ranges]": list(sample.ranges) if sample else []}
    _check_overlaps(fail, places)
    section = parsed.experiment
    exp = Experiment(
        name=section.name, description=section.description, steps=section.steps,
        replications=section.replications, seed=section.seed, parameters=fixed, grid=grid,
        sample=sample, precision=_check_precision(fail, section), source=source, spec=data,
        levers=tuple(grid) if exploratory else (),
    )
    if exp.n_runs() > MAX_RUNS:
        raise fail(f"the design has {exp.n_runs()} runs; allowed: at most {MAX_RUNS} "
                   f"(reduce [grid], [sample] n or replications)")
    return exp


def _check_precision(fail, section: ExperimentSection) -> Precision | None:
    if section.target_half_width is None:
        return None
    if section.max_replications < section.replications:
        raise fail(f"[experiment] max_replications = {section.max_replications}: below replications = "
                   f"{section.replications}; allowed: {ALLOWED[('experiment', 'max_replications')]}")
    return Precision(float(section.target_half_width), section.target_reporter, section.max_replications)


def _check_name(fail, section: str, name: str) -> None:
    if name in RESERVED:
        raise fail(f"[{section}] {name}: not a model parameter (the runner derives each run's seed "
                   f"from [experiment] seed); allowed: a model parameter name")
    if name not in PARAMS_BY_NAME:
        raise fail(f"[{section}] {name}: unknown parameter{suggest(name)}; allowed: a model parameter, "
                   f"one of {', '.join(sorted(PARAMS_BY_NAME))}")


def _check_value(fail, section: str, name: str, value: Any) -> Any:
    _check_name(fail, section, name)
    try:
        return validate_value(name, value)
    except ValueError as exc:
        raise fail(f"[{section}] {name} = {_show(value)}: {exc}") from None
    except OverflowError:
        raise fail(f"[{section}] {name} = {_show(value)}: too large to be a number; allowed: "
                   f"{PARAMS_BY_NAME[name].allowed()}") from None


def _check_axis(fail, name: str, values: list, section: str = "grid") -> list:
    _check_name(fail, section, name)
    if not values:
        raise fail(f"[{section}] {name} = []: empty list; allowed: a non-empty list of values")
    checked = [_check_value(fail, section, name, v) for v in values]
    if len(set(map(_identity, checked))) != len(checked):
        raise fail(f"[{section}] {name} = {_show(values)}: repeated value; allowed: distinct values")
    return checked


def _identity(value: Any) -> str:
    """What makes two grid values the same point: -0.0 is 0.0 (the model cannot tell them apart)."""
    return repr(value + 0.0 if isinstance(value, float) else value)


def _check_exploratory_sections(fail, parsed: ExperimentFile) -> None:
    """[levers] and [uncertainties] come together, and without [grid] and [sample]."""
    for other in ("grid", "sample"):
        if getattr(parsed, other):
            raise fail(f"[{other}] given with [levers]/[uncertainties]; allowed: either [grid]/[sample], "
                       f"or [levers] (policies) with [uncertainties] (futures), not both")
    if not parsed.levers:
        raise fail("[levers] is missing or empty; allowed: with [uncertainties], a table [levers] of "
                   "parameter = [value, ...] (the policies to compare)")
    if parsed.uncertainties is None:
        raise fail("[uncertainties] is missing; allowed: with [levers], a table [uncertainties] with "
                   "method, n and [uncertainties.ranges] (the futures every policy runs on)")


def _check_sample(fail, section: SampleSection | UncertaintiesSection, experiment_seed: int,
                  where: str = "sample") -> SampleSpec:
    choices_given = getattr(section, "choices", {})
    if not section.ranges and not choices_given:
        raise fail(f"[{where}.ranges] is empty; allowed: at least one parameter = [low, high]")
    ranges = {name: _check_range(fail, name, bounds, f"{where}.ranges")
              for name, bounds in section.ranges.items()}
    choices = {name: tuple(_check_axis(fail, name, values, f"{where}.choices"))
               for name, values in choices_given.items()}
    if choices and section.method != "lhs":
        raise fail(f"[{where}.choices] with method {section.method!r}; allowed: categorical uncertainties "
                   f"with method 'lhs' only (or move {', '.join(choices)} to [levers])")
    if section.method == "sobol" and section.n & (section.n - 1):
        raise fail(f"[{where}] n = {section.n}: invalid value for method 'sobol'; allowed: a power of 2 "
                   f"(e.g. {1 << max(0, section.n.bit_length() - 1)} or {1 << section.n.bit_length()})")
    if section.method == "morris":
        levels = 4 if section.num_levels is None else section.num_levels
        if levels % 2:
            raise fail(f"[{where}] num_levels = {levels}: invalid value; "
                       f"allowed: {ALLOWED[('sample', 'num_levels')]}")
    elif section.num_levels is not None:
        raise fail(f"[{where}] num_levels = {section.num_levels}: only for method 'morris'; "
                   f"allowed: leave it out for method {section.method!r}")
    return SampleSpec(method=section.method, n=section.n, ranges=ranges,
                      seed=experiment_seed if section.seed is None else section.seed,
                      num_levels=(section.num_levels or 4) if section.method == "morris" else None,
                      choices=choices)


def _check_range(fail, name: str, bounds: list, where: str = "sample.ranges") -> tuple[float, float]:
    _check_name(fail, where, name)
    param = PARAMS_BY_NAME[name]
    if param.kind not in ("int", "float"):
        other = "[uncertainties.choices]" if where.startswith("uncertainties") else "[grid]"
        raise fail(f"[{where}] {name}: a {param.kind} parameter cannot be sampled; "
                   f"allowed: a numeric parameter (put {name} in {other} instead)")
    numeric = all(isinstance(b, (int, float)) and not isinstance(b, bool) for b in bounds)
    if len(bounds) != 2 or not numeric:
        raise fail(f"[{where}] {name} = {_show(bounds)}: invalid value; allowed: [low, high], "
                   f"two numbers with low < high within {param.allowed()}")
    low, high = (_check_value(fail, where, name, b) for b in bounds)
    if not low < high:
        raise fail(f"[{where}] {name} = {_show(bounds)}: low is not below high; allowed: [low, high] "
                   f"with low < high")
    return float(low), float(high)


def _check_overlaps(fail, places: dict[str, list[str]]) -> None:
    seen: dict[str, str] = {}
    for place, names in places.items():
        for name in names:
            if name in seen:
                raise fail(f"{place} {name}: also in {seen[name]}; allowed: each parameter in one place "
                           "(fixed in [parameters], or varied in "
                           f"{' or '.join(p for p in places if p != '[parameters]')})")
            seen[name] = place
