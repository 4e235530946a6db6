"""ChipMarketModel: the market for AI chips in China after the December 2025 H200 decision.

An agent-based model on Mesa 3.5. The US and Chinese governments set export and import rules,
chipmakers (Nvidia, AMD; Huawei, Cambricon, Moore Threads, and the in-house T-Head and Kunlunxin)
supply chips, and Chinese AI developers buy compute each quarter by a multinomial-logit choice. See
docs/ODD.md for the full description (ODD protocol, Grimm et al. 2020) and docs/SOURCES.md for the
sources of every default.

Step order each quarter (ODD): governments (rules) -> chipmakers (supply, roadmap,
ecosystem) -> developers (choices and market clearing for the whole population at once) ->
metrics and data collection.

Over 400 lines as one job, the model that wires the agents and the quarter's steps; the rules it
calls are pure functions in the modules beside it (policy, supply, channels, choice, market).
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import pandas as pd

from model.core import channels, reporters, supply
from model.core import fixedmath as fm
from model.core.agents import AIDeveloper, ChinaGovernment, Chipmaker, USGovernment
from model.core.catalogue import (
    CHIPS,
    DOMESTIC,
    MAKERS,
    ROADMAP_FROM,
    SALE_QUARTERS,
    US_PURCHASE_SHARE_BY_YEAR,
    catalogue_arrays,
    with_us_roadmap,
)
from model.core.choice import chip_base_utility, ecosystem_pull
from model.core.market import chips_with_supply, clear_market
from model.core.parameters import PARAMS, PARAMS_BY_NAME, unknown_parameter_error, validate_value
from model.core.policy import (
    CHINA_STANCES,
    US_REGIMES,
    in_force_at,
    parse_count_schedule,
    parse_schedule,
)
from model.core.population import (
    access_class,
    create_population,
    install,
    installed_by_ecosystem,
    own_shares,
    quarterly_demand,
)
from model.core.quarters import format_quarter, parse_quarter, quarter_year, years_since_2026
from model.core.reporters import (
    MODEL_REPORTERS,
    REPORTERS,  # noqa: F401 (re-exported)
    REPORTERS_BY_NAME,  # noqa: F401 (re-exported)
    USD_PER_H100E,
)

#: Stock below this many units counts as sold out (the clearing's round-off, a few ulps of the stock).
STOCK_SOLD_OUT = 1e-6
#: Quarters of purchase history used to build the installed base at the start (6 years).
HISTORY_QUARTERS = 24
#: HBM binds domestic output from this quarter on (the 2024 stockpile covered 2024-25 output, §B1 M).
HBM_FROM = parse_quarter("2026Q1")


class ChipMarketModel(mesa.Model):
    """The AI-chip market in China, quarter by quarter. Parameters: see ``model.core.parameters``."""

    def __new__(cls, *args, **kwargs):
        # Python would reject an unknown keyword with a bare TypeError before __init__ runs; name
        # the parameter and suggest the closest known one instead (a ValueError, like other bad
        # values). The signature stays explicit keywords for SolaraViz and mesa.batch_run.
        if args:
            raise ValueError("ChipMarketModel takes keyword arguments only, e.g. ChipMarketModel(rng=42)")
        for name in kwargs:
            if name != "rng" and name not in PARAMS_BY_NAME:
                raise unknown_parameter_error(name)
        return super().__new__(cls)

    def __init__(
        self,
        *,
        export_regime: str = "threshold",
        export_tpp_cap: float = 21_000.0,
        export_bw_cap_gbs: float = 6_500.0,
        export_lag_months: int = 18,
        us_volume_cap_share: float = 0.5,
        per_customer_cap_units: float = math.inf,
        us_licence_schedule: str = "",
        us_adaptive: bool = False,
        us_adaptive_margin: float = 1.0,
        approved_customer_share: float = 0.6,
        us_revenue_share: float = 0.25,
        china_part_revenue_share: float = 0.15,
        us_reversal_prob: float = 0.05,
        realize_reversals: bool = True,
        revenue_passthrough: float = 0.5,
        us_china_production_share: float = 0.5,
        maker_order_smoothing: float = 0.5,
        us_roadmap_delay_quarters: int = 0,
        us_roadmap_perf_scale: float = 1.0,
        china_import_policy: str = "restrict",
        china_approval_share: float = 0.25,
        state_mandate: bool = True,
        domestic_subsidy: float = 0.15,
        domestic_pairing_ratio: float = 0.0,
        china_import_cap_units: float = math.inf,
        guidance_penalty: float = 1.0,
        state_guidance_multiplier: float = 2.0,
        state_domestic_preference: float = 6.0,
        china_adaptive: bool = False,
        huawei_capacity_2026: float = 600_000,
        cambricon_capacity_2026: float = 300_000,
        moore_threads_capacity_2026: float = 25_000,
        thead_capacity_2026: float = 400_000,
        kunlunxin_capacity_2026: float = 200_000,
        domestic_capacity_growth: float = 0.5,
        hbm_stockpile_2026: float = 3_200_000,
        hbm_drawdown_quarters: int = 4,
        domestic_hbm_2026: float = 1_000_000,
        domestic_hbm_growth: float = 1.0,
        capacity_reinvest_share: float = 0.1,
        capacity_cost_usd: float = 5_000.0,
        domestic_efficiency: float = 0.69,
        ecosystem_maturity_2026: float = 0.4,
        ecosystem_learning: float = 0.3,
        rocm_maturity: float = 0.6,
        rd_share: float = 0.2,
        rd_speedup_cost_usd: float = 1e9,
        n_developers: int = 1000,
        demand_2026_usd: float = 50e9,
        demand_growth: float = 0.37,
        demand_shock_sd: float = 0.2,
        depreciation_years: float = 4.5,
        price_weight: float = 2.0,
        ecosystem_weight: float = 3.0,
        lockin_weight: float = 2.0,
        peer_weight: float = 1.0,
        policy_risk_weight: float = 3.0,
        risk_horizon_quarters: int = 8,
        taste_sd: float = 0.5,
        peers_per_developer: int = 8,
        offshore_capacity_share: float = 0.3,
        offshore_cost_premium: float = 0.2,
        offshore_rule_quarter: str = "2026Q3",
        offshore_open_after_rule: float = 0.25,
        grey_capacity_usd: float = 1e9,
        grey_premium: float = 0.5,
        grey_seizure_share: float = 0.1,
        carryover_share: float = 0.5,
        stockpile_share: float = 0.2,
        start_quarter: str = "2026Q1",
        us_policy_schedule: str = "",
        china_policy_schedule: str = "",
        collect_developer_data: bool = False,
        rng: int | None = None,
    ) -> None:
        params = {k: v for k, v in locals().items() if k not in ("self", "rng", "__class__")}
        for name, value in params.items():
            setattr(self, name, validate_value(name, value))
        if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer))):
            raise ValueError(f"parameter 'rng': invalid value {rng!r}; allowed: an integer seed or None")
        super().__init__(rng=None if rng is None else int(rng))
        self.parameters = {name: getattr(self, name) for name in params}

        # --- calendar, catalogue and policy schedules
        self.start = parse_quarter(self.start_quarter)
        self.offshore_rule_from = parse_quarter(self.offshore_rule_quarter)
        self.quarter = self.start
        self.catalogue = with_us_roadmap(catalogue_arrays(CHIPS, MAKERS), self.us_roadmap_delay_quarters,
                                         self.us_roadmap_perf_scale)
        cat = self.catalogue
        self.us_maker_mask = cat.ecosystem_of_maker != DOMESTIC
        self.release = cat.release.copy()  # effective release (domestic chips move with R&D)
        self.released = self.release <= self.start
        self.perf = cat.perf_paper * np.where(cat.is_us, 1.0, self.domestic_efficiency)
        self.us_schedule = parse_schedule(self.us_policy_schedule, US_REGIMES)
        self.licence_schedule = parse_count_schedule(self.us_licence_schedule)
        self.china_schedule = parse_schedule(self.china_policy_schedule, CHINA_STANCES)
        self.depreciation = 1.0 / (4.0 * self.depreciation_years)

        # --- demand (budgets, USD) and the installed base inherited from history
        self.quarterly_budget_2026 = self.demand_2026_usd / 4.0
        installed0, us_share0, domestic_cum0 = self.history_before(self.start)
        _, _, domestic_cum_2026 = self.history_before(parse_quarter("2026Q1"))
        self.domestic_cumulative_anchor = domestic_cum_2026
        self.domestic_cumulative = domestic_cum0

        # --- agents
        self.us_government = USGovernment(
            self, in_force_at(self.us_schedule, self.start, self.export_regime), self.us_schedule)
        self.china_government = ChinaGovernment(
            self, in_force_at(self.china_schedule, self.start, self.china_import_policy), self.china_schedule)
        capacities = {"Huawei": self.huawei_capacity_2026, "Cambricon": self.cambricon_capacity_2026,
                      "MooreThreads": self.moore_threads_capacity_2026, "THead": self.thead_capacity_2026,
                      "Kunlunxin": self.kunlunxin_capacity_2026}
        self.chipmakers = [
            Chipmaker(self, k, capacities.get(m.name), m.revenue_2026_usd) for k, m in enumerate(MAKERS)
        ]
        self.developers = create_population(
            self.rng, self.n_developers, self.quarterly_budget_2026, installed0, us_share0,
            cat.maker_names, cat.ecosystem_of_maker, self.approved_customer_share,
            self.china_approval_share, self.taste_sd, self.peers_per_developer,
        )
        self.licensed_by_share = self.developers.licensed.copy()
        AIDeveloper.create_agents(self, self.n_developers, index=np.arange(self.n_developers))

        # --- state read by reporters
        self.maturity = np.array([1.0, self.rocm_maturity, self.domestic_maturity()])
        self.chips_sold = np.zeros(len(cat.names))
        self.sales_by_chip: dict[str, float] = dict.fromkeys(cat.names, 0.0)
        n_chips = len(cat.names)
        # US makers' China supply (model.core.supply): stock, production in the pipeline, orders seen
        self.china_stock = cat.stock_units.copy()
        self.production_limit = supply.china_production_limit(
            cat.is_us, cat.china_part, cat.us_units_per_quarter, cat.china_units_per_quarter,
            self.us_china_production_share)
        self.sellable_now = np.zeros(n_chips, dtype=bool)
        may_sell, _ = self.china_sellable(self.start)
        self.china_production = np.where(may_sell, self.production_limit, 0.0)  # arrives in the first quarter
        self.expected_orders = self.china_production.copy()
        self.last_orders = np.zeros(n_chips)
        self.last_supply = np.zeros(n_chips)
        self.scarcity = np.zeros(n_chips)
        self.hbm_stock = float(self.hbm_stockpile_2026)  # stacks, drawn from HBM_FROM on
        self.hbm_usable = math.inf  # stacks usable this quarter (allocate_hbm)
        self.china_price = cat.price_usd.copy()
        self.buyer_cost = cat.price_usd.copy()
        self.set_prices(self.on_sale())
        self.allowed_by_class = np.zeros((3, n_chips), dtype=bool)
        self.grey_installed = 0.0  # H100e of smuggled chips installed in China (all developers)
        # the US chip bought abroad and smuggled this quarter (channels.frontier_chip)
        self.frontier_chip = -1
        self.budget_split = dict.fromkeys(("budget", "china", "offshore", "grey", "unspent"), 0.0)
        self.reported = reporters.zeros()  # the model reporters of the last quarter cleared, by name
        self.datacollector = mesa.DataCollector(
            model_reporters={name: reporters.reading(name) for name in MODEL_REPORTERS},
            tables={"chip_sales": ["step", "quarter", "chip", "maker", "units", "revenue_usd"]},
            agenttype_reporters=(
                {AIDeveloper: {"segment": "segment", "licensed": "licensed",
                               "us_compute_h100e": "us_compute_h100e",
                               "domestic_compute_h100e": "domestic_compute_h100e"}}
                if self.collect_developer_data else None
            ),
        )

    # ------------------------------------------------------------------------------------------
    # Initialisation helpers
    def history_before(self, quarter: int) -> tuple[float, float, float]:
        """Installed base at the start of ``quarter`` from the sourced purchase history.

        Past demand follows this run's demand path backwards; Nvidia's share of each year's
        purchases is SOURCES §E4. Returns (installed H100e, its US share, cumulative
        domestic purchases in H100e, undepreciated, for the ecosystem learning curve).
        """
        years = sorted(US_PURCHASE_SHARE_BY_YEAR)
        installed = us = domestic_cum = 0.0
        for k in range(1, HISTORY_QUARTERS + 1):
            q = quarter - k
            year = min(max(quarter_year(q), years[0]), years[-1])
            share = self.compute_share_of_spend(US_PURCHASE_SHARE_BY_YEAR[year], q)
            budget = self.quarterly_budget_2026 * fm.power(1.0 + self.demand_growth, years_since_2026(q))
            bought = budget / USD_PER_H100E
            kept = bought * fm.power(1.0 - self.depreciation, k - 1)
            installed += kept
            us += kept * share
            domestic_cum += bought * (1.0 - share)
        return installed, (us / installed if installed > 0 else 0.0), domestic_cum

    def compute_share_of_spend(self, us_spend_share: float, quarter: int) -> float:
        """The US share of the compute bought with a US share ``us_spend_share`` of the dollars
        (SOURCES §E4 shares are of revenue): each stack's dollars buy H100e at the mean effective
        H100e per dollar of its chips on sale in China that quarter (catalogue prices)."""
        cat = self.catalogue
        sold_then = (cat.release <= quarter) & (quarter < cat.release + SALE_QUARTERS)
        before_controls = quarter < parse_quarter("2022Q4")  # the Oct 7 2022 rule (§C1, H)
        us_ok = sold_then & cat.is_us & np.where(cat.china_part, quarter < cat.compliant_until,
                                                 before_controls)
        dom = sold_then & ~cat.is_us
        per_usd = self.perf / cat.price_usd
        if not us_ok.any() or not dom.any():
            return us_spend_share
        us_c = us_spend_share * float(per_usd[us_ok].mean())
        dom_c = (1.0 - us_spend_share) * float(per_usd[dom].mean())
        return us_c / (us_c + dom_c)

    # ------------------------------------------------------------------------------------------
    # The quarter
    def step(self) -> None:
        """One quarter: governments -> chipmakers -> developers -> metrics and data collection."""
        self.quarter = self.start + self.steps - 1
        self.released |= self.release <= self.quarter
        self.us_government.step()
        self.china_government.step()
        for maker in self.chipmakers:
            maker.step()
        self.allocate_hbm()
        self.developers_buy()
        self.reported = reporters.compute(self)
        self.datacollector.collect(self)

    def developers_buy(self) -> None:
        """All developers choose and buy at once; supply groups are rationed (see model.core.market);
        then what the market in China could not take goes abroad, to the grey market, or stays unspent
        (see model.core.channels)."""
        dev, cat = self.developers, self.catalogue
        by_eco = installed_by_ecosystem(dev.installed + dev.installed_offshore, cat.ecosystem_of_maker)
        own = own_shares(by_eco)
        peer = dev.peers @ own if dev.peers.nnz else np.zeros_like(own)  # scipy.sparse: no BLAS
        pull = ecosystem_pull(own, peer, dev.taste, self.china_government.pressure(),
                              self.lockin_weight, self.peer_weight)

        self.apply_licences()
        classes = access_class(self.china_government.allows_us(), dev.licensed)
        to_anyone, to_licensed = self.us_government.exportable()
        sale = self.on_sale(to_licensed)
        self.sellable_now = sale & cat.is_us & (to_anyone | to_licensed)
        self.allowed_by_class = legal_chips_by_class(sale, cat.is_us, to_anyone, to_licensed)
        self.set_prices(sale)
        risk = np.where(cat.is_us, self.us_government.supply_cut_risk, 0.0)
        base = chip_base_utility(self.perf, self.buyer_cost, self.maturity[cat.ecosystem_of_chip], risk,
                                 self.price_weight, self.ecosystem_weight, self.policy_risk_weight)
        demand = self.budgets(dev)
        groups, capacity = self.supply_groups(sale, to_licensed)
        stocked = self.stocked_products(sale)
        self.last_supply = np.where(stocked, self.china_stock, 0.0)
        # this quarter's market, for stockpiling
        market = (pull, classes, base, self.buyer_cost, self.perf, groups)
        result = clear_market(demand, pull, classes, self.allowed_by_class, base, self.buyer_cost, self.perf,
                              groups, capacity, cat.maker_of_chip, cat.ecosystem_of_chip,
                              cat.ecosystem_of_maker)
        purchases, chips_sold = result.purchases, result.chips_sold
        self.last_orders = result.orders
        ahead = self.stockpile(demand, result, market)
        if ahead is not None:
            purchases = purchases + ahead.purchases
            chips_sold = chips_sold + ahead.chips_sold
            self.last_orders = self.last_orders + ahead.orders
        stockpiled = ahead.spent if ahead is not None else np.zeros(dev.n)
        dev.advance += stockpiled

        rest = result.unmet
        offshore_usd, grey_usd, purchases = self.spend_the_rest(rest, demand, purchases)
        unspent = np.maximum(rest - offshore_usd - grey_usd, 0.0)
        dev.carry = self.carryover_share * unspent
        self.budget_split = {
            "budget": float(demand.sum() + stockpiled.sum()),
            "china": float(result.spent.sum() + stockpiled.sum()),
            "offshore": float(offshore_usd.sum()), "grey": float(grey_usd.sum()),
            "unspent": float(unspent.sum())}

        install(dev.installed, purchases, self.depreciation)
        dev.last_purchases = purchases
        dev.last_unmet = unspent
        dev.last_spent = result.spent + stockpiled
        dev.last_demand = demand
        dev.last_stockpiled = stockpiled
        dev.last_offshore = offshore_usd
        dev.last_grey = grey_usd
        self.access_classes = classes
        self.chips_sold = chips_sold
        left = self.china_stock - np.where(stocked, chips_sold, 0.0)
        left[left < STOCK_SOLD_OUT] = 0.0  # a clearing that exhausted the stock may leave round-off
        self.china_stock = np.where(stocked, left, self.china_stock)
        self.use_hbm(chips_sold)
        revenue = chips_sold * self.china_price
        self.record_chip_sales(revenue)
        for maker in self.chipmakers:
            maker.book_sales(float(revenue[cat.maker_of_chip == maker.index].sum()))
        self.domestic_cumulative += float(purchases[:, ~self.us_maker_mask].sum())
        self.maturity[DOMESTIC] = self.domestic_maturity()

    def budgets(self, dev) -> np.ndarray:
        """This quarter's budget per developer: the demand draw, plus the carried-over unspent budget,
        less the repayment of budget brought forward to stockpile (over ``risk_horizon_quarters``)."""
        drawn = quarterly_demand(self.rng, dev.base_demand,
                                 fm.power(1.0 + self.demand_growth, years_since_2026(self.quarter)),
                                 self.demand_shock_sd)
        gross = drawn + dev.carry
        repay = np.minimum(dev.advance / self.risk_horizon_quarters, gross)
        dev.advance -= repay
        return gross - repay

    def stockpile(self, demand: np.ndarray, result, market):
        """Developers who may buy US chips and expect a cut bring budget forward and buy US chips with
        supply left (a second clearing over US chips only); None when nobody stockpiles."""
        cat = self.catalogue
        pull, classes, base, cost, perf, groups = market
        us_allowed = self.allowed_by_class & cat.is_us[None, :]
        has_supply = chips_with_supply(groups, result.capacity_left)
        may_buy_us = (us_allowed & has_supply[None, :]).any(axis=1)[classes]
        extra = channels.stockpile_extra(demand, may_buy_us, self.stockpile_share, self.policy_risk_weight,
                                         self.us_government.supply_cut_risk)
        if not extra.any():
            return None
        return clear_market(extra, pull, classes, us_allowed, base, cost, perf, groups, result.capacity_left,
                            cat.maker_of_chip, cat.ecosystem_of_chip, cat.ecosystem_of_maker)

    def spend_the_rest(self, rest: np.ndarray, demand: np.ndarray, purchases: np.ndarray):
        """Offshore, then grey-market spending of the budget China's market did not take. Returns
        (offshore USD, grey USD, purchases in China incl. grey chips); offshore compute is installed
        in ``installed_offshore``."""
        dev, cat = self.developers, self.catalogue
        dev.installed_offshore *= 1.0 - self.depreciation
        self.grey_installed *= 1.0 - self.depreciation
        zero = np.zeros(dev.n)
        sold_anywhere = (self.released & (self.quarter < cat.end_of_production) & ~cat.china_part
                         & (self.quarter < self.release + SALE_QUARTERS))
        f = channels.frontier_chip(self.perf, cat.price_usd, cat.is_us, sold_anywhere)
        self.frontier_chip = f
        dev.last_grey_h100e = zero
        if f < 0 or not rest.any():
            return zero, zero, purchases
        private = ~dev.state_affiliated
        maker = cat.maker_of_chip[f]
        open_share = self.offshore_open_after_rule if self.quarter >= self.offshore_rule_from else 1.0
        offshore = channels.offshore_spend(rest, demand, private, self.offshore_capacity_share, open_share)
        dev.installed_offshore[:, maker] += offshore * (
            self.perf[f] / (cat.price_usd[f] * (1.0 + self.offshore_cost_premium)))
        grey = channels.grey_spend(rest - offshore, private, self.grey_capacity_usd)
        grey_h100e = grey * ((1.0 - self.grey_seizure_share) * self.perf[f]
                             / (cat.price_usd[f] * (1.0 + self.grey_premium)))
        dev.last_grey_h100e = grey_h100e
        if grey_h100e.any():
            purchases = purchases.copy(order="F")
            purchases[:, maker] += grey_h100e
            self.grey_installed += float(grey_h100e.sum())
        return offshore, grey, purchases

    def record_chip_sales(self, revenue: np.ndarray) -> None:
        """``sales_by_chip`` and one ``chip_sales`` table row per chip sold this quarter."""
        cat = self.catalogue
        self.sales_by_chip = {name: float(u) for name, u in zip(cat.names, self.chips_sold, strict=True)}
        label = format_quarter(self.quarter)
        for j in np.flatnonzero(self.chips_sold > 0):
            self.datacollector.add_table_row("chip_sales", {
                "step": self.steps - 1, "quarter": label, "chip": cat.names[j],
                "maker": cat.maker_names[cat.maker_of_chip[j]], "units": float(self.chips_sold[j]),
                "revenue_usd": float(revenue[j])})

    # ------------------------------------------------------------------------------------------
    # Rules used by the step
    def apply_licences(self) -> None:
        """With ``us_licence_schedule``: the N developers with the largest budgets hold a US licence
        from each scheduled quarter (N the count in force); before its first entry, and without a
        schedule, the licences drawn at the start (``approved_customer_share``) hold."""
        dev = self.developers
        if not self.licence_schedule or self.quarter < self.licence_schedule[0][0]:
            dev.licensed = self.licensed_by_share
            return
        count = self.licensed_customers()
        order = np.argsort(-dev.base_demand, kind="stable")
        licensed = np.zeros(dev.n, dtype=bool)
        licensed[order[:count]] = True
        dev.licensed = licensed

    def licensed_customers(self) -> int:
        """Chinese customers holding a US licence now: the scheduled count, else 10 (Reuters, May
        2026: ~10 firms approved, SOURCES §C3 M/L)."""
        return int(in_force_at(self.licence_schedule, self.quarter, 10))

    def set_prices(self, sale: np.ndarray) -> None:
        """China prices (what the maker books) and buyers' costs this quarter: the US levy by chip
        class, the share of it the maker passes on (its scarcity, ``Chipmaker.price_by_scarcity``),
        Beijing's subsidy on domestic chips and the cost of the domestic compute a pairing quota
        requires with each US chip."""
        cat = self.catalogue
        levy = self.us_government.levy()
        self.china_price = cat.price_usd * (1.0 + self.revenue_passthrough * self.scarcity * levy)
        cost = np.where(cat.is_us, self.china_price, cat.price_usd * (1.0 - self.domestic_subsidy))
        self.buyer_cost = cost + self.china_government.pairing_cost(cost, self.perf, sale)

    def supply_groups(self, sale: np.ndarray, to_licensed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(K x J) chips of each supply group and (K,) units each can deliver this quarter: domestic
        makers' capacity; each licensed US product's volume cap (``us_volume_cap_share`` x its US
        units) under 'threshold' and 'lagged'; each US product's China stock (and any product sold from
        stock after its end of production); the per-customer cap on all
        licensed products together; Beijing's import cap on all US chips."""
        cat = self.catalogue
        n_chips = len(cat.names)
        rows: list[np.ndarray] = []
        caps: list[float] = []
        for maker in self.chipmakers:
            group = maker.supply_group()
            if group is not None:
                rows.append(group[0])
                caps.append(group[1])
        licensed_only = sale & cat.is_us & to_licensed
        one_chip = np.eye(n_chips, dtype=bool)
        if self.us_government.volume_capped:
            for j in np.flatnonzero(licensed_only):
                rows.append(one_chip[j])
                caps.append(self.us_volume_cap_share * float(cat.us_units_per_quarter[j]))
        for j in np.flatnonzero(self.stocked_products(sale)):
            rows.append(one_chip[j])
            caps.append(float(self.china_stock[j]))
        if math.isfinite(self.per_customer_cap_units) and licensed_only.any():
            rows.append(licensed_only)
            caps.append(self.per_customer_cap_units * self.licensed_customers() / 4.0)
        if math.isfinite(self.china_import_cap_units):
            rows.append(cat.is_us.copy())
            caps.append(float(self.china_import_cap_units))
        if not rows:
            return np.zeros((0, n_chips), dtype=bool), np.zeros(0)
        return np.array(rows, dtype=bool), np.array(caps, dtype=float)

    def stocked_products(self, sale: np.ndarray) -> np.ndarray:
        """Products on sale whose supply is a stock: US products (their makers' China stock) and any
        product no longer made."""
        cat = self.catalogue
        return sale & (cat.is_us | (self.quarter >= cat.end_of_production))

    def china_sellable(self, quarter: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(may_sell, sellable_max) per chip for a US maker's plan for ``quarter`` (default: next
        quarter): US products the rule in force lets it sell to some Chinese buyer, that are on sale in
        China then (not retired, see ``on_sale``) and that it still makes then; the most of each it may
        ship a quarter (the volume cap under 'threshold' and 'lagged', else inf)."""
        cat = self.catalogue
        when = self.quarter + 1 if quarter is None else quarter
        to_anyone, to_licensed = self.us_government.exportable()
        offered = on_sale(when, self.release <= when, self.release, cat.maker_of_chip, cat.is_us,
                          cat.china_part, cat.compliant_until, cat.end_of_production, self.china_stock,
                          to_licensed)
        may = cat.is_us & (to_anyone | to_licensed) & (when < cat.end_of_production) & offered
        cap = np.full(len(cat.names), np.inf)
        if self.us_government.volume_capped:
            lic = to_licensed & cat.is_us
            cap[lic] = self.us_volume_cap_share * cat.us_units_per_quarter[lic]
        return may, cap

    def allocate_hbm(self) -> None:
        """From 2026Q1: each domestic maker's output is bound by its share of the HBM usable this
        quarter, the stock / ``hbm_drawdown_quarters`` plus this quarter's domestic HBM output
        (``supply.hbm_ceilings``); what is not used stays in the stock."""
        if self.quarter < HBM_FROM:
            return
        flow = self.domestic_hbm_2026 / 4.0 * fm.power(1.0 + self.domestic_hbm_growth,
                                                       years_since_2026(self.quarter))
        self.hbm_usable = self.hbm_stock / self.hbm_drawdown_quarters + flow
        self.hbm_stock += flow
        domestic = [mk for mk in self.chipmakers if mk.is_domestic and math.isfinite(mk.foundry_capacity)]
        if not domestic:
            return
        foundry = np.array([mk.foundry_capacity for mk in domestic])
        stacks = np.array([mk.hbm_stacks_per_chip for mk in domestic])
        for mk, ceiling in zip(domestic, supply.hbm_ceilings(foundry, stacks, self.hbm_usable), strict=True):
            mk.bound_by_hbm(float(ceiling))

    def use_hbm(self, chips_sold: np.ndarray) -> None:
        """Domestic chips sold this quarter used their HBM stacks (from 2026Q1)."""
        if self.quarter < HBM_FROM:
            return
        cat = self.catalogue
        stacks = cat.hbm_stacks_per_chip[cat.maker_of_chip]
        self.hbm_stock = max(0.0, self.hbm_stock - float((chips_sold * stacks)[~cat.is_us].sum()))

    def on_sale(self, to_licensed: np.ndarray | None = None) -> np.ndarray:
        """Chips offered in China this quarter (see ``on_sale`` below); ``to_licensed`` is the US
        rule's licensable set when the caller already has it."""
        cat = self.catalogue
        if to_licensed is None:
            _, to_licensed = self.us_government.exportable()
        return on_sale(self.quarter, self.released, self.release, cat.maker_of_chip, cat.is_us,
                       cat.china_part, cat.compliant_until, cat.end_of_production, self.china_stock,
                       to_licensed)

    def reschedule_releases(self, maker_index: int, shift: int) -> None:
        """Move the maker's not-yet-released chips ``shift`` quarters earlier (negative: later).

        Only the roadmap ahead moves: chips planned before ``ROADMAP_FROM`` (2026Q1) shipped when
        history says they did, even in a replay that starts earlier.
        """
        cat = self.catalogue
        mine = (cat.maker_of_chip == maker_index) & ~self.released & (cat.release >= ROADMAP_FROM)
        self.release[mine] = cat.release[mine] - shift
        self.released |= self.release <= self.quarter

    def domestic_maturity(self) -> float:
        """Domestic ecosystem maturity on a learning curve in cumulative domestic compute."""
        if self.domestic_cumulative_anchor <= 0 or self.domestic_cumulative <= 0:
            return float(self.ecosystem_maturity_2026)
        ratio = self.domestic_cumulative / self.domestic_cumulative_anchor
        gap = (1.0 - self.ecosystem_maturity_2026) * fm.power(ratio, -self.ecosystem_learning)
        return float(min(1.0, max(0.0, 1.0 - gap)))

    def domestic_coverage(self) -> float:
        """Share of this quarter's expected demand that domestic capacity could supply (H100e)."""
        cat = self.catalogue
        sale = self.on_sale()
        supply = 0.0
        for maker in self.chipmakers:
            if maker.is_domestic and math.isfinite(maker.capacity):
                mine = sale & (cat.maker_of_chip == maker.index)
                if mine.any():
                    supply += maker.capacity * float(self.perf[mine].max())
        budget = self.quarterly_budget_2026 * fm.power(1.0 + self.demand_growth,
                                                       years_since_2026(self.quarter))
        expected = budget / USD_PER_H100E
        return supply / expected if expected > 0 else 0.0

    # ------------------------------------------------------------------------------------------
    # What the sweep needs of a model class (model.sweep.protocol)
    @classmethod
    def parameter_table(cls) -> tuple:
        """The parameters an experiment may set: ``model.core.parameters.PARAMS``."""
        return PARAMS

    @classmethod
    def reporter_table(cls) -> tuple:
        """The model reporters, in order (the sweep's output columns): ``model.core.reporters.REPORTERS``."""
        return REPORTERS

    def time_label(self, step: int) -> str:
        """The calendar quarter of ``step`` (0-based), e.g. '2026Q1': the sweep's ``quarter`` column."""
        return format_quarter(self.start + step)

    # ------------------------------------------------------------------------------------------
    # Convenience for users
    @property
    def quarter_label(self) -> str:
        """The current quarter as a calendar quarter, e.g. '2026Q3'."""
        return format_quarter(self.quarter)

    def run(self, steps: int = 20) -> pd.DataFrame:
        """Run ``steps`` quarters and return the model reporters with ``step`` and ``quarter``."""
        for _ in range(steps):
            self.step()
        return self.dataframe()

    def dataframe(self) -> pd.DataFrame:
        """Model reporters, one row per step, with columns ``step`` (0, 1, ...) and ``quarter``."""
        values = self.datacollector.model_vars
        rows = len(values[MODEL_REPORTERS[0]]) if values else 0
        columns = {"step": np.arange(rows), "quarter": [format_quarter(self.start + k) for k in range(rows)]}
        columns.update({name: np.asarray(values[name], dtype=float) for name in MODEL_REPORTERS})
        return pd.DataFrame(columns)


