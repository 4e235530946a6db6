"""ChipMarketModel: the market for AI chips in China after the December 2025 H200 decision.

An agent-based model on Mesa 3.5. The US and Chinese governments set export and import rules
(``model.core.governments``), chipmakers supply chips (``model.core.makers``: US makers Nvidia and AMD;
domestic makers Huawei, Cambricon, Moore Threads and the in-house T-Head and Kunlunxin, all from the
catalogue), and Chinese AI developers buy compute each quarter by a multinomial-logit choice
(``model.core.developers``). See docs/ODD.md for the full description (ODD protocol, Grimm et al. 2020)
and docs/SOURCES.md for the sources of every default.

The model wires the agents and orders the quarter (ODD): governments (rules) -> chipmakers (supply,
roadmap, ecosystem) -> the market in China is offered (``offer``) -> developers (choices and market
clearing for the whole population at once) -> the quarter is settled (stocks, HBM, books, ecosystem)
-> metrics and data collection. Parameters are ``self.p`` (what was set); agents and arrays hold what
happened.
"""

from __future__ import annotations

import math

import mesa
import numpy as np
import pandas as pd

from model.core import fixedmath as fm
from model.core import reporters
from model.core.backcast import History, backcast
from model.core.beijing import ChinaGovernment
from model.core.catalogue import DOMESTIC, ROADMAP_FROM, run_catalogue, with_design
from model.core.choice import ChoiceWeights, chip_base_utility, chip_weights
from model.core.developers import AIDeveloper, Developers, LazyDeveloperAgents
from model.core.governments import USGovernment
from model.core.ledger import ComputeLedger
from model.core.limits import check_steps
from model.core.makers import ChinaSupply, DomesticChipmaker, HBMPool, USChipmaker
from model.core.market import MarketOffer, legal_chips_by_class, on_sale, one_chip_rows
from model.core.parameters import (
    PARAMS,
    PARAMS_BY_NAME,
    Parameters,
    as_dict,
    keyword_init,
    unknown_parameter_error,
    validate_value,
)
from model.core.population import InstalledBase, create_population, demand_factor
from model.core.quarters import format_quarter, parse_quarter
from model.core.reporters import MODEL_REPORTERS, REPORTERS, REPORTERS_BY_NAME  # noqa: F401 (re-exported)
from model.core.supply import china_production_limit

#: The domestic ecosystem's learning curve is anchored on cumulative domestic purchases before this quarter.
LEARNING_ANCHOR = parse_quarter("2026Q1")


