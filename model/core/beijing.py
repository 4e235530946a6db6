"""Beijing as a Mesa agent: what it lets in of each US product, whom it approves, and its other instruments.

ODD §7.1-7.1b. With ``china_import_policy = "decides"`` it decides each US product's level by its rule
(``ChinaGovernment.decide``); under a stance (``china_import_policy``, its dated schedule,
``china_adaptive``) the stance sets every US product's level. Its other instruments: guidance and the
state mandate on state-affiliated developers, the domestic subsidy, the pairing quota and the import cap.
Pure parts in ``model.core.policy``; sources in docs/SOURCES.md §C2-§C3 via ``model.core.parameters``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

from model.core.catalogue import DOMESTIC, ECOSYSTEMS
from model.core.market import Pairing, best_domestic_perf, on_sale
from model.core.policy import (
    APPROVAL,
    BLOCKED,
    CHINA_STANCES,
    DECIDES,
    DISCOURAGED,
    GUIDED,
    HELD,
    OPEN,
    PRODUCT_LEVELS,
    STANCE_LEVEL,
    ExportRule,
    access_by_class,
    access_class,
    beijing_tier,
    in_force_at,
    parse_schedule,
    scheduled_value,
    tier_max_level,
    tighten_china,
    us_exportable,
)
from model.core.population import largest_first
from model.core.quarters import format_quarter, parse_quarter

if TYPE_CHECKING:  # pragma: no cover
    from model.core.chip_market import ChipMarketModel

#: Domestic coverage of demand at which an adaptive Beijing tightens to discourage / restrict / ban
#: (ASSUMPTION; reported localisation target 55% by 2027, SOURCES §C2, L).
ADAPTIVE_THRESHOLDS = {"discourage": 0.3, "restrict": 0.5, "ban": 0.8}
#: The first quarter of Beijing's record: the Oct 2022 US rule (§C1 H); ``ChinaGovernment.warm_start``.
RECORD_FROM = parse_quarter("2022Q4")


#: The share of its makers' output domestic buyers may leave that Beijing still counts as sold out (rounding).
SOLD_OUT = 1e-9


class ChinaGovernment(mesa.Agent):
    """Beijing: what it lets in of each US product (``levels``, ``PRODUCT_LEVELS``), whom it approves, and
    its other instruments: guidance and the state mandate (``pressure``), the domestic subsidy and pairing
    quota (``buyer_cost``) and the import cap (ODD §7.1).

    With the policy ``decides`` it decides each product's level by its rule (``decide``); otherwise its stance
    (``china_import_policy``, its dated schedule, ``china_adaptive``) sets every US product's level."""

    def __init__(self, model: ChipMarketModel):
        super().__init__(model)
        p = model.p
        self.schedule = parse_schedule(p.china_policy_schedule, CHINA_STANCES)  # dated stances only
        self.stance = in_force_at(self.schedule, model.start, p.china_import_policy)
        self.domestic_coverage = 0.0
        n_chips = len(model.catalogue.names)
        self.levels = np.full(n_chips, OPEN)  # (J,) what it lets in of each US product
        self.since = np.zeros(n_chips, dtype=int)  # (J,) quarter each product reached its level
        self.matched_quarters = np.zeros(n_chips, dtype=int)  # (J,) quarters offered while matched
        self.offered_before = np.zeros(n_chips, dtype=bool)  # (J,) the US rule let it in before
        self.decisions: list[tuple[str, str, str, str]] = []  # (quarter, chip, level, reason)
        self.pairing: Pairing | None = None  # this quarter's pairing quota (``buyer_cost``)
        self.pairing_ratio = 0.0  # the quota Beijing's rule sets when it decides (``decide_pairing``)
        self._memo: dict[str, tuple] = {}  # rule name -> (key, value) of _kept
        if self.deciding:
            self.warm_start()

    def step(self) -> None:
        self.apply_schedule()
        if self.deciding:
            self.decide()
            return
        if self.model.p.china_adaptive:
            self.tighten_as_supply_grows()
        self.levels[:] = STANCE_LEVEL[self.stance]

    @property
    def deciding(self) -> bool:
        """Whether Beijing decides product by product (the policy ``decides``), not holding a stance."""
        return self.stance == DECIDES

    def apply_schedule(self) -> None:
        value = scheduled_value(self.schedule, self.model.quarter)
        if value is not None:
            self.stance = value

    def tighten_as_supply_grows(self) -> None:
        """Tighten one level when domestic capacity covers the next threshold share of demand."""
        self.domestic_coverage = self.model.domestic_coverage()
        nxt = tighten_china(self.stance)
        if nxt != self.stance and self.domestic_coverage >= ADAPTIVE_THRESHOLDS[nxt]:
            self.stance = nxt

    # --- Beijing decides (the policy "decides") ------------------------------------------------------
    def decide(self) -> None:
        """This quarter's levels for the US products the US rule in force lets into China (ODD 7.1b; the
        ladder itself is ``apply_ladder``), and its pairing quota (``decide_pairing``)."""
        m = self.model
        to_anyone, to_licensed = m.us_government.exportable()
        sale = m.on_sale(to_licensed)
        self.apply_ladder(m.quarter, m.catalogue.is_us & (to_anyone | to_licensed), sale, m.released)
        self.decide_pairing()

    def decide_pairing(self) -> None:
        """Beijing's pairing rule (ODD 7.1b), a condition of its approvals: while it approves a US product
        (level ``approval``) it pairs approved imports with the domestic output its own buyers left last
        quarter, ``beijing_pairing_max`` x the share of its makers' output (units) not bought directly by
        domestic buyers (unsold, or sold in pairing bundles); none in a run's first quarter. Its aim:
        domestic makers' output sold without denying developers compute, so no quota while domestic
        buyers take all the domestic output (a quota would then only ration imports)."""
        m = self.model
        makers = [mk for mk in m.chipmakers if mk.is_domestic and math.isfinite(mk.capacity)]
        capacity = math.fsum(mk.capacity for mk in makers)
        approving = bool((m.catalogue.is_us & (self.levels == APPROVAL)).any())
        if m.p.beijing_pairing_max <= 0 or m.steps <= 1 or capacity <= 0 or not approving:
            self.pairing_ratio = 0.0
            return
        bound = np.isin(m.catalogue.maker_of_chip, [mk.index for mk in makers])
        sold = math.fsum(m.chips_sold[bound].tolist())
        bundled = 0.0 if self.pairing is None else math.fsum((self.pairing.units * m.chips_sold).tolist())
        left = 1.0 - (sold - bundled) / capacity
        self.pairing_ratio = m.p.beijing_pairing_max * left if left > SOLD_OUT else 0.0

    def warm_start(self) -> None:
        """Beijing's state at the start of a run that begins after ``RECORD_FROM``: its rule run over the
        quarters before, with the China parts the US let in then (the rules of Oct 2022 to 2025, §C1 H) and
        the catalogue's chips as they were on sale."""
        m = self.model
        cat, rule = m.catalogue, ExportRule("h20")
        no_stock, no_licences = np.zeros(len(cat.names)), np.zeros(len(cat.names), dtype=bool)
        for q in range(RECORD_FROM, m.start):
            released = cat.release <= q
            to_anyone, _ = us_exportable(rule, q, cat)
            sale = on_sale(q, cat, cat.release, released, no_stock, no_licences)
            self.apply_ladder(q, to_anyone, sale, released)

    def apply_ladder(self, q: int, exportable: np.ndarray, sale: np.ndarray, released: np.ndarray) -> None:
        """One quarter of Beijing's rule (ODD 7.1b), k = ``china_review_quarters``: ``exportable`` the US
        products the US rule lets in, ``sale`` the chips on sale in China, ``released`` the chips released
        by quarter ``q``. A product is matched when the best domestic chip on sale gives at least
        ``china_match_ratio`` x its effective performance. A known product that has held its level k
        quarters moves: matched and offered k quarters while matched (or held), ``guided``; guided and
        still matched, ``blocked``; held, or open once Beijing acts, and not matched, ``approval``. A
        product offered for the first time takes the level of the strictest guided or blocked product it
        does not outperform, else is held while Beijing acts. No level falls but a hold ending in
        approval."""
        m, k = self.model, self.model.p.china_review_quarters
        cat = m.catalogue
        complying = cat.china_part & (q < cat.compliant_until) & released
        offered = exportable & (sale | complying)
        best = best_domestic_perf(m.perf, sale, cat.is_us)
        matched = offered & (best >= m.p.china_match_ratio * m.perf)
        restricting = (self.levels == GUIDED) | (self.levels == BLOCKED)
        acting = bool(restricting.any())
        first_time = offered & ~self.offered_before
        reviewed = (q - self.since >= k) & ~first_time
        for j in np.flatnonzero(offered & reviewed & (self.levels != BLOCKED)):
            level = self.levels[j]
            if matched[j] and level == GUIDED:
                self._set(j, q, BLOCKED, "matched by a domestic chip, guidance held")
            elif matched[j] and (level == HELD or self.matched_quarters[j] >= k):
                self._set(j, q, GUIDED, "matched by a domestic chip, reviewed")
            elif not matched[j] and (level == HELD or (acting and level == OPEN)):
                self._set(j, q, APPROVAL, "not matched: only when necessary")
        restricting = (self.levels == GUIDED) | (self.levels == BLOCKED)  # with this quarter's decisions
        for j in np.flatnonzero(first_time):
            precedent = restricting & (m.perf >= m.perf[j])
            if precedent.any():
                level = int(self.levels[precedent].max())
                self._set(j, q, level, "no better than a product already restricted")
            elif restricting.any():
                self._set(j, q, HELD, "new product, held at customs for review")
        self.matched_quarters += matched
        self.offered_before |= offered

    def _set(self, j: int, q: int, level: int, reason: str) -> None:
        self.levels[j], self.since[j] = level, q
        name = self.model.catalogue.names[j]
        self.decisions.append((format_quarter(q), name, PRODUCT_LEVELS[level], reason))

    def stops(self) -> np.ndarray:
        """(J,) products Beijing guides buyers away from or blocks at customs (a maker's China orders for
        them stop)."""
        return (self.levels == GUIDED) | (self.levels == BLOCKED)

    def describe(self) -> str:
        """Beijing's position in a few words (the UI's status line): its stance; when it decides, this
        quarter's decisions with their reasons, else the US products it restricts now."""
        return self._position() + self._pairing_text()

    def _position(self) -> str:
        if not self.deciding:
            return self.stance
        now = format_quarter(self.model.quarter)
        made = [f"{chip} {level} ({reason})" for q, chip, level, reason in self.decisions if q == now]
        if made:
            return "decides: " + "; ".join(made)
        names, is_us = self.model.catalogue.names, self.model.catalogue.is_us
        held = [f"{names[j]} {PRODUCT_LEVELS[self.levels[j]]}"
                for j in np.flatnonzero(is_us & self.offered_before & (self.levels >= APPROVAL))]
        return "decides: " + (", ".join(held) if held else "no US product restricted")

    def _pairing_text(self) -> str:
        """The pairing quota in force, for ``describe`` ('' without one)."""
        if self.pairing is None:
            return ""
        names = self.model.catalogue.names
        covered = [names[j] for j in np.flatnonzero(self.pairing.units > 0)
                   if self.model.sellable_now[j]]
        return (f"; pairing quota {self.pairing.ratio:.2f} H100e of {names[self.pairing.chip]} per imported "
                f"H100e" + (f" ({', '.join(covered)})" if covered else ""))

    def approved(self, base_demand: np.ndarray, state_affiliated: np.ndarray, licensed: np.ndarray,
                 drawn: np.ndarray) -> np.ndarray:
        """Which developers Beijing approves: when it decides, the largest private developers holding a
        US licence, in order of base demand, until they hold ``china_approved_demand_share`` of those
        developers' demand (ByteDance, Alibaba and Tencent first, Jan 28 2026: firms that had ordered
        licensed chips); otherwise those drawn at the start (``drawn``)."""
        if not self.deciding:
            return drawn
        eligible = ~state_affiliated & licensed
        share = self.model.p.china_approved_demand_share
        return self._kept(("approved", base_demand.tobytes(), eligible.tobytes()),
                          lambda: largest_first(base_demand, eligible, share))

    @property
    def guidance_on(self) -> bool:
        """Whether window guidance (the utility penalty) is in force: some US product is discouraged, needs
        approval, is guided or held (the stances 'discourage' and 'restrict')."""
        return bool(((self.levels >= DISCOURAGED) & (self.levels < BLOCKED)).any())

    def uniform_level(self) -> int | None:
        """The level of every US product when they all have the same one (always so under a stance)."""
        us_levels = self.levels[self.model.catalogue.is_us]
        return int(us_levels[0]) if us_levels.size and (us_levels == us_levels[0]).all() else None

    def access(self, us_rows: np.ndarray) -> np.ndarray:
        """The chips each access class may buy, given the US rule's view ``us_rows`` (3 x J). With one
        level for every US product it is ``us_rows`` itself (class 0: Beijing lets the developer buy no US
        chip; 1: those exportable to anyone; 2: also licensed ones); otherwise
        ``policy.access_by_class`` (6 x J: class = 2 x tier + licensed)."""
        if self.uniform_level() is not None:
            return us_rows
        return access_by_class(us_rows, self.model.catalogue.is_us, self.levels, self.model.p.state_mandate)

    def access_classes(self, state_affiliated: np.ndarray, approved: np.ndarray,
                       licensed: np.ndarray) -> np.ndarray:
        """(n,) each developer's row of ``access``: with one level for every US product, 0 when its tier
        may not buy at that level, else 1 + licensed; otherwise ``policy.access_class`` of its tier."""
        tiers = beijing_tier(state_affiliated, approved)
        level = self.uniform_level()
        if level is None:
            return access_class(tiers, licensed)
        ok = tier_max_level(self.model.p.state_mandate)[tiers] >= level
        return np.where(ok, 1 + np.asarray(licensed, dtype=np.intp), 0).astype(np.intp)

    def pressure(self, state_affiliated: np.ndarray) -> np.ndarray:
        """(n x E) utility penalty on the US ecosystems: state-affiliated developers' standing
        preference for domestic chips, plus Beijing's window guidance when it is in force (read-only,
        kept while the guidance and the developers stay the same)."""
        return self._kept(("pressure", self.guidance_on, state_affiliated.tobytes()),
                          lambda: self._pressure(state_affiliated))

    def _kept(self, key: tuple, compute) -> np.ndarray:
        """``compute()``, reused while ``key`` (the rule's name, the stance, the developers) is unchanged."""
        if self._memo.get(key[0], (None,))[0] != key:
            value = compute()
            value.setflags(write=False)
            self._memo[key[0]] = (key, value)
        return self._memo[key[0]][1]

    def _pressure(self, state_affiliated: np.ndarray) -> np.ndarray:
        p = self.model.p
        per_dev = np.where(state_affiliated, p.state_domestic_preference, 0.0)
        if self.guidance_on:
            per_dev = per_dev + p.guidance_penalty * np.where(state_affiliated,
                                                              p.state_guidance_multiplier, 1.0)
        pressure = np.zeros((state_affiliated.shape[0], len(ECOSYSTEMS)), order="F")
        pressure[:, :DOMESTIC] = per_dev[:, None]
        return pressure

    def buyer_cost(self, china_price: np.ndarray, perf: np.ndarray, on_sale: np.ndarray) -> np.ndarray:
        """What buyers pay per chip: the China price of US chips, the subsidised China price of domestic
        ones, plus the cost of the domestic compute a pairing quota requires with each US chip (and the
        quota this quarter, ``pairing``, that the market clears as a bundle)."""
        cat = self.model.catalogue
        cost = np.where(cat.is_us, china_price, china_price * (1.0 - self.model.p.domestic_subsidy))
        self.pairing = self.pairing_quota(cost, perf, on_sale)
        return cost + self.pairing_cost(cost, perf)

    def pairing_quota(self, buyer_cost: np.ndarray, perf: np.ndarray, on_sale: np.ndarray) -> Pairing | None:
        """The pairing quota in force: with each US chip it covers a buyer takes ratio x its H100e of the
        domestic chip on sale with the lowest cost per H100e. The ratio is ``domestic_pairing_ratio`` on
        every US chip when set; else, when Beijing decides, its own (``decide_pairing``) on the products it
        approves (a condition of approval). None without a quota or a domestic chip on sale."""
        ratio, cat = self.model.p.domestic_pairing_ratio, self.model.catalogue
        covered = cat.is_us
        if ratio <= 0 and self.deciding:  # no quota set: Beijing's own, on what it approves
            ratio, covered = self.pairing_ratio, cat.is_us & (self.levels == APPROVAL)
        domestic = np.flatnonzero(on_sale & ~cat.is_us)
        if ratio <= 0 or not len(domestic) or not covered.any():
            return None
        chip = int(domestic[np.argmin(buyer_cost[domestic] / perf[domestic])])
        return Pairing(chip, float(ratio), np.where(covered, ratio * perf / perf[chip], 0.0))

    def pairing_cost(self, buyer_cost: np.ndarray, perf: np.ndarray) -> np.ndarray:
        """Extra cost per US chip of the domestic compute a buyer must pair with it under ``pairing``
        (the quota's ratio x its H100e x the paired chip's cost per H100e, on the chips it covers)."""
        if self.pairing is None:
            return np.zeros(len(buyer_cost))
        k = self.pairing.chip
        per_h100e = float(buyer_cost[k] / perf[k])
        return np.where(self.pairing.units > 0, self.pairing.ratio * perf * per_h100e, 0.0)

    @property
    def import_cap(self) -> float:
        """Most US chips Beijing lets in this quarter (inf: no cap)."""
        return self.model.p.china_import_cap_units
