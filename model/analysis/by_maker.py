"""``by_maker.csv``: each chipmaker's units sold in China and China revenue per quarter and design point,
mean over replications (``_mean``) and the spread of the runs (``_p025``, ``_p975``: their 2.5th and 97.5th
percentiles, not an interval of the mean; the naming scheme is :mod:`model.sweep.stats`'s), from the
per-maker reporters (``units_<maker>``, ``revenue_<maker>``, INTERFACES §2) that the sweep wrote:
the catalogue's makers and any added at run time (``catalogue.extended``). Written by the report
of every sweep (``chipstack sweep`` / ``chipstack report``)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from model.analysis.sweep_data import Sweep
from model.core import catalogue
from model.core.docblocks import maintenance_arguments, replace_block
from model.core.reporters import maker_columns
from model.sweep.stats import MEAN, N_RUNS, P_HIGH, P_LOW, SPREAD


def maker_pairs(columns) -> dict[str, tuple[str, str]]:
    """chipmaker -> (units column, revenue column) found among ``columns`` (a sweep's or a replay's): every
    ``units_<key>`` / ``revenue_<key>`` pair. Makers of the catalogue in force come first, in its order, under
    their names; a pair no maker in force owns (a maker added at run time in another process) follows
    under its key. So a maker added with ``catalogue.extended`` is in by_maker.csv with nothing else
    changed."""
    present = set(columns)
    pairs = {name: pair for name, pair in maker_columns().items() if set(pair) <= present}
    known = {c for pair in pairs.values() for c in pair}
    for c in columns:
        if c.startswith("units_") and c not in known:
            key = c.removeprefix("units_")
            if f"revenue_{key}" in present:
                pairs.setdefault(key, (c, f"revenue_{key}"))
    return pairs


def summarise(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Per group of ``keys`` (e.g. design point, step, quarter) and chipmaker: units and revenue, mean and
    2.5th and 97.5th percentiles over the group's runs (``units_mean``, ``units_p025``, ``units_p975``,
    the same for ``revenue_usd``, and ``n_runs``). ``runs`` holds the per-maker reporters (``maker_pairs``).

    Rows: groups in ``groupby(keys, sort=True)`` order (rows with a missing key are left out, as groupby
    does), then makers in ``maker_pairs`` order. Computed for all groups of one size at once: their
    values, in the frame's row order, as a (groups x size) array, whose ``mean`` and ``percentile`` along
    its rows give the same bits as those of each group's own 1-d array (the same reduction and the same
    interpolation per row; tests/test_by_maker.py compares them with the one-group-at-a-time loop)."""
    pairs = maker_pairs(runs.columns)
    grouped = runs.groupby(keys, sort=True)
    group_of = grouped.ngroup().to_numpy(dtype=float)  # NaN for rows with a missing key (dropped)
    kept = np.flatnonzero(~np.isnan(group_of))
    group_of = group_of[kept].astype(np.int64)
    n_groups = int(group_of.max()) + 1 if len(group_of) else 0
    if not pairs or n_groups == 0:
        return pd.DataFrame()
    order = kept[np.argsort(group_of, kind="stable")]  # rows by group, each group's in frame order
    sizes = np.bincount(group_of, minlength=n_groups)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    makers = list(pairs)
    stats = {f"{what}{suffix}": np.empty((n_groups, len(makers)))
             for what in ("units", "revenue_usd") for suffix in (MEAN, P_LOW, P_HIGH)}
    columns = {c: runs[c].to_numpy(dtype=float) for pair in pairs.values() for c in pair}
    for size in np.unique(sizes):
        groups = np.flatnonzero(sizes == size)
        rows = order[starts[groups][:, None] + np.arange(size)]  # (groups, size), C order
        for j, (units_col, revenue_col) in enumerate(pairs.values()):
            for what, col in (("units", units_col), ("revenue_usd", revenue_col)):
                values = columns[col][rows]
                stats[f"{what}{MEAN}"][groups, j] = values.mean(axis=1)
                stats[f"{what}{P_LOW}"][groups, j] = np.percentile(values, SPREAD[0], axis=1)
                stats[f"{what}{P_HIGH}"][groups, j] = np.percentile(values, SPREAD[1], axis=1)
    first = order[starts]  # a group's key values: those of its first row
    table = {k: runs[k].iloc[first].repeat(len(makers)).reset_index(drop=True) for k in keys}
    table["maker"] = makers * n_groups
    table.update({name: values.ravel() for name, values in stats.items()})
    table[N_RUNS] = np.repeat(sizes, len(makers))
    return pd.DataFrame(table)


