"""The per-agent reference: chipstack's rules as plain Mesa agents in pure Python.

This is the readable statement of what ``model.ChipMarketModel`` computes, written the way a first
Mesa model would be: every developer is a ``mesa.Agent`` holding its own state in Python lists and
floats, and its ``step()`` works out its own choice with the ``math`` module (utilities of the chips
it may buy, a logit over them, its order). The market clears with loops over agents and chips;
supply that runs short (a domestic maker's output, a US product's volume cap or China stock, the
per-customer cap, Beijing's import cap: *supply groups*) is rationed and the unmet rest re-offered
round by round; chipmakers decide their supply per product; budget is stockpiled ahead, and what
China's market cannot take (with what a developer set aside for US chips it may not buy there) is
spent abroad or on the grey market, or carried over. No numpy inside any agent
or rule: numpy is touched only to copy the initial state, to read the catalogue's parsed quarters
and to draw from the model's random generator.

What is shared and what is not: the reference states the *rules* again, independently; the *data*
it takes from the model's single owners: the catalogue (``MAKERS``, ``CHIPS``, ``catalogue_arrays``,
``SALE_QUARTERS``, ``ROADMAP_FROM``, which makers are domestic), the parameter table (``PARAMS``: names,
defaults and validation; a domestic maker's capacity parameter is its catalogue entry's ``capacity.param``),
the calendar (``model.core.quarters``) and the model's named constants (``HBM_FROM``, ``STOCK_SOLD_OUT``,
``USD_PER_H100E``, ``ADAPTIVE_THRESHOLDS``, ``MAX_ROADMAP_SHIFT``, the rounds of ``clear_market``, the
h20-era caps ``H20_ERA_CAPS``, the H100's TPP and bandwidth, ``NEVER``); the catalogue's slots for parts
designed in a run (``design_slots``: their names and places) are data too.

It is *not* fast, on purpose: ``benchmarks`` times it beside the vectorised model (INTERFACES §8,
``reference_agent_steps_per_s`` and ``speedup``), and ``tests/test_reference.py`` checks that the two
produce the same reporters, step by step, for the same parameters and seed.

Same initial state, same random numbers
---------------------------------------
Construction is not what is compared, so ``ReferenceModel`` builds a ``ChipMarketModel`` with the
same parameters and seed and copies its initial state (each developer's row of the population arrays,
its peers, the installed-base history scalars, and each chip's units bought before the start and still
in service: the backcast's legacy channel) into per-agent Python lists, then keeps drawing from
that model's generator, which sits exactly where the fast model's does after construction. Each
quarter the draws come in the fast model's order: the US government's reversal draw (one uniform,
drawn every quarter), then one log-normal demand shock per developer, in developer order.

The quarter (ODD, docs/ODD.md)
------------------------------------
1. chips whose (effective) release quarter has come are released;
2. the US government applies its schedule (a regime, and with ``threshold@CAP`` a TPP cap), then,
   if adaptive, sets each year's first quarter the TPP cap to a margin over the best domestic chip
   on sale, then tightens one level with probability ``us_reversal_prob``; a product the rule in force
   (as it now stands) licenses to China enters the licence pipeline the first quarter it does, and leaves
   it when the rule no longer licenses it (``USGovernment.track_licences``): it reaches licensed buyers
   ``us_licence_lead_quarters`` after it entered (0: at once), and the market and the makers' plans see
   it so (``deliverable``), while Beijing and the makers' design see the rule; Beijing applies its
   schedule and, if adaptive, tightens as domestic capacity (as last set) covers demand. With
   the policy ``decides`` (``china_decides``) Beijing instead sets a level for each US product offered in
   the US rule in force, and on sale or a complying China part) by its rule (``ChinaGovernment.apply_rule``),
   having first walked its record from 2022Q4 to the quarter before the start under the h20 rule with the
   catalogue's chips (``warm_start``); it approves the largest private developers, by base demand, up to
   ``china_approval_share`` of private demand (midpoint rule); a developer may buy a US product at level
   open, discouraged (not a state-affiliated one under the state mandate) or, when approved, approval, and
   none that is guided, held or blocked; window guidance is on while some product is discouraged, needs
   approval, is guided or held;
3. chipmakers design and decide their supply. A US maker first designs to the US rule (from 2026, with
   ``design_to_rule``), on two tracks in turn: a licensed product (caps under 'threshold': its TPP cap
   and the bandwidth cap) and a China part (the h20-era caps, under 'threshold' and 'h20': China parts
   stay exportable to anyone under the threshold); a track has no caps under 'ban', 'lagged' and 'open'.
   On each track a design of its not yet released whose caps are no longer the track's is dropped (its
   slot is empty again); with none under way on the track and an empty slot, when the caps are not those
   it last answered on the track (at first none for the licensed product, the h20-era caps for the China
   part; caps count as answered once it designed to them, even when no better part came of it or the part
   was dropped) or its best chip China may buy on the track (one the rule lets a licensed buyer have for
   the licensed product, one any buyer may have for the China part) falls behind the best domestic chip
   on sale, it cuts a part from its newest released chip (not a China part, not a designed one): TPP and
   bandwidth (1 - ``design_margin``) x the caps, neither above the parent's, the performance index
   sqrt(H100e x bandwidth / the H100's), the parent's price per unit of performance; if that beats that
   best chip, the part takes its maker's first empty slot (the tracks share the slots), released
   ``design_lead_quarters`` later: a China part on the China-part track, else a licensed product whose
   volume cap counts its parent's US units; either way it can make ``us_china_production_share`` of the
   parent's US units a quarter for China. A designed part
   is no one's next product and is not sold abroad (nor smuggled). A domestic maker first prices (after
   2026Q1: its markup over list moves by ``domestic_price_response`` x last quarter's (orders - output) /
   max(orders, output), within [0, ``domestic_markup_max``]), then sets its foundry
   capacity (the 2026 level grown at ``domestic_capacity_growth``; before 2026 its sourced 2025 output on
   that path, if it has one; plus what reinvested revenue bought, from 2026) and paces its roadmap by R&D
   funded from revenue above plan. A US maker, for each of its products: last quarter's China
   production joins the China stock (a product whose production ends now is left with its catalogue
   ``stock_units``); it expects orders by smoothing the orders it saw (at its production limit when
   it had nothing to deliver: it launches the product); it plans next quarter's production (the
   expected sales it may ship, at most the volume cap, less the stock it will still hold, times the
   chance the rule holds, within [0, limit]; nothing for a product it may not sell to China or will
   no longer make); with ``makers_weigh_margin`` also nothing unless the product's China line runs
   (``run_line``): it may run while the US rule in force permits the product (the pipeline aside), the
   maker makes it next quarter and a unit pays, (1 - risk) x (China price x (1 - levy) - cost) >= risk x
   cost, cost = list price x (1 - the maker's gross margin), risk 1 when Beijing stops the product (guided,
   blocked; the stance 'ban') else ``us_reversal_prob``; a running line that may not run halts and the
   stock of a product that is not a China part goes to other buyers; a halted line restarts
   ``maker_restart_quarters`` after it may run again (a lapse starts the count again); an idle line (never
   run; a China stock at the start means it ran) starts when it may run; and it sets the product's
   scarcity (orders / supply - 1, within [0, 1]);
4. from 2026Q1, domestic HBM output joins the HBM stock; when the makers' need at full foundry output
   exceeds it, each HBM-using maker gets its share of the stock in proportion to its need, and its
   output this quarter is the smaller of foundry capacity and what its HBM allows;
5. the US licences in force are handed out (``us_licence_schedule``: the largest developers); the
   chips on sale, what the US lets through and to whom (licensed products once through the pipeline),
   this quarter's prices (the share ``revenue_passthrough`` x scarcity of the US levy, domestic markups,
   Beijing's subsidy, the cost of the domestic compute a pairing quota adds to a US chip) and the supply
   groups (domestic makers' output, volume caps, each US product's China stock and any product sold from
   stock, the per-customer and import caps) are posted;
6. developers: each observes its own installed shares (in China, and abroad: the chips it owns there
   and what it rented there last quarter); then each computes its
   pull towards each ecosystem (lock-in, peers, taste, government guidance), its budget (a demand
   draw on its base demand grown at ``demand_growth`` a year from 2025 on and, in a replay, fallen
   back at ``history_growth`` a year before 2025, plus the carried-over unspent budget, less the
   repayment of budget brought forward to stockpile); this quarter's frontier US chip (most H100e per
   dollar among the US chips sold anywhere) and grey chip (the same choice among those released at
   least ``grey_lag_quarters`` ago) are picked, and a private developer that may not legally buy the
   grey chip sets ``grey_frontier_share`` of its budget aside for it (its frontier budget); each
   orders over the chips it may legally buy by a logit, with the rest of its budget; the market fills
   orders, rationing over-subscribed supply groups proportionally (a chip in several groups gets the
   smallest fill ratio) and re-offering the unmet rest over chips with supply left; the first round's
   units per chip are the orders makers see;
7. stockpiling: a developer who may buy a US chip with supply left and expects a US supply cut
   brings budget forward and buys US chips with the supply left (a second clearing over US chips
   only), to repay from later budgets;
8. what China's market did not take goes abroad (a private developer's share of its budget, less
   after the US offshore rule): ``offshore_owned_share`` of it buys the frontier chip at
   ``offshore_cost_premium`` over its price (owned abroad, a stock that depreciates), the rest rents the
   frontier chip for this quarter only, at ``offshore_rent_usd_per_h100e_hour`` x the hours in a
   quarter (2191.5) x the chip's FLOP-based H100e x 2^(-years since 2026 /
   ``us_flop_per_usd_doubling_years``) a chip (a flow: last quarter's rentals are gone; they counted
   in this quarter's pull, step 6); what is left of it (private developers) and the frontier budgets go
   to the grey market, which sells grey chips at a premium over list where the smugglers' supply
   (``grey_supply_units`` x (1 - ``grey_seizure_share``) x premium units) meets the developers' demand
   (their USD x (1 - premium / ``grey_max_premium``)): a quadratic in the premium, solved in closed
   form; what is spent on grey chips is shared in proportion to what each developer brought; what is
   left is unspent and ``carryover_share`` of it carries into next quarter; each developer installs
   what it got in China (grey chips included) and what it bought abroad (after depreciation);
9. China stocks and HBM are drawn down, revenue is booked against the makers' plans (which follow the
   same demand path; domestic makers reinvest part of revenue above plan in foundry capacity); each
   chip's installed units, kept by channel (legacy: bought before the start; legal: sold in China's
   market, stockpiling included; grey: smuggled units of the grey chip that arrived; offshore:
   units of the frontier chip bought abroad), lose ``depreciation`` and this quarter's units join; the
   rented channel (units of the frontier chip rented abroad) holds only this quarter's units; the
   domestic ecosystem learns;
10. the reporters are computed. Compute is FLOP-based H100e (units x the chip's dense TFLOPS over the
    H100's) summed over the chips: the US share of China's installed compute in total and per channel
    in China (legal, legacy, grey; and legal via designed parts) and of this quarter's additions (legal,
    grey), China's compute in
    FLOP-based and in effective H100e (units x the chip's performance index), smuggled compute and
    compute abroad (owned plus rented this quarter), the smuggled units arriving, the US share including
    compute abroad; the US's own compute is an exogenous path (``us_compute_2026_h100e`` growing
    ``us_compute_growth``-fold a year), and China's over it is their ratio; ``frontier_gap`` is the best
    chip China may legally buy (licensed buyers included, or any released domestic chip) over the best
    released US chip, FLOP-based. The
    per-developer reporters (developers mostly on the US stack) and the revenue, spending and supply
    reporters read the agents as before.
"""

