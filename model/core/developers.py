"""The AI developers: a population that updates itself as a table, and a Mesa agent per row.

``Developers`` is the whole population as arrays (``model.core.population.DeveloperArrays``) with its
own quarterly step (``buy``, ODD §7.3-7.4, as mesa-frames does): every developer's ecosystem pull, access,
budget and choice are numpy operations over the population, the market in China is cleared for all at
once (``model.core.market``), and what it could not take goes to stockpiling, abroad, the grey market or
stays unspent (``model.core.channels``). ``AIDeveloper`` agents are views of one row each, so the UI and
the DataCollector still see agents and nothing is copied into them each quarter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING

import mesa
import numpy as np

from model.core import channels
from model.core.catalogue import SALE_QUARTERS
from model.core.choice import ChoiceWeights, ecosystem_pull
from model.core.market import Clearing, MarketOffer, chips_with_supply, clear_market
from model.core.population import (
    SEGMENTS,
    DeveloperArrays,
    demand_factor,
    install,
    installed_by_ecosystem,
    own_shares,
    quarterly_demand,
)
from model.core.quarters import parse_quarter, years_since_2026

if TYPE_CHECKING:  # pragma: no cover
    from model.core.chip_market import ChipMarketModel

#: Where a quarter's budget went (USD, all developers): the keys of ``Developers.budget_split``.
BUDGET_USES = ("budget", "china", "offshore", "grey", "unspent")


@dataclass
class Developers(DeveloperArrays):
    """The developer population with its quarterly rules (state: ``DeveloperArrays``; plus the licences
    drawn at the start and the last quarter's outcome; installed chips by channel are the model's ledger)."""

    licensed_by_share: np.ndarray = None  # (n,) licences handed out at the start (us_licence_allocation)
    last_grey_units: float = 0.0  # smuggled chips (of ``grey_chip``) that arrived this quarter
    last_grey_premium: float = 0.0  # the grey market's premium over list this quarter (channels.grey_market)
    last_offshore_units: float = 0.0  # chips (of ``frontier_chip``) bought for use abroad this quarter
    last_rented_units: float = 0.0  # chips (of ``frontier_chip``) rented abroad this quarter
    frontier_chip: int = -1  # the US chip bought abroad this quarter (channels.frontier_chip)
    grey_chip: int = -1  # the US chip smuggled this quarter (the frontier among chips grey_lag_quarters old)
    access_classes: np.ndarray = None  # (n,) this quarter's access class (ChinaGovernment.access_classes)
    budget_split: dict = field(default_factory=lambda: dict.fromkeys(BUDGET_USES, 0.0))

    @classmethod
    def from_arrays(cls, arrays: DeveloperArrays) -> Developers:
        dev = cls(**{f.name: getattr(arrays, f.name) for f in fields(DeveloperArrays)})
        dev.licensed_by_share = dev.licensed.copy()
        dev.access_classes = np.zeros(dev.n, dtype=np.intp)
        return dev

    # --- the quarter ---------------------------------------------------------------------------
    def buy(self, model: ChipMarketModel, offer: MarketOffer) -> Clearing:
        """All developers choose and buy at once from ``offer``; supply groups are rationed; then what
        the market in China could not take goes abroad, to the grey market, or stays unspent. Returns
        the clearing with this quarter's purchases (incl. stockpiling and grey chips) and units sold."""
        p, us, china = model.p, model.us_government, model.china_government
        by_eco = installed_by_ecosystem(self.installed + self.installed_offshore + self.rented_offshore,
                                        offer.catalogue.ecosystem_of_maker)
        own = own_shares(by_eco)
        peer = self.peers @ own if self.peers.nnz else np.zeros_like(own)  # scipy.sparse: no BLAS
        pull = ecosystem_pull(own, peer, self.taste, china.pressure(self.state_affiliated),
                              ChoiceWeights.of(p))
        self.licensed = us.apply_licences(self.licensed_by_share, self.base_demand)
        approved = china.approved(self.base_demand, self.state_affiliated, self.licensed, self.china_approved)
        classes = china.access_classes(self.state_affiliated, approved, self.licensed)
        pull.setflags(write=False)  # (the clearings keep what they derive from these by identity)
        classes.setflags(write=False)
        demand = self.budgets(model)
        frontier = self.frontier_budget(model, demand, classes, offer)
        result = clear_market(demand - frontier, pull, classes, offer)
        orders = result.orders
        ahead = self.stockpile(model, demand, result, (pull, classes, offer))
        purchases, chips_sold = result.purchases, result.chips_sold
        if ahead is not None:
            purchases = purchases + ahead.purchases
            chips_sold = chips_sold + ahead.chips_sold
            orders = orders + ahead.orders
        stockpiled = ahead.spent if ahead is not None else np.zeros(self.n)
        self.advance += stockpiled
        stockpiled_usd = stockpiled.sum()

        rest = result.unmet + frontier
        offshore_usd, grey_usd, purchases = self.spend_the_rest(model, result.unmet, frontier, demand,
                                                                purchases)
        unspent = np.maximum(rest - offshore_usd - grey_usd, 0.0)
        self.carry = p.carryover_share * unspent
        self.budget_split = {
            "budget": float(demand.sum() + stockpiled_usd),
            "china": float(result.spent.sum() + stockpiled_usd),
            "offshore": float(offshore_usd.sum()), "grey": float(grey_usd.sum()),
            "unspent": float(unspent.sum())}
        install(self.installed, purchases, model.depreciation)
        self.last_purchases = purchases
        self.last_unmet = unspent
        self.last_spent = result.spent + stockpiled
        self.last_demand = demand
        self.last_stockpiled = stockpiled
        self.last_offshore = offshore_usd
        self.last_grey = grey_usd
        self.access_classes = classes
        return Clearing(purchases, chips_sold, result.spent, result.unmet, result.rounds, orders,
                        result.capacity_left)

    def new_units(self, chips_sold: np.ndarray) -> dict[str, np.ndarray]:
        """This quarter's chips by channel (``model.core.ledger``): bought in China's market, smuggled
        (of ``grey_chip``), and bought or rented for use abroad (of ``frontier_chip``)."""
        grey, offshore, rented = (np.zeros_like(chips_sold) for _ in range(3))
        if self.grey_chip >= 0:
            grey[self.grey_chip] = self.last_grey_units
        if self.frontier_chip >= 0:
            offshore[self.frontier_chip] = self.last_offshore_units
            rented[self.frontier_chip] = self.last_rented_units
        return {"legal": chips_sold, "grey": grey, "offshore": offshore, "rented": rented}

    def frontier_budget(self, model: ChipMarketModel, demand: np.ndarray, classes: np.ndarray,
                        offer: MarketOffer) -> np.ndarray:
        """(n,) budget a private developer sets aside for chips it may not buy in China: picks this
        quarter's ``grey_chip`` (the US frontier among chips ``grey_lag_quarters`` old) and, where the
        developer's access class may not buy it legally, ``grey_frontier_share`` of its budget goes to
        the grey market instead of China's market (``spend_the_rest``; what it cannot buy is unspent)."""
        p, cat, q = model.p, model.catalogue, model.quarter
        sold_anywhere = (model.released & (q < cat.end_of_production) & ~cat.china_part & ~cat.generated
                         & (q < model.release + SALE_QUARTERS))
        self.frontier_chip = channels.frontier_chip(model.perf, cat.price_usd, cat.is_us, sold_anywhere)
        g = channels.frontier_chip(model.perf, cat.price_usd, cat.is_us,
                                   sold_anywhere & (q - model.release >= p.grey_lag_quarters))
        self.grey_chip = g
        if g < 0 or p.grey_frontier_share <= 0:
            return np.zeros(self.n)
        wants = self.private & ~offer.allowed_by_class[classes, g]
        return np.where(wants, p.grey_frontier_share * demand, 0.0)

    def budgets(self, model: ChipMarketModel) -> np.ndarray:
        """This quarter's budget per developer: the demand draw, plus the carried-over unspent budget,
        less the repayment of budget brought forward to stockpile (over ``risk_horizon_quarters``)."""
        p = model.p
        drawn = quarterly_demand(model.rng, self.base_demand, demand_factor(p, model.quarter),
                                 p.demand_shock_sd)
        gross = drawn + self.carry
        repay = np.minimum(self.advance / p.risk_horizon_quarters, gross)
        self.advance -= repay
        return gross - repay

    def stockpile(self, model: ChipMarketModel, demand: np.ndarray, result: Clearing,
                  market) -> Clearing | None:
        """Developers who may buy US chips and expect a cut bring budget forward and buy US chips with
        supply left (a second clearing over US chips only); None when nobody stockpiles."""
        pull, classes, offer = market
        p, cat = model.p, offer.catalogue
        us_allowed = offer.allowed_by_class & cat.is_us[None, :]
        has_supply = chips_with_supply(offer.members(), result.capacity_left)
        may_buy_us = (us_allowed & has_supply[None, :]).any(axis=1)[classes]
        extra = channels.stockpile_extra(demand, may_buy_us, p.stockpile_share, p.policy_risk_weight,
                                         model.us_government.supply_cut_risk)
        if not extra.any():
            return None
        return clear_market(extra, pull, classes, offer.but(allowed_by_class=us_allowed,
                                                            capacity=result.capacity_left))

    def spend_the_rest(self, model: ChipMarketModel, rest: np.ndarray, frontier: np.ndarray,
                       demand: np.ndarray, purchases: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Offshore spending of the budget China's market did not take (``rest``), then grey-market
        spending of what is left of it plus the ``frontier`` budget (``frontier_budget`` chose both
        chips). Returns
        (offshore USD, grey USD, purchases in China incl. grey chips); offshore compute is installed
        in ``installed_offshore``."""
        p, cat, q = model.p, model.catalogue, model.quarter
        self.installed_offshore *= 1.0 - model.depreciation
        self.rented_offshore[:] = 0.0  # rented by the quarter
        zero = np.zeros(self.n)
        f, g = self.frontier_chip, self.grey_chip
        self.last_grey_h100e = zero
        self.last_grey_units = self.last_offshore_units = self.last_rented_units = 0.0
        self.last_grey_premium = 0.0
        if not rest.any() and not frontier.any():
            return zero, zero, purchases
        private = self.private
        offshore = zero
        if f >= 0:
            open_share = p.offshore_open_after_rule if q >= parse_quarter(p.offshore_rule_quarter) else 1.0
            offshore = channels.offshore_spend(rest, demand, private, p.offshore_capacity_share, open_share)
            maker = cat.maker_of_chip[f]
            owned_cost = cat.price_usd[f] * (1.0 + p.offshore_cost_premium)
            owned = offshore * p.offshore_owned_share
            self.installed_offshore[:, maker] += owned * (model.perf[f] / owned_cost)
            self.last_offshore_units = float(owned.sum()) / owned_cost
            rent_cost = channels.rent_per_unit_quarter(
                p.offshore_rent_usd_per_h100e_hour, float(cat.flop_h100e[f]), years_since_2026(q),
                p.us_flop_per_usd_doubling_years)
            rented = offshore - owned
            self.rented_offshore[:, maker] = rented * (model.perf[f] / rent_cost)
            self.last_rented_units = float(rented.sum()) / rent_cost
        if g < 0:
            return offshore, zero, purchases
        want = np.where(private, rest - offshore, 0.0) + frontier
        price = float(cat.price_usd[g])
        premium, units = channels.grey_market(float(want.sum()), price, p.grey_supply_units,
                                              p.grey_seizure_share, p.grey_max_premium)
        unit_cost = price * (1.0 + premium)
        grey = channels.grey_spend(want, units * unit_cost)
        grey_h100e = grey * (model.perf[g] / unit_cost)
        self.last_grey_h100e = grey_h100e
        self.last_grey_units, self.last_grey_premium = units, premium
        if grey_h100e.any():
            purchases = purchases.copy(order="F")
            purchases[:, cat.maker_of_chip[g]] += grey_h100e
        return offshore, grey, purchases


class AIDeveloper(mesa.Agent):
    """A Chinese AI developer. Its state is row ``index`` of ``model.developers``; its purchases
    are decided for the whole population at once by ``Developers.buy``."""

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
        dev = self.model.developers
        return float(dev.installed_offshore[self.index].sum() + dev.rented_offshore[self.index].sum())


class LazyDeveloperAgents:
    """Mixin for the model (before ``mesa.Model``): the ``AIDeveloper`` views are created on first
    use of ``agents``, ``agents_by_type`` or ``agent_types`` (the UI, the agent-type reporters, users),
    not at construction: creating 300 Mesa agents was ~1/3 of building a 300-developer model, and a
    run of a sweep never looks at them. No agent is created after construction, so they get the same
    ``unique_id``s as if created then."""

    _developer_agents_due = False

    def defer_developer_agents(self) -> None:
        """Create the ``AIDeveloper`` agents (one per row of ``self.developers``) when first asked for."""
        self._developer_agents_due = True

    def create_developer_agents(self) -> None:
        if self._developer_agents_due:
            self._developer_agents_due = False
            n = self.developers.n
            AIDeveloper.create_agents(self, n, index=np.arange(n))

    @property
    def agents(self):
        self.create_developer_agents()
        return super().agents

    @property
    def agents_by_type(self):
        self.create_developer_agents()
        return super().agents_by_type

    @property
    def agent_types(self):
        self.create_developer_agents()
        return super().agent_types

    def remove_all_agents(self) -> None:
        self.create_developer_agents()
        super().remove_all_agents()
