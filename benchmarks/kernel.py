"""A bare-numpy speed bound for the developers' quarter: ``ChipMarketModel.step`` is timed beside it.

What it is: the per-developer arithmetic of one quarter of ``ChipMarketModel.developers_buy``, written
as the fastest plain numpy we could write, with no agents, no Mesa, no pure-function boundaries, no
validation, no bookkeeping for reporters and the UI, and none of the model's fixed-arithmetic
``fixedmath`` (it uses ``np.exp`` and BLAS dot products: its results may differ in the last bits from
one CPU to another, which a speed bound may and the model may not). It is **not a second model**: it
takes everything that is per chip (on sale, legal per access class, base utility, buyer cost,
performance, supply groups and their units, the frontier chip abroad and the grey chip) and every scalar
rule input
from a ``ChipMarketModel`` after a quarter (``kernel_state``) and keeps it fixed; it only repeats the
work whose cost grows with the number of developers. ``measure.kernel_vs_model`` times
``model.step()`` (the whole quarter, everything included) against ``kernel_quarter`` at 100,000
developers, interleaved, and reports ``model_over_kernel``: how much slower the model's quarter is than
this bound (goal <= 1.2; above it, the model spends more than 20% over bare arithmetic).

The arithmetic covered, per quarter (each step on all n developers):

1. **ecosystem pull** (``choice.ecosystem_pull``): installed compute in China and abroad (owned, and
   rented last quarter) per ecosystem, own shares, the peers' shares (the sparse peer matrix times the
   shares), and ``lockin_weight x own + peer_weight x peers + taste - pressure`` (pressure on the US
   ecosystems);
2. **budgets** (``ChipMarketModel.budgets``): one log-normal demand draw per developer, plus the carried
   budget, less the repayment of stockpiled budget; the frontier budget a private developer sets aside
   where its access class may not buy the grey chip legally (``Developers.frontier_budget``), which the
   clearing does not see;
3. **the factorised logit and market clearing** (``market.clear_market``): rounds of ordering over the
   chips with supply left (per access class and ecosystem, A_ce; each developer's ecosystem shares),
   proportional rationing of over-subscribed supply groups (a chip in several groups at the smallest
   fill), purchases per maker, the unspent rest re-offered, the model's stop rules;
4. **stockpiling**: budget brought forward by developers who may still buy a US chip with supply left,
   and a second clearing over US chips with the supply left;
5. **channels** (``channels.offshore_spend``, ``grey_market``, ``grey_spend``): offshore spending of the
   rest, split into chips bought abroad (``offshore_owned_share``, a depreciating stock) and chips rented
   for the quarter (a flow, replaced each quarter), then the grey market for what is left of it and the
   frontier budgets (the premium where the smugglers' supply meets the demand, in closed form, and the
   spending shared in proportion), the carried-over budget;
6. **installation** (``population.install``) in China and abroad (owned), and the per-developer
   reductions the reporters need (installed US share per developer, totals).

How it is fast: developers are kept sorted by access class (classes change only with Beijing's stance or
the licences, which ``kernel_state`` fixes), so every per-class quantity is a scalar over a contiguous
slice and nothing is gathered per developer; the exponentials of the pulls are taken once per quarter
(the pull is constant over the rounds; A_ce carries what is available); each round costs about twenty
passes over n-vectors; the multi-megabyte scratch arrays (purchases, the per-ecosystem rows) are kept
between quarters (``_buffer``) instead of being allocated and page-faulted in again each quarter, and the
exponentials are taken in place. ``tests/test_benchmarks.py`` checks that ``sorted_clearing`` gives the
model's ``clear_market`` purchases, units and unmet budget for the same inputs (so both do the same work).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from model.core.channels import rent_per_unit_quarter
from model.core.choice import ChoiceWeights, chip_base_utility
from model.core.population import demand_factor, installed_by_ecosystem
from model.core.quarters import parse_quarter, years_since_2026

from .reference import MAX_ROUNDS  # the model's rounds per clearing, read once there


def _eco_starts(ecosystem_of: np.ndarray, n_eco: int) -> np.ndarray:
    """First index of each ecosystem's contiguous block (chips and makers are ordered by ecosystem)."""
    if np.any(np.diff(ecosystem_of) < 0):
        raise ValueError("chips and makers must be ordered by ecosystem")
    return np.searchsorted(ecosystem_of, np.arange(n_eco))


