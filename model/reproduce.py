"""``make reproduce`` / ``python -m model.reproduce``: regenerate every published result into a scratch folder
and compare it with the committed one (docs/REPRODUCING.md).

Published results, and what each is compared by:

* the sweeps the README and docs cite (``export_regimes``, ``policy_robustness`` with its robustness
  ranking and PRIM boxes, ``sensitivity``, ``screening``): their data tables, value by value; the policy
  game (``chipstack game policy_game``): its tables in ``outputs/policy_game/game/``; the headline over the
  calibration's posterior (``headline_posterior``) by ``docs/exploring/posterior/cells.csv`` and its README
  table; the ABC posterior's 2026H1 score (``docs/validation/calibration/holdout.csv``);
* validation (``chipstack validate all``: docking, replay, quarterly scoring, claims) against the CSVs
  committed in ``docs/validation/``; the frozen forecasts in ``docs/forecasts/`` against the checksums
  recorded when they were frozen, and against the replay re-run at this commit while the model is the one
  they were frozen with (``frozen_forecast_check``);
* figures by the numbers behind them (a figure matches when the table it is drawn from matches);
* quoted numbers: the generated blocks of README.md (headline tables), docs/VALIDATION.md (the quarterly
  table) and docs/SOURCES.md (the defaults tables), re-rendered from the regenerated results.

Numbers must be identical on x86-64 with the pinned lock file (``--rtol 0``, the default); elsewhere pass
the documented tolerance (``--rtol 1e-9``, docs/REPRODUCING.md). The last line is
``reproduced: N tables, M figures, K quoted numbers; all match`` (exit 0) or the list of what differs
(exit 1).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.core.paths import (
    DOCS_VALIDATION,
    FORECASTS_DIR,
    README_MD,
    REFERENCE_SWEEP,
    SOURCES_MD,
    VALIDATION_MD,
)
from model.core.paths import REPO_ROOT as ROOT

CHIPSTACK = [sys.executable, "-m", "model.cli"]
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?")

#: The PRIM boxes the docs quote (README, docs/EXPLORING.md): (reporter, condition, policy pins).
DISCOVER = (
    ("us_share_legal", ("--below", "0.02"),
     ("export_regime=threshold", "export_tpp_cap=21000", "us_volume_cap_share=0.5")),
    ("us_share_legal", ("--below", "0.3"),
     ("export_regime=lagged", "us_volume_cap_share=0.5", "export_tpp_cap=21000")),
    ("us_stack_share_incl_offshore", ("--below", "0.6"),
     ("export_regime=threshold", "export_tpp_cap=21000", "us_volume_cap_share=0.5")),
)
VALIDATION_TABLES = ("arthur_docking.csv", "bass_docking.csv", "replay.csv", "quarterly.csv", "by_maker.csv",
                     "decisions.csv", "decisions_market.csv", "claims.csv")
GAME_TABLES = ("game.csv", "best_responses.csv", "equilibria.csv", "frontier.csv", "regret.csv",
               "weights.csv")
#: Figure (committed path) -> the tables it is drawn from (names of checks).
FIGURES = {
    "outputs/export_regimes/figures/heatmap_us_stack_share.png": ["export_regimes/summary.csv"],
    "outputs/export_regimes/figures/heatmap_us_share_legal.png": ["export_regimes/summary.csv"],
    "outputs/export_regimes/figures/timeseries_us_stack_share.png": ["export_regimes/runs.parquet"],
    "outputs/export_regimes/figures/tradeoff.png": ["export_regimes/summary.csv"],
    "outputs/export_regimes/figures/response_huawei_capacity_2026.png": ["export_regimes/summary.csv"],
    "docs/exploring/robust/robust.png": ["docs/exploring/robust/ranking.csv",
                                         "docs/exploring/robust/regret.csv"],
    "docs/exploring/robust/frontier.png": ["docs/exploring/robust/frontier.csv"],
    "outputs/policy_game/game/figures/frontier.png": ["policy_game/game/frontier.csv"],
    "outputs/policy_game/game/figures/best_responses.png": ["policy_game/game/best_responses.csv"],
    "docs/figures/sensitivity.png": ["docs/figures/sensitivity.csv"],
    "docs/figures/sensitivity_rules.png": ["docs/figures/sensitivity_rules.csv"],
    "docs/figures/screening.png": ["docs/figures/screening.csv"],
    "docs/validation/validation_arthur.png": ["docs/validation/arthur_docking.csv"],
    "docs/validation/validation_bass.png": ["docs/validation/bass_docking.csv"],
    "docs/validation/validation_replay.png": ["docs/validation/replay.csv"],
    "docs/validation/validation_quarterly.png": ["docs/validation/quarterly.csv",
                                                 "docs/validation/by_maker.csv"],
}


@dataclass
class Outcome:
    tables: dict[str, list[str]] = field(default_factory=dict)  # name -> differences (empty = match)
    figures: dict[str, list[str]] = field(default_factory=dict)
    quoted: dict[str, tuple[int, list[str]]] = field(default_factory=dict)  # block -> (numbers, differences)

    def summary(self) -> str:
        bad = [f"table {k}: {'; '.join(v[:3])}" for k, v in self.tables.items() if v]
        bad += [f"figure {k}: {'; '.join(v)}" for k, v in self.figures.items() if v]
        bad += [f"quoted {k}: {'; '.join(v[1][:3])}" for k, v in self.quoted.items() if v[1]]
        numbers = sum(n for n, _ in self.quoted.values())
        head = (f"reproduced: {len(self.tables)} tables, {len(self.figures)} figures, "
                f"{numbers} quoted numbers; ")
        return head + ("all match" if not bad else f"{len(bad)} differ:\n  " + "\n  ".join(bad))

    @property
    def ok(self) -> bool:
        return not any(self.tables.values()) and not any(self.figures.values()) and \
            not any(d for _, d in self.quoted.values())


def log(message: str) -> None:
    print(f"[reproduce {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def chipstack(*args: str) -> None:
    """Run a ``chipstack`` command (as a user would); a failure stops the reproduction."""
    log("chipstack " + " ".join(args))
    subprocess.run([*CHIPSTACK, *args], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def _read(path: Path) -> pd.DataFrame:
    if path.suffix == ".parquet":
        return pd.read_parquet(path)
    return pd.read_csv(path, comment="#" if "forecasts" in path.parts else None)


def compare_tables(committed: Path, fresh: Path, rtol: float) -> list[str]:
    """Differences between two tables (same columns, rows and values; floats within ``rtol``)."""
    if not committed.exists():
        return [f"{committed} is not committed"]
    if not fresh.exists():
        return [f"{fresh.name} was not regenerated"]
    a, b = _read(committed), _read(fresh)
    if list(a.columns) != list(b.columns):
        return [f"columns differ: {sorted(set(a.columns) ^ set(b.columns))}"]
    if len(a) != len(b):
        return [f"{len(a)} rows committed, {len(b)} regenerated"]
    out = []
    for column in a.columns:
        x, y = a[column].to_numpy(), b[column].to_numpy()
        if x.dtype.kind in "fi" and y.dtype.kind in "fi":
            x, y = x.astype(float), y.astype(float)
            same = (x == y) | (np.isnan(x) & np.isnan(y)) | (np.abs(x - y) <= rtol * np.abs(x))
        else:  # text: equal, or missing on both sides (pandas 3's str dtype keeps NaN, and NaN != NaN)
            missing = pd.isna(pd.Series(x)).to_numpy() & pd.isna(pd.Series(y)).to_numpy()
            same = missing | (pd.Series(x).astype(str).to_numpy() == pd.Series(y).astype(str).to_numpy())
        if not same.all():
            k = int(np.flatnonzero(~same)[0])
            out.append(f"{column}: {int((~same).sum())} values differ (row {k}: {x[k]!r} -> {y[k]!r})")
    return out


def quoted_numbers(committed_text: str, regenerated_text: str) -> tuple[int, list[str]]:
    """(numbers in the committed block, differences with the regenerated block)."""
    a, b = NUMBER.findall(committed_text), NUMBER.findall(regenerated_text)
    if a == b:
        return len(a), []
    diffs = [f"{x} -> {y}" for x, y in zip(a, b, strict=False) if x != y]
    if len(a) != len(b):
        diffs.append(f"{len(a)} numbers committed, {len(b)} regenerated")
    return len(a), diffs


def _block(text: str, begin: str, end: str) -> str:
    i, j = text.find(begin), text.find(end)
    return text[i + len(begin):j] if 0 <= i < j else ""


def frozen_forecast_check(name: str, sums: dict[str, str], scratch: Path, rtol: float) -> list[str]:
    """A frozen forecast is never edited, and the model may change after it was frozen: the committed file
    must match the checksum recorded when it was frozen (``docs/forecasts/SHA256SUMS``). The replay is
    re-run at this commit into the scratch folder; when this commit's model is the one the forecast was
    frozen with, the two must also agree value by value, otherwise the difference is logged, not failed
    (the forecast is scored as frozen, docs/VALIDATION.md §3.4)."""
    from model.sweep.provenance import model_changes_since
    from model.validation import forecasts

    committed = FORECASTS_DIR / name
    if not committed.exists():
        return [f"{committed} is not committed"]
    if name not in sums:
        return [f"no checksum recorded for {name} in {FORECASTS_DIR / forecasts.FROZEN_SUMS}"]
    if forecasts.sha256_of(committed) != sums[name]:
        return [f"{name} was edited after it was frozen (sha256 differs from {forecasts.FROZEN_SUMS})"]
    fresh = scratch / "forecasts" / name
    forecasts.make_forecast(name).to_csv(fresh, index=False)
    differences = compare_tables(committed, fresh, rtol)
    frozen_at = forecasts.frozen_commit(committed)
    changes = model_changes_since(frozen_at) if frozen_at else None
    if changes == "no change":
        return differences  # the model it was frozen with: the replay must give the same numbers
    if differences:
        log(f"{name}: the model changed since it was frozen at {frozen_at[:7]} ({changes}); this commit's "
            f"replay differs ({differences[0]}); the frozen file is unchanged")
    return []


def modified_inputs(folder: str = "experiments") -> list[str]:
    """The files under ``folder`` (the experiment files the published results are regenerated from)
    that differ from git's HEAD: modified, added, deleted or untracked; empty without git."""
    try:
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", folder],
                                cwd=ROOT, capture_output=True, text=True, timeout=30, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line[3:] for line in status.splitlines() if len(line) > 3]


