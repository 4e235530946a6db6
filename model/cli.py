"""The ``chipstack`` command line (INTERFACES §3).

    chipstack run [--set NAME=VALUE ...] [--steps N] [--seed S] [--out DIR]
    chipstack sweep EXPERIMENT [--workers N] [--scheduler ADDRESS] [--resume] [--out DIR]
    chipstack report DIR
    chipstack replicate DIR/manifest.json
    chipstack ui [--host 127.0.0.1] [--port 8765] [--run SWEEP_DIR RUN_ID]

Exit codes: 0 success; 1 some runs failed (the rest are saved); 2 bad input. Bad input prints one
line on stderr starting ``chipstack: error:`` and nothing else (no traceback), and writes nothing.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from model.sweep.errors import UsageError

DEFAULT_SEED = 42


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
    run.add_argument("--steps", type=_positive_int, default=20, help="quarters to run (default 20)")
    run.add_argument("--seed", type=_int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    run.add_argument("--out", default="outputs/run", help="output folder (default outputs/run)")

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

    ui = sub.add_parser("ui", help="the browser UI (Mesa SolaraViz)")
    ui.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    ui.add_argument("--port", type=_port, default=8765, help="port (default 8765)")
    ui.add_argument("--run", nargs=2, metavar=("SWEEP_DIR", "RUN_ID"), default=None,
                    help="open run RUN_ID of a finished sweep (replayed from its manifest, checked against its saved rows)")
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


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid value {text!r}; allowed: an integer") from None


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
            raise UsageError(f"--set {item!r}: expected NAME=VALUE")
        name, value = (s.strip() for s in item.split("=", 1))
        try:
            params[name] = coerce_text(name, value)
        except ValueError as exc:
            raise UsageError(f"--set {item}: {exc}") from None
    return params


def cmd_run(args: argparse.Namespace) -> int:
    from model.analysis.figures import run_figure
    from model.sweep.io import atomic_path, write_atomic
    from model.core.chip_market import ChipMarketModel

    params = parse_sets(args.sets)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {args.out!r}: exists and is not a folder")
    t0 = time.perf_counter()
    try:
        model = ChipMarketModel(rng=args.seed, **params)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    df = model.run(args.steps)
    seconds = time.perf_counter() - t0
    csv_path, png_path = out / "timeseries.csv", out / "run.png"
    write_atomic(csv_path, lambda p: df.to_csv(p, index=False))
    fig = run_figure(df, title=_title(params, args.seed))
    with atomic_path(png_path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    print(summary_text(df, params, args.seed, model.n_developers, seconds))
    print(f"\nwrote {csv_path} and {png_path}")
    return 0


def _title(params: dict, seed: int) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in params.items()) or "default parameters"
    return f"chipstack run ({shown}; seed {seed})"


def summary_text(df, params: dict, seed: int, n_developers: int, seconds: float) -> str:
    first, last = df.iloc[0], df.iloc[-1]
    lines = [
        f"chipstack run: {len(df)} quarters {first['quarter']}-{last['quarter']}, "
        f"{n_developers} developers, seed {seed}, {seconds:.2f} s (construction included)",
        f"parameters: {', '.join(f'{k}={v}' for k, v in params.items()) or 'defaults'}",
        "",
        f"{'state at the end of':34s}{first['quarter']:>12s}{last['quarter']:>12s}",
        _row("US stack share (installed)", first["us_stack_share"], last["us_stack_share"], "{:.3f}"),
        _row("US share of new purchases", first["us_share_new"], last["us_share_new"], "{:.3f}"),
        _row("developers mostly on US stack", first["developers_on_us_stack"], last["developers_on_us_stack"], "{:.3f}"),
        _row("China compute (M H100e)", first["china_compute_h100e"] / 1e6, last["china_compute_h100e"] / 1e6, "{:.2f}"),
        _row("Nvidia China revenue ($B/qtr)", first["nvidia_china_revenue_usd"] / 1e9, last["nvidia_china_revenue_usd"] / 1e9, "{:.2f}"),
        _row("domestic revenue ($B/qtr)", first["domestic_revenue_usd"] / 1e9, last["domestic_revenue_usd"] / 1e9, "{:.2f}"),
        _row("domestic ecosystem (CUDA = 1)", first["domestic_ecosystem"], last["domestic_ecosystem"], "{:.3f}"),
        _row("capability gap (months)", first["capability_gap_months"], last["capability_gap_months"], "{:.0f}"),
        _row("unmet demand (k H100e/qtr)", first["unmet_demand_h100e"] / 1e3, last["unmet_demand_h100e"] / 1e3, "{:.0f}"),
    ]
    return "\n".join(lines)


def _row(label: str, a: float, b: float, fmt: str) -> str:
    return f"{label:34s}{fmt.format(a):>12s}{fmt.format(b):>12s}"


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "run":
        return cmd_run(args)
    if args.command == "sweep":
        from model.sweep.runner import cmd_sweep
        return cmd_sweep(args)
    if args.command == "report":
        from model.analysis.report import cmd_report
        return cmd_report(args)
    if args.command == "replicate":
        from model.sweep.replicate import cmd_replicate
        return cmd_replicate(args)
    if args.command == "ui":
        from model.ui.serve import cmd_ui
        return cmd_ui(args)
    raise UsageError(f"unknown command {args.command!r}")  # pragma: no cover


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        return _dispatch(args)
    except UsageError as exc:
        print(f"chipstack: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("chipstack: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader of our output went away (e.g. `chipstack run | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
