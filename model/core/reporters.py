"""The model reporters of INTERFACES §2, computed from the model's arrays after each quarter.

``compute`` returns them as a dict that the model keeps as ``model.reported`` after each quarter;
the DataCollector, the UI and the validation read that dict (the rules never read reporters).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache, partial
from typing import TYPE_CHECKING

import mesa
import numpy as np
import pandas as pd

from model.core import catalogue
from model.core import fixedmath as fm
from model.core.catalogue import DOMESTIC, DOMESTIC_LEADER, US_LEADER, Maker
from model.core.ledger import CHANNELS, CHINA_CHANNELS, ComputeLedger
from model.core.policy import CHINA_POLICIES, US_REGIMES
from model.core.quarters import months_between, years_since_2026

#: Reference cost of one H100-equivalent (ASSUMPTION $25k: between the H200's ~$27k China price
#: for 1.2 H100e and the H100's ~$25-30k, SOURCES §A1). Used only where dollars must become
#: compute without a chip choice: the unmet_demand_h100e reporter here, and in model.core.chip_market the
#: purchase history before the start and the adaptive rule's coverage.
USD_PER_H100E = 25_000.0



@dataclass(frozen=True)
class Reporter:
    """A model reporter: its name (INTERFACES §2, a contract), a label for people, the unit it is shown
    in and the divisor that takes the raw value to that unit (``shown = value / scale``).

    The one owner of reporter names and labels: the model, the CLI summary, the report, the
    figures and the UI all read this table.
    """

    name: str
    label: str
    unit: str
    scale: float = 1.0
    #: A categorical reporter (a rule in force) is the position of its value in ``codes``: 0, 1, 2 ...
    codes: tuple[str, ...] = ()

    def shown(self, value: float) -> float:
        return value / self.scale

    def decode(self, value: float) -> str:
        """The category a code reporter's value stands for (``codes[value]``)."""
        return self.codes[int(value)]

    @property
    def axis_label(self) -> str:
        return f"{self.label} ({self.unit})"


#: The model reporters that do not depend on the catalogue, in order (INTERFACES §2).
FIXED_REPORTERS: tuple[Reporter, ...] = (
    Reporter("us_stack_share", "US stack share of installed compute, all channels", "0-1, FLOP-based"),
    Reporter("us_share_new", "US share of new purchases, all channels", "0-1, FLOP-based"),
    Reporter("developers_on_us_stack", "developers mostly on the US stack", "share, 0-1"),
    Reporter("us_share_legal", "US share via legal sales since the start", "0-1, FLOP-based"),
    Reporter("us_share_legacy", "US share bought before the start", "0-1, FLOP-based"),
    Reporter("us_share_grey", "US share smuggled", "0-1, FLOP-based"),
    Reporter("us_share_designed", "US share via parts designed to the rule (in legal)", "0-1, FLOP-based"),
    Reporter("china_to_us_compute_ratio", "China's compute / the US's", "ratio, FLOP-based"),
    Reporter("us_share_new_legal", "US share of new purchases via legal sales", "0-1, FLOP-based"),
    Reporter("us_share_new_grey", "US share of new purchases smuggled", "0-1, FLOP-based"),
    Reporter("china_compute_h100e", "China's installed AI compute", "million H100e, FLOP-based", 1e6),
    Reporter("china_effective_compute_h100e", "China's installed effective compute",
             "million effective H100e", 1e6),
    Reporter("us_compute_h100e", "the US's installed AI compute", "million H100e, FLOP-based", 1e6),
    Reporter("frontier_gap", "best chip China can buy legally / best US chip", "ratio, FLOP-based"),
    Reporter("nvidia_china_revenue_usd", f"{US_LEADER} China revenue", "billion USD per quarter", 1e9),
    Reporter("domestic_revenue_usd", "domestic chipmakers' revenue", "billion USD per quarter", 1e9),
    Reporter("domestic_ecosystem", "domestic ecosystem maturity", "0-1, CUDA = 1"),
    Reporter("capability_gap_months", "capability gap", "months behind US frontier"),
    Reporter("unmet_demand_h100e", "unmet demand", "thousand H100e per quarter", 1e3),
    Reporter("offshore_compute_h100e", "Chinese developers' compute abroad", "million H100e, FLOP-based",
             1e6),
    Reporter("grey_compute_h100e", "smuggled compute in China", "million H100e, FLOP-based", 1e6),
    Reporter("grey_units", "smuggled chips arriving", "thousand units per quarter", 1e3),
    Reporter("us_stack_share_incl_offshore", "US stack share incl. offshore", "0-1, FLOP-based"),
    Reporter("budget_usd", "developers' budget", "billion USD per quarter", 1e9),
    Reporter("spent_china_usd", "spent in China", "billion USD per quarter", 1e9),
    Reporter("spent_offshore_usd", "spent abroad", "billion USD per quarter", 1e9),
    Reporter("spent_grey_usd", "spent on the grey market", "billion USD per quarter", 1e9),
    Reporter("unspent_usd", "unspent budget", "billion USD per quarter", 1e9),
    Reporter("nvidia_china_supply_units", f"{US_LEADER}'s China supply", "thousand units per quarter", 1e3),
    Reporter("huawei_output_cap_units", f"{DOMESTIC_LEADER}'s output ceiling", "thousand units per quarter",
             1e3),
    # the rules in force this quarter, as codes (the position in the tuple; a mean over runs is no rule)
    Reporter("us_regime_code", "US export regime in force",
             "code: " + ", ".join(f"{k} {r}" for k, r in enumerate(US_REGIMES)), codes=US_REGIMES),
    Reporter("china_policy_code", "Beijing's import policy in force",
             "code: " + ", ".join(f"{k} {s}" for k, s in enumerate(CHINA_POLICIES)), codes=CHINA_POLICIES),
    Reporter("china_pairing_ratio", "Beijing's pairing quota in force", "H100e domestic per imported H100e"),
    Reporter("domestic_price_markup", "domestic chips' price over list",
             "share over list price, weighted by the list value sold"),
)


