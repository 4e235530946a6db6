"""``chipstack validate [arthur|bass|replay|quarterly|decisions|forecast|claims|calibrate|all]
[--out DIR] [--quick]`` (INTERFACES §3).

Writes CSV tables and figures into ``outputs/validation/`` (or ``--out``), each file atomically;
``python -m model.validation ...`` is an alias. docs/VALIDATION.md reports what these write.
``run_checks`` yields the text of each table as it is computed; the commands (``model.cli_commands``,
``model/validation/__main__.py``) print it.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

from model.core.paths import OUTPUTS
from model.sweep.errors import UsageError

#: ``<repository root>/outputs/validation`` (this module imports nothing heavy: the CLI parser loads it).
DEFAULT_OUT = OUTPUTS / "validation"
CHOICES = ("arthur", "bass", "replay", "quarterly", "decisions", "forecast", "claims", "calibrate", "all")
#: What ``all`` runs (``calibrate`` is slow and separate; ``forecast`` writes frozen files once).
ALL = ("arthur", "bass", "replay", "quarterly", "decisions", "claims")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The validate command's arguments (shared by ``chipstack validate`` and
    ``python -m model.validation``)."""
    parser.add_argument("what", nargs="?", default="all", choices=CHOICES,
                        help=f"which check to run (default all = {', '.join(ALL)})")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help="output folder (default outputs/validation)")
    parser.add_argument("--quick", action="store_true", help="fewer runs/seeds (smoke test)")


def _write(df, path: Path) -> None:
    """A DataFrame as CSV, atomically."""
    from model.sweep.io import write_atomic

    write_atomic(path, lambda tmp: df.to_csv(tmp, index=False))


def output_folder(out_arg: str) -> Path:
    """``--out``: the folder, created if needed (``UsageError`` when it is a file)."""
    out = Path(out_arg)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out_arg!r}: exists and is not a folder; allowed: a folder path")
    out.mkdir(parents=True, exist_ok=True)
    return out


def run_checks(what: str, out: Path, quick: bool) -> Iterator[str]:
    """Run check ``what`` (or ``all``) writing into ``out``; yield the text of each table for standard
    output, one chunk per table, as it is computed."""
    import pandas as pd

    todo = ALL if what == "all" else (what,)
    pd.set_option("display.width", 200)
    pd.set_option("display.max_columns", 30)
    for name in todo:
        yield from RUNNERS[name](out, quick)


def _arthur(out: Path, quick: bool) -> Iterator[str]:
    from model.validation.docking import EXPERIMENTS, load_docking, run_arthur_docking
    from model.validation.figures import arthur_figure

    table = run_arthur_docking(load_docking(EXPERIMENTS / "docking_arthur.toml", "arthur"), quick)
    _write(table, out / "arthur_docking.csv")
    arthur_figure(table, out / "validation_arthur.png")
    yield table[["case", "regime", "p_r", "lower", "upper", "sim_p_lock_a", "se_p_lock_a", "cf_p_lock_a",
                 "sim_mean_time", "se_mean_time", "cf_mean_time", "sim_final_share_a",
                 "cf_limit_share_a"]].round(4).to_string(index=False)


def _bass(out: Path, quick: bool) -> Iterator[str]:
    from model.validation.docking import EXPERIMENTS, load_docking, run_bass_docking
    from model.validation.figures import bass_figure

    table, curves = run_bass_docking(load_docking(EXPERIMENTS / "docking_bass.toml", "bass"), quick)
    _write(table, out / "bass_docking.csv")
    bass_figure(curves, table, out / "validation_bass.png")
    yield table.round(4).to_string(index=False)


def _replay(out: Path, quick: bool) -> Iterator[str]:
    from model.core.parameters import DEFAULTS
    from model.validation.calibration import CALIBRATION_GRID
    from model.validation.figures import replay_figure
    from model.validation.replay import history_replay, replay_spec

    params, steps, seeds = replay_spec()
    if quick:
        seeds, params = seeds[:4], {**params, "n_developers": 200}
    table, runs = history_replay(params, seeds, steps, return_runs=True)
    _write(table, out / "replay.csv")
    _write(runs, out / "replay_runs.csv")
    replay_figure(table, runs, out / "validation_replay.png")
    yield table.drop(columns=["source"]).round(3).to_string(index=False)
    # sensitivity: Beijing's 2025Q4 stance 'restrict' instead of 'ban'; no perceived US risk;
    # the calibrated structural levers back at their defaults (with and without the risk)
    structural_defaults = {k: v for k, v in DEFAULTS.items() if k in CALIBRATION_GRID}
    variants = {
        "replay_restrict_2025Q4.csv": {**params, "china_policy_schedule":
                                       params["china_policy_schedule"].replace("2025Q4:ban",
                                                                               "2025Q4:restrict")},
        "replay_no_risk.csv": {**params, "us_reversal_prob": 0.0},
        # the grid's upper edge: state developers (almost) only domestic
        "replay_state_preference_8.csv": {**params, "state_domestic_preference": 8.0},
        "replay_structural_defaults.csv": {**params, **structural_defaults},
        "replay_structural_defaults_no_risk.csv": {**params, **structural_defaults, "us_reversal_prob": 0.0},
    }
    for fname, vp in variants.items():
        vt = history_replay(vp, seeds, steps)
        _write(vt, out / fname)
        yield fname
        yield vt.drop(columns=["source"]).round(3).to_string(index=False)


