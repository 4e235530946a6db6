"""The ``chipstack`` command line (INTERFACES §3).

    chipstack run [--set NAME=VALUE ...] [--steps N] [--seed S] [--out DIR]
    chipstack sweep EXPERIMENT [--workers N] [--scheduler ADDRESS] [--resume] [--out DIR]
    chipstack report DIR
    chipstack replicate DIR/manifest.json
    chipstack validate [arthur|bass|replay|claims|calibrate|all] [--out DIR] [--quick]
    chipstack ui [--host 127.0.0.1] [--port 8765] [--run SWEEP_DIR RUN_ID]
    chipstack discover DIR --reporter R (--below X | --above X) [--policy NAME=VALUE ...]
    chipstack robust DIR [--reporter R] [--cost C] [--target X] [--cap Y] [--rank-by KEY]

Exit codes: 0 success; 1 some runs failed (the rest are saved), or ``chipstack run``'s model raised;
2 bad input (or a file that cannot be written); 130 after Ctrl-C, 143 after SIGTERM (what is done is
kept: ``--resume`` finishes a sweep). Bad input prints one line on stderr starting ``chipstack: error:``
and nothing else (no traceback; every name or value in it escaped), and writes nothing.

Over 400 lines as one job, the command line: the parser, its argument checks and one short
function per command, each calling the layer that does the work.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import signal
import sys
import time
from pathlib import Path

from model.sweep.errors import UsageError, one_line, quiet_floating_point, shown

DEFAULT_SEED = 42
#: ``--seed`` and ``--steps`` of ``chipstack run`` within the limits of an experiment file.
MAX_SEED = 2**63 - 1
MAX_STEPS = 10_000


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (what is done is kept), with exit code 143."""