def maker_columns(makers: tuple[Maker, ...] | None = None) -> dict[str, tuple[str, str]]:
    """chipmaker name -> (its units reporter, its revenue reporter), in catalogue order (default: the
    catalogue in force)."""
    return {m.name: (f"units_{m.reporter_key}", f"revenue_{m.reporter_key}")
            for m in (catalogue.makers() if makers is None else makers)}


def table(makers: tuple[Maker, ...] | None = None) -> tuple[Reporter, ...]:
    """The model reporters, in order: the fixed ones, then per chipmaker in catalogue order its units
    sold in China and its China revenue this quarter (by_maker.csv). Default: the catalogue in force."""
    makers = catalogue.makers() if makers is None else makers
    return FIXED_REPORTERS + tuple(
        r for m in makers for r in (
            Reporter(f"units_{m.reporter_key}", f"{m.name} chips sold in China", "thousand units per quarter",
                     1e3),
            Reporter(f"revenue_{m.reporter_key}", f"{m.name} China revenue", "billion USD per quarter", 1e9)))


#: The values of a model's per-chip table (``ChipMarketModel.chip_sales_table``; a sweep's
#: ``chip_sales.parquet``, INTERFACES §5), after step, quarter, chip and maker: units sold in China,
#: China revenue (USD) and the FLOP-based compute sold (H100e: units x the chip's ``flop_h100e``).
CHIP_VALUES = ("units", "revenue_usd", "compute_h100e")


def chip_sales(model: "ChipMarketModel") -> pd.DataFrame:
    """The model's ``chip_sales`` table (a row per chip sold per quarter), with each row's FLOP-based
    compute (``compute_h100e``)."""
    table = model.datacollector.get_table_dataframe("chip_sales")
    flop = dict(zip(model.catalogue.names, model.catalogue.flop_h100e.tolist(), strict=True))
    return table.assign(compute_h100e=table["units"] * table["chip"].map(flop).astype(float))


def label_of(name: str) -> Reporter | None:
    """The reporter called ``name`` in the catalogue in force (None if there is none)."""
    return next((r for r in table() if r.name == name), None)


