"""The ``chipstack`` commands: one short function per command, each calling the layer that does the
work and printing what it returns (library modules return text and data; only the command line prints).
``model.cli`` parses the arguments and calls these."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from model.cli_errors import StdoutFailed, stdout_text, stdout_to_devnull
from model.sweep.errors import UsageError, one_line, os_error_text, quiet_floating_point, shown
from model.sweep.interrupts import Terminated

#: what a sweep's file error adds: the cause fixed, the same command finishes the sweep
SWEEP_KEPT = "the runs saved so far are kept"
RESUME = "run the same command with --resume"


#: set by SIGTERM (``on_sigterm``): an interrupted sweep exits 143, not 130
_TERMINATED = False


def on_sigterm(signum, frame) -> None:
    """SIGTERM: as Ctrl-C (the sweep keeps what is done), then exit 143."""
    global _TERMINATED
    _TERMINATED = True
    raise Terminated


def terminated() -> bool:
    """Whether SIGTERM arrived (``on_sigterm``)."""
    return _TERMINATED


def parse_sets(sets: list[str]) -> dict:
    """``["a=1", "b=x"]`` -> typed, validated parameters. Raises UsageError."""
    from model.core.parameters import coerce_text

    params: dict = {}
    for item in sets:
        if "=" not in item:
            raise UsageError(f"--set {shown(item)}: expected NAME=VALUE")
        name, value = (s.strip() for s in item.split("=", 1))
        try:
            params[name] = coerce_text(name, value)
        except (ValueError, OverflowError) as exc:
            raise UsageError(f"--set {shown(item)}: {exc}") from None
    return params


def cmd_run(args: argparse.Namespace) -> int:
    params = parse_sets(args.sets)  # bad input fails before the model and matplotlib are loaded

    from model.analysis.figures import run_figure
    from model.core.chip_market import ChipMarketModel
    from model.sweep.io import atomic_path, create_folder, remove_created, write_atomic

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {shown(args.out)}: exists and is not a folder")
    t0 = time.perf_counter()
    try:
        model = ChipMarketModel(rng=args.seed, **params)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    created = create_folder(out)  # before the run: a folder that cannot be made fails at once
    try:
        with quiet_floating_point(getattr(args, "debug", False)):
            df = model.run(args.steps)
    except BaseException as exc:
        remove_created(created)  # nothing written: not even the folder
        if getattr(args, "debug", False) or not isinstance(exc, Exception):
            raise
        print(f"chipstack: error: the run failed: {one_line(f'{type(exc).__name__}: {exc}')}; nothing was "
              f"written; run the same command with --debug for the traceback", file=sys.stderr)
        return 1
    seconds = time.perf_counter() - t0
    csv_path, png_path = out / "timeseries.csv", out / "run.png"
    fig = run_figure(df, title=_title(params, args.seed))
    try:
        write_atomic(csv_path, lambda p: df.to_csv(p, index=False))
        with atomic_path(png_path) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
    except OSError as exc:  # a read-only folder, a full disk ...
        raise UsageError(f"{os_error_text(exc, out)}; the run was not saved") from None
    print_out(f"{summary_text(df, params, args.seed, model.p.n_developers, seconds)}\n\n"
              f"wrote {csv_path} and {png_path}", "the summary", f"the run is saved in {out}")
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    """``chipstack params [NAME]``: the parameter table (``model.core.parameters.PARAMS``) with units,
    defaults, allowed values and source grades (``model.core.defaults_doc.parameter_listing``)."""
    from model.core.defaults_doc import parameter_listing

    try:
        text = parameter_listing(args.name)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print_out(text.rstrip("\n"), "the parameters", "nothing else was done")
    return 0


def print_out(text: str, what: str, done: str) -> None:
    """Print ``text`` on stdout. A stdout that cannot be written (``>/dev/full``, a full disk) is one
    error line on stderr, exit 2, saying ``what`` was not shown and what is ``done``; a reader that went
    away is main's BrokenPipeError (exit 141)."""
    try:
        print(text, flush=True)
    except BrokenPipeError:
        raise
    except OSError as exc:
        stdout_to_devnull(sys.stdout)  # what is still buffered must not fail again at exit
        raise UsageError(stdout_text(exc, f"{what} to standard output", done)) from None


