"""The backcast: the AI chips bought in China before a run starts, chip by chip (docs/ODD.md §7.7).

One set of initial conditions for every run. A run that starts in quarter Q inherits the chips bought
in the ``HISTORY_QUARTERS`` before Q and still in service; a replay that starts in 2022Q4 and a forward
run that starts in 2026Q1 read the same rules:

- **Domestic makers** sold what their foundries made (``makers.foundry_path``: each maker's sourced 2025
  output where the catalogue has one, else its 2026 capacity, on ``domestic_capacity_growth``), spread
  evenly over their chips on sale then; the replay's domestic makers sell the same path.
- **US makers** got ``US_PURCHASE_SHARE_BY_YEAR`` of that quarter's spending (``demand_factor``: this
  run's demand path backwards), split by each maker's ``history_share`` and spent evenly on its chips on
  sale in China then (a US chip before the Oct 2022 rule, a China part while it complied). A chip whose
  production had ended is bought only out of its stock (``stock_units``, run down in date order), and
  what the backcast took from that stock is not for sale again when the run starts (``History.from_stock``).

Units still in service at Q are depreciated as the model depreciates them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core import fixedmath as fm
from model.core.catalogue import SALE_QUARTERS, US_PURCHASE_SHARE_BY_YEAR, CatalogueArrays
from model.core.makers import foundry_path
from model.core.population import demand_factor
from model.core.quarters import parse_quarter, quarter_year

#: Quarters of purchase history used to build the installed base at the start (6 years).
HISTORY_QUARTERS = 24
#: The Oct 7 2022 rule: before it, US chips of every kind were sold in China (§C1, H).
CONTROLS_FROM = parse_quarter("2022Q4")


@dataclass(frozen=True)
class History:
    """The backcast before a quarter: units of each chip bought in China and still in service, the
    cumulative domestic purchases (effective H100e, undepreciated: the ecosystem's learning curve), and
    the units of each chip bought out of its stock after its production ended."""

    units: np.ndarray  # (chips,)
    domestic_h100e: float
    from_stock: np.ndarray  # (chips,)


def us_units(cat: CatalogueArrays, on_sale: np.ndarray, dollars: float) -> np.ndarray:
    """(chips,) units the US stack's ``dollars`` bought in a past quarter: each US maker with a chip in
    ``on_sale`` gets its ``history_share`` of the dollars (renormalised; evenly if all are 0) and spends
    it evenly on those chips at catalogue prices. With nothing on sale the stack's first chips (the
    earliest US release) are bought."""
    chips = on_sale if on_sale.any() else cat.is_us & (cat.release == cat.release[cat.is_us].min())
    units = np.zeros(len(cat.names))
    makers = np.unique(cat.maker_of_chip[chips])
    weight = cat.history_share[makers]
    weight = weight / weight.sum() if weight.sum() > 0 else np.full(len(makers), 1.0 / len(makers))
    for m, w in zip(makers, weight, strict=True):
        mine = chips & (cat.maker_of_chip == m)
        units[mine] = dollars * w / float(mine.sum()) / cat.price_usd[mine]
    return units


def domestic_units(cat: CatalogueArrays, p, on_sale: np.ndarray, quarter: int) -> np.ndarray:
    """(chips,) units the domestic makers sold in a past quarter: each maker's foundry output then
    (``foundry_path``), spread evenly over its chips in ``on_sale``; a maker with none on sale sold none."""
    units = np.zeros(len(cat.names))
    for m, maker in enumerate(cat.makers):
        mine = on_sale & (cat.maker_of_chip == m)
        if maker.capacity is None or not mine.any():
            continue
        c = maker.capacity
        output = foundry_path(getattr(p, c.param, c.default), c.output_2025, p.domestic_capacity_growth,
                              quarter)
        units[mine] = output / float(mine.sum())
    return units


def backcast(cat: CatalogueArrays, p, quarter: int, perf: np.ndarray, depreciation: float) -> History:
    """The chips bought in China in the ``HISTORY_QUARTERS`` before ``quarter`` (module docstring);
    ``perf``: each chip's effective H100e (the learning curve's unit); ``depreciation``: per quarter."""
    years = sorted(US_PURCHASE_SHARE_BY_YEAR)
    kept = np.zeros(len(cat.names))
    from_stock = np.zeros(len(cat.names))
    stock_left = cat.stock_units.copy()
    domestic_cum = 0.0
    for q in range(quarter - HISTORY_QUARTERS, quarter):  # in date order: stocks run down as sold
        us_share = US_PURCHASE_SHARE_BY_YEAR[min(max(quarter_year(q), years[0]), years[-1])]
        budget = p.demand_2026_usd / 4.0 * demand_factor(p, q)
        sold_then = (cat.release <= q) & (q < cat.release + SALE_QUARTERS)
        legal_then = np.where(cat.china_part, q < cat.compliant_until, q < CONTROLS_FROM)
        us = us_units(cat, sold_then & cat.is_us & legal_then, budget * us_share)
        out_of_stock = q >= cat.end_of_production
        us = np.where(out_of_stock, np.minimum(us, stock_left), us)
        stock_left -= np.where(out_of_stock, us, 0.0)
        from_stock += np.where(out_of_stock, us, 0.0)
        domestic = domestic_units(cat, p, sold_then & ~cat.is_us, q)
        kept += (us + domestic) * fm.power(1.0 - depreciation, quarter - q - 1)
        domestic_cum += float((domestic * perf).sum())
    return History(kept, domestic_cum, from_stock)