def run(scratch: Path, rtol: float) -> Outcome:
    from model.analysis import headline
    from model.core import defaults_doc
    from model.validation import forecasts, quarterly

    outcome = Outcome()
    t0 = time.time()
    # --- sweeps
    for name in ("export_regimes", "policy_robustness", "sensitivity", "sensitivity_rules", "screening"):
        chipstack("sweep", name, "--out", str(scratch / name), "--workers", "2")
    chipstack("robust", str(scratch / "policy_robustness"))
    for reporter, condition, pins in DISCOVER:
        chipstack("discover", str(scratch / "policy_robustness"), "--reporter", reporter, *condition,
                  *[a for pin in pins for a in ("--policy", pin)])
    for table in ("runs.parquet", "chip_sales.parquet", "final.csv", "summary.csv"):
        outcome.tables[f"export_regimes/{table}"] = compare_tables(
            REFERENCE_SWEEP / table, scratch / "export_regimes" / table, rtol)
    # policy_robustness is published by its derived tables (docs/exploring/), not its 2,048 runs
    for table in ("ranking.csv", "regret.csv", "frontier.csv"):
        outcome.tables[f"docs/exploring/robust/{table}"] = compare_tables(
            ROOT / "docs/exploring/robust" / table, scratch / "policy_robustness/robust" / table, rtol)
    for committed in sorted((ROOT / "docs/exploring/discover").glob("*/box.csv")):
        rel = committed.relative_to(ROOT / "docs/exploring")
        outcome.tables[f"docs/exploring/{rel}"] = compare_tables(
            committed, scratch / "policy_robustness" / rel, rtol)
    # the policy game is published by its tables (outputs/policy_game/game/), not its 2,250 runs
    chipstack("game", "policy_game", "--out", str(scratch / "policy_game"), "--workers", "2")
    for table in GAME_TABLES:
        outcome.tables[f"policy_game/game/{table}"] = compare_tables(
            ROOT / "outputs/policy_game/game" / table, scratch / "policy_game/game" / table, rtol)
    # the headline over the calibration's posterior (issue 29), by its derived table, and 2026H1's score
    from model.analysis import posterior_cells
    from model.validation import abc_holdout

    chipstack("sweep", "headline_posterior", "--out", str(scratch / "headline_posterior"), "--workers", "2")
    fresh_cells = posterior_cells.cells(pd.read_csv(scratch / "headline_posterior/final.csv"),
                                        pd.read_csv(REFERENCE_SWEEP / "summary.csv"))
    fresh_cells.to_csv(scratch / "posterior_cells.csv", index=False)
    outcome.tables["docs/exploring/posterior/cells.csv"] = compare_tables(
        posterior_cells.CELLS_CSV, scratch / "posterior_cells.csv", rtol)
    log("2026H1 score of the ABC posterior (model.validation.abc_holdout)")
    abc_holdout.table().to_csv(scratch / "holdout.csv", index=False)
    outcome.tables["docs/validation/calibration/holdout.csv"] = compare_tables(
        abc_holdout.HOLDOUT_CSV, scratch / "holdout.csv", rtol)
    for name in ("sensitivity", "sensitivity_rules", "screening"):
        outcome.tables[f"docs/figures/{name}.csv"] = compare_tables(
            ROOT / f"docs/figures/{name}.csv", scratch / name / "sensitivity.csv", rtol)
    # --- validation and the frozen forecasts
    chipstack("validate", "all", "--out", str(scratch / "validation"))
    for table in VALIDATION_TABLES:
        outcome.tables[f"docs/validation/{table}"] = compare_tables(
            DOCS_VALIDATION / table, scratch / "validation" / table, rtol)
    log("frozen forecasts: unchanged since frozen; the replay re-run at this commit beside them")
    (scratch / "forecasts").mkdir(exist_ok=True)
    sums = forecasts.frozen_sums(FORECASTS_DIR)
    for name in forecasts.FORECASTS:
        outcome.tables[f"docs/forecasts/{name}"] = frozen_forecast_check(name, sums, scratch, rtol)
    # --- figures, by the tables behind them
    for figure, sources in FIGURES.items():
        problems = [] if (ROOT / figure).exists() else ["not committed"]
        for source in sources:
            if outcome.tables.get(source):
                problems.append(f"its table {source} differs")
        outcome.figures[figure] = problems
    # --- quoted numbers
    readme = README_MD.read_text(encoding="utf-8")
    regenerated = headline.render(readme,
                                  headline.blocks(pd.read_csv(scratch / "export_regimes/summary.csv")))
    begin, end = posterior_cells.BEGIN, posterior_cells.END
    outcome.quoted["README posterior"] = quoted_numbers(
        _block(readme, begin, end), _block(posterior_cells.render(readme, fresh_cells), begin, end))
    for name in headline.blocks(pd.read_csv(REFERENCE_SWEEP / "summary.csv")):
        begin, end = f"<!-- headline:{name} begin -->", f"<!-- headline:{name} end -->"
        outcome.quoted[f"README {name}"] = quoted_numbers(_block(readme, begin, end),
                                                          _block(regenerated, begin, end))
    from model.validation import claims, decisions

    validation = VALIDATION_MD.read_text(encoding="utf-8")
    fresh_md = quarterly.render_validation_md(validation, pd.read_csv(scratch / "validation/quarterly.csv"),
                                              pd.read_csv(scratch / "validation/claims.csv"))
    for label, (begin, end) in {"quarterly": (quarterly.TABLE_BEGIN, quarterly.TABLE_END),
                                "claims": (claims.TABLE_BEGIN, claims.TABLE_END)}.items():
        outcome.quoted[f"VALIDATION {label} table"] = quoted_numbers(_block(validation, begin, end),
                                                                     _block(fresh_md, begin, end))
    fresh_decisions = decisions.markdown(pd.read_csv(scratch / "validation/decisions.csv"),
                                         pd.read_csv(scratch / "validation/decisions_market.csv"))
    outcome.quoted["VALIDATION decisions table"] = quoted_numbers(
        _block(validation, decisions.TABLE_BEGIN, decisions.TABLE_END), "\n" + fresh_decisions + "\n")
    sources_md = SOURCES_MD.read_text(encoding="utf-8")
    outcome.quoted["SOURCES defaults"] = quoted_numbers(
        _block(sources_md, defaults_doc.BEGIN, defaults_doc.END), "\n" + defaults_doc.tables() + "\n")
    log(f"done in {time.time() - t0:.0f} s")
    return outcome


