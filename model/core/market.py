"""Market clearing for the whole developer population at once (numpy).

Each quarter every developer has a budget (``demand_i``, USD) for new AI chips. It splits that
budget over the chips it may legally buy by the logit of ``model.core.choice``; a dollar spent on chip j
buys ``1 / cost_j`` chips and ``perf_j / cost_j`` H100-equivalents. Domestic makers' supply is
capacity-bound, and so are some US products (the volume cap of the US rule, a product sold from stock,
Beijing's import cap): supply is a set of *supply groups*, each a set of chips with a number of units
it can still deliver this quarter (a domestic maker's capacity; one product's volume cap or stock; all
US chips under an import cap). When a group is over-subscribed every buyer of its chips gets the
same fill ratio (proportional rationing; a chip in several groups gets the smallest ratio) and the
unspent part of the budget is offered again, in a further round, over the chips that still have
supply, or stays unspent. Rounds stop when all budgets are spent or no supply is left for anyone who
still wants some.

All work is on (ecosystems x n) and (makers x n) rows plus a few (classes x chips) tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core.catalogue import SALE_QUARTERS, CatalogueArrays
from model.core.choice import chip_weights, ecosystem_shares_t, within_ecosystem_weights


@dataclass
class Clearing:
    """What one quarter's market clearing produced."""

    purchases: np.ndarray  # (n x makers) H100e bought by each developer from each maker
    chips_sold: np.ndarray  # (chips,) units of each chip sold
    spent: np.ndarray  # (n,) USD of each developer's budget spent
    unmet: np.ndarray  # (n,) USD of budget that found no legal supply
    rounds: int
    orders: np.ndarray  # (chips,) units wanted in the first round, before rationing (makers' signal)
    capacity_left: np.ndarray  # (K,) units each supply group can still deliver


