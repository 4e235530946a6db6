"""Model parameters: names, defaults, units, allowed values and sources, and their validation.

This table is the single statement of every parameter of ``ChipMarketModel``. The model's keyword
arguments, the experiment files, ``chipstack run --set``, the SolaraViz controls and docs/ODD.md all
use these names. Each default gives its source (a section of docs/SOURCES.md with its confidence
grade H/M/L) or says ASSUMPTION with its range; every ``sweep_range`` is screened in
experiments/screening.toml (Morris) and the parameters that stand out are in experiments/sensitivity.toml.

Over 400 lines as one job, the table: one entry per parameter, each with its unit, range and source.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, fields, make_dataclass
from typing import Any

from model.core.catalogue import MAKERS, TREND_DOUBLING_YEARS, Maker
from model.core.policy import (
    CHINA_POLICIES,
    CHINA_STANCES,
    US_REGIMES,
    format_schedule,
    parse_count_schedule,
    parse_schedule,
)
from model.core.quarters import canonical_quarter


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    kind: str  # "float" | "int" | "bool" | "choice" | "quarter" | "schedule"
    unit: str
    doc: str
    source: str
    low: float | None = None  # allowed range (inclusive) for numbers
    high: float | None = None
    choices: tuple[str, ...] = ()
    schedule_values: tuple[str, ...] = ()  # allowed values inside a schedule
    sweep_range: tuple[float, float] | None = None  # range explored in sensitivity analysis
    allow_off: bool = False  # a number that may also be inf ("off": no cap)

    def allowed(self) -> str:
        """Human-readable statement of what is allowed."""
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        if self.kind == "bool":
            return "true or false"
        if self.kind == "quarter":
            return "a quarter like 2026Q1"
        if self.kind == "count_schedule":
            return "empty, or comma-separated QUARTER:COUNT entries like '2026Q1:3,2026Q2:10'"
        if self.kind == "schedule":
            return ("empty, or comma-separated QUARTER:VALUE entries like '2025Q2:h20,2027Q1:ban' "
                    "with VALUE one of " + ", ".join(self.schedule_values))
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        what = "an integer" if self.kind == "int" else "a number"
        return f"{what} in [{lo}, {hi}]" + (', or inf or "off" (no cap)' if self.allow_off else "")


def capacity_param(maker: Maker) -> Param:
    """The parameter that sets a domestic maker's 2026 capacity, from its catalogue entry."""
    c = maker.capacity
    return Param(c.param, c.default, "float", "chips/year", c.doc, c.source, low=0.0, high=1e8,
                 sweep_range=c.sweep_range)