def _title(params: dict, seed: int) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "default parameters"
    return f"chipstack run ({shown}; seed {seed})"


#: Number format of each reporter in the ``run`` summary (labels, units and scales are the reporter
#: table's, ``model.core.reporters.REPORTERS``).
RUN_SUMMARY_FORMATS: dict[str, str] = {
    "us_stack_share": "{:.3f}", "us_share_new": "{:.3f}", "developers_on_us_stack": "{:.3f}",
    "us_share_legal": "{:.3f}", "us_share_legacy": "{:.3f}", "us_share_grey": "{:.3f}",
    "china_to_us_compute_ratio": "{:.4f}", "china_compute_h100e": "{:.2f}", "frontier_gap": "{:.3f}",
    "nvidia_china_revenue_usd": "{:.2f}", "domestic_revenue_usd": "{:.2f}",
    "domestic_ecosystem": "{:.3f}", "capability_gap_months": "{:.0f}", "unmet_demand_h100e": "{:.0f}",
}


def summary_text(df, params: dict, seed: int, n_developers: int, seconds: float) -> str:
    from model.analysis.figures import rule_spans
    from model.core.reporters import REPORTERS

    first, last = df.iloc[0], df.iloc[-1]
    quarters = df["quarter"].tolist()
    rules = "; ".join(f"{label} {quarters[a]}" + (f"-{quarters[b]}" if b > a else "")
                      for a, b, label in rule_spans(df))
    shown = [r for r in REPORTERS if r.name in RUN_SUMMARY_FORMATS]
    width = max(len(r.axis_label) for r in shown) + 2
    lines = [
        f"chipstack run: {len(df)} quarters {first['quarter']}-{last['quarter']}, "
        f"{n_developers} developers, seed {seed}, {seconds:.2f} s (construction included)",
        f"parameters: {', '.join(f'{k}={v}' for k, v in params.items()) or 'defaults'}",
        *([f"rules in force (US regime / Beijing's policy): {rules}"] if rules else []),
        "",
        f"{'state at the end of':{width}s}{first['quarter']:>12s}{last['quarter']:>12s}",
    ]
    for r in shown:
        fmt = RUN_SUMMARY_FORMATS[r.name]
        lines.append(_row(r.axis_label, r.shown(first[r.name]), r.shown(last[r.name]), fmt, width))
    return "\n".join(lines)


def _row(label: str, a: float, b: float, fmt: str, width: int) -> str:
    return f"{label:{width}s}{fmt.format(a):>12s}{fmt.format(b):>12s}"


def cmd_sweep(args: argparse.Namespace, model_cls: type | None = None) -> int:
    """``chipstack sweep EXPERIMENT [--workers N] [--scheduler ADDRESS] [--resume] [--out DIR]``: the
    runner, then the report (figures) of the finished sweep, then the summary table.

    ``model_cls``: the model class to run (default ``ChipMarketModel``; tests pass a failing subclass).
    """
    from model.sweep.experiment import load_experiment
    from model.sweep.planning import plan
    from model.sweep.runner import run_sweep
    from model.sweep.summary import summary_text

    experiment = load_experiment(args.experiment)
    notice = plan(experiment.name, experiment.n_runs())  # refuses a design this machine cannot hold
    if notice:
        print(notice, file=sys.stderr, flush=True)
    out_dir = Path(args.out) if args.out else Path("outputs") / experiment.name
    extra = {"model_cls": model_cls} if model_cls is not None else {}
    try:
        result = run_sweep(experiment, out_dir, workers=args.workers, resume=args.resume,
                           scheduler=args.scheduler, on_finished=_sweep_report, warm_up=_warm_up_report,
                           progress=_progress_bar(), on_warning=warn, **extra)
    except OSError as exc:  # disk full, a folder that became read-only ... (each cause its own words)
        raise sweep_file_error(exc, out_dir) from None
    if result.interrupted:
        code = 143 if _TERMINATED else 130
        print(f"chipstack: {'terminated' if code == 143 else 'interrupted'}: {result.done} of {result.total} "
              f"runs are saved in {out_dir}; run the same command with --resume to finish", file=sys.stderr)
        return code
    if result.broken:
        print(f"chipstack: error: {result.broken}; {result.done} of {result.total} runs are saved in "
              f"{out_dir}; run the same command with --resume to finish", file=sys.stderr)
        return 1
    print_out(summary_text(out_dir), "the summary", f"the sweep is complete in {out_dir}")
    if result.failed:
        print(f"chipstack: {result.failed} of {result.total} runs failed; see {out_dir / 'failures.csv'} "
              f"(--resume retries them)", file=sys.stderr)
    return result.exit_code


