"""The per-agent reference: chipstack's rules as plain Mesa agents in pure Python.

This is the readable statement of what ``model.ChipMarketModel`` computes, written the way a first
Mesa model would be: every developer is a ``mesa.Agent`` holding its own state in Python lists and
floats, and its ``step()`` works out its own choice with the ``math`` module (utilities of the chips
it may buy, a logit over them, its order). The market clears with loops over agents and chips;
supply that runs short (a domestic maker's capacity, a US product's volume cap or stock, the
per-customer cap, Beijing's import cap: *supply groups*) is rationed and the unmet rest re-offered
round by round. No numpy inside any agent or rule: numpy is touched only to copy the initial state
and to draw from the model's random generator.

It is *not* fast, on purpose: ``benchmarks`` times it beside the vectorised model (INTERFACES §8,
``reference_agent_steps_per_s`` and ``speedup``), and ``tests/test_reference.py`` checks that the two
produce the same reporters, step by step, for the same parameters and seed.

Same initial state, same random numbers
---------------------------------------
Construction is not what is compared, so ``ReferenceModel`` builds a ``ChipMarketModel`` with the
same parameters and seed and copies its initial state (each developer's row of the population arrays,
its peers, the installed-base history scalars) into per-agent Python lists, then keeps drawing from
that model's generator, which sits exactly where the fast model's does after construction. Each
quarter the draws come in the fast model's order: the US government's reversal draw (one uniform,
drawn every quarter), then one log-normal demand shock per developer, in developer order.

The quarter (ODD, docs/ODD.md)
------------------------------------
1. chips whose (effective) release quarter has come are released;
2. the US government applies its schedule (a regime, and with ``threshold@CAP`` a TPP cap), then,
   if adaptive, sets each year's first quarter the TPP cap to a margin over the best domestic chip
   on sale, then tightens one level with probability ``us_reversal_prob``; Beijing applies its
   schedule and, if adaptive, tightens as domestic capacity covers demand;
3. chipmakers set this quarter's capacity; domestic makers pace their roadmap by R&D funded from
   revenue above plan;
4. the US licences in force are handed out (``us_licence_schedule``: the largest developers); the
   chips on sale, what the US lets through and to whom, this quarter's prices (the US levy by chip
   class, Beijing's subsidy, the cost of the domestic compute a pairing quota adds to a US chip)
   and the supply groups are posted;
5. developers: each observes its own installed shares; then each computes its pull towards each
   ecosystem (lock-in, peers, taste, government guidance), draws its demand, and orders over the
   chips it may legally buy by a logit; the market fills orders, rationing over-subscribed supply
   groups proportionally (a chip in several groups gets the smallest fill ratio) and re-offering
   the unmet rest over chips with supply left; each developer installs what it got (after
   depreciation);
6. revenue is booked, stock of products no longer made is drawn down, the domestic ecosystem
   learns, the reporters are computed.
"""

from __future__ import annotations

import math

import mesa

from model import ChipMarketModel
from model.core.agents import ADAPTIVE_THRESHOLDS, MAX_ROADMAP_SHIFT
from model.core.catalogue import CHIPS, ECOSYSTEMS, MAKERS, SALE_QUARTERS
from model.core.chip_market import MODEL_REPORTERS, USD_PER_H100E
from model.core.policy import CHINA_STANCES, US_REGIMES, parse_count_schedule, parse_schedule, split_regime
from model.core.population import SEGMENTS
from model.core.quarters import parse_quarter

CUDA, ROCM, DOMESTIC = range(3)
MAX_ROUNDS = 8  # rationing rounds per quarter
ROADMAP_FROM = parse_quarter("2026Q1")  # R&D moves only chips planned from this quarter on
NEVER = 40_000  # a quarter that never comes (no end of compliance, no end of production)
DEFAULT_LICENSED_CUSTOMERS = 10  # licences in force before a scheduled count says otherwise


def years_since_2026(quarter: int) -> float:
    return (quarter - parse_quarter("2026Q1")) / 4.0


