"""by_maker.csv's table (model.analysis.by_maker.summarise) computes every group of one size at once; it
must give the table, to the bit, that the one-group-at-a-time loop it replaced gave (kept here as the
reference): same rows in the same order, same dtypes, same floats (negative zero, NaN, inf and extreme
magnitudes among them), same CSV text."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.analysis.by_maker import maker_pairs, summarise


def loop_summarise(runs: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The previous ``summarise`` (until commit 21d0dd0), verbatim but for the columns' names (issue 32
    item 4: ``_mean``, ``_p025``, ``_p975``, ``n_runs``): one group and one maker at a time."""
    pairs = maker_pairs(runs.columns)
    rows = []
    for key, g in runs.groupby(keys, sort=True):
        point = dict(zip(keys, key if isinstance(key, tuple) else (key,), strict=True))
        for maker, (units_col, revenue_col) in pairs.items():
            u = g[units_col].to_numpy(dtype=float)
            r = g[revenue_col].to_numpy(dtype=float)
            rows.append({**point, "maker": maker,
                         "units_mean": float(u.mean()), "units_p025": float(np.percentile(u, 2.5)),
                         "units_p975": float(np.percentile(u, 97.5)),
                         "revenue_usd_mean": float(r.mean()),
                         "revenue_usd_p025": float(np.percentile(r, 2.5)),
                         "revenue_usd_p975": float(np.percentile(r, 97.5)), "n_runs": len(g)})
    return pd.DataFrame(rows)


VALUE_COLUMNS = ["units_nvidia", "revenue_nvidia", "units_huawei", "revenue_huawei", "units_other",
                 "revenue_other"]


def fake_runs(rng: np.random.Generator, max_size: int, nan_keys: bool) -> pd.DataFrame:
    """Rows of design points x steps, each point with its own number of runs (1..max_size), shuffled;
    reporter values of every magnitude, with exact ties, negative zeros, NaN and inf among them."""
    points = 7
    sizes = rng.integers(1, max_size + 1, points)
    rows = []
    for p in range(points):
        for rep in range(sizes[p]):
            for step in range(3):
                rows.append({"sample_index": p, "regime": ["ban", "open", "lagged"][p % 3],
                             "capacity": [2e5, 1.5e6][p % 2], "flag": bool(p % 2), "step": step,
                             "quarter": f"2026Q{step + 1}", "replication": rep})
    runs = pd.DataFrame(rows)
    n = len(runs)
    for c in VALUE_COLUMNS:
        values = rng.normal(size=n) * 10.0 ** rng.integers(-12, 17, n)
        pick = rng.random(n)
        values[pick < 0.10] = 0.0
        values[(pick >= 0.10) & (pick < 0.15)] = -0.0
        values[(pick >= 0.15) & (pick < 0.25)] = 1e16  # ties and sums that lose bits in another order
        values[(pick >= 0.25) & (pick < 0.27)] = np.nan
        values[(pick >= 0.27) & (pick < 0.28)] = np.inf
        runs[c] = values
    runs["revenue_passthrough"] = 0.1  # a parameter named like a reporter, not a maker's pair
    if nan_keys:
        runs.loc[rng.random(n) < 0.05, "capacity"] = np.nan  # groupby leaves these rows out
    return runs.sample(frac=1.0, random_state=int(rng.integers(1 << 31))).reset_index(drop=True)


def assert_same(new: pd.DataFrame, old: pd.DataFrame) -> None:
    assert list(new.columns) == list(old.columns)
    assert new.dtypes.to_dict() == old.dtypes.to_dict()
    pd.testing.assert_frame_equal(new, old, check_exact=True)
    for c in new.columns:
        if new[c].dtype.kind == "f":
            assert np.array_equal(new[c].to_numpy().view(np.int64), old[c].to_numpy().view(np.int64)), c
    assert new.to_csv(index=False) == old.to_csv(index=False)


KEYS = [["quarter"], ["sample_index", "step", "quarter"], ["regime", "capacity", "flag", "step", "quarter"]]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("keys", KEYS, ids=lambda k: "+".join(k))
@pytest.mark.parametrize("max_size", [1, 3, 12, 40])  # 8 or more runs: numpy's pairwise summation
def test_summarise_equals_the_loop(seed, keys, max_size):
    runs = fake_runs(np.random.default_rng([seed, max_size]), max_size, nan_keys="capacity" in keys)
    with np.errstate(invalid="ignore"):
        old = loop_summarise(runs, keys)
        new = summarise(runs, keys)
    assert len(new) > 0
    assert_same(new, old)


def test_summarise_of_nothing_is_empty():
    runs = fake_runs(np.random.default_rng(5), 3, nan_keys=False)
    assert summarise(runs.iloc[:0], ["quarter"]).empty and loop_summarise(runs.iloc[:0], ["quarter"]).empty
    no_makers = runs.drop(columns=VALUE_COLUMNS)
    assert summarise(no_makers, ["quarter"]).empty and loop_summarise(no_makers, ["quarter"]).empty
    all_missing = runs.assign(capacity=np.nan)
    assert summarise(all_missing, ["capacity", "step"]).empty
    assert loop_summarise(all_missing, ["capacity", "step"]).empty
