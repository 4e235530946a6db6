"""chipstack's agents: the two governments, the chipmakers and the AI developers.

Each agent type's rules are short methods named as in docs/ODD.md §7 (submodels). Governments and
chipmakers are few and step one by one. AI developers are many: their quarterly decisions are made
for the whole population at once in ``ChipMarketModel.developers_buy`` (numpy over the arrays of
``model.core.population``); each ``AIDeveloper`` is a view of its own row of those arrays, so nothing is
copied into agents each quarter and the UI and DataCollector still see agents.

Sources for every rule and number: docs/SOURCES.md (sections cited inline) via ``model.core.parameters``
and ``model.core.catalogue``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from model.core import fixedmath as fm
from model.core import supply
from model.core.catalogue import DOMESTIC, ECOSYSTEMS
from model.core.policy import (
    china_allows_us,
    guidance_applies,
    scheduled_value,
    split_regime,
    tighten_china,
    tighten_us,
    us_exportable,
)
from model.core.population import SEGMENTS
from model.core.quarters import years_since_2026

if TYPE_CHECKING:  # pragma: no cover
    from model.core.chip_market import ChipMarketModel

#: Domestic coverage of demand at which an adaptive Beijing tightens to discourage / restrict / ban
#: (ASSUMPTION; reported localisation target 55% by 2027, SOURCES §C2, L).
ADAPTIVE_THRESHOLDS = {"discourage": 0.3, "restrict": 0.5, "ban": 0.8}
#: Most quarters by which R&D can pull a domestic chip forward or push it back (ASSUMPTION).
MAX_ROADMAP_SHIFT = 4


class USGovernment(mesa.Agent):
    """Sets the US export rule each quarter: dated schedule first, then (``us_adaptive``) the TPP cap
    that tracks the best domestic chip, then a chance of reversal. Its rules say which chips may be
    exported to whom (``exportable``) and what the US takes of each sale (``levy``)."""

    def __init__(self, model: ChipMarketModel, regime: str, schedule: list[tuple[int, str]]):
        super().__init__(model)
        self.regime, cap = split_regime(regime)
        self.tpp_cap = float(model.export_tpp_cap) if cap is None else cap
        self.schedule = schedule
        self.reversals = 0

    def step(self) -> None:
        self.apply_schedule()
        if self.model.us_adaptive and self.model.quarter % 4 == 0:
            self.track_domestic_frontier()
        self.maybe_reverse()

    def apply_schedule(self) -> None:
        value = scheduled_value(self.schedule, self.model.quarter)
        if value is not None:
            self.regime, cap = split_regime(value)
            if cap is not None:
                self.tpp_cap = cap

    def track_domestic_frontier(self) -> None:
        """Each year's first quarter: TPP cap = margin x TPP of the best domestic chip on sale."""
        m = self.model
        domestic = m.on_sale() & ~m.catalogue.is_us
        if domestic.any():
            self.tpp_cap = m.us_adaptive_margin * float(m.catalogue.tpp[domestic].max())

    def exportable(self) -> tuple[np.ndarray, np.ndarray]:
        """(to_anyone, to_licensed) over the catalogue's chips under the rule in force."""
        m, cat = self.model, self.model.catalogue
        return us_exportable(self.regime, m.quarter, cat.release, cat.china_part, cat.compliant_until,
                             m.export_lag_months, cat.tpp, cat.mem_bw_gbs, self.tpp_cap, m.export_bw_cap_gbs)

    def levy(self) -> np.ndarray:
        """Share of each chip's China revenue the US takes: ``china_part_revenue_share`` on China
        parts (15%, Aug 2025), ``us_revenue_share`` on licensed chips (25%, Jan 2026); none under
        'open' and none on domestic chips."""
        m, cat = self.model, self.model.catalogue
        if self.regime == "open":
            return np.zeros(len(cat.names))
        rate = np.where(cat.china_part, m.china_part_revenue_share, m.us_revenue_share)
        return np.where(cat.is_us, rate, 0.0)

    @property
    def volume_capped(self) -> bool:
        """Whether licensed products are held to ``us_volume_cap_share`` of their US units."""
        return self.regime in ("threshold", "lagged")

    def maybe_reverse(self) -> None:
        """With probability ``us_reversal_prob`` tighten one level (the draw is made every quarter,
        so the random stream does not depend on the regime or on ``realize_reversals``)."""
        draw = self.model.rng.random()
        if not self.model.realize_reversals:
            return
        if draw < self.model.us_reversal_prob and self.regime != "ban":
            self.regime = tighten_us(self.regime)
            self.reversals += 1

    @property
    def supply_cut_risk(self) -> float:
        """Probability developers assign to losing US supply within their planning horizon."""
        if self.regime == "ban":
            return 0.0
        p = self.model.us_reversal_prob
        return 1.0 - fm.power(1.0 - p, self.model.risk_horizon_quarters)



