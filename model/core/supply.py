"""Chipmakers' supply decisions as pure functions (ODD 7.5): US makers' China allocation and price,
domestic makers' output bound by foundry capacity and HBM.

US makers (Nvidia, AMD) hold a **China stock** of each product (units they can deliver to China this
quarter: the H200's ~700k in stock at the decision, §B5 M, plus what they made for China). Each
quarter a maker

* forms **expected China orders** of each product by exponential smoothing of the orders it saw
  (``maker_order_smoothing``; a product it could not deliver last quarter is expected at full
  production: the maker launches it);
* sets **next quarter's China production** to the expected orders it may ship (at most the US volume
  cap) minus the stock it expects to hold after this quarter's sales, between 0 and its China
  production limit, scaled by the chance
  the rule holds for another quarter (``1 - us_reversal_prob``): orders that stall or a product that
  becomes unlicensable stop production, and the capacity goes to other markets;
* prices by **passing on the US levy** in proportion to the product's scarcity: the share passed on is
  ``revenue_passthrough x clip(orders / supply - 1, 0, 1)``.

A US maker also **designs to the rule** (``part_under_caps``): under caps on TPP and bandwidth it can
bring out a part at (1 - ``design_margin``) x each cap, cut from its newest chip (its parent: no more
compute or bandwidth than the parent's), priced at the parent's price per unit of performance (the B30A
was to be half a B300 at half the price, IFP §A2 M; the H20 sold at about the H100's price per unit
of performance, §A1).

Domestic makers' output per quarter is the smaller of their **foundry capacity** (the 2026 level
growing at ``domestic_capacity_growth``, plus capacity bought with revenue above plan) and what their
share of **HBM** allows (``hbm_stacks_per_chip``; the pool is the 2026Q1 stockpile plus domestic HBM
output, shared in proportion to each maker's need at full foundry output). SemiAnalysis (§B1 M): HBM,
not SMIC, binds Ascend output from 2026.

From 2026 a domestic maker **prices by excess demand**: its markup over the list price moves each
quarter by ``domestic_price_response`` x last quarter's (orders - output) / max(orders, output), within
0 and ``domestic_markup_max`` (``markup_after``); before 2026 its prices are the record's (the
catalogue's list prices).
"""

from __future__ import annotations

import math

import numpy as np

from model.core.catalogue import H100_MEM_BW_GBS, H100_TPP


def part_under_caps(caps: tuple[float, float], margin: float, parent_flop: float, parent_bw: float,
                    parent_price: float, parent_perf: float) -> tuple[float, float, float, float]:
    """(FLOP-based H100e, bandwidth GB/s, performance index, price) of a part designed to ``caps`` (TPP,
    GB/s) from a parent chip: TPP (1 - margin) x the TPP cap and bandwidth (1 - margin) x the bandwidth cap,
    each at most the parent's; performance index the catalogue's blend sqrt(FLOP x bandwidth / the H100's);
    price the parent's price per unit of performance index."""
    tpp_cap, bw_cap = caps
    flop = min(parent_flop, tpp_cap * (1.0 - margin) / H100_TPP)
    bw = min(parent_bw, bw_cap * (1.0 - margin))
    perf = float(np.sqrt(flop * (bw / H100_MEM_BW_GBS)))
    return flop, bw, perf, parent_price / parent_perf * perf


def china_production_limit(is_us: np.ndarray, china_part: np.ndarray, us_units_per_quarter: np.ndarray,
                           china_units_per_quarter: np.ndarray,
                           us_china_production_share: float) -> np.ndarray:
    """(J,) most units a US maker can make for China per quarter: a China part's own limit, else
    ``us_china_production_share`` x the product's units for US end users; 0 for domestic chips."""
    limit = np.where(china_part, china_units_per_quarter, us_china_production_share * us_units_per_quarter)
    return np.where(is_us, limit, 0.0)


def expect_orders(expected: np.ndarray, orders: np.ndarray, delivered_possible: np.ndarray,
                  launch_level: np.ndarray, smoothing: float) -> np.ndarray:
    """Next expected orders per product: smoothed observed orders where the product could be
    delivered, ``launch_level`` where it could not (a new or newly licensable product)."""
    smoothed = smoothing * orders + (1.0 - smoothing) * expected
    return np.where(delivered_possible, smoothed, launch_level)


def plan_production(expected: np.ndarray, stock: np.ndarray, sellable_max: np.ndarray, limit: np.ndarray,
                    may_sell: np.ndarray, hold_prob: float) -> np.ndarray:
    """(J,) units to make for China for next quarter: the expected sales E = min(expected,
    sellable_max) less the stock it expects to hold after this quarter's sales, max(0, stock - E),
    times hold_prob, within [0, limit]; nothing for products it may not sell to China or no longer makes."""
    sales = np.minimum(expected, sellable_max)
    want = (sales - np.maximum(stock - sales, 0.0)) * hold_prob
    return np.where(may_sell, np.clip(want, 0.0, limit), 0.0)


def scarcity(orders: np.ndarray, supply: np.ndarray) -> np.ndarray:
    """(J,) clip(orders / supply - 1, 0, 1): 0 while supply covers orders, 1 at twice the supply."""
    ratio = np.divide(orders, supply, out=np.zeros_like(orders, dtype=float), where=supply > 0)
    ratio = np.where((supply <= 0) & (orders > 0), 2.0, ratio)
    # clip(ratio - 1, 0, 1) (ratio - 1 is never -0.0, where np.clip and maximum could differ)
    return np.minimum(np.maximum(ratio - 1.0, 0.0), 1.0)


def excess_demand(orders: float, output: float) -> float:
    """(orders - output) / max(orders, output), within [-1, 1]: 0 at balance, 1 when orders meet no output,
    -1 when output meets no orders or is not bound (``output`` inf); 0 when both are 0."""
    if math.isinf(output):
        return -1.0
    top = max(orders, output)
    return (orders - output) / top if top > 0 else 0.0


def markup_after(markup: float, response: float, excess: float, most: float) -> float:
    """A domestic maker's markup over its list price after a quarter of ``excess`` demand: it moves by
    ``response`` x ``excess`` (tatonnement), within [0, ``most``] (the list price is the record's)."""
    return min(most, max(0.0, markup + response * excess))


def hbm_ceilings(foundry: np.ndarray, stacks_per_chip: np.ndarray, hbm_available: float) -> np.ndarray:
    """(M,) units each domestic maker can make this quarter given HBM: the pool is shared in proportion
    to each maker's need at full foundry output; makers that need no HBM are not bound (inf)."""
    need = foundry * stacks_per_chip
    total = float(need.sum())
    ceiling = np.full(foundry.shape, np.inf)
    uses = stacks_per_chip > 0
    if total <= hbm_available:
        return ceiling
    share = np.divide(need, total, out=np.zeros_like(need), where=total > 0)
    ceiling[uses] = share[uses] * hbm_available / stacks_per_chip[uses]
    return ceiling