def on_sale(quarter: int, released: np.ndarray, release: np.ndarray, maker_of_chip: np.ndarray,
            is_us: np.ndarray, china_part: np.ndarray, compliant_until: np.ndarray,
            end_of_production: np.ndarray, stock_left: np.ndarray, to_licensed: np.ndarray) -> np.ndarray:
    """Chips released, still made (or in stock), and not retired. A chip retires SALE_QUARTERS after
    its release, except a maker's newest released chip, a China part while it complies, and a US
    maker's newest chip that the rules in force let it sell to licensed Chinese customers (the maker
    keeps making its best China-licensable part: ASSUMPTION, SOURCES §A1/§C1 pattern of A800/H800/H20).
    """
    made = released & ((quarter < end_of_production) | (stock_left > 0))
    newest = np.full(int(maker_of_chip.max()) + 1, np.iinfo(np.int64).min)
    np.maximum.at(newest, maker_of_chip[made], release[made])
    is_newest = release == newest[maker_of_chip]
    licensable = made & is_us & to_licensed & ~china_part
    newest_lic = np.full(newest.shape, np.iinfo(np.int64).min)
    np.maximum.at(newest_lic, maker_of_chip[licensable], release[licensable])
    is_newest_lic = licensable & (release == newest_lic[maker_of_chip])
    young = quarter < release + SALE_QUARTERS
    complying_part = china_part & (quarter < compliant_until)
    return made & (young | is_newest | complying_part | is_newest_lic)


def legal_chips_by_class(sale: np.ndarray, is_us: np.ndarray, to_anyone: np.ndarray,
                         to_licensed: np.ndarray) -> np.ndarray:
    """(3 x chips): what access classes 0 (no US), 1 (US to anyone), 2 (+licensed) may buy."""
    domestic = sale & ~is_us
    allowed = np.zeros((3, sale.shape[0]), dtype=bool)
    allowed[0] = domestic
    allowed[1] = domestic | (sale & is_us & to_anyone)
    allowed[2] = allowed[1] | (sale & is_us & to_licensed)
    return allowed


#: Parameter names in the model's signature, checked against model.core.parameters.PARAMS by the tests.
PARAMETER_NAMES = tuple(p.name for p in PARAMS)