def sorted_clearing(demand, w, bounds, allowed_by_class, base, cost, perf, groups, capacity, maker_of_chip,
                    ecosystem_of_chip, ecosystem_of_maker, purchases, max_rounds=MAX_ROUNDS):
    """Market clearing over developers sorted by access class.

    ``demand`` (n,) USD; ``w`` (E x n) exp(pull - its per-developer max); ``bounds`` (C+1,) the class
    slices; ``purchases`` (M x n) H100e, added to in place. The rest as ``market.clear_market``.
    Returns (units sold per chip, unmet budget (n,), capacity left (K,), rounds)."""
    n_eco, n = w.shape
    n_class = len(bounds) - 1
    n_makers = ecosystem_of_maker.shape[0]
    remaining = demand.copy()
    capacity = capacity.astype(float).copy()
    units_sold = np.zeros(base.shape[0])
    eb = np.exp(base - base.max())
    chip_starts = _eco_starts(ecosystem_of_chip, n_eco)
    per_usd = perf / cost
    chip_is_maker = (maker_of_chip[:, None] == np.arange(n_makers)[None, :]).astype(float)  # (J x M)
    makers_of_eco = [np.flatnonzero(ecosystem_of_maker == e) for e in range(n_eco)]
    total_demand = max(float(demand.sum()), 1.0)
    rounds = 0
    slices = [slice(bounds[c], bounds[c + 1]) for c in range(n_class)]
    tot_buf = _buffer("tot", (n,))
    gw_buf = _buffer("gw", (n_eco, n))
    while rounds < max_rounds:
        rounds += 1
        has_supply = ~(groups & (capacity[:, None] <= 0)).any(axis=0)
        wj = eb * (allowed_by_class & has_supply)  # (C x J)
        A = np.add.reduceat(wj, chip_starts, axis=1)  # (C x E)
        denom = A[:, ecosystem_of_chip]
        within = np.divide(wj, denom, out=np.zeros_like(wj), where=denom > 0)
        spend = np.zeros((n_class, n_eco))  # USD wanted per class and ecosystem
        wanted = {}  # (class, ecosystem) -> USD each developer of the class wants of the ecosystem / A_ce
        for c, sl in enumerate(slices):
            if sl.start == sl.stop or not A[c].any():
                continue
            tot = np.multiply(w[0, sl], A[c, 0], out=tot_buf[: sl.stop - sl.start])
            for e in range(1, n_eco):
                tot += w[e, sl] * A[c, e]
            g = np.divide(remaining[sl], tot, out=np.zeros_like(tot), where=tot > 0)
            for e in range(n_eco):
                if A[c, e] > 0:
                    gw = np.multiply(w[e, sl], g, out=gw_buf[e, sl])
                    wanted[c, e] = gw
                    spend[c, e] = A[c, e] * float(gw.sum())
        units = (spend[:, ecosystem_of_chip] * within).sum(axis=0) / cost
        group_units = (groups * units).sum(axis=1)
        group_fill = np.ones(groups.shape[0])
        short = group_units > capacity
        group_fill[short] = capacity[short] / group_units[short]
        fill = (np.where(groups, group_fill[:, None], 1.0).min(axis=0) if groups.shape[0]
                else np.ones_like(cost))
        filled = within * fill  # (C x J)
        served_coef = filled @ chip_is_maker  # (C x M) USD served per USD wanted of the maker's ecosystem
        bought_coef = (filled * per_usd) @ chip_is_maker  # (C x M) H100e per such USD
        for (c, e), gw in wanted.items():
            sl = slices[c]
            makers = makers_of_eco[e]
            remaining[sl] -= gw * (A[c, e] * float(served_coef[c, makers].sum()))
            for m in makers:
                if bought_coef[c, m] > 0:
                    purchases[m, sl] += gw * (A[c, e] * bought_coef[c, m])
        np.maximum(remaining, 0.0, out=remaining)
        sold = units * fill
        units_sold += sold
        capacity -= (groups * sold).sum(axis=1)
        held_lower = (groups & (fill[None, :] < group_fill[:, None]) & (units[None, :] > 0)).any(axis=1)
        capacity[short & ~held_lower] = 0.0
        np.maximum(capacity, 0.0, out=capacity)
        if not short.any() or remaining.sum() <= 1e-12 * total_demand:
            break
    return units_sold, remaining, capacity, rounds