# ------------------------------------------------------------------------------------------------
# Chips (plain objects: the catalogue plus this quarter's state)
class Chip:
    def __init__(self, index, spec, maker, model):
        self.index = index
        self.name = spec.name
        self.maker = maker  # Chipmaker agent
        self.ecosystem = maker.ecosystem
        self.is_us = maker.is_us
        self.planned_release = parse_quarter(spec.release)
        self.release = self.planned_release  # domestic chips move with R&D
        self.released = False
        self.perf = spec.perf_paper * (1.0 if self.is_us else model.domestic_efficiency)
        self.price_usd = spec.price_usd
        self.china_part = spec.china_part
        self.compliant_until = parse_quarter(spec.compliant_until) if spec.compliant_until else NEVER
        self.tpp = spec.tpp
        self.mem_bw_gbs = spec.mem_bw_gbs
        self.end_of_production = parse_quarter(spec.end_of_production) if spec.end_of_production else NEVER
        self.stock_left = float(spec.stock_units)  # units left to sell once no longer made
        self.us_units_per_quarter = spec.us_units_per_quarter
        # set each quarter
        self.china_price = self.price_usd  # what its maker books per unit sold in China
        self.buyer_cost = self.price_usd  # what a Chinese buyer pays per unit, all in
        self.on_sale = False
        self.to_anyone = False  # US may export it to any Chinese buyer
        self.to_licensed = False  # ... only to licensed (approved) buyers
        self.groups = []  # the supply groups it belongs to
        self.fill = 1.0  # share of this round's orders filled
        self.utility = 0.0  # the part of a developer's utility that is the same for everyone
        self.units_sold = 0.0

    def has_supply(self):
        """No supply group of this chip is exhausted."""
        return all(g.left > 0 for g in self.groups)


class SupplyGroup:
    """Chips that share a number of units they can still deliver this quarter: a domestic maker's
    capacity, a licensed US product's volume cap, a product's stock, the per-customer cap on all
    licensed products, Beijing's import cap on all US chips."""

    def __init__(self, name, chips, units):
        self.name = name
        self.chips = chips
        self.left = units
        self.fill = 1.0
        self.short = False
        for chip in chips:
            chip.groups.append(self)


# ------------------------------------------------------------------------------------------------
# Governments
class USGovernment(mesa.Agent):
    def __init__(self, model, regime, tpp_cap, schedule):
        super().__init__(model)
        self.regime = regime
        self.tpp_cap = tpp_cap
        self.schedule = schedule

    def step(self):
        m = self.model
        for q, value in self.schedule:
            if q == m.quarter:
                self.regime, cap = split_regime(value)  # "threshold@30000" also sets the TPP cap
                if cap is not None:
                    self.tpp_cap = cap
        if m.us_adaptive and m.quarter % 4 == 0:  # each year's first quarter
            best = [c.tpp for c in m.chips_on_sale_now() if not c.is_us]
            if best:
                self.tpp_cap = m.us_adaptive_margin * max(best)
        # the draw is made every quarter, whatever the regime (and even when reversals are only
        # priced in as risk, realize_reversals=False)
        draw = m.rng.random()
        if not m.realize_reversals:
            return
        if draw < m.us_reversal_prob and self.regime != "ban":
            self.regime = US_REGIMES[max(US_REGIMES.index(self.regime) - 1, 0)]

    def supply_cut_risk(self):
        if self.regime == "ban":
            return 0.0
        return 1.0 - (1.0 - self.model.us_reversal_prob) ** self.model.risk_horizon_quarters

    def may_export(self, chip, quarter):
        """(to anyone, to licensed buyers only) for a US chip this quarter."""
        released = chip.planned_release <= quarter
        china_ok = chip.china_part and quarter < chip.compliant_until and released
        if self.regime == "ban":
            return False, False
        if self.regime == "h20":
            return china_ok, False
        if self.regime == "threshold":  # strictly below both caps, and not a China part
            below = chip.tpp < self.tpp_cap and chip.mem_bw_gbs < self.model.export_bw_cap_gbs
            return china_ok, released and below and not chip.china_part
        if self.regime == "lagged":
            old_enough = released and 3 * (quarter - chip.planned_release) >= self.model.export_lag_months
            return china_ok, old_enough and not china_ok
        return released, False  # open

    def levy(self, chip):
        """Share of a chip's China revenue the US takes: none under 'open' or on domestic chips."""
        if self.regime == "open" or not chip.is_us:
            return 0.0
        return self.model.china_part_revenue_share if chip.china_part else self.model.us_revenue_share

    def volume_capped(self):
        """Licensed products are held to us_volume_cap_share of their US units."""
        return self.regime in ("threshold", "lagged")


