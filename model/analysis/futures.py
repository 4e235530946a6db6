"""Shared by scenario discovery (:mod:`model.analysis.discover`) and robustness
(:mod:`model.analysis.robust`): a sweep's levers and uncertainties, the ``--policy NAME=VALUE``
filter, and writing a folder of results atomically.

A sweep of an experiment with ``[levers]`` and ``[uncertainties]`` records them in its manifest
(``design.levers``, ``design.uncertainties``); its runs of every lever combination share one sample of
futures (``sample_index``) and, replication by replication, one seed (common random numbers).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from model.analysis.sweep_data import Sweep
from model.sweep.errors import UsageError


def levers_of(sweep: Sweep) -> list[str]:
    """The sweep's policy levers (empty for a [grid]/[sample] sweep)."""
    design = sweep.manifest.get("design") or {}
    return [str(v) for v in (design.get("levers") or []) if str(v) in sweep.final.columns]


def uncertainties_of(sweep: Sweep) -> list[str]:
    """The sweep's uncertain parameters: [uncertainties] when it has levers, else every varying one."""
    design = sweep.manifest.get("design") or {}
    names = design.get("uncertainties")
    if names:
        return [str(v) for v in names if str(v) in sweep.final.columns]
    levers = levers_of(sweep)
    return [v for v in sweep.varying if v not in levers]


def check_reporter(sweep: Sweep, reporter: str, option: str = "--reporter") -> str:
    if reporter not in sweep.reporters or reporter not in sweep.final.columns:
        known = [r for r in sweep.reporters if r in sweep.final.columns]
        raise UsageError(f"{option} {reporter!r}: unknown reporter in {sweep.dir / 'final.csv'}; "
                         f"allowed: one of {', '.join(known)}")
    return reporter


def manifest_runs(sweep: Sweep) -> list[dict]:
    """The manifest's run list (each with ``run_id``, ``sample_index`` and ``params``; empty when the
    manifest has none), failed runs included: what the sweep set out to run."""
    return [r for r in sweep.manifest.get("runs") or []
            if isinstance(r, dict) and isinstance(r.get("params"), dict)]


def run_counts(sweep: Sweep, levers: list[str], columns: list[str],
               policy: dict[str, object] | None = None) -> pd.DataFrame:
    """What an analysis has of each lever combination (index: its :func:`policy_label`; one row
    ``all runs`` without ``levers``), of the runs of ``policy`` only when given: ``planned`` (the
    manifest's runs; else the rows of final.csv), ``failed`` (the manifest's ``failed_run_ids``),
    ``finished`` (rows of final.csv) and ``not_finite`` (finished with NaN or inf in one of ``columns``)."""
    def label(values: dict) -> str:
        return policy_label({lv: values.get(lv) for lv in levers}) if levers else "all runs"

    def wanted(values: dict) -> bool:
        return all(policy_label({k: values.get(k)}) == policy_label({k: v})
                   for k, v in (policy or {}).items())

    final = select_policy(sweep.final, policy or {})
    finite = np.isfinite(final[columns].to_numpy(float)).all(axis=1)
    rows = final[levers].to_dict("records") if levers else [{}] * len(final)
    finished = pd.DataFrame({"policy": [label(r) for r in rows], "finished": 1, "not_finite": ~finite})
    counts = finished.groupby("policy", sort=False).sum().astype(int)
    runs = [r for r in manifest_runs(sweep) if wanted(r["params"])]
    failed_ids = {str(i) for i in sweep.manifest.get("failed_run_ids") or []}
    planned = pd.Series([label(r["params"]) for r in runs], dtype=object).value_counts(sort=False)
    failed = pd.Series([label(r["params"]) for r in runs if str(r.get("run_id")) in failed_ids],
                       dtype=object).value_counts(sort=False)
    table = pd.DataFrame({"planned": planned if runs else counts["finished"], "failed": failed})
    table = table.join(counts, how="outer").reindex(columns=["planned", "failed", "finished", "not_finite"])
    return table.fillna(0).astype(int).rename_axis("policy")