class ChinaGovernment(mesa.Agent):
    """Sets Beijing's import stance: dated schedule, then (optionally) the adaptive rule."""

    def __init__(self, model: ChipMarketModel, stance: str, schedule: list[tuple[int, str]]):
        super().__init__(model)
        self.stance = stance
        self.schedule = schedule
        self.domestic_coverage = 0.0

    def step(self) -> None:
        self.apply_schedule()
        if self.model.china_adaptive:
            self.tighten_as_supply_grows()

    def apply_schedule(self) -> None:
        value = scheduled_value(self.schedule, self.model.quarter)
        if value is not None:
            self.stance = value

    def tighten_as_supply_grows(self) -> None:
        """Tighten one level when domestic capacity covers the next threshold share of demand."""
        self.domestic_coverage = self.model.domestic_coverage()
        nxt = tighten_china(self.stance)
        if nxt != self.stance and self.domestic_coverage >= ADAPTIVE_THRESHOLDS[nxt]:
            self.stance = nxt

    @property
    def guidance_on(self) -> bool:
        return guidance_applies(self.stance)

    def allows_us(self) -> np.ndarray:
        """Which developers Beijing lets buy US chips (boolean per developer)."""
        dev = self.model.developers
        return china_allows_us(self.stance, dev.state_affiliated, dev.china_approved,
                               self.model.state_mandate)

    def pressure(self) -> np.ndarray:
        """(n x E) utility penalty on the US ecosystems: state-affiliated developers' standing
        preference for domestic chips, plus Beijing's window guidance when it is in force."""
        m, dev = self.model, self.model.developers
        per_dev = np.where(dev.state_affiliated, m.state_domestic_preference, 0.0)
        if self.guidance_on:
            per_dev = per_dev + m.guidance_penalty * np.where(dev.state_affiliated,
                                                              m.state_guidance_multiplier, 1.0)
        pressure = np.zeros((dev.n, len(ECOSYSTEMS)), order="F")
        pressure[:, :DOMESTIC] = per_dev[:, None]
        return pressure

    def pairing_cost(self, buyer_cost: np.ndarray, perf: np.ndarray, on_sale: np.ndarray) -> np.ndarray:
        """Extra cost per US chip of the domestic compute a buyer must pair with it
        (``domestic_pairing_ratio`` x its H100e x the cheapest domestic cost per H100e on sale)."""
        m, cat = self.model, self.model.catalogue
        domestic = on_sale & ~cat.is_us
        if m.domestic_pairing_ratio <= 0 or not domestic.any():
            return np.zeros(len(cat.names))
        per_h100e = float((buyer_cost[domestic] / perf[domestic]).min())
        return np.where(cat.is_us, m.domestic_pairing_ratio * perf * per_h100e, 0.0)


