"""Chip-level sweep results (issue 32 item 4): every sweep of ChipMarketModel stores a per-run chip table,
``chip_sales.parquet``, that goes through the store like ``runs.parquet`` (parts, merge, --resume checks,
the manifest's sha256, replicate); ``chipstack report`` writes ``by_chip.csv`` from it: per design point,
quarter and chip the mean over the runs and its 95% interval of units, revenue and FLOP-based compute. One
naming scheme (``_mean``, ``_ci_low``/``_ci_high`` for intervals of the mean, ``_p025``/``_p975`` for spreads
of runs, ``n_runs``) in every output table, and docs/INTERFACES.md lists every file and column."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from scipy import stats

from model import ChipMarketModel
from model.analysis.by_chip import summarise_chips
from model.analysis.report import checked_report
from model.core.paths import REPO_ROOT
from model.sweep.chip_table import CHIP_FILE, chip_part
from model.sweep.executors import InlineExecutor
from model.sweep.experiment import experiment_from_dict
from model.sweep.io import sha256_file
from model.sweep.manifest import Manifest
from model.sweep.replicate import replicate, report_text
from model.sweep.runner import run_sweep
from model.sweep.store import PARTS_DIR, part_record
from sweep_files import assert_same_data

STEPS = 3
VALUES = ("units", "revenue_usd", "compute_h100e")
KEYS = ["export_regime"]


def spec(replications: int = 2) -> dict:
    return {"experiment": {"name": "chips", "description": "test", "steps": STEPS,
                           "replications": replications, "seed": 23},
            # US tightenings that happen, often: the runs of a point differ in which chips they sell
            "parameters": {"n_developers": 20, "us_reversal_prob": 0.5, "realize_reversals": True},
            "grid": {"export_regime": ["ban", "open"]}}


class StopAfter(InlineExecutor):
    """Runs ``n`` tasks, then acts as if Ctrl-C was pressed: the sweep keeps what is saved."""

    def __init__(self, n: int):
        self.n = n

    def submit(self, fn, /, *args, **kwargs):
        if self.n == 0:
            raise KeyboardInterrupt
        self.n -= 1
        return super().submit(fn, *args, **kwargs)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory) -> Path:
    """2 design points x 2 replications x 3 quarters, 20 developers; reported. Under ``open`` one run's
    US regime tightens in its last quarter and the other's does not, so some chips are sold by one run."""
    out = tmp_path_factory.mktemp("chips") / "out"
    assert run_sweep(experiment_from_dict(spec()), out, workers=1, progress=False).exit_code == 0
    checked_report(str(out))
    return out


@pytest.fixture(scope="module")
def by_chip(sweep) -> pd.DataFrame:
    return pd.read_csv(sweep / "by_chip.csv")


def point_runs(out: Path) -> pd.DataFrame:
    """run_id and its design point (export_regime), one row per run, from runs.parquet."""
    return pd.read_parquet(out / "runs.parquet", columns=["run_id", *KEYS]).drop_duplicates("run_id")


# --- the stored table -----------------------------------------------------------------------------
def test_the_sweep_stores_the_chip_table_and_records_its_sha256(sweep):
    chips = pd.read_parquet(sweep / CHIP_FILE)
    assert list(chips.columns) == ["run_id", "step", "quarter", "chip", "maker", *VALUES]
    assert (chips["units"] > 0).all() and set(chips["step"]) == set(range(STEPS))
    assert set(chips["run_id"]) == set(point_runs(sweep)["run_id"])
    assert chips.equals(chips.sort_values(["run_id", "step", "chip"]).reset_index(drop=True))
    manifest = Manifest.load(sweep)
    assert manifest.files[CHIP_FILE] == sha256_file(sweep / CHIP_FILE)
    assert "by_chip.csv" in manifest.data["derived"] and "by_chip.csv" not in manifest.files
    assert not (sweep / PARTS_DIR).exists()