def sweep_file_error(exc: OSError, out_dir: Path) -> Exception:
    """What a sweep's file error becomes: one line with its cause and that the saved runs are kept (a
    standard output that failed stays that: ``model.cli`` says it)."""
    if isinstance(exc, StdoutFailed):
        return exc
    return UsageError(f"{os_error_text(exc, out_dir, RESUME)}; {SWEEP_KEPT}")


def _sweep_report(out_dir: Path) -> list[Path]:
    """The report of a finished sweep (figures, sensitivity.csv): the runner's ``on_finished``."""
    try:
        from model.analysis.report import write_report
    except ImportError as exc:
        print(f"chipstack: warning: no figures ({exc}); the sweep's data are saved", file=sys.stderr)
        return []
    return write_report(out_dir)


def _warm_up_report() -> None:
    """Import the report (scipy.stats, matplotlib: ~1.5 s) while the workers run."""
    import model.analysis.report  # noqa: F401


def cmd_report(args: argparse.Namespace) -> int:
    """``chipstack report DIR``: the checked report of a finished sweep; list the files written."""
    from model.analysis.report import checked_report

    report = checked_report(args.dir, getattr(args, "format", ("png",)))
    for p in report.paths:
        print(one_line(f"wrote {p}"))
    for note in report.notes:
        print(one_line(f"note: {note}"))  # notes may quote names from the folder's files
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    """``chipstack discover DIR ...``: scenario discovery (PRIM); print the box and where it is written."""
    from model.analysis.discover import discover_folder

    d, out = discover_folder(args.dir, args.reporter, args.below, args.above, args.policy, args.min_density,
                             args.box)
    print(d.markdown())
    for note in d.notes:
        print(f"note: {note}")
    print(f"wrote {out}/ (box.md, box.csv, trajectory.csv, tradeoff.png, box.png, pairs.png)")
    return 0


def cmd_robust(args: argparse.Namespace) -> int:
    """``chipstack robust DIR ...``: robustness of each policy; print the ranking and where it is written."""
    from model.analysis.robust import robust_folder

    r, out = robust_folder(args.dir, args.reporter, args.cost, args.target, args.cap, args.rank_by)
    for policy in r.left_out:
        warn(f"left out of the ranking: {policy}")
    print(r.markdown())
    for note in r.notes:
        print(f"note: {note}")
    print(f"wrote {out}/ (ranking.md, ranking.csv, regret.csv, frontier.csv, runs.csv, robust.json, "
          f"robust.png, frontier.png)")
    return 0