class ChinaGovernment(mesa.Agent):
    def __init__(self, model, stance, schedule):
        super().__init__(model)
        self.stance = stance
        self.schedule = schedule

    def step(self):
        for q, value in self.schedule:
            if q == self.model.quarter:
                self.stance = value
        if self.model.china_adaptive:
            coverage = self.domestic_coverage()
            nxt = CHINA_STANCES[min(CHINA_STANCES.index(self.stance) + 1, len(CHINA_STANCES) - 1)]
            if nxt != self.stance and coverage >= ADAPTIVE_THRESHOLDS[nxt]:
                self.stance = nxt

    def domestic_coverage(self):
        """Share of expected demand that domestic capacity (as last set) could supply."""
        m = self.model
        on_sale = m.chips_on_sale_now()
        supply = 0.0
        for maker in m.makers:
            if maker.is_us or not math.isfinite(maker.capacity):
                continue
            best = [c.perf for c in on_sale if c.maker is maker]
            if best:
                supply += maker.capacity * max(best)
        expected = m.quarterly_budget_2026 * (1.0 + m.demand_growth) ** years_since_2026(m.quarter) / USD_PER_H100E
        return supply / expected if expected > 0 else 0.0

    def allows_us(self, dev):
        if self.stance == "open":
            return True
        if self.stance == "discourage":
            return not dev.state_affiliated if self.model.state_mandate else True
        if self.stance == "restrict":
            return dev.china_approved and not dev.state_affiliated
        return False  # ban

    def pressure(self, dev):
        """Utility penalty on the US ecosystems: a state-affiliated developer's standing preference
        for domestic chips, plus window guidance under discourage/restrict."""
        m = self.model
        penalty = m.state_domestic_preference if dev.state_affiliated else 0.0
        if self.stance in ("discourage", "restrict"):
            penalty = penalty + m.guidance_penalty * (m.state_guidance_multiplier if dev.state_affiliated else 1.0)
        return penalty

    def pairing_cost(self, chip, cheapest_domestic_per_h100e):
        """Cost of the domestic compute a buyer must buy with a US chip (pairing quota)."""
        if not chip.is_us or self.model.domestic_pairing_ratio <= 0 or cheapest_domestic_per_h100e is None:
            return 0.0
        return self.model.domestic_pairing_ratio * chip.perf * cheapest_domestic_per_h100e


# ------------------------------------------------------------------------------------------------
# Chipmakers
class Chipmaker(mesa.Agent):
    def __init__(self, model, index, spec, capacity_2026):
        super().__init__(model)
        self.index = index
        self.name = spec.name
        self.ecosystem = spec.ecosystem
        self.is_us = spec.stack == "US"
        self.capacity_2026 = capacity_2026
        self.revenue_2026_usd = spec.revenue_2026_usd
        self.capacity = math.inf
        self.revenue_usd = 0.0
        self.cumulative_revenue_usd = 0.0
        self.cumulative_reference_usd = 0.0
        self.chips = []

    def step(self):
        m = self.model
        if self.capacity_2026 is None:
            self.capacity = math.inf
        else:
            self.capacity = self.capacity_2026 / 4.0 * (1.0 + m.domestic_capacity_growth) ** years_since_2026(m.quarter)
        if not self.is_us:
            extra = self.cumulative_revenue_usd - self.cumulative_reference_usd
            shift = math.floor(extra * m.rd_share / m.rd_speedup_cost_usd)
            shift = max(-MAX_ROADMAP_SHIFT, min(MAX_ROADMAP_SHIFT, shift))
            for chip in self.chips:
                # only the roadmap ahead moves: chips planned before 2026Q1 shipped when history says
                if not chip.released and chip.planned_release >= ROADMAP_FROM:
                    chip.release = chip.planned_release - shift
                    if chip.release <= m.quarter:
                        chip.released = True

    def book_sales(self, revenue_usd):
        m = self.model
        self.revenue_usd = revenue_usd
        self.cumulative_revenue_usd += revenue_usd
        self.cumulative_reference_usd += self.revenue_2026_usd / 4.0 * (1.0 + m.demand_growth) ** years_since_2026(m.quarter)