def test_the_chip_table_is_the_models_chip_sales_with_flop_based_compute(sweep):
    """A run of the stored table is the model's own chip_sales table for that run's seed and parameters,
    and compute_h100e is units x the chip's FLOP-based H100e (the run's catalogue)."""
    manifest = Manifest.load(sweep)
    run = manifest.data["runs"][0]
    model = ChipMarketModel(rng=run["seed"], **spec()["parameters"], **run["params"])
    model.run(STEPS)
    own = model.datacollector.get_table_dataframe("chip_sales").sort_values(["step", "chip"])
    stored = pd.read_parquet(sweep / CHIP_FILE)
    stored = stored[stored["run_id"] == run["run_id"]]
    for column in ("step", "quarter", "chip", "maker", "units", "revenue_usd"):
        assert stored[column].tolist() == own[column].tolist(), column
    flop = dict(zip(model.catalogue.names, model.catalogue.flop_h100e, strict=True))
    assert stored["compute_h100e"].to_numpy() == pytest.approx(
        stored["units"].to_numpy() * stored["chip"].map(flop).to_numpy(), rel=1e-15)


# --- by_chip.csv ------------------------------------------------------------------------------------
def test_by_chip_csv_has_the_columns(by_chip):
    stat = [f"{v}_{s}" for v in VALUES for s in ("mean", "ci_low", "ci_high")]
    assert list(by_chip.columns) == [*KEYS, "step", "quarter", "maker", "chip", "n_runs", *stat]
    assert set(by_chip["export_regime"]) == {"ban", "open"} and (by_chip["n_runs"] == 2).all()
    assert not by_chip.duplicated([*KEYS, "step", "chip"]).any()


def test_by_chip_means_and_intervals_equal_those_computed_from_the_stored_table(sweep, by_chip):
    """Independently: every run of a point, 0 where it has no row for the chip, then the mean and the
    t-interval (scipy) over the point's runs."""
    chips = pd.read_parquet(sweep / CHIP_FILE).merge(point_runs(sweep), on="run_id")
    runs = point_runs(sweep)
    expected = []
    for (regime, step, chip), _ in chips.groupby([*KEYS, "step", "chip"]):
        ids = runs.loc[runs["export_regime"] == regime, "run_id"]
        cell = chips[(chips["step"] == step) & (chips["chip"] == chip)].set_index("run_id")
        row = {"export_regime": regime, "step": step, "chip": chip}
        for value in VALUES:
            x = cell[value].reindex(ids, fill_value=0.0).to_numpy()
            half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
            row |= {f"{value}_mean": x.mean(), f"{value}_ci_low": x.mean() - half,
                    f"{value}_ci_high": x.mean() + half}
        expected.append(row)
    expected = pd.DataFrame(expected)
    sold_by = chips.groupby([*KEYS, "step", "chip"]).size()
    assert (sold_by == 1).any() and (sold_by == 2).any()  # chips sold by one run of a point, and by both
    got = by_chip.merge(expected, on=[*KEYS, "step", "chip"], suffixes=("", "_expected"), validate="1:1")
    assert len(got) == len(by_chip) == len(expected)
    for column in expected.columns[3:]:
        assert got[column].to_numpy() == pytest.approx(got[f"{column}_expected"].to_numpy(), rel=1e-12,
                                                        abs=1e-6), column
    assert (by_chip["units_ci_low"] < by_chip["units_mean"]).any()


def test_a_run_that_did_not_sell_a_chip_counts_as_zero(sweep):
    """A chip one run of a point sold and the other did not: the mean is over both runs, one at 0."""
    chips = pd.read_parquet(sweep / CHIP_FILE)
    one = chips[chips["run_id"] == chips["run_id"].iloc[0]]
    other = one.iloc[1:].assign(run_id="other")  # sold all but the first row's chip in that quarter
    runs = pd.DataFrame({"run_id": [one["run_id"].iloc[0], "other"], "export_regime": ["ban", "ban"]})
    table = summarise_chips(pd.concat([one, other]), runs, KEYS).set_index(["step", "chip"])
    first = table.loc[(one["step"].iloc[0], one["chip"].iloc[0])]
    x = np.array([one["units"].iloc[0], 0.0])
    half = stats.t.ppf(0.975, 1) * x.std(ddof=1) / np.sqrt(2)
    assert first["n_runs"] == 2 and first["units_mean"] == pytest.approx(x.mean(), rel=1e-15)
    assert first["units_ci_low"] == pytest.approx(x.mean() - half, rel=1e-12)
    assert first["units_ci_high"] == pytest.approx(x.mean() + half, rel=1e-12)


