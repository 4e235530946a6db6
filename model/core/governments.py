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


def us_shipments_to_date(cat, release: np.ndarray, quarter: int, decline_per_year: float,
                         nxt: np.ndarray | None = None) -> np.ndarray:
    """(J,) units of each US product shipped to US end users from its release through ``quarter``:
    ``us_units_per_quarter`` a quarter until its maker's next product (not a China part) ships, then
    falling by ``decline_per_year`` a year (a factor k = (1 - decline)**(1/4) a quarter), summed in closed
    form: base x (quarters before the next) + base x k (1 - k**n) / (1 - k) over the n quarters after. A
    part designed to the rule (``generated``) is nobody's next product. ``nxt``: ``next_releases(cat,
    release)`` when the caller has it."""
    if nxt is None:
        nxt = next_releases(cat, release)
    # whole numbers of quarters, at least 0
    before = np.maximum(np.minimum(quarter + 1, nxt) - release, 0).astype(float)
    after = np.maximum(quarter + 1 - nxt, 0).astype(float)
    k = fm.power(1.0 - decline_per_year, 0.25)
    if k == 1.0:
        return cat.us_units_per_quarter * (before + after)
    # k**after chip by chip on the scalar path (the same bits as the array path, tests/test_fixedmath.py;
    # ``after`` takes a few whole numbers, each power kept by ``fm.power``)
    quarters = after.tolist()
    power_of = {a: fm.power(k, a) for a in set(quarters)}
    powers = np.array([power_of[a] for a in quarters], dtype=float).reshape(after.shape)
    return cat.us_units_per_quarter * (before + k * (1.0 - powers) / (1.0 - k))


