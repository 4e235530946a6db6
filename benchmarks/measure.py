"""The INTERFACES §8 measurements, each a plain function returning numbers (seconds, rates, MB).

Timings on a shared 2-core machine are noisy: every figure is the median of repetitions (or, for the
sweeps, the best of two tries as INTERFACES §8 says), and ratios (speedup, kernel vs model) come from
measurements interleaved in the same run.
"""

from __future__ import annotations

import gc
import inspect
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from model import ChipMarketModel
from model.core.paths import REPO_ROOT as REPO

from .kernel import kernel_quarter, kernel_state
from .reference import ReferenceModel


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def step_times(model, steps: int) -> list[float]:
    out = []
    for _ in range(steps):
        out.append(_timed(model.step))
    return out


# ------------------------------------------------------------------------------------------------
def model_vs_reference(n: int, model_quarters: int, ref_quarters: int, reps: int, seed: int = 1) -> dict:
    """Developer-agent-steps per second of the model and of the per-agent reference at ``n``.

    Construction is excluded from both. Repetitions alternate model and reference so that both see
    the same machine load; each figure is the median over repetitions. The reference runs fewer
    quarters (it is slow); ``speedup_same_quarters`` compares the model on those same quarters.
    """
    model_rates, model_rates_same, ref_rates = [], [], []
    for r in range(reps):
        m = ChipMarketModel(rng=seed + r, n_developers=n)
        gc.collect()
        t = step_times(m, model_quarters)
        model_rates.append(n * model_quarters / sum(t))
        model_rates_same.append(n * ref_quarters / sum(t[:ref_quarters]))
        del m
        ref = ReferenceModel(rng=seed + r, n_developers=n)
        gc.collect()
        t = step_times(ref, ref_quarters)
        ref_rates.append(n * ref_quarters / sum(t))
        del ref
    model_rate = statistics.median(model_rates)
    ref_rate = statistics.median(ref_rates)
    return {
        "model_agent_steps_per_s": model_rate,
        "reference_agent_steps_per_s": ref_rate,
        "speedup": model_rate / ref_rate,
        "speedup_same_quarters": statistics.median(model_rates_same) / ref_rate,
        "n": n, "model_quarters": model_quarters, "reference_quarters": ref_quarters, "reps": reps,
    }


def seconds_per_step(sizes: list[int], quarters: int, reps: int, seed: int = 1) -> dict:
    """Median seconds per quarter (construction excluded) at each size, and the log-log slope."""
    out = {}
    for n in sizes:
        per = []
        for r in range(reps):
            m = ChipMarketModel(rng=seed + r, n_developers=n)
            gc.collect()
            per.append(sum(step_times(m, quarters)) / quarters)
            del m
        out[str(n)] = statistics.median(per)
    x = np.log10([float(n) for n in sizes])
    y = np.log10([out[str(n)] for n in sizes])
    slope = float(np.polyfit(x, y, 1)[0]) if len(sizes) >= 2 else float("nan")
    return {"seconds_per_step": out, "loglog_slope": slope,
            "loglog_slope_pairs": {f"{a}-{b}": float((y[i + 1] - y[i]) / (x[i + 1] - x[i]))
                                   for i, (a, b) in enumerate(zip(sizes, sizes[1:]))}}


def full_run_seconds(n: int, quarters: int, reps: int, seed: int = 1) -> dict:
    """Wall time of ``ChipMarketModel(n_developers=n).run(quarters)``, construction included."""
    total, construct = [], []
    for r in range(reps):
        gc.collect()
        t0 = time.perf_counter()
        m = ChipMarketModel(rng=seed + r, n_developers=n)
        t1 = time.perf_counter()
        m.run(quarters)
        t2 = time.perf_counter()
        total.append(t2 - t0)
        construct.append(t1 - t0)
        del m
    return {"seconds": statistics.median(total), "seconds_min": min(total),
            "construction_seconds": statistics.median(construct)}


