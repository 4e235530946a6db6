"""Where a developer's budget goes when China's legal market cannot take it (ODD 7.4a), as pure
functions over the population's arrays.

After the market in China clears, each developer's budget has ended as US chips in China, domestic
chips, or a rest. In this order the rest goes

1. **stockpiling** (before the rest is counted): developers who may legally buy US chips and expect US
   supply to be cut bring budget forward — ``stockpile_share x (1 - exp(-policy_risk_weight x risk))``
   of this quarter's budget — and spend it on US chips with supply left; they repay it from their next
   ``risk_horizon_quarters`` budgets (``stockpile_extra``, ``repayment``);
2. **offshore**: a private developer spends up to ``offshore_capacity_share`` of its budget on US chips
   abroad; from ``offshore_rule_quarter`` (the May 31 2026 BIS guidance on China-headquartered firms
   abroad, §C3 H) only ``offshore_open_after_rule`` of that channel stays open (``offshore_spend``).
   ``offshore_owned_share`` of it buys chips for its own data centres abroad at the chip's price plus
   ``offshore_cost_premium`` (a stock that depreciates); the rest rents cloud capacity for the quarter at
   ``offshore_rent_usd_per_h100e_hour`` per FLOP-based H100e-hour in 2026, falling along the trend of FLOP
   per dollar (``rent_per_unit_quarter``; a flow, rented again each quarter);
3. **grey market** (smuggling, in units): smugglers deliver the ``grey_chip`` — the US chip with the
   most H100e per dollar among those sold anywhere that came out at least ``grey_lag_quarters`` ago —
   along a supply line ``grey_supply_units x (1 - grey_seizure_share) x premium`` (units a quarter at a
   premium over list; seizures are the smugglers' cost, so enforcement moves the line down); private
   developers' rest buys them at list x (1 + premium), fewer as the premium nears ``grey_max_premium``
   (demand in units ``rest x (1 - premium / grey_max_premium) / (list x (1 + premium))``). The premium
   where the two meet is the scarcity rent (``grey_market``, a quadratic solved in closed form); each
   developer's share of the spending is its share of the rest (``grey_spend``);
4. **unspent**: ``carryover_share`` of what is left is added to next quarter's budget, the rest is cut.

Offshore chips are the US chip with the most H100e per dollar among those sold anywhere
(``frontier_chip``): what a buyer abroad would pick; smuggled chips are the same choice among chips at
least ``grey_lag_quarters`` old (CNAS and the 2024-26 cases: smuggled chips are mostly a generation
behind, months to years after launch). State-affiliated developers use neither channel (the Nov 2025
mandate, §C2 H).
"""

from __future__ import annotations

import math

import numpy as np

from model.core import fixedmath as fm


def frontier_chip(perf: np.ndarray, price: np.ndarray, is_us: np.ndarray, sold_anywhere: np.ndarray) -> int:
    """Index of the US chip with the most performance per dollar among those sold anywhere, or -1."""
    ok = is_us & sold_anywhere
    if not ok.any():
        return -1
    per_usd = np.where(ok, perf / price, -np.inf)
    return int(np.argmax(per_usd))


def stockpile_extra(demand: np.ndarray, may_buy_us: np.ndarray, stockpile_share: float,
                    policy_risk_weight: float, risk: float) -> np.ndarray:
    """(n,) budget brought forward to buy US chips ahead of an expected cut (0 where not allowed)."""
    if stockpile_share <= 0 or risk <= 0 or policy_risk_weight <= 0:
        return np.zeros_like(demand)
    share = stockpile_share * (1.0 - fm.exp(-policy_risk_weight * risk))  # scalar path: same bits
    return np.where(may_buy_us, share * demand, 0.0)


def offshore_spend(remaining: np.ndarray, budget: np.ndarray, private: np.ndarray, capacity_share: float,
                   open_share: float) -> np.ndarray:
    """(n,) USD each developer spends abroad: its rest, up to its offshore capacity."""
    cap = np.where(private, capacity_share * open_share * budget, 0.0)
    return np.minimum(remaining, cap)


#: Hours in a quarter (365.25 x 24 / 4).
HOURS_PER_QUARTER = 2191.5


def rent_per_unit_quarter(usd_per_h100e_hour: float, flop_h100e: float, years_since_2026: float,
                          doubling_years: float) -> float:
    """USD to rent one chip of ``flop_h100e`` FLOP-based H100e for a quarter: the 2026 price per
    H100e-hour x hours x H100e, halving every ``doubling_years`` (the price-performance trend)."""
    decline = fm.exp2(-(years_since_2026 / doubling_years))
    return usd_per_h100e_hour * HOURS_PER_QUARTER * flop_h100e * decline


def grey_market(want_usd: float, list_price: float, supply_units: float, seizure_share: float,
                max_premium: float) -> tuple[float, float]:
    """(premium over list, units delivered) where the smugglers' supply line meets the developers'
    demand: with a = supply_units x (1 - seizure_share), A = a x list and B = A + want / max_premium, the
    premium m solves A m^2 + B m - want = 0 (a m units at list x (1 + m) cost what the demand spends,
    ``want x (1 - m / max_premium)``); m = 2 want / (B + sqrt(B^2 + 4 A want)), which is in [0, max_premium).
    Scalar IEEE arithmetic only (sqrt is correctly rounded), so the same bits on any CPU."""
    a = supply_units * (1.0 - seizure_share)
    if want_usd <= 0 or a <= 0 or max_premium <= 0 or list_price <= 0:
        return 0.0, 0.0
    big_a = a * list_price
    big_b = big_a + want_usd / max_premium
    premium = 2.0 * want_usd / (big_b + math.sqrt(big_b * big_b + 4.0 * big_a * want_usd))
    return premium, a * premium


def grey_spend(want: np.ndarray, spend_usd: float) -> np.ndarray:
    """(n,) USD each developer spends on smuggled chips: ``spend_usd`` shared in proportion to ``want``."""
    total = float(want.sum())
    if total <= 0 or spend_usd <= 0:
        return np.zeros_like(want)
    return want * (spend_usd / total)
