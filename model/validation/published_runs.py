"""The model runs chipstack's side-by-side table with published estimates reads (model/validation/
published.py), and the per-seed quantities it takes from them.

* the quarterly replay ``experiments/history_2022_2026.toml`` (its parameters and seeds, up to
  ``REPLAY_LAST``): units sold per chip and quarter (the ``chip_sales`` table) and the chips smuggled each
  quarter (``Developers.last_grey_units``, of that quarter's ``Developers.grey_chip``);
* the forward default run (``FORWARD_PARAMS``, ``FORWARD_SEEDS``, 2026Q1-2030Q4): China's installed
  compute (FLOP-based, and its grey part), its ratio to the US's and Huawei's units.

Reads the model's state; changes nothing in it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.core.catalogue import DOMESTIC_LEADER, catalogue_arrays
from model.core.quarters import parse_quarter

#: The forward default run (the headline's population; reversals not drawn, the rule as enacted holds).
FORWARD_PARAMS = {"realize_reversals": False, "n_developers": 300}
FORWARD_SEEDS = (1, 2, 3, 4, 5)
FORWARD_STEPS = 20  # 2026Q1 ... 2030Q4
#: The replay's quarters read here: up to 2026Q1 (14 steps from 2022Q4).
REPLAY_LAST = "2026Q1"


@dataclass
class Runs:
    """What the table reads from the model runs (one row per seed and quarter, or per chip sold)."""

    sales: pd.DataFrame  # replay: seed, quarter, chip, maker, units, flop_h100e (per unit)
    grey: pd.DataFrame  # replay: seed, quarter, chip (frontier), units, flop_h100e (total)
    forward: pd.DataFrame  # forward: seed, quarter, china_compute_h100e, grey_compute_h100e,
    #                        china_to_us_compute_ratio, huawei_units
    seeds: tuple[int, ...]  # replay seeds
    forward_seeds: tuple[int, ...]


def replay_runs(params: dict | None = None, seeds=None, steps: int | None = None
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(chip sales, grey units) of the quarterly replay, stepping the model and reading its state each
    quarter: the grey channel's units are ``Developers.last_grey_units``."""
    from model.core.chip_market import ChipMarketModel
    from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

    file_params, _, file_seeds = replay_spec(REPLAY_EXPERIMENT)
    params = file_params if params is None else dict(params)
    seeds = file_seeds if seeds is None else list(seeds)
    if steps is None:
        steps = parse_quarter(REPLAY_LAST) - parse_quarter(params["start_quarter"]) + 1
    sales, grey = [], []
    for seed in seeds:
        m = ChipMarketModel(rng=int(seed), **params)
        cat = m.catalogue
        for _ in range(steps):
            m.step()
            f = m.developers.grey_chip
            units = m.developers.last_grey_units  # smuggled chips of the grey chip that arrived
            grey.append({"seed": int(seed), "quarter": m.quarter_label,
                         "chip": cat.names[f] if f >= 0 else "", "units": units,
                         "flop_h100e": units * float(cat.flop_h100e[f]) if f >= 0 else 0.0})
        table = m.datacollector.get_table_dataframe("chip_sales")
        flop = dict(zip(cat.names, cat.flop_h100e, strict=True))
        table = table.assign(seed=int(seed), flop_h100e=table["chip"].map(flop))
        sales.append(table[["seed", "quarter", "chip", "maker", "units", "flop_h100e"]])
    return pd.concat(sales, ignore_index=True), pd.DataFrame(grey)


def forward_runs(params: dict | None = None, seeds=FORWARD_SEEDS, steps: int = FORWARD_STEPS) -> pd.DataFrame:
    """The forward default run per seed and quarter: installed compute (incl. its grey part) and Huawei's
    units."""
    from model.core.chip_market import ChipMarketModel
    from model.core.reporters import maker_columns

    params = FORWARD_PARAMS if params is None else dict(params)
    huawei_units = maker_columns()[DOMESTIC_LEADER][0]
    frames = []
    for seed in seeds:
        m = ChipMarketModel(rng=int(seed), **params)
        df = m.run(steps)
        frames.append(pd.DataFrame({"seed": int(seed), "quarter": [m.time_label(k) for k in range(len(df))],
                                    "china_compute_h100e": df["china_compute_h100e"].to_numpy(),
                                    "grey_compute_h100e": df["grey_compute_h100e"].to_numpy(),
                                    "china_to_us_compute_ratio": df["china_to_us_compute_ratio"].to_numpy(),
                                    "huawei_units": df[huawei_units].to_numpy()}))
    return pd.concat(frames, ignore_index=True)