def kernel_vs_model(n: int, reps: int, seed: int = 1) -> dict:
    """Seconds per quarter of the bare-numpy bound (``kernel.kernel_quarter``) and of ``model.step()``
    (the whole quarter), interleaved, after one untimed quarter of each; ``model_over_kernel`` is the
    ratio of their medians (the model's overhead over bare arithmetic)."""
    m = ChipMarketModel(rng=seed, n_developers=n)
    m.step()
    state = kernel_state(m)
    rng = np.random.default_rng(seed)
    kernel_quarter(state, rng)
    kernel, model = [], []
    for _ in range(reps):
        gc.collect()
        kernel.append(_timed(lambda: kernel_quarter(state, rng)))
        model.append(_timed(m.step))
    k, s = statistics.median(kernel), statistics.median(model)
    return {"kernel_seconds_per_step": k, "model_seconds_per_step": s, "model_over_kernel": s / k, "n": n}


# ------------------------------------------------------------------------------------------------
# Sweeps: each sweep runs in a fresh child Python, which reports its wall time and its own peak RSS:
# VmHWM of /proc/self/status (the high-water mark of this process's memory since its exec; workers
# are other processes). NB ``ru_maxrss`` of RUSAGE_SELF is *not* usable here: Linux carries the
# parent's high-water mark across fork+exec (signal->maxrss), so a child started by a benchmark
# process that held a 100k-developer model reports that process's peak. It is kept as an extra.
SWEEP_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
spec = json.loads(sys.argv[1])
from model.sweep.runner import run_sweep
t0 = time.perf_counter()
kwargs = dict(workers=spec["workers"])
import inspect
if "progress" in inspect.signature(run_sweep).parameters:
    kwargs["progress"] = False
run_sweep(spec["experiment"], spec["out"], **kwargs)
seconds = time.perf_counter() - t0
rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
hwm = None
for line in Path("/proc/self/status").read_text().splitlines():
    if line.startswith("VmHWM:"):
        hwm = int(line.split()[1])
print(json.dumps({"seconds": seconds, "ru_maxrss_kb": rss_kb, "vmhwm_kb": hwm}))
"""


def runner_available() -> tuple[bool, str]:
    try:
        from model.sweep import runner  # noqa: F401
    except Exception as exc:  # noqa: BLE001 — the runner is being written by someone else
        return False, f"model.sweep.runner not importable: {exc!r}"
    if not hasattr(runner, "run_sweep"):
        return False, "model.sweep.runner has no run_sweep"
    return True, "run_sweep" + str(inspect.signature(runner.run_sweep))


def write_experiment(folder: Path, name: str, runs: int, n_developers: int, steps: int,
                     seed: int = 8) -> Path:
    path = folder / f"{name}.toml"
    path.write_text(
        "[experiment]\n"
        f'name = "{name}"\n'
        'description = "benchmark workload (benchmarks/measure.py)"\n'
        f"steps = {steps}\nreplications = {runs}\nseed = {seed}\n\n"
        "[parameters]\n"
        f"n_developers = {n_developers}\n"
    )
    return path


def sweep_once(runs: int, n_developers: int, steps: int, workers: int, name: str) -> dict:
    """One sweep in a fresh child process, outputs in a temporary folder removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="chipstack-bench-") as tmp:
        tmp = Path(tmp)
        exp = write_experiment(tmp, name, runs, n_developers, steps)
        spec = {"experiment": str(exp), "out": str(tmp / "out"), "workers": workers}
        env = dict(os.environ)
        env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", SWEEP_CHILD, json.dumps(spec)], cwd=tmp,
                              capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"sweep child failed ({proc.returncode}): {proc.stderr[-2000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["child_wall_seconds"] = wall
        return result


def sweep_speed(runs: int, n_developers: int, steps: int, tries: int = 2) -> dict:
    """Best of ``tries`` for 1 and 2 workers (tries interleaved), and the parallel efficiency."""
    one, two = [], []
    for _ in range(tries):
        one.append(sweep_once(runs, n_developers, steps, 1, "bench_speed_1")["seconds"])
        two.append(sweep_once(runs, n_developers, steps, 2, "bench_speed_2")["seconds"])
    s1, s2 = min(one), min(two)
    return {"sweep_seconds_1_worker": s1, "sweep_seconds_2_workers": s2,
            "parallel_efficiency_2_workers": s1 / (2.0 * s2),
            "tries_1_worker": one, "tries_2_workers": two,
            "workload": {"runs": runs, "n_developers": n_developers, "steps": steps}}