PARAMS: tuple[Param, ...] = (
    # --- US government ------------------------------------------------------------------------
    Param("export_regime", "threshold", "choice", "-",
          "US export rule for AI chips to China: ban, h20 (China parts only), threshold (the Jan 2026 "
          "rule as enacted), lagged (a proposed rolling lag), open",
          "BIS final rule of Jan 13 2026, effective Jan 15: case-by-case licences for chips below a "
          "TPP of 21,000 and 6,500 GB/s, China volume <= 50% of US volume (§B4/§C3, H)",
          choices=US_REGIMES),
    Param("export_tpp_cap", 21_000.0, "float", "TPP",
          "with 'threshold': US chips with a total processing performance below this may be licensed",
          "BIS final rule FR 2026-00789 (§C3, H)",
          low=0.0, high=1e7, sweep_range=(10_000, 40_000)),
    Param("export_bw_cap_gbs", 6_500.0, "float", "GB/s",
          "with 'threshold': ... and DRAM bandwidth below this",
          "BIS final rule FR 2026-00789 (§C3, H)",
          low=0.0, high=1e7, sweep_range=(4_000, 10_000)),
    Param("export_lag_months", 18, "int", "months",
          "with 'lagged' (a proposal, not the enacted rule): how old a chip must be to be exportable",
          "~18-month US lead preserved by the H200 decision (Bloomberg/Reuters, §A2, M/L)",
          low=0, high=60, sweep_range=(0, 36)),
    Param("us_volume_cap_share", 0.5, "float", "share of US units",
          "with 'threshold' and 'lagged': a licensed product's cumulative China units <= this share of its "
          "cumulative units shipped to US end users (ODD 7.1)",
          "BIS final rule: China+Macau volume <= 50% of US shipments of the product (§C3, H)",
          low=0.0, high=1.0, sweep_range=(0.1, 1.0)),
    Param("us_units_decline_per_year", 0.5, "float", "share per year",
          "share of a US product's shipments to US end users lost each year once its maker's next "
          "product ships (the base of the volume cap falls as the next generation ramps)",
          "ASSUMPTION 0.5 (range 0.25-0.75): Blackwell was most of Nvidia's data-centre shipments within "
          "about a year of its launch (§B3, M); no product-level series is published",
          low=0.0, high=1.0, sweep_range=(0.25, 0.75)),
    Param("per_customer_cap_units", 75_000.0, "float", "units per customer per year",
          "under 'threshold': licensed (H200-class) units per Chinese customer and year; inf = no cap. "
          "Applied as an aggregate cap of this x the licensed customers (us_licence_schedule, else 10) / 4 "
          "per quarter",
          "Bloomberg Mar 2026: the US weighed 75,000 H200+MI325X per customer and at most 1M in total "
          "(§C3, M); Reuters May 2026: ~10 firms approved, up to 75k each (§C3, M/L). Neither gives a "
          "period: reading the cap as per year is an ASSUMPTION (per quarter would be 4x looser)",
          low=0.0, high=1e9, allow_off=True),
    Param("us_licence_total_cap_units", 1_000_000.0, "float", "units",
          "under 'threshold': licensed units all Chinese customers together may take over the licences' "
          "life (all licensed products, counted from the first licensed sale); inf = no cap",
          "Bloomberg Mar 2026: the US weighed at most 1M H200+MI325X in total (§C3, M). ASSUMPTION: a "
          "total over the licences' life for every licensed product (a designed licensed part included); "
          "range 0.5M-3M (a per-year reading would allow ~4M by 2030)",
          low=0.0, high=1e9, allow_off=True, sweep_range=(500_000.0, 3_000_000.0)),
    Param("us_licence_lead_quarters", 2, "int", "quarters",
          "quarters from a product becoming licensable to China under the rule in force to the first "
          "licensed delivery (application, inter-agency review, a US lab test of each shipment); 0: at once",
          "ASSUMPTION 2 (range 1-3): statutory limit 90 days (15 CFR 750.4, H); Commerce reviews averaged 50 "
          "days (GAO-01-528, H); 120-180+ days through 2025, China-destined advanced technology slowest "
          "(lenzo.ai, Feb 2026, L); the Jan 2026 rule adds a US third-party lab test of every shipment "
          "(§C3 H)",
          low=0, high=12, sweep_range=(1, 3)),
    Param("us_licence_schedule", "", "count_schedule", "-",
          "dated number of Chinese customers holding a US licence (e.g. '2026Q1:3,2026Q2:10'); the "
          "largest developers hold them. Empty: approved_customer_share applies",
          "Mar 2026 'only a few licences issued' (Bloomberg, §C3 M); May 2026 ~10 firms (Reuters, §C3 M/L)"),
    Param("us_adaptive", False, "bool", "-",
          "with 'threshold': each year's first quarter the TPP cap is set to us_adaptive_margin x the "
          "TPP of the best domestic chip then on sale (exports track what China can make itself)",
          "the decision's own argument: Huawei already makes comparable chips (§A2, M/L; §B4)"),
    Param("us_adaptive_margin", 1.0, "float", "x",
          "with us_adaptive: the TPP cap as a multiple of the best domestic chip's TPP",
          "ASSUMPTION 1.0 (range 0.5-2.0)",
          low=0.01, high=100.0, sweep_range=(0.5, 2.0)),
    Param("us_licence_allocation", "largest", "choice", "-",
          "who holds the US licences (without us_licence_schedule): 'largest', the largest private "
          "developers until they hold approved_customer_share of private demand; 'random', developers "
          "drawn at random within each segment until they hold that share of the segment's demand",
          "Reuters May 2026: ~10 Chinese firms approved, up to 75k each (§C3, M/L); Alibaba and ByteDance "
          "sought > 200k each (Bloomberg Mar 2026, §C3 M); Beijing's first approvals went to ByteDance, "
          "Alibaba and Tencent (§C3 H). ASSUMPTION: no state-affiliated developer holds a US licence",
          choices=("largest", "random")),
    Param("approved_customer_share", 0.6, "float", "share of demand",
          "share of demand held by Chinese developers with a US licence (an 'approved customer'): of "
          "private demand, largest first (us_licence_allocation 'largest'), or of each segment's demand, "
          "at random ('random')",
          "ASSUMPTION 0.6 (range 0.2-1.0): the decision licenses 'approved customers' with KYC "
          "(§B4, H) and >2M H200 were ordered by the large private firms (§B5, M); ~10 firms licensed by "
          "May 2026 (§C3 M/L); hyperscalers hold ~62% of private demand in the population (ODD 2)",
          low=0.0, high=1.0, sweep_range=(0.2, 1.0)),
    Param("us_revenue_share", 0.25, "float", "share of China revenue",
          "the US government's cut of China sales of licensed (H200-class and other non-China-part) "
          "chips; no levy under 'open'",
          "25% on the H200 via the Jan 14 2026 Section 232 tariff proclamation (§B4/§C3, H)",
          low=0.0, high=1.0, sweep_range=(0.0, 0.5)),
    Param("china_part_revenue_share", 0.15, "float", "share of China revenue",
          "the US government's cut of China sales of China parts (H20, MI308, RTX Pro 6000D)",
          "15% licence condition on H20/MI308 from Aug 2025 (§B4, H)",
          low=0.0, high=1.0, sweep_range=(0.0, 0.3)),
    Param("us_reversal_prob", 0.05, "float", "per quarter",
          "chance each quarter that the US tightens the regime one level "
          "(open > lagged > threshold > h20 > ban)",
          "ASSUMPTION 0.05 (range 0-0.35): the US tightened 4 times in 11 quarters 2022Q4-2025Q2 "
          "(§C1, H) and loosened twice since; the upper end is that historical rate",
          low=0.0, high=1.0, sweep_range=(0.0, 0.35)),
    Param("realize_reversals", False, "bool", "-",
          "whether US reversals actually happen (True: the regime tightens at random, "
          "experiments/reversal_risk.toml) or developers only price the risk while the rule holds "
          "(False, the default: the rule as enacted, as in the headline experiment)",
          "experimental design switch; the risk itself is us_reversal_prob"),
    Param("revenue_passthrough", 0.5, "float", "share",
          "most of the US levy a US chipmaker passes on to Chinese buyers; the maker passes on this x "
          "the scarcity of the product (last quarter's China orders over its China supply, minus one, "
          "between 0 and 1): nothing while supply is ample, up to this share when orders are twice supply",
          "ASSUMPTION 0.5 (range 0-1): catalogue prices are reported China prices that already reflect "
          "the levy at ample supply (H200 ~$27k, Reuters Dec 31 2025, §A1 M; FT's ~$20k ByteDance trial "
          "price, §A1 M); >2M H200 ordered against ~700k in stock (§B5, M) is the scarcity that "
          "lets a maker pass more on",
          low=0.0, high=1.0, sweep_range=(0.0, 1.0)),
    # --- US chipmakers: China supply ------------------------------------------------------------
    Param("us_china_production_share", 0.5, "float", "share of US units",
          "most a US maker can make for China per quarter of a product that is not a China part, as a "
          "share of its units for US end users (China parts: the catalogue's china_units_per_quarter)",
          "ASSUMPTION 0.5 (range 0.1-1.0): Nvidia asked TSMC to add 4N output for the H200 from 2026Q2 "
          "(§B5, M), volume unpublished; the BIS rule makes the exporter certify that China sales do not "
          "divert foundry capacity from US customers (§B4, H)",
          low=0.0, high=10.0, sweep_range=(0.1, 1.0)),
    Param("maker_order_smoothing", 0.5, "float", "weight",
          "weight of the latest quarter's China orders in a US maker's expected orders (exponential "
          "smoothing); production for next quarter = expected orders (up to the volume cap) - stock",
          "ASSUMPTION 0.5 (range 0.2-0.9): the H20 episode, where Nvidia stopped China production within "
          "a quarter of the Apr 2025 licence requirement and wrote down $4.5B (§B3, H)",
          low=0.01, high=1.0, sweep_range=(0.2, 0.9)),
    Param("makers_weigh_margin", True, "bool", "-",
          "US makers make a product for China only while a unit pays, net of the US levy and of the risk "
          "that it cannot be sold (a US reversal, or Beijing guiding buyers away or blocking it), halt a "
          "line that stops paying and restart it maker_restart_quarters later (ODD 7.5)",
          "Nvidia halted H20 production after Beijing's Aug 2025 guidance (§B3 M/H) and took a charge on "
          "H200 inventory as demand fell, saying it could not pass on the 25% tariff (10-Q, Aug 2026, H); "
          "gross margins per maker in the catalogue"),
    Param("us_prepayment", True, "bool", "-",
          "with makers_weigh_margin: Chinese buyers pay for licensed (non-China-part) US products in full "
          "when they order, with no cancellation, so a US reversal strands the buyer's money, not the "
          "maker's stock: the maker's risk on those products is only Beijing's (guidance or a block)",
          "Reuters, Jan 2026: Nvidia requires full upfront payment for H200 orders from China, with no "
          "cancellation (§B5, M/L); applying it to every licensed product is an ASSUMPTION"),
    Param("maker_restart_quarters", 2, "int", "quarters",
          "with makers_weigh_margin: quarters from a halted China line paying again to its restart",
          "ASSUMPTION 2 (range 1-4): new wafer starts at TSMC and CoWoS packaging take ~3-6 months",
          low=0, high=12, sweep_range=(1, 4)),
    Param("design_to_rule", True, "bool", "-",
          "whether US makers design China parts to the US rule in force (ODD 7.5, design_to_rule): under "
          "'threshold' and 'h20', a part just under the caps design_lead_quarters after the caps change, or "
          "after the maker's best part for China falls behind the best domestic chip",
          "the pattern of 2022-25: A800/H800 after the Oct 2022 rule, H20 after Oct 2023, RTX Pro 6000D "
          "after the Apr 2025 licence requirement, the B30A (half a B300) proposed for 2025-26 (§A1/§C1 H, "
          "§A2 M); false: no part is designed in a run"),
    Param("design_lead_quarters", 2, "int", "quarters",
          "quarters from a change in the caps (or the maker falling behind) to a designed part's release",
          "ASSUMPTION 2 (range 1-4): A800 within ~1 month of the Oct 2022 rule and H800 a quarter later; H20 "
          "~1-2 quarters after Oct 2023; RTX Pro 6000D ~2 quarters after Apr 2025 (§A1/§C1 H)",
          low=1, high=20, sweep_range=(1, 4)),
    Param("design_margin", 0.05, "float", "share of the cap",
          "how far below each cap (TPP, bandwidth) a designed part sits: its TPP and bandwidth are "
          "(1 - design_margin) x the caps, at most its parent chip's",
          "ASSUMPTION 0.05 (range 0.01-0.25): the MI325X sits 1% under the Jan 2026 TPP cap (20,800 of "
          "21,000, §B4 H), the B30A was to be about half a B300 (TPP ~18-20k, IFP §A2 M); the H20 sat at "
          "half the TPP cap, held down by the density test this model leaves out",
          low=0.0, high=0.9, sweep_range=(0.01, 0.25)),
    Param("us_roadmap_delay_quarters", 0, "int", "quarters",
          "the US roadmap after Blackwell (Rubin, Rubin Ultra, Feynman, the 2029 generation, MI400, MI500) "
          "arrives this many quarters later than the catalogue's dates (negative: earlier)",
          "ASSUMPTION 0 (range -2 to +4): the catalogue's release dates after Blackwell are themselves "
          "ASSUMPTIONS on the makers' yearly cadence (catalogue, SOURCES §A1/§A2); the range allows half a "
          "year early to a year late",
          low=-8, high=20, sweep_range=(-2, 4)),
    Param("us_roadmap_perf_scale", 1.0, "float", "x",
          "performance (and TPP) of the US roadmap after Blackwell relative to the catalogue's "
          "performance indices; prices stay",
          "ASSUMPTION 1.0 (range 0.6-1.5): the catalogue's ranges for Rubin (3-8 around 5) and Rubin Ultra "
          "(6-15 around 10), anchored on the US-best/Huawei-best gap (CFR, §A2, M/H)",
          low=0.1, high=5.0, sweep_range=(0.6, 1.5)),
    Param("us_flop_per_usd_doubling_years", TREND_DOUBLING_YEARS[0], "float", "years",
          "doubling time of dense FLOP/s per dollar for the US chips announced by name only (Feynman, the "
          "2029 placeholder, MI500), from their maker's best chip before 2026 (catalogue ``on_trend``)",
          "Epoch AI (Hobbhahn & Besiroglu 2022): ML GPUs 2.07 years, 95% CI 1.54-3.13 (§A1, H)",
          low=0.5, high=10.0, sweep_range=(1.54, 3.13)),
    Param("us_bandwidth_doubling_years", TREND_DOUBLING_YEARS[1], "float", "years",
          "doubling time of memory bandwidth per dollar for the same chips",
          "ASSUMPTION 4 (range 3-6): Epoch AI measures ML accelerators' memory bandwidth doubling every "
          "~4 years, slower than compute (§A1, M)",
          low=0.5, high=20.0, sweep_range=(3.0, 6.0)),
    # --- Chinese government -------------------------------------------------------------------
    Param("china_import_policy", "decides", "choice", "-",
          "Beijing's policy on US chips: a stance it holds for every US product (open, discourage, restrict, "
          "ban), or 'decides': a level for each US product by its rule (ODD 7.1b: products a domestic chip "
          "matches are reviewed, guided, then blocked at customs; once it acts, new products are held for "
          "review and those no domestic chip matches need its approval, given to the largest licensed "
          "private developers first)",
          "restrict: Jan 2026, customs told the H200 is not permitted; purchases only when 'necessary' "
          "(Reuters/Nikkei, §C2, M). decides: the rule's form from Beijing's stated criterion ('domestic "
          "chips match the H20/6000D', Sep 2025, §C2 H) and its 2025-26 ladder (§C2-C3 H); its two numbers "
          "set a priori, not fitted",
          choices=CHINA_POLICIES),
    Param("china_approval_share", 0.25, "float", "share of demand per segment",
          "under 'restrict': share of each segment's demand held by developers Beijing lets buy US chips "
          "(picked at random within each segment; state-affiliated developers may not buy them whatever "
          "their approval, so it acts on private developers)",
          "ASSUMPTION 0.25 (range 0-0.6): 'special circumstances' only, e.g. university R&D; "
          "initial limited approvals (§C2, M)",
          low=0.0, high=1.0, sweep_range=(0.0, 0.6)),
    Param("china_approved_demand_share", 0.6, "float", "share of licensed private demand",
          "when Beijing decides: share of the demand of private developers holding a US licence that is "
          "held by those it approves, largest first",
          "ASSUMPTION 0.6 (range 0.3-0.8): first approvals went to ByteDance, Alibaba and Tencent (Jan 28 "
          "2026, §C3 H); ByteDance alone planned ~a quarter of China's 2026 AI-chip spending (§D1 M)",
          low=0.0, high=1.0, sweep_range=(0.3, 0.8)),
    Param("state_mandate", True, "bool", "-",
          "state-affiliated developers may buy only domestic chips whenever Beijing's stance is not 'open'",
          "Nov 5 2025: state-funded data centres must use only domestic AI chips (Reuters, §C2, H)"),
    Param("domestic_subsidy", 0.15, "float", "share of cost",
          "cost reduction for domestic chips (energy and price subsidies)",
          "power bills cut up to 50% for DCs on domestic chips (FT Nov 2025, §C2, H) x ASSUMPTION "
          "energy ~30% of lifetime cost -> 0.15 (range 0-0.5)",
          low=0.0, high=0.9, sweep_range=(0.0, 0.5)),
    Param("domestic_pairing_ratio", 0.0, "float", "H100e per H100e",
          "domestic compute a developer must buy per unit of imported US compute (Beijing's drafted "
          "pairing quota); bought with each US chip from domestic supply and installed",
          "Jan 2026: Beijing weighs requiring domestic chips to be bought alongside imports (The "
          "Information, §C3 M; Reuters/Nikkei, §C2 M); reported as drafted, default 0 (range 0-2)",
          low=0.0, high=10.0, sweep_range=(0.0, 2.0)),
    Param("china_import_cap_units", float("inf"), "float", "units per quarter",
          "Beijing's cap on US AI-chip imports per quarter (all US chips together); inf = no cap",
          "Jan 2026: Nikkei reports draft rules capping volumes of foreign advanced chips (§C2, M); "
          "Jan 28 2026 first approvals > 400k H200 in total (§C3, H/M); default off",
          low=0.0, high=1e9, allow_off=True),
    Param("guidance_penalty", 1.0, "float", "utils",
          "utility penalty on US chips under 'discourage' and 'restrict' (window guidance)",
          "ASSUMPTION 1.0 (range 0-3): guidance against H20, justification requests (§C2, H) "
          "exist; their weight in decisions is not measured",
          low=0.0, high=10.0, sweep_range=(0.0, 3.0)),
    Param("state_guidance_multiplier", 2.0, "float", "x",
          "how much larger the guidance penalty is for state-affiliated developers",
          "ASSUMPTION 2 (range 1-4): notices 'especially for government or national-security work' "
          "(§C2, H)",
          low=1.0, high=10.0, sweep_range=(1.0, 4.0)),
    Param("state_domestic_preference", 6.0, "float", "utils",
          "state-affiliated developers' preference for domestic chips whatever Beijing's stance "
          "(procurement rules for SOEs and state-funded DCs)",
          "ASSUMPTION 6 (range 0-8), kept from the 0.1 calibration on Nvidia's 2024 share of China's "
          "AI-chip revenue (66%, §E4 M); the 0.2.0 calibration prefers 0 on a flat surface and leaves "
          "the default unchanged (docs/VALIDATION.md §3.2); basis: Ascend demand came mostly from SOEs "
          "and local governments (The Information, §D2, M), China Mobile 910B/C in ~85% of new "
          "cloud build (§D1, M/L)",
          low=0.0, high=20.0, sweep_range=(0.0, 8.0)),
    Param("china_adaptive", False, "bool", "-",
          "Beijing tightens its stance one level when domestic supply covers 30% / 50% / 80% of demand",
          "ASSUMPTION thresholds; reported localisation target 55% by 2027 (Bernstein, §C2, L)"),
    Param("china_review_quarters", 1, "int", "quarters",
          "when Beijing decides: quarters a matched US product is offered before Beijing guides buyers "
          "away from it, and again before it blocks it at customs",
          "ASSUMPTION 1 (range 1-4): CAC's 2023 review of Micron, opened Mar 31, concluded May 21 2023 "
          "with a ban from critical infrastructure (~7 weeks; SOURCES §C2, H); a priori, not fitted",
          low=1, high=20, sweep_range=(1, 4)),
    Param("china_match_ratio", 1.0, "float", "ratio",
          "when Beijing decides: a US product counts as matched when the best domestic chip on sale gives "
          "at least this multiple of its effective performance (H100e, as developers get it)",
          "ASSUMPTION 1 (range 0.8-1.25): Beijing's stated test, domestic chips 'match' (Sep 2025, §C2 H); "
          "a priori, not fitted",
          low=0.1, high=10.0, sweep_range=(0.8, 1.25)),
    Param("beijing_pairing_max", 1.0, "float", "H100e per H100e",
          "when Beijing decides (and domestic_pairing_ratio is 0): the pairing quota it sets on US imports "
          "when domestic buyers leave all of its makers' output unsold; it scales with the share they leave",
          "ASSUMPTION 1 (range 0-2): Beijing weighed requiring domestic chips to be bought with imports "
          "(Jan 2026, §C3 M; Reuters/Nikkei, §C2 M) and had not enacted it by mid-2026, while domestic "
          "supply was short; no ratio was reported",
          low=0.0, high=10.0, sweep_range=(0.0, 2.0)),
    # --- Chipmakers -----------------------------------------------------------------------------
    *(capacity_param(m) for m in MAKERS if m.capacity is not None),  # from the catalogue
    Param("domestic_capacity_growth", 0.5, "float", "per year",
          "annual growth of domestic chipmakers' capacity after 2026 (and before it, backwards)",
          "ASSUMPTION 0.5 (range 0-1): Huawei ~2x 2025->2026 (Bloomberg, §B1, H) vs HBM-bound "
          "decline (SemiAnalysis, §B1, M); SMIC 45k->60k->80k wpm (§B1, M)",
          low=-0.5, high=3.0, sweep_range=(0.0, 1.0)),
    Param("hbm_stockpile_2026", 3_200_000, "float", "HBM stacks",
          "HBM stacks in China's stockpile for domestic AI chips at 2026Q1, shared by the domestic makers "
          "(8 per Ascend, 4 per Cambricon, T-Head or Kunlunxin chip); before 2026 HBM does not bind",
          "SemiAnalysis Sep 2025: Ascend output ~300k in 2026 if HBM-constrained (§B1, M) x 8 stacks = 2.4M "
          "for Huawei, x 1.31 for the other makers' 2025 share of HBM use (~500k chips x 4 stacks vs 805k "
          "Ascends x 8, §B1/§C4 M) = 3.2M (ASSUMPTION, range 1.6M-6.4M)",
          low=0.0, high=1e10, sweep_range=(1_600_000, 6_400_000)),
    Param("hbm_drawdown_quarters", 4, "int", "quarters",
          "domestic makers spread the HBM stockpile over this many quarters: each quarter at most the "
          "stock / this, plus the quarter's domestic HBM output, can be used",
          "ASSUMPTION 4 (range 1-8): makers that know the stockpile is finite ration it over a year",
          low=1, high=40, sweep_range=(1, 8)),
    Param("domestic_hbm_2026", 1_000_000, "float", "HBM stacks/year",
          "HBM stacks made in China (CXMT, Huawei's own HiBL/HiZQ) for AI chips in 2026",
          "ASSUMPTION 1M (range 0-4M): SemiAnalysis's 300k path assumes no domestic HBM 'unless CXMT "
          "... fills the gap' (§B1, M); Huawei announced its own HBM for the 950 series (§B1, M)",
          low=0.0, high=1e10, sweep_range=(0.0, 4_000_000)),
    Param("domestic_hbm_growth", 1.0, "float", "per year",
          "annual growth of domestic HBM output after 2026",
          "ASSUMPTION 1.0 (range 0.3-2.0): a new industry doubling from a small base",
          low=-0.5, high=5.0, sweep_range=(0.3, 2.0)),
    Param("capacity_reinvest_share", 0.1, "float", "share of revenue",
          "share of a domestic maker's revenue above its planned revenue spent on extra foundry capacity",
          "ASSUMPTION 0.1 (range 0-0.3); SMIC told to prioritise 7nm capacity for Huawei and Cambricon "
          "(§B2, L); state chip package RMB 200-500B under consideration (§C3, M)",
          low=0.0, high=1.0, sweep_range=(0.0, 0.3)),
    Param("domestic_price_response", 0.2, "float", "per quarter",
          "from 2026: a domestic maker's markup over its list price moves each quarter by this x last "
          "quarter's excess demand for its chips, (orders - output) / max(orders, output), never below 0",
          "ASSUMPTION 0.2 (range 0-0.5): orders twice its output raise its price 10% a quarter; no series "
          "of domestic prices was found (list prices §A1 L/M); scarce H100s sold in China's grey market at "
          "~1.5-2x list in 2024 (§A1 L, §C2 M): what scarcity charged there",
          low=0.0, high=5.0, sweep_range=(0.0, 0.5)),
    Param("domestic_markup_max", 1.0, "float", "share over list price",
          "the highest markup over its list price a domestic maker charges (domestic_price_response)",
          "ASSUMPTION 1.0 (range 0.5-1.5): the most Chinese buyers were seen paying for scarce AI chips, "
          "grey-market H100s at ~1.5-1.9x list incl. the server and ~2x list in a 2,400-chip order "
          "(2024; §A1 L, §C2 M)",
          low=0.0, high=10.0, sweep_range=(0.5, 1.5)),
    Param("capacity_cost_usd", 5_000.0, "float", "USD per chip/year",
          "cost of one chip per year of extra domestic foundry capacity (revenue-funded expansion)",
          "ASSUMPTION $5,000 (range $2,000-10,000): an advanced-node line of ~$5-10B for ~1-2M good dies a "
          "year at ~20-30% yields (SMIC N+2 yields ~20%, §B2 M); no published figure",
          low=1.0, high=1e7, sweep_range=(2_000, 10_000)),
    Param("domestic_efficiency", 0.69, "float", "x",
          "share of a domestic chip's paper performance that developers get out of it",
          "910C measured ~0.6 of H100 on inference vs 0.87 paper (§A2, M) -> 0.69 (range 0.5-1.0)",
          low=0.1, high=1.5, sweep_range=(0.5, 1.0)),
    Param("ecosystem_maturity_2026", 0.4, "float", "0-1 (CUDA = 1)",
          "domestic software-ecosystem maturity (CANN and peers) at 2026Q1",
          "ASSUMPTION 0.4 (range 0.2-0.6): CANN 'bug-prone, poorly documented' (Epoch, §D2, M/H); "
          "R2 training on Ascend failed in 2025 (FT, §D1, H); inference works (§D2, H)",
          low=0.0, high=1.0, sweep_range=(0.2, 0.6)),
    Param("ecosystem_learning", 0.3, "float", "exponent",
          "learning exponent: maturity gap shrinks as (cumulative domestic compute)^-b",
          "ASSUMPTION 0.3 (range 0.1-0.6), Wright's-law form; CANN 8.0 claims operator development "
          "from ~2 person-months to ~1.5 person-weeks (§D2, M/L)",
          low=0.0, high=2.0, sweep_range=(0.1, 0.6)),
    Param("rocm_maturity", 0.6, "float", "0-1 (CUDA = 1)",
          "AMD ROCm ecosystem maturity",
          "ASSUMPTION 0.6 (range 0.4-0.8): MI300X 'software-limited' (§A2 derived ratios, M)",
          low=0.0, high=1.0, sweep_range=(0.4, 0.8)),
    Param("rd_share", 0.2, "float", "share of revenue",
          "share of domestic chipmakers' revenue spent on R&D that speeds their roadmap",
          "ASSUMPTION 0.2 (range 0.1-0.3); export controls raised targeted firms' R&D by 49% "
          "(Liu et al. 2025, §E4, H)",
          low=0.0, high=1.0, sweep_range=(0.1, 0.3)),
    Param("rd_speedup_cost_usd", 1e9, "float", "USD per quarter",
          "R&D above (below) the roadmap's planned budget that brings each future chip one quarter "
          "earlier (later); at most 4 quarters either way",
          "ASSUMPTION $1B (range 0.5-5B)",
          low=1e6, high=1e12, sweep_range=(0.5e9, 5e9)),
    # --- Developers -----------------------------------------------------------------------------
    Param("n_developers", 1000, "int", "agents",
          "number of AI-developer agents (aggregate demand does not depend on it)",
          "model resolution, not a calibration target",
          low=1, high=10_000_000),
    Param("demand_2026_usd", 50e9, "float", "USD/year",
          "China's AI-accelerator spending in 2026 (the developers' budgets)",
          "$37B (2025) -> $69B (2027) (Bernstein Dec 2025, §E4, M); Huang '$50B' (§B3, H)",
          low=0.0, high=1e13, sweep_range=(37e9, 69e9)),
    Param("demand_growth", 0.37, "float", "per year",
          "growth of AI-chip spending per year",
          "$37B -> $69B over 2025-2027 = 37%/yr (Bernstein, §E4, M); prior 30-50% (§G)",
          low=-0.5, high=3.0, sweep_range=(0.3, 0.5)),
    Param("history_growth", 0.71, "float", "per year",
          "growth of China's AI-chip spending per year before 2025 (the backcast of the installed base "
          "and a replay's budgets)",
          "ASSUMPTION 0.71 (range 0.37-1.0): Nvidia's China revenue $5.8B (FY2023) -> $17B (FY2025) = 71%/yr "
          "(§B3, H/L); 0.37 = the forward growth; puts China's FLOP-based stock at 2026Q1 inside Epoch AI's "
          "~1M H100e (0.75-1.2M, §H, L)",
          low=-0.5, high=3.0, sweep_range=(0.37, 1.0)),
    Param("demand_shock_sd", 0.2, "float", "log-sd",
          "quarter-to-quarter log-normal noise on each developer's demand",
          "ASSUMPTION 0.2 (range 0-0.5): Tencent capex swung 36.6B -> 13B yuan in 3 quarters (§D1, M)",
          low=0.0, high=2.0, sweep_range=(0.0, 0.5)),
    Param("depreciation_years", 4.5, "float", "years",
          "mean life of an installed chip (geometric depreciation)",
          "ASSUMPTION 4.5 (range 4-5): 'about 4-5 year life' (ODD)",
          low=0.25, high=20.0, sweep_range=(4.0, 5.0)),
    Param("price_weight", 2.0, "float", "utils per log(H100e/$)",
          "weight of log performance per dollar in the choice",
          "ASSUMPTION 2 (range 1-4): H20 sold at a >10% discount to the 910B (§A1, M)",
          low=0.0, high=20.0, sweep_range=(1.0, 4.0)),
    Param("ecosystem_weight", 3.0, "float", "utils",
          "weight of software-ecosystem maturity in the choice",
          "ASSUMPTION 3 (range 1-5): developers 'prefer to train on Western chips when available' "
          "(Epoch, §D2, M/H)",
          low=0.0, high=20.0, sweep_range=(1.0, 5.0)),
    Param("lockin_weight", 2.0, "float", "utils",
          "weight of the developer's own installed base in an ecosystem (switching cost)",
          "ASSUMPTION 2 (range 0-4): porting ~1-3 engineer-months per model family plus 10-40% "
          "first-year efficiency loss (§D2, derived, no primary measurement)",
          low=0.0, high=20.0, sweep_range=(0.0, 4.0)),
    Param("peer_weight", 1.0, "float", "utils",
          "weight of peers' adoption of an ecosystem (talent and software ties)",
          "ASSUMPTION 1 (range 0-3): network externalities (Katz & Shapiro 1985, §E3, H) "
          "of unmeasured size",
          low=0.0, high=20.0, sweep_range=(0.0, 3.0)),
    Param("policy_risk_weight", 3.0, "float", "utils",
          "utility lost per unit probability that US supply is cut within the planning horizon",
          "ASSUMPTION 3 (range 0-6): no measurement; buyers lived through four US tightenings in "
          "11 quarters 2022Q4-2025Q2 (§C1, H) and the Apr 2025 H20 stop, which left $2.5B of H20 "
          "that Nvidia could not ship (§B3, H)",
          low=0.0, high=20.0, sweep_range=(0.0, 6.0)),
    Param("risk_horizon_quarters", 8, "int", "quarters",
          "planning horizon over which developers price the risk of a US reversal",
          "ASSUMPTION 8 (range 4-16)",
          low=1, high=40, sweep_range=(4, 16)),
    Param("taste_sd", 0.5, "float", "utils",
          "standard deviation of each developer's persistent taste for each ecosystem",
          "ASSUMPTION 0.5 (range 0-1.5): Alibaba/Baidu build in-house chips, iFlytek trains on "
          "Ascend (§D1, M)",
          low=0.0, high=10.0, sweep_range=(0.0, 1.5)),
    Param("peers_per_developer", 8, "int", "links",
          "peers each developer follows on the talent/software network",
          "ASSUMPTION 8 (range 2-20)",
          low=0, high=200, sweep_range=(2, 20)),
    # --- Where blocked demand goes ----------------------------------------------------------------
    Param("offshore_capacity_share", 0.3, "float", "share of budget",
          "most of a private developer's quarterly budget it can spend on US chips abroad (rented or "
          "owned data centres outside China); state-affiliated developers cannot",
          "ASSUMPTION 0.3 (range 0-0.6): ByteDance planned $6.8B of its $12B 2025 AI infrastructure "
          "abroad (§D1, M) and leases overseas DCs for Nvidia; most firms have no overseas DCs",
          low=0.0, high=1.0, sweep_range=(0.0, 0.6)),
    Param("offshore_owned_share", 0.3, "float", "share",
          "share of a developer's spending abroad that buys chips for its own data centres there (a stock); "
          "the rest rents cloud capacity by the quarter",
          "ASSUMPTION 0.3 (range 0-0.6): ByteDance both owns and leases data centres abroad and rents Nvidia "
          "capacity from US clouds (its reported ~250k-B300e-equivalent South-East Asian cluster through a "
          "US cloud, §D1 M); no split is published",
          low=0.0, high=1.0, sweep_range=(0.0, 0.6)),
    Param("offshore_rent_usd_per_h100e_hour", 2.5, "float", "USD per H100e-hour",
          "price in 2026 of renting one FLOP-based H100e for an hour from a cloud abroad; it falls with "
          "us_flop_per_usd_doubling_years",
          "2026 GPU-hour prices: H100 $2.0-3.5 at specialty clouds and $3.5-5 at hyperscalers, B200 $4.5-6 "
          "(2.28 H100e: ~$2.0-2.6 per H100e-hour) (Mercatus, AIMultiple, Spheron, Lyceum, Mar-May 2026, "
          "§C3 L/M); range 1.5-5",
          low=0.01, high=100.0, sweep_range=(1.5, 5.0)),
    Param("offshore_cost_premium", 0.2, "float", "share of price",
          "extra cost of owning chips abroad over the chip's price (leases, power, transfer)",
          "ASSUMPTION 0.2 (range 0-0.5): leased space and transfer, and power dearer than western "
          "China's ~5.6 US cents/kWh (§C2, H, which gives 9.1 cents as the US average; power prices in "
          "the countries where Chinese firms rent abroad are not sourced)",
          low=0.0, high=5.0, sweep_range=(0.0, 0.5)),
    Param("offshore_rule_quarter", "2026Q3", "quarter", "quarter",
          "from this quarter the US rule covers China-headquartered firms' overseas operations",
          "BIS guidance of May 31 2026: licence requirements apply to firms headquartered in China "
          "wherever located (§C3, H); first full quarter after it"),
    Param("offshore_open_after_rule", 0.25, "float", "share",
          "share of the offshore channel still open after offshore_rule_quarter (renting from "
          "non-Chinese clouds, which the guidance does not cover)",
          "ASSUMPTION 0.25 (range 0-1)",
          low=0.0, high=1.0, sweep_range=(0.0, 1.0)),
    Param("grey_supply_units", 75_000, "float", "chips per quarter",
          "smuggled chips delivered a quarter at a 100% premium over list with no seizures (the smugglers' "
          "supply line, linear in the premium; ODD 7.4a)",
          "CALIBRATED 75k (range 25k-250k) with grey_frontier_share on the replay's 2024: CNAS's median of "
          "~140k chips smuggled (range 10k to several hundred thousand; Grunewald & Fist, Jun 2025, §C2 M) "
          "at a ~50% premium (2024 grey H100 servers at ~1.5-1.9x list incl. the server, §A1 L): fitted "
          "by a grid of pairs (140k at 0.52), kept after the replay's re-calibration (~130k at ~0.47)",
          low=0.0, high=1e9, sweep_range=(25_000.0, 250_000.0)),
    Param("grey_frontier_share", 0.3, "float", "share of budget",
          "share of a private developer's budget that wants the US frontier chip it may not buy in China "
          "(training at the frontier): it goes to the grey market, not to China's market (what it cannot buy "
          "there is unspent)",
          "CALIBRATED 0.3 (range 0.1-0.5) with grey_supply_units on the replay's 2024 smuggled chips and "
          "premium (see there); CNAS puts smuggled chips at 1-40% of China's training compute in 2024, "
          "median 10% (Grunewald & Fist, Jun 2025, §C2 M)",
          low=0.0, high=1.0, sweep_range=(0.1, 0.5)),
    Param("grey_max_premium", 2.0, "float", "share of price",
          "premium over list at which Chinese developers stop buying smuggled chips (the demand's choke "
          "price; the premium paid is where supply meets demand, below it)",
          "ASSUMPTION 2.0 (range 1-4): grey H100 servers sold for ~2.7M yuan per 8 cards in 2024 (~1.5-1.9x "
          "list, Huxiu, §A1 L) and a 2,400-H100 order at ~2x list (CNAS case, §C2 M), so buyers paid up to "
          "~2x; the choke price lies above what was paid",
          low=0.01, high=20.0, sweep_range=(1.0, 4.0)),
    Param("grey_lag_quarters", 4, "int", "quarters",
          "a chip is smuggled only from this many quarters after its release",
          "ASSUMPTION 4 (range 2-8): the 2024 cases smuggled the H100 (out 2022Q4) ~6 quarters after "
          "release; the 2025-26 cases (DoJ Mar 2026, §C3 H) B200 servers within ~2-4 quarters; CNAS: "
          "smuggled chips are mostly the previous generation (§C2 M)",
          low=0, high=40, sweep_range=(2, 8)),
    Param("grey_seizure_share", 0.1, "float", "share",
          "share of smuggled chips seized or lost before delivery (US and allied enforcement, e.g. location "
          "verification; a US lever): smugglers bear it, so it lowers their supply line",
          "ASSUMPTION 0.1 (range 0-0.5): customs crackdown at major ports from Oct 2025 (§C2, H); the "
          "Chip Security Act's location verification passed committee in Mar 2026 (§C3); no seizure rate "
          "is published",
          low=0.0, high=1.0, sweep_range=(0.0, 0.5)),
    Param("carryover_share", 0.5, "float", "share",
          "share of a quarter's unspent budget carried into the next quarter (the rest is cut from capex)",
          "ASSUMPTION 0.5 (range 0-0.9): Tencent cut quarterly capex from 36.6B to 13B yuan when chips "
          "were scarce (§D1, M) rather than holding the budget",
          low=0.0, high=0.99, sweep_range=(0.0, 0.9)),
    Param("stockpile_share", 0.2, "float", "share of budget",
          "most extra budget, as a share of its quarter's budget, that a developer with legal access "
          "brings forward to buy US chips ahead of an expected cut; the share used is this x "
          "(1 - exp(-policy_risk_weight x the cut risk)). It repays the advance from later budgets, each "
          "quarter 1/risk_horizon_quarters of what it still owes (a geometric decay)",
          "ASSUMPTION 0.2 (range 0-0.5): the 2024-25 H20 rush (~1M H20 in 2024, §B3 M) and 7M HBM "
          "stacks bought in the month before the Dec 2024 rule took effect (§B1, M)",
          low=0.0, high=2.0, sweep_range=(0.0, 0.5)),
    # --- The US side (reporters only) -----------------------------------------------------------
    Param("us_compute_2026_h100e", 11e6, "float", "H100e",
          "the US's installed AI compute at 2026Q1 (FLOP-based H100e); only the compute-ratio reporters "
          "read it",
          "ASSUMPTION 11M (range 9-15M), derived from Epoch AI's ~15M H100e world stock (Jan 2026) and "
          "Pilz et al.'s ~75% US share of the world's GPU cluster performance (§H, L)",
          low=0.0, high=1e12, sweep_range=(9e6, 15e6)),
    Param("us_compute_growth", 2.3, "float", "x per year",
          "growth factor of the US's installed AI compute per year (FLOP-based)",
          "ASSUMPTION 2.3x (range 1.8-2.5x): the growth of Nvidia's installed stock since 2019 (2.3x, Epoch"
          " AI, §H L); not the 2022-25 world trend (3.3x), which to 2030 would need ~3B H100e, several "
          "hundred GW: US AI data centres are projected at ~50 GW by 2030 (Epoch AI) and 20-30 GW by late "
          "2027, so 1.8-2.5x (~170M-850M H100e in 2030) is the range power allows",
          low=0.1, high=100.0, sweep_range=(1.8, 2.5)),
    # --- Time ----------------------------------------------------------------------------------
    Param("start_quarter", "2026Q1", "quarter", "quarter",
          "calendar quarter of step 0",
          "ODD: step 0 = 2026Q1, just after the Dec 2025 decision"),
    Param("us_policy_schedule", "", "schedule", "-",
          "dated changes of the US export regime ('threshold@30000' also sets the TPP cap)",
          "SOURCES §C1 for history replays; what-ifs are the user's",
          schedule_values=US_REGIMES),
    Param("china_policy_schedule", "", "schedule", "-",
          "dated changes of Beijing's stance (a dated stance ends its deciding, from that quarter on)",
          "SOURCES §C2 for history replays; what-ifs are the user's",
          schedule_values=CHINA_STANCES),
    # --- Instrumentation -------------------------------------------------------------------------
    Param("collect_developer_data", False, "bool", "-",
          "also collect per-developer data (installed compute per stack, segment, licence) each step",
          "instrumentation; off in sweeps to keep memory flat"),
)