from __future__ import annotations

import inspect
import math

import mesa

from model import ChipMarketModel
from model.core import reporters
from model.core.beijing import ADAPTIVE_THRESHOLDS, RECORD_FROM, SOLD_OUT
from model.core.catalogue import (
    CHIPS,
    DOMESTIC,
    ECOSYSTEMS,
    H100_DENSE_TFLOPS,
    H100_MEM_BW_GBS,
    H100_TPP,
    MAKERS,
    NEVER,
    ROADMAP_FROM,
    SALE_QUARTERS,
    catalogue_arrays,
    design_slots,
)
from model.core.governments import DEFAULT_LICENSED_CUSTOMERS
from model.core.makers import HBM_FROM, MAX_ROADMAP_SHIFT, PRICE_FROM, STOCK_SOLD_OUT
from model.core.market import clear_market
from model.core.parameters import PARAMS, PARAMS_BY_NAME, unknown_parameter_error, validate_value
from model.core.policy import (
    CHINA_POLICIES,
    CHINA_STANCES,
    H20_ERA_CAPS,
    PRODUCT_LEVELS,
    US_REGIMES,
    parse_count_schedule,
    parse_schedule,
    split_regime,
)
from model.core.population import SEGMENTS
from model.core.quarters import format_quarter, parse_quarter, years_since_2026
from model.core.reporters import MODEL_REPORTERS, USD_PER_H100E

#: The channels of chips installed in China (the US share is split over them), the channels abroad (chips
#: owned there, a stock, and rented there this quarter, a flow) and every channel kept, as in
#: ``model.core.ledger``; a flow channel holds only this quarter's units.
CHINA_CHANNELS = ("legal", "legacy", "grey")
ABROAD_CHANNELS = ("offshore", "rented")
CHANNELS = (*CHINA_CHANNELS, *ABROAD_CHANNELS)
FLOW_CHANNELS = ("rented",)
#: Hours in a quarter (365.25 x 24 / 4): renting is priced by the hour.
HOURS_PER_QUARTER = 365.25 * 24 / 4

#: Rationing rounds per quarter: the model's (``clear_market``'s ``max_rounds``, which has no name yet).
MAX_ROUNDS = inspect.signature(clear_market).parameters["max_rounds"].default


# ------------------------------------------------------------------------------------------------
# What the reference takes from the catalogue and the parameter table (never typed twice)
#: The domestic makers (ecosystem DOMESTIC in the catalogue), whose output is capacity-bound.
DOMESTIC_MAKERS = tuple(m.name for m in MAKERS if m.ecosystem == DOMESTIC)
#: Each domestic maker's capacity parameter, as its catalogue entry names it (``Maker.capacity.param``).
CAPACITY_PARAMETERS = {m.name: m.capacity.param for m in MAKERS if m.ecosystem == DOMESTIC and m.capacity}


def reported_maker(reporter: str) -> str:
    """The catalogue maker a per-maker headline reporter is about, read off the reporter's name
    (``nvidia_china_revenue_usd`` -> "Nvidia", ``huawei_output_cap_units`` -> "Huawei")."""
    return next(m.name for m in MAKERS if reporter.startswith(m.name.lower() + "_"))


def parameter_values(params: dict) -> dict:
    """Every parameter of ``PARAMS``: the value given (validated as the model validates it), else its
    default."""
    for name in params:
        if name not in PARAMS_BY_NAME:
            raise unknown_parameter_error(name)
    return {p.name: validate_value(p.name, params.get(p.name, p.default)) for p in PARAMS}


# ------------------------------------------------------------------------------------------------
# Chips (plain objects: the catalogue plus this quarter's state)
def trend_spec(spec, model):
    """(perf_paper, tpp, flop_h100e, bandwidth) of a chip announced by name only: from its maker's US chip
    (not a China part) with the most FLOP-based H100e per dollar released before 2026, FLOP/s per dollar
    doubles every us_flop_per_usd_doubling_years and bandwidth per dollar every us_bandwidth_doubling_years;
    the performance index is sqrt(compute ratio x bandwidth ratio), TPP = H100e x 989 x 16."""
    anchor, best = None, -1.0
    for c in CHIPS:
        if (c.maker == spec.maker and not c.on_trend and not c.china_part
                and parse_quarter(c.release) < ROADMAP_FROM):
            per_usd = c.dense_tflops / H100_DENSE_TFLOPS[c.flop_bits] / c.price_usd
            if per_usd > best:
                anchor, best = c, per_usd
    years = (parse_quarter(spec.release) - parse_quarter(anchor.release)) / 4.0
    flop = best * spec.price_usd * 2.0 ** (years / model.us_flop_per_usd_doubling_years)
    bw = (anchor.mem_bw_gbs / anchor.price_usd * spec.price_usd
          * 2.0 ** (years / model.us_bandwidth_doubling_years))
    return math.sqrt(flop * bw / 3350.0), flop * 989.0 * 16, flop, bw


class Chip:
    def __init__(self, index, spec, maker, model, cat):
        self.index = index
        self.name = spec.name
        self.maker = maker  # Chipmaker agent
        self.ecosystem = maker.ecosystem
        self.is_us = maker.is_us
        self.planned_release = int(cat.release[index])  # the catalogue's quarters, parsed once
        self.catalogue_release = self.planned_release  # as the catalogue has it (Beijing's record walks it)
        # an empty slot for a part its maker designs to the rule in the run (never released until then)
        self.generated = spec.generated
        self.designed_to = None  # the caps (TPP, bandwidth) the part in the slot was designed to
        self.track = None  # the design track of that part ('licensed', 'china_part')
        # the US roadmap after Blackwell as a scenario: later (earlier) and scaled in performance and TPP
        us_ahead = self.is_us and not self.generated and self.planned_release >= ROADMAP_FROM
        scale = model.us_roadmap_perf_scale if us_ahead else 1.0
        if us_ahead:
            self.planned_release += model.us_roadmap_delay_quarters
        self.release = self.planned_release  # domestic chips move with R&D
        self.china_units_to_date = 0.0  # legal units sold in China since the start (the volume cap)
        self.released = False
        # FLOP-based H100e per unit: dense tensor TFLOPS over the H100 SXM's at the same bit length; a chip
        # announced by name only follows the trend from its maker's best FLOP-per-dollar chip before 2026
        sourced_flop = spec.dense_tflops / H100_DENSE_TFLOPS[spec.flop_bits]
        perf, tpp, flop, bw = (trend_spec(spec, model) if spec.on_trend else
                               (spec.perf_paper, spec.tpp, sourced_flop, spec.mem_bw_gbs))
        self.perf = perf * scale * (1.0 if self.is_us else model.domestic_efficiency)
        self.price_usd = spec.price_usd
        self.china_part = spec.china_part
        self.compliant_until = int(cat.compliant_until[index])  # a quarter that never comes if none
        self.tpp = tpp * scale
        self.flop_h100e = flop * scale
        self.mem_bw_gbs = bw
        self.end_of_production = int(cat.end_of_production[index])
        self.stock_units = float(spec.stock_units)  # catalogue stock (at the start, and at end of production)
        self.us_units_per_quarter = spec.us_units_per_quarter
        # US products: the most its maker can make for China a quarter (a China part's own limit, else
        # us_china_production_share of its US units); none for domestic chips
        if not self.is_us:
            self.production_limit = 0.0
        elif self.china_part:
            self.production_limit = float(spec.china_units_per_quarter)
        else:
            self.production_limit = model.us_china_production_share * spec.us_units_per_quarter
        # supply state (US products; a domestic product no longer made is also sold from its stock)
        self.china_stock = self.stock_units  # units its maker can deliver to China
        self.china_production = 0.0  # made for China this quarter, joins the stock next quarter
        # with makers_weigh_margin, its China line: 'running', 'halted' (stopped while it ran; restarts at
        # restart_at once that is set) or 'idle' (never run)
        self.line = "idle"
        self.restart_at = None
        self.expected_orders = 0.0
        self.last_orders = 0.0  # units wanted in the first round of last quarter's clearings
        self.last_supply = 0.0  # the stock it offered last quarter (0 when not sold from stock)
        self.scarcity = 0.0
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
        self.stocked = False  # its supply this quarter is its stock
        # installed units of this chip in China (and abroad) by channel, and this quarter's additions
        self.units = dict.fromkeys(CHANNELS, 0.0)
        self.new_units = dict.fromkeys(CHANNELS, 0.0)

    def sold_anywhere(self, quarter):
        """Released, still made and not retired: what a buyer abroad could get (China parts and parts
        designed to the US rule for China aside)."""
        return (self.released and quarter < self.end_of_production and not self.china_part
                and not self.generated and quarter < self.release + SALE_QUARTERS)

    def place_design(self, part, caps, track, parent, release, production_share):
        """A generated slot takes the part its maker designed to ``caps`` on ``track``, released at
        ``release``: ``part`` = (FLOP-based H100e, bandwidth GB/s, performance index, price), TPP = H100e x
        the H100's TPP; on the 'china_part' track a China part (sold to anyone while it complies; it
        counts no US units), else a product licensed under the threshold that counts its ``parent``'s US
        units for the volume cap. Either way its maker can make ``production_share`` of the parent's US
        units a quarter for China."""
        self.designed_to = caps
        self.track = track
        self.planned_release = self.release = release
        self.flop_h100e, self.mem_bw_gbs, self.perf, self.price_usd = part
        self.tpp = self.flop_h100e * H100_TPP
        self.china_part = china_part = track == "china_part"
        self.us_units_per_quarter = 0.0 if china_part else parent.us_units_per_quarter
        self.production_limit = production_share * parent.us_units_per_quarter

    def drop_design(self):
        """The design in this slot is dropped before its release: the slot is empty (never released)."""
        self.designed_to = self.track = None
        self.planned_release = self.release = NEVER

    def has_supply(self):
        """No supply group of this chip is exhausted."""
        return all(g.left > 0 for g in self.groups)


