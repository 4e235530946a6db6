"""The calibration file (``experiments/calibration.toml``) of ``chipstack calibrate``: its sections, read
and checked into a :class:`CalibrationSpec` (docs/VALIDATION.md §3.6).

    [calibration]   name, description, replay (the replay experiment whose policy inputs and parameters
                    are run), end_quarter (last quarter simulated and fitted, at most 2025Q4),
                    n_developers, seeds_per_particle, population_size, generations, max_simulations
                    (pyabc stops once this many particles were simulated in all: a bound on the run
                    time), epsilon_quantile, min_epsilon, seed
    [parameters]    fixed values on top of the replay's [parameters] (optional)
    [priors.NAME]   distribution ("uniform" | "loguniform"), low, high, source (with its grade)
    [[constraints]] kind = "growth_cap": level x (1 + growth)^years <= max, with its source
    [[targets]]     quantity and period (a row of experiments/data/observed.csv), scale ("log" | "linear"),
                    error (the measurement error: a log-sd for "log", the quantity's unit for "linear"),
                    why (the error's argument); optional model_period (the quarters the model sums);
                    or, for an independent estimate instead of a record, published = a row key of
                    experiments/data/published_estimates.csv (its value and grade; quantity names the
                    model quantity and period the quarters it sums)

Every bad value is a :class:`~model.sweep.errors.UsageError` naming the file, the key, the value and what
is allowed (``chipstack: error: ...``, exit 2). Parameter names are checked against the model's table
(:data:`model.core.parameters.PARAMS`) as it is, whatever it holds.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import math
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from model.core.docblocks import maintenance_arguments
from model.core.quarters import format_quarter, parse_quarter
from model.sweep.errors import UsageError, shown
from model.sweep.experiment import EXPERIMENTS_DIR, resolve_path

#: The last quarter a calibration may fit: 2026H1 and later are held out (docs/VALIDATION.md §3).
WINDOW_END = "2025Q4"
DISTRIBUTIONS = ("uniform", "loguniform")
SCALES = ("log", "linear")
SECTION_KEYS = {"name": str, "description": str, "replay": str, "end_quarter": str, "n_developers": int,
                "seeds_per_particle": int, "population_size": int, "generations": int,
                "max_simulations": int, "epsilon_quantile": float, "min_epsilon": float, "seed": int}
LIMITS = {"n_developers": (1, 100_000), "seeds_per_particle": (1, 100), "population_size": (2, 100_000),
          "generations": (1, 1000), "max_simulations": (1, 10**9), "epsilon_quantile": (0.01, 0.99),
          "min_epsilon": (0.0, 1e12), "seed": (0, 2**32 - 1)}
PRIOR_KEYS = ("distribution", "low", "high", "source")
TARGET_KEYS = ("quantity", "period", "scale", "error", "why", "model_period", "published")
CONSTRAINT_KEYS = ("kind", "level", "growth", "years", "max", "source")


@dataclass(frozen=True)
class Prior:
    name: str
    distribution: str
    low: float
    high: float
    source: str


@dataclass(frozen=True)
class Target:
    quantity: str
    period: str
    observed: float
    scale: str
    error: float
    why: str
    quarters: tuple[str, ...]  # the quarters the model sums for this target
    grade: str = ""

    @property
    def key(self) -> str:
        return f"{self.period}:{self.quantity}"


@dataclass(frozen=True)
class GrowthCap:
    """``level x (1 + growth)^years <= max``: a joint constraint on two calibrated parameters."""

    level: str
    growth: str
    years: float
    max: float
    source: str

    def holds(self, values: dict) -> bool:
        return values[self.level] * (1.0 + values[self.growth]) ** self.years <= self.max


@dataclass(frozen=True)
class CalibrationSpec:
    name: str
    description: str
    replay: str
    end_quarter: str
    n_developers: int
    seeds_per_particle: int
    population_size: int
    generations: int
    max_simulations: int
    epsilon_quantile: float
    min_epsilon: float
    seed: int
    parameters: dict
    priors: tuple[Prior, ...]
    targets: tuple[Target, ...]
    constraints: tuple[GrowthCap, ...] = ()
    source: str = "<memory>"
    data: dict = field(default_factory=dict, compare=False)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.priors]

    def fingerprint(self) -> str:
        """sha256 of everything that determines the calibration (the file's data, resolved)."""
        resolved = {k: v for k, v in asdict(self).items() if k not in ("source", "data")}
        text = json.dumps(resolved, sort_keys=True, separators=(",", ":"), default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def load_spec(argument: str | Path) -> CalibrationSpec:
    """Find (a path, or a name in experiments/), read and check a calibration file. Raises UsageError."""
    path = resolve_path(str(argument))
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read the file ({exc}); allowed: a UTF-8 TOML file") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: TOML syntax error: {exc}; allowed: TOML (https://toml.io)") from None
    return spec_from_dict(data, str(path))


def spec_from_dict(data: dict, source: str = "<memory>", observed: pd.DataFrame | None = None
                   ) -> CalibrationSpec:
    """Check parsed calibration data; ``observed`` defaults to experiments/data/observed.csv."""
    return _Checker(source).spec(data, observed)


class _Checker:
    def __init__(self, source: str):
        self.source = source

    def fail(self, where: str, value, allowed: str) -> UsageError:
        return UsageError(f"{self.source}: {where} = {shown(value)}: invalid value; allowed: {allowed}")

    def keys(self, section: str, table, allowed) -> dict:
        if not isinstance(table, dict):
            raise UsageError(f"{self.source}: {section} is {type(table).__name__}; allowed: a table")
        for key in table:
            if key not in allowed:
                raise UsageError(f"{self.source}: {section} has unknown key {shown(key)}; "
                                 f"allowed: {', '.join(allowed)}")
        return table

    def number(self, where: str, value, kind=float, limits=None) -> float:
        ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        if kind is int:
            ok = ok and isinstance(value, int)
        if ok and limits is not None:
            ok = limits[0] <= value <= limits[1]
        if not ok:
            what = "an integer" if kind is int else "a finite number"
            raise self.fail(where, value, what + (f" in [{limits[0]:g}, {limits[1]:g}]" if limits else ""))
        return kind(value)

    def text(self, where: str, value) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, value, "a non-empty string")
        return value

    def spec(self, data: dict, observed: pd.DataFrame | None) -> CalibrationSpec:
        self.keys("the file", data, ("calibration", "parameters", "priors", "constraints", "targets"))
        for needed in ("calibration", "priors", "targets"):
            if needed not in data:
                raise UsageError(f"{self.source}: no [{needed}] section; allowed: the sections of "
                                 f"docs/VALIDATION.md §3.6 ([calibration], [priors.NAME], [[targets]])")
        section = self.keys("[calibration]", data["calibration"], tuple(SECTION_KEYS))
        values = {}
        for key, kind in SECTION_KEYS.items():
            if key not in section:
                raise UsageError(f"{self.source}: [calibration] has no {key}; allowed: "
                                 f"{', '.join(SECTION_KEYS)} (all required)")
            value = section[key]
            values[key] = (self.text(f"[calibration] {key}", value) if kind is str
                           else self.number(f"[calibration] {key}", value, kind, LIMITS.get(key)))
        base, start, steps = self.replay(values)
        parameters = self.fixed(data.get("parameters", {}))
        priors = tuple(self.prior(name, table) for name, table in
                       self.keys("[priors]", data["priors"], tuple(data["priors"])).items())
        if not priors:
            raise UsageError(f"{self.source}: [priors] is empty; allowed: at least one [priors.NAME] table")
        overlap = sorted(set(parameters) & {p.name for p in priors})
        if overlap:
            raise UsageError(f"{self.source}: {overlap[0]} is in [parameters] and [priors]; "
                             f"allowed: one of them")
        constraints = tuple(self.constraint(i, c, {p.name for p in priors})
                            for i, c in enumerate(data.get("constraints", [])))
        obs = observed if observed is not None else pd.read_csv(EXPERIMENTS_DIR / "data" / "observed.csv")
        covered = {format_quarter(start + k) for k in range(steps)}
        targets = tuple(self.target(i, t, obs, covered, values["end_quarter"])
                        for i, t in enumerate(self.list_of("targets", data["targets"])))
        if not targets:
            raise UsageError(f"{self.source}: [[targets]] is empty; allowed: at least one target")
        keys = [t.key for t in targets]
        duplicate = next((k for k in keys if keys.count(k) > 1), None)
        if duplicate:
            raise UsageError(f"{self.source}: target {shown(duplicate)} is given twice; allowed: each once")
        return CalibrationSpec(**values, parameters={**base, **parameters}, priors=priors, targets=targets,
                               constraints=constraints, source=self.source, data=data)

    def replay(self, values: dict) -> tuple[dict, int, int]:
        """The replay's [parameters], its first quarter and the steps to end_quarter."""
        from model.sweep.experiment import load_experiment

        try:
            replay = load_experiment(values["replay"])
        except UsageError as exc:
            raise UsageError(f"{self.source}: [calibration] replay = {shown(values['replay'])}: "
                             f"{exc}") from None
        base = dict(replay.parameters)
        try:
            end = parse_quarter(values["end_quarter"])
        except ValueError:
            raise self.fail("[calibration] end_quarter", values["end_quarter"],
                            "a quarter like 2025Q4") from None
        start = parse_quarter(str(base.get("start_quarter", "2026Q1")))
        if end > parse_quarter(WINDOW_END) or end < start:
            raise self.fail("[calibration] end_quarter", values["end_quarter"],
                            f"a quarter from the replay's start {format_quarter(start)} to {WINDOW_END} "
                            f"(2026H1 and later are held out)")
        base["n_developers"] = values["n_developers"]
        return base, start, end - start + 1

    def fixed(self, table) -> dict:
        from model.core.parameters import validate_value

        out = {}
        for name, value in self.keys("[parameters]", table, tuple(table)).items():
            self.parameter("[parameters]", name)
            try:
                out[name] = validate_value(name, value)
            except ValueError as exc:
                raise UsageError(f"{self.source}: [parameters] {name} = {shown(value)}: {exc}") from None
        return out

    def parameter(self, section: str, name: str):
        from model.core.parameters import PARAMS_BY_NAME

        if name not in PARAMS_BY_NAME:
            close = difflib.get_close_matches(name, list(PARAMS_BY_NAME), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UsageError(f"{self.source}: {section} {shown(name)}: unknown parameter{hint}; allowed: a "
                             f"model parameter, one of {', '.join(sorted(PARAMS_BY_NAME))}")
        return PARAMS_BY_NAME[name]

    def prior(self, name: str, table) -> Prior:
        where = f"[priors.{name}]"
        param = self.parameter("[priors]", name)
        if param.kind != "float":
            raise UsageError(f"{self.source}: [priors] {shown(name)}: of kind {param.kind!r}; allowed: a "
                             f"parameter of kind 'float' (integer, choice and schedule parameters are not "
                             f"calibrated)")
        table = self.keys(where, table, PRIOR_KEYS)
        missing = [k for k in PRIOR_KEYS if k not in table]
        if missing:
            raise UsageError(f"{self.source}: {where} has no {missing[0]}; allowed: {', '.join(PRIOR_KEYS)}")
        dist = table["distribution"]
        if dist not in DISTRIBUTIONS:
            raise self.fail(f"{where} distribution", dist, "one of " + ", ".join(DISTRIBUTIONS))
        lo, hi = (self.number(f"{where} {k}", table[k]) for k in ("low", "high"))
        plo = -math.inf if param.low is None else param.low
        phi = math.inf if param.high is None else param.high
        for key, value in (("low", lo), ("high", hi)):
            if not plo <= value <= phi:
                raise self.fail(f"{where} {key}", value, f"within the parameter's range [{plo:g}, {phi:g}]")
        if not lo < hi:
            raise self.fail(f"{where} high", hi, f"a number above low = {lo:g}")
        if dist == "loguniform" and lo <= 0:
            raise self.fail(f"{where} low", lo, "a number > 0 for a loguniform prior")
        return Prior(name, dist, lo, hi, self.text(f"{where} source", table["source"]))

    def list_of(self, name: str, value) -> list:
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise UsageError(f"{self.source}: {name} is not an array of tables; allowed: [[{name}]] entries")
        return value

    def constraint(self, i: int, table, calibrated: set[str]) -> GrowthCap:
        where = f"[[constraints]] #{i + 1}"
        table = self.keys(where, table, CONSTRAINT_KEYS)
        if table.get("kind") != "growth_cap":
            raise self.fail(f"{where} kind", table.get("kind"), "growth_cap")
        for key in ("level", "growth"):
            if table.get(key) not in calibrated:
                raise self.fail(f"{where} {key}", table.get(key), "a parameter of [priors]: "
                                + ", ".join(sorted(calibrated)))
        years = self.number(f"{where} years", table.get("years"), float, (0, 100))
        cap = self.number(f"{where} max", table.get("max"), float, (0, 1e15))
        return GrowthCap(table["level"], table["growth"], years, cap,
                         self.text(f"{where} source", table.get("source")))

    def target(self, i: int, table, obs: pd.DataFrame, covered: set[str], end: str) -> Target:
        from model.validation.quarterly import MODEL_QUANTITY

        where = f"[[targets]] #{i + 1}"
        table = self.keys(where, table, TARGET_KEYS)
        quantity = table.get("quantity")
        if quantity not in MODEL_QUANTITY:
            close = difflib.get_close_matches(str(quantity), list(MODEL_QUANTITY), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise self.fail(f"{where} quantity", quantity, f"a quantity the replay computes{hint}: "
                            + ", ".join(sorted(MODEL_QUANTITY)))
        period = str(table.get("period"))
        if "published" in table:  # an independent estimate (Epoch AI, CNAS, Bernstein, ...)
            from model.validation.published import published_table

            published = published_table()
            rows = published[published["quantity"] == table["published"]]
            if len(rows) != 1:
                keys = ", ".join(published["quantity"])
                raise self.fail(f"{where} published", table["published"],
                                f"a quantity key of experiments/data/published_estimates.csv: {keys}")
        else:
            rows = obs[(obs["quantity"] == quantity) & (obs["quarter"].astype(str) == period)]
        if len(rows) != 1:
            raise self.fail(f"{where} period", period, f"a period with exactly one row of {quantity} in "
                            f"experiments/data/observed.csv (found {len(rows)})")
        quarters = self.quarters(where, str(table.get("model_period", period)), covered, end)
        scale = table.get("scale")
        if scale not in SCALES:
            raise self.fail(f"{where} scale", scale, "one of " + ", ".join(SCALES))
        error = self.number(f"{where} error", table.get("error"))
        if error <= 0:
            raise self.fail(f"{where} error", error, "a number > 0 (the measurement error)")
        value = float(rows["value"].iloc[0])
        if scale == "log" and value <= 0:
            raise self.fail(f"{where} scale", scale, f"linear (the observation is {value:g}, not > 0)")
        return Target(quantity, period, value, scale, error, self.text(f"{where} why", table.get("why")),
                      quarters, str(rows["grade"].iloc[0]))

    def quarters(self, where: str, period: str, covered: set[str], end: str) -> tuple[str, ...]:
        quarters = [period] if "Q" in period else [f"{period}Q{k}" for k in range(1, 5)]
        try:
            last = max(parse_quarter(q) for q in quarters)
        except ValueError:
            raise self.fail(f"{where} period", period, "a year like 2024 or a quarter like 2024Q3") from None
        if last > parse_quarter(end):
            raise self.fail(f"{where} period", period, f"a period ending by end_quarter = {end} "
                            f"({WINDOW_END} at the latest: 2026H1 and later are held out)")
        missing = [q for q in quarters if q not in covered]
        if missing:
            raise self.fail(f"{where} period", period, f"a period the replay covers (it does not run "
                            f"{missing[0]}; give model_period = a covered quarter, e.g. the replay's first)")
        return tuple(quarters)


#: Markers of the generated priors table in docs/SOURCES.md (§G, "Priors of chipstack calibrate").
PRIORS_BEGIN = "<!-- calibration:priors begin -->"
PRIORS_END = "<!-- calibration:priors end -->"


def priors_markdown(spec: CalibrationSpec) -> str:
    """The calibration file's priors and joint constraints as docs/SOURCES.md shows them."""
    from model.core.parameters import PARAMS_BY_NAME

    lines = ["| parameter | prior | bounds | model default | source or argument (grade) |",
             "|---|---|---|---|---|"]
    for p in spec.priors:
        default = PARAMS_BY_NAME[p.name].default
        lines.append(f"| `{p.name}` | {p.distribution} | {p.low:,.6g} – {p.high:,.6g} | {default:,.6g} "
                     f"| {p.source} |")
    for c in spec.constraints:
        lines.append(f"| joint: `{c.level}` × (1 + `{c.growth}`)^{c.years:g} | ≤ {c.max:,.6g} | | "
                     f"| {c.source} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """``python -m model.validation.abc_spec``: re-render docs/SOURCES.md's priors table from
    experiments/calibration.toml."""
    maintenance_arguments("model.validation.abc_spec", "the priors table of docs/SOURCES.md from "
                          "experiments/calibration.toml", argv)
    from model.core.docblocks import replace_block
    from model.core.paths import SOURCES_MD

    path = SOURCES_MD
    text = path.read_text(encoding="utf-8")
    new = replace_block(text, PRIORS_BEGIN, PRIORS_END, priors_markdown(load_spec("calibration")))
    if new != text:
        path.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