_BUFFERS: dict = {}


def _buffer(name: str, shape: tuple) -> np.ndarray:
    """A scratch array kept between calls (a fresh multi-MB array costs its page faults every quarter)."""
    buf = _BUFFERS.get(name)
    if buf is None or buf.shape != shape:
        buf = _BUFFERS[name] = np.empty(shape)
    return buf


def class_bounds(classes_sorted: np.ndarray, n_class: int = 3) -> np.ndarray:
    return np.searchsorted(classes_sorted, np.arange(n_class + 1))


def clearing_in_model_order(demand, pull, classes, allowed_by_class, base, cost, perf, groups, capacity,
                            maker_of_chip, ecosystem_of_chip, ecosystem_of_maker):
    """``sorted_clearing`` called with ``market.clear_market``'s arguments (developers in any order):
    returns (purchases n x M, unmet budget, units sold) in the caller's order (for the tests)."""
    order = np.argsort(classes, kind="stable")
    pull_t = np.ascontiguousarray(pull[order].T)
    w = np.exp(pull_t - pull_t.max(axis=0))
    purchases = np.zeros((ecosystem_of_maker.shape[0], demand.shape[0]))
    bounds = class_bounds(classes[order], allowed_by_class.shape[0])
    units, unmet, _, _ = sorted_clearing(demand[order], w, bounds, allowed_by_class, base, cost, perf, groups,
                                         capacity, maker_of_chip, ecosystem_of_chip, ecosystem_of_maker,
                                         purchases)
    out = np.empty_like(purchases)
    out[:, order] = purchases
    unmet_out = np.empty_like(unmet)
    unmet_out[order] = unmet
    return out.T, unmet_out, units


@dataclass
class KernelState:
    """Per-developer state, sorted by access class, and the quarter's fixed per-chip inputs."""

    # per developer (sorted by access class), (makers x n) / (ecosystems x n) rows
    installed: np.ndarray
    offshore_by_eco: np.ndarray  # (US ecosystems x n) owned abroad (compute abroad is US: the frontier chip)
    rented_by_eco: np.ndarray  # (US ecosystems x n) rented abroad this quarter (a flow)
    taste: np.ndarray
    pressure: np.ndarray  # (n,) penalty on the US ecosystems
    private: np.ndarray  # (n,) bool
    base_demand: np.ndarray
    carry: np.ndarray
    advance: np.ndarray
    peers: sp.csr_matrix
    bounds: np.ndarray  # class slices
    # per chip / maker / group, fixed
    allowed_by_class: np.ndarray
    us_allowed_by_class: np.ndarray
    base: np.ndarray
    cost: np.ndarray
    perf: np.ndarray
    groups: np.ndarray
    capacity: np.ndarray
    maker_of_chip: np.ndarray
    ecosystem_of_chip: np.ndarray
    ecosystem_of_maker: np.ndarray
    maker_starts: np.ndarray
    us_makers: np.ndarray  # bool (M,)
    # scalars
    growth: float
    shock_sd: float
    keep: float  # 1 - depreciation
    lockin_weight: float
    peer_weight: float
    n_us_eco: int
    repay_quarters: float
    stockpile_share: float  # share of the budget brought forward (0: no stockpiling)
    offshore_share: float  # offshore capacity share x what the rule leaves open
    frontier_maker: int  # -1: no frontier chip
    frontier_eco: int
    owned_share: float  # share of the spending abroad that buys chips (the rest rents)
    offshore_per_usd: float  # H100e per USD of chips bought abroad
    rented_per_usd: float  # H100e per USD of chips rented abroad for the quarter
    set_aside_by_class: np.ndarray  # (C,) bool: the class may not buy the grey chip legally
    frontier_share: float  # share of a private developer's budget set aside where it may not
    grey_maker: int  # -1: no grey chip
    grey_price: float  # the grey chip's list price
    grey_perf: float  # ... and its H100e
    grey_supply: float  # smuggled units a quarter per unit of premium: supply units x (1 - seizure share)
    grey_max_premium: float
    carryover_share: float