class _Parser(argparse.ArgumentParser):
    """argparse with chipstack's one-line error format and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="chipstack", description="Agent-based model of the AI-chip market in China.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="one run: prints a summary, writes a CSV time series and a PNG figure")
    run.add_argument("--set", dest="sets", action="append", default=[], metavar="NAME=VALUE",
                     help="set a model parameter (repeatable), e.g. --set export_regime=open")
    run.add_argument("--steps", type=_steps, default=20,
                     help=f"quarters to run (default 20, at most {MAX_STEPS})")
    run.add_argument("--seed", type=_seed, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    run.add_argument("--out", default="outputs/run", help="output folder (default outputs/run)")
    run.add_argument("--debug", action="store_true", help="when the model fails, print its traceback")

    sweep = sub.add_parser("sweep", help="a batch run of an experiment file")
    sweep.add_argument("experiment", help="a path to a .toml file, or the name of one in experiments/")
    _add_executor_options(sweep)
    sweep.add_argument("--resume", action="store_true", help="skip runs already saved in the output folder")
    sweep.add_argument("--out", default=None, help="output folder (default outputs/<experiment name>)")

    report = sub.add_parser("report", help="figures and summary tables of a finished sweep")
    report.add_argument("dir", help="the sweep's output folder")

    replicate = sub.add_parser("replicate", help="re-run a finished sweep and compare every number")
    replicate.add_argument("manifest", help="DIR/manifest.json of the sweep to replicate")
    _add_executor_options(replicate)
    replicate.add_argument("--rtol", type=_nonnegative_float, default=None,
                           help="accept float values within this relative tolerance (default: bit-identical)")
    replicate.add_argument("--atol", type=_nonnegative_float, default=None,
                           help="accept float values within this absolute tolerance (default: bit-identical)")

    validate = sub.add_parser("validate", help="docking with Arthur and Bass, history replay, claims "
                              "(docs/VALIDATION.md)")
    from model.validation.cli import add_arguments as add_validate_arguments

    add_validate_arguments(validate)

    discover = sub.add_parser("discover", help="scenario discovery (PRIM): which futures make a reporter "
                              "cross a threshold (docs/EXPLORING.md)")
    discover.add_argument("dir", help="the sweep's output folder")
    discover.add_argument("--reporter", default="us_stack_share", help="reporter at the last quarter "
                          "(default us_stack_share)")
    discover.add_argument("--below", type=_float, default=None,
                          help="a run fails when the reporter is below X")
    discover.add_argument("--above", type=_float, default=None,
                          help="a run fails when the reporter is above X")
    discover.add_argument("--policy", action="append", default=[], metavar="NAME=VALUE",
                          help="only the runs of this lever value (repeatable), "
                          "e.g. --policy export_regime=lagged")
    discover.add_argument("--min-density", type=_float, default=0.8,
                          help="choose the box of highest coverage with at least this density (default 0.8)")
    discover.add_argument("--box", type=_int, default=None,
                          help="choose this entry of the peeling trajectory")

    robust = sub.add_parser("robust", help="robustness of each policy (lever combination) across the "
                            "sweep's futures: regret, satisficing, trade-off frontier (docs/EXPLORING.md)")
    robust.add_argument("dir",
                        help="the sweep's output folder (an experiment with [levers] and [uncertainties])")
    robust.add_argument("--reporter", default="us_stack_share",
                        help="the outcome to keep high (default us_stack_share)")
    robust.add_argument("--cost", default="china_compute_h100e",
                        help="the outcome to keep low (default china_compute_h100e)")
    robust.add_argument("--target", type=_float, default=0.5,
                        help="satisficing: the reporter at least this (default 0.5)")
    robust.add_argument("--cap", type=_float, default=None,
                        help="satisficing: the cost at most this, in its raw unit (default: no cap)")
    robust.add_argument("--rank-by", default="max_regret",
                        choices=["max_regret", "satisficing", "mean", "p10"],
                        help="ranking key (default max_regret: minimax regret); ties broken by the others")

    ui = sub.add_parser("ui", help="the browser UI (Mesa SolaraViz)")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    ui.add_argument("--run", nargs=2, metavar=("SWEEP_DIR", "RUN_ID"), default=None,
                    help="open run RUN_ID of a finished sweep (replayed from its manifest, "
                    "checked against its saved rows)")
    return parser


def _add_executor_options(parser: argparse.ArgumentParser) -> None:
    """--workers and --scheduler, shared by the commands that run sweeps."""
    parser.add_argument("--workers", type=_positive_int, default=None,
                        help="worker processes (default: the number of cores)")
    parser.add_argument("--scheduler", default=None,
                        help="run on Dask: 'local' for a LocalCluster, or tcp://HOST:PORT")


# Type converters: argparse prefixes their messages with "argument --FLAG:".
def _nonnegative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: a number >= 0") from None
    if not (value >= 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: a finite number >= 0")
    return value


def _float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: a finite number")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: an integer") from None


def _seed(text: str) -> int:
    value = _int(text)
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: an integer from 0 to {MAX_SEED}")
    return value


def _steps(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= MAX_STEPS:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: an integer from 1 to {MAX_STEPS}")
    return value


def _positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: an integer >= 1")
    return value


def _port(text: str) -> int:
    value = _int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: 1-65535")
    return value


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
    from model.analysis.figures import run_figure
    from model.core.chip_market import ChipMarketModel
    from model.sweep.io import atomic_path, create_folder, os_reason, remove_created, write_atomic

    params = parse_sets(args.sets)
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
        raise UsageError(f"{shown(exc.filename or out)}: cannot write ({os_reason(exc)}); allowed: --out "
                         f"a folder you can write to") from None
    print_out(f"{summary_text(df, params, args.seed, model.p.n_developers, seconds)}\n\n"
              f"wrote {csv_path} and {png_path}", "the summary", f"the run is saved in {out}")
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
        _stdout_to_devnull()  # what is still buffered must not fail again at exit
        raise UsageError(f"cannot write {what} to standard output ({type(exc).__name__}: "
                         f"{exc.strerror or exc}); {done}; allowed: a standard output that can be "
                         f"written") from None


def _stdout_to_devnull() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


class _StderrThatNeverFails:
    """``sys.stderr`` for the life of a command: a message that cannot be written (``2>/dev/full``, a
    full disk) is dropped, as with a closed stderr; it must not stop a sweep or be taken for an
    unwritable output folder."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except (OSError, ValueError):
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except (OSError, ValueError):
            pass

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def _title(params: dict, seed: int) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "default parameters"
    return f"chipstack run ({shown}; seed {seed})"


#: Number format of each reporter in the ``run`` summary (labels, units and scales are the reporter
#: table's, ``model.core.reporters.REPORTERS``).
RUN_SUMMARY_FORMATS: dict[str, str] = {
    "us_stack_share": "{:.3f}", "us_share_new": "{:.3f}", "developers_on_us_stack": "{:.3f}",
    "china_compute_h100e": "{:.2f}", "nvidia_china_revenue_usd": "{:.2f}", "domestic_revenue_usd": "{:.2f}",
    "domestic_ecosystem": "{:.3f}", "capability_gap_months": "{:.0f}", "unmet_demand_h100e": "{:.0f}",
}


