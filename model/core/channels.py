"""Where a developer's budget goes when China's legal market cannot take it (ODD 7.4a), as pure
functions over the population's arrays.

After the market in China clears, each developer's budget has ended as US chips in China, domestic
chips, or a rest. In this order the rest goes

1. **stockpiling** (before the rest is counted): developers who may legally buy US chips and expect US
   supply to be cut bring budget forward — ``stockpile_share x (1 - exp(-policy_risk_weight x risk))``
   of this quarter's budget — and spend it on US chips with supply left; they repay it from their next
   ``risk_horizon_quarters`` budgets (``stockpile_extra``, ``repayment``);
2. **offshore**: a private developer spends up to ``offshore_capacity_share`` of its budget on US chips
   in data centres abroad, at the chip's price plus ``offshore_cost_premium``; from
   ``offshore_rule_quarter`` (the May 31 2026 BIS guidance on China-headquartered firms abroad, §C3 H)
   only ``offshore_open_after_rule`` of that channel stays open (``offshore_spend``);
3. **grey market**: private developers' rest buys smuggled US chips, at ``grey_premium`` over the price
   and losing ``grey_seizure_share`` of them, up to ``grey_capacity_usd`` a quarter for all together,
   shared in proportion to what each still wants (``grey_spend``);
4. **unspent**: ``carryover_share`` of what is left is added to next quarter's budget, the rest is cut.

Offshore and grey chips are the US chip with the most H100e per dollar among those the US maker
sells anywhere (``frontier_chip``): what a buyer abroad, or a smuggler, would pick.
State-affiliated developers use neither channel (the Nov 2025 mandate, §C2 H).
"""

from __future__ import annotations

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


def grey_spend(remaining: np.ndarray, private: np.ndarray, capacity_usd: float) -> np.ndarray:
    """(n,) USD each developer spends on smuggled chips: its rest, scaled down pro rata when all
    together want more than ``capacity_usd``."""
    want = np.where(private, remaining, 0.0)
    total = float(want.sum())
    if total <= 0 or capacity_usd <= 0:
        return np.zeros_like(remaining)
    return want * min(1.0, capacity_usd / total)