def kernel_state(m) -> KernelState:
    """The kernel's inputs from a ``ChipMarketModel`` after at least one quarter (policy, prices and supply
    as they stand), developers sorted by access class."""
    dev, cat, p = m.developers, m.catalogue, m.p
    classes = dev.access_classes  # this quarter's, as the model set them (ChinaGovernment.access_classes)
    order = np.argsort(classes, kind="stable")
    _, to_licensed = m.us_government.exportable()
    sale = m.on_sale(to_licensed)
    groups, capacity = m.supply_groups(sale, to_licensed)
    risk = m.us_government.supply_cut_risk
    base = chip_base_utility(m.perf, m.buyer_cost, m.maturity[cat.ecosystem_of_chip],
                             np.where(cat.is_us, risk, 0.0), ChoiceWeights.of(p))
    pressure = m.china_government.pressure(dev.state_affiliated)[:, 0]
    stockpile = (p.stockpile_share * (1.0 - math.exp(-p.policy_risk_weight * risk))
                 if p.stockpile_share > 0 and risk > 0 and p.policy_risk_weight > 0 else 0.0)
    f, g = dev.frontier_chip, dev.grey_chip
    n_us_eco = int(cat.ecosystem_of_maker[m.us_maker_mask].max()) + 1
    if (cat.ecosystem_of_maker[~m.us_maker_mask] < n_us_eco).any():
        raise ValueError("the kernel expects the US ecosystems first")
    open_share = p.offshore_open_after_rule if m.quarter >= parse_quarter(p.offshore_rule_quarter) else 1.0
    price = float(cat.price_usd[f]) if f >= 0 else 1.0
    rent = (rent_per_unit_quarter(p.offshore_rent_usd_per_h100e_hour, float(cat.flop_h100e[f]),
                                  years_since_2026(m.quarter), p.us_flop_per_usd_doubling_years)
            if f >= 0 else 1.0)
    peers = dev.peers[order][:, order].tocsr()
    return KernelState(
        installed=np.ascontiguousarray(dev.installed[order].T),
        offshore_by_eco=np.ascontiguousarray(installed_by_ecosystem(
            dev.installed_offshore, cat.ecosystem_of_maker)[order].T[:n_us_eco]),
        rented_by_eco=np.ascontiguousarray(installed_by_ecosystem(
            dev.rented_offshore, cat.ecosystem_of_maker)[order].T[:n_us_eco]),
        taste=np.ascontiguousarray(dev.taste[order].T),
        pressure=np.ascontiguousarray(pressure[order]),
        private=~dev.state_affiliated[order],
        base_demand=dev.base_demand[order].copy(),
        carry=dev.carry[order].copy(), advance=dev.advance[order].copy(),
        peers=peers, bounds=class_bounds(classes[order], m.allowed_by_class.shape[0]),
        allowed_by_class=m.allowed_by_class.copy(),
        us_allowed_by_class=m.allowed_by_class & cat.is_us[None, :],
        base=base, cost=m.buyer_cost.copy(), perf=m.perf.copy(), groups=groups, capacity=capacity,
        maker_of_chip=cat.maker_of_chip, ecosystem_of_chip=cat.ecosystem_of_chip,
        ecosystem_of_maker=cat.ecosystem_of_maker,
        maker_starts=_eco_starts(cat.ecosystem_of_maker, dev.taste.shape[1]),
        us_makers=m.us_maker_mask.copy(),
        growth=demand_factor(p, m.quarter),
        shock_sd=p.demand_shock_sd, keep=1.0 - m.depreciation,
        lockin_weight=p.lockin_weight, peer_weight=p.peer_weight,
        n_us_eco=n_us_eco,
        repay_quarters=float(p.risk_horizon_quarters), stockpile_share=stockpile,
        offshore_share=p.offshore_capacity_share * open_share,
        frontier_maker=int(cat.maker_of_chip[f]) if f >= 0 else -1,
        frontier_eco=int(cat.ecosystem_of_chip[f]) if f >= 0 else -1,
        owned_share=p.offshore_owned_share,
        offshore_per_usd=float(m.perf[f]) / (price * (1.0 + p.offshore_cost_premium)) if f >= 0 else 0.0,
        rented_per_usd=float(m.perf[f]) / rent if f >= 0 else 0.0,
        set_aside_by_class=(~m.allowed_by_class[:, g] if g >= 0 and p.grey_frontier_share > 0
                            else np.zeros(m.allowed_by_class.shape[0], dtype=bool)),
        frontier_share=p.grey_frontier_share,
        grey_maker=int(cat.maker_of_chip[g]) if g >= 0 else -1,
        grey_price=float(cat.price_usd[g]) if g >= 0 else 1.0,
        grey_perf=float(m.perf[g]) if g >= 0 else 0.0,
        grey_supply=p.grey_supply_units * (1.0 - p.grey_seizure_share), grey_max_premium=p.grey_max_premium,
        carryover_share=p.carryover_share,
    )