#: The model reporters of the sourced catalogue (``table()`` when no maker was added).
REPORTERS: tuple[Reporter, ...] = table(catalogue.MAKERS)
#: chipmaker name -> (its units reporter, its revenue reporter), sourced catalogue.
MAKER_COLUMNS = maker_columns(catalogue.MAKERS)
REPORTERS_BY_NAME = {r.name: r for r in REPORTERS}
#: Names of the model reporters (INTERFACES §2), in order.
MODEL_REPORTERS = tuple(r.name for r in REPORTERS)


if TYPE_CHECKING:  # pragma: no cover
    from model.core.chip_market import ChipMarketModel


def developers_on_us_stack(installed: np.ndarray, us_maker_mask: np.ndarray) -> float:
    """Share of developers whose installed compute is mostly (> 50%) on US chips."""
    if installed.shape[0] == 0:
        return 0.0
    n_us = int(us_maker_mask.sum())
    if installed.flags.f_contiguous and us_maker_mask[:n_us].all():
        # the model's layout (a contiguous column per maker, US makers first): a reduction over the columns
        # adds them one after the other, as the loop below does
        total = np.add.reduce(installed, axis=1)
        us = np.add.reduce(installed[:, :n_us], axis=1) if n_us else np.zeros(installed.shape[0])
        return float(np.mean(us > 0.5 * total))
    us = np.zeros(installed.shape[0])
    total = np.zeros(installed.shape[0])
    for m, is_us in enumerate(us_maker_mask):  # column by column: contiguous in the model's layout
        total += installed[:, m]
        if is_us:
            us += installed[:, m]
    return float(np.mean(us > 0.5 * total))


def capability_gap_months(
    quarter: int,
    perf: np.ndarray,
    release: np.ndarray,
    is_us: np.ndarray,
    china_best: float,
) -> float:
    """Months since the US frontier first reached ``china_best`` (0 if China matches the frontier).

    If China's best is below every US chip in the catalogue, the gap is counted from the oldest
    US chip (a lower bound).
    """
    us_released = is_us & (release <= quarter)
    if not us_released.any():
        return 0.0
    if china_best >= perf[us_released].max():
        return 0.0
    reached = us_released & (perf >= china_best)
    first = release[reached].min() if reached.any() else release[us_released].min()
    return float(months_between(first, quarter))


def china_best_chip(model: "ChipMarketModel") -> float:
    """Effective performance of the best chip China can make, or buy under US rules (licensed
    buyers included; Beijing's own import stance is a choice, not a capability)."""
    allowed = model.us_legal_by_class[2]  # what a licensed buyer may legally get from the US
    cat = model.catalogue
    domestic_released = model.released & ~cat.is_us
    usable = allowed | domestic_released
    return float(model.perf[usable].max()) if usable.any() else 0.0


def us_compute_h100e(p, quarter: int) -> float:
    """The US's installed AI compute (FLOP-based H100e) in ``quarter``: an exogenous path
    (``us_compute_2026_h100e`` growing ``us_compute_growth``-fold a year; no US buyers are modelled)."""
    return p.us_compute_2026_h100e * fm.power(p.us_compute_growth, years_since_2026(quarter))


def frontier_gap(model: "ChipMarketModel") -> float:
    """FLOP-based H100e of the best chip China can buy legally (a licensed buyer under the US rule in
    force, or any released domestic chip) over the best released US chip's."""
    cat = model.catalogue
    us_released = model.released & cat.is_us
    usable = model.us_legal_by_class[2] | (model.released & ~cat.is_us)
    if not us_released.any() or not usable.any():
        return 0.0
    return float(cat.flop_h100e[usable].max() / cat.flop_h100e[us_released].max())


def channel_shares(ledger: ComputeLedger, flop: np.ndarray, is_us: np.ndarray, new: bool = False
                   ) -> dict[str, float]:
    """The US share of China's installed compute (of this quarter's purchases with ``new``), FLOP-based,
    by channel, and the total over China's channels (0 where there is no compute)."""
    rows = (ledger.new_rows if new else ledger.stock_rows)[:len(CHINA_CHANNELS)]
    return _shares(*_row_sums(rows * flop, is_us))


