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
