"""Experiment files (INTERFACES §4): the validated :class:`Experiment`, and finding and reading
``experiments/*.toml``.

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
                    or method = "posterior", n, seed, draws = "FILE.parquet": n futures drawn by weight
                    (with replacement) from a file of weighted draws (a ``weight`` column and one column per
                    parameter, e.g. the calibration's docs/validation/calibration/posterior.parquet)
                    [uncertainties.choices] parameter = [value, ...]   (lhs only: a categorical
                    uncertainty, its values drawn in equal shares by the Latin hypercube)

Every lever combination runs on the same sample of futures, and a run's seed depends on its future
(sample point and replication) only, not on its levers: common random numbers, so two policies that
differ in one future differ because of the policy, not the noise (``model.sweep.design``). [levers]
and [uncertainties] come together and replace [grid] and [sample] (they are stored as the grid and the
sample, with :attr:`Experiment.levers` naming the lever axes).

``load_experiment(argument, model_cls=None)`` turns a path or a name (``experiments/<name>.toml``)
into a validated :class:`Experiment` of a model class (default ``ChipMarketModel``; any class of
:mod:`model.sweep.protocol`): parameter names and values are checked against the class's parameter
table and ``target_reporter`` against its reporters, by :mod:`model.sweep.schema`, which owns the
schema and its one-line error messages (a :class:`~model.sweep.errors.UsageError` naming the file,
the key, the value and what is allowed).

Precision target (an optional extension of INTERFACES §4): with ``target_half_width = h`` the runner
adds replications to each design point, in rounds, until the 95% t-interval of the mean of
``target_reporter`` (default the model's first reporter, ``us_stack_share``) at the last step has
half-width <= h, or the point has ``max_replications`` runs (default 1000). ``replications`` is then
the minimum per point.
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
from typing import Any

from model.core.paths import EXPERIMENTS, REPO_ROOT  # noqa: F401 (REPO_ROOT re-exported)
from model.sweep.errors import UsageError
from model.sweep.protocol import default_model, model_path, parameters_of


def _experiments_dir() -> Path:
    """``experiments/`` of the clone, else the copy an installed wheel ships
    (``<prefix>/share/chipstack``)."""
    clone = EXPERIMENTS
    installed = Path(sys.prefix) / "share" / "chipstack" / "experiments"
    return clone if clone.is_dir() or not installed.is_dir() else installed


#: Folder of the shipped experiments: ``<repository root>/experiments`` (or an installed wheel's copy).
EXPERIMENTS_DIR = _experiments_dir()
__all__ = ["EXPERIMENTS_DIR", "REPO_ROOT", "Experiment", "Precision", "SampleSpec", "experiment_from_dict",
           "load_experiment", "resolve_path", "sample_size"]


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
    integers: tuple[str, ...] = ()  # the ranges of integer parameters (sampled values are rounded)
    draws: str | None = None  # method 'posterior': the Parquet file of weighted draws (repository-relative)
    draws_sha256: str | None = None  # ... and its sha256 when the experiment was read (part of the identity)

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
        if self.draws is not None:
            out["draws"], out["draws_sha256"] = self.draws, self.draws_sha256
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
    #: The model class run (any class of model.sweep.protocol); None: ChipMarketModel.
    model_cls: type | None = None
    #: The policy game of a file with [game] (model.sweep.game_spec.GameSpec), else None. Its weights do
    #: not change the runs: not part of the fingerprint (its strategies and futures are, as grid and levers).
    game: Any = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.model_cls is None:
            object.__setattr__(self, "model_cls", default_model())

    @property
    def varying(self) -> list[str]:
        """Names of the parameters that vary: grid axes, then sampled parameters."""
        return list(self.grid) + (self.sample.names if self.sample else [])

    @property
    def uncertainties(self) -> list[str]:
        """The uncertain parameters of an experiment with levers: [uncertainties], or a game's futures
        (else empty)."""
        return [name for name in self.varying if name not in self.levers] if self.levers else []

    def fixed_parameters(self) -> dict[str, Any]:
        """Every model parameter that does not vary, resolved (defaults plus [parameters])."""
        varying = set(self.varying)
        return {p.name: self.parameters.get(p.name, p.default) for p in parameters_of(self.model_cls)
                if p.name not in varying}

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

    @property
    def model(self) -> str:
        """The model class as ``module:qualname`` (what the manifest records)."""
        return model_path(self.model_cls)

    def fingerprint(self) -> str:
        """sha256 of :meth:`resolved`: two experiments with the same fingerprint give the same data (of
        the same model class: the class is not part of it, so a folder may be resumed with a fixed
        class; the manifest records the class, ``model``)."""
        text = json.dumps(self.resolved(), sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


#: The smallest ``n`` each sensitivity method is defined for (issue 31 item 5): below it SALib still returns
#: numbers, with confidence intervals of width 0 (a Sobol' sample of one base row: every bootstrap resample
#: is that row; ST came out as 5.04 +- 0.0) or without ``sigma`` (one Morris trajectory: one elementary
#: effect per parameter). ``schema`` refuses smaller designs; the report skips them in older folders.
MIN_SAMPLE_N = {"sobol": 2, "morris": 2}
MIN_SAMPLE_WHY = {"sobol": "with one base sample the bootstrap confidence intervals have width 0",
                  "morris": "one trajectory gives one elementary effect per parameter: no sigma, no interval"}


def too_small(method: str, n: int) -> str:
    """'' when ``n`` (Sobol' base samples, Morris trajectories) is enough for ``method``, else why not."""
    least = MIN_SAMPLE_N.get(method, 1)
    return "" if n >= least else f"at least {least} for method {method!r} ({MIN_SAMPLE_WHY[method]})"


def sample_size(sample: SampleSpec) -> int:
    """Number of sample points that ``method`` makes from ``n`` (SALib's conventions)."""
    d = len(sample.ranges)
    if sample.method == "sobol":
        return sample.n * (d + len(sample.choices) + 2)  # Saltelli/Sobol', calc_second_order=False
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


def load_experiment(argument: str | Path, model_cls: type | None = None) -> Experiment:
    """Find, read and validate an experiment file for ``model_cls`` (default ``ChipMarketModel``).
    Raises UsageError."""
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
    return experiment_from_dict(data, str(path), model_cls)


def experiment_from_dict(data: dict, source: str = "<memory>", model_cls: type | None = None) -> Experiment:
    """Validate experiment data (a parsed TOML file, or ``manifest['experiment']['spec']``) for
    ``model_cls`` (default ``ChipMarketModel``). Raises UsageError."""
    from model.sweep.schema import validate  # it builds this module's classes

    return validate(data, source, model_cls or default_model())