def _row_sums(h100e: np.ndarray, is_us: np.ndarray) -> tuple[list[float], list[float]]:
    """(US part, total) of each row of a (channels x chips) table of H100e: each row's sums are the sums
    of that row on its own (numpy sums a contiguous row as a 1-d array; ``compress`` keeps rows
    contiguous, tests/test_fast_paths.py)."""
    us = np.add.reduce(h100e.compress(is_us, axis=1), axis=1)
    return us.tolist(), np.add.reduce(h100e, axis=1).tolist()


def _shares(parts: list[float], totals: list[float]) -> dict[str, float]:
    """``channel_shares`` from the US part and the total of each of China's channels, in order."""
    total = sum(totals)  # Python's sum (compensated since 3.12), as before
    shares = {c: (v / total if total > 0 else 0.0) for c, v in zip(CHINA_CHANNELS, parts, strict=True)}
    shares["total"] = total
    return shares


def compute(model: "ChipMarketModel") -> dict[str, float]:
    """Every model reporter for the quarter just cleared, by name, in ``model.reporter_names`` order.

    Reads the model's arrays and agents and writes nothing: the model keeps the result as
    ``model.reported`` (which the DataCollector and the UI read). Compute is FLOP-based H100e from the
    ledger of installed chips (``model.core.ledger``) unless a reporter says effective. A maker's China
    revenue is what it booked this quarter (``Chipmaker.book_sales``: the same sum of its chips' revenue)."""
    dev, cat, ledger = model.developers, model.catalogue, model.ledger
    us_mask, pairing = model.us_maker_mask, model.china_government.pairing
    # every channel's stock, then China's channels' new units (``CHANNELS`` order: China's channels first)
    china = len(CHINA_CHANNELS)
    h100e = np.concatenate((ledger.stock_rows, ledger.new_rows[:china])) * cat.flop_h100e
    parts, totals = _row_sums(h100e, cat.is_us)
    stock = _shares(parts[:china], totals[:china])
    new = _shares(parts[-china:], totals[-china:])
    in_china = stock["total"]
    offshore = sum(totals[china:-china])  # the channels abroad (Python's sum, as before)
    us_stack = stock["legal"] + stock["legacy"] + stock["grey"]
    with_offshore = in_china + offshore
    us_compute = us_compute_h100e(model.p, model.quarter)
    split = dev.budget_split
    makers = {m.name: m for m in model.chipmakers}
    leader = makers.get(DOMESTIC_LEADER)
    leader_cap = leader.capacity if leader is not None else 0.0
    revenue = model.chips_sold * model.china_price
    domestic_list = float((model.chips_sold * cat.price_usd)[~cat.is_us].sum())
    values = {
        "us_stack_share": us_stack,
        "us_share_new": new["legal"] + new["grey"],
        "developers_on_us_stack": developers_on_us_stack(dev.installed, us_mask),
        "us_share_legal": stock["legal"],
        "us_share_legacy": stock["legacy"],
        "us_share_grey": stock["grey"],
        "us_share_designed": (float(h100e[CHANNELS.index("legal")][cat.generated].sum()) / in_china
                              if in_china > 0 else 0.0),
        "china_to_us_compute_ratio": in_china / us_compute if us_compute > 0 else 0.0,
        "us_share_new_legal": new["legal"],
        "us_share_new_grey": new["grey"],
        "china_compute_h100e": in_china,
        "china_effective_compute_h100e": sum(np.add.reduce(ledger.stock_rows[:china] * model.perf,
                                                           axis=1).tolist()),
        "us_compute_h100e": us_compute,
        "frontier_gap": frontier_gap(model),
        "nvidia_china_revenue_usd": makers[US_LEADER].revenue_usd,
        "domestic_revenue_usd": float(revenue[~cat.is_us].sum()),
        "domestic_ecosystem": float(model.maturity[DOMESTIC]),
        "capability_gap_months": capability_gap_months(
            model.quarter, model.perf, cat.release, cat.is_us, china_best_chip(model)),
        "unmet_demand_h100e": float(dev.last_unmet.sum()) / USD_PER_H100E,
        "offshore_compute_h100e": offshore,
        "grey_compute_h100e": totals[CHANNELS.index("grey")],
        "grey_units": float(ledger.new["grey"].sum()),
        "us_stack_share_incl_offshore": ((us_stack * in_china + offshore) / with_offshore
                                         if with_offshore > 0 else 0.0),
        "budget_usd": split["budget"],
        "spent_china_usd": split["china"],
        "spent_offshore_usd": split["offshore"],
        "spent_grey_usd": split["grey"],
        "unspent_usd": split["unspent"],
        "nvidia_china_supply_units": makers[US_LEADER].china_supply_units,
        "huawei_output_cap_units": leader_cap if math.isfinite(leader_cap) else 0.0,
        "us_regime_code": float(US_REGIMES.index(model.us_government.regime)),
        "china_policy_code": float(CHINA_POLICIES.index(model.china_government.stance)),
        "china_pairing_ratio": 0.0 if pairing is None else pairing.ratio,
        "domestic_price_markup": (float(revenue[~cat.is_us].sum()) / domestic_list - 1.0
                                  if domestic_list > 0 else 0.0),
    }
    columns = _maker_columns(cat.makers)
    for maker in model.chipmakers:
        units, rev = columns[maker.name]
        values[units] = float(model.chips_sold[maker.chips].sum())
        values[rev] = maker.revenue_usd
    return {name: values[name] for name in model.reporter_names}