def sweep_memory(small_runs: int, large_runs: int, n_developers: int, steps: int, workers: int) -> dict:
    """Peak RSS (MB) of the sweep's main process for a small and a large number of runs."""
    a = sweep_once(small_runs, n_developers, steps, workers, "bench_rss_small")
    b = sweep_once(large_runs, n_developers, steps, workers, "bench_rss_large")
    mb_a, mb_b = a["vmhwm_kb"] / 1024.0, b["vmhwm_kb"] / 1024.0
    return {"sweep_peak_rss_mb_small": mb_a, "sweep_peak_rss_mb_large": mb_b, "rss_ratio": mb_b / mb_a,
            "seconds_small": a["seconds"], "seconds_large": b["seconds"],
            "ru_maxrss_mb": {"small": a["ru_maxrss_kb"] / 1024.0, "large": b["ru_maxrss_kb"] / 1024.0},
            "workload": {"small_runs": small_runs, "large_runs": large_runs,
                         "n_developers": n_developers, "steps": steps, "workers": workers}}


def nan_if_none(x):
    return float("nan") if x is None else x


def is_nan(x) -> bool:
    return isinstance(x, float) and math.isnan(x)


# ------------------------------------------------------------------------------------------------
# The report of a sampled sweep: what `chipstack sweep` does after its runs besides merging them
# (by_maker.csv, sensitivity.csv and the figures; `chipstack report DIR` does the same). A Sobol'
# sweep is run once into a temporary folder (not timed); then the report is timed on it, and the table
# of by_maker.csv on its own (one row per sample point, step and chipmaker: the part that grew with
# the number of points until 2026-12-07, see README "Sweep post-processing").
REPORT_RANGES = {"lockin_weight": (0.0, 4.0), "peer_weight": (0.0, 3.0), "price_weight": (1.0, 4.0),
                 "taste_sd": (0.0, 1.5)}


def report_seconds(sample_n: int, n_developers: int, steps: int, replications: int, reps: int) -> dict:
    """Median seconds of ``build_report`` and of ``by_maker_table`` on a Sobol' sweep of
    ``sample_n`` x (4 + 2) points x ``replications`` runs."""
    from model.analysis.by_maker import by_maker_table
    from model.analysis.report import build_report
    from model.analysis.sweep_data import load_sweep
    from model.sweep.runner import run_sweep

    ranges = "".join(f"{name} = [{lo}, {hi}]\n" for name, (lo, hi) in REPORT_RANGES.items())
    with tempfile.TemporaryDirectory(prefix="chipstack-bench-") as tmp:
        tmp = Path(tmp)
        exp = tmp / "bench_report.toml"
        exp.write_text("[experiment]\n"
                       'name = "bench_report"\n'
                       'description = "benchmark workload (benchmarks/measure.py)"\n'
                       f"steps = {steps}\nreplications = {replications}\nseed = 8\n\n"
                       f"[parameters]\nn_developers = {n_developers}\n\n"
                       f'[sample]\nmethod = "sobol"\nn = {sample_n}\n\n[sample.ranges]\n{ranges}')
        out = tmp / "out"
        result = run_sweep(exp, out, workers=1, progress=False)
        report, table = [], []
        for _ in range(reps):
            gc.collect()
            report.append(_timed(lambda: build_report(out)))
            sweep = load_sweep(out)
            gc.collect()
            table.append(_timed(lambda sweep=sweep: by_maker_table(sweep)))
        rows = len(by_maker_table(load_sweep(out)))
    return {"report_seconds": statistics.median(report), "by_maker_seconds": statistics.median(table),
            "runs": result.total, "by_maker_rows": rows,
            "workload": {"sample_n": sample_n, "parameters": len(REPORT_RANGES), "replications": replications,
                         "n_developers": n_developers, "steps": steps, "reps": reps}}
