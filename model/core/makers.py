"""Chipmakers as Mesa agents: US makers and domestic makers, two agent types with their own rules.

A **US maker** (Nvidia, AMD) designs China parts to the US rule (``design_to_rule``), and decides its
China supply of each product and its price (ODD §7.5: ``receive_production``, ``expect_orders``,
``plan_china_production``, ``price_by_scarcity``). Its state
is its rows of the ``ChinaSupply`` table (one row per chip; each maker's chips are contiguous, so a
maker's rows are views it alone writes, as in mesa-frames). A **domestic maker** (Huawei, Cambricon,
...) has output bound by foundry capacity and its share of China's HBM (``set_capacity``, then
``HBMPool.allocate``), prices by excess demand from 2026 (``price_by_excess_demand``), grows capacity
with the revenue it reinvests and paces its roadmap with R&D (``pace_roadmap``). The rules are pure
functions in ``model.core.supply``; sources in docs/SOURCES.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from model.core import fixedmath as fm
from model.core import supply
from model.core.catalogue import ECOSYSTEMS, NEVER, CatalogueArrays
from model.core.design import RuleDesigner
from model.core.policy import H20_ERA_CAPS
from model.core.population import demand_factor
from model.core.quarters import parse_quarter, years_since_2026

if TYPE_CHECKING:  # pragma: no cover
    from model.core.chip_market import ChipMarketModel

#: Most quarters by which R&D can pull a domestic chip forward or push it back (ASSUMPTION).
MAX_ROADMAP_SHIFT = 4
#: HBM binds domestic output from this quarter on (the 2024 stockpile covered 2024-25 output, §B1 M).
HBM_FROM = parse_quarter("2026Q1")
#: Domestic makers price by excess demand after this quarter (before, their prices are the record's).
PRICE_FROM = parse_quarter("2026Q1")
#: Stock below this many units counts as sold out (the clearing's round-off, a few ulps of the stock).
STOCK_SOLD_OUT = 1e-6


def foundry_path(capacity_2026: float, output_2025: float, growth: float, quarter: int) -> float:
    """A domestic maker's foundry output for China in ``quarter`` (chips), before capacity bought with
    reinvested revenue: from 2026 its 2026 level (``capacity_2026`` a year) growing at ``growth`` a year;
    before 2026 its sourced 2025 output (``Capacity.output_2025``) on the same growth path, the four
    quarters of 2025 summing to it, or without one the 2026 level backcast at ``growth``."""
    years = years_since_2026(quarter)
    if years < 0.0 and output_2025 > 0.0:
        year_2025 = sum(fm.power(1.0 + growth, k / 4.0) for k in range(4))
        return output_2025 * fm.power(1.0 + growth, years + 1.0) / year_2025
    return capacity_2026 / 4.0 * fm.power(1.0 + growth, years)


@dataclass
class ChinaSupply:
    """The US makers' China supply, one row per chip: units in stock for China, units in production for
    next quarter, expected and last orders, the supply offered to the last clearing, scarcity and the
    most a maker can make for China a quarter. Each US maker writes its own rows."""

    stock: np.ndarray
    production: np.ndarray
    expected_orders: np.ndarray
    last_orders: np.ndarray
    last_supply: np.ndarray
    scarcity: np.ndarray
    limit: np.ndarray

    @classmethod
    def start(cls, cat: CatalogueArrays, us_china_production_share: float,
              sold_from_stock: np.ndarray) -> ChinaSupply:
        """The supply at the start: each chip's stock less what the backcast already sold out of it
        (``History.from_stock``: what was sold before the run is not for sale again)."""
        n = len(cat.names)
        limit = supply.china_production_limit(cat.is_us, cat.china_part, cat.us_units_per_quarter,
                                              cat.china_units_per_quarter, us_china_production_share)
        stock = np.maximum(cat.stock_units - sold_from_stock, 0.0)
        return cls(stock, np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n), limit)

    def first_production(self, may_sell: np.ndarray) -> None:
        """What makers may sell in the first quarter arrives in it, and is what they expect to sell."""
        self.production = np.where(may_sell, self.limit, 0.0)
        self.expected_orders = self.production.copy()

    def sell(self, stocked: np.ndarray, chips_sold: np.ndarray) -> None:
        """Stocked products lose the units sold (round-off below ``STOCK_SOLD_OUT`` is sold out)."""
        left = self.stock - np.where(stocked, chips_sold, 0.0)
        left[left < STOCK_SOLD_OUT] = 0.0  # a clearing that exhausted the stock may leave round-off
        self.stock[:] = np.where(stocked, left, self.stock)


class Chipmaker(mesa.Agent):
    """A chip firm: its products, and the revenue it books each quarter against the revenue its
    planned roadmap assumed. ``USChipmaker`` and ``DomesticChipmaker`` add their own rules."""

    def __init__(self, model: ChipMarketModel, index: int):
        super().__init__(model)
        cat = model.catalogue
        self.index = index
        self.spec = cat.makers[index]
        self.name = self.spec.name
        self.ecosystem = ECOSYSTEMS[cat.ecosystem_of_maker[index]]
        self.products = cat.maker_of_chip == index  # (J,) its chips
        rows = np.flatnonzero(self.products)
        #: its chips as a slice when they are contiguous in the catalogue (the same elements, in order, as
        #: ``products`` selects, without a gather; empty for a maker without chips), else ``products``
        self.chips = self.products
        if rows.size == 0 or rows[-1] - rows[0] + 1 == rows.size:
            self.chips = slice(int(rows[0]), int(rows[-1]) + 1) if rows.size else slice(0, 0)
        self.revenue_usd = 0.0  # this quarter
        self.cumulative_revenue_usd = 0.0
        self.cumulative_reference_usd = 0.0

    is_domestic = False
    markup = 0.0  # share over its list price it charges in China (a domestic maker's rule moves it)

    def book_sales(self, revenue_usd: float) -> float:
        """Record this quarter's revenue and the revenue the planned roadmap assumed; returns the
        revenue above plan (negative: below)."""
        self.revenue_usd = revenue_usd
        reference = self.spec.revenue_2026_usd / 4.0 * demand_factor(self.model.p, self.model.quarter)
        self.cumulative_revenue_usd += revenue_usd
        self.cumulative_reference_usd += reference
        return revenue_usd - reference

    def supply_group(self) -> tuple[np.ndarray, float] | None:
        """(its chips, units it can deliver this quarter) when one limit binds all of them, else None."""
        return None


class USChipmaker(RuleDesigner, Chipmaker):
    """A US maker: decides each product's China supply and its price (ODD §7.5)."""

    def __init__(self, model: ChipMarketModel, index: int, table: ChinaSupply):
        super().__init__(model, index)
        if not isinstance(self.chips, slice):
            raise ValueError(f"catalogue: {self.name}'s chips must be contiguous")
        self.rows = self.chips  # its rows of the ChinaSupply table
        self.table = table
        cat = model.catalogue
        self.last_quarters = frozenset(cat.end_of_production[self.rows].tolist())
        rows = range(self.rows.start, self.rows.stop)
        #: its design slots, and the chips a part may be cut from (``with_design`` changes neither)
        self.slots = [j for j in rows if cat.generated[j]]
        self.parents = [j for j in rows if not (cat.china_part[j] or cat.generated[j])]
        self._quiet: tuple | None = None  # what design_to_rule read in a quarter in which it changed nothing
        #: per design track, the caps its last part answered: its sourced China parts answered the h20-era
        #: rules; no licensed product was designed to a cap before 2026
        self.designed_for: dict[str, tuple[float, float] | None] = {"licensed": None,
                                                                    "china_part": H20_ERA_CAPS}
        self.in_design: dict[str, tuple[int, tuple[float, float], int]] = {}  # track -> (slot, caps, release)
        n = int(self.products.sum())
        #: per product (its rows), its China line: running (made for China), halted (stopped while it ran,
        #: restarts at ``restart_at``), or idle (never run: launched when it may be sold)
        # a released product with a China stock at the start was being made for China (the H200's ~700k)
        self.running = (table.stock[self.rows] > 0) & (model.catalogue.release[self.rows] <= model.start)
        self.halted = np.zeros(n, dtype=bool)
        self.restart_at = np.full(n, NEVER)

    def step(self) -> None:
        self.design_to_rule()
        self.receive_production()
        self.expect_orders()
        self.plan_china_production()
        self.price_by_scarcity()

    def receive_production(self) -> None:
        """Last quarter's China production joins the China stock; a product whose production ends this
        quarter is left with its sourced end-of-production stock (the catalogue's ``stock_units``)."""
        t, r, cat = self.table, self.rows, self.model.catalogue
        t.stock[r] += t.production[r]
        t.production[r] = 0.0
        if self.model.quarter in self.last_quarters:  # a product's production ends this quarter
            ending = cat.end_of_production[r] == self.model.quarter
            t.stock[r][ending] = cat.stock_units[r][ending]

    def expect_orders(self) -> None:
        """Expected China orders of each product: smoothed orders seen last quarter; a product it could
        not deliver last quarter is expected at its production limit (the maker launches it)."""
        t, r = self.table, self.rows
        t.expected_orders[r] = supply.expect_orders(t.expected_orders[r], t.last_orders[r],
                                                    t.last_supply[r] > 0, t.limit[r],
                                                    self.model.p.maker_order_smoothing)

    def plan_china_production(self) -> None:
        """Next quarter's China production: expected orders it may ship (at most the volume cap) minus
        the stock it will still hold, within its limit, times the chance the rule holds; nothing for
        products it may not sell to China or will no longer make, and (``makers_weigh_margin``) nothing
        for a line that does not pay or is halted (``run_lines``)."""
        t, r, m = self.table, self.rows, self.model
        may_sell, sellable_max = m.china_sellable()
        make = may_sell[r]
        if m.p.makers_weigh_margin:  # the rule's permission, not the licence pipeline, keeps a line going
            to_anyone, to_licensed = m.us_government.exportable()
            permitted = (to_anyone | to_licensed)[r] & (m.quarter + 1 < m.catalogue.end_of_production[r])
            make = make & self.run_lines(permitted & self.worth_making())
        t.production[r] = supply.plan_production(t.expected_orders[r], t.stock[r], sellable_max[r],
                                                 t.limit[r], make, 1.0 - m.p.us_reversal_prob)

    def worth_making(self) -> np.ndarray:
        """(its products) whether a unit made now for China pays: (1 - risk) x margin >= risk x cost, with
        cost = list price x (1 - its gross margin), margin = its China price x (1 - the US levy) - cost
        (the levy falls on it unless scarcity lets it pass some on), and risk the chance the unit cannot be
        sold: Beijing guides buyers away or blocks it (then 1: Nvidia halted the H20 line after Beijing's
        guidance, Aug 2025, §B3), else the US tightens (``us_reversal_prob``; 0 for a product that is not a
        China part under ``us_prepayment``: paid in full at order, the buyer bears it)."""
        m, r = self.model, self.rows
        cost = m.catalogue.price_usd[r] * (1.0 - self.spec.gross_margin)
        margin = m.china_price[r] * (1.0 - m.us_government.levy()[r]) - cost
        stops = m.china_government.stops()[r]
        us_risk = np.where(m.p.us_prepayment & ~m.catalogue.china_part[r], 0.0, m.p.us_reversal_prob)
        risk = np.where(stops, 1.0, us_risk)
        return (1.0 - risk) * margin >= risk * cost

    def run_lines(self, ok: np.ndarray) -> np.ndarray:
        """(its products) which China lines run this quarter, given ``ok`` (it may sell the product and it
        pays): a running line that is not ok halts (``release_stock``); a halted line restarts
        ``maker_restart_quarters`` after it is ok again (new wafer starts and packaging; a lapse resets the
        clock); an idle line launches when ok."""
        q, wait = self.model.quarter, self.model.p.maker_restart_quarters
        halting = self.running & ~ok
        self.halted |= halting
        self.release_stock(halting)
        self.restart_at = np.where(self.halted & ok, np.minimum(self.restart_at, q + wait), NEVER)
        restart = self.halted & (q >= self.restart_at)
        self.halted &= ~restart
        self.running = ok & ~self.halted
        return self.running

    def release_stock(self, halting: np.ndarray) -> None:
        """A halted line's China stock of a product that is not a China part goes to other markets (the
        H200 sells to US buyers; Nvidia took a charge on H200 inventory as China demand fell, Aug 2026
        10-Q, H); a China part's stock has no other market and stays (the H20 after Apr 2025)."""
        t, r, cat = self.table, self.rows, self.model.catalogue
        t.stock[r] = np.where(halting & ~cat.china_part[r], 0.0, t.stock[r])

    def price_by_scarcity(self) -> None:
        """Share of the US levy passed on: ``revenue_passthrough`` x last quarter's scarcity."""
        t, r = self.table, self.rows
        t.scarcity[r] = supply.scarcity(t.last_orders[r], t.last_supply[r])

    @property
    def china_supply_units(self) -> float:
        """Units it can deliver to China this quarter (stock of its products on sale to China, as offered
        to this quarter's clearing: ``last_supply``, not the stock left after the quarter's sales)."""
        return float(self.table.last_supply[self.products & self.model.sellable_now].sum())


