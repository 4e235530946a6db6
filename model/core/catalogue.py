"""The chip catalogue: chipmakers, their product roadmaps, capacities and software ecosystems.

Plain data, no behaviour. Every number carries its source: a section of ``docs/SOURCES.md`` with its
confidence grade H/M/L, or the word ASSUMPTION with a range. These are catalogue entries, not
parameters: the sensitivity analysis does not vary them one by one (it varies the parameters' ranges).
The exception is the US roadmap after Blackwell (chips planned from ``ROADMAP_FROM`` on: Rubin,
Rubin Ultra, Feynman, the 2029 placeholder, MI400, MI500), whose dates and performance no source
fixes: two parameters move it as a whole (``with_us_roadmap``: ``us_roadmap_delay_quarters``,
``us_roadmap_perf_scale``), and the sweeps vary them.

Export-control metrics (the Jan 2026 BIS rule, SOURCES §B4/§C3, H): ``tpp`` is the total processing
performance of the US rules, 2 x MAC-TOPS x bit length = dense TFLOPS x bit length (H100: 989 TF
BF16 x 16 = 15,824; H20: 148 x 16 = 2,368, the figure SemiAnalysis quotes, §A1); ``mem_bw_gbs`` the
DRAM bandwidth in GB/s. The rule licenses chips with TPP < 21,000 and bandwidth < 6,500 GB/s: the
H200 (15,824; 4,800), MI300X (20,912; 5,300) and MI325X (~20,800; 6,000) are in, Blackwell (36,000;
8,000) and later out. Where §A1 gives dense compute and bandwidth (H100/H800, A100/A800, H20, H200,
B200, MI300X, Ascend 910B/910C/950/960, MTT S4000) TPP and bandwidth follow from them; for the MI325X
they are from memory (L); for the MI308, RTX Pro 6000D, MI355X and later US parts, the MLU590/690, MTT
S5000 and Ascend 970 they are ASSUMPTIONS consistent with each chip's performance index (only their
position relative to the 21,000 / 6,500 threshold matters to the rules).

Supply history: a product leaves sale when its maker stops making it (``end_of_production``) and its
remaining ``stock_units`` are sold; A800/H800 (barred Oct 2023) are never sold after 2023Q3, the H20
only from its stock after Nvidia stopped making it in 2025 (§B3). ``us_units_per_quarter`` is a US
product's shipments to US end users, the base of the rule's volume cap (China <= 50% of it), and
with ``us_china_production_share`` the most its maker can make for China a quarter: no source gives
them, so each is an ASSUMPTION with a range in the chip's source (not varied by the sensitivity
analysis); a China part's ``china_units_per_quarter`` is that most directly. The H200's ``stock_units``
is the ~700k Nvidia held for China at the decision (§B5). Domestic makers' ``hbm_stacks_per_chip`` ties
their output to HBM.

Performance index (``perf_paper``, H100 = 1.0): the geometric mean of a chip's dense BF16 (FP8 for
parts quoted only in FP8, against H100's FP8) compute ratio and its memory-bandwidth ratio to the
H100 (989 TF, 3.35 TB/s; SOURCES §A1, H). This roofline-style blend weighs compute-bound
training and memory-bound inference equally, which is why the H20 (0.15x compute but 1.19x
bandwidth) scores 0.42 and not 0.15 — the H20 sold ~1M units in China in 2024 (§B3, M). Domestic
parts are further scaled by the model parameter ``domestic_efficiency`` (the measured 0.6 of the
910C on DeepSeek inference vs its 0.87 paper blend, §A2, M), so ``perf_paper`` is what the silicon
offers and the model's effective performance is what Chinese developers got out of it.

Chips of one software ecosystem sit in contiguous columns: Nvidia (CUDA), AMD (ROCm), then the
domestic stack (Huawei CANN, Cambricon, Moore Threads, and the in-house chips that IDC counts: Alibaba
T-Head's PPU and Baidu's Kunlun), so that the model can work per ecosystem.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from model.core.quarters import parse_quarter

# Ecosystems (software stacks). Index order is fixed and used as array columns.
ECOSYSTEMS = ("cuda", "rocm", "domestic")
CUDA, ROCM, DOMESTIC = 0, 1, 2


@dataclass(frozen=True)
class Maker:
    """A chipmaker: its stack (US or CN), software ecosystem and China capacity."""

    name: str
    stack: str  # "US" or "CN"
    ecosystem: int  # index into ECOSYSTEMS
    capacity_2026: float | None  # chips/year for China; None = not binding (US firms)
    capacity_source: str
    revenue_2026_usd: float  # reference revenue the planned roadmap assumes (R&D channel)
    revenue_source: str
    hbm_stacks_per_chip: float = 0.0  # domestic makers: HBM stacks each chip needs (HBM-bound output)
    hbm_source: str = ""


@dataclass(frozen=True)
class Chip:
    """One product: when it was released, what it does relative to the H100, what it costs."""

    name: str
    maker: str
    release: str  # calendar quarter of first volume shipments
    perf_paper: float  # H100 = 1.0, roofline blend (see module docstring)
    price_usd: float  # list price per chip (before the US levy pass-through)
    china_part: bool = False  # a cut-down part designed to comply with US rules for China
    compliant_until: str | None = None  # China part no longer compliant from this quarter
    source: str = ""
    tpp: float = 0.0  # total processing performance (BIS definition, see module docstring)
    mem_bw_gbs: float = 0.0  # DRAM bandwidth, GB/s
    end_of_production: str | None = None  # quarter from which the maker no longer makes it
    stock_units: float = 0.0  # US chips: units in stock for China at the start (or when production ends)
    us_units_per_quarter: float = 0.0  # US chips: shipments to US end users (volume-cap base)
    china_units_per_quarter: float = 0.0  # China parts: most the maker can make for China per quarter


# --- Chipmakers ------------------------------------------------------------------------------
MAKERS: tuple[Maker, ...] = (
    Maker(
        "Nvidia", "US", CUDA, None,
        "China supply per product decided by the maker (model.core.supply): ~700k H200 in stock plus "
        "TSMC 4N from 2026Q2 against >2M Chinese orders (§B5, M); China <= 50% of US volume (§B4, H).",
        0.0, "US firm: no R&D channel in the model",
    ),
    Maker(
        "AMD", "US", ROCM, None,
        "China supply per product decided by the maker, as Nvidia (§B4 H: MI308/MI325X eligible).",
        0.0, "US firm: no R&D channel in the model",
    ),
    Maker(
        "Huawei", "CN", DOMESTIC, None,  # from the parameter huawei_capacity_2026
        "Parameter huawei_capacity_2026: 200k (US gov't 2025, §B1 H) / 600k (Bloomberg 2026 plan, "
        "§B1 H as a report) / 3M ('several million', US officials, §B1 M); the foundry side of "
        "its output, which HBM may bind below.",
        12e9, "Huawei ~50% of China's AI-chip market in 2026, ~$12B revenue (Bernstein, §E4, M)",
        8.0, "910C: ~13M HBM stacks ~ enough for 1.6M 910C (SemiAnalysis, §B1 M) -> 8 per chip",
    ),
    Maker(
        "Cambricon", "CN", DOMESTIC, None,  # from the parameter cambricon_capacity_2026
        "Parameter cambricon_capacity_2026: ~142k units 2025 -> plan ~500k 2026 at ~20% yield "
        "(Bloomberg, §B2, M); default 300k between them.",
        1.8e9, "2025 revenue 6.5B yuan ~ $0.9B (§B2, M/H); ASSUMPTION: doubles in 2026 (range 1-3B)",
        4.0, "ASSUMPTION 4 (range 2-6): MLU590/690 carry HBM2e (§A1, L), stack count unpublished",
    ),
    Maker(
        "MooreThreads", "CN", DOMESTIC, None,  # from the parameter moore_threads_capacity_2026
        "Parameter moore_threads_capacity_2026: ASSUMPTION 25k (range 12k-40k); 2025 revenue "
        "~1.5B yuan (§B2, M) implies ~12k-40k units at $5k-18k.",
        0.4e9, "2025 revenue ~1.5B yuan ~ $0.2B (§B2, M); ASSUMPTION: doubles in 2026",
        0.0, "MTT S4000/S5000 use GDDR memory (768 GB/s, §A1 M): no HBM",
    ),
    Maker(
        "THead", "CN", DOMESTIC, None,  # from the parameter thead_capacity_2026
        "Parameter thead_capacity_2026: Alibaba's in-house PPU; ~265k shipped in 2025 (IDC, §C4 M); "
        "in the model it sells to any developer (in reality mostly Alibaba Cloud and China Unicom, §A1 M)",
        4e9, "in-house: ASSUMPTION notional revenue = 400k chips x $10k",
        4.0, "PPU: 96 GB HBM2e (§A1, M) at 24 GB a stack -> 4",
    ),
    Maker(
        "Kunlunxin", "CN", DOMESTIC, None,  # from the parameter kunlunxin_capacity_2026
        "Parameter kunlunxin_capacity_2026: Baidu's in-house Kunlun chips; ~116k shipped in 2025 (IDC, "
        "§C4 M); in the model it sells to any developer (in reality mostly Baidu, §D1 M)",
        1.6e9, "in-house: ASSUMPTION notional revenue = 200k chips x $8k",
        4.0, "ASSUMPTION 4 (range 2-6): P800 memory unpublished",
    ),
)

# --- Product roadmaps ------------------------------------------------------------------------
# Ordered by ecosystem (CUDA, ROCm, domestic), then by maker, then by release.
CHIPS: tuple[Chip, ...] = (
    # Nvidia / CUDA
    Chip("A100", "Nvidia", "2020Q3", 0.44, 13_000, tpp=4_992, mem_bw_gbs=2_039,
         end_of_production="2024Q1", source=(
        "312 TF, 2.0 TB/s (§A1 via A800 row, H) -> sqrt(0.32*0.60); price ASSUMPTION $10-15k")),
    Chip("H100", "Nvidia", "2022Q3", 1.00, 27_500, tpp=15_824, mem_bw_gbs=3_350,
         us_units_per_quarter=400_000, source=(
        "reference chip (§A1, H); price ~$25-30k (§A1, L from memory); US shipments ASSUMPTION "
        "400k/quarter (range 200k-800k)")),
    Chip("A800", "Nvidia", "2022Q4", 0.44, 13_000, china_part=True, compliant_until="2023Q4",
         tpp=4_992, mem_bw_gbs=2_039, end_of_production="2023Q4", china_units_per_quarter=150_000, source=(
        "= A100 compute, NVLink cut (§A1, M); caught by the Oct 17 2023 rule (§C1, H)")),
    Chip("H800", "Nvidia", "2023Q1", 1.00, 27_500, china_part=True, compliant_until="2023Q4",
         tpp=15_824, mem_bw_gbs=3_350, end_of_production="2023Q4", china_units_per_quarter=150_000, source=(
        "same GH100 die as H100, interconnect cut (§A1, M); barred Oct 17 2023 (§C1, H)")),
    Chip("H20", "Nvidia", "2024Q1", 0.42, 12_500, china_part=True, tpp=2_368, mem_bw_gbs=4_000,
         end_of_production="2025Q2", stock_units=200_000, china_units_per_quarter=400_000, source=(
        "148 TF (0.15), 4.0 TB/s (1.19) -> 0.42 (§A1, H); ~$12-13k (SemiAnalysis via FT, §A1, M); "
        "production stopped after the Apr 2025 licence requirement and the $4.5B inventory charge "
        "(§B3, H); stock ASSUMPTION 200k units (range 100k-400k: the $2.5B of unshippable orders "
        "at ~$12.5k, §B3 H); China production ASSUMPTION <= 400k/quarter (~1M sold in 2024, §B3 M)")),
    Chip("RTXPro6000D", "Nvidia", "2025Q3", 0.30, 8_000, china_part=True, tpp=4_000, mem_bw_gbs=1_600,
         china_units_per_quarter=100_000, source=(
        "China part that succeeded the H20 (Sep 2025: CAC told ByteDance and Alibaba to "
        "cancel orders, §C2 H); a GDDR7 workstation part: perf ASSUMPTION 0.30 (range 0.2-0.5), "
        "price ASSUMPTION $8k (range 6-12k), TPP and bandwidth ASSUMPTION below the China-part limits; China "
        "production ASSUMPTION <= 100k/quarter (range 25-200k; 'tens of thousands' were in the "
        "pipeline, §C2 H)")),
    Chip("H200", "Nvidia", "2024Q2", 1.20, 27_000, tpp=15_824, mem_bw_gbs=4_800, us_units_per_quarter=300_000,
         stock_units=700_000, source=(
        "989 TF (1.0), 4.8 TB/s (1.43) -> 1.20 (§A1, H); China price ~$27k per chip (Reuters Dec 31 "
        "2025, §A1, M; FT: ByteDance trial at ~$20k, §A1, M); TPP 989 x 16 = 15,824 < 21,000 and "
        "4,800 GB/s < 6,500: licensable under the Jan 2026 rule (§B4, H); US shipments "
        "ASSUMPTION 300k/quarter (range 100k-600k; Nvidia data-centre revenue ~$51B/quarter, §B3 H, "
        "mostly Blackwell); ~700k in stock for China incl. ~100k GH200 (Reuters Dec 31 2025, §B5 M)")),
    Chip("B200", "Nvidia", "2025Q1", 2.33, 35_000, tpp=36_000, mem_bw_gbs=8_000,
         us_units_per_quarter=1_000_000, source=(
        "2,250 TF (2.28), 8 TB/s (2.39) -> 2.33 (§A1, H); ~$30-40k (§A1, L); US shipments ASSUMPTION "
        "1M/quarter (range 500k-2M)")),
    Chip("Rubin", "Nvidia", "2026Q3", 5.00, 45_000, tpp=80_000, mem_bw_gbs=13_000,
         us_units_per_quarter=1_500_000, source=(
        "ASSUMPTION perf 5 (range 3-8), anchored on the US-best/Huawei-best gap ~5x (2025) -> ~17x "
        "(2027) (CFR, §A2, M/H); release and price ASSUMPTION; US shipments ASSUMPTION 1.5M/quarter "
        "(range 750k-3M)")),
    Chip("RubinUltra", "Nvidia", "2027Q3", 10.0, 60_000, tpp=160_000, mem_bw_gbs=26_000,
         us_units_per_quarter=1_500_000, source=(
        "ASSUMPTION perf 10 (range 6-15) from the same ~17x-by-2027 gap (§A2, M/H); price ASSUMPTION; "
        "US shipments ASSUMPTION 1.5M/quarter (range 750k-3M)")),
    Chip("Feynman", "Nvidia", "2028Q3", 20.0, 70_000, tpp=320_000, mem_bw_gbs=50_000,
         us_units_per_quarter=1_500_000, source=(
        "ASSUMPTION: Nvidia's yearly cadence, ~2x per generation (perf range 12-30); price ASSUMPTION; "
        "US shipments ASSUMPTION 1.5M/quarter (range 750k-3M)")),
    Chip("NvidiaNext", "Nvidia", "2029Q3", 40.0, 80_000, tpp=640_000, mem_bw_gbs=100_000,
         us_units_per_quarter=1_500_000, source=(
        "ASSUMPTION: placeholder for the 2029 generation, ~2x Feynman (range 20-60), so the US "
        "frontier keeps moving to the 2030 horizon; US shipments ASSUMPTION 1.5M/quarter (range "
        "750k-3M)")),
    # AMD / ROCm
    Chip("MI300X", "AMD", "2023Q4", 1.44, 15_000, tpp=20_912, mem_bw_gbs=5_300,
         us_units_per_quarter=100_000, source=(
        "1,307 TF (1.32), 5.3 TB/s (1.58) -> 1.44 (§A1, H); TPP 1,307 x 16 = 20,912 < 21,000 and "
        "5,300 GB/s < 6,500: licensable under the Jan 2026 rule (§B4, H); price ASSUMPTION $10-20k; "
        "US shipments ASSUMPTION 100k/quarter (range 50k-200k)")),
    Chip("MI308", "AMD", "2024Q3", 0.40, 12_000, china_part=True, tpp=2_400, mem_bw_gbs=4_000,
         end_of_production="2025Q2", stock_units=20_000, china_units_per_quarter=40_000, source=(
        "China SKU, specs unpublished (§A1); ASSUMPTION H20-class 0.40 (range 0.3-0.5), $12k; "
        "licence requirement Apr 2025 and up to $800M of charges (§A1/§C1, H): production ended "
        "2025Q2, stock ASSUMPTION 20k (range 0-50k); China production ASSUMPTION <= 40k/quarter "
        "(range 10-80k; ~$800M of MI308 expected, §B4 L, ~67k units at $12k)")),
    Chip("MI325X", "AMD", "2024Q4", 1.54, 20_000, tpp=20_800, mem_bw_gbs=6_000,
         us_units_per_quarter=50_000, source=(
        "H200-class per the Jan 2026 BIS rule (§B4, H); 1.3 PF, 6 TB/s from memory (L) -> 1.54; "
        "price ASSUMPTION; US shipments ASSUMPTION 50k/quarter (range 25k-100k)")),
    Chip("MI355X", "AMD", "2025Q3", 2.30, 25_000, tpp=36_800, mem_bw_gbs=8_000, us_units_per_quarter=100_000,
         source="ASSUMPTION B200-class (L); price ASSUMPTION; US shipments ASSUMPTION 100k/quarter "
         "(range 50k-200k)"),
    Chip("MI400", "AMD", "2026Q3", 4.50, 35_000, tpp=72_000, mem_bw_gbs=12_000, us_units_per_quarter=150_000,
         source="ASSUMPTION Rubin-class, a little behind (L); US shipments ASSUMPTION 150k/quarter "
         "(range 75k-300k)"),
    Chip("MI500", "AMD", "2027Q3", 9.00, 50_000, tpp=144_000, mem_bw_gbs=24_000, us_units_per_quarter=150_000,
         source="ASSUMPTION RubinUltra-class, a little behind (L); US shipments ASSUMPTION "
         "150k/quarter (range 75k-300k)"),
    # Huawei / CANN
    Chip("Ascend910B", "Huawei", "2023Q3", 0.37, 20_000, tpp=4_800, mem_bw_gbs=1_400, source=(
        "280-320 TF (0.30), 1.2-1.6 TB/s (0.42) -> 0.37 (§A1, M); Baidu paid ~$39k incl. systems "
        "(§A1, L) -> ASSUMPTION $20k per chip (range 15-39k)")),
    Chip("Ascend910C", "Huawei", "2025Q1", 0.87, 28_000, tpp=12_480, mem_bw_gbs=3_200, source=(
        "780 TF (0.79), 3.2 TB/s (0.96) -> 0.87 (§A1, M); measured ~0.6 of H100 on inference "
        "(§A2, M); implied ~$28k (SCMP via Tom's Hardware, §A1, M)")),
    Chip("Ascend950PR", "Huawei", "2026Q1", 0.49, 20_000, tpp=8_000, mem_bw_gbs=1_600, source=(
        "1 PF FP8 (0.51 of H100 FP8), 1.6 TB/s (0.48) -> 0.49 (§A1, M/H roadmap); price ASSUMPTION")),
    Chip("Ascend950DT", "Huawei", "2026Q4", 0.78, 28_000, tpp=8_000, mem_bw_gbs=4_000, source=(
        "1 PF FP8 (0.51), 4 TB/s (1.19) -> 0.78 (§A1, M); price ASSUMPTION")),
    Chip("Ascend960", "Huawei", "2027Q4", 1.71, 35_000, tpp=16_000, mem_bw_gbs=9_600, source=(
        "2 PF FP8 (1.01), 9.6 TB/s (2.87) -> 1.71 (§A1, M roadmap); price ASSUMPTION")),
    Chip("Ascend970", "Huawei", "2028Q4", 3.40, 40_000, tpp=32_000, mem_bw_gbs=19_200, source=(
        "~2x Ascend960 compute and bandwidth (§A1, L/M: specs 'still being worked on'); price ASSUMPTION")),
    # Cambricon
    Chip("MLU590", "Cambricon", "2023Q3", 0.40, 6_000, tpp=4_200, mem_bw_gbs=2_000, source=(
        "'80-90% of A100' (§A1, L) -> 0.27 compute, bandwidth ASSUMPTION A100-class -> 0.40; "
        "price ~$6k: 2025 revenue RMB 6.5B (~$0.9B) over ~142k units (§B2, M)")),
    Chip("MLU690", "Cambricon", "2026Q1", 0.80, 10_000, tpp=12_600, mem_bw_gbs=3_200, source=(
        "'expected to rival H100' (SCMP, §A1, L) discounted -> ASSUMPTION 0.8 (range 0.5-1.0); "
        "release ASSUMPTION; price ASSUMPTION $10k (range 6-15k), above the ~$6k average of "
        "2025 (§B2, M)")),
    # Moore Threads
    Chip("MTT_S4000", "MooreThreads", "2023Q4", 0.15, 5_000, tpp=1_600, mem_bw_gbs=768, source=(
        "100 TF (0.10), 768 GB/s (0.23) -> 0.15 (§A1, M); price ASSUMPTION")),
    Chip("MTT_S5000", "MooreThreads", "2026Q1", 0.49, 18_000, tpp=8_000, mem_bw_gbs=1_600, source=(
        "claims ~1 PF FP8 (0.51), 1.6 TB/s (0.48) -> 0.49 (§A1, L); price ASSUMPTION")),
    # Alibaba T-Head (in-house)
    Chip("PPU", "THead", "2025Q1", 0.42, 10_000, tpp=2_400, mem_bw_gbs=4_000, source=(
        "claimed ~H20 (CCTV Sep 2025, §A1 M) -> the H20's 0.42 (ASSUMPTION, range 0.25-0.5); 96 GB HBM2e; "
        "release ASSUMPTION 2025Q1 (IDC counts ~265k shipped in 2025, §C4 M); "
        "price ASSUMPTION $10k (6-15k)")),
    # Baidu Kunlunxin (in-house)
    Chip("P800", "Kunlunxin", "2025Q1", 0.35, 8_000, tpp=2_000, mem_bw_gbs=2_000, source=(
        "30,000-chip cluster online Apr 2025 (Reuters, §A1 M); specs unpublished: perf ASSUMPTION 0.35 "
        "(range 0.25-0.5), price ASSUMPTION $8k")),
    Chip("M100", "Kunlunxin", "2026Q1", 0.60, 12_000, tpp=6_000, mem_bw_gbs=3_000, source=(
        "roadmap: M100 early 2026 (§A1 M); perf ASSUMPTION 0.6 (range 0.4-0.9), price ASSUMPTION")),
    Chip("M300", "Kunlunxin", "2027Q1", 1.20, 18_000, tpp=12_000, mem_bw_gbs=6_000, source=(
        "roadmap: M300 early 2027 (§A1 M); perf ASSUMPTION 1.2 (range 0.8-1.8), price ASSUMPTION")),
)

#: How long a chip stays on sale after its release, in quarters (ASSUMPTION: 12, range 8-16;
#: vendors keep a generation on sale about three years). Older chips leave the choice set, except
#: a maker's newest released chip, China parts (while they comply and are made or in stock), and a
#: US maker's newest chip that the US rules in force let it sell to China (ASSUMPTION: the maker
#: keeps making its best China-licensable part, as Nvidia made the A800/H800 and then the H20 for
#: China for about two years each, §A1/§C1).
SALE_QUARTERS = 12

#: Installed base before 2026: Nvidia's share of China's AI-chip purchases by year
#: (SOURCES §E4: ~95% in 2022 (Huang, H as a quote), 66% in 2024 and ~54% in 2025 (BofA /
#: Bernstein, M); 2023 = 1 - 19% domestic vendor share (Bernstein, M); 2021 ASSUMPTION as 2022).
US_PURCHASE_SHARE_BY_YEAR = {2021: 0.95, 2022: 0.95, 2023: 0.81, 2024: 0.66, 2025: 0.54}

#: Split of historical purchases inside each stack. US: AMD ~160k of ~2.36M US-designed cards in
#: China in 2025 (IDC via Reuters, §C4, M) -> AMD 0.07, Nvidia 0.93. Domestic: 2025 units (IDC, §C4 M:
#: Huawei ~812k, T-Head ~265k, Kunlunxin ~116k, Cambricon ~116k; Moore Threads ~25k from its revenue,
#: §B2 M) -> Huawei 0.61, T-Head 0.20, Kunlunxin 0.08, Cambricon 0.09, Moore Threads 0.02 (units, not
#: compute: an ASSUMPTION that their chips are of similar performance).
HISTORICAL_SPLIT = {"Nvidia": 0.93, "AMD": 0.07, "Huawei": 0.61, "Cambricon": 0.09, "MooreThreads": 0.02,
                    "THead": 0.20, "Kunlunxin": 0.08}


#: Chips planned from this quarter on form the roadmap ahead: domestic makers' R&D can move theirs
#: (ChipMarketModel.reschedule_releases) and the US roadmap after Blackwell is a scenario
#: (``with_us_roadmap``); earlier releases are history (SOURCES §A1).
ROADMAP_FROM = parse_quarter("2026Q1")


@dataclass(frozen=True)
class CatalogueArrays:
    """The catalogue as arrays, chips as columns (contiguous per ecosystem)."""

    names: tuple[str, ...]
    maker_names: tuple[str, ...]
    maker_of_chip: np.ndarray  # (J,) int index into maker_names
    ecosystem_of_chip: np.ndarray  # (J,) int index into ECOSYSTEMS
    ecosystem_of_maker: np.ndarray  # (M,)
    is_us: np.ndarray  # (J,) bool
    release: np.ndarray  # (J,) int quarter (planned)
    perf_paper: np.ndarray  # (J,)
    price_usd: np.ndarray  # (J,)
    china_part: np.ndarray  # (J,) bool
    compliant_until: np.ndarray  # (J,) int quarter; a large number when always compliant
    tpp: np.ndarray  # (J,)
    mem_bw_gbs: np.ndarray  # (J,)
    end_of_production: np.ndarray  # (J,) int quarter; a large number when still made
    stock_units: np.ndarray  # (J,)
    us_units_per_quarter: np.ndarray  # (J,)
    china_units_per_quarter: np.ndarray  # (J,)
    hbm_stacks_per_chip: np.ndarray  # (M,) per maker


def catalogue_arrays(chips: tuple[Chip, ...] = CHIPS, makers: tuple[Maker, ...] = MAKERS) -> CatalogueArrays:
    """Turn the data tables into arrays, checking the contiguity the model relies on."""
    maker_index = {m.name: k for k, m in enumerate(makers)}
    maker_of_chip = np.array([maker_index[c.maker] for c in chips], dtype=np.int64)
    eco_of_maker = np.array([m.ecosystem for m in makers], dtype=np.int64)
    eco_of_chip = eco_of_maker[maker_of_chip]
    if np.any(np.diff(eco_of_chip) < 0):
        raise ValueError("catalogue chips must be ordered by ecosystem (contiguous columns)")
    never = 10_000 * 4
    return CatalogueArrays(
        names=tuple(c.name for c in chips),
        maker_names=tuple(m.name for m in makers),
        maker_of_chip=maker_of_chip,
        ecosystem_of_chip=eco_of_chip,
        ecosystem_of_maker=eco_of_maker,
        is_us=np.array([makers[maker_index[c.maker]].stack == "US" for c in chips]),
        release=np.array([parse_quarter(c.release) for c in chips], dtype=np.int64),
        perf_paper=np.array([c.perf_paper for c in chips], dtype=float),
        price_usd=np.array([c.price_usd for c in chips], dtype=float),
        china_part=np.array([c.china_part for c in chips]),
        compliant_until=np.array(
            [parse_quarter(c.compliant_until) if c.compliant_until else never for c in chips],
            dtype=np.int64,
        ),
        tpp=np.array([c.tpp for c in chips], dtype=float),
        mem_bw_gbs=np.array([c.mem_bw_gbs for c in chips], dtype=float),
        end_of_production=np.array(
            [parse_quarter(c.end_of_production) if c.end_of_production else never for c in chips],
            dtype=np.int64,
        ),
        stock_units=np.array([c.stock_units for c in chips], dtype=float),
        us_units_per_quarter=np.array([c.us_units_per_quarter for c in chips], dtype=float),
        china_units_per_quarter=np.array([c.china_units_per_quarter for c in chips], dtype=float),
        hbm_stacks_per_chip=np.array([m.hbm_stacks_per_chip for m in makers], dtype=float),
    )


def with_us_roadmap(cat: CatalogueArrays, delay_quarters: int, perf_scale: float) -> CatalogueArrays:
    """The catalogue with the US roadmap after Blackwell moved as a whole (parameters
    ``us_roadmap_delay_quarters`` and ``us_roadmap_perf_scale``, ODD section 2): every US chip planned from
    ``ROADMAP_FROM`` on is released ``delay_quarters`` later (negative: earlier) and has its performance
    index and TPP scaled by ``perf_scale`` (its price and memory bandwidth stay). With 0 and 1.0 the
    arrays are the catalogue's own, bit for bit."""
    ahead = cat.is_us & (cat.release >= ROADMAP_FROM)
    scale = np.where(ahead, perf_scale, 1.0)
    return replace(cat, release=cat.release + np.where(ahead, int(delay_quarters), 0),
                   perf_paper=cat.perf_paper * scale, tpp=cat.tpp * scale)
