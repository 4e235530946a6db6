"""The ``chipstack`` argument parser: its commands, options and the checks of their values (a bad value
is argparse's one-line error, exit code 2). ``model.cli`` runs it; ``model.cli_commands`` does the work."""

from __future__ import annotations

import argparse

from model.core.limits import MAX_SEED, MAX_STEPS  # those of an experiment file too
from model.sweep.errors import UsageError

DEFAULT_SEED = 42


class _Parser(argparse.ArgumentParser):
    """argparse with chipstack's one-line error format and exit code 2."""

    def error(self, message: str):  # type: ignore[override]
        raise UsageError(message)


def _figure_formats(text: str) -> tuple[str, ...]:
    """``--format png,pdf``: the figure formats, each once, in the order given."""
    from model.analysis.sweep_figures import FORMATS

    formats = tuple(dict.fromkeys(f.strip().lower() for f in text.split(",")))
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise argparse.ArgumentTypeError(f"{text!r}: not a figure format; allowed: {', '.join(FORMATS)}, "
                                         f"comma-separated")
    return formats


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

    params = sub.add_parser("params", help="the model's parameters: default, unit, allowed values, source "
                            "grade (NAME: one in full, or the names containing NAME)")
    params.add_argument("name", nargs="?", default=None, help="a parameter name, or part of one")

    sweep = sub.add_parser("sweep", help="a batch run of an experiment file")
    sweep.add_argument("experiment", help="a path to a .toml file, or the name of one in experiments/")
    _add_executor_options(sweep)
    sweep.add_argument("--resume", action="store_true", help="skip runs already saved in the output folder")
    sweep.add_argument("--out", default=None, help="output folder (default outputs/<experiment name>)")

    report = sub.add_parser("report", help="figures and summary tables of a finished sweep")
    report.add_argument("dir", help="the sweep's output folder")
    report.add_argument("--format", type=_figure_formats, default=("png",), metavar="FMT[,FMT...]",
                        help="figure formats, any of png, pdf, svg, comma-separated (default: png)")

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

    calibrate = sub.add_parser("calibrate", help="ABC-SMC (pyabc) of the replay's uncertain parameters "
                               "against "
                               "the 2022Q4-2025Q4 record (docs/VALIDATION.md §3.6)")
    calibrate.add_argument("experiment", help="a calibration file (a path, or a name in experiments/), "
                           "e.g. calibration")
    calibrate.add_argument("--out", default=None, help="output folder (default outputs/<name>)")
    calibrate.add_argument("--resume", action="store_true",
                           help="continue the calibration in --out from its last complete generation")
    calibrate.add_argument("--max-generations", type=_positive_int, default=None,
                           help="stop when this many generations are done in all (default: the file's "
                           "generations)")

    discover = sub.add_parser("discover", help="scenario discovery (PRIM): which futures make a reporter "
                              "cross a threshold (docs/EXPLORING.md)")
    discover.add_argument("dir", help="the sweep's output folder")
    discover.add_argument("--reporter", default=None, help="reporter at the last quarter "
                          "(default us_share_legal, the headline's legal-channel share)")
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
    robust.add_argument("--reporter", default=None,
                        help="the outcome to keep high (default us_share_legal, the headline's legal-channel "
                        "share)")
    robust.add_argument("--cost", default="china_compute_h100e",
                        help="the outcome to keep low (default china_compute_h100e)")
    robust.add_argument("--target", type=_float, default=None,
                        help="satisficing: the reporter at least this (default 0.25)")
    robust.add_argument("--cap", type=_float, default=None,
                        help="satisficing: the cost at most this, in its raw unit (default: no cap)")
    robust.add_argument("--rank-by", default="max_regret",
                        choices=["max_regret", "satisficing", "mean", "p10"],
                        help="ranking key (default max_regret: minimax regret); ties broken by the others")

    game = sub.add_parser("game", help="the policy game: Beijing's best response to each US rule, the "
                          "Stackelberg outcome, Nash equilibria, the US frontier (docs/EXPLORING.md)")
    game.add_argument("experiment", help="an experiment file with [game] (a path, or a name in experiments/)")
    _add_executor_options(game)
    game.add_argument("--resume", action="store_true", help="skip runs already saved in the output folder")
    game.add_argument("--out", default=None, help="output folder (default outputs/<experiment name>)")

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