class SupplyGroup:
    """Chips that share a number of units they can still deliver this quarter: a domestic maker's
    capacity, a licensed US product's volume cap, a product's stock, the per-customer cap on all
    licensed products, Beijing's import cap on all US chips."""

    def __init__(self, name, chips, units):
        self.name = name
        # units of this group's supply one unit of each chip takes: 1 for its own chips (and, under a
        # pairing quota, each US chip's bundled units of a paired chip in the group: ``add_paired``)
        self.uses = dict.fromkeys(chips, 1.0)
        self.left = units
        self.fill = 1.0
        self.short = False
        for chip in chips:
            chip.groups.append(self)

    @property
    def chips(self):
        return list(self.uses)

    def add_paired(self, chip, units):
        """Each unit of ``chip`` also takes ``units`` of this group's supply (a pairing bundle)."""
        if chip not in self.uses:
            chip.groups.append(self)
        self.uses[chip] = self.uses.get(chip, 0.0) + units


# ------------------------------------------------------------------------------------------------
# Governments
class USGovernment(mesa.Agent):
    def __init__(self, model, regime, tpp_cap, schedule):
        super().__init__(model)
        self.regime = regime
        self.tpp_cap = tpp_cap
        self.schedule = schedule
        # the licence pipeline: each product the rule in force licenses to China and the quarter it entered
        self.pipeline_since = {}

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
        if m.realize_reversals and draw < m.us_reversal_prob and self.regime != "ban":
            self.regime = US_REGIMES[max(US_REGIMES.index(self.regime) - 1, 0)]
        self.track_licences()

    def track_licences(self):
        """The licence pipeline, with the rule as it stands at the end of the quarter's changes: a product
        the rule licenses to China enters it the first quarter it does (its licences are applied for), and
        a product the rule no longer licenses leaves it (it starts from scratch if licensed again)."""
        for chip in self.model.chips:
            if chip.is_us and self.may_export(chip, self.model.quarter)[1]:
                self.pipeline_since.setdefault(chip, self.model.quarter)
            else:
                self.pipeline_since.pop(chip, None)

    def deliverable(self, chip, when):
        """(to anyone, to licensed buyers only) that can reach Chinese buyers in quarter ``when``: what the
        rule in force exports, except that a licensed product reaches licensed buyers only
        ``us_licence_lead_quarters`` after it entered the pipeline (0: at once, in the pipeline or not)."""
        to_anyone, to_licensed = self.may_export(chip, self.model.quarter)
        lead = self.model.us_licence_lead_quarters
        if to_licensed and lead > 0:
            since = self.pipeline_since.get(chip)
            to_licensed = since is not None and when - since >= lead
        return to_anyone, to_licensed

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
        """Licensed products are held to us_volume_cap_share of their cumulative US units."""
        return self.regime in ("threshold", "lagged")

    def design_caps(self):
        """{track: (TPP cap, bandwidth cap)} a US maker can design a part to under the rule in force:
        under 'threshold' a licensed product to its caps and a China part to the h20-era caps (China
        parts stay exportable to anyone under the threshold); under 'h20' the China part only; nothing
        under 'ban', 'lagged' and 'open' (nothing to design to)."""
        if self.regime == "threshold":
            return {"licensed": (float(self.tpp_cap), float(self.model.export_bw_cap_gbs)),
                    "china_part": H20_ERA_CAPS}
        if self.regime == "h20":
            return {"china_part": H20_ERA_CAPS}
        return {}


#: Beijing's levels for one US product when it decides (``china_decides``), loosest first: the order is the
#: model's named constant; who may buy at each level is restated in ``ChinaGovernment.lets_buy``.
STRICTNESS = {level: rank for rank, level in enumerate(PRODUCT_LEVELS)}
#: The levels by which Beijing acts, and that set a precedent for a product offered for the first time.
ACTING_LEVELS = ("guided", "blocked")
#: The levels under which window guidance (the utility penalty on US chips) is in force.
GUIDANCE_LEVELS = ("discouraged", "approval", "guided", "held")


