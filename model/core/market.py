"""Market clearing for the whole developer population at once (numpy).

Each quarter every developer has a budget (``demand_i``, USD) for new AI chips. It splits that
budget over the chips it may legally buy by the logit of ``model.core.choice``; a dollar spent on chip j
buys ``1 / cost_j`` chips and ``perf_j / cost_j`` H100-equivalents. Domestic makers' supply is
capacity-bound, so when a maker is over-subscribed every buyer gets the same fill ratio
(proportional rationing) and the unspent part of the budget is offered again, in a further round,
over the chips that still have supply (US chips are never capacity-bound, so unmet demand spills to
allowed US chips where the developer may buy them, or stays unspent). Rounds stop when all budgets
are spent or no supply is left for anyone who still wants some.

All work is on (ecosystems x n) and (makers x n) rows plus a few (classes x chips) tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core.choice import logit_shares, within_ecosystem_weights


@dataclass
class Clearing:
    """What one quarter's market clearing produced."""

    purchases: np.ndarray  # (n x makers) H100e bought by each developer from each maker
    chips_sold: np.ndarray  # (chips,) units of each chip sold
    spent: np.ndarray  # (n,) USD of each developer's budget spent
    unmet: np.ndarray  # (n,) USD of budget that found no legal supply
    rounds: int


def clear_market(
    demand: np.ndarray,
    pull: np.ndarray,
    access_class: np.ndarray,
    allowed_by_class: np.ndarray,
    base: np.ndarray,
    cost: np.ndarray,
    perf: np.ndarray,
    capacity: np.ndarray,
    maker_of_chip: np.ndarray,
    ecosystem_of_chip: np.ndarray,
    ecosystem_of_maker: np.ndarray,
    max_rounds: int = 8,
) -> Clearing:
    """Allocate this quarter's budgets.

    Args:
        demand: (n,) USD each developer wants to spend this quarter.
        pull: (n x E) developer-specific utility of each ecosystem (see ``choice.ecosystem_pull``).
        access_class: (n,) index of each developer's access class (row of ``allowed_by_class``).
        allowed_by_class: (C x J) bool, which chips each class may buy (legal and on sale).
        base: (J,) utility common to all developers.
        cost: (J,) USD the buyer pays per chip (after levy pass-through and subsidies).
        perf: (J,) effective H100e per chip.
        capacity: (M,) chips each maker can still deliver this quarter (``inf`` = not binding).
        maker_of_chip, ecosystem_of_chip, ecosystem_of_maker: catalogue indices.

    Per-developer arrays are handled as (ecosystems x n) and (makers x n) rows internally; the
    (n x M) purchases are their Fortran-ordered transpose.
    """
    n, n_eco = pull.shape
    n_class = allowed_by_class.shape[0]
    n_makers = capacity.shape[0]
    remaining = demand.astype(float).copy()
    capacity = capacity.astype(float).copy()
    bought_t = np.zeros((n_makers, n))  # H100e, makers x developers
    chips_sold = np.zeros(base.shape[0])
    chip_is_maker = (maker_of_chip[None, :] == np.arange(n_makers)[:, None]).astype(float)  # (M x J)
    compute_per_usd = perf / cost
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        has_supply = capacity[maker_of_chip] > 0
        allowed = allowed_by_class & has_supply[None, :]
        A, within = within_ecosystem_weights(base, allowed, ecosystem_of_chip, n_eco)
        shares_t = logit_shares(pull, A.T[:, access_class].T).T  # (E x n)
        wanted_t = shares_t * remaining  # (E x n) USD
        # budget per class and ecosystem, then per chip (USD), then per maker (units)
        class_eco = np.stack(
            [np.bincount(access_class, weights=wanted_t[e], minlength=n_class) for e in range(n_eco)],
            axis=1)  # (C x E)
        chip_spend = (class_eco[:, ecosystem_of_chip] * within).sum(axis=0)  # (J,)
        chip_units = chip_spend / cost
        maker_units = np.bincount(maker_of_chip, weights=chip_units, minlength=n_makers)
        fill = np.ones(n_makers)
        short = maker_units > capacity
        fill[short] = capacity[short] / maker_units[short]
        # per class: share of an ecosystem's budget each maker fills, and H100e per such dollar
        filled = within * fill[maker_of_chip]  # (C x J)
        spend_share = (chip_is_maker[:, None, :] * filled[None, :, :]).sum(axis=2)  # (M x C), no BLAS
        compute_share = (chip_is_maker[:, None, :] * (filled * compute_per_usd)[None, :, :]).sum(axis=2)
        served = np.zeros(n)
        for m in range(n_makers):
            wanted_m = wanted_t[ecosystem_of_maker[m]]
            bought_t[m] += wanted_m * compute_share[m][access_class]
            served += wanted_m * spend_share[m][access_class]
        chips_sold += chip_units * fill[maker_of_chip]
        capacity -= maker_units * fill
        capacity[short] = 0.0  # exhausted makers leave the next round
        remaining -= served
        np.maximum(remaining, 0.0, out=remaining)
        # stop when nothing is left to serve, or when no maker ran short this round (then the
        # unserved rest has no legal supply at all and another round would change nothing)
        if not short.any() or remaining.sum() <= 1e-12 * max(demand.sum(), 1.0):
            break
    return Clearing(bought_t.T, chips_sold, demand - remaining, remaining, rounds)