def summary_text(df, params: dict, seed: int, n_developers: int, seconds: float) -> str:
    from model.core.reporters import REPORTERS

    first, last = df.iloc[0], df.iloc[-1]
    shown = [r for r in REPORTERS if r.name in RUN_SUMMARY_FORMATS]
    width = max(len(r.axis_label) for r in shown) + 2
    lines = [
        f"chipstack run: {len(df)} quarters {first['quarter']}-{last['quarter']}, "
        f"{n_developers} developers, seed {seed}, {seconds:.2f} s (construction included)",
        f"parameters: {', '.join(f'{k}={v}' for k, v in params.items()) or 'defaults'}",
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
    from model.sweep.runner import run_sweep
    from model.sweep.summary import summary_text

    experiment = load_experiment(args.experiment)
    out_dir = Path(args.out) if args.out else Path("outputs") / experiment.name
    extra = {"model_cls": model_cls} if model_cls is not None else {}
    try:
        result = run_sweep(experiment, out_dir, workers=args.workers, resume=args.resume,
                           scheduler=args.scheduler, on_finished=_sweep_report, warm_up=_warm_up_report,
                           progress=_progress_bar(), on_warning=warn, **extra)
    except OSError as exc:  # disk full, a folder that became read-only ...
        raise UsageError(f"{shown(exc.filename or out_dir)}: cannot write ({type(exc).__name__}: "
                         f"{exc.strerror or exc}); the runs saved so far are kept: fix the cause (e.g. free "
                         f"disk space) and run the same command with --resume") from None
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


def warn(message: str) -> None:
    """A library's warning, on stderr in one line."""
    print(f"chipstack: warning: {one_line(message)}", file=sys.stderr)


class ProgressBar:
    """The sweep's progress (``model.sweep.runner.Progress``) as a header line and a tqdm bar on stderr."""

    def start(self, header: str, name: str, total: int, saved: int) -> None:
        from tqdm import tqdm

        print(header, file=sys.stderr)
        self.bar = tqdm(total=total, initial=saved, unit="run", desc=name, file=sys.stderr,
                        dynamic_ncols=True, postfix="failed=0")

    def set_total(self, total: int) -> None:
        self.bar.total = total
        self.bar.refresh()

    def advance(self, runs: int, failed: int) -> None:
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


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return cmd_run(args)
    if args.command == "sweep":
        return cmd_sweep(args)
    if args.command == "report":
        from model.analysis.report import cmd_report
        return cmd_report(args)
    if args.command == "replicate":
        return cmd_replicate(args)
    if args.command == "validate":
        from model.validation.cli import cmd_validate
        return cmd_validate(args)
    if args.command == "discover":
        from model.analysis.discover import cmd_discover
        return cmd_discover(args)
    if args.command == "robust":
        from model.analysis.robust import cmd_robust
        return cmd_robust(args)
    if args.command == "ui":
        from model.ui.serve import cmd_ui
        _warn_if_not_loopback(args.host, args.port)
        return cmd_ui(args)
    raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover


def _warn_if_not_loopback(host: str, port: int) -> None:
    """A UI bound beyond this machine has no authentication: say so."""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        print(f"chipstack: warning: --host {one_line(shown(host))} makes the UI reachable from other "
              f"machines on your networks, without a password: anyone who can reach port {port} can use it "
              f"and run the model on this machine; use --host 127.0.0.1 (the default) unless you mean that",
              file=sys.stderr)


_TERMINATED = False


def _on_sigterm(signum, frame) -> None:
    """SIGTERM: as Ctrl-C (the sweep keeps what is done), then exit 143."""
    global _TERMINATED
    _TERMINATED = True
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    if sys.stderr is None:  # started with stderr closed (2>&-): messages go nowhere, nothing crashes
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115 - for the life of the process
    stderr = sys.stderr
    sys.stderr = _StderrThatNeverFails(stderr)
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return _dispatch(args)
    except UsageError as exc:
        print(f"chipstack: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        terminated = _TERMINATED or isinstance(sys.exc_info()[1], Terminated)
        print(f"chipstack: {'terminated' if terminated else 'interrupted'}", file=sys.stderr)
        return 143 if terminated else 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `chipstack run | head`): stop quietly
        _stdout_to_devnull()
        return 141
    finally:
        signal.signal(signal.SIGTERM, previous)
        sys.stderr = stderr


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