def cmd_game(args: argparse.Namespace) -> int:
    """``chipstack game EXPERIMENT [--workers N] [--scheduler ADDRESS] [--resume] [--out DIR]``: the game's
    runs are a sweep (the runner, its progress bar and --resume); then the game is solved on them and
    ``OUT/game/`` written; print its summary."""
    from model.sweep.experiment import load_experiment
    from model.sweep.runner import run_sweep

    experiment = load_experiment(args.experiment)
    if experiment.game is None:
        raise UsageError(f"{experiment.source}: no [game] section; allowed: an experiment file with [game] "
                         f"(docs/EXPLORING.md), e.g. experiments/policy_game.toml")
    out_dir = Path(args.out) if args.out else Path("outputs") / experiment.name
    try:
        result = run_sweep(experiment, out_dir, workers=args.workers, resume=args.resume,
                           scheduler=args.scheduler, progress=_progress_bar(), on_warning=warn)
    except OSError as exc:
        raise sweep_file_error(exc, out_dir) from None
    if result.interrupted or result.broken or result.failed:
        code = (143 if _TERMINATED else 130) if result.interrupted else 1
        why = result.broken or ("interrupted" if result.interrupted else f"{result.failed} runs failed")
        print(f"chipstack: error: {why}; {result.done} of {result.total} runs are saved in {out_dir}; the "
              f"game needs every run: run the same command with --resume", file=sys.stderr)
        return code
    from model.analysis.game import summary_text as game_text
    from model.analysis.game_output import game_folder

    game, folder = game_folder(out_dir, experiment.game, experiment.name)
    print_out(f"{game_text(game)}\nwrote {folder}/ (game.csv, best_responses.csv, equilibria.csv, "
              f"frontier.csv, regret.csv, weights.csv, figures/, game.json)", "the game's summary",
              f"the game is written to {folder}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    """``chipstack calibrate EXPERIMENT [--out DIR] [--resume] [--max-generations N]``: progress on stderr,
    then the posterior table on stdout."""
    from model.validation.abc_spec import load_spec

    spec = load_spec(args.experiment)
    try:
        import pyabc  # noqa: F401
    except ImportError:
        raise UsageError("chipstack calibrate needs pyabc, which is not installed; allowed: "
                         "pip install 'chipstack[calibrate]' (or 'make venv')") from None
    from model.validation.abc import calibrate
    from model.validation.abc_outputs import summary_text

    out = Path(args.out) if args.out else Path("outputs") / spec.name
    with quiet_floating_point():
        result = calibrate(spec, out, resume=args.resume, max_generations=args.max_generations)
    print(summary_text(result))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """``chipstack validate [WHAT] [--out DIR] [--quick]``: print each table as its check finishes."""
    from model.validation.cli import output_folder, run_checks

    out = output_folder(args.out)
    for text in run_checks(args.what, out, args.quick):
        print(text)
    print(f"written to {out}", file=sys.stderr)
    return 0


def warn(message: str) -> None:
    """A library's warning, on stderr in one line."""
    print(f"chipstack: warning: {one_line(message)}", file=sys.stderr)


class ProgressBar:
    """The sweep's progress (``model.sweep.runner.Progress``) as a header line and a tqdm bar on stderr:
    one bar per round, whose total is known when it starts and never changes; a precision target's later
    round closes the bar and starts the next one after a line saying how many runs it adds."""

    def start(self, header: str, name: str, total: int, saved: int) -> None:
        print(header, file=sys.stderr)
        self.name, self.round, self.failed = name, 1, 0
        self.bar = self._bar(total, saved, name)

    @staticmethod
    def _bar(total: int, initial: int, desc: str):
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit="run", desc=desc, file=sys.stderr, dynamic_ncols=True,
                    postfix="failed=0")

    def set_total(self, total: int, finished: int) -> None:
        if total == self.bar.total:
            return
        before = self.bar.total
        self.bar.close()
        self.round += 1
        print(f"chipstack: sweep {self.name}: round {self.round} of the precision target: {total - before} "
              f"more runs where the interval is still too wide ({total} runs in all, {finished} done)",
              file=sys.stderr)
        self.bar = self._bar(total, finished, f"{self.name} round {self.round}")
        self.bar.set_postfix_str(f"failed={self.failed}")

    def advance(self, runs: int, failed: int) -> None:
        self.failed = failed
        self.bar.update(runs)
        self.bar.set_postfix_str(f"failed={failed}", refresh=False)

    def close(self) -> None:
        self.bar.close()


def _progress_bar() -> ProgressBar | None:
    return ProgressBar() if sys.stderr is not None and not sys.stderr.closed else None


def cmd_replicate(args: argparse.Namespace) -> int:
    """``chipstack replicate DIR/manifest.json [--workers N] [--scheduler ADDRESS] [--rtol/--atol]``."""
    from model.sweep.replicate import replicate, report_text

    r = replicate(args.manifest, workers=getattr(args, "workers", None),
                  scheduler=getattr(args, "scheduler", None), rtol=getattr(args, "rtol", None),
                  atol=getattr(args, "atol", None), progress=_progress_bar(), on_warning=warn)
    for note in r.warnings:
        warn(note)
    print(report_text(r, args.manifest))
    return 0 if r.identical else 1