def test_the_interval_contains_the_mean(by_chip):
    for value in VALUES:
        mean, low, high = (by_chip[f"{value}_{s}"] for s in ("mean", "ci_low", "ci_high"))
        assert (low <= mean + 1e-9 * mean.abs()).all() and (mean <= high + 1e-9 * mean.abs()).all(), value


def test_identical_runs_give_zero_width_and_one_run_no_interval(sweep):
    chips = pd.read_parquet(sweep / CHIP_FILE)
    one = chips[chips["run_id"] == chips["run_id"].iloc[0]]
    twice = pd.concat([one, one.assign(run_id="copy")], ignore_index=True)
    runs = pd.DataFrame({"run_id": [one["run_id"].iloc[0], "copy"], "export_regime": ["ban", "ban"]})
    table = summarise_chips(twice, runs, KEYS)
    assert len(table) == len(one) and (table["n_runs"] == 2).all()
    for value in VALUES:
        assert (table[f"{value}_ci_low"] == table[f"{value}_mean"]).all()
        assert (table[f"{value}_ci_high"] == table[f"{value}_mean"]).all()
        mean = table.set_index(["step", "chip"])[f"{value}_mean"]
        assert mean.to_dict() == one.set_index(["step", "chip"])[value].to_dict()
    alone = summarise_chips(one, runs.iloc[:1], KEYS)
    assert (alone["n_runs"] == 1).all() and alone["units_ci_low"].isna().all()  # as summary.csv: no interval


def test_chips_sum_to_their_makers_in_by_maker_csv(sweep, by_chip):
    """The consistency of the two tables: summed over a maker's chips, by_chip's means are by_maker's."""
    by_maker = pd.read_csv(sweep / "by_maker.csv")
    summed = by_chip.groupby([*KEYS, "step", "maker"])[["units_mean", "revenue_usd_mean"]].sum()
    makers = by_maker.set_index([*KEYS, "step", "maker"])
    assert list(by_maker.columns) == [*KEYS, "step", "quarter", "maker", "units_mean", "units_p025",
                                      "units_p975", "revenue_usd_mean", "revenue_usd_p025",
                                      "revenue_usd_p975", "n_runs"]
    both = makers.join(summed.add_suffix("_chips")).fillna({"units_mean_chips": 0.0,
                                                           "revenue_usd_mean_chips": 0.0})
    assert both["units_mean"].sum() > 0
    for value in ("units_mean", "revenue_usd_mean"):
        assert both[f"{value}_chips"].to_numpy() == pytest.approx(both[value].to_numpy(), rel=1e-12, abs=1e-6)


# --- --resume and replicate ---------------------------------------------------------------------------
@pytest.fixture
def partial(tmp_path) -> Path:
    out = tmp_path / "partial"
    result = run_sweep(experiment_from_dict(spec()), out, workers=1, progress=False, executor=StopAfter(2))
    assert result.interrupted and 0 < result.done < result.total
    return out


def parts(out: Path) -> list[Path]:
    return sorted((out / PARTS_DIR).glob("part-*.parquet"))


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _drop_a_row_and_rehash(path: Path) -> None:
    """A chip row lost and the part's record edited to match the file: the row count still differs."""
    table = pq.read_table(path)
    pq.write_table(table.slice(1), path)
    part = path.with_name("part-" + path.name.removeprefix("chips-"))
    record = json.loads(part_record(part).read_text())
    record["chips"]["sha256"] = sha256_file(path)
    part_record(part).write_text(json.dumps(record))


@pytest.mark.parametrize("damage", [_truncate, _drop_a_row_and_rehash, Path.unlink])
def test_resume_reruns_a_task_whose_chip_part_is_damaged(partial, sweep, damage):
    victim = parts(partial)[0]
    damage(chip_part(victim))
    result = run_sweep(experiment_from_dict(spec()), partial, workers=1, resume=True, progress=False)
    assert result.exit_code == 0 and result.done == result.total and result.resumed < result.total
    assert any(note.startswith(f"{str(victim)!r}: ") and "chips-" in note for note in result.warnings)
    assert_same_data(partial, sweep)