def main(argv: list[str] | None = None) -> int:
    from model.cli import _Parser
    from model.sweep.errors import UsageError, one_line

    parser = _Parser(prog="python -m model.reproduce", description=__doc__.splitlines()[0])
    parser.add_argument("--scratch",
                        help="folder for the regenerated results (default: a new temporary folder)")
    parser.add_argument("--rtol", type=float, default=0.0,
                        help="relative tolerance for numbers "
                        "(default 0: identical; 1e-9 off x86-64 or another lock)")
    try:
        args = parser.parse_args(argv)
        if not args.rtol >= 0:
            raise UsageError(f"--rtol {args.rtol}: allowed: a number >= 0 (0 = identical)")
        scratch = (Path(args.scratch) if args.scratch
                   else Path(tempfile.mkdtemp(prefix="chipstack-reproduce-")))
        if scratch.exists() and (not scratch.is_dir() or any(scratch.iterdir())):
            raise UsageError(f"--scratch {str(scratch)!r}: not an empty folder; "
                             "allowed: a new or empty folder")
    except UsageError as exc:
        print(f"chipstack: error: {one_line(str(exc))}", file=sys.stderr)
        return 2
    scratch.mkdir(parents=True, exist_ok=True)
    for path in modified_inputs():
        print(f"chipstack: warning: {one_line(path)} differs from the committed file (git status); the "
              f"results are regenerated from it as it is now and may differ from the published ones",
              file=sys.stderr)
    log(f"regenerating into {scratch}")
    try:
        outcome = run(scratch, args.rtol)
    except subprocess.CalledProcessError as exc:
        print(f"chipstack: error: {' '.join(exc.cmd[2:])} failed (exit {exc.returncode})", file=sys.stderr)
        return 1
    print(outcome.summary())
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
