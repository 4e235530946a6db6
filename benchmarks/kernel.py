"""The "plain numpy kernel": the quarter's arithmetic stated directly, with full-size temporaries.

This is what a first vectorisation of the rules would look like: a logit over *all* chips for every
developer (n x J arrays: utilities, availability mask, exponentials, probabilities, orders), the
sparse peer product, proportional rationing rounds over supply groups, and the installed-base
update. It is timed beside ``ChipMarketModel.step`` at 100,000 developers: the model's factorised
clearing (n x ecosystems, see ``model/core/choice.py``) should be no slower than this.
``tests/test_benchmarks.py`` checks that its clearing gives the model's purchases for the same
inputs, so both time the same work.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from model.core.choice import chip_base_utility
from model.core.policy import china_allows_us
from model.core.population import access_class
from model.core.quarters import years_since_2026


def plain_clearing(demand, pull, classes, allowed_by_class, base, cost, perf, groups, capacity, maker_of_chip,
                   ecosystem_of_chip, n_makers, max_rounds=8):
    """Proportional rationing rounds with an (n x J) logit over budgets (USD). Supply is a set of
    supply groups (``groups`` K x J bool, ``capacity`` K units, as ``model.core.market.clear_market``):
    an over-subscribed group fills every order for its chips at the same ratio, a chip in several
    groups at the smallest. Returns (purchases n x M in H100e, unspent budget, units sold)."""
    n = demand.shape[0]
    remaining = demand.astype(float).copy()
    capacity = capacity.astype(float).copy()
    groups = np.asarray(groups, dtype=bool)
    purchases = np.zeros((n, n_makers))
    units_sold = np.zeros(base.shape[0])
    allowed = allowed_by_class[classes]  # (n x J)
    utility = base[None, :] + pull[:, ecosystem_of_chip]  # (n x J)
    chip_to_maker = np.zeros((base.shape[0], n_makers))
    chip_to_maker[np.arange(base.shape[0]), maker_of_chip] = 1.0
    for _ in range(max_rounds):
        has_supply = ~(groups & (capacity[:, None] <= 0)).any(axis=0)  # no exhausted group
        ok = allowed & has_supply[None, :]
        u = np.where(ok, utility, -np.inf)
        top = u.max(axis=1, keepdims=True)
        top[~np.isfinite(top)] = 0.0
        w = np.exp(u - top)  # 0 where not available
        total = w.sum(axis=1, keepdims=True)
        p = np.divide(w, total, out=np.zeros_like(w), where=total > 0)
        wanted = p * remaining[:, None]  # (n x J) USD ordered per chip
        units = wanted.sum(axis=0) / cost
        group_units = (groups * units[None, :]).sum(axis=1)
        group_fill = np.ones(groups.shape[0])
        short = group_units > capacity
        group_fill[short] = capacity[short] / group_units[short]
        fill = (np.where(groups, group_fill[:, None], 1.0).min(axis=0) if groups.shape[0]
                else np.ones_like(cost))
        paid = wanted * fill[None, :]  # (n x J) USD
        purchases += (paid * (perf / cost)[None, :]) @ chip_to_maker  # (n x M) H100e
        sold = units * fill
        units_sold += sold
        capacity -= (groups * sold[None, :]).sum(axis=1)
        # a short group whose own ratio bound all its chips is exhausted
        held_lower = (groups & (fill[None, :] < group_fill[:, None]) & (units[None, :] > 0)).any(axis=1)
        capacity[short & ~held_lower] = 0.0
        np.maximum(capacity, 0.0, out=capacity)
        remaining = np.maximum(remaining - paid.sum(axis=1), 0.0)
        if not short.any() or remaining.sum() <= 1e-12 * max(demand.sum(), 1.0):
            break
    return purchases, remaining, units_sold


@dataclass
class KernelState:
    """Everything the kernel reads, taken from a ChipMarketModel at its current state."""

    installed: np.ndarray
    peers: sp.csr_matrix
    taste: np.ndarray
    pressure: np.ndarray
    classes: np.ndarray
    allowed_by_class: np.ndarray
    base: np.ndarray
    cost: np.ndarray
    perf: np.ndarray
    groups: np.ndarray
    capacity: np.ndarray
    base_demand: np.ndarray
    growth: float
    shock_sd: float
    depreciation: float
    lockin_weight: float
    peer_weight: float
    maker_of_chip: np.ndarray
    ecosystem_of_chip: np.ndarray
    ecosystem_of_maker: np.ndarray


def kernel_state(m) -> KernelState:
    """Snapshot of a model (after at least one step) as the kernel's inputs."""
    dev, cat = m.developers, m.catalogue
    china_ok = china_allows_us(m.china_government.stance, dev.state_affiliated, dev.china_approved,
                               m.p.state_mandate)
    _, to_licensed = m.us_government.exportable()
    groups, capacity = m.supply_groups(m.on_sale(), to_licensed)
    risk = np.where(cat.is_us, m.us_government.supply_cut_risk, 0.0)
    base = chip_base_utility(m.perf, m.buyer_cost, m.maturity[cat.ecosystem_of_chip], risk,
                             m.p.price_weight, m.p.ecosystem_weight, m.p.policy_risk_weight)
    return KernelState(
        installed=dev.installed.copy(), peers=dev.peers, taste=dev.taste,
        pressure=m.china_government.pressure(), classes=access_class(china_ok, dev.licensed),
        allowed_by_class=m.allowed_by_class, base=base, cost=m.buyer_cost, perf=m.perf,
        groups=groups, capacity=capacity,
        base_demand=dev.base_demand, growth=(1.0 + m.p.demand_growth) ** years_since_2026(m.quarter),
        shock_sd=m.p.demand_shock_sd, depreciation=m.depreciation, lockin_weight=m.p.lockin_weight,
        peer_weight=m.p.peer_weight, maker_of_chip=cat.maker_of_chip,
        ecosystem_of_chip=cat.ecosystem_of_chip, ecosystem_of_maker=cat.ecosystem_of_maker,
    )


def plain_quarter(s: KernelState, rng: np.random.Generator) -> np.ndarray:
    """One quarter of the developers' arithmetic; updates ``s.installed`` and returns it."""
    n_eco = s.taste.shape[1]
    maker_to_eco = np.zeros((s.ecosystem_of_maker.shape[0], n_eco))
    maker_to_eco[np.arange(s.ecosystem_of_maker.shape[0]), s.ecosystem_of_maker] = 1.0
    by_eco = s.installed @ maker_to_eco
    total = by_eco.sum(axis=1, keepdims=True)
    own = np.divide(by_eco, total, out=np.zeros_like(by_eco), where=total > 0)
    peer = s.peers @ own
    pull = s.lockin_weight * own + s.peer_weight * peer + s.taste - s.pressure
    shock = np.exp(rng.normal(-0.5 * s.shock_sd**2, s.shock_sd, s.base_demand.shape[0]))
    demand = s.base_demand * s.growth * shock
    purchases, _, _ = plain_clearing(demand, pull, s.classes, s.allowed_by_class, s.base, s.cost, s.perf,
                                     s.groups, s.capacity, s.maker_of_chip, s.ecosystem_of_chip,
                                     s.ecosystem_of_maker.shape[0])
    s.installed = s.installed * (1.0 - s.depreciation) + purchases
    return s.installed