#: What a cap that may be off (``Param.allow_off``) takes for "no cap" besides the number inf: in an
#: experiment file (``"off"``), on the command line (``--set NAME=off``) and in the UI's text fields.
OFF_WORDS = ("off", "inf", "infinity", "none")

PARAMS_BY_NAME: dict[str, Param] = {p.name: p for p in PARAMS}
DEFAULTS: dict[str, Any] = {p.name: p.default for p in PARAMS}

#: The values a model was built with, one attribute per parameter (frozen: what was set never mixes with
#: what happened, which the model's agents and arrays hold). ``ChipMarketModel.p`` is one.
Parameters = make_dataclass("Parameters", [(p.name, Any) for p in PARAMS], frozen=True, slots=True)
Parameters.__doc__ = "The parameter values of one model (see ``PARAMS``): read-only."


def as_dict(values) -> dict[str, Any]:
    """A ``Parameters`` as {name: value}, in the table's order."""
    return {f.name: getattr(values, f.name) for f in fields(values)}


def keyword_init(table: tuple[Param, ...]):
    """Decorator for a model's ``__init__(self, rng, values)``: the decorated method takes one explicit
    keyword argument per parameter of ``table``, with the table's default, plus ``rng`` (what Mesa's
    SolaraViz and ``mesa.batch_run`` inspect and pass), and hands the values on as a dict. The
    signature is generated (as ``dataclasses`` does) so that the table states each default once."""
    def decorate(init):
        names = [p.name for p in table]
        for name in names:
            if not name.isidentifier():  # pragma: no cover (the table's names are identifiers)
                raise ValueError(f"parameter name {name!r} is not an identifier")
        keywords = ", ".join(f"{n}=_defaults[{n!r}]" for n in names)
        values = ", ".join(f"{n!r}: {n}" for n in names)
        source = (f"def __init__(self, *, {keywords}, rng=None):\n"
                  f"    _init(self, rng, {{{values}}})\n")
        namespace = {"_defaults": {p.name: p.default for p in table}, "_init": init}
        exec(source, namespace)  # noqa: S102 (generated from the parameter table's names only)
        generated = namespace["__init__"]
        generated.__doc__ = init.__doc__
        generated.__qualname__ = init.__qualname__
        generated.__module__ = init.__module__
        return generated
    return decorate