class ChinaGovernment(mesa.Agent):
    """Beijing. Under a stance (``china_import_policy``, its schedule, ``china_adaptive``) one stance for
    every US product; with ``china_decides`` a level for each US product by its rule (``decide``)."""

    def __init__(self, model, stance, schedule):
        super().__init__(model)
        self.stance = stance
        self.schedule = schedule
        # with china_decides: each US product's level (a chip not in it is open), the quarter it reached
        # it, the quarters it was offered while a domestic chip matched it, the products offered so far
        self.level = {}
        self.since = {}
        self.matched_quarters = {}
        self.offered_before = set()
        self.guidance_on = False
        self.decisions = []  # (quarter, chip name, level)
        self.pairing_ratio = 0.0  # the pairing quota its rule sets (``decide_pairing``)

    def step(self):
        for q, value in self.schedule:
            if q == self.model.quarter:
                self.stance = value
        if self.model.china_decides:
            self.decide()
            return
        if self.model.china_adaptive:
            coverage = self.domestic_coverage()
            nxt = CHINA_STANCES[min(CHINA_STANCES.index(self.stance) + 1, len(CHINA_STANCES) - 1)]
            if nxt != self.stance and coverage >= ADAPTIVE_THRESHOLDS[nxt]:
                self.stance = nxt

    # --- Beijing decides (china_decides) ---------------------------------------------------------
    def decide(self):
        """This quarter's rule over the US products offered in China: exportable under the US rule in
        force (to anyone or to licensed buyers), and on sale or a China part that complies."""
        m = self.model
        q = m.quarter
        on_sale = m.chips_on_sale_now()
        offered = []
        for chip in m.chips:
            if not chip.is_us:
                continue
            to_anyone, to_licensed = m.us_government.may_export(chip, q)
            complying = chip.china_part and q < chip.compliant_until and chip.released
            if (to_anyone or to_licensed) and (chip in on_sale or complying):
                offered.append(chip)
        # the domestic units bundled last quarter (under last quarter's levels, before the rule moves them)
        bundled = math.fsum(c.units_sold * m.paired_units(c) for c in m.chips)
        self.apply_rule(q, offered, max((c.perf for c in on_sale if not c.is_us), default=0.0))
        self.decide_pairing(bundled)

    def decide_pairing(self, bundled):
        """The pairing quota, while it approves a US product: beijing_pairing_max x the share of its bound
        makers' output (units) that domestic buyers did not buy directly last quarter (unsold, or the
        ``bundled`` units of pairing bundles); none in the first quarter or while that share is below
        SOLD_OUT."""
        m = self.model
        makers = [mk for mk in m.makers if not mk.is_us and math.isfinite(mk.capacity)]
        capacity = math.fsum(mk.capacity for mk in makers)
        approving = any(level == "approval" for level in self.level.values())
        self.pairing_ratio = 0.0
        if m.beijing_pairing_max <= 0 or m.steps <= 1 or capacity <= 0 or not approving:
            return
        sold = math.fsum(c.units_sold for mk in makers for c in mk.chips)
        left = 1.0 - (sold - bundled) / capacity
        if left > SOLD_OUT:
            self.pairing_ratio = m.beijing_pairing_max * left

    def warm_start(self):
        """Beijing's record before the run: its rule over RECORD_FROM (2022Q4) .. the quarter before the
        start, with the US rule of those years (h20: the China parts that comply at the time, to anyone)
        and the catalogue's chips as they were on sale then (catalogue release quarters; no stocks)."""
        m = self.model
        for q in range(RECORD_FROM, m.start):
            released = [c for c in m.chips if c.catalogue_release <= q]
            made = [c for c in released if q < c.end_of_production]
            on_sale = []
            for chip in made:
                newest = chip.catalogue_release == max(
                    c.catalogue_release for c in made if c.maker is chip.maker)
                young = q < chip.catalogue_release + SALE_QUARTERS
                complying = chip.china_part and q < chip.compliant_until
                if young or newest or complying:
                    on_sale.append(chip)
            offered = [c for c in released if c.is_us and c.china_part and q < c.compliant_until]
            self.apply_rule(q, offered, max((c.perf for c in on_sale if not c.is_us), default=0.0))

    def apply_rule(self, q, offered, best_domestic):
        """One quarter of Beijing's rule (ODD 7.1b), product by product, k = china_review_quarters.

        A product is matched when ``best_domestic`` (the best domestic chip on sale, effective H100e) is at
        least china_match_ratio x its own. First Beijing reviews the products it has met before, with what
        it had done by the start of the quarter: a guided product still matched k quarters after it was
        guided is blocked; a matched product offered for k earlier quarters while matched, or held for k
        quarters, is guided; a product held for k quarters and not matched, or an open one not matched once
        Beijing acts (it has guided or blocked some product), needs approval. Then each product offered for
        the first time takes the strictest level among the guided or blocked products it does not
        outperform (precedent), or, failing that while Beijing acts, is held at customs for review.
        Blocked products stay blocked."""
        m = self.model
        k = m.china_review_quarters
        acting = any(level in ACTING_LEVELS for level in self.level.values())
        matched = {chip: best_domestic >= m.china_match_ratio * chip.perf for chip in offered}
        new = [chip for chip in offered if chip not in self.offered_before]
        for chip in offered:
            if chip in new:
                continue
            level = self.level.get(chip, "open")
            stood = chip in self.since and q - self.since[chip] >= k  # k quarters at its level
            if level == "guided" and matched[chip] and stood:
                self.set_level(chip, q, "blocked")
            elif level == "held" and stood:
                self.set_level(chip, q, "guided" if matched[chip] else "approval")
            elif level in ("open", "approval") and matched[chip] and self.matched_quarters.get(chip, 0) >= k:
                self.set_level(chip, q, "guided")
            elif level == "open" and not matched[chip] and acting:
                self.set_level(chip, q, "approval")
        restricted = [(chip, level) for chip, level in self.level.items() if level in ACTING_LEVELS]
        for chip in new:
            precedents = [level for other, level in restricted if other.perf >= chip.perf]
            if precedents:
                self.set_level(chip, q, max(precedents, key=STRICTNESS.get))
            elif restricted:
                self.set_level(chip, q, "held")
        for chip in offered:
            self.matched_quarters[chip] = self.matched_quarters.get(chip, 0) + (1 if matched[chip] else 0)
            self.offered_before.add(chip)
        self.guidance_on = any(level in GUIDANCE_LEVELS for level in self.level.values())

    def set_level(self, chip, q, level):
        self.level[chip] = level
        self.since[chip] = q
        self.decisions.append((format_quarter(q), chip.name, level))

    def lets_buy(self, dev, chip):
        """Whether Beijing lets ``dev`` buy the US product ``chip``: under a stance, ``allows_us``; when it
        decides, by the product's level: open to anyone; discouraged to private developers, and to
        state-affiliated ones only without the state mandate; approval only to developers it approved
        (never state-affiliated ones); guided, held and blocked to nobody."""
        if not self.model.china_decides:
            return self.allows_us(dev)
        level = self.level.get(chip, "open")
        if level == "open":
            return True
        if level == "discouraged":
            return not (dev.state_affiliated and self.model.state_mandate)
        if level == "approval":
            return dev.beijing_approved and not dev.state_affiliated
        return False

    def approve(self, developers):
        """When Beijing decides, whom it approves: the private developers holding a US licence, in order of
        size (base demand, the largest first; ties in index order) while, by the midpoint rule, they hold
        china_approved_demand_share of those developers' demand (a developer is in when the demand of those
        before it plus half its own is below that share)."""
        private = sorted((d for d in developers if not d.state_affiliated and d.licensed),
                         key=lambda d: -d.base_demand)
        total = sum(d.base_demand for d in private)
        before = 0.0
        for d in developers:
            d.beijing_approved = False
        for d in private:
            d.beijing_approved = (before + d.base_demand) - 0.5 * d.base_demand < (
                self.model.china_approved_demand_share * total)
            before += d.base_demand

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
        expected = m.quarterly_budget_2026 * m.demand_factor(m.quarter) / USD_PER_H100E
        return supply / expected if expected > 0 else 0.0

    def stops(self, chip):
        """Whether Beijing stops buyers taking the US product ``chip`` (its maker's China orders for it
        stop): when it decides, a product it guides buyers away from or blocks; under a stance, every US
        product under 'ban' (the stance's level for all of them is 'blocked')."""
        if self.model.china_decides:
            return self.level.get(chip, "open") in ACTING_LEVELS
        return self.stance == "ban"

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
        for domestic chips, plus window guidance under discourage/restrict (when Beijing decides: while
        some US product is discouraged, needs approval, is guided or held)."""
        m = self.model
        penalty = m.state_domestic_preference if dev.state_affiliated else 0.0
        guidance = self.guidance_on if m.china_decides else self.stance in ("discourage", "restrict")
        if guidance:
            penalty = penalty + m.guidance_penalty * (
                m.state_guidance_multiplier if dev.state_affiliated else 1.0)
        return penalty

    def pairing_cost(self, chip, cheapest_domestic_per_h100e):
        """Cost of the domestic compute a buyer must buy with a US chip (pairing quota)."""
        if (not self.model.paired_covers(chip) or self.model.pairing_ratio <= 0
                or cheapest_domestic_per_h100e is None):
            return 0.0
        return self.model.pairing_ratio * chip.perf * cheapest_domestic_per_h100e


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
        self.output_2025 = spec.capacity.output_2025 if spec.capacity is not None else 0.0
        self.revenue_2026_usd = spec.revenue_2026_usd
        self.gross_margin = spec.gross_margin  # a US maker: share of a chip's list price above its unit cost
        self.hbm_stacks_per_chip = spec.hbm_stacks_per_chip
        self.foundry_capacity = math.inf  # chips this quarter (domestic)
        self.hbm_ceiling = math.inf  # chips this quarter its HBM allows (domestic)
        self.capacity = math.inf  # the smaller of the two
        self.added_capacity = 0.0  # chips per quarter bought with reinvested revenue
        self.markup = 0.0  # a domestic maker: share over its list price it charges
        self.revenue_usd = 0.0
        self.cumulative_revenue_usd = 0.0
        self.cumulative_reference_usd = 0.0
        self.chips = []
        # a US maker: per design track, the caps it last answered (no licensed product was designed to a
        # cap before 2026; the catalogue's China parts were designed to the h20-era rules); its generated
        # chips are the slots for the parts it designs to the rule in the run, shared by the tracks
        self.designed_for = {"licensed": None, "china_part": H20_ERA_CAPS}

    def step(self):
        if self.is_us:
            self.design_to_rule()
            for chip in self.chips:
                self.receive_production(chip)
            # on sale next quarter as things stand (licensed products once through the licence pipeline)
            offered = self.model.chips_on_sale_now(self.model.quarter + 1, delivered=True)
            for chip in self.chips:
                self.supply_china(chip, offered)
            return
        m = self.model
        if m.quarter - 1 >= PRICE_FROM:  # price by last quarter's excess demand (self.capacity: then)
            orders = sum(chip.last_orders for chip in self.chips)
            if math.isinf(self.capacity):
                excess = -1.0
            else:
                top = max(orders, self.capacity)
                excess = (orders - self.capacity) / top if top > 0 else 0.0
            moved = self.markup + m.domestic_price_response * excess
            self.markup = min(m.domestic_markup_max, max(0.0, moved))
        if self.capacity_2026 is None:
            self.foundry_capacity = self.capacity = math.inf
        else:
            g, years = 1.0 + m.domestic_capacity_growth, years_since_2026(m.quarter)
            if years < 0 and self.output_2025 > 0:  # before 2026: its 2025 output on the same path
                path = self.output_2025 * g ** (years + 1.0) / sum(g ** (k / 4.0) for k in range(4))
            else:
                path = self.capacity_2026 / 4.0 * g ** years
            self.foundry_capacity = path + self.added_capacity
            self.hbm_ceiling = math.inf
            self.capacity = self.foundry_capacity
        extra = self.cumulative_revenue_usd - self.cumulative_reference_usd
        shift = math.floor(extra * m.rd_share / m.rd_speedup_cost_usd)
        shift = max(-MAX_ROADMAP_SHIFT, min(MAX_ROADMAP_SHIFT, shift))
        for chip in self.chips:
            # only the roadmap ahead moves: chips planned before 2026Q1 shipped when history says
            if not chip.released and chip.planned_release >= ROADMAP_FROM:
                chip.release = chip.planned_release - shift
                if chip.release <= m.quarter:
                    chip.released = True

    def design_to_rule(self):
        """A US maker designs parts to the US rule (from 2026), first a licensed product, then a China part,
        each to the caps the rule in force has for it (``USGovernment.design_caps``)."""
        m = self.model
        if not m.design_to_rule or m.quarter < ROADMAP_FROM:
            return
        caps = m.us_government.design_caps()
        for track in ("licensed", "china_part"):
            self.design_on_track(track, caps.get(track))

    def design_on_track(self, track, caps):
        """One design track ('licensed', 'china_part'; ``caps`` None: none to design to). A design of the
        track not yet released whose caps are no longer ``caps`` is dropped (its slot is empty again, and
        the track's caps count as unanswered). With no design of the track under way and an empty slot
        left, when ``caps`` are not those it last answered on the track or its best part China may buy on
        the track falls behind the best domestic chip on sale, it answers them: a part just under them
        cut from its newest chip, released design_lead_quarters later, if that part beats that best
        part. The part takes its first empty slot."""
        m = self.model
        slots = [c for c in self.chips if c.generated]
        for chip in slots:
            if chip.track != track or chip.released:
                continue
            if chip.designed_to == caps:
                return  # its part for these caps is on its way
            chip.drop_design()  # the caps changed before its release
            self.designed_for[track] = None  # no part answers the caps it aimed at: again if they return
        empty = [c for c in slots if c.designed_to is None]
        if caps is None or not empty:
            return
        best = self.best_china_perf(track)
        if caps == self.designed_for[track] and best >= self.best_domestic_perf():
            return
        self.designed_for[track] = caps
        parent = self.parent_chip()
        if parent is None:
            return
        part = self.part_under_caps(caps, parent)
        if part[2] <= best:
            return
        slot = empty[0]  # its first empty slot
        slot.place_design(part, caps, track, parent, m.quarter + m.design_lead_quarters,
                          m.us_china_production_share)

    def best_china_perf(self, track):
        """Performance index of its best chip on sale now that China may buy on ``track`` (0: none): one
        the US rule lets a licensed buyer have ('licensed'; a chip any buyer may have, too), or one any
        Chinese buyer may have ('china_part')."""
        m = self.model
        on_sale = m.chips_on_sale_now()
        perf = []
        for chip in self.chips:
            if chip in on_sale:
                to_anyone, to_licensed = m.us_government.may_export(chip, m.quarter)
                if to_anyone or (track == "licensed" and to_licensed):
                    perf.append(chip.perf)
        return max(perf, default=0.0)

    def best_domestic_perf(self):
        """Performance index (after domestic_efficiency) of the best domestic chip on sale now (0: none)."""
        return max((c.perf for c in self.model.chips_on_sale_now() if not c.is_us), default=0.0)

    def parent_chip(self):
        """Its newest released chip that is neither a China part nor a designed part (the first in the
        catalogue on a tie), or None: what a part designed to the rule is cut from."""
        parent = None
        for chip in self.chips:
            if chip.released and not chip.china_part and not chip.generated and (
                    parent is None or chip.release > parent.release):
                parent = chip
        return parent

    def part_under_caps(self, caps, parent):
        """(FLOP-based H100e, bandwidth GB/s, performance index, price) of a part cut from ``parent`` to
        ``caps`` (TPP, GB/s): its TPP (1 - design_margin) x the TPP cap and its bandwidth (1 -
        design_margin) x the bandwidth cap, neither above the parent's; its performance index
        sqrt(H100e x bandwidth / the H100's) and its price the parent's price per unit of performance."""
        tpp_cap, bw_cap = caps
        below = 1.0 - self.model.design_margin
        flop = min(parent.flop_h100e, tpp_cap * below / H100_TPP)
        bw = min(parent.mem_bw_gbs, bw_cap * below)
        perf = math.sqrt(flop * (bw / H100_MEM_BW_GBS))
        return flop, bw, perf, parent.price_usd / parent.perf * perf

    def receive_production(self, chip):
        """Last quarter's China production joins the stock; a product whose production ends now is
        left with its sourced end-of-production stock."""
        chip.china_stock += chip.china_production
        chip.china_production = 0.0
        if chip.end_of_production == self.model.quarter:
            chip.china_stock = chip.stock_units

    def supply_china(self, chip, offered):
        """A US product's China supply: expect orders, plan next quarter's production, and set its
        scarcity (the share of the levy passed on follows it)."""
        m = self.model
        if chip.last_supply > 0:
            s = m.maker_order_smoothing
            chip.expected_orders = s * chip.last_orders + (1.0 - s) * chip.expected_orders
        else:  # it had nothing to deliver: it launches the product at its production limit
            chip.expected_orders = chip.production_limit
        may_sell, sellable_max = m.china_sellable(chip, m.quarter + 1, offered)
        if m.makers_weigh_margin:
            running = self.run_line(chip)  # the line moves on whether or not it may sell next quarter
            may_sell = may_sell and running
        if may_sell:
            sales = min(chip.expected_orders, sellable_max)
            want = (sales - max(chip.china_stock - sales, 0.0)) * (1.0 - m.us_reversal_prob)
            chip.china_production = min(max(want, 0.0), chip.production_limit)
        else:
            chip.china_production = 0.0
        if chip.last_supply > 0:
            ratio = chip.last_orders / chip.last_supply
        else:
            ratio = 2.0 if chip.last_orders > 0 else 0.0
        chip.scarcity = min(max(ratio - 1.0, 0.0), 1.0)

    def run_line(self, chip):
        """With ``makers_weigh_margin``: whether the product's China line runs this quarter. It may run
        while the US rule in force permits the product (to anyone or to licensed buyers: the licence
        pipeline does not stop a line), its maker still makes it next quarter, and a unit made for China
        pays (``worth_making``). A running line that may not run halts, and a product's China stock that is
        not a China part goes to other buyers (a China part's has no other market and stays); a halted line
        restarts ``maker_restart_quarters`` after the first quarter it may run again, counted afresh after
        a quarter it may not; an idle line (never run) starts as soon as it may run."""
        m = self.model
        to_anyone, to_licensed = m.us_government.may_export(chip, m.quarter)
        may_run = ((to_anyone or to_licensed) and m.quarter + 1 < chip.end_of_production
                   and self.worth_making(chip))
        if chip.line == "running" and not may_run:
            chip.line = "halted"
            if not chip.china_part:
                chip.china_stock = 0.0
        elif chip.line == "halted":
            if not may_run:
                chip.restart_at = None  # a lapse: the clock starts again
            else:
                if chip.restart_at is None:
                    chip.restart_at = m.quarter + m.maker_restart_quarters
                if m.quarter >= chip.restart_at:
                    chip.line, chip.restart_at = "running", None
        elif chip.line == "idle" and may_run:
            chip.line = "running"
        return chip.line == "running"

    def worth_making(self, chip):
        """A unit made now for China pays: (1 - risk) x margin >= risk x cost, where cost = list price x (1
        - gross margin), margin = its China price (last posted) x (1 - the US levy now) - cost, and risk =
        1 when Beijing stops the product, else the chance of a US reversal, which under prepayment the buyer
        of a product that is not a China part bears (0 for the maker)."""
        m = self.model
        cost = chip.price_usd * (1.0 - self.gross_margin)
        margin = chip.china_price * (1.0 - m.us_government.levy(chip)) - cost
        if m.china_government.stops(chip):
            risk = 1.0
        else:
            risk = 0.0 if (m.us_prepayment and not chip.china_part) else m.us_reversal_prob
        return (1.0 - risk) * margin >= risk * cost

    def bound_by_hbm(self, ceiling):
        self.hbm_ceiling = ceiling
        self.capacity = min(self.foundry_capacity, ceiling)

    def book_sales(self, revenue_usd):
        """Record revenue; a domestic maker reinvests part of its revenue above plan in capacity."""
        m = self.model
        reference = self.revenue_2026_usd / 4.0 * m.demand_factor(m.quarter)
        self.revenue_usd = revenue_usd
        self.cumulative_revenue_usd += revenue_usd
        self.cumulative_reference_usd += reference
        if not self.is_us and revenue_usd > reference and years_since_2026(m.quarter) >= 0:
            surplus = revenue_usd - reference
            self.added_capacity += surplus * m.capacity_reinvest_share / m.capacity_cost_usd / 4.0


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
        self.china_approved = china_approved  # drawn at the start (Beijing's approvals under a stance)
        self.beijing_approved = False  # approved by Beijing when it decides (ChinaGovernment.approve)
        self.taste = taste  # [cuda, rocm, domestic]
        self.installed = installed  # H100e per chipmaker, in China
        self.installed_offshore = [0.0] * len(installed)  # H100e per chipmaker, owned abroad (a stock)
        self.rented_offshore = [0.0] * len(installed)  # H100e per chipmaker, rented abroad this quarter
        self.peers = []  # [(peer agent, weight)], weights sum to 1
        self.own = [0.0, 0.0, 0.0]
        self.pull = [0.0, 0.0, 0.0]
        self.menu = []  # chips it may legally buy this quarter
        self.demand = 0.0
        self.remaining = 0.0
        self.order = []  # [(chip, USD)] this round
        self.purchases = [0.0] * len(installed)  # H100e this quarter, in China (grey chips included)
        self.carry = 0.0  # unspent budget carried into next quarter
        self.advance = 0.0  # budget brought forward to stockpile, still to repay
        self.frontier_budget = 0.0  # budget set aside for the grey chip it may not buy in China
        self.rest = 0.0  # budget China's market did not take this quarter (of what was not set aside)
        self.spent = 0.0  # ... and what it did take (before stockpiling)
        self.stockpiled = 0.0  # budget brought forward and spent on US chips this quarter
        self.offshore = 0.0  # spent abroad this quarter
        self.grey = 0.0  # spent on the grey market this quarter
        self.offshore_units = 0.0  # units of the frontier chip bought abroad this quarter
        self.rented_units = 0.0  # units of the frontier chip rented abroad this quarter
        self.grey_units = 0.0  # units of the grey chip smuggled in that arrived this quarter
        self.unmet = 0.0  # left unspent this quarter

    def observe(self):
        """Own installed compute per ecosystem, in China and abroad (owned, and rented last quarter), as
        shares (read by peers)."""
        by_eco = [0.0, 0.0, 0.0]
        for maker, here, owned, rented in zip(self.model.makers, self.installed, self.installed_offshore,
                                              self.rented_offshore):
            by_eco[maker.ecosystem] += here + owned + rented
        total = by_eco[0] + by_eco[1] + by_eco[2]
        self.own = [x / total for x in by_eco] if total > 0 else [0.0, 0.0, 0.0]

    def step(self):
        """Pull towards each ecosystem, this quarter's demand, the chips it may buy, the frontier budget
        set aside, first order (of the rest of the budget)."""
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
        self.demand = self.budget()
        gov = m.china_government
        china_ok = None if m.china_decides else gov.allows_us(self)  # under a stance: one answer
        self.menu = [
            c for c in m.chips_on_sale
            if not c.is_us or ((gov.lets_buy(self, c) if china_ok is None else china_ok)
                               and (c.to_anyone or (self.licensed and c.to_licensed)))
        ]
        self.frontier_budget = self.set_aside(m.grey_chip)
        self.remaining = self.demand - self.frontier_budget
        self.purchases = [0.0] * len(self.installed)
        self.choose()

    def set_aside(self, grey_chip):
        """A private developer that may not legally buy this quarter's grey chip sets
        ``grey_frontier_share`` of its budget aside for it: that goes to the grey market, not to China's
        market."""
        share = self.model.grey_frontier_share
        if grey_chip is None or share <= 0 or self.state_affiliated or grey_chip in self.menu:
            return 0.0
        return share * self.demand

    def budget(self):
        """This quarter's budget: the demand draw, plus the carried-over unspent budget, less the
        repayment of budget brought forward to stockpile (over risk_horizon_quarters)."""
        m = self.model
        gross = m.draw_demand(self.base_demand) + self.carry
        repay = min(self.advance / m.risk_horizon_quarters, gross)
        self.advance -= repay
        return gross - repay

    def may_stockpile(self):
        """It may legally buy a US chip that still has supply."""
        return any(c.is_us and c.has_supply() for c in self.menu)

    def spend_abroad(self, chip, open_share, rent_per_unit):
        """A private developer spends its rest abroad, up to its offshore capacity, on ``chip``:
        ``offshore_owned_share`` of it buys chips at ``offshore_cost_premium`` over the price (installed
        abroad, a stock), the rest rents chips for this quarter at ``rent_per_unit`` USD a chip."""
        m = self.model
        cap = 0.0 if self.state_affiliated else m.offshore_capacity_share * open_share * self.demand
        self.offshore = min(self.rest, cap)
        owned = self.offshore * m.offshore_owned_share
        unit_cost = chip.price_usd * (1.0 + m.offshore_cost_premium)
        self.installed_offshore[chip.maker.index] += owned * (chip.perf / unit_cost)
        self.offshore_units = owned / unit_cost
        rented = self.offshore - owned
        self.rented_offshore[chip.maker.index] = rented * (chip.perf / rent_per_unit)
        self.rented_units = rented / rent_per_unit

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
        m = self.model
        for chip, amount in self.order:
            paid = amount * chip.fill
            self.purchases[chip.maker.index] += paid * (chip.perf / chip.buyer_cost)
            if m.paired_chip is not None and m.paired_covers(chip):  # the pairing bundle's domestic compute
                self.purchases[m.paired_chip.maker.index] += (
                    m.pairing_ratio * paid * (chip.perf / chip.buyer_cost))
            spent += paid
        self.remaining = max(self.remaining - spent, 0.0)

    def install(self):
        keep = 1.0 - self.model.depreciation
        self.installed = [a * keep + b for a, b in zip(self.installed, self.purchases)]


# ------------------------------------------------------------------------------------------------
class ReferenceModel(mesa.Model):
    """Same parameters and reporters as ``ChipMarketModel``; per-agent pure Python inside."""

    @property
    def china_decides(self):
        """Beijing decides by its rule while its policy is 'decides' (a dated stance ends it)."""
        return self.china_government.stance == "decides"

    def __init__(self, rng: int | None = None, **params):
        values = parameter_values(params)
        fast = ChipMarketModel(rng=rng, **params)  # the same initial state (not timed, not compared)
        super().__init__(rng=rng)
        for name, value in values.items():
            setattr(self, name, value)
        self.rng = fast.rng  # the generator, positioned where the fast model's is after construction
        self.start = parse_quarter(self.start_quarter)
        self.quarter = self.start
        self.offshore_rule_from = parse_quarter(self.offshore_rule_quarter)
        self.depreciation = 1.0 / (4.0 * self.depreciation_years)
        self.quarterly_budget_2026 = self.demand_2026_usd / 4.0  # USD
        self.domestic_cumulative = fast.domestic_cumulative
        self.domestic_cumulative_anchor = fast.domestic_cumulative_anchor
        self.licence_schedule = parse_count_schedule(self.us_licence_schedule)
        self.licensed_units = 0.0  # licensed units sold to China so far (the total licence cap)

        self.us_government = USGovernment(self, fast.us_government.regime, fast.us_government.tpp_cap,
                                          parse_schedule(self.us_policy_schedule, US_REGIMES))
        self.china_government = ChinaGovernment(self, fast.china_government.stance,
                                                parse_schedule(self.china_policy_schedule, CHINA_STANCES))
        capacities = {name: getattr(self, param) for name, param in CAPACITY_PARAMETERS.items()}
        self.makers = [Chipmaker(self, k, spec, capacities.get(spec.name)) for k, spec in enumerate(MAKERS)]
        by_name = {mk.name: mk for mk in self.makers}
        cat = catalogue_arrays(CHIPS, MAKERS)  # the catalogue's chips and the slots for designed parts
        specs = design_slots(CHIPS, MAKERS)
        self.chips = [Chip(j, spec, by_name[spec.maker], self, cat) for j, spec in enumerate(specs)]
        legacy = fast.ledger.stock["legacy"].tolist()  # the backcast's units still in service, per chip
        stock = fast.supply.stock.tolist()  # China stocks less what the backcast sold out of them
        for chip in self.chips:
            chip.maker.chips.append(chip)
            chip.released = chip.release <= self.start
            chip.units["legacy"] = legacy[chip.index]
            chip.china_stock = stock[chip.index]
            if chip.is_us and chip.china_stock > 0 and chip.released:  # its China stock was made for China
                chip.line = "running"
        if self.china_decides:
            self.china_government.warm_start()
        offered = self.chips_on_sale_now(delivered=True)  # (no licensed product is through the pipeline yet)
        for chip in self.chips:
            # US makers make for China, for the first quarter, the most of each product they may sell
            may_sell, _ = self.china_sellable(chip, self.start, offered)
            chip.china_production = chip.production_limit if may_sell else 0.0
            chip.expected_orders = chip.china_production
        self.chips_on_sale = []
        self.paired_chip = None  # this quarter's pairing partner (domestic chip), if a quota is in force
        self.pairing_ratio = 0.0  # this quarter's pairing quota (H100e of domestic per US H100e)
        self.pairing_by_beijing = False  # the quota is Beijing's own (on the products it approves)
        self.groups = []
        self.short_groups = set()
        self.hbm_stock = float(self.hbm_stockpile_2026)  # stacks, drawn from HBM_FROM on
        self.frontier_chip = None  # the US chip bought abroad this quarter
        self.grey_chip = None  # the US chip smuggled this quarter
        self.grey_premium = 0.0  # the grey market's premium over list this quarter
        self.grey_units = 0.0  # smuggled units delivered this quarter (all developers)
        self.budget_split = dict.fromkeys(("budget", "china", "offshore", "grey", "unspent"), 0.0)

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
        if self.us_licence_allocation == "largest":
            self.license_largest_private()
        if self.china_decides:
            self.china_government.approve(self.developers)
        # licences by schedule go to the largest developers (ties: the lower index first)
        self.by_size = sorted(self.developers, key=lambda d: -d.base_demand)
        del fast

        self.maturity = [1.0, self.rocm_maturity, self.domestic_maturity()]
        self.reported = reporters.zeros()
        self.datacollector = mesa.DataCollector(
            model_reporters={name: reporters.reading(name) for name in MODEL_REPORTERS})

    # --- helpers ---------------------------------------------------------------------------------
    def demand_factor(self, quarter):
        """Spending in ``quarter`` relative to 2026's: growing at demand_growth a year from 2025 on,
        and before 2025 falling back at history_growth a year from its 2025 level."""
        years = years_since_2026(quarter)
        if years >= -1.0:
            return (1.0 + self.demand_growth) ** years
        return (1.0 + self.demand_growth) ** -1.0 * (1.0 + self.history_growth) ** (years + 1.0)

    def draw_demand(self, base_demand):
        growth = self.demand_factor(self.quarter)
        sd = self.demand_shock_sd
        if sd > 0:
            return base_demand * growth * math.exp(self.rng.normal(-0.5 * sd**2, sd))
        return base_demand * growth

    def chips_on_sale_now(self, q=None, delivered=False):
        """Chips offered in China now (or in quarter ``q``, as things stand now). A chip is on sale
        when it is released and still made (or in stock), and is not retired: a chip retires
        SALE_QUARTERS after its release, except its maker's newest such chip, a China part while it
        complies, and a US maker's newest chip that the US rule in force lets it sell to licensed
        Chinese customers: with ``delivered`` (the market, and the makers' plans) one whose licences
        reach them by ``q`` (through the licence pipeline), else (Beijing, the makers' design) one the
        rule licenses."""
        q = self.quarter if q is None else q
        us = self.us_government
        made = [c for c in self.chips
                if (c.released or c.release <= q) and (q < c.end_of_production or c.china_stock > 0)]
        licensable = [c for c in made if c.is_us and not c.china_part
                      and (us.deliverable(c, q) if delivered else us.may_export(c, self.quarter))[1]]
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

    def china_sellable(self, chip, when, offered):
        """(may sell, most it may ship a quarter) for a US maker's plan for quarter ``when``: the rule
        in force now lets it sell the product to some Chinese buyer (a licensed product once its licences
        come through the pipeline by then), it is on sale in China then (among ``offered``, not retired)
        and it still makes it then; a licensed product is held to its volume cap under 'threshold' and
        'lagged'."""
        if not chip.is_us:
            return False, math.inf
        to_anyone, to_licensed = self.us_government.deliverable(chip, when)
        may = (to_anyone or to_licensed) and when < chip.end_of_production and chip in offered
        cap = math.inf
        if to_licensed and self.us_government.volume_capped():
            cap = min(self.volume_cap_left(chip, when), self.licence_total_left())
        return may, cap

    def us_shipped_to_date(self, chip, quarter):
        """Units of a US product shipped to US end users from its release through ``quarter``: its
        us_units_per_quarter a quarter until its maker's next product (not a China part, nor a part
        designed to the rule) ships, then falling by us_units_decline_per_year a year, summed quarter by
        quarter."""
        later = [c.release for c in self.chips if c.maker is chip.maker and c.is_us and not c.china_part
                 and not c.generated and c.release > chip.release]
        nxt = min(later) if later else None
        k = (1.0 - self.us_units_decline_per_year) ** 0.25
        total = 0.0
        for q in range(chip.release, quarter + 1):
            total += chip.us_units_per_quarter * (1.0 if nxt is None or q < nxt else k ** (q - nxt + 1))
        return total

    def licence_total_left(self):
        """Under 'threshold', what the total licence cap leaves: us_licence_total_cap_units less the licensed
        units sold so far, never below 0 (inf under any other rule or with the cap off)."""
        if self.us_government.regime != "threshold":
            return math.inf
        return max(0.0, self.us_licence_total_cap_units - self.licensed_units)

    def volume_cap_left(self, chip, quarter):
        """What the volume cap leaves of a licensed product by ``quarter``: us_volume_cap_share x its
        cumulative US shipments less its cumulative China units, never below 0."""
        return max(0.0, self.us_volume_cap_share * self.us_shipped_to_date(chip, quarter)
                   - chip.china_units_to_date)

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
        self.allocate_hbm()
        self.apply_licences()
        self.approve_buyers()
        self.post_chips()
        self.pick_frontier_chips()
        for d in self.developers:
            d.observe()
        for d in self.developers:
            d.step()
        self.short_groups = set()  # which supply groups ran short this quarter (diagnostics for the tests)
        self.rationed, self.rounds = self.clear_market()
        for d in self.developers:
            d.rest = d.remaining
            d.spent = d.demand - d.frontier_budget - d.rest
        self.stockpile()
        self.spend_the_rest()
        for d in self.developers:
            d.install()
        self.book_revenue()
        self.report()
        self.datacollector.collect(self)

    def allocate_hbm(self):
        """From 2026Q1 the HBM usable this quarter is the stock / hbm_drawdown_quarters plus this
        quarter's domestic HBM output (which then joins the stock); when domestic makers need more
        at full foundry output than is usable, each HBM-using maker gets a share of it in proportion
        to its need, and that bounds its output."""
        if self.quarter < HBM_FROM:
            return
        flow = (self.domestic_hbm_2026 / 4.0
                * (1.0 + self.domestic_hbm_growth) ** years_since_2026(self.quarter))
        usable = self.hbm_stock / self.hbm_drawdown_quarters + flow
        self.hbm_stock += flow
        domestic = [mk for mk in self.makers if not mk.is_us and math.isfinite(mk.foundry_capacity)]
        total = 0.0
        for mk in domestic:
            total += mk.foundry_capacity * mk.hbm_stacks_per_chip
        for mk in domestic:
            if total <= usable or mk.hbm_stacks_per_chip <= 0:
                mk.bound_by_hbm(math.inf)
            else:
                share = mk.foundry_capacity * mk.hbm_stacks_per_chip / total
                mk.bound_by_hbm(share * usable / mk.hbm_stacks_per_chip)

    def license_largest_private(self):
        """us_licence_allocation 'largest': the private developers in order of size (base demand, the
        largest first; ties in index order) hold the licences while, by the midpoint rule, they hold
        approved_customer_share of private demand; no state-affiliated developer holds one."""
        private = sorted((d for d in self.developers if not d.state_affiliated), key=lambda d: -d.base_demand)
        total = sum(d.base_demand for d in private)
        before = 0.0
        for d in self.developers:
            d.licensed_by_share = False
        for d in private:
            d.licensed_by_share = before + 0.5 * d.base_demand < self.approved_customer_share * total
            before += d.base_demand
        for d in self.developers:
            d.licensed = d.licensed_by_share

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

    def approve_buyers(self):
        """When Beijing decides, its approvals follow this quarter's US licences."""
        if self.china_decides:
            self.china_government.approve(self.developers)

    def post_chips(self):
        """What is on sale, what the US lets through, this quarter's prices, the utility common to
        every buyer, and the supply groups."""
        risk = self.us_government.supply_cut_risk()
        self.chips_on_sale = self.chips_on_sale_now(delivered=True)
        for chip in self.chips:
            chip.on_sale = chip in self.chips_on_sale
            # what reaches Chinese buyers: licensed products once through the licence pipeline
            chip.to_anyone, chip.to_licensed = (
                self.us_government.deliverable(chip, self.quarter) if chip.is_us else (False, False))
            # the maker passes on the share revenue_passthrough x scarcity of the US levy
            # ... and a domestic maker charges its markup
            passed_on = self.revenue_passthrough * chip.scarcity * self.us_government.levy(chip)
            chip.china_price = chip.price_usd * (1.0 + passed_on + chip.maker.markup)
            chip.buyer_cost = (chip.china_price if chip.is_us
                               else chip.china_price * (1.0 - self.domestic_subsidy))
            chip.units_sold = 0.0
            chip.last_orders = 0.0
            chip.groups = []
            # sold from stock: a US product (its China stock), or any product no longer made
            chip.stocked = chip.on_sale and (chip.is_us or self.quarter >= chip.end_of_production)
            chip.last_supply = chip.china_stock if chip.stocked else 0.0
        # a pairing quota bundles with each US chip its H100e of the cheapest domestic chip per H100e on sale
        # (the first such in the catalogue), whose cost it adds
        domestic = [c for c in self.chips if c.on_sale and not c.is_us]
        partner = min(domestic, key=lambda c: c.buyer_cost / c.perf) if domestic else None
        # the quota in force: the parameter's, or (none set, Beijing deciding) Beijing's own
        # (Beijing's own covers only the US products it approves: a condition of approval)
        self.pairing_ratio, self.pairing_by_beijing = self.domestic_pairing_ratio, False
        if self.pairing_ratio <= 0 and self.china_decides:
            self.pairing_ratio, self.pairing_by_beijing = self.china_government.pairing_ratio, True
        covers_any = any(self.paired_covers(c) for c in self.chips)
        self.paired_chip = partner if self.pairing_ratio > 0 and covers_any else None
        cheapest = partner.buyer_cost / partner.perf if partner is not None else None
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
                                          self.volume_cap_left(chip, self.quarter)))
        for chip in self.chips_on_sale:
            if chip.stocked:
                groups.append(SupplyGroup(f"{chip.name} stock", [chip], chip.china_stock))
        if licensed_only and self.us_government.regime == "threshold":  # the threshold rule's licence terms
            per_customer = self.per_customer_cap_units * self.licensed_customers() / 4.0
            cap = min(per_customer, self.licence_total_left())
            if math.isfinite(cap):
                groups.append(SupplyGroup("licence caps", licensed_only, cap))
        if math.isfinite(self.china_import_cap_units):
            groups.append(SupplyGroup("import cap", [c for c in self.chips if c.is_us],
                                      self.china_import_cap_units))
        for g in groups:
            if self.paired_chip in g.uses:
                for chip in self.chips:
                    if chip.is_us:
                        g.add_paired(chip, self.paired_units(chip))
        return groups

    def paired_covers(self, chip):
        """Whether the pairing quota in force covers ``chip``: every US chip under the parameter's, the US
        products Beijing approves under its own."""
        if not chip.is_us:
            return False
        return not self.pairing_by_beijing or self.china_government.level.get(chip) == "approval"

    def paired_units(self, chip):
        """Units of the paired domestic chip bundled with one unit of ``chip`` (0 without a quota)."""
        if self.paired_chip is None or not self.paired_covers(chip):
            return 0.0
        return self.pairing_ratio * chip.perf / self.paired_chip.perf

    def clear_market(self):
        """Rounds of ordering and filling of every developer's ``remaining`` budget over its menu (the
        first order is placed); an over-subscribed supply group rations every buyer of its chips
        alike, and a chip in several groups gets the smallest fill ratio. The first round's units per
        chip are added to the orders makers see. Returns (did a group run short, rounds)."""
        total_demand = sum(d.remaining for d in self.developers)
        rationed = False
        rounds = 0
        for rnd in range(1, MAX_ROUNDS + 1):
            if rnd > 1:
                for d in self.developers:
                    d.choose()
            units = {chip: 0.0 for chip in self.chips}
            for d in self.developers:
                for chip, amount in d.order:
                    units[chip] += amount / chip.buyer_cost
            paired = self.paired_chip
            if rnd == 1:
                for chip in self.chips:
                    chip.last_orders += units[chip]
                if paired is not None:
                    paired.last_orders += sum(units[c] * self.paired_units(c) for c in self.chips)
            any_short = False
            for g in self.groups:
                wanted = sum(units[c] * u for c, u in g.uses.items())
                g.short = wanted > g.left
                g.fill = g.left / wanted if g.short else 1.0
                any_short |= g.short
                if g.short:
                    self.short_groups.add(g.name)
            for chip in self.chips:
                chip.fill = min([g.fill for g in chip.groups], default=1.0)
                chip.units_sold += units[chip] * chip.fill
            if paired is not None:
                paired.units_sold += sum(units[c] * c.fill * self.paired_units(c) for c in self.chips)
            for g in self.groups:
                g.left -= sum(units[c] * c.fill * u for c, u in g.uses.items())
                # a short group whose own ratio bound all its chips is exhausted; one whose chip was
                # held lower by another group keeps what that chip did not take
                held_lower = any(c.fill < g.fill and units[c] > 0 for c in g.uses)
                if g.short and not held_lower:
                    g.left = 0.0
                g.left = max(g.left, 0.0)
            for d in self.developers:
                d.receive()
            rounds = rnd
            rationed |= any_short
            left = sum(d.remaining for d in self.developers)
            if not any_short or left <= 1e-12 * max(total_demand, 1.0):
                break
        return rationed, rounds

    def stockpile(self):
        """Developers who may buy a US chip with supply left and expect a US supply cut bring forward
        stockpile_share x (1 - exp(-policy_risk_weight x risk)) of their budget and spend it on US chips
        with the supply left (a second clearing over US chips only)."""
        for d in self.developers:
            d.stockpiled = 0.0
        risk = self.us_government.supply_cut_risk()
        if self.stockpile_share <= 0 or risk <= 0 or self.policy_risk_weight <= 0:
            return
        share = self.stockpile_share * (1.0 - math.exp(-self.policy_risk_weight * risk))
        extra = [share * d.demand if d.may_stockpile() else 0.0 for d in self.developers]
        if not any(x != 0.0 for x in extra):
            return
        for d, x in zip(self.developers, extra):
            d.menu = [c for c in d.menu if c.is_us]
            d.remaining = x
            d.choose()
        self.clear_market()
        for d, x in zip(self.developers, extra):
            d.stockpiled = x - d.remaining
            d.advance += d.stockpiled

    def pick_frontier_chips(self):
        """This quarter's frontier chip (the US chip with the most H100e per dollar among those sold
        anywhere: what a buyer abroad picks) and grey chip (the same choice among those released at
        least ``grey_lag_quarters`` ago: what smugglers deliver); ties: the first in the catalogue."""
        frontier = grey = None
        for chip in self.chips:
            if not (chip.is_us and chip.sold_anywhere(self.quarter)):
                continue
            per_usd = chip.perf / chip.price_usd
            if frontier is None or per_usd > frontier.perf / frontier.price_usd:
                frontier = chip
            if self.quarter - chip.release >= self.grey_lag_quarters and (
                    grey is None or per_usd > grey.perf / grey.price_usd):
                grey = chip
        self.frontier_chip, self.grey_chip = frontier, grey

    def grey_market(self, want_usd, list_price):
        """(premium over list, units delivered) where the smugglers' supply meets the developers' demand.

        Supply: a x m units at a premium m, a = grey_supply_units x (1 - grey_seizure_share) (what is
        seized is the smugglers' loss). Demand: the developers spend want_usd x (1 - m / grey_max_premium)
        on units at list x (1 + m). They meet where a m list (1 + m) = want (1 - m / max), i.e.
        A m^2 + B m - want = 0 with A = a x list and B = A + want / max; its positive root, written as
        2 want / (B + sqrt(B^2 + 4 A want)) (no cancellation), lies in [0, max)."""
        a = self.grey_supply_units * (1.0 - self.grey_seizure_share)
        if want_usd <= 0 or a <= 0 or self.grey_max_premium <= 0 or list_price <= 0:
            return 0.0, 0.0
        big_a = a * list_price
        big_b = big_a + want_usd / self.grey_max_premium
        premium = 2.0 * want_usd / (big_b + math.sqrt(big_b * big_b + 4.0 * big_a * want_usd))
        return premium, a * premium

    def rent_per_unit_quarter(self, chip):
        """USD to rent one ``chip`` abroad for this quarter: the 2026 price of a FLOP-based H100e-hour
        (``offshore_rent_usd_per_h100e_hour``) x the hours in a quarter (365.25 x 24 / 4) x the chip's
        FLOP-based H100e, halving every ``us_flop_per_usd_doubling_years`` from 2026 (the trend of FLOP
        per dollar)."""
        decline = 2.0 ** (-years_since_2026(self.quarter) / self.us_flop_per_usd_doubling_years)
        return self.offshore_rent_usd_per_h100e_hour * HOURS_PER_QUARTER * chip.flop_h100e * decline

    def spend_the_rest(self):
        """What China's market did not take goes abroad (on the frontier chip: bought, or rented for the
        quarter), then what is left of it
        (private developers) and the frontier budgets go to the grey market (on the grey chip), and what
        is left is unspent (carryover_share of it carries into next quarter)."""
        keep = 1.0 - self.depreciation
        for d in self.developers:
            d.installed_offshore = [a * keep for a in d.installed_offshore]
            d.rented_offshore = [0.0] * len(d.rented_offshore)  # rented by the quarter
            d.offshore = d.grey = d.offshore_units = d.rented_units = d.grey_units = 0.0
        self.grey_premium = self.grey_units = 0.0
        frontier, grey_chip = self.frontier_chip, self.grey_chip
        if any(d.rest > 0 or d.frontier_budget > 0 for d in self.developers):
            if frontier is not None:
                open_share = self.offshore_open_after_rule if self.quarter >= self.offshore_rule_from else 1.0
                rent = self.rent_per_unit_quarter(frontier)
                for d in self.developers:
                    d.spend_abroad(frontier, open_share, rent)
            if grey_chip is not None:
                # what each brings to the grey market: a private developer's rest after abroad, and
                # the frontier budget it set aside
                want = [(0.0 if d.state_affiliated else d.rest - d.offshore) + d.frontier_budget
                        for d in self.developers]
                total = sum(want)
                premium, units = self.grey_market(total, grey_chip.price_usd)
                self.grey_premium, self.grey_units = premium, units
                unit_cost = grey_chip.price_usd * (1.0 + premium)
                spend = units * unit_cost  # all developers together, shared in proportion to want
                if total > 0 and spend > 0:
                    for d, w in zip(self.developers, want):
                        d.grey = w * (spend / total)
                        d.grey_units = d.grey / unit_cost
                        d.purchases[grey_chip.maker.index] += d.grey * (grey_chip.perf / unit_cost)
        for d in self.developers:
            d.unmet = max(d.rest + d.frontier_budget - d.offshore - d.grey, 0.0)
            d.carry = self.carryover_share * d.unmet
        devs = self.developers
        self.budget_split = {
            "budget": sum(d.demand for d in devs) + sum(d.stockpiled for d in devs),
            "china": sum(d.spent for d in devs) + sum(d.stockpiled for d in devs),
            "offshore": sum(d.offshore for d in devs), "grey": sum(d.grey for d in devs),
            "unspent": sum(d.unmet for d in devs)}

    def book_revenue(self):
        for chip in self.chips:
            chip.china_units_to_date += chip.units_sold
            if chip.is_us and chip.to_licensed and self.us_government.regime == "threshold":  # the total cap
                self.licensed_units += chip.units_sold
            if chip.stocked:  # its stock is drawn down
                left = chip.china_stock - chip.units_sold
                chip.china_stock = left if left >= STOCK_SOLD_OUT else 0.0
        if self.quarter >= HBM_FROM:  # domestic chips sold used their HBM stacks
            used = sum(c.units_sold * c.maker.hbm_stacks_per_chip for c in self.chips if not c.is_us)
            self.hbm_stock = max(0.0, self.hbm_stock - used)
        for maker in self.makers:
            maker.book_sales(sum(c.units_sold * c.china_price for c in maker.chips))
        domestic = [mk.index for mk in self.makers if not mk.is_us]
        self.domestic_cumulative += sum(d.purchases[k] for d in self.developers for k in domestic)
        self.install_units()
        self.maturity[DOMESTIC] = self.domestic_maturity()

    def install_units(self):
        """Each chip's installed units, channel by channel, lose ``depreciation``, then this quarter's
        join: the units sold in China's market (stockpiling included) as legal, the smuggled units of
        the grey chip that arrived as grey and the units of the frontier chip bought abroad as offshore;
        the units of the frontier chip rented abroad this quarter are the rented channel (a flow: only
        this quarter's)."""
        keep = 1.0 - self.depreciation
        grey = sum(d.grey_units for d in self.developers)
        offshore = sum(d.offshore_units for d in self.developers)
        rented = sum(d.rented_units for d in self.developers)
        for chip in self.chips:
            frontier = chip is self.frontier_chip
            chip.new_units = {"legal": chip.units_sold, "legacy": 0.0,
                              "grey": grey if chip is self.grey_chip else 0.0,
                              "offshore": offshore if frontier else 0.0,
                              "rented": rented if frontier else 0.0}
            for c in CHANNELS:
                if c in FLOW_CHANNELS:
                    chip.units[c] = chip.new_units[c]
                else:
                    chip.units[c] = chip.units[c] * keep + chip.new_units[c]

    def report(self):
        us = [mk.index for mk in self.makers if mk.is_us]
        unmet = 0.0
        on_us = 0
        for d in self.developers:
            on_us += sum(d.installed[k] for k in us) > 0.5 * sum(d.installed)
            unmet += d.unmet
        n = len(self.developers)
        # FLOP-based H100e installed, from each chip's units by channel: US chips and all chips,
        # in stock and added this quarter
        stock_us, stock_all, new_us, new_all = ({c: 0.0 for c in CHANNELS} for _ in range(4))
        effective = 0.0  # effective H100e installed in China
        for chip in self.chips:
            for c in CHANNELS:
                stock_all[c] += chip.units[c] * chip.flop_h100e
                new_all[c] += chip.new_units[c] * chip.flop_h100e
                if chip.is_us:
                    stock_us[c] += chip.units[c] * chip.flop_h100e
                    new_us[c] += chip.new_units[c] * chip.flop_h100e
            effective += sum(chip.units[c] * chip.perf for c in CHINA_CHANNELS)
        in_china = sum(stock_all[c] for c in CHINA_CHANNELS)
        bought = sum(new_all[c] for c in CHINA_CHANNELS)
        share = {c: stock_us[c] / in_china if in_china > 0 else 0.0 for c in CHINA_CHANNELS}
        share_new = {c: new_us[c] / bought if bought > 0 else 0.0 for c in CHINA_CHANNELS}
        offshore = stock_all["offshore"] + stock_all["rented"]  # owned and rented abroad
        us_compute = self.us_compute_2026_h100e * self.us_compute_growth ** years_since_2026(self.quarter)
        r = {}
        r["us_stack_share"] = share["legal"] + share["legacy"] + share["grey"]
        r["us_share_new"] = share_new["legal"] + share_new["grey"]
        r["developers_on_us_stack"] = on_us / n if n else 0.0
        r["us_share_legal"] = share["legal"]
        r["us_share_legacy"] = share["legacy"]
        r["us_share_grey"] = share["grey"]
        designed = sum(chip.units["legal"] * chip.flop_h100e for chip in self.chips if chip.generated)
        r["us_share_designed"] = designed / in_china if in_china > 0 else 0.0
        r["china_to_us_compute_ratio"] = in_china / us_compute if us_compute > 0 else 0.0
        r["us_share_new_legal"] = share_new["legal"]
        r["us_share_new_grey"] = share_new["grey"]
        r["china_compute_h100e"] = in_china
        r["china_effective_compute_h100e"] = effective
        r["us_compute_h100e"] = us_compute
        r["frontier_gap"] = self.frontier_gap()
        r["nvidia_china_revenue_usd"] = sum(c.units_sold * c.china_price for c in self.chips
                                            if c.maker.name == reported_maker("nvidia_china_revenue_usd"))
        r["domestic_revenue_usd"] = sum(c.units_sold * c.china_price for c in self.chips if not c.is_us)
        r["domestic_ecosystem"] = self.maturity[DOMESTIC]
        r["capability_gap_months"] = self.capability_gap()
        r["unmet_demand_h100e"] = unmet / USD_PER_H100E
        r["offshore_compute_h100e"] = offshore
        r["grey_compute_h100e"] = stock_all["grey"]
        r["grey_units"] = sum(chip.new_units["grey"] for chip in self.chips)
        total = in_china + offshore
        r["us_stack_share_incl_offshore"] = ((r["us_stack_share"] * in_china + offshore) / total
                                             if total > 0 else 0.0)
        r["budget_usd"] = self.budget_split["budget"]
        r["spent_china_usd"] = self.budget_split["china"]
        r["spent_offshore_usd"] = self.budget_split["offshore"]
        r["spent_grey_usd"] = self.budget_split["grey"]
        r["unspent_usd"] = self.budget_split["unspent"]
        # Nvidia's China supply this quarter: the stock it offered of its products on sale to China
        r["nvidia_china_supply_units"] = sum(
            c.last_supply for c in self.chips
            if c.maker.name == reported_maker("nvidia_china_supply_units") and c.on_sale
            and (c.to_anyone or c.to_licensed))
        huawei = next(mk for mk in self.makers if mk.name == reported_maker("huawei_output_cap_units"))
        r["huawei_output_cap_units"] = huawei.capacity if math.isfinite(huawei.capacity) else 0.0
        r["us_regime_code"] = float(US_REGIMES.index(self.us_government.regime))
        r["china_policy_code"] = float(CHINA_POLICIES.index(self.china_government.stance))
        r["china_pairing_ratio"] = self.pairing_ratio if self.paired_chip is not None else 0.0
        listed = sum(c.units_sold * c.price_usd for c in self.chips if not c.is_us)
        paid = sum(c.units_sold * c.china_price for c in self.chips if not c.is_us)
        r["domestic_price_markup"] = paid / listed - 1.0 if listed > 0 else 0.0
        for mk in self.makers:
            r[f"units_{mk.name.lower()}"] = sum(c.units_sold for c in self.chips if c.maker is mk)
            r[f"revenue_{mk.name.lower()}"] = sum(c.units_sold * c.china_price for c in self.chips
                                                  if c.maker is mk)
        self.reported = {name: r[name] for name in MODEL_REPORTERS}

    def frontier_gap(self):
        """FLOP-based H100e of the best chip China can legally buy (a licensed buyer under the US rule in
        force, or any released domestic chip) over the best released US chip's."""
        usable = [c.flop_h100e for c in self.chips
                  if (not c.is_us and c.released)
                  or (c.on_sale and (not c.is_us or c.to_anyone or c.to_licensed))]
        us_released = [c.flop_h100e for c in self.chips if c.is_us and c.released]
        if not usable or not us_released:
            return 0.0
        return max(usable) / max(us_released)

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