class DomesticChipmaker(Chipmaker):
    """A domestic maker: output bound by foundry capacity and HBM, capacity grown from reinvested
    revenue, and a roadmap paced by R&D (ODD §7.5)."""

    is_domestic = True

    def __init__(self, model: ChipMarketModel, index: int):
        super().__init__(model, index)
        c = self.spec.capacity  # its 2026 capacity, set by its own parameter (None: not binding)
        self.capacity_2026 = None if c is None else getattr(model.p, c.param, c.default)
        self.hbm_stacks_per_chip = float(self.spec.hbm_stacks_per_chip)
        self.foundry_capacity = math.inf  # chips this quarter
        self.hbm_ceiling = math.inf  # chips this quarter that its HBM allows
        self.capacity = math.inf  # chips this quarter: the smaller of the two
        self.added_capacity = 0.0  # chips per quarter bought with reinvested revenue
        self.roadmap_shift = 0  # quarters the roadmap runs ahead (+) or behind (-) plan

    def step(self) -> None:
        self.price_by_excess_demand()
        self.set_capacity()
        self.pace_roadmap()

    def price_by_excess_demand(self) -> None:
        """From the quarter after ``PRICE_FROM``: the markup over its list price moves by
        ``domestic_price_response`` x last quarter's excess demand for its chips (its orders against its
        output then, ``supply.excess_demand``), within 0 and ``domestic_markup_max``
        (``supply.markup_after``)."""
        m = self.model
        if m.quarter - 1 < PRICE_FROM:
            return
        orders = float(m.supply.last_orders[self.chips].sum())
        excess = supply.excess_demand(orders, self.capacity)  # self.capacity: still last quarter's
        self.markup = supply.markup_after(self.markup, m.p.domestic_price_response, excess,
                                          m.p.domestic_markup_max)

    def set_capacity(self) -> None:
        """Foundry capacity: its ``foundry_path`` (before 2026 its 2025 output, from 2026 its 2026 level,
        growing at ``domestic_capacity_growth`` a year), plus what reinvested revenue bought;
        ``HBMPool.allocate`` then bounds it by HBM."""
        if self.capacity_2026 is None:
            self.foundry_capacity = self.capacity = math.inf
            return
        self.foundry_capacity = foundry_path(self.capacity_2026, self.spec.capacity.output_2025,
                                             self.model.p.domestic_capacity_growth,
                                             self.model.quarter) + self.added_capacity
        self.hbm_ceiling = math.inf
        self.capacity = self.foundry_capacity

    def bound_by_hbm(self, ceiling: float) -> None:
        """This quarter's output is the smaller of foundry capacity and the HBM ceiling."""
        self.hbm_ceiling = ceiling
        self.capacity = min(self.foundry_capacity, ceiling)

    def supply_group(self) -> tuple[np.ndarray, float] | None:
        """(its chips, units it can deliver this quarter), or None when its capacity does not bind."""
        if not math.isfinite(self.capacity):
            return None
        return self.products, self.capacity

    def pace_roadmap(self) -> None:
        """R&D funded by revenue above (below) the roadmap's plan brings chips earlier (later)."""
        p = self.model.p
        extra = self.cumulative_revenue_usd - self.cumulative_reference_usd
        shift = math.floor(extra * p.rd_share / p.rd_speedup_cost_usd)
        shift = int(max(-MAX_ROADMAP_SHIFT, min(MAX_ROADMAP_SHIFT, shift)))
        if shift != self.roadmap_shift:  # the same shift again would move nothing
            self.roadmap_shift = shift
            self.model.reschedule_releases(self.index, shift)

    def book_sales(self, revenue_usd: float) -> float:
        """As every maker; from 2026 it also reinvests ``capacity_reinvest_share`` of revenue above plan
        (before 2026 its output is the record's path, ``foundry_path``, which any investment then made
        already shows)."""
        surplus = super().book_sales(revenue_usd)
        if surplus > 0 and years_since_2026(self.model.quarter) >= 0.0:
            self.invest_in_capacity(surplus)
        return surplus

    def invest_in_capacity(self, surplus_usd: float) -> None:
        """Capacity bought: surplus x ``capacity_reinvest_share`` / ``capacity_cost_usd`` chips a year."""
        p = self.model.p
        self.added_capacity += surplus_usd * p.capacity_reinvest_share / p.capacity_cost_usd / 4.0