def next_releases(cat, release: np.ndarray) -> np.ndarray:
    """(J,) the release quarter of each US product's next product of its maker (not a China part, not a
    designed part; 10**6: none), for ``us_shipments_to_date``."""
    main = cat.is_us & ~cat.china_part
    # (J x J): chip k is a later product of chip j's maker; nxt[j] = the first such release (or never)
    later = (main[:, None] & (main & ~cat.generated)[None, :]
             & (cat.maker_of_chip[:, None] == cat.maker_of_chip[None, :])
             & (release[None, :] > release[:, None]))
    return np.where(later, release[None, :], 10**6).min(axis=1)


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
        self.licensed_units = 0.0  # licensed units sold to China so far (the total cap)
        self._exportable = (None, None)  # (quarter, rule) and its exportable()
        #: (J,) the quarter each product became licensable to China under the rules in force since (its
        #: licences applied for then; NEVER while it is not licensable)
        self.licensable_since = np.full(len(model.catalogue.names), NEVER)
        self._rule = (None, None)  # (regime, TPP cap) and its ExportRule
        self._levy = (None, None, None)  # (catalogue, regime is open) and its levy()
        self._arrays: dict[bytes, np.ndarray] = {}  # exportable()'s arrays by contents
        self._shipped: tuple = (None, {})  # (catalogue, {(quarter, release): shipments, release: next})

    def describe(self) -> str:
        """The US rule in a few words (the UI's status line): the regime and, once licensed units have sold
        under the threshold, how much of the total licence cap they used."""
        if self.regime != "threshold" or self.licensed_units <= 0:
            return self.regime
        cap = self.model.p.us_licence_total_cap_units
        of = f" of {cap / 1e6:g}M" if math.isfinite(cap) else ""
        full = "; cap reached" if self.licence_total_left() <= 0 else ""
        return f"threshold (licensed units sold: {self.licensed_units / 1e6:.2f}M{of}{full})"

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
        """The rule in force (one object while the regime and the TPP cap stay: it is asked for often)."""
        key = (self.regime, self.tpp_cap)
        if self._rule[0] != key:
            p = self.model.p
            rule = ExportRule(self.regime, p.export_lag_months, self.tpp_cap, p.export_bw_cap_gbs)
            self._rule = (key, rule)
        return self._rule[1]

    def exportable(self) -> tuple[np.ndarray, np.ndarray]:
        """(to_anyone, to_licensed) over the catalogue's chips under the rule in force (read-only arrays,
        computed once per quarter and rule: the offer and both US makers' plans ask for them)."""
        key = (self.model.quarter, self.rule)
        if self._exportable[0] != key:
            arrays = us_exportable(self.rule, self.model.quarter, self.model.catalogue)
            self._exportable = (key, tuple(self._same_array(a) for a in arrays))
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
        return to_anyone, self._same_array(to_licensed & (when - self.licensable_since >= lead))
    def _same_array(self, a: np.ndarray) -> np.ndarray:
        """``a`` read-only, or the array of the same contents already handed out (so that what the offer
        derives from the rule's arrays is kept by identity from one quarter to the next)."""
        kept = self._arrays.setdefault(a.tobytes(), a)
        if kept is a:
            a.setflags(write=False)
            if len(self._arrays) > 64:
                self._arrays = {a.tobytes(): a}
        return kept

    def levy(self) -> np.ndarray:
        """Share of each chip's China revenue the US takes: ``china_part_revenue_share`` on China
        parts (15%, Aug 2025), ``us_revenue_share`` on licensed chips (25%, Jan 2026); none under
        'open' and none on domestic chips."""
        p, cat = self.model.p, self.model.catalogue
        if self._levy[0] is not cat or self._levy[1] != (self.regime == "open"):
            if self.regime == "open":
                levy = np.zeros(len(cat.names))
            else:
                levy = np.where(cat.is_us, np.where(cat.china_part, p.china_part_revenue_share,
                                                    p.us_revenue_share), 0.0)
            levy.setflags(write=False)
            self._levy = (cat, self.regime == "open", levy)
        return self._levy[2]

    @property
    def volume_capped(self) -> bool:
        """Whether licensed products are held to ``us_volume_cap_share`` of their US units."""
        return self.regime in ("threshold", "lagged")


    def volume_cap_left(self, release: np.ndarray, quarter: int, sold_to_china: np.ndarray) -> np.ndarray:
        """(J,) units of each product China may still take by ``quarter`` under the volume cap:
        ``us_volume_cap_share`` x its cumulative US shipments (``us_shipments_to_date``) less its cumulative
        China units (``sold_to_china``), never below 0."""
        p = self.model.p
        allowed = p.us_volume_cap_share * self.shipments_to_date(release, quarter)
        return np.maximum(allowed - sold_to_china, 0.0)

    def shipments_to_date(self, release: np.ndarray, quarter: int) -> np.ndarray:
        """``us_shipments_to_date`` of the model's catalogue (read-only), kept per catalogue, release
        quarters and ``quarter``: the offer and the makers' plans ask for this quarter's and the next."""
        cat = self.model.catalogue
        if self._shipped[0] is not cat:
            self._shipped = (cat, {})
        kept, at = self._shipped[1], release.tobytes()
        shipped = kept.get((quarter, at))
        if shipped is None:
            if len(kept) >= 16:
                kept.clear()
            nxt = kept.get(at)
            if nxt is None:
                nxt = kept[at] = next_releases(cat, release)
            shipped = kept[(quarter, at)] = us_shipments_to_date(
                cat, release, quarter, self.model.p.us_units_decline_per_year, nxt)
            shipped.setflags(write=False)
        return shipped

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
        its first entry, and without a schedule, the licences handed out at the start
        (``us_licence_allocation``, ``approved_customer_share``)."""
        if not self.licence_schedule or self.model.quarter < self.licence_schedule[0][0]:
            return licensed_by_share
        order = np.argsort(-base_demand, kind="stable")
        licensed = np.zeros(base_demand.shape[0], dtype=bool)
        licensed[order[:self.licensed_customers()]] = True
        return licensed

    def licence_cap(self) -> float:
        """Units of licensed chips all licensed customers together may take this quarter under 'threshold'
        (the rule whose licence terms they are; inf under any other): the per-customer cap
        (``per_customer_cap_units`` x licensed customers / 4) and what the total cap leaves."""
        p = self.model.p
        capped = math.isfinite(p.per_customer_cap_units) and self.regime == "threshold"
        per_quarter = p.per_customer_cap_units * self.licensed_customers() / 4.0 if capped else math.inf
        return min(per_quarter, self.licence_total_left())

    def licence_total_left(self) -> float:
        """Under 'threshold', licensed units the total cap still allows (``us_licence_total_cap_units`` less
        the licensed units sold so far, never below 0); inf when it is off or under any other rule."""
        if self.regime != "threshold":
            return math.inf
        return max(self.model.p.us_licence_total_cap_units - self.licensed_units, 0.0)

    def count_licensed(self, chips_sold: np.ndarray) -> None:
        """After the clearing, under 'threshold' (the rule whose licence terms the caps are): add this
        quarter's sales of products only licensed buyers may have."""
        if self.regime != "threshold":
            return
        _, to_licensed = self.deliverable()
        self.licensed_units += float(chips_sold[to_licensed & self.model.catalogue.is_us].sum())