# ------------------------------------------------------------------------------------------------
# AI developers
class AIDeveloper(mesa.Agent):
    """One Chinese AI developer, its state in Python lists (per chipmaker / per ecosystem)."""

    def __init__(self, model, index, segment, base_demand, licensed, china_approved, taste, installed):
        super().__init__(model)
        self.index = index
        self.segment = segment
        self.state_affiliated = segment == "state"
        self.base_demand = base_demand
        self.licensed_by_share = licensed  # drawn at the start (approved_customer_share)
        self.licensed = licensed  # holds a US licence this quarter
        self.china_approved = china_approved
        self.taste = taste  # [cuda, rocm, domestic]
        self.installed = installed  # H100e per chipmaker
        self.peers = []  # [(peer agent, weight)], weights sum to 1
        self.own = [0.0, 0.0, 0.0]
        self.pull = [0.0, 0.0, 0.0]
        self.menu = []  # chips it may legally buy this quarter
        self.demand = 0.0
        self.remaining = 0.0
        self.order = []  # [(chip, USD)] this round
        self.purchases = [0.0] * len(installed)
        self.unmet = 0.0

    def observe(self):
        """Own installed compute per ecosystem, as shares (read by peers)."""
        by_eco = [0.0, 0.0, 0.0]
        for maker, amount in zip(self.model.makers, self.installed):
            by_eco[maker.ecosystem] += amount
        total = by_eco[0] + by_eco[1] + by_eco[2]
        self.own = [x / total for x in by_eco] if total > 0 else [0.0, 0.0, 0.0]

    def step(self):
        """Pull towards each ecosystem, this quarter's demand, the chips it may buy, first order."""
        m = self.model
        peer = [0.0, 0.0, 0.0]
        for other, weight in self.peers:
            for e in range(3):
                peer[e] += weight * other.own[e]
        pressure = m.china_government.pressure(self)
        self.pull = [
            m.lockin_weight * self.own[e] + m.peer_weight * peer[e] + self.taste[e]
            - (pressure if e != DOMESTIC else 0.0)
            for e in range(3)
        ]
        self.demand = m.draw_demand(self.base_demand)
        china_ok = m.china_government.allows_us(self)
        self.menu = [
            c for c in m.chips_on_sale
            if not c.is_us or (china_ok and (c.to_anyone or (self.licensed and c.to_licensed)))
        ]
        self.remaining = self.demand
        self.purchases = [0.0] * len(self.installed)
        self.choose()

    def choose(self):
        """Logit over the chips on my menu that still have supply: split my remaining budget."""
        offered = [c for c in self.menu if c.has_supply()]
        if not offered:
            self.order = []
            return
        u = [c.utility + self.pull[c.ecosystem] for c in offered]
        top = max(u)
        w = [math.exp(x - top) for x in u]
        total = sum(w)
        self.order = [(c, self.remaining * wj / total) for c, wj in zip(offered, w)]

    def receive(self):
        """Get each order filled at its chip's fill ratio (a dollar buys perf/cost H100e); the
        unspent rest of the budget is still to spend."""
        spent = 0.0
        for chip, amount in self.order:
            paid = amount * chip.fill
            self.purchases[chip.maker.index] += paid * (chip.perf / chip.buyer_cost)
            spent += paid
        self.remaining = max(self.remaining - spent, 0.0)

    def install(self):
        keep = 1.0 - self.model.depreciation
        self.installed = [a * keep + b for a, b in zip(self.installed, self.purchases)]
        self.unmet = self.remaining


