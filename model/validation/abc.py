"""``chipstack calibrate``: approximate Bayesian computation (pyabc's ABC-SMC) of the replay's uncertain
parameters against the 2022Q4-2025Q4 record (docs/VALIDATION.md §3.6).

A particle is one replay (:func:`model.validation.quarterly.run_replay`: the history's policy inputs, the
replay file's parameters, the particle's values on top) at the calibration file's size; its summary
statistics are the targets' model quantities (``quarterly.MODEL_QUANTITY`` summed over each target's
quarters, mean over the particle's seeds). The distance is the Euclidean norm of the residuals
standardised by each target's measurement error (:func:`residuals`). pyabc keeps every generation in
``calibration.db`` (SQLite); ``resume`` continues from its last complete generation.

pyabc (and with it dask's distributed) is imported only inside the functions that run it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from model.sweep.errors import UsageError, shown
from model.validation.abc_spec import CalibrationSpec, Target

DB = "calibration.db"
POSTERIOR_PARQUET = "posterior.parquet"
#: A simulated level at or below zero, on a log-scale target, counts as observed x LOG_FLOOR.
LOG_FLOOR = 1e-3


def particle_seeds(spec: CalibrationSpec, values: dict) -> list[int]:
    """The particle's model seeds: derived from the root seed and its parameter values (the same values
    give the same seeds, whatever process runs them)."""
    text = json.dumps([spec.seed, sorted((k, float(v)) for k, v in values.items())])
    root = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return [int(s) for s in np.random.SeedSequence(root).generate_state(spec.seeds_per_particle, np.uint64)
            % (2**63 - 1)]


def target_values(runs: pd.DataFrame, targets: tuple[Target, ...]) -> dict[str, float]:
    """Each target's model quantity (``quarterly.MODEL_QUANTITY``) summed over its quarters, mean over
    the seeds of ``runs`` (rows of ``quarterly.run_replay``)."""
    from model.validation.quarterly import MODEL_QUANTITY

    frames = [g for _, g in runs.groupby("seed", sort=True)]
    out = {}
    for t in targets:
        fn = MODEL_QUANTITY[t.quantity][0]
        out[t.key] = float(np.mean([fn(g[g["quarter"].isin(t.quarters)]) for g in frames]))
    return out


def simulate(spec: CalibrationSpec, values: dict) -> dict[str, float]:
    """One particle: the replay with ``values`` on top of the spec's parameters; NaN for every target
    when ``values`` break a joint constraint (a zero prior density there: the particle is rejected)."""
    from model.validation.quarterly import run_replay

    values = {k: float(v) for k, v in values.items()}
    if not all(c.holds(values) for c in spec.constraints):
        return {t.key: math.nan for t in spec.targets}
    steps = _steps(spec)
    with np.errstate(all="ignore"):
        runs = run_replay({**spec.parameters, **values}, particle_seeds(spec, values), steps)
    return target_values(runs, spec.targets)


def _steps(spec: CalibrationSpec) -> int:
    from model.core.quarters import parse_quarter

    return parse_quarter(spec.end_quarter) - parse_quarter(str(spec.parameters["start_quarter"])) + 1


def residuals(simulated: dict, observed: dict, targets: tuple[Target, ...]) -> np.ndarray:
    """(model - record) / measurement error per target: on the log scale for ``scale = "log"``
    (log(model) - log(record), the error a log-sd; a model level <= 0 counts as record x LOG_FLOOR), on
    the quantity's own scale for ``"linear"``. NaN where the model gave none."""
    out = np.empty(len(targets))
    for i, t in enumerate(targets):
        x, x0 = float(simulated[t.key]), float(observed[t.key])
        if t.scale == "log":
            out[i] = (math.log(max(x, x0 * LOG_FLOOR)) - math.log(x0)) / t.error if x == x else math.nan
        else:
            out[i] = (x - x0) / t.error
    return out


def make_distance(targets: tuple[Target, ...]) -> Callable[[dict, dict], float]:
    """pyabc's distance: the Euclidean norm of the standardised residuals (inf when one is missing)."""
    def distance(simulated: dict, observed: dict) -> float:
        r = residuals(simulated, observed, targets)
        return float(np.sqrt(np.sum(r * r))) if np.all(np.isfinite(r)) else math.inf
    return distance


def observed(spec: CalibrationSpec) -> dict[str, float]:
    return {t.key: t.observed for t in spec.targets}


def prior_distribution(spec: CalibrationSpec):
    """pyabc's prior: independent marginals (uniform on [low, high], or loguniform)."""
    import pyabc

    rvs = {}
    for p in spec.priors:
        if p.distribution == "uniform":
            rvs[p.name] = pyabc.RV("uniform", p.low, p.high - p.low)
        else:
            rvs[p.name] = pyabc.RV("loguniform", p.low, p.high)
    return pyabc.Distribution(**rvs)


