"""``python -m benchmarks [--quick] [--json FILE]``: the INTERFACES §8 figures, measured in one run.

Prints a table (figure, value, target, met) and, with ``--json``, writes the figures under the exact
INTERFACES §8 keys plus extras (log-log slope, plain numpy kernel, parallel efficiency, RSS ratio,
workloads, machine). ``--quick`` is a smoke version (small workloads, one repetition) whose numbers
are not the benchmark: the JSON then says ``"quick": true`` and gives the workloads actually used.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import platform
import sys
import time
from pathlib import Path

from . import measure

DESIGN_KEYS = (
    "model_agent_steps_per_s",
    "reference_agent_steps_per_s",
    "speedup",
    "seconds_per_step",
    "seconds_100k_20_quarters",
    "sweep_seconds_1_worker",
    "sweep_seconds_2_workers",
    "sweep_peak_rss_mb_100_runs",
    "sweep_peak_rss_mb_10000_runs",
)

FULL = {
    "speed": {"n": 10_000, "model_quarters": 20, "ref_quarters": 4, "reps": 3},
    "scaling": {"sizes": [1_000, 10_000, 100_000], "quarters": 20, "reps": 3},
    "full_run": {"n": 100_000, "quarters": 20, "reps": 3},
    "small_run": {"n": 300, "quarters": 20, "reps": 7},
    "kernel": {"n": 100_000, "reps": 5},
    "sweep_speed": {"runs": 200, "n_developers": 300, "steps": 20, "tries": 2},
    "sweep_memory": {"small_runs": 100, "large_runs": 10_000, "n_developers": 50, "steps": 20, "workers": 2},
    "report": {"sample_n": 32, "n_developers": 20, "steps": 20, "replications": 3, "reps": 3},
}
QUICK = {
    "speed": {"n": 1_000, "model_quarters": 4, "ref_quarters": 2, "reps": 1},
    "scaling": {"sizes": [1_000, 10_000, 100_000], "quarters": 2, "reps": 1},
    "full_run": {"n": 100_000, "quarters": 20, "reps": 1},
    "small_run": {"n": 300, "quarters": 20, "reps": 3},
    "kernel": {"n": 20_000, "reps": 2},
    "sweep_speed": {"runs": 6, "n_developers": 50, "steps": 4, "tries": 1},
    "sweep_memory": {"small_runs": 4, "large_runs": 40, "n_developers": 50, "steps": 4, "workers": 2},
    "report": {"sample_n": 4, "n_developers": 20, "steps": 4, "replications": 2, "reps": 1},
}

TARGETS = {
    "speedup": (">=", 100.0),
    "loglog_slope": ("<=", 1.1),
    "seconds_100k_20_quarters": ("<", 3.0),
    "seconds_300_20_quarters": ("<=", 0.025),
    "model_over_kernel": ("<=", 1.2),
    "parallel_efficiency_2_workers": (">=", 0.85),
    "rss_ratio_10000_vs_100_runs": ("<=", 1.25),
}


def _log(msg: str) -> None:
    print(f"[benchmarks {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


#: The figures measured by each workload (``--only`` names workloads; the others are left as None).
FIGURES = {
    "speed": ("model_agent_steps_per_s", "reference_agent_steps_per_s", "speedup", "speedup_same_quarters"),
    "scaling": ("seconds_per_step", "loglog_slope", "loglog_slope_pairs"),
    "full_run": ("seconds_100k_20_quarters", "seconds_100k_20_quarters_min", "construction_seconds_100k"),
    "small_run": ("seconds_300_20_quarters", "seconds_300_20_quarters_min"),
    "kernel": ("kernel_seconds_per_step", "kernel_model_seconds_per_step", "model_over_kernel"),
    "sweep_speed": ("sweep_seconds_1_worker", "sweep_seconds_2_workers", "parallel_efficiency_2_workers",
                    "sweep_tries"),
    "sweep_memory": ("sweep_peak_rss_mb_100_runs", "sweep_peak_rss_mb_10000_runs",
                     "rss_ratio_10000_vs_100_runs", "sweep_memory_seconds", "sweep_ru_maxrss_mb_inherited"),
    "report": ("report_seconds", "report_by_maker_seconds", "report_runs", "report_by_maker_rows"),
}


def run(quick: bool, only: tuple[str, ...] = tuple(FULL)) -> dict:
    cfg = QUICK if quick else FULL
    fig: dict = {"quick": quick, "workloads": cfg, "loadavg_at_start": _loadavg()}
    if set(only) != set(FULL):
        fig["only"] = list(only)
    fig.update({key: None for name in FULL if name not in only for key in FIGURES[name]})
    t_start = time.perf_counter()

    if "speed" in only:
        _log(f"model vs per-agent reference at {cfg['speed']['n']} developers")
        s = measure.model_vs_reference(**cfg["speed"])
        fig.update({k: s[k] for k in FIGURES["speed"]})

    if "scaling" in only:
        _log(f"seconds per quarter at {cfg['scaling']['sizes']}")
        sc = measure.seconds_per_step(**cfg["scaling"])
        fig["seconds_per_step"] = sc["seconds_per_step"]
        fig["loglog_slope"] = sc["loglog_slope"]
        fig["loglog_slope_pairs"] = sc["loglog_slope_pairs"]

    if "full_run" in only:
        _log(f"{cfg['full_run']['n']} developers x {cfg['full_run']['quarters']} quarters, "
             f"construction included")
        fr = measure.full_run_seconds(**cfg["full_run"])
        fig["seconds_100k_20_quarters"] = fr["seconds"]
        fig["seconds_100k_20_quarters_min"] = fr["seconds_min"]
        fig["construction_seconds_100k"] = fr["construction_seconds"]

    if "small_run" in only:
        _log(f"{cfg['small_run']['n']} developers x {cfg['small_run']['quarters']} quarters, "
             f"construction included")
        sr = measure.full_run_seconds(**cfg["small_run"])
        fig["seconds_300_20_quarters"] = sr["seconds"]
        fig["seconds_300_20_quarters_min"] = sr["seconds_min"]

    if "kernel" in only:
        _log(f"bare-numpy bound vs model quarter at {cfg['kernel']['n']} developers")
        kv = measure.kernel_vs_model(**cfg["kernel"])
        fig["kernel_seconds_per_step"] = kv["kernel_seconds_per_step"]
        fig["kernel_model_seconds_per_step"] = kv["model_seconds_per_step"]
        fig["model_over_kernel"] = kv["model_over_kernel"]

    ok, why = measure.runner_available()
    fig["runner"] = why
    sweeps = [name for name in ("sweep_speed", "sweep_memory", "report") if name in only]
    if ok:
        fig["loadavg_before_sweeps"] = _loadavg()
    if ok and "sweep_speed" in only:
        _log("sweep speed, 1 and 2 workers: {runs} runs of {n_developers} developers x {steps} quarters"
             .format(**cfg["sweep_speed"]))
        sw = measure.sweep_speed(**cfg["sweep_speed"])
        fig["sweep_seconds_1_worker"] = sw["sweep_seconds_1_worker"]
        fig["sweep_seconds_2_workers"] = sw["sweep_seconds_2_workers"]
        fig["parallel_efficiency_2_workers"] = sw["parallel_efficiency_2_workers"]
        fig["sweep_tries"] = {"1": sw["tries_1_worker"], "2": sw["tries_2_workers"]}
    if ok and "sweep_memory" in only:
        _log("sweep peak RSS of the main process: {small_runs} and {large_runs} runs"
             .format(**cfg["sweep_memory"]))
        mem = measure.sweep_memory(**cfg["sweep_memory"])
        fig["sweep_peak_rss_mb_100_runs"] = mem["sweep_peak_rss_mb_small"]
        fig["sweep_peak_rss_mb_10000_runs"] = mem["sweep_peak_rss_mb_large"]
        fig["rss_ratio_10000_vs_100_runs"] = mem["rss_ratio"]
        fig["sweep_memory_seconds"] = {"small": mem["seconds_small"], "large": mem["seconds_large"]}
        fig["sweep_ru_maxrss_mb_inherited"] = mem["ru_maxrss_mb"]
    if ok and "report" in only:
        _log("report of a Sobol' sweep: {sample_n} x 6 points x {replications} runs of {n_developers} "
             "developers x {steps} quarters (the sweep is not timed)".format(**cfg["report"]))
        rp = measure.report_seconds(**cfg["report"])
        fig["report_seconds"] = rp["report_seconds"]
        fig["report_by_maker_seconds"] = rp["by_maker_seconds"]
        fig["report_runs"] = rp["runs"]
        fig["report_by_maker_rows"] = rp["by_maker_rows"]
    if not ok and sweeps:
        _log(f"sweeps skipped: {why}")
        fig.update({key: None for name in sweeps for key in FIGURES[name]})

    fig["targets"] = {name: {"op": op, "target": t, "value": fig.get(name), "met": _met(fig.get(name), op, t)}
                      for name, (op, t) in TARGETS.items()}
    fig["machine"] = {"python": platform.python_version(), "platform": platform.platform(),
                      "cpus": os.cpu_count(), "loadavg_at_end": _loadavg()}
    fig["date"] = _dt.datetime.now().isoformat(timespec="seconds")
    fig["benchmark_seconds"] = time.perf_counter() - t_start
    return fig


def _loadavg():
    try:
        return list(os.getloadavg())
    except OSError:  # pragma: no cover
        return None


def _met(value, op, target):
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return {"<": value < target, "<=": value <= target, ">=": value >= target}[op]


def _fmt(v, unit=""):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        if abs(v) >= 1e5:
            return f"{v:,.0f}{unit}"
        if abs(v) >= 100:
            return f"{v:.0f}{unit}"
        if abs(v) >= 1:
            return f"{v:.2f}{unit}"
        return f"{v:.4f}{unit}"
    return f"{v}{unit}"


def _la(v):
    return "n/a" if not v else f"{v[0]:.2f}"


def table(fig: dict) -> str:
    t = fig["targets"]
    sps = fig["seconds_per_step"] or {}

    def mark(name):
        m = t[name]["met"]
        return "" if m is None else ("met" if m else "not met")

    w = fig["workloads"]
    kernel_n = w["kernel"]["n"]
    small = w["small_run"]
    rows = [
        ("model_agent_steps_per_s", _fmt(fig["model_agent_steps_per_s"]), f"n={w['speed']['n']}", ""),
        ("reference_agent_steps_per_s", _fmt(fig["reference_agent_steps_per_s"]), f"n={w['speed']['n']}", ""),
        ("speedup", _fmt(fig["speedup"], "x"), ">= 100x", mark("speedup")),
        ("  (same quarters as reference)", _fmt(fig["speedup_same_quarters"], "x"), "", ""),
    ]
    for n, v in sps.items():
        rows.append((f"seconds_per_step[{n}]", _fmt(v, " s"), "", ""))
    rows += [
        ("log-log slope 1k->100k", _fmt(fig["loglog_slope"]), "<= 1.1", mark("loglog_slope")),
        ("seconds_100k_20_quarters", _fmt(fig["seconds_100k_20_quarters"], " s"), "< 3 s",
         mark("seconds_100k_20_quarters")),
        ("  of which construction", _fmt(fig["construction_seconds_100k"], " s"), "", ""),
        (f"seconds_300_20_quarters (median of {small['reps']})", _fmt(fig["seconds_300_20_quarters"], " s"),
         "<= 0.025 s", mark("seconds_300_20_quarters")),
        (f"bare-numpy bound, s/quarter [{kernel_n}]", _fmt(fig["kernel_seconds_per_step"], " s"), "", ""),
        (f"model quarter beside it [{kernel_n}]", _fmt(fig["kernel_model_seconds_per_step"], " s"), "", ""),
        ("model / bare-numpy bound", _fmt(fig["model_over_kernel"], "x"), "<= 1.2x",
         mark("model_over_kernel")),
        ("sweep_seconds_1_worker", _fmt(fig["sweep_seconds_1_worker"], " s"), "", ""),
        ("sweep_seconds_2_workers", _fmt(fig["sweep_seconds_2_workers"], " s"), "", ""),
        ("parallel efficiency, 2 workers", _fmt(fig["parallel_efficiency_2_workers"]), ">= 0.85",
         mark("parallel_efficiency_2_workers")),
        ("sweep_peak_rss_mb_100_runs", _fmt(fig["sweep_peak_rss_mb_100_runs"], " MB"), "", ""),
        ("sweep_peak_rss_mb_10000_runs", _fmt(fig["sweep_peak_rss_mb_10000_runs"], " MB"), "", ""),
        ("RSS ratio 10000 / 100 runs", _fmt(fig["rss_ratio_10000_vs_100_runs"]), "<= 1.25",
         mark("rss_ratio_10000_vs_100_runs")),
        (f"report_seconds (Sobol' sweep, {fig.get('report_runs')} runs)",
         _fmt(fig.get("report_seconds"), " s"), "", ""),
        ("  of which by_maker.csv's table", _fmt(fig.get("report_by_maker_seconds"), " s"), "", ""),
    ]
    if fig.get("only"):
        rows = [r for r in rows if r[1] != "n/a"]
    widths = [max(len(r[i]) for r in rows + [("figure", "value", "target", "")]) for i in range(4)]
    line = lambda r: "  ".join(c.ljust(widths[i]) if i != 1 else c.rjust(widths[i]) for i, c in enumerate(r))
    out = [line(("figure", "value", "target", "")), line(tuple("-" * w_ for w_ in widths))]
    out += [line(r) for r in rows]
    out.append(f"load average (1 min) at start {_la(fig.get('loadavg_at_start'))}, before sweeps "
               f"{_la(fig.get('loadavg_before_sweeps'))}, at end {_la(fig['machine'].get('loadavg_at_end'))} "
               f"on {fig['machine'].get('cpus')} CPUs")
    if fig["quick"]:
        out.append("(--quick: smoke-test workloads, not the benchmark)")
    if fig.get("only"):
        out.append(f"(--only {','.join(fig['only'])}: the other figures were not measured)")
    skipped = fig.get("runner", "").startswith("model.sweep.runner not")
    if skipped or "sweep_speed" in fig.get("only", FULL) and fig.get("sweep_seconds_1_worker") is None:
        out.append(f"sweeps: {fig.get('runner')}")
    return "\n".join(out)


def _workloads(text: str) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in FULL]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"{text!r}: allowed: comma-separated names from {', '.join(FULL)}")
    return names


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fast smoke version (small workloads, 1 repetition)")
    p.add_argument("--json", metavar="FILE",
                   help="write the figures (INTERFACES §8 keys plus extras) to FILE")
    p.add_argument("--only", metavar="NAMES", type=_workloads, default=tuple(FULL),
                   help=f"measure only these workloads, comma-separated ({', '.join(FULL)}); "
                        f"e.g. --only sweep_memory for the RSS rows")
    args = p.parse_args(argv)
    fig = run(args.quick, args.only)
    print(table(fig))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(fig, indent=2, allow_nan=True) + "\n")
        tmp.replace(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
