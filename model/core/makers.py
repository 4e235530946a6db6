"""Chipmakers as Mesa agents: US makers and domestic makers, two agent types with their own rules.

A **US maker** (Nvidia, AMD) designs China parts to the US rule (``design_to_rule``), and decides its
China supply of each product and its price (ODD §7.5: ``receive_production``, ``expect_orders``,
``plan_china_production``, ``price_by_scarcity``). Its state
is its rows of the ``ChinaSupply`` table (one row per chip; each maker's chips are contiguous, so a
maker's rows are views it alone writes, as in mesa-frames). A **domestic maker** (Huawei, Cambricon,
...) has output bound by foundry capacity and its share of China's HBM (``set_capacity``, then
``HBMPool.allocate``), grows capacity with the revenue it reinvests and paces its roadmap with R&D
(``pace_roadmap``). The rules are pure functions in ``model.core.supply``; sources in docs/SOURCES.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import mesa
import numpy as np

from model.core import fixedmath as fm
from model.core import supply
from model.core.catalogue import ECOSYSTEMS, NEVER, ROADMAP_FROM, CatalogueArrays
from model.core.policy import DESIGN_TRACKS, H20_ERA_CAPS, design_caps
from model.core.population import demand_factor
from model.core.quarters import parse_quarter, years_since_2026

if TYPE_CHECKING:  # pragma: no cover
    from model.core.chip_market import ChipMarketModel

#: Most quarters by which R&D can pull a domestic chip forward or push it back (ASSUMPTION).
MAX_ROADMAP_SHIFT = 4
#: HBM binds domestic output from this quarter on (the 2024 stockpile covered 2024-25 output, §B1 M).
HBM_FROM = parse_quarter("2026Q1")
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


class USChipmaker(Chipmaker):
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

    def step(self) -> None:
        self.design_to_rule()
        self.receive_production()
        self.expect_orders()
        self.plan_china_production()
        self.price_by_scarcity()

    def design_to_rule(self) -> None:
        """From 2026 (earlier China parts are the catalogue's), for each set of caps the rule in force has
        (``policy.design_caps``: under 'threshold' a licensed product and a China part, under 'h20' a China
        part), ``design_track``. Off with ``design_to_rule`` = false."""
        m = self.model
        if not m.p.design_to_rule or m.quarter < ROADMAP_FROM:
            return
        caps = design_caps(m.us_government.rule)
        to_anyone, to_licensed = m.us_government.exportable()
        sale = m.on_sale(to_licensed)  # once for both tracks: what is on sale this quarter
        arrays, state = (sale, to_anyone, to_licensed), self.design_state(caps)  # (see design_state)
        quiet = self._quiet
        if quiet is not None and state == quiet[1] and all(a is b for a, b in zip(arrays, quiet[0])):
            return
        for track in DESIGN_TRACKS:
            self.design_track(track, caps.get(track), sale)
        unchanged = not self.in_design and self.design_state(caps) == state
        self._quiet = (arrays, state) if unchanged and not any(a.flags.writeable for a in arrays) else None

    def design_state(self, caps: dict) -> tuple:
        """What the tracks read besides the rule's arrays and the sale (read-only, one array per contents):
        a quarter that changed nothing (no part under way) is followed by another while all stay the same."""
        m, r = self.model, self.rows
        return (caps, m.release[r].tobytes(), m.released[r].tobytes(), tuple(self.designed_for.items()),
                tuple(self.in_design))

    def design_track(self, track: str, caps: tuple[float, float] | None, sale: np.ndarray) -> None:
        """When ``caps`` differ from those its last part on this track answered, or its best part China may
        buy on this track falls behind the best domestic chip on sale, it designs a part just under the caps
        (``supply.part_under_caps``, cut from its newest chip) if that part beats its best one, released
        ``design_lead_quarters`` later. A design whose caps change before release is dropped, its caps
        count as unanswered, and the new caps (if any) are answered."""
        m, p = self.model, self.model.p
        if track in self.in_design:
            slot, aimed, ready = self.in_design[track]
            if m.quarter >= ready:
                del self.in_design[track]  # released
            elif caps == aimed:
                return
            else:
                del self.in_design[track]
                self.designed_for[track] = None  # no part answers the caps it aimed at (again if back)
                m.place_design(slot, None, -1, NEVER)
        slot = self.free_slot()
        if caps is None or slot < 0:
            return
        best = self.best_china_perf(track, sale)
        if caps == self.designed_for[track] and best >= self.best_domestic_perf(sale):
            return
        self.designed_for[track] = caps
        parent = self.parent_chip()
        if parent < 0:
            return
        part = supply.part_under_caps(caps, p.design_margin, *(float(a[parent]) for a in (
            m.catalogue.flop_h100e, m.catalogue.mem_bw_gbs, m.catalogue.price_usd, m.catalogue.perf_paper)))
        if part[2] <= best:
            return
        ready = m.quarter + p.design_lead_quarters
        m.place_design(slot, part, parent, ready, china_part=track == "china_part")
        self.in_design[track] = (slot, caps, ready)

    def best_china_perf(self, track: str, sale: np.ndarray) -> float:
        """Performance index of its best part on sale (``sale``) that China may buy on ``track`` (0:
        none): any part the rule lets a licensed buyer take ('licensed'), or one any buyer may take
        ('china_part')."""
        to_anyone, to_licensed = self.model.us_government.exportable()
        r = self.rows
        ok = sale[r] & (to_anyone[r] | to_licensed[r] if track == "licensed" else to_anyone[r])
        return float(self.model.perf[r][ok].max()) if ok.any() else 0.0

    def best_domestic_perf(self, sale: np.ndarray) -> float:
        """Effective performance of the best domestic chip on sale (``sale``; 0: none)."""
        m = self.model
        ok = sale & ~m.catalogue.is_us
        return float(m.perf[ok].max()) if ok.any() else 0.0

    def free_slot(self) -> int:
        """Its first empty design slot (a generated column never released), or -1 when all are used."""
        release = self.model.release
        return next((j for j in self.slots if release[j] == NEVER), -1)

    def parent_chip(self) -> int:
        """Its newest released chip that is not a China part (a designed part is cut from it), or -1."""
        released, release = self.model.released, self.model.release
        best = -1
        for j in self.parents:  # the first of the newest, as argmax
            if released[j] and (best < 0 or release[j] > release[best]):
                best = j
        return best

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
        products it may not sell to China or will no longer make."""
        t, r, m = self.table, self.rows, self.model
        may_sell, sellable_max = m.china_sellable()
        t.production[r] = supply.plan_production(t.expected_orders[r], t.stock[r], sellable_max[r],
                                                 t.limit[r],
                                                 may_sell[r], 1.0 - m.p.us_reversal_prob)

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
        self.set_capacity()
        self.pace_roadmap()

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