def test_resume_removes_a_chip_part_whose_task_was_not_saved(partial, sweep):
    """Killed between the chip part and its task's part: the chip part is a leftover, removed."""
    victim = parts(partial)[0]
    victim.unlink()
    part_record(victim).unlink()
    result = run_sweep(experiment_from_dict(spec()), partial, workers=1, resume=True, progress=False)
    assert result.exit_code == 0
    assert any(str(chip_part(victim)) in note for note in result.warnings)
    assert_same_data(partial, sweep)


def test_resume_and_report_of_a_complete_folder_check_the_chip_table(sweep, tmp_path):
    out = tmp_path / "done"
    shutil.copytree(sweep, out)
    table = pq.read_table(out / CHIP_FILE)
    pq.write_table(table.slice(1), out / CHIP_FILE)
    from model.sweep.errors import UsageError

    with pytest.raises(UsageError, match=CHIP_FILE):
        run_sweep(experiment_from_dict(spec()), out, workers=1, resume=True, progress=False)
    with pytest.raises(UsageError, match=f"{CHIP_FILE}.*altered"):  # nor is it reported from
        checked_report(str(out))
    manifest = Manifest.load(out)
    del manifest.data["files"][CHIP_FILE]
    manifest.write([out / name for name in manifest.files], status="complete")
    with pytest.raises(UsageError, match=f"{CHIP_FILE}: not recorded"):
        run_sweep(experiment_from_dict(spec()), out, workers=1, resume=True, progress=False)


def test_a_sweep_from_before_the_chip_table_still_resumes_reports_and_replicates(sweep, tmp_path):
    """A finished folder without chip_sales.parquet (and without its record): complete, its report skips
    by_chip.csv with a note, and replicate compares runs.parquet."""
    out = tmp_path / "older"
    shutil.copytree(sweep, out)
    (out / CHIP_FILE).unlink()
    (out / "by_chip.csv").unlink()
    manifest = Manifest.load(out)
    del manifest.data["files"][CHIP_FILE]
    manifest.write([out / name for name in manifest.files], status="complete")
    result = run_sweep(experiment_from_dict(spec()), out, workers=1, resume=True, progress=False)
    assert result.exit_code == 0 and result.resumed == result.total
    report = checked_report(str(out))
    assert not (out / "by_chip.csv").exists()
    assert any(note.startswith("by_chip.csv: skipped") for note in report.notes)
    assert report_text(replicate(out, workers=1), out) == "replicated: 4 runs, all values identical"


def test_replicate_compares_the_chip_table(sweep, tmp_path):
    assert report_text(replicate(sweep, workers=1), sweep) == "replicated: 4 runs, all values identical"
    out = tmp_path / "edited"
    shutil.copytree(sweep, out)
    chips = pd.read_parquet(out / CHIP_FILE)
    chips.loc[3, "units"] += 1.0
    chips.to_parquet(out / CHIP_FILE, index=False)
    manifest = Manifest.load(out)
    manifest.data["files"][CHIP_FILE] = sha256_file(out / CHIP_FILE)  # a rehashed edit: only values tell
    manifest.write([out / name for name in manifest.files], status="complete")
    result = replicate(out, workers=1)
    assert not result.identical and not result.altered_files
    assert result.differences["column"].tolist() == [f"units [{chips.loc[3, 'chip']}]"]
    assert "NOT replicated" in report_text(result, out)


# --- docs/INTERFACES.md lists every output file and column ------------------------------------------------
def outputs_section() -> str:
    text = (REPO_ROOT / "docs" / "INTERFACES.md").read_text(encoding="utf-8")
    return text.split("## 5. Outputs", 1)[1].split("\n## ", 1)[0]


def test_interfaces_lists_every_file_and_column_of_a_sweep_folder(sweep):
    named = set(re.findall(r"`([^`]+)`", outputs_section()))
    files = {p.name for p in sweep.iterdir() if p.is_file()}
    assert files <= named, f"INTERFACES §5 does not list {sorted(files - named)}"
    for name in ("by_chip.csv", "by_maker.csv", CHIP_FILE):
        path = sweep / name
        columns = pq.read_schema(path).names if name.endswith(".parquet") else list(pd.read_csv(path).columns)
        missing = [c for c in columns if c not in named and c not in KEYS]  # KEYS: the design's parameters
        assert not missing, f"INTERFACES §5 does not list the columns {missing} of {name}"