_COLUMNS: dict[int, tuple] = {}  # id(makers) -> (makers, maker_columns(makers))


def _maker_columns(makers: tuple[Maker, ...]) -> dict[str, tuple[str, str]]:
    """``maker_columns(makers)``, kept per makers tuple (by identity: hashing the makers is the cost)."""
    kept = _COLUMNS.get(id(makers))
    if kept is None or kept[0] is not makers:
        if len(_COLUMNS) > 16:
            _COLUMNS.clear()
        kept = _COLUMNS[id(makers)] = (makers, maker_columns(makers))
    return kept[1]


def zeros(names: tuple[str, ...] = MODEL_REPORTERS) -> dict[str, float]:
    """Every model reporter at 0.0: ``model.reported`` before the first quarter is cleared."""
    return dict.fromkeys(names, 0.0)


@cache
def reading(name: str) -> partial:
    """A DataCollector model reporter that reads ``model.reported[name]`` (a ``functools.partial``:
    Mesa calls a partial with the model, and unlike a lambda it pickles; one per name, shared)."""
    return partial(_read, name)


def _read(name: str, model: "ChipMarketModel") -> float:
    return model.reported[name]


def is_reading(reporter) -> bool:
    """Whether a DataCollector model reporter is ``reading(name)``."""
    return isinstance(reporter, partial) and reporter.func is _read


class ReportedCollector(mesa.DataCollector):
    """The model's DataCollector. Its model reporters are ``reading``s of ``model.reported``; it
    appends that dict's values directly instead of calling and deep-copying each reporter (floats need
    no copy: Mesa's per-reporter path was ~5% of a 300-developer run). Any other model reporter, the
    agent-type reporters and the tables work as in Mesa; ``add_table_rows`` adds several rows at once."""

    _readings: tuple = (None, None)  # (model_reporters, its readings {name: key}) of the last collect

    def collect(self, model) -> None:
        everything = self.model_reporters
        if self._readings[0] is not everything:
            keys = {name: r.args[0] for name, r in everything.items() if is_reading(r)}
            self._readings = (everything, keys)
        readings = self._readings[1]
        for name, key in readings.items():
            self.model_vars[name].append(model.reported[key])
        self.model_reporters = {name: r for name, r in everything.items() if name not in readings}
        try:
            if readings and not self.model_reporters:  # Mesa notes the time only with model reporters
                self._collection_steps.append(model.time)
            super().collect(model)  # the other model reporters, agent(-type) reporters
        finally:
            self.model_reporters = everything

    def add_table_rows(self, table_name: str, columns: dict[str, list]) -> None:
        """Add rows to a table from one list per column (every column of the table, equal lengths)."""
        table = self.tables[table_name]
        if set(columns) != set(table) or len({len(v) for v in columns.values()}) > 1:
            raise ValueError(f"table {table_name!r}: give every column ({', '.join(table)}), "
                             "all of the same length")
        for column, values in table.items():
            values.extend(columns[column])