def collect(replay_params: dict | None = None, replay_seeds=None, forward_params: dict | None = None,
            forward_seeds=FORWARD_SEEDS) -> Runs:
    """The model runs the table reads (defaults: the replay file's seeds and parameters; the forward
    default run with ``FORWARD_PARAMS`` and ``FORWARD_SEEDS``)."""
    from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

    sales, grey = replay_runs(replay_params, replay_seeds)
    seeds = tuple(replay_spec(REPLAY_EXPERIMENT)[2] if replay_seeds is None else replay_seeds)
    forward = forward_runs(forward_params, forward_seeds)
    return Runs(sales, grey, forward, tuple(int(s) for s in seeds), tuple(int(s) for s in forward_seeds))


# --- per-seed quantities -------------------------------------------------------------------------
def _per_seed(frame: pd.DataFrame, seeds, value) -> np.ndarray:
    """``value`` summed per seed (0 for a seed with no rows), in ``seeds`` order."""
    sums = frame.groupby("seed")[value].sum() if len(frame) else pd.Series(dtype=float)
    return np.array([float(sums.get(s, 0.0)) for s in seeds])


def _year(frame: pd.DataFrame, year: int) -> pd.DataFrame:
    return frame[frame["quarter"].str.startswith(str(year))]


def flop_added(runs: Runs, year: int) -> np.ndarray:
    """Per replay seed: FLOP-based H100e sold legally in China in ``year`` (Σ units x flop_h100e)."""
    sel = _year(runs.sales, year)
    return _per_seed(sel.assign(flop=sel["units"] * sel["flop_h100e"]), runs.seeds, "flop")


def grey_added(runs: Runs, year: int, value: str = "units") -> np.ndarray:
    """Per replay seed: smuggled chips delivered in ``year`` (``units``) or their FLOP-based H100e."""
    return _per_seed(_year(runs.grey, year), runs.seeds, value)


def units_of(runs: Runs, year: int, makers) -> np.ndarray:
    """Per replay seed: units the makers named sold in China in ``year`` (the chip_sales table)."""
    sel = _year(runs.sales, year)
    return _per_seed(sel[sel["maker"].isin(list(makers))], runs.seeds, "units")


def forward_at(runs: Runs, quarter: str, column: str) -> np.ndarray:
    sel = runs.forward[runs.forward["quarter"] == quarter]
    return _per_seed(sel, runs.forward_seeds, column)


def forward_year(runs: Runs, year: int, column: str) -> np.ndarray:
    return _per_seed(_year(runs.forward, year), runs.forward_seeds, column)


def _best(flop: np.ndarray, mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[np.argmax(flop[mask])])


def chip_gap(year: int, perf: np.ndarray | None = None) -> tuple[float, str]:
    """Best US chip released by the end of ``year`` ÷ Huawei's best by then: FLOP-based (``flop_h100e``)
    or, with ``perf``, in the model's effective performance. Returns (ratio, 'US chip / Huawei chip')."""
    cat = catalogue_arrays()
    values = cat.flop_h100e if perf is None else perf
    by_end = cat.release <= parse_quarter(f"{year}Q4")
    huawei = cat.maker_of_chip == cat.maker_index(DOMESTIC_LEADER)
    us, cn = _best(values, by_end & cat.is_us), _best(values, by_end & huawei)
    chips = f"{cat.names[us]} {values[us]:.2f} / {cat.names[cn]} {values[cn]:.2f}"
    return float(values[us] / values[cn]), chips


def effective_perf() -> np.ndarray:
    """The model's effective performance per chip at the default parameters (``ChipMarketModel.perf``)."""
    from model.core.parameters import DEFAULTS

    cat = catalogue_arrays()
    return cat.perf_paper * np.where(cat.is_us, 1.0, DEFAULTS["domestic_efficiency"])


def quarter_flop(runs: Runs, quarter: str) -> np.ndarray:
    """Per replay seed: FLOP-based H100e sold legally in China in one quarter."""
    sel = runs.sales[runs.sales["quarter"] == quarter]
    return _per_seed(sel.assign(flop=sel["units"] * sel["flop_h100e"]), runs.seeds, "flop")