# ------------------------------------------------------------------------------------------------
class ReferenceModel(mesa.Model):
    """Same parameters and reporters as ``ChipMarketModel``; per-agent pure Python inside."""

    def __init__(self, rng: int | None = None, **params):
        fast = ChipMarketModel(rng=rng, **params)  # the same initial state (not timed, not compared)
        super().__init__(rng=rng)
        for name, value in fast.parameters.items():
            setattr(self, name, value)
        self.rng = fast.rng  # the generator, positioned where the fast model's is after construction
        self.start = parse_quarter(self.start_quarter)
        self.quarter = self.start
        self.depreciation = 1.0 / (4.0 * self.depreciation_years)
        self.quarterly_budget_2026 = self.demand_2026_usd / 4.0  # USD
        self.domestic_cumulative = fast.domestic_cumulative
        self.domestic_cumulative_anchor = fast.domestic_cumulative_anchor
        self.licence_schedule = parse_count_schedule(self.us_licence_schedule)

        self.us_government = USGovernment(self, fast.us_government.regime, fast.us_government.tpp_cap,
                                          parse_schedule(self.us_policy_schedule, US_REGIMES))
        self.china_government = ChinaGovernment(self, fast.china_government.stance,
                                                parse_schedule(self.china_policy_schedule, CHINA_STANCES))
        capacities = {"Huawei": self.huawei_capacity_2026, "Cambricon": self.cambricon_capacity_2026,
                      "MooreThreads": self.moore_threads_capacity_2026, "THead": self.thead_capacity_2026,
                      "Kunlunxin": self.kunlunxin_capacity_2026}
        self.makers = [Chipmaker(self, k, spec, capacities.get(spec.name)) for k, spec in enumerate(MAKERS)]
        by_name = {mk.name: mk for mk in self.makers}
        self.chips = [Chip(j, spec, by_name[spec.maker], self) for j, spec in enumerate(CHIPS)]
        for chip in self.chips:
            chip.maker.chips.append(chip)
            chip.released = chip.release <= self.start
        self.chips_on_sale = []
        self.groups = []
        self.short_groups = set()

        dev = fast.developers
        segment, base_demand = dev.segment.tolist(), dev.base_demand.tolist()
        licensed, approved = dev.licensed.tolist(), dev.china_approved.tolist()
        taste, installed = dev.taste.tolist(), dev.installed.tolist()
        self.developers = [
            AIDeveloper(self, i, SEGMENTS[segment[i]], base_demand[i], licensed[i], approved[i],
                        taste[i], installed[i])
            for i in range(len(segment))
        ]
        indptr, indices, data = dev.peers.indptr.tolist(), dev.peers.indices.tolist(), dev.peers.data.tolist()
        for i, d in enumerate(self.developers):
            d.peers = [(self.developers[indices[k]], data[k]) for k in range(indptr[i], indptr[i + 1])]
        # licences by schedule go to the largest developers (ties: the lower index first)
        self.by_size = sorted(self.developers, key=lambda d: -d.base_demand)
        del fast

        self.maturity = [1.0, self.rocm_maturity, self.domestic_maturity()]
        for name in MODEL_REPORTERS:
            setattr(self, name, 0.0)
        self.datacollector = mesa.DataCollector(model_reporters={name: name for name in MODEL_REPORTERS})

    # --- helpers ---------------------------------------------------------------------------------
    def draw_demand(self, base_demand):
        growth = (1.0 + self.demand_growth) ** years_since_2026(self.quarter)
        sd = self.demand_shock_sd
        if sd > 0:
            return base_demand * growth * math.exp(self.rng.normal(-0.5 * sd**2, sd))
        return base_demand * growth

    def chips_on_sale_now(self):
        """Chips offered in China now. A chip is on sale when it is released and still made (or in
        stock), and is not retired: a chip retires SALE_QUARTERS after its release, except its
        maker's newest such chip, a China part while it complies, and a US maker's newest chip that
        the US rule in force lets it sell to licensed Chinese customers."""
        q = self.quarter
        made = [c for c in self.chips if c.released and (q < c.end_of_production or c.stock_left > 0)]
        licensable = [c for c in made if c.is_us and not c.china_part
                      and self.us_government.may_export(c, q)[1]]
        on_sale = []
        for chip in made:
            newest = chip.release == max(c.release for c in made if c.maker is chip.maker)
            newest_licensable = chip in licensable and chip.release == max(
                c.release for c in licensable if c.maker is chip.maker)
            young = q < chip.release + SALE_QUARTERS
            complying_part = chip.china_part and q < chip.compliant_until
            if young or newest or complying_part or newest_licensable:
                on_sale.append(chip)
        return on_sale

    def domestic_maturity(self):
        if self.domestic_cumulative_anchor <= 0 or self.domestic_cumulative <= 0:
            return float(self.ecosystem_maturity_2026)
        ratio = self.domestic_cumulative / self.domestic_cumulative_anchor
        gap = (1.0 - self.ecosystem_maturity_2026) * ratio ** (-self.ecosystem_learning)
        return min(1.0, max(0.0, 1.0 - gap))

    def licensed_customers(self):
        """Chinese customers holding a US licence now: the scheduled count, else 10."""
        count = DEFAULT_LICENSED_CUSTOMERS
        for q, n in self.licence_schedule:
            if q <= self.quarter:
                count = n
        return count

    # --- the quarter -----------------------------------------------------------------------------
    def step(self):
        self.quarter = self.start + self.steps - 1
        for chip in self.chips:
            if chip.release <= self.quarter:
                chip.released = True
        self.us_government.step()
        self.china_government.step()
        for maker in self.makers:
            maker.step()
        self.apply_licences()
        self.post_chips()
        for d in self.developers:
            d.observe()
        for d in self.developers:
            d.step()
        self.clear_market()
        for d in self.developers:
            d.install()
        self.book_revenue()
        self.report()
        self.datacollector.collect(self)

    def apply_licences(self):
        """From the licence schedule's first quarter the N largest developers hold a licence (N the
        count in force); before it, and without a schedule, the licences drawn at the start hold."""
        if not self.licence_schedule or self.quarter < self.licence_schedule[0][0]:
            for d in self.developers:
                d.licensed = d.licensed_by_share
            return
        count = self.licensed_customers()
        for rank, d in enumerate(self.by_size):
            d.licensed = rank < count

    def post_chips(self):
        """What is on sale, what the US lets through, this quarter's prices, the utility common to
        every buyer, and the supply groups."""
        risk = self.us_government.supply_cut_risk()
        self.chips_on_sale = self.chips_on_sale_now()
        for chip in self.chips:
            chip.on_sale = chip in self.chips_on_sale
            chip.to_anyone, chip.to_licensed = (
                self.us_government.may_export(chip, self.quarter) if chip.is_us else (False, False))
            chip.china_price = chip.price_usd * (1.0 + self.revenue_passthrough * self.us_government.levy(chip))
            chip.buyer_cost = chip.china_price if chip.is_us else chip.price_usd * (1.0 - self.domestic_subsidy)
            chip.units_sold = 0.0
            chip.groups = []
        # a pairing quota adds to each US chip the cost of its H100e at the cheapest domestic chip on sale
        domestic = [c.buyer_cost / c.perf for c in self.chips_on_sale if not c.is_us]
        cheapest = min(domestic) if domestic else None
        for chip in self.chips:
            chip.buyer_cost = chip.buyer_cost + self.china_government.pairing_cost(chip, cheapest)
            chip.utility = (self.price_weight * math.log(chip.perf / (chip.buyer_cost / 1000.0))
                            + self.ecosystem_weight * self.maturity[chip.ecosystem]
                            - self.policy_risk_weight * (risk if chip.is_us else 0.0))
        self.groups = self.supply_groups()

    def supply_groups(self):
        """This quarter's supply groups and the units each can deliver."""
        groups = []
        for maker in self.makers:
            if math.isfinite(maker.capacity):
                groups.append(SupplyGroup(maker.name, maker.chips, maker.capacity))
        licensed_only = [c for c in self.chips_on_sale if c.is_us and c.to_licensed]
        if self.us_government.volume_capped():
            for chip in licensed_only:
                groups.append(SupplyGroup(f"{chip.name} volume cap", [chip],
                                          self.us_volume_cap_share * chip.us_units_per_quarter))
        for chip in self.chips_on_sale:
            if self.quarter >= chip.end_of_production:
                groups.append(SupplyGroup(f"{chip.name} stock", [chip], chip.stock_left))
        if math.isfinite(self.per_customer_cap_units) and licensed_only:
            groups.append(SupplyGroup("per-customer cap", licensed_only,
                                      self.per_customer_cap_units * self.licensed_customers() / 4.0))
        if math.isfinite(self.china_import_cap_units):
            groups.append(SupplyGroup("import cap", [c for c in self.chips if c.is_us],
                                      self.china_import_cap_units))
        return groups

    def clear_market(self):
        """Rounds of ordering and filling; an over-subscribed supply group rations every buyer of
        its chips alike, and a chip in several groups gets the smallest fill ratio."""
        total_demand = sum(d.demand for d in self.developers)
        self.rationed = False  # did any group run short this quarter (diagnostics for the tests)
        self.short_groups = set()  # ... and which
        for rnd in range(1, MAX_ROUNDS + 1):
            if rnd > 1:
                for d in self.developers:
                    d.choose()
            units = {chip: 0.0 for chip in self.chips}
            for d in self.developers:
                for chip, amount in d.order:
                    units[chip] += amount / chip.buyer_cost
            any_short = False
            for g in self.groups:
                wanted = sum(units[c] for c in g.chips)
                g.short = wanted > g.left
                g.fill = g.left / wanted if g.short else 1.0
                any_short |= g.short
                if g.short:
                    self.short_groups.add(g.name)
            for chip in self.chips:
                chip.fill = min([g.fill for g in chip.groups], default=1.0)
                chip.units_sold += units[chip] * chip.fill
            for g in self.groups:
                g.left -= sum(units[c] * c.fill for c in g.chips)
                # a short group whose own ratio bound all its chips is exhausted; one whose chip was
                # held lower by another group keeps what that chip did not take
                held_lower = any(c.fill < g.fill and units[c] > 0 for c in g.chips)
                if g.short and not held_lower:
                    g.left = 0.0
                g.left = max(g.left, 0.0)
            for d in self.developers:
                d.receive()
            self.rounds = rnd
            self.rationed |= any_short
            left = sum(d.remaining for d in self.developers)
            if not any_short or left <= 1e-12 * max(total_demand, 1.0):
                break

    def book_revenue(self):
        for maker in self.makers:
            maker.book_sales(sum(c.units_sold * c.china_price for c in maker.chips))
        for chip in self.chips:
            if self.quarter >= chip.end_of_production:  # sold from stock
                left = chip.stock_left - chip.units_sold
                chip.stock_left = left if left >= 1e-6 else 0.0  # sold out (the model's STOCK_SOLD_OUT)
        domestic = [mk.index for mk in self.makers if not mk.is_us]
        self.domestic_cumulative += sum(d.purchases[k] for d in self.developers for k in domestic)
        self.maturity[DOMESTIC] = self.domestic_maturity()

    def report(self):
        us = [mk.index for mk in self.makers if mk.is_us]
        inst_us = inst_all = new_us = new_all = unmet = 0.0
        on_us = 0
        for d in self.developers:
            d_us = sum(d.installed[k] for k in us)
            d_all = sum(d.installed)
            inst_us += d_us
            inst_all += d_all
            new_us += sum(d.purchases[k] for k in us)
            new_all += sum(d.purchases)
            on_us += d_us > 0.5 * d_all
            unmet += d.unmet
        n = len(self.developers)
        self.us_stack_share = inst_us / inst_all if inst_all > 0 else 0.0
        self.us_share_new = new_us / new_all if new_all > 0 else 0.0
        self.developers_on_us_stack = on_us / n if n else 0.0
        self.china_compute_h100e = inst_all
        self.nvidia_china_revenue_usd = sum(c.units_sold * c.china_price for c in self.chips
                                            if c.maker.name == "Nvidia")
        self.domestic_revenue_usd = sum(c.units_sold * c.china_price for c in self.chips if not c.is_us)
        self.domestic_ecosystem = self.maturity[DOMESTIC]
        self.capability_gap_months = self.capability_gap()
        self.unmet_demand_h100e = unmet / USD_PER_H100E

    def capability_gap(self):
        """Months since the US frontier first reached the best chip China can make or legally buy
        (licensed buyers included; Beijing's own stance is a choice, not a capability)."""
        usable = [c.perf for c in self.chips
                  if (not c.is_us and c.released)
                  or (c.on_sale and (not c.is_us or c.to_anyone or c.to_licensed))]
        china_best = max(usable) if usable else 0.0
        us_released = [c for c in self.chips if c.is_us and c.planned_release <= self.quarter]
        if not us_released or china_best >= max(c.perf for c in us_released):
            return 0.0
        reached = [c.planned_release for c in us_released if c.perf >= china_best]
        first = min(reached) if reached else min(c.planned_release for c in us_released)
        return float(3 * (self.quarter - first))

    def run(self, steps=20):
        for _ in range(steps):
            self.step()
        return self.datacollector.get_model_vars_dataframe().reset_index(drop=True)


__all__ = ["ReferenceModel", "ECOSYSTEMS"]