def run_problems(counts: pd.DataFrame, what: str) -> list[str]:
    """One note per row of :func:`run_counts` with failed or non-finite runs: 'POLICY: 2 of 8 runs failed
    (failures.csv), 1 finished with a non-finite WHAT'."""
    notes = []
    for name, row in counts.iterrows():
        parts = [f"{row['failed']} of {row['planned']} runs failed (failures.csv)"] if row["failed"] else []
        parts += [f"{row['not_finite']} finished with a non-finite {what}"] if row["not_finite"] else []
        if parts:
            notes.append(f"{name}: {', '.join(parts)}")
    return notes


def runs_left_out(sweep: Sweep, reporter: str, policy: dict, seen: int) -> tuple[dict, list[str]]:
    """The runs (of ``policy``) an analysis of ``reporter`` does not see, ``seen`` being those it does:
    {planned, failed, not_finite} and a note saying so when any is left out (issue 31 item 3)."""
    counts = run_counts(sweep, [], [reporter], policy).sum()
    left = {k: int(counts[k]) for k in ("planned", "failed", "not_finite")}
    if not (left["failed"] or left["not_finite"]):
        return left, []
    return left, [f"{left['failed']} run(s) failed (failures.csv) and {left['not_finite']} finished with a "
                  f"non-finite {reporter}: left out; PRIM sees {seen} of the {left['planned']} runs"
                  f"{' of ' + policy_label(policy) if policy else ''}"]


def parse_policy(sweep: Sweep, items: list[str]) -> dict[str, object]:
    """``["export_regime=lagged", ...]`` -> {lever: value}, each a lever of the sweep with a value it ran."""
    if not items:
        return {}
    levers = levers_of(sweep)
    if not levers:
        raise UsageError(f"--policy: {sweep.dir} is a sweep without levers (its experiment has no "
                         f"[levers] section); allowed: --policy only on a sweep of an experiment with "
                         f"[levers] and [uncertainties]")
    policy: dict[str, object] = {}
    for item in items:
        if "=" not in item:
            raise UsageError(f"--policy {item!r}: expected NAME=VALUE; "
                             f"allowed: NAME one of {', '.join(levers)}")
        name, text = (s.strip() for s in item.split("=", 1))
        if name not in levers:
            raise UsageError(f"--policy {item}: {name!r} is not a lever of {sweep.dir}; allowed: one of "
                             f"{', '.join(levers)}")
        ran = list(pd.unique(sweep.final[name]))
        match = next((v for v in ran if _same(v, text)), None)
        planned = {r["params"].get(name) for r in manifest_runs(sweep)} - {None}
        if match is None and any(_same(v, text) for v in planned):
            raise UsageError(f"--policy {item}: every run of it failed, none is in "
                             f"{sweep.dir / 'final.csv'} (see failures.csv); allowed: one of "
                             f"{', '.join(map(str, ran))}")
        if match is None:
            raise UsageError(f"--policy {item}: value {text!r} was not run in {sweep.dir}; allowed: one of "
                             f"{', '.join(map(str, ran))}")
        if name in policy:  # two values of one lever: no run has both
            raise UsageError(f"--policy {item}: {name!r} is given twice ({policy[name]} and {match}); "
                             f"allowed: each lever once (a policy is one value per lever)")
        policy[name] = match
    return policy


def _same(value: object, text: str) -> bool:
    if isinstance(value, bool):
        return text.lower() == str(value).lower()
    if isinstance(value, (int, float)):
        try:
            return float(text) == float(value)
        except ValueError:
            return False
    return str(value) == text


def select_policy(final: pd.DataFrame, policy: dict[str, object]) -> pd.DataFrame:
    mask = pd.Series(True, index=final.index)
    for name, value in policy.items():
        mask &= final[name] == value
    return final[mask]


def policy_label(values: dict[str, object]) -> str:
    """'export_regime=lagged, china_import_policy=restrict'."""
    return ", ".join(f"{k}={_short(v)}" for k, v in values.items())


def _short(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def slug(text: str) -> str:
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return "_".join(part for part in keep.split("_") if part)[:120]


@contextlib.contextmanager
def atomic_folder(target: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``target``; on success it replaces ``target`` whole
    (a reader sees the old folder or the new one, never a half-written one); on error it is removed."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o777 & ~mask)
        old = None
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def markdown_table(frame: pd.DataFrame) -> str:
    """A GitHub/pandoc pipe table of ``frame`` (cells as given: format them first)."""
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    lines += ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)