def kernel_quarter(s: KernelState, rng: np.random.Generator) -> dict:
    """One quarter of the developers' arithmetic (module docstring, 1-6); updates ``s`` in place and
    returns the totals the reporters would read."""
    n = s.base_demand.shape[0]
    # 1. ecosystem pull
    n_eco = s.taste.shape[0]
    ends = [*s.maker_starts[1:], s.installed.shape[0]]
    by_eco = _buffer("by_eco", (n_eco, n))
    for e in range(n_eco):
        np.sum(s.installed[s.maker_starts[e]:ends[e]], axis=0, out=by_eco[e])
    by_eco[: s.n_us_eco] += s.offshore_by_eco  # compute abroad (owned, and rented last quarter) is US compute
    by_eco[: s.n_us_eco] += s.rented_by_eco
    total = by_eco.sum(axis=0)
    own = _buffer("own", (n_eco, n))
    own.fill(0.0)
    np.divide(by_eco, total, out=own, where=total > 0)
    peer = s.peers @ np.ascontiguousarray(own.T)  # (n x E): one pass over the peer matrix
    pull = s.taste + s.lockin_weight * own
    pull += s.peer_weight * peer.T
    pull[: s.n_us_eco] -= s.pressure
    pull -= pull.max(axis=0)
    w = np.exp(pull, out=pull)
    # 2. budgets
    gross = s.base_demand * s.growth
    if s.shock_sd > 0:
        shock = rng.normal(-0.5 * s.shock_sd * s.shock_sd, s.shock_sd, n)
        gross *= np.exp(shock, out=shock)
    gross += s.carry
    repay = np.minimum(s.advance / s.repay_quarters, gross)
    s.advance -= repay
    demand = gross - repay
    # the frontier budget: private developers of the classes that may not buy the grey chip set it aside
    frontier = np.zeros(n)
    for c in np.flatnonzero(s.set_aside_by_class):
        sl = slice(s.bounds[c], s.bounds[c + 1])
        np.multiply(demand[sl], s.frontier_share * s.private[sl], out=frontier[sl])
    # 3. the clearing
    purchases = _buffer("purchases", s.installed.shape)
    purchases.fill(0.0)
    units, rest, capacity_left, _ = sorted_clearing(
        demand - frontier, w, s.bounds, s.allowed_by_class, s.base, s.cost, s.perf, s.groups, s.capacity,
        s.maker_of_chip, s.ecosystem_of_chip, s.ecosystem_of_maker, purchases)
    # 4. stockpiling: classes that may still buy a US chip with supply left bring budget forward
    stockpiled = 0.0
    if s.stockpile_share > 0:
        has_supply = ~(s.groups & (capacity_left[:, None] <= 0)).any(axis=0)
        may = (s.us_allowed_by_class & has_supply).any(axis=1)
        if may.any():
            extra = np.zeros(n)
            for c in np.flatnonzero(may):
                sl = slice(s.bounds[c], s.bounds[c + 1])
                extra[sl] = s.stockpile_share * demand[sl]
            more, left, _, _ = sorted_clearing(
                extra, w, s.bounds, s.us_allowed_by_class, s.base, s.cost, s.perf, s.groups, capacity_left,
                s.maker_of_chip, s.ecosystem_of_chip, s.ecosystem_of_maker, purchases)
            units = units + more
            spent_ahead = extra - left
            s.advance += spent_ahead
            stockpiled = float(spent_ahead.sum())
    # 5. channels: offshore (bought: a stock; rented: this quarter's flow), grey market, carried-over budget
    s.offshore_by_eco *= s.keep
    s.rented_by_eco.fill(0.0)  # rented by the quarter
    offshore = grey = np.zeros(n)
    if s.frontier_maker >= 0 and (rest.any() or frontier.any()):
        offshore = np.minimum(rest, np.where(s.private, s.offshore_share * demand, 0.0))
        owned = offshore * s.owned_share
        s.offshore_by_eco[s.frontier_eco] += owned * s.offshore_per_usd
        np.multiply(offshore - owned, s.rented_per_usd, out=s.rented_by_eco[s.frontier_eco])
        if s.grey_maker >= 0:
            want = np.where(s.private, rest - offshore, 0.0) + frontier
            total_want = float(want.sum())
            if total_want > 0 and s.grey_supply > 0 and s.grey_max_premium > 0:
                # the premium m where a m units at list x (1 + m) cost want x (1 - m / max premium)
                big_a = s.grey_supply * s.grey_price
                big_b = big_a + total_want / s.grey_max_premium
                premium = 2.0 * total_want / (big_b + math.sqrt(big_b * big_b + 4.0 * big_a * total_want))
                unit_cost = s.grey_price * (1.0 + premium)
                grey = want * (s.grey_supply * premium * unit_cost / total_want)
                purchases[s.grey_maker] += grey * (s.grey_perf / unit_cost)
    unspent = np.maximum(rest + frontier - offshore - grey, 0.0)
    s.carry = s.carryover_share * unspent
    # 6. installation and the reporters' per-developer reductions
    s.installed *= s.keep
    s.installed += purchases
    inst_us = s.installed[s.us_makers].sum(axis=0)
    inst_all = s.installed.sum(axis=0)
    return {"installed_h100e": float(inst_all.sum()), "us_installed_h100e": float(inst_us.sum()),
            "developers_on_us_stack": float((inst_us > 0.5 * inst_all).mean()),
            "bought_h100e": float(purchases.sum()), "units": units,
            "budget_usd": float(demand.sum()) + stockpiled,
            "unspent_usd": float(unspent.sum()), "offshore_usd": float(offshore.sum()),
            "grey_usd": float(grey.sum())}