class Chipmaker(mesa.Agent):
    """A chip firm. US makers decide their China supply of each product and its price (``receive_production``,
    ``expect_orders``, ``plan_china_production``, ``price_by_scarcity``); domestic makers' output is bound by
    foundry capacity and HBM (``set_capacity``, then the model's ``allocate_hbm``), grows with the revenue
    they reinvest, and R&D paces their roadmap (``pace_roadmap``). Rules: ``model.core.supply``, ODD 7.5."""

    def __init__(self, model: ChipMarketModel, index: int, capacity_2026: float | None,
                 revenue_2026_usd: float):
        super().__init__(model)
        self.index = index
        self.name = model.catalogue.maker_names[index]
        self.ecosystem = ECOSYSTEMS[model.catalogue.ecosystem_of_maker[index]]
        self.is_domestic = model.catalogue.ecosystem_of_maker[index] == DOMESTIC
        self.products = model.catalogue.maker_of_chip == index  # (J,) its chips
        self.hbm_stacks_per_chip = float(model.catalogue.hbm_stacks_per_chip[index])
        self.capacity_2026 = capacity_2026
        self.revenue_2026_usd = revenue_2026_usd
        self.foundry_capacity = math.inf  # chips this quarter (domestic)
        self.hbm_ceiling = math.inf  # chips this quarter that its HBM allows (domestic)
        self.capacity = math.inf  # chips this quarter: the smaller of the two
        self.added_capacity = 0.0  # chips per quarter bought with reinvested revenue
        self.revenue_usd = 0.0  # this quarter
        self.cumulative_revenue_usd = 0.0
        self.cumulative_reference_usd = 0.0
        self.roadmap_shift = 0  # quarters the roadmap runs ahead (+) or behind (-) plan

    def step(self) -> None:
        if self.is_domestic:
            self.set_capacity()
            self.pace_roadmap()
        else:
            self.receive_production()
            self.expect_orders()
            self.plan_china_production()
            self.price_by_scarcity()

    # --- US makers: China supply and price -----------------------------------------------------
    def receive_production(self) -> None:
        """Last quarter's China production joins the China stock; a product whose production ends this
        quarter is left with its sourced end-of-production stock (the catalogue's ``stock_units``)."""
        m, mine, cat = self.model, self.products, self.model.catalogue
        m.china_stock[mine] += m.china_production[mine]
        m.china_production[mine] = 0.0
        ending = mine & (cat.end_of_production == m.quarter)
        m.china_stock[ending] = cat.stock_units[ending]

    def expect_orders(self) -> None:
        """Expected China orders of each product: smoothed orders seen last quarter; a product it could
        not deliver last quarter is expected at its production limit (the maker launches it)."""
        m, mine = self.model, self.products
        m.expected_orders[mine] = supply.expect_orders(
            m.expected_orders[mine], m.last_orders[mine], m.last_supply[mine] > 0,
            m.production_limit[mine], m.maker_order_smoothing)

    def plan_china_production(self) -> None:
        """Next quarter's China production: expected orders it may ship (at most the volume cap) minus
        the stock it will still hold, within its limit, times the chance the rule holds; nothing for
        products it may not sell to China or will no longer make."""
        m, mine = self.model, self.products
        may_sell, sellable_max = m.china_sellable()
        m.china_production[mine] = supply.plan_production(
            m.expected_orders[mine], m.china_stock[mine], sellable_max[mine], m.production_limit[mine],
            may_sell[mine], 1.0 - m.us_reversal_prob)

    def price_by_scarcity(self) -> None:
        """Share of the US levy passed on: ``revenue_passthrough`` x last quarter's scarcity."""
        m, mine = self.model, self.products
        m.scarcity[mine] = supply.scarcity(m.last_orders[mine], m.last_supply[mine])

    @property
    def china_supply_units(self) -> float:
        """Units it can deliver to China this quarter (stock of its products on sale to China, as offered
        to this quarter's clearing: ``last_supply``, not the stock left after the quarter's sales)."""
        m = self.model
        return float(m.last_supply[self.products & m.sellable_now].sum())

    # --- domestic makers -----------------------------------------------------------------------
    def supply_group(self) -> tuple[np.ndarray, float] | None:
        """(its chips, units it can deliver this quarter), or None when its capacity does not bind."""
        if not math.isfinite(self.capacity):
            return None
        return self.products, self.capacity

    def set_capacity(self) -> None:
        """Foundry capacity: the 2026 level growing at ``domestic_capacity_growth`` per year, plus what
        reinvested revenue bought; ``allocate_hbm`` then bounds it by HBM."""
        if self.capacity_2026 is None:
            self.foundry_capacity = self.capacity = math.inf
            return
        growth = fm.power(1.0 + self.model.domestic_capacity_growth, years_since_2026(self.model.quarter))
        self.foundry_capacity = self.capacity_2026 / 4.0 * growth + self.added_capacity
        self.hbm_ceiling = math.inf
        self.capacity = self.foundry_capacity

    def bound_by_hbm(self, ceiling: float) -> None:
        """This quarter's output is the smaller of foundry capacity and the HBM ceiling."""
        self.hbm_ceiling = ceiling
        self.capacity = min(self.foundry_capacity, ceiling)

    def pace_roadmap(self) -> None:
        """R&D funded by revenue above (below) the roadmap's plan brings chips earlier (later)."""
        extra = self.cumulative_revenue_usd - self.cumulative_reference_usd
        shift = math.floor(extra * self.model.rd_share / self.model.rd_speedup_cost_usd)
        self.roadmap_shift = int(max(-MAX_ROADMAP_SHIFT, min(MAX_ROADMAP_SHIFT, shift)))
        self.model.reschedule_releases(self.index, self.roadmap_shift)

    def book_sales(self, revenue_usd: float) -> None:
        """Record this quarter's revenue and the revenue the planned roadmap assumed; a domestic maker
        reinvests ``capacity_reinvest_share`` of revenue above plan in foundry capacity."""
        self.revenue_usd = revenue_usd
        growth = fm.power(1.0 + self.model.demand_growth, years_since_2026(self.model.quarter))
        reference = self.revenue_2026_usd / 4.0 * growth
        self.cumulative_revenue_usd += revenue_usd
        self.cumulative_reference_usd += reference
        if self.is_domestic and revenue_usd > reference:
            self.invest_in_capacity(revenue_usd - reference)

    def invest_in_capacity(self, surplus_usd: float) -> None:
        """Capacity bought: surplus x ``capacity_reinvest_share`` / ``capacity_cost_usd`` chips a year."""
        m = self.model
        self.added_capacity += surplus_usd * m.capacity_reinvest_share / m.capacity_cost_usd / 4.0

    @property
    def installed_h100e(self) -> float:
        """H100e of this maker's chips installed in China (for the UI)."""
        return float(self.model.developers.installed[:, self.index].sum())


class AIDeveloper(mesa.Agent):
    """A Chinese AI developer. Its state is row ``index`` of ``model.developers``; its purchases
    are decided for the whole population at once by ``ChipMarketModel.developers_buy``."""

    def __init__(self, model: ChipMarketModel, index: int):
        super().__init__(model)
        self.index = index

    @property
    def segment(self) -> str:
        return SEGMENTS[self.model.developers.segment[self.index]]

    @property
    def licensed(self) -> bool:
        return bool(self.model.developers.licensed[self.index])

    @property
    def china_approved(self) -> bool:
        return bool(self.model.developers.china_approved[self.index])

    @property
    def us_compute_h100e(self) -> float:
        row = self.model.developers.installed[self.index]
        return float(row[self.model.us_maker_mask].sum())

    @property
    def domestic_compute_h100e(self) -> float:
        row = self.model.developers.installed[self.index]
        return float(row[~self.model.us_maker_mask].sum())

    @property
    def offshore_compute_h100e(self) -> float:
        return float(self.model.developers.installed_offshore[self.index].sum())


