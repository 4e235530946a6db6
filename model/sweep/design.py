"""Designs: the list of runs an experiment asks for, with stable run ids and seeds.

A design point is one combination of the varying parameters: a cell of the full-factorial
``[grid]``, or a point of the ``[sample]`` (Latin hypercube, Sobol'/Saltelli or Morris, via scipy
and SALib), or a sample point within a grid cell when both are given. Every point is run
``replications`` times (or, with a precision target, as many times as the runner decides; see
:meth:`Design.runs_for`).

Identity, not position: a run's ``run_id`` is the first 16 hex digits of the sha256 of the canonical
JSON of its varying parameter values, its sample index and its replication, and its seed comes from
``numpy.random.SeedSequence(root_seed, spawn_key=(int(run_id, 16),))``. Neither depends on the order
of runs, the number of workers or which runs were already done, so a resumed or distributed sweep
gives exactly the data of a serial one.

Common random numbers (experiments with [levers] and [uncertainties]): the design crosses every lever
combination with the one sample of futures, and a run's seed comes from its *future* only, the
identity of its uncertainty values, sample index and replication (:func:`future_id`), so every
policy runs on the same futures with the same random draws. Run ids still include the levers.
Categorical values ([sample.choices], [uncertainties.choices]) take one more column of the Latin
hypercube or of the Sobol'/Saltelli sample each: value ``k`` of ``m`` where the column's unit draw is in
``[k/m, (k+1)/m)`` (with lhs and ``n`` a multiple of ``m`` each value is drawn exactly ``n/m`` times).
Under Sobol' the column is a factor of the SALib problem (bounds [0, 1]), so its first and total
indices are estimated like any range's: how much of the output's variance the choice (e.g. the US
regime) explains, alone and with everything else.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.sweep.experiment import Experiment, SampleSpec

RUN_ID_HEX = 16


@dataclass(frozen=True, slots=True)
class Point:
    """One combination of the varying parameters."""

    index: int  # position in the design: grid cells in file order, then sample points
    sample_index: int | None
    values: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Run:
    """One model run: a design point and a replication."""

    point: int  # the Point's index; design order is (point, replication)
    run_id: str
    replication: int
    seed: int
    sample_index: int | None
    values: dict[str, Any]  # the varying parameters (shared by the point's replications)


@dataclass(frozen=True)
class Design:
    kind: str  # "grid", "sample", "grid+sample" or "replications"
    varying: list[str]
    points: list[Point]
    root_seed: int
    replications: int  # per point (the minimum, with a precision target)
    sample: SampleSpec | None
    sample_points: np.ndarray | None  # (points x parameters), as run (ints rounded)
    runs: list[Run]  # runs_for(replications)
    levers: tuple[str, ...] = ()  # with [levers]: seeds by common random numbers

    @property
    def n_points(self) -> int:
        return len(self.points)

    def runs_for(self, replications: int | list[int] | np.ndarray) -> list[Run]:
        """The runs for ``replications`` per point (one number, or one per point), in design order."""
        counts = np.broadcast_to(np.asarray(replications), (len(self.points),))
        return [
            Run(point.index, run_id, r, run_seed(self.root_seed, seed_id), point.sample_index, point.values)
            for point, count in zip(self.points, counts.tolist())
            for r in range(count)
            for run_id in (make_run_id(point.values, point.sample_index, r),)
            for seed_id in ((future_id(point, self.levers, r) if self.levers else run_id),)
        ]

    def derived_seeds(self, listed: list[dict], most: int) -> dict[str, int]:
        """run_id -> seed as this design derives them (:meth:`runs_for`, the one rule), for as many
        replications of each point as ``listed`` (a manifest's runs: params, sample_index, replication)
        reaches, at most ``most``: what ``--resume`` checks a finished folder's manifest against."""
        index = {}
        for point in self.points:
            index[_point_key(point.values, point.sample_index)] = point.index
        counts = np.zeros(len(self.points), dtype=int)
        for run in listed:
            try:
                k = index.get(_point_key(run["params"], run.get("sample_index")))
                replication = run["replication"]
            except (TypeError, ValueError, KeyError):
                continue
            if k is not None and isinstance(replication, int) and 0 <= replication < most:
                counts[k] = max(counts[k], replication + 1)
        return {run.run_id: run.seed for run in self.runs_for(counts)}

    def manifest_entry(self, experiment: Experiment) -> dict:
        """The ``design`` object of manifest.json."""
        sample = None
        if self.sample is not None:
            sample = self.sample.as_dict() | {
                "salib_problem": salib_problem(self.sample),
                "calc_second_order": False if self.sample.method == "sobol" else None,
                "n_points": int(len(self.sample_points)),
            }
        entry = {"kind": self.kind, "grid": experiment.grid, "sample": sample,
                 "n_points": self.n_points, "replications": experiment.replications,
                 "precision": experiment.precision.as_dict() if experiment.precision else None}
        if self.levers:
            entry |= {"levers": list(self.levers), "uncertainties": experiment.uncertainties,
                      "seeding": "crn",
                      "n_policies": math.prod(len(experiment.grid[name]) for name in self.levers)}
        return entry


def build_design(experiment: Experiment) -> Design:
    """The design points of ``experiment`` and its runs, in design order."""
    points_matrix = sample_points(experiment.sample) if experiment.sample else None
    sample_rows = _sample_rows(experiment.sample, points_matrix)
    points = [
        Point(k, sample_index, dict(zip(experiment.grid, cell)) | sampled)
        for k, (cell, (sample_index, sampled)) in enumerate(
            itertools.product(itertools.product(*experiment.grid.values()), sample_rows))
    ]
    kind = "+".join(k for k, on in (("grid", experiment.grid), ("sample", experiment.sample)) if on)
    if experiment.levers:
        kind = "levers+uncertainties"
    design = Design(kind=kind or "replications", varying=experiment.varying, points=points,
                    root_seed=experiment.seed, replications=experiment.replications,
                    sample=experiment.sample, sample_points=points_matrix, runs=[],
                    levers=tuple(experiment.levers))
    design.runs.extend(design.runs_for(experiment.replications))
    return design


def _sample_rows(sample: SampleSpec | None, matrix: np.ndarray | None) -> list[tuple[int | None, dict]]:
    if sample is None:
        return [(None, {})]
    names = list(sample.ranges)
    kinds = ["int" if name in sample.integers else "float" for name in names]
    picks = choice_indices(sample, matrix) if sample.choices else [()] * len(matrix)
    return [
        (i, {name: (int(v) if kind == "int" else float(v)) for name, kind, v in zip(names, kinds, row)}
         | {name: values[int(k)] for (name, values), k in zip(sample.choices.items(), picks[i])})
        for i, row in enumerate(matrix.tolist())
    ]


# ---------------------------------------------------------------------------------------------
# Identity and seeds
def canonical_json(data: Any) -> str:
    """Deterministic JSON: sorted keys, no spaces, Python's shortest round-trip float repr; an infinite
    number (a cap that is off) as the string ``"inf"`` (``"-inf"``), so that JSON stays standard and
    every finite value's text (and so every run id) is what it always was. NaN is refused."""
    return json.dumps(_infinities_as_text(data), sort_keys=True, separators=(",", ":"), allow_nan=False)


def _infinities_as_text(data: Any) -> Any:
    if isinstance(data, float) and math.isinf(data):
        return "inf" if data > 0 else "-inf"
    if isinstance(data, dict):
        return {k: _infinities_as_text(v) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [_infinities_as_text(v) for v in data]
    return data


def make_run_id(values: dict[str, Any], sample_index: int | None, replication: int) -> str:
    """Stable id of a run: hex digest of its varying values, sample index and replication."""
    identity = {"values": values, "replication": replication}
    if sample_index is not None:
        identity["sample_index"] = sample_index
    return hashlib.sha256(canonical_json(identity).encode()).hexdigest()[:RUN_ID_HEX]


def _point_key(values: dict[str, Any], sample_index: int | None) -> str:
    """What identifies a design point: its varying values and sample index."""
    return canonical_json({"values": values, "sample_index": sample_index})


def future_id(point: Point, levers: tuple[str, ...] | list[str], replication: int) -> str:
    """Identity of a run's future (its values other than the levers, sample index and replication):
    the seed key under common random numbers, the same for every lever combination."""
    future = {k: v for k, v in point.values.items() if k not in levers}
    return make_run_id(future, point.sample_index, replication)


def run_seed(root_seed: int, run_id: str) -> int:
    """The run's seed (an int below 2**63) from the root seed and the run's identity."""
    sequence = np.random.SeedSequence(root_seed, spawn_key=(int(run_id, 16),))
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


# ---------------------------------------------------------------------------------------------
# Sampling designs
def salib_problem(sample: SampleSpec) -> dict:
    """The SALib problem definition of a sample (names and bounds in file order); under Sobol' the
    categorical choices follow as unit columns (their index is ``floor(u * m)``)."""
    names, bounds = list(sample.ranges), [[lo, hi] for lo, hi in sample.ranges.values()]
    if sample.method == "sobol" and sample.choices:
        names, bounds = names + list(sample.choices), bounds + [[0.0, 1.0]] * len(sample.choices)
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def sample_points(sample: SampleSpec) -> np.ndarray:
    """(points x parameters) values; integer parameters (``sample.integers``) rounded to the nearest
    integer."""
    problem = salib_problem(sample)
    if sample.method == "posterior":
        from model.sweep.draws import draw_points

        matrix = draw_points(sample)
    elif sample.method == "sobol":
        from SALib.sample import sobol

        matrix = sobol.sample(problem, sample.n, calc_second_order=False, scramble=True, seed=sample.seed)
    elif sample.method == "morris":
        from SALib.sample import morris

        matrix = morris.sample(problem, sample.n, num_levels=sample.num_levels, seed=sample.seed)
    else:
        from scipy.stats import qmc

        unit = _lhs_unit(sample)[:, : problem["num_vars"]]
        bounds = np.asarray(problem["bounds"], dtype=float)
        matrix = qmc.scale(unit, bounds[:, 0], bounds[:, 1]) if len(bounds) else unit
    matrix = np.asarray(matrix, dtype=float)
    is_int = np.array([name in sample.integers for name in problem["names"]], dtype=bool)
    if is_int.any():
        matrix[:, is_int] = np.rint(matrix[:, is_int])
    return matrix


def _lhs_unit(sample: SampleSpec) -> np.ndarray:
    """The unit Latin hypercube of an lhs sample: one column per range, then one per choice."""
    from scipy.stats import qmc

    d = len(sample.ranges) + len(sample.choices)
    return qmc.LatinHypercube(d=d, rng=np.random.default_rng(sample.seed)).random(sample.n)


def choice_indices(sample: SampleSpec, matrix: np.ndarray | None = None) -> np.ndarray:
    """(points x choices) indices into each categorical value list: from the Sobol' matrix's choice
    columns, or from the Latin hypercube's extra columns."""
    if sample.method == "sobol":
        unit = np.asarray(matrix, dtype=float)[:, len(sample.ranges):]
    else:
        unit = _lhs_unit(sample)[:, len(sample.ranges):]
    sizes = np.array([len(v) for v in sample.choices.values()])
    return np.minimum(np.floor(unit * sizes).astype(int), sizes - 1)