def _by_name(table: tuple[Param, ...] | None = None) -> dict[str, Param]:
    """``table`` (another model class's parameter table) by name; :data:`PARAMS_BY_NAME` when None."""
    return PARAMS_BY_NAME if table is None or table is PARAMS else {p.name: p for p in table}


def suggest(name: str, table: tuple[Param, ...] | None = None) -> str:
    """' (did you mean X?)' for a misspelt parameter name (of ``table``, default :data:`PARAMS`), or ''."""
    close = difflib.get_close_matches(name, _by_name(table), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def unknown_parameter_error(name: str, table: tuple[Param, ...] | None = None) -> ValueError:
    return ValueError(f"unknown parameter {name!r}{suggest(name, table)}; "
                      f"known parameters: {', '.join(sorted(_by_name(table)))}")


def validate_value(name: str, value: Any, table: tuple[Param, ...] | None = None) -> Any:
    """Check one parameter value (of ``table``, default :data:`PARAMS`); return it normalised (ints
    as int, floats as float).

    Raises ValueError naming the parameter, the value and what is allowed.
    """
    params = _by_name(table)
    if name not in params:
        raise unknown_parameter_error(name, table)
    p = params[name]

    def bad(reason: str = "") -> ValueError:
        extra = f" ({reason})" if reason else ""
        return ValueError(f"parameter {name!r}: invalid value {value!r}{extra}; allowed: {p.allowed()}")

    if p.kind == "bool":
        if isinstance(value, (bool,)) or (hasattr(value, "dtype") and value.dtype == bool):
            return bool(value)
        raise bad()
    if p.kind in ("int", "float"):
        if p.allow_off and isinstance(value, str) and value.strip().lower() in OFF_WORDS:
            return math.inf
        if isinstance(value, bool) or not isinstance(value, (int, float)) and not _is_numpy_number(value):
            raise bad()
        v = float(value)
        if p.allow_off and v == math.inf:
            return v
        if not math.isfinite(v):
            raise bad("not finite")
        if p.kind == "int":
            if v != int(v):
                raise bad("not an integer")
            v = int(v)
        if (p.low is not None and v < p.low) or (p.high is not None and v > p.high):
            raise bad("out of range")
        return v
    if p.kind == "choice":
        if not isinstance(value, str) or value not in p.choices:
            raise bad()
        return value
    # quarters and schedules are returned in their one spelling (canonical_quarter, format_schedule), so
    # that two spellings of one value are one design point and one run id
    if p.kind == "quarter":
        try:
            return canonical_quarter(value)
        except ValueError:
            raise bad("" if not isinstance(value, str) or value.isascii() else "not ASCII") from None
    if p.kind in ("schedule", "count_schedule"):
        if not isinstance(value, str):
            raise bad()
        try:
            entries = (parse_schedule(value, p.schedule_values) if p.kind == "schedule"
                       else parse_count_schedule(value))
        except ValueError as exc:
            raise bad(str(exc)) from None
        return format_schedule(entries)
    raise AssertionError(p.kind)  # pragma: no cover


def _is_numpy_number(value: Any) -> bool:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover
        return False
    return isinstance(value, (np.integer, np.floating))


def coerce_text(name: str, text: str, table: tuple[Param, ...] | None = None) -> Any:
    """Turn a command-line string (``--set NAME=VALUE``) into a typed, validated value."""
    params = _by_name(table)
    if name not in params:
        raise unknown_parameter_error(name, table)
    p = params[name]
    t = text.strip()
    if p.kind == "bool":
        low = t.lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise ValueError(f"parameter {name!r}: invalid value {text!r}; allowed: {p.allowed()}")
    if p.kind in ("int", "float"):
        if p.allow_off and t.lower() in OFF_WORDS:
            return math.inf
        try:
            num = float(t.replace("_", ""))
        except ValueError:
            raise ValueError(
                f"parameter {name!r}: invalid value {text!r} (not a number); allowed: {p.allowed()}"
            ) from None
        return validate_value(name, int(num) if p.kind == "int" and num.is_integer() else num, table)
    return validate_value(name, t, table)
