"""Washington as a Mesa agent: the US export rule (Beijing is ``model.core.beijing``).

It holds its instruments and applies them (ODD §7.1): its regime, TPP cap, licences, levies and the
chance of a reversal. The rules are pure functions in ``model.core.policy``; the agent keeps the state
and says which rule is in force.
Sources: docs/SOURCES.md §B4, §C1-§C3 via ``model.core.parameters``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from model.core import fixedmath as fm
from model.core.catalogue import NEVER
from model.core.policy import (
    US_REGIMES,
    ExportRule,
    in_force_at,
    parse_count_schedule,
    parse_schedule,
    scheduled_value,
    split_regime,
    tighten_us,
    us_exportable,
)

if TYPE_CHECKING:  # pragma: no cover
    from model.core.chip_market import ChipMarketModel

#: Chinese customers holding a US licence when a licence schedule is in force but gives no count yet
#: (Reuters, May 2026: ~10 firms approved, SOURCES §C3 M/L).
DEFAULT_LICENSED_CUSTOMERS = 10


def us_shipments_to_date(cat, release: np.ndarray, quarter: int, decline_per_year: float) -> np.ndarray:
    """(J,) units of each US product shipped to US end users from its release through ``quarter``:
    ``us_units_per_quarter`` a quarter until its maker's next product (not a China part) ships, then
    falling by ``decline_per_year`` a year (a factor k = (1 - decline)**(1/4) a quarter), summed in closed
    form: base x (quarters before the next) + base x k (1 - k**n) / (1 - k) over the n quarters after. A
    part designed to the rule (``generated``) is nobody's next product."""
    n_chips = len(cat.names)
    main = cat.is_us & ~cat.china_part
    # (J x J): chip k is a later product of chip j's maker; nxt[j] = the first such release (or never)
    later = (main[:, None] & (main & ~cat.generated)[None, :]
             & (cat.maker_of_chip[:, None] == cat.maker_of_chip[None, :])
             & (release[None, :] > release[:, None]))
    nxt = np.where(later, release[None, :], 10**6).min(axis=1)
    before = np.clip(np.minimum(quarter + 1, nxt) - release, 0, None).astype(float)
    after = np.clip(quarter + 1 - nxt, 0, None).astype(float)
    k = fm.power(1.0 - decline_per_year, 0.25)
    tail = after if k == 1.0 else k * (1.0 - fm.power(np.full(n_chips, k), after)) / (1.0 - k)
    return cat.us_units_per_quarter * (before + tail)