class HBMPool:
    """China's HBM for domestic AI chips (stacks): the 2026Q1 stockpile plus domestic output, drawn over
    ``hbm_drawdown_quarters``; from ``HBM_FROM`` each domestic maker's output is bound by its share of
    the HBM usable in the quarter, and the chips sold use their stacks (ODD §7.5, §B1)."""

    def __init__(self, model: ChipMarketModel):
        self.model = model
        self.stock = float(model.p.hbm_stockpile_2026)  # stacks
        self.usable = math.inf  # stacks usable this quarter

    def allocate(self, makers: list[DomesticChipmaker]) -> None:
        """The stock / ``hbm_drawdown_quarters`` plus this quarter's domestic HBM output is usable; each
        domestic maker's output is bound by its share (``supply.hbm_ceilings``); the rest stays."""
        m, p = self.model, self.model.p
        if m.quarter < HBM_FROM:
            return
        flow = p.domestic_hbm_2026 / 4.0 * fm.power(1.0 + p.domestic_hbm_growth, years_since_2026(m.quarter))
        self.usable = self.stock / p.hbm_drawdown_quarters + flow
        self.stock += flow
        bound = [mk for mk in makers if math.isfinite(mk.foundry_capacity)]
        if not bound:
            return
        foundry = np.array([mk.foundry_capacity for mk in bound])
        stacks = np.array([mk.hbm_stacks_per_chip for mk in bound])
        for mk, ceiling in zip(bound, supply.hbm_ceilings(foundry, stacks, self.usable), strict=True):
            mk.bound_by_hbm(float(ceiling))

    def use(self, chips_sold: np.ndarray) -> None:
        """Domestic chips sold this quarter used their HBM stacks (from ``HBM_FROM``)."""
        m = self.model
        if m.quarter < HBM_FROM:
            return
        cat = m.catalogue
        stacks = cat.hbm_stacks_per_chip[cat.maker_of_chip]
        self.stock = max(0.0, self.stock - float((chips_sold * stacks)[~cat.is_us].sum()))