class ChipMarketModel(LazyDeveloperAgents, mesa.Model):
    """The AI-chip market in China, quarter by quarter. Parameters: ``model.core.parameters.PARAMS``
    (one keyword argument each, with the table's default), plus Mesa's ``rng`` seed."""

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

    @keyword_init(PARAMS)
    def __init__(self, rng, values) -> None:
        """Build the model from its parameters (``PARAMS``; each a keyword argument) and ``rng``."""
        self.p = Parameters(**{name: validate_value(name, value) for name, value in values.items()})
        if rng is not None and (isinstance(rng, bool) or not isinstance(rng, (int, np.integer))):
            raise ValueError(f"parameter 'rng': invalid value {rng!r}; allowed: an integer seed or None")
        super().__init__(rng=None if rng is None else int(rng))
        p = self.p

        # --- calendar and catalogue
        self.start = parse_quarter(p.start_quarter)
        self.quarter = self.start
        self.catalogue = run_catalogue(p.us_roadmap_delay_quarters, p.us_roadmap_perf_scale,
                                       p.us_flop_per_usd_doubling_years, p.us_bandwidth_doubling_years)
        cat = self.catalogue
        self.reporter_names = tuple(r.name for r in reporters.table(cat.makers))
        self.us_maker_mask = cat.ecosystem_of_maker != DOMESTIC
        self.release = cat.release.copy()  # effective release (domestic chips move with R&D)
        self.released = self.release <= self.start
        self.perf = cat.perf_paper * np.where(cat.is_us, 1.0, p.domestic_efficiency)
        self.depreciation = 1.0 / (4.0 * p.depreciation_years)

        # --- the installed base inherited from history (demand follows this run's path backwards)
        history = self.kept_history(self.start)
        anchor = history if self.start == LEARNING_ANCHOR else self.kept_history(LEARNING_ANCHOR)
        self.domestic_cumulative_anchor = anchor.domestic_h100e
        self.domestic_cumulative = history.domestic_h100e
        self.ledger = ComputeLedger.start(history.units)

        # --- agents: governments, chipmakers (one agent type each for US and domestic), developers
        self.us_government = USGovernment(self)
        self.china_government = ChinaGovernment(self)
        self.supply = ChinaSupply.start(cat, p.us_china_production_share, history.from_stock)
        self.chipmakers = [DomesticChipmaker(self, k) if m.is_domestic else USChipmaker(self, k, self.supply)
                           for k, m in enumerate(cat.makers)]
        self.developers = Developers.from_arrays(
            create_population(self.rng, p, InstalledBase.of(history.units * self.perf, cat), cat))
        self.defer_developer_agents()  # AIDeveloper views, created when first asked for
        self.hbm = HBMPool(self)

        # --- state read by reporters
        self.maturity = np.array([1.0, p.rocm_maturity, self.domestic_maturity()])
        self.chips_sold = np.zeros(len(cat.names))
        self.china_units_to_date = np.zeros(len(cat.names))  # legal units sold in China since the start
        self.sales_by_chip: dict[str, float] = dict.fromkeys(cat.names, 0.0)
        self.sellable_now = np.zeros(len(cat.names), dtype=bool)
        self._sellable = (None, None)  # china_sellable's last inputs and answer
        self.supply.first_production(self.china_sellable(self.start)[0])  # arrives in the first quarter
        self.china_price = cat.price_usd.copy()
        self.buyer_cost = cat.price_usd.copy()
        self.set_prices(self.on_sale())
        self.us_legal_by_class = np.zeros((3, len(cat.names)), dtype=bool)  # the US rule's view
        self.allowed_by_class = np.zeros((6, len(cat.names)), dtype=bool)  # ... and Beijing's levels
        self.reported = reporters.zeros(self.reporter_names)  # the reporters of the last quarter cleared
        self.datacollector = reporters.ReportedCollector(
            model_reporters={name: reporters.reading(name) for name in self.reporter_names},
            tables={"chip_sales": ["step", "quarter", "chip", "maker", "units", "revenue_usd"]},
            agenttype_reporters=(
                {AIDeveloper: {"segment": "segment", "licensed": "licensed",
                               "us_compute_h100e": "us_compute_h100e",
                               "domestic_compute_h100e": "domestic_compute_h100e"}}
                if p.collect_developer_data else None
            ),
        )

    # ------------------------------------------------------------------------------------------
    # What the sweep needs to know of a model class (model.sweep.protocol)
    @classmethod
    def parameter_table(cls) -> tuple:
        """The parameters (``model.core.parameters.Param``), in order."""
        return PARAMS

    @classmethod
    def reporter_table(cls) -> tuple:
        """The model reporters (``model.core.reporters.Reporter``) of the catalogue in force, in order."""
        return reporters.table()

    def chip_sales_table(self) -> pd.DataFrame:
        """Per chip and quarter sold (``reporters.chip_sales``): the per-chip table a sweep stores."""
        return reporters.chip_sales(self)

    def time_label(self, step: int) -> str:
        """The calendar quarter of ``step`` (0 = ``start_quarter``), e.g. '2026Q1'."""
        return format_quarter(self.start + step)

    @property
    def parameters(self) -> dict:
        """The parameter values as {name: value} (``self.p`` as a dict)."""
        return as_dict(self.p)

    # ------------------------------------------------------------------------------------------
    # Initialisation helpers
    _HISTORIES: dict = {}  # (class, parameters, catalogue's contents, quarter) -> History, this process

    def kept_history(self, quarter: int) -> History:
        """``history_before(quarter)``, kept per parameters, catalogue and quarter (all it reads): the
        replications of a sweep, which differ only in their seed, compute it once per process."""
        key = (type(self), self.p, quarter, *(v.tobytes() if isinstance(v, np.ndarray) else v
                                              for v in vars(self.catalogue).values()))
        history = self._HISTORIES.get(key)
        if history is None:
            if len(self._HISTORIES) >= 64:
                self._HISTORIES.clear()
            history = self._HISTORIES[key] = self.history_before(quarter)
            history.units.setflags(write=False)
            history.from_stock.setflags(write=False)
        return history

    def history_before(self, quarter: int) -> History:
        """The chips bought in China before ``quarter``, chip by chip (``model.core.backcast``)."""
        return backcast(self.catalogue, self.p, quarter, self.perf, self.depreciation)

    # ------------------------------------------------------------------------------------------
    # The quarter
    def step(self) -> None:
        """One quarter: governments -> chipmakers -> the offer -> developers -> settlement -> data."""
        self.quarter = self.start + self.steps - 1
        self.released |= self.release <= self.quarter
        self.us_government.step()
        self.china_government.step()
        for maker in self.chipmakers:
            maker.step()
        self.hbm.allocate([mk for mk in self.chipmakers if mk.is_domestic])
        offer = self.offer()
        sales = self.developers.buy(self, offer)
        self.settle(offer, sales)
        self.reported = reporters.compute(self)
        self.datacollector.collect(self)

    def offer(self) -> MarketOffer:
        """The market in China this quarter: what is on sale and to whom (the US rule), at what cost to
        buyers (levy pass-through, Beijing's subsidy and pairing quota), with which supply groups."""
        cat = self.catalogue
        to_anyone, to_licensed = self.us_government.deliverable()
        sale = self.on_sale(to_licensed)
        self.sellable_now = sale & cat.is_us & (to_anyone | to_licensed)
        self.us_legal_by_class = legal_chips_by_class(sale, cat.is_us, to_anyone, to_licensed)
        self.allowed_by_class = self.china_government.access(self.us_legal_by_class)
        self.set_prices(sale)
        risk = np.where(cat.is_us, self.us_government.supply_cut_risk, 0.0)
        base = chip_base_utility(self.perf, self.buyer_cost, self.maturity[cat.ecosystem_of_chip], risk,
                                 ChoiceWeights.of(self.p))
        stocked = self.stocked_products(sale)
        groups, capacity = self.supply_groups(sale, to_licensed, stocked)
        self.supply.last_supply = np.where(stocked, self.supply.stock, 0.0)
        return MarketOffer(cat, sale, self.allowed_by_class, base, self.buyer_cost, self.perf, groups,
                           capacity, stocked, chip_weights(base), self.china_government.pairing)

    def settle(self, offer: MarketOffer, sales) -> None:
        """After the clearing: makers see their orders, stocks and HBM are drawn down, sales are
        recorded and booked, and the domestic ecosystem learns from what was installed."""
        self.supply.last_orders = sales.orders
        self.chips_sold = sales.chips_sold
        self.china_units_to_date += sales.chips_sold
        self.us_government.count_licensed(sales.chips_sold)
        self.supply.sell(offer.stocked, sales.chips_sold)
        self.hbm.use(sales.chips_sold)
        revenue = sales.chips_sold * self.china_price
        self.record_chip_sales(revenue)
        for maker in self.chipmakers:
            maker.book_sales(float(revenue[maker.chips].sum()))
        self.domestic_cumulative += float(sales.purchases[:, ~self.us_maker_mask].sum())
        self.ledger.step(self.depreciation, self.developers.new_units(sales.chips_sold))
        self.maturity[DOMESTIC] = self.domestic_maturity()

    def record_chip_sales(self, revenue: np.ndarray) -> None:
        """``sales_by_chip`` and one ``chip_sales`` table row per chip sold this quarter."""
        cat, units = self.catalogue, self.chips_sold.tolist()
        self.sales_by_chip = dict(zip(cat.names, units, strict=True))
        sold = [j for j, u in enumerate(units) if u > 0]
        revenue, maker_of_chip = revenue.tolist(), cat.maker_of_chip.tolist()
        self.datacollector.add_table_rows("chip_sales", {
            "step": [self.steps - 1] * len(sold), "quarter": [format_quarter(self.quarter)] * len(sold),
            "chip": [cat.names[j] for j in sold], "maker": [cat.maker_names[maker_of_chip[j]] for j in sold],
            "units": [units[j] for j in sold], "revenue_usd": [revenue[j] for j in sold]})

    # ------------------------------------------------------------------------------------------
    # The offer's parts
    def set_prices(self, sale: np.ndarray) -> None:
        """China prices (what the maker books: the list price plus the US levy's share a US maker passes on,
        ``revenue_passthrough`` x scarcity, and a domestic maker's ``markup``) and buyers' costs (Beijing's
        instruments, ``ChinaGovernment.buyer_cost``) this quarter."""
        cat, markup = self.catalogue, np.array([maker.markup for maker in self.chipmakers])
        passed_on = self.p.revenue_passthrough * self.supply.scarcity * self.us_government.levy()
        self.china_price = cat.price_usd * (1.0 + passed_on + markup[cat.maker_of_chip])
        self.buyer_cost = self.china_government.buyer_cost(self.china_price, self.perf, sale)

    def supply_groups(self, sale: np.ndarray, to_licensed: np.ndarray,
                      stocked: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(K x J) chips of each supply group and (K,) units each can deliver this quarter: domestic
        makers' capacity; each licensed US product's volume cap (what is left of ``us_volume_cap_share``
        x its cumulative US units, ``USGovernment.volume_cap_left``) under 'threshold' and 'lagged';
        each US product's China stock (and any product sold from stock after its end of production);
        the licence caps on all licensed products together; Beijing's import cap on all US chips.
        ``stocked``: ``stocked_products(sale)`` if the caller has it."""
        cat = self.catalogue
        groups = [g for g in (maker.supply_group() for maker in self.chipmakers) if g is not None]
        rows = [np.array([g[0] for g in groups], dtype=bool).reshape(-1, len(cat.names))]
        caps = [np.array([g[1] for g in groups], dtype=float)]
        licensed_only = sale & cat.is_us & to_licensed
        one_chip = one_chip_rows(len(cat.names))
        capped = np.flatnonzero(licensed_only) if self.us_government.volume_capped else np.zeros(0, int)
        stocked = np.flatnonzero(self.stocked_products(sale) if stocked is None else stocked)
        rows += [one_chip[capped], one_chip[stocked]]
        gov = self.us_government
        left = (gov.volume_cap_left(self.release, self.quarter, self.china_units_to_date)[capped]
                if len(capped) else np.zeros(0))
        caps += [left,
                 self.supply.stock[stocked].astype(float)]
        licence_cap = self.us_government.licence_cap()
        if math.isfinite(licence_cap) and licensed_only.any():
            rows.append(licensed_only[None, :])
            caps.append(np.array([licence_cap]))
        import_cap = self.china_government.import_cap
        if math.isfinite(import_cap):
            rows.append(cat.is_us[None, :])
            caps.append(np.array([import_cap], dtype=float))
        return np.concatenate(rows), np.concatenate(caps)

    def stocked_products(self, sale: np.ndarray) -> np.ndarray:
        """Products on sale whose supply is a stock: US products (their makers' China stock) and any
        product no longer made."""
        cat = self.catalogue
        return sale & (cat.is_us | (self.quarter >= cat.end_of_production))

    def china_sellable(self, quarter: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(may_sell, sellable_max) per chip for a US maker's plan for ``quarter`` (default: next
        quarter): US products the rule in force lets it sell to some Chinese buyer, that are on sale in
        China then (not retired, see ``on_sale``) and that it still makes then; the most of each it may
        ship that quarter (what the volume cap and the total licence cap leave under 'threshold' and 'lagged',
        else inf)."""
        cat = self.catalogue
        when = self.quarter + 1 if quarter is None else quarter
        # both US makers ask each quarter: the answer is kept while its inputs stay the same (a stock
        # matters only for a chip no longer made then: ``on_sale`` reads it for no other)
        key = (self.quarter, when, self.us_government.rule, self.release.tobytes(),
               self.china_units_to_date.tobytes(),
               ((self.supply.stock > 0) & (when >= cat.end_of_production)).tobytes())
        if key == self._sellable[0]:
            return self._sellable[1]
        to_anyone, to_licensed = self.us_government.deliverable(when)
        offered = on_sale(when, cat, self.release, self.release <= when, self.supply.stock, to_licensed)
        may = cat.is_us & (to_anyone | to_licensed) & (when < cat.end_of_production) & offered
        cap = np.full(len(cat.names), np.inf)
        if self.us_government.volume_capped:
            lic = to_licensed & cat.is_us
            left = self.us_government.volume_cap_left(self.release, when, self.china_units_to_date)
            cap[lic] = np.minimum(left[lic], self.us_government.licence_total_left())
        may.setflags(write=False)
        cap.setflags(write=False)
        self._sellable = (key, (may, cap))
        return may, cap

    def on_sale(self, to_licensed: np.ndarray | None = None) -> np.ndarray:
        """Chips offered in China this quarter (``model.core.market.on_sale``); ``to_licensed`` is the US
        rule's licensable set when the caller already has it."""
        if to_licensed is None:
            _, to_licensed = self.us_government.exportable()
        return on_sale(self.quarter, self.catalogue, self.release, self.released, self.supply.stock,
                       to_licensed)

    # ------------------------------------------------------------------------------------------
    # Chips' calendar and the domestic ecosystem
    def reschedule_releases(self, maker_index: int, shift: int) -> None:
        """Move the maker's not-yet-released chips ``shift`` quarters earlier (negative: later).

        Only the roadmap ahead moves: chips planned before ``ROADMAP_FROM`` (2026Q1) shipped when
        history says they did, even in a replay that starts earlier.
        """
        cat = self.catalogue
        mine = (cat.maker_of_chip == maker_index) & ~self.released & (cat.release >= ROADMAP_FROM)
        self.release[mine] = cat.release[mine] - shift
        self.released |= self.release <= self.quarter

    def place_design(self, slot: int, part: tuple[float, float, float, float] | None, parent: int,
                     release: int, china_part: bool = False) -> None:
        """A part a US maker designed to the rule (``USChipmaker.design_to_rule``) takes the catalogue's
        generated column ``slot`` (``catalogue.with_design``), released at ``release``; the model's
        effective release, performance and the maker's China production limit follow. ``part`` None
        empties the slot."""
        self.catalogue = cat = with_design(self.catalogue, slot, release, part, parent, china_part,
                                           self.p.us_china_production_share)
        self.release[slot] = release
        self.perf[slot] = cat.perf_paper[slot]
        self.supply.limit[slot] = china_production_limit(
            cat.is_us, cat.china_part, cat.us_units_per_quarter, cat.china_units_per_quarter,
            self.p.us_china_production_share)[slot]

    def domestic_maturity(self) -> float:
        """Domestic ecosystem maturity on a learning curve in cumulative domestic compute."""
        start = self.p.ecosystem_maturity_2026
        if self.domestic_cumulative_anchor <= 0 or self.domestic_cumulative <= 0:
            return float(start)
        ratio = self.domestic_cumulative / self.domestic_cumulative_anchor
        gap = (1.0 - start) * fm.power(ratio, -self.p.ecosystem_learning)
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
        budget = self.p.demand_2026_usd / 4.0 * demand_factor(self.p, self.quarter)
        expected = budget / reporters.USD_PER_H100E
        return supply / expected if expected > 0 else 0.0

    # ------------------------------------------------------------------------------------------
    # Convenience for users
    @property
    def quarter_label(self) -> str:
        """The current quarter as a calendar quarter, e.g. '2026Q3'."""
        return format_quarter(self.quarter)

    def run(self, steps: int = 20) -> pd.DataFrame:
        """Run ``steps`` quarters and return the model reporters with ``step`` and ``quarter``."""
        for _ in range(check_steps(steps)):
            self.step()
        return self.dataframe()

    def dataframe(self) -> pd.DataFrame:
        """Model reporters, one row per step, with columns ``step`` (0, 1, ...) and ``quarter``."""
        values = self.datacollector.model_vars
        rows = len(values[self.reporter_names[0]]) if values else 0
        columns = {"step": np.arange(rows), "quarter": [self.time_label(k) for k in range(rows)]}
        columns.update({name: np.asarray(values[name], dtype=float) for name in self.reporter_names})
        return pd.DataFrame(columns)