class USGovernment(mesa.Agent):
    """Sets the US export rule each quarter: dated schedule first, then (``us_adaptive``) the TPP cap
    that tracks the best domestic chip, then a chance of reversal. Its rules say which chips may be
    exported to whom (``exportable``), who holds a licence (``apply_licences``) and what the US takes
    of each sale (``levy``)."""

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        p = model.p
        self.schedule = parse_schedule(p.us_policy_schedule, US_REGIMES)
        self.licence_schedule = parse_count_schedule(p.us_licence_schedule)
        self.regime, cap = split_regime(in_force_at(self.schedule, model.start, p.export_regime))
        self.tpp_cap = float(p.export_tpp_cap) if cap is None else cap
        self.reversals = 0
        self._exportable = (None, None)  # (quarter, rule) and its exportable()
        #: (J,) the quarter each product became licensable to China under the rules in force since (its
        #: licences applied for then; NEVER while it is not licensable)
        self.licensable_since = np.full(len(model.catalogue.names), NEVER)

    def step(self) -> None:
        self.apply_schedule()
        if self.model.p.us_adaptive and self.model.quarter % 4 == 0:
            self.track_domestic_frontier()
        self.maybe_reverse()
        self.track_licences()

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
            self.tpp_cap = m.p.us_adaptive_margin * float(m.catalogue.tpp[domestic].max())

    @property
    def rule(self) -> ExportRule:
        p = self.model.p
        return ExportRule(self.regime, p.export_lag_months, self.tpp_cap, p.export_bw_cap_gbs)

    def exportable(self) -> tuple[np.ndarray, np.ndarray]:
        """(to_anyone, to_licensed) over the catalogue's chips under the rule in force (read-only arrays,
        computed once per quarter and rule: the offer and both US makers' plans ask for them)."""
        key = (self.model.quarter, self.rule)
        if self._exportable[0] != key:
            arrays = us_exportable(self.rule, self.model.quarter, self.model.catalogue)
            for a in arrays:
                a.setflags(write=False)
            self._exportable = (key, arrays)
        return self._exportable[1]

    def track_licences(self) -> None:
        """A product the rule in force makes licensable to China enters the licence pipeline in the quarter
        it becomes so (application, inter-agency review, a US lab test of each shipment), and leaves it
        when the rule stops licensing it."""
        _, to_licensed = self.exportable()
        self.licensable_since = np.where(to_licensed, np.minimum(self.licensable_since, self.model.quarter),
                                         NEVER)

    def deliverable(self, quarter: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(to_anyone, to_licensed) that can reach Chinese buyers at ``quarter`` (default: now): what the
        rule exports, less licensed products still in the pipeline, ``us_licence_lead_quarters`` from the
        quarter they became licensable (0: at once)."""
        to_anyone, to_licensed = self.exportable()
        lead = self.model.p.us_licence_lead_quarters
        if lead == 0:
            return to_anyone, to_licensed
        when = self.model.quarter if quarter is None else quarter
        ready = to_licensed & (when - self.licensable_since >= lead)
        ready.setflags(write=False)
        return to_anyone, ready

    def levy(self) -> np.ndarray:
        """Share of each chip's China revenue the US takes: ``china_part_revenue_share`` on China
        parts (15%, Aug 2025), ``us_revenue_share`` on licensed chips (25%, Jan 2026); none under
        'open' and none on domestic chips."""
        p, cat = self.model.p, self.model.catalogue
        if self.regime == "open":
            return np.zeros(len(cat.names))
        rate = np.where(cat.china_part, p.china_part_revenue_share, p.us_revenue_share)
        return np.where(cat.is_us, rate, 0.0)

    @property
    def volume_capped(self) -> bool:
        """Whether licensed products are held to ``us_volume_cap_share`` of their US units."""
        return self.regime in ("threshold", "lagged")


    def volume_cap_left(self, release: np.ndarray, quarter: int, sold_to_china: np.ndarray) -> np.ndarray:
        """(J,) units of each product China may still take by ``quarter`` under the volume cap:
        ``us_volume_cap_share`` x its cumulative US shipments (``us_shipments_to_date``) less its cumulative
        China units (``sold_to_china``), never below 0."""
        p, cat = self.model.p, self.model.catalogue
        shipped = us_shipments_to_date(cat, release, quarter, p.us_units_decline_per_year)
        allowed = p.us_volume_cap_share * shipped
        return np.maximum(allowed - sold_to_china, 0.0)
    def maybe_reverse(self) -> None:
        """With probability ``us_reversal_prob`` tighten one level (the draw is made every quarter,
        so the random stream does not depend on the regime or on ``realize_reversals``)."""
        draw = self.model.rng.random()
        p = self.model.p
        if not p.realize_reversals:
            return
        if draw < p.us_reversal_prob and self.regime != "ban":
            self.regime = tighten_us(self.regime)
            self.reversals += 1

    @property
    def supply_cut_risk(self) -> float:
        """Probability developers assign to losing US supply within their planning horizon."""
        if self.regime == "ban":
            return 0.0
        p = self.model.p
        return 1.0 - fm.power(1.0 - p.us_reversal_prob, p.risk_horizon_quarters)

    # --- licences ------------------------------------------------------------------------------
    def licensed_customers(self) -> int:
        """Chinese customers holding a US licence now: the scheduled count, else 10."""
        return int(in_force_at(self.licence_schedule, self.model.quarter, DEFAULT_LICENSED_CUSTOMERS))

    def apply_licences(self, licensed_by_share: np.ndarray, base_demand: np.ndarray) -> np.ndarray:
        """Which developers hold a US licence this quarter. With ``us_licence_schedule``: the N
        developers with the largest budgets from each scheduled quarter (N the count in force); before
        its first entry, and without a schedule, the licences drawn at the start
        (``approved_customer_share``)."""
        if not self.licence_schedule or self.model.quarter < self.licence_schedule[0][0]:
            return licensed_by_share
        order = np.argsort(-base_demand, kind="stable")
        licensed = np.zeros(base_demand.shape[0], dtype=bool)
        licensed[order[:self.licensed_customers()]] = True
        return licensed

    def per_customer_cap(self) -> float:
        """Units of licensed chips all licensed customers together may take this quarter
        (``per_customer_cap_units`` x licensed customers / 4); inf when the cap is off."""
        cap = self.model.p.per_customer_cap_units
        return cap * self.licensed_customers() / 4.0 if math.isfinite(cap) else math.inf