def chips_with_supply(groups: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """(J,) chips none of whose supply groups is exhausted."""
    return ~(groups & (capacity[:, None] <= 0)).any(axis=0)


@dataclass(frozen=True)
class MarketOffer:
    """The market in China this quarter, as every developer faces it: which chips each access class may
    buy (legal and on sale), their common utility, what a buyer pays, their effective H100e, and the
    supply groups with the units each can still deliver (``inf`` = not binding)."""

    catalogue: CatalogueArrays  # chip and maker indices (maker_of_chip, ecosystem_of_chip, ...)
    sale: np.ndarray  # (J,) bool: offered in China this quarter
    allowed_by_class: np.ndarray  # (C x J) bool: which chips each access class may buy
    base: np.ndarray  # (J,) utility common to all developers (choice.chip_base_utility)
    cost: np.ndarray  # (J,) USD the buyer pays per chip (after levy pass-through and subsidies)
    perf: np.ndarray  # (J,) effective H100e per chip
    groups: np.ndarray  # (K x J) bool: the chips of each supply group
    capacity: np.ndarray  # (K,) units each supply group can deliver this quarter
    stocked: np.ndarray  # (J,) bool: products sold from a stock (their supply is the stock)
    weights: np.ndarray | None = None  # (J,) choice.chip_weights(base), when the caller has it


def clear_market(demand: np.ndarray, pull: np.ndarray, access_class: np.ndarray, offer: MarketOffer,
                 max_rounds: int = 8) -> Clearing:
    """Allocate this quarter's budgets.

    Args:
        demand: (n,) USD each developer wants to spend this quarter.
        pull: (n x E) developer-specific utility of each ecosystem (see ``choice.ecosystem_pull``).
        access_class: (n,) index of each developer's access class (row of ``offer.allowed_by_class``).
        offer: the chips, their utility, cost, performance and supply groups (``MarketOffer``).

    Per-developer arrays are handled as (ecosystems x n) and (makers x n) rows internally; the
    (n x M) purchases are their Fortran-ordered transpose.
    """
    cat = offer.catalogue
    allowed_by_class, base, cost, perf = offer.allowed_by_class, offer.base, offer.cost, offer.perf
    groups, capacity = offer.groups, offer.capacity
    maker_of_chip, ecosystem_of_chip = cat.maker_of_chip, cat.ecosystem_of_chip
    ecosystem_of_maker = cat.ecosystem_of_maker
    n, n_eco = pull.shape
    n_class = allowed_by_class.shape[0]
    n_makers = ecosystem_of_maker.shape[0]
    remaining = demand.astype(float)  # a copy
    capacity = capacity.astype(float)
    groups = np.asarray(groups, dtype=bool)
    bought_t = np.zeros((n_makers, n))  # H100e, makers x developers
    chips_sold = np.zeros(base.shape[0])
    chip_is_maker = (maker_of_chip[None, :] == np.arange(n_makers)[:, None]).astype(float)  # (M x J)
    compute_per_usd = perf / cost
    orders = np.zeros(base.shape[0])
    weights = chip_weights(base) if offer.weights is None else offer.weights  # the same every round
    pull_t = np.asarray(pull, dtype=float).T
    class_eco = np.empty((n_class, n_eco))
    all_served = 1e-12 * max(demand.sum(), 1.0)
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        has_supply = chips_with_supply(groups, capacity)
        allowed = allowed_by_class & has_supply[None, :]
        A, within = within_ecosystem_weights(base, allowed, ecosystem_of_chip, n_eco, weights)
        wanted_t = ecosystem_shares_t(pull_t, A, access_class)  # (E x n) shares of the budget ...
        wanted_t *= remaining  # ... and USD
        # budget per class and ecosystem, then per chip (USD), then per supply group (units)
        for e in range(n_eco):
            class_eco[:, e] = np.bincount(access_class, weights=wanted_t[e], minlength=n_class)
        chip_spend = (class_eco[:, ecosystem_of_chip] * within).sum(axis=0)  # (J,)
        chip_units = chip_spend / cost
        if rounds == 1:
            orders = chip_units.copy()
        group_units = (groups * chip_units).sum(axis=1)  # (K,) masked row sums, no BLAS
        group_fill = np.ones(groups.shape[0])
        short = group_units > capacity
        group_fill[short] = capacity[short] / group_units[short]
        fill = (np.where(groups, group_fill[:, None], 1.0).min(axis=0) if groups.shape[0]
                else np.ones_like(cost))
        # per class: share of an ecosystem's budget each maker fills, and H100e per such dollar
        filled = within * fill  # (C x J)
        spend_share = (chip_is_maker[:, None, :] * filled[None, :, :]).sum(axis=2)  # (M x C), no BLAS
        compute_share = (chip_is_maker[:, None, :] * (filled * compute_per_usd)[None, :, :]).sum(axis=2)
        remaining -= buy_from_makers(bought_t, wanted_t, ecosystem_of_maker, (spend_share, compute_share),
                                     access_class)
        sold = chip_units * fill
        chips_sold += sold
        capacity -= (groups * sold).sum(axis=1)
        # a short group whose own ratio was the binding one for all its chips is exhausted and leaves
        # the next round (a chip held lower by another group leaves this one some supply)
        held_lower = (groups & (fill[None, :] < group_fill[:, None]) & (chip_units[None, :] > 0)).any(axis=1)
        capacity[short & ~held_lower] = 0.0
        np.maximum(capacity, 0.0, out=capacity)
        np.maximum(remaining, 0.0, out=remaining)
        # stop when nothing is left to serve, or when no maker ran short this round (then the
        # unserved rest has no legal supply at all and another round would change nothing)
        if not short.any() or remaining.sum() <= all_served:
            break
    return Clearing(bought_t.T, chips_sold, demand - remaining, remaining, rounds, orders, capacity)


#: Populations with at most this many (makers x developers) cells are served all makers at once; larger
#: ones maker by maker (the (makers x n) temporaries would cost more memory traffic than the calls saved).
SMALL = 1 << 16


def buy_from_makers(bought_t: np.ndarray, wanted_t: np.ndarray, ecosystem_of_maker: np.ndarray,
                    shares: tuple[np.ndarray, np.ndarray], access_class: np.ndarray) -> np.ndarray:
    """Add one round's purchases to ``bought_t`` (makers x n, H100e) and return the USD served per
    developer: maker m fills ``spend_share[m, c]`` of the budget ``wanted_t`` (E x n) for its ecosystem,
    at ``compute_share[m, c]`` H100e per such dollar (``shares``; c is each developer's class). The USD
    served adds the makers in order both ways (a sum over rows is sequential: the same bits)."""
    spend_share, compute_share = shares
    if 1 < bought_t.shape[1] and bought_t.size <= SMALL:  # (one developer: the sum would be pairwise)
        wanted_m = wanted_t[ecosystem_of_maker]  # (M x n)
        bought_t += wanted_m * compute_share[:, access_class]
        return (wanted_m * spend_share[:, access_class]).sum(axis=0)
    served = np.zeros(bought_t.shape[1])
    for m, e in enumerate(ecosystem_of_maker):
        wanted_m = wanted_t[e]
        bought_t[m] += wanted_m * compute_share[m][access_class]
        served += wanted_m * spend_share[m][access_class]
    return served


_NEVER = np.iinfo(np.int64).min  # a release quarter before any other


def on_sale(quarter: int, cat: CatalogueArrays, release: np.ndarray, released: np.ndarray,
            stock_left: np.ndarray, to_licensed: np.ndarray) -> np.ndarray:
    """Chips offered in China at ``quarter``: released (``released``; ``release`` is each chip's
    effective release quarter), still made (or in stock), and not retired. A chip retires SALE_QUARTERS
    after its release, except a maker's newest released chip, a China part while it complies, and a US
    maker's newest chip that the rules in force let it sell to licensed Chinese customers (the maker
    keeps making its best China-licensable part: ASSUMPTION, SOURCES §A1/§C1 pattern of A800/H800/H20).
    """
    maker_of_chip, is_us, china_part = cat.maker_of_chip, cat.is_us, cat.china_part
    made = released & ((quarter < cat.end_of_production) | (stock_left > 0))
    newest = np.full(len(cat.maker_names), _NEVER)
    np.maximum.at(newest, maker_of_chip[made], release[made])
    is_newest = release == newest[maker_of_chip]
    licensable = made & is_us & to_licensed & ~china_part
    newest_lic = np.full(newest.shape, _NEVER)
    np.maximum.at(newest_lic, maker_of_chip[licensable], release[licensable])
    is_newest_lic = licensable & (release == newest_lic[maker_of_chip])
    young = quarter < release + SALE_QUARTERS
    complying_part = china_part & (quarter < cat.compliant_until)
    return made & (young | is_newest | complying_part | is_newest_lic)


def legal_chips_by_class(sale: np.ndarray, is_us: np.ndarray, to_anyone: np.ndarray,
                         to_licensed: np.ndarray) -> np.ndarray:
    """(3 x chips): what access classes 0 (no US), 1 (US to anyone), 2 (+licensed) may buy."""
    domestic = sale & ~is_us
    allowed = np.zeros((3, sale.shape[0]), dtype=bool)
    allowed[0] = domestic
    allowed[1] = domestic | (sale & is_us & to_anyone)
    allowed[2] = allowed[1] | (sale & is_us & to_licensed)
    return allowed