def prior_sample(spec: CalibrationSpec, n: int, seed: int) -> pd.DataFrame:
    """``n`` draws of the prior, the joint constraints applied (rejection): the prior the posterior is
    compared with."""
    rng = np.random.default_rng(seed)
    rows: list[dict] = []
    while len(rows) < n:
        draw = {}
        for p in spec.priors:
            u = rng.uniform(size=n)
            draw[p.name] = (p.low + u * (p.high - p.low) if p.distribution == "uniform"
                            else np.exp(np.log(p.low) + u * (np.log(p.high) - np.log(p.low))))
        frame = pd.DataFrame(draw)
        keep = np.array([all(c.holds(r) for c in spec.constraints) for r in frame.to_dict("records")])
        rows.extend(frame[keep].to_dict("records"))
    return pd.DataFrame(rows[:n])


class _Progress(logging.Handler):
    """pyabc's log lines turned into one line per generation on stderr (generation, ε, acceptance, ESS)."""

    EPS = re.compile(r"^t: (-?\d+), eps: (\S+?)\.?$")
    ACC = re.compile(r"^Accepted: (\d+) / (\d+) = (\S+?), ESS: (\S+?)\.?$")

    def __init__(self, write: Callable[[str], None]):
        super().__init__(logging.INFO)
        self.write, self.eps = write, None

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._emit(record.getMessage())
        except ValueError:  # a line of another form: shown as pyabc wrote it
            self.write(f"chipstack: calibrate: {record.getMessage()}")

    def _emit(self, text: str) -> None:
        if m := self.EPS.match(text):
            self.eps = (int(m.group(1)), float(m.group(2)))
        elif (m := self.ACC.match(text)) and self.eps:
            t, eps = self.eps
            self.write(f"chipstack: calibrate: generation {t}: epsilon {eps:.4g}, accepted {m.group(1)} of "
                       f"{m.group(2)} simulated (acceptance rate {float(m.group(3)):.3f}), ESS "
                       f"{float(m.group(4)):.1f}")
        elif text.startswith("Stop:"):
            self.write(f"chipstack: calibrate: {text}")


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_abc(spec: CalibrationSpec, out: Path, resume: bool = False, max_generations: int | None = None,
            write: Callable[[str], None] = _stderr):
    """Run (or with ``resume`` continue) the ABC-SMC into ``out/calibration.db`` until the spec's
    ``generations`` (or ``max_generations``, a total count) are in the database, ε reaches
    ``min_epsilon`` or ``max_simulations`` particles were simulated in all (generations included).
    Returns the pyabc History. Raises UsageError for a folder that does not fit."""
    import pyabc

    db = out / DB
    total = spec.generations if max_generations is None else int(max_generations)
    abc = pyabc.ABCSMC(lambda v: simulate(spec, dict(v)), prior_distribution(spec),
                       make_distance(spec.targets), population_size=spec.population_size,
                       eps=pyabc.QuantileEpsilon(alpha=spec.epsilon_quantile),
                       sampler=pyabc.sampler.SingleCoreSampler())
    handler = _Progress(write)
    logger = logging.getLogger("ABC")
    previous = (logger.level, logger.propagate, list(logger.handlers))
    logger.handlers, logger.propagate = [handler], False
    logger.setLevel(logging.INFO)
    try:
        # Parameters on scales from 0.1 to 4e6 put the rounding of the particles' covariance above numpy's
        # absolute tolerance (1e-8) in its positive-semidefinite check; numpy then samples from its SVD
        # as it would anyway, so the warning says nothing about the sampler: it is not shown.
        warnings.filterwarnings("ignore", message="covariance is not symmetric positive-semidefinite")
        if resume:
            if not db.is_file():
                raise UsageError(f"--resume: {shown(str(db))}: no such file; allowed: a folder an earlier "
                                 f"'chipstack calibrate' wrote (or leave out --resume)")
            abc.load("sqlite:///" + str(db.resolve()), 1)
            done = abc.history.max_t + 1
            np.random.seed((spec.seed + done) % 2**32)
            write(f"chipstack: calibrate: resuming {db}: {done} generation(s) done, "
                  f"{max(total - done, 0)} to go")
        else:
            np.random.seed(spec.seed)
            abc.new("sqlite:///" + str(db.resolve()), observed(spec))
            done = 0
        if total > done:
            abc.run(minimum_epsilon=spec.min_epsilon, max_nr_populations=total - done,
                    max_total_nr_simulations=spec.max_simulations)
        return abc.history
    finally:
        logger.level, logger.propagate, logger.handlers = previous[0], previous[1], previous[2]


def calibrate(spec: CalibrationSpec, out: str | Path, resume: bool = False,
              max_generations: int | None = None,
              write: Callable[[str], None] = _stderr) -> dict:
    """``chipstack calibrate``: run or resume the ABC-SMC in ``out``, then write the posterior, its
    summaries, figures and manifest (:mod:`model.validation.abc_outputs`). Returns what ``finish``
    returns. Raises UsageError for a folder that does not fit."""
    import time

    from model.sweep.io import create_folder
    from model.validation.abc_outputs import finish, start_manifest

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {shown(str(out))}: exists and is not a folder; allowed: a folder")
    if not resume and (out / DB).exists():
        raise UsageError(f"--out {shown(str(out))}: holds a calibration ({DB}); allowed: --resume to "
                         f"continue it, or another --out")
    create_folder(out)
    t0 = time.perf_counter()
    manifest = start_manifest(spec, out, resume)
    history = run_abc(spec, out, resume, max_generations, write)
    return finish(spec, out, history, manifest, time.perf_counter() - t0)