def _quarterly(out: Path, quick: bool) -> Iterator[str]:
    from model.validation.figures import quarterly_figure
    from model.validation.quarterly import by_maker, run_replay, scored_table
    from model.validation.replay import replay_spec

    params, steps, seeds = replay_spec()
    if quick:
        seeds, params = seeds[:4], {**params, "n_developers": 200}
    runs = run_replay(params, seeds, steps)
    scored = scored_table(runs)
    _write(by_maker(runs), out / "by_maker.csv")
    _write(scored, out / "quarterly.csv")
    quarterly_figure(runs, scored, out / "validation_quarterly.png")
    yield scored.drop(columns=["source", "comparison", "reason"]).round(3).to_string(index=False)


def _decisions(out: Path, quick: bool) -> Iterator[str]:
    from model.validation import decisions
    from model.validation.replay import replay_spec

    seeds = replay_spec()[2][:4] if quick else None
    table, market = decisions.run(seeds=seeds, n_developers=200 if quick else None)
    _write(table, out / "decisions.csv")
    _write(market, out / "decisions_market.csv")
    yield table.drop(columns=["source"]).to_string(index=False)
    yield market.round(0).to_string(index=False)


def _forecast(out: Path, quick: bool) -> Iterator[str]:
    """Freeze each forecast of FORECASTS that does not exist yet (never overwrites; see forecasts.py)."""
    from model.sweep.provenance import git_state
    from model.validation.forecasts import (
        FORECAST_OVERRIDES,
        FORECAST_SEEN,
        FORECASTS,
        FORECASTS_DIR,
        freeze_forecast,
        make_forecast,
    )
    from model.validation.replay import replay_spec

    seeds = replay_spec()[2]
    state = git_state() or {}
    if state.get("dirty"):
        raise UsageError("the model code has uncommitted changes; commit them first: a frozen forecast names "
                         "the commit that made it")
    commit = state.get("commit", "unknown")
    for name, (last, _) in FORECASTS.items():
        path = FORECASTS_DIR / name
        if path.exists():
            print(f"{path}: frozen, not overwritten", file=sys.stderr)
            continue
        table = make_forecast(name)
        overrides = FORECAST_OVERRIDES.get(name, {})
        changed = (" with " + ", ".join(f"{k} = {v!r}" for k, v in overrides.items())) if overrides else ""
        header = (f"chipstack frozen forecast {name}: the replay experiments/history_2022_2026.toml{changed} "
                  f"run to {last} ({len(seeds)} seeds) from policy inputs only, at git commit {commit}.\n"
                  "Policies after 2026Q2: those in force at the end of the replay's timeline. "
                  "mean and 95% interval (lo, hi) over seeds. "
                  "Never edited after it was written; scored in docs/VALIDATION.md."
                  + ("\n" + FORECAST_SEEN[name] if name in FORECAST_SEEN else ""))
        freeze_forecast(table, path, header)
        print(f"{path}: written", file=sys.stderr)
        yield table.to_string(index=False)


def _claims(out: Path, quick: bool) -> Iterator[str]:
    from model.validation.claims import claims_check

    seeds = range(5) if quick else range(20)
    table = claims_check(seeds=seeds, n_developers=300 if quick else 1000)
    _write(table, out / "claims.csv")
    yield table.round(4).to_string(index=False)


def _calibrate(out: Path, quick: bool) -> Iterator[str]:
    from model.validation.calibration import BEHAVIOURAL_GRID, calibrate_replay
    from model.validation.replay import replay_spec

    cal_seeds = replay_spec()[2][:2] if quick else None
    n_dev = 300 if quick else 1000
    best, grid = calibrate_replay(seeds=cal_seeds, n_developers=n_dev)
    _write(grid, out / "calibration_grid.csv")
    yield grid.head(15).round(4).to_string(index=False)
    at_defaults = round(grid["loss_at_defaults"].iloc[0], 4)
    yield f"stage 1 (structural) chosen: {best} loss at defaults: {at_defaults}"
    # stage 2: do the data demand behavioural weights off their defaults at that point?
    params, _, _ = replay_spec()
    bgrid = BEHAVIOURAL_GRID if not quick else {k: v[:2] for k, v in BEHAVIOURAL_GRID.items()}
    bbest, btable = calibrate_replay({**params, **best}, seeds=cal_seeds, grid=bgrid, n_developers=n_dev)
    _write(btable, out / "calibration_behavioural.csv")
    yield btable.head(10).round(4).to_string(index=False)
    yield (f"stage 2 (behavioural) best loss {round(btable['loss'].min(), 4)} vs defaults "
           f"{round(btable['loss_at_defaults'].iloc[0], 4)} ; nearest-default near-best: {bbest}")


RUNNERS = {"arthur": _arthur, "bass": _bass, "replay": _replay, "quarterly": _quarterly,
           "decisions": _decisions, "forecast": _forecast, "claims": _claims, "calibrate": _calibrate}