def point_keys(sweep: Sweep) -> list[str]:
    """The columns that name a design point in the per-quarter tables (by_maker.csv, by_chip.csv): the grid
    parameters, or ``sample_index`` for sampled designs (one point per sample index)."""
    return ["sample_index"] if sweep.sample_params else list(sweep.grid_params)


def by_maker_table(sweep: Sweep) -> pd.DataFrame:
    """The design point's columns (:func:`point_keys`), step, quarter, maker, units_mean, units_p025,
    units_p975, revenue_usd_mean, revenue_usd_p025, revenue_usd_p975, n_runs.

    Empty when ``runs.parquet`` lacks the per-maker reporters (a sweep from before they existed) or a
    design column the manifest names (the report notes nothing is written then)."""
    keys = point_keys(sweep)
    names = pq.read_schema(sweep.runs_path).names
    columns = [c for pair in maker_pairs(names).values() for c in pair]
    if not columns or not set([*keys, "step", "quarter"]) <= set(names):
        return pd.DataFrame()
    return summarise(sweep.runs([*keys, "step", "quarter", *columns]), [*keys, "step", "quarter"])


# --- docs/INTERFACES.md §2: the per-maker reporters and by_maker.csv's makers, generated --------------
#: Markers of the generated block in docs/INTERFACES.md (``python -m model.analysis.by_maker`` rewrites it;
#: tests/test_new_maker.py fails when it is stale).
DOC_BEGIN = "<!-- generated by `python -m model.analysis.by_maker`: begin -->"
DOC_END = "<!-- generated by `python -m model.analysis.by_maker`: end -->"
INTERFACES_MD = Path(__file__).resolve().parents[2] / "docs" / "INTERFACES.md"


def interfaces_block(makers=None) -> str:
    """The Markdown table of the per-maker reporters (INTERFACES §2), one row per chipmaker of the catalogue
    (default: the sourced one, ``catalogue.MAKERS``): its name (the ``maker`` column of by_maker.csv and of
    the ``chip_sales`` table), stack, ecosystem and its two reporters."""
    makers = catalogue.MAKERS if makers is None else makers
    columns = maker_columns(makers)
    lines = ["| maker (`maker` in by_maker.csv) | stack | ecosystem | units reporter | revenue reporter |",
             "|---|---|---|---|---|"]
    for m in makers:
        units, revenue = columns[m.name]
        ecosystem = catalogue.ECOSYSTEMS[m.ecosystem]
        lines.append(f"| {m.name} | {m.stack} | {ecosystem} | `{units}` | `{revenue}` |")
    return "\n".join(lines)


def write_interfaces(path: Path = INTERFACES_MD) -> bool:
    """Rewrite the generated block of docs/INTERFACES.md; True when it changed."""
    text = path.read_text(encoding="utf-8")
    new = replace_block(text, DOC_BEGIN, DOC_END, interfaces_block())
    if new != text:
        path.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str] | None = None) -> int:
    """``python -m model.analysis.by_maker``: rewrite the chipmaker block of docs/INTERFACES.md."""
    maintenance_arguments("model.analysis.by_maker", "the chipmaker table of docs/INTERFACES.md §2", argv)
    print(f"{INTERFACES_MD}: {'rewritten' if write_interfaces() else 'up to date'}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
