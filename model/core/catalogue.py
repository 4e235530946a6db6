"""The chip catalogue: chipmakers, their product roadmaps, capacities and software ecosystems.

Over 400 lines as one job, the data table: each maker and chip with its numbers and their sources.

Plain data, no behaviour. Every number carries its source: a section of ``docs/SOURCES.md`` with its
confidence grade H/M/L, or the word ASSUMPTION with a range. These are catalogue entries, not
parameters: the sensitivity analysis does not vary them one by one (it varies the parameters' ranges).
The exception is the US roadmap after Blackwell (chips planned from ``ROADMAP_FROM`` on: Rubin,
Rubin Ultra, Feynman, the 2029 placeholder, MI400, MI500), whose dates and performance no source
fixes: two parameters move it as a whole (``with_us_roadmap``: ``us_roadmap_delay_quarters``,
``us_roadmap_perf_scale``), and the sweeps vary them. Chips announced by name only (Feynman, the 2029
placeholder, MI500: ``on_trend``) get their compute and bandwidth from measured trends: from their
maker's best FLOP-per-dollar chip before ``ROADMAP_FROM`` (the anchor: B200, MI355X), dense FLOP/s per
dollar doubles every ``us_flop_per_usd_doubling_years`` (Epoch AI: 2.07 years for ML GPUs, 95% CI
1.54-3.13, SOURCES §A1 H) and memory bandwidth per dollar every ``us_bandwidth_doubling_years`` (~4
years, Epoch AI, §A1 M), at the chip's own (assumed) price; its performance index is the same blend as
every chip's, and its TPP follows from its compute.

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
only from its stock after Nvidia stopped making it in 2025 (§B3), and the RTX Pro 6000D not after 2025Q3
(Beijing ordered its orders cancelled in Sep 2025, §C2). ``us_units_per_quarter`` is a US
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

FLOP-based performance (``dense_tflops``, ``flop_bits``, ``dense_tflops_fp8``; the arrays'
``flop_h100e``): what the silicon computes, the unit in which Epoch AI, CNAS, IFP and SemiAnalysis count
H100-equivalents (SOURCES §H). ``dense_tflops`` is the datasheet's dense (no sparsity) tensor throughput
at ``flop_bits``: 16 = BF16/FP16 for every chip quoted in it, 8 = FP8 for the parts quoted only in FP8
(Ascend 950PR/950DT/960/970, MTT S5000); ``dense_tflops_fp8`` is the dense FP8 figure where one is
published (0: no FP8, or none published). ``flop_h100e`` = ``dense_tflops`` / the H100 SXM's at the same
precision (``H100_DENSE_TFLOPS``: 989 TF BF16, 1,979 TF FP8), so the FP8-only parts are compared with
the H100's FP8. So ``tpp`` = ``dense_tflops`` x ``flop_bits`` for every chip whose TPP follows from
dense compute (the list above: H100/H800, A100/A800, H20, H200, B200, MI300X, Ascend 910B/910C/950PR/
950DT/960, MTT S4000) and for those whose TPP is an ASSUMPTION (their ``dense_tflops`` is the same
ASSUMPTION, with a range). Two chips differ, the datasheet having been found after their TPP was set:
the MI325X (1,307.4 TF, TPP kept at 20,800 for 1.3 PF; 1,307.4 x 16 = 20,918) and the MI355X (~2,517 TF
BF16, TPP kept at 36,800 = 2,300 x 16, the MI350X's rate); each is on the same side of the rule's 21,000
either way. No rule or reporter uses these fields yet: ``perf_paper`` remains what drives choice.

Chips of one software ecosystem sit in contiguous columns: Nvidia (CUDA), AMD (ROCm), then the
domestic stack (Huawei CANN, Cambricon, Moore Threads, and the in-house chips that IDC counts: Alibaba
T-Head's PPU and Baidu's Kunlun), so that the model can work per ecosystem.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np

from model.core import fixedmath as fm
from model.core.quarters import parse_quarter

# Ecosystems (software stacks). Index order is fixed and used as array columns.
ECOSYSTEMS = ("cuda", "rocm", "domestic")
CUDA, ROCM, DOMESTIC = 0, 1, 2


@dataclass(frozen=True)
class Capacity:
    """A domestic maker's 2026 output for China, set by a model parameter of its own: the parameter's
    name, default, range explored by the sensitivity analysis and source. The parameter table
    (``model.core.parameters.PARAMS``) generates the parameter from this entry."""

    param: str  # the parameter's name, e.g. huawei_capacity_2026
    default: float  # chips per year
    doc: str
    source: str
    sweep_range: tuple[float, float]
    output_2025: float = 0.0  # chips sold in China in 2025 from a source independent of IDC (0: none)
    output_2025_source: str = ""


@dataclass(frozen=True)
class Maker:
    """A chipmaker, described once: its stack (US or CN), software ecosystem, the colour it is drawn in,
    its China capacity (domestic makers: also their 2025 output where a source gives it), the reference
    revenue of its R&D channel, its HBM needs and (US makers) its share of the US stack's purchases
    before 2026 (domestic makers' purchases before 2026 follow their capacity, ``model.core.backcast``).
    Everything else about a maker (reporters, parameters, the UI, the validation's lists, the docs
    tables) derives from these entries."""

    name: str
    stack: str  # "US" or "CN"
    ecosystem: int  # index into ECOSYSTEMS
    colour: str  # drawn in this colour in every figure and the UI
    capacity: Capacity | None  # None: not binding (a US maker decides its China supply per product)
    capacity_source: str
    revenue_2026_usd: float  # reference revenue the planned roadmap assumes (R&D channel)
    revenue_source: str
    history_share: float = 0.0  # US makers: share of the US stack's purchases in China before 2026
    hbm_stacks_per_chip: float = 0.0  # domestic makers: HBM stacks each chip needs (HBM-bound output)
    hbm_source: str = ""
    gross_margin: float = 0.0  # US makers: share of a chip's list price above its unit cost (ODD 7.5)
    margin_source: str = ""

    @property
    def is_domestic(self) -> bool:
        return self.ecosystem == DOMESTIC

    @property
    def reporter_key(self) -> str:
        """The maker's part of its reporters' names (``units_<key>``, ``revenue_<key>``)."""
        return self.name.lower()


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
    dense_tflops: float = 0.0  # dense tensor TFLOPS at flop_bits (datasheet; see module docstring)
    flop_bits: int = 16  # 16: dense_tflops is BF16/FP16; 8: FP8, for parts quoted only in FP8
    dense_tflops_fp8: float = 0.0  # dense FP8 TFLOPS where published (0: no FP8 or none published)
    on_trend: bool = False  # no published specs: compute and bandwidth from the trend (``on_trend``)
    generated: bool = False  # a slot for a part its maker designs to the rule in a run (``DESIGN_SLOTS``)


#: The H100 SXM's dense tensor TFLOPS by bit length (16: BF16/FP16, 8: FP8; SOURCES §A1, H): the divisor
#: of the FLOP-based H100-equivalent ``flop_h100e`` (a chip quoted only in FP8 against the H100's FP8).
H100_DENSE_TFLOPS = {16: 989.0, 8: 1979.0}
#: The H100 SXM's memory bandwidth, GB/s (SOURCES §A1, H): the divisor of ``perf_paper``'s bandwidth half.
H100_MEM_BW_GBS = 3350.0
#: The H100's total processing performance (dense BF16 TFLOPS x 16 = 15,824): TPP per FLOP-based H100e.
H100_TPP = H100_DENSE_TFLOPS[16] * 16


# --- Chipmakers ------------------------------------------------------------------------------
MAKERS: tuple[Maker, ...] = (
    Maker(
        "Nvidia", "US", CUDA, colour="#2e7d32", capacity=None,
        capacity_source=(
            "China supply per product decided by the maker (model.core.supply): ~700k H200 in stock plus "
            "TSMC 4N from 2026Q2 against >2M Chinese orders (§B5, M); China <= 50% of US volume (§B4, H)."),
        revenue_2026_usd=0.0, revenue_source="US firm: no R&D channel in the model",
        history_share=0.93,
        gross_margin=0.75, margin_source=(
            "GAAP gross margin 75.0% in fiscal 2025 (Nvidia 10-K, Feb 2025, H); one margin for all its "
            "products (ASSUMPTION: China parts were likely lower)"),
    ),
    Maker(
        "AMD", "US", ROCM, colour="#81c784", capacity=None,
        capacity_source=(
            "China supply per product decided by the maker, as Nvidia (§B4 H: MI308/MI325X eligible)."),
        revenue_2026_usd=0.0, revenue_source="US firm: no R&D channel in the model",
        history_share=0.07,
        gross_margin=0.49, margin_source=(
            "GAAP gross margin 49% in 2024 (AMD 10-K, Feb 2025, H); one margin for all its products "
            "(ASSUMPTION: its data-centre GPUs were likely higher)"),
    ),
    Maker(
        "Huawei", "CN", DOMESTIC, colour="#c62828",
        capacity=Capacity(
            "huawei_capacity_2026", 600_000, "Huawei's Ascend output in 2026 (scenarios 200k / 600k / 3M)",
            "Bloomberg Sep 2025: ~600k 910C in 2026 (§B1, H as a report); 200k = US gov't 2025 "
            "estimate (§B1, H); 3M = 'several million' (US officials, §B1, M)",
            (200_000, 3_000_000),
            output_2025=805_000, output_2025_source=(
                "SemiAnalysis, Huawei Ascend Production Ramp (Sep 8 2025): 805k Ascend units in 2025 from "
                "TSMC dies and HBM stacks held (§B1, M); IDC's 812k shipped (§C4, M) is scored against it")),
        capacity_source=(
            "Parameter huawei_capacity_2026: 200k (US gov't 2025, §B1 H) / 600k (Bloomberg 2026 plan, "
            "§B1 H as a report) / 3M ('several million', US officials, §B1 M); the foundry side of "
            "its output, which HBM may bind below."),
        revenue_2026_usd=12e9,
        revenue_source="Huawei ~50% of China's AI-chip market in 2026, ~$12B revenue (Bernstein, §E4, M)",
        hbm_stacks_per_chip=8.0,
        hbm_source="910C: ~13M HBM stacks ~ enough for 1.6M 910C (SemiAnalysis, §B1 M) -> 8 per chip",
    ),
    Maker(
        "Cambricon", "CN", DOMESTIC, colour="#ef6c00",
        capacity=Capacity(
            "cambricon_capacity_2026", 300_000, "Cambricon's output in 2026",
            "~142k (2025, Goldman) -> plan ~500k (2026) at ~20% yield (Bloomberg, §B2, M)",
            (142_000, 500_000),
            output_2025=142_000, output_2025_source=(
                "Goldman Sachs estimate, via Bloomberg (Dec 2025): ~142k units in 2025 (§B2, M); IDC's 116k "
                "shipped (§C4, M) is scored against it")),
        capacity_source=(
            "Parameter cambricon_capacity_2026: ~142k units 2025 -> plan ~500k 2026 at ~20% yield "
            "(Bloomberg, §B2, M); default 300k between them."),
        revenue_2026_usd=1.8e9,
        revenue_source="2025 revenue 6.5B yuan ~ $0.9B (§B2, M/H); ASSUMPTION: doubles in 2026 (range 1-3B)",
        hbm_stacks_per_chip=4.0,
        hbm_source="ASSUMPTION 4 (range 2-6): MLU590/690 carry HBM2e (§A1, L), stack count unpublished",
    ),
    Maker(
        "MooreThreads", "CN", DOMESTIC, colour="#ad1457",
        capacity=Capacity(
            "moore_threads_capacity_2026", 25_000, "Moore Threads' output in 2026",
            "ASSUMPTION 25k (range 12k-40k): 2025 revenue ~1.5B yuan (§B2, M) at $5k-18k per unit",
            (12_000, 40_000)),
        capacity_source=(
            "Parameter moore_threads_capacity_2026: ASSUMPTION 25k (range 12k-40k); 2025 revenue "
            "~1.5B yuan (§B2, M) implies ~12k-40k units at $5k-18k."),
        revenue_2026_usd=0.4e9,
        revenue_source="2025 revenue ~1.5B yuan ~ $0.2B (§B2, M); ASSUMPTION: doubles in 2026",
        hbm_stacks_per_chip=0.0,
        hbm_source="MTT S4000/S5000 use GDDR memory (768 GB/s, §A1 M): no HBM",
    ),
    Maker(
        "THead", "CN", DOMESTIC, colour="#8d6e63",
        capacity=Capacity(
            "thead_capacity_2026", 400_000, "Alibaba T-Head's in-house AI-chip (PPU) output in 2026",
            "ASSUMPTION 400k (range 265k-800k): ~265k shipped in 2025 (IDC via Reuters, Apr 2026, §C4 M) "
            "growing about as domestic capacity does",
            (265_000, 800_000)),
        capacity_source=(
            "Parameter thead_capacity_2026: Alibaba's in-house PPU; ~265k shipped in 2025 (IDC, §C4 M); "
            "in the model it sells to any developer (in reality mostly Alibaba Cloud and China Unicom, "
            "§A1 M)"),
        revenue_2026_usd=4e9, revenue_source="in-house: ASSUMPTION notional revenue = 400k chips x $10k",
        hbm_stacks_per_chip=4.0, hbm_source="PPU: 96 GB HBM2e (§A1, M) at 24 GB a stack -> 4",
    ),
    Maker(
        "Kunlunxin", "CN", DOMESTIC, colour="#f9a825",
        capacity=Capacity(
            "kunlunxin_capacity_2026", 200_000, "Baidu Kunlunxin's in-house AI-chip output in 2026",
            "ASSUMPTION 200k (range 116k-400k): ~116k shipped in 2025 (IDC via Reuters, Apr 2026, §C4 M)",
            (116_000, 400_000)),
        capacity_source=(
            "Parameter kunlunxin_capacity_2026: Baidu's in-house Kunlun chips; ~116k shipped in 2025 (IDC, "
            "§C4 M); in the model it sells to any developer (in reality mostly Baidu, §D1 M)"),
        revenue_2026_usd=1.6e9, revenue_source="in-house: ASSUMPTION notional revenue = 200k chips x $8k",
        hbm_stacks_per_chip=4.0, hbm_source="ASSUMPTION 4 (range 2-6): P800 memory unpublished",
    ),
)

#: The makers that contract reporters name (INTERFACES §2: ``nvidia_china_revenue_usd``,
#: ``nvidia_china_supply_units``, ``huawei_output_cap_units``): the US and the domestic market leader.
US_LEADER = "Nvidia"
DOMESTIC_LEADER = "Huawei"

# --- Product roadmaps ------------------------------------------------------------------------
# Ordered by ecosystem (CUDA, ROCm, domestic), then by maker, then by release.
CHIPS: tuple[Chip, ...] = (
    # Nvidia / CUDA
    Chip("A100", "Nvidia", "2020Q3", 0.44, 13_000, tpp=4_992, mem_bw_gbs=2_039,
         dense_tflops=312,
         end_of_production="2024Q1", source=(
        "312 TF, 2.0 TB/s (§A1 via A800 row, H) -> sqrt(0.32*0.60); price ASSUMPTION $10-15k"
        "; dense 312 TF BF16, no FP8 (§A1 A800 row, M)")),
    Chip("H100", "Nvidia", "2022Q3", 1.00, 27_500, tpp=15_824, mem_bw_gbs=3_350,
         dense_tflops=989, dense_tflops_fp8=1_979,
         us_units_per_quarter=400_000, source=(
        "reference chip (§A1, H); price ~$25-30k (§A1, L from memory); US shipments ASSUMPTION "
        "400k/quarter (range 200k-800k)"
        "; dense 989 TF BF16, 1,979 TF FP8 (§A1, H)")),
    Chip("A800", "Nvidia", "2022Q4", 0.44, 13_000, china_part=True, compliant_until="2023Q4",
         dense_tflops=312,
         tpp=4_992, mem_bw_gbs=2_039, end_of_production="2023Q4", china_units_per_quarter=150_000, source=(
        "= A100 compute, NVLink cut (§A1, M); caught by the Oct 17 2023 rule (§C1, H)"
        "; dense 312 TF BF16 = A100 (§A1, M)")),
    Chip("H800", "Nvidia", "2023Q1", 1.00, 27_500, china_part=True, compliant_until="2023Q4",
         dense_tflops=989, dense_tflops_fp8=1_979,
         tpp=15_824, mem_bw_gbs=3_350, end_of_production="2023Q4", china_units_per_quarter=150_000, source=(
        "same GH100 die as H100, interconnect cut (§A1, M); barred Oct 17 2023 (§C1, H)"
        "; dense 989 TF BF16, 1,979 TF FP8 = H100 (§A1, M)")),
    Chip("H20", "Nvidia", "2024Q1", 0.42, 12_500, china_part=True, tpp=2_368, mem_bw_gbs=4_000,
         dense_tflops=148, dense_tflops_fp8=296,
         end_of_production="2025Q2", stock_units=200_000, china_units_per_quarter=400_000, source=(
        "148 TF (0.15), 4.0 TB/s (1.19) -> 0.42 (§A1, H); ~$12-13k (SemiAnalysis via FT, §A1, M); "
        "production stopped after the Apr 2025 licence requirement and the $4.5B inventory charge "
        "(§B3, H); stock ASSUMPTION 200k units (range 100k-400k: the $2.5B of unshippable orders "
        "at ~$12.5k, §B3 H); China production ASSUMPTION <= 400k/quarter (~1M sold in 2024, §B3 M)"
        "; dense 148 TF BF16, 296 TF FP8 (§A1, H)")),
    Chip("RTXPro6000D", "Nvidia", "2025Q3", 0.30, 8_000, china_part=True, tpp=4_000, mem_bw_gbs=1_600,
         dense_tflops=250, end_of_production="2025Q4",
         china_units_per_quarter=100_000, source=(
        "China part that succeeded the H20 (Sep 2025: CAC told ByteDance and Alibaba to "
        "cancel orders, §C2 H): retired from 2025Q4 (end_of_production, no stock left), ASSUMPTION that "
        "Nvidia made none for China after the cancellation; a GDDR7 workstation part: perf ASSUMPTION 0.30 "
        "(range 0.2-0.5), "
        "price ASSUMPTION $8k (range 6-12k), TPP and bandwidth ASSUMPTION below the China-part limits; China "
        "production ASSUMPTION <= 100k/quarter (range 25-200k; 'tens of thousands' were in the "
        "pipeline, §C2 H)"
        "; dense BF16 ASSUMPTION 250 TF (range 150-300, the top at TPP 4,800) = TPP / 16, no datasheet "
        "found")),
    Chip("H200", "Nvidia", "2024Q2", 1.20, 27_000, tpp=15_824, mem_bw_gbs=4_800, us_units_per_quarter=300_000,
         dense_tflops=989, dense_tflops_fp8=1_979,
         stock_units=700_000, source=(
        "989 TF (1.0), 4.8 TB/s (1.43) -> 1.20 (§A1, H); China price ~$27k per chip (Reuters Dec 31 "
        "2025, §A1, M; FT: ByteDance trial at ~$20k, §A1, M); TPP 989 x 16 = 15,824 < 21,000 and "
        "4,800 GB/s < 6,500: licensable under the Jan 2026 rule (§B4, H); US shipments "
        "ASSUMPTION 300k/quarter (range 100k-600k; Nvidia data-centre revenue ~$51B/quarter, §B3 H, "
        "mostly Blackwell); ~700k in stock for China incl. ~100k GH200 (Reuters Dec 31 2025, §B5 M)"
        "; dense 989 TF BF16, 1,979 TF FP8 (§A1, H)")),
    Chip("B200", "Nvidia", "2025Q1", 2.33, 35_000, tpp=36_000, mem_bw_gbs=8_000,
         dense_tflops=2_250, dense_tflops_fp8=4_500,
         us_units_per_quarter=1_000_000, source=(
        "2,250 TF (2.28), 8 TB/s (2.39) -> 2.33 (§A1, H); ~$30-40k (§A1, L); US shipments ASSUMPTION "
        "1M/quarter (range 500k-2M)"
        "; dense 2,250 TF BF16, 4,500 TF FP8 (HGX; §A1, H)")),
    Chip("Rubin", "Nvidia", "2026Q3", 5.00, 45_000, tpp=80_000, mem_bw_gbs=13_000,
         dense_tflops=5_000,
         us_units_per_quarter=1_500_000, source=(
        "ASSUMPTION perf 5 (range 3-8), anchored on the US-best/Huawei-best gap ~5x (2025) -> ~17x "
        "(2027) (CFR, §A2, M/H); release and price ASSUMPTION; US shipments ASSUMPTION 1.5M/quarter "
        "(range 750k-3M)"
        "; dense BF16 ASSUMPTION 5,000 TF (range 3,000-8,000) = TPP / 16")),
    Chip("RubinUltra", "Nvidia", "2027Q3", 10.0, 60_000, tpp=160_000, mem_bw_gbs=26_000,
         dense_tflops=10_000,
         us_units_per_quarter=1_500_000, source=(
        "ASSUMPTION perf 10 (range 6-15) from the same ~17x-by-2027 gap (§A2, M/H); price ASSUMPTION; "
        "US shipments ASSUMPTION 1.5M/quarter (range 750k-3M)"
        "; dense BF16 ASSUMPTION 10,000 TF (range 6,000-15,000) = TPP / 16")),
    Chip("Feynman", "Nvidia", "2028Q3", 0.0, 70_000, on_trend=True,
         us_units_per_quarter=1_500_000, source=(
        "announced by name only (GTC 2025, 2028): compute and bandwidth ON TREND from the B200 (on_trend); "
        "release and price ASSUMPTION (prices rise with dies and memory); US shipments ASSUMPTION "
        "1.5M/quarter (range 750k-3M)")),
    Chip("NvidiaNext", "Nvidia", "2029Q3", 0.0, 80_000, on_trend=True,
         us_units_per_quarter=1_500_000, source=(
        "placeholder for the 2029 generation, so the US frontier keeps moving to the 2030 horizon: "
        "compute and bandwidth ON TREND from the B200 (on_trend); release and price ASSUMPTION; US "
        "shipments ASSUMPTION 1.5M/quarter (range 750k-3M)")),
    # AMD / ROCm
    Chip("MI300X", "AMD", "2023Q4", 1.44, 15_000, tpp=20_912, mem_bw_gbs=5_300,
         dense_tflops=1_307, dense_tflops_fp8=2_615,
         us_units_per_quarter=100_000, source=(
        "1,307 TF (1.32), 5.3 TB/s (1.58) -> 1.44 (§A1, H); TPP 1,307 x 16 = 20,912 < 21,000 and "
        "5,300 GB/s < 6,500: licensable under the Jan 2026 rule (§B4, H); price ASSUMPTION $10-20k; "
        "US shipments ASSUMPTION 100k/quarter (range 50k-200k)"
        "; dense 1,307 TF BF16, 2,615 TF FP8 (§A1, H)")),
    Chip("MI308", "AMD", "2024Q3", 0.40, 12_000, china_part=True, tpp=2_400, mem_bw_gbs=4_000,
         dense_tflops=150,
         end_of_production="2025Q2", stock_units=20_000, china_units_per_quarter=40_000, source=(
        "China SKU, specs unpublished (§A1); ASSUMPTION H20-class 0.40 (range 0.3-0.5), $12k; "
        "licence requirement Apr 2025 and up to $800M of charges (§A1/§C1, H): production ended "
        "2025Q2, stock ASSUMPTION 20k (range 0-50k); China production ASSUMPTION <= 40k/quarter "
        "(range 10-80k; ~$800M of MI308 expected, §B4 L, ~67k units at $12k)"
        "; dense BF16 ASSUMPTION 150 TF (range 110-190, H20-class) = TPP / 16")),
    Chip("MI325X", "AMD", "2024Q4", 1.54, 20_000, tpp=20_800, mem_bw_gbs=6_000,
         dense_tflops=1_307.4, dense_tflops_fp8=2_614.9,
         us_units_per_quarter=50_000, source=(
        "H200-class per the Jan 2026 BIS rule (§B4, H); 1.3 PF, 6 TB/s from memory (L) -> 1.54; "
        "price ASSUMPTION; US shipments ASSUMPTION 50k/quarter (range 25k-100k)"
        "; dense 1,307.4 TF BF16, 2,614.9 TF FP8, the MI300X's compute (§A1, M); TPP kept at 20,800 "
        "(1,307.4 x 16 = 20,918, also < 21,000)")),
    Chip("MI355X", "AMD", "2025Q3", 2.30, 25_000, tpp=36_800, mem_bw_gbs=8_000, us_units_per_quarter=100_000,
         dense_tflops=2_516.6, dense_tflops_fp8=5_033.2,
         source="ASSUMPTION B200-class (L); price ASSUMPTION; US shipments ASSUMPTION 100k/quarter "
         "(range 50k-200k)"
         "; dense ~5,033 TF FP8 (8,192 FLOP per clock per CU x 256 CUs x 2.4 GHz, AMD at ISSCC 2026), BF16 "
         "at half that, 2,516.6 TF (§A1, M); TPP kept at 36,800 (2,516.6 x 16 = 40,266, also > 21,000)"),
    Chip("MI400", "AMD", "2026Q3", 4.50, 35_000, tpp=72_000, mem_bw_gbs=12_000, us_units_per_quarter=150_000,
         dense_tflops=4_500,
         source="ASSUMPTION Rubin-class, a little behind (L); US shipments ASSUMPTION 150k/quarter "
         "(range 75k-300k)"
         "; dense BF16 ASSUMPTION 4,500 TF (range 3,000-8,000) = TPP / 16"),
    Chip("MI500", "AMD", "2027Q3", 0.0, 50_000, on_trend=True, us_units_per_quarter=150_000,
         source="announced by name only (2027): compute and bandwidth ON TREND from the MI355X (on_trend); "
         "price ASSUMPTION; US shipments ASSUMPTION 150k/quarter (range 75k-300k)"),
    # Huawei / CANN
    Chip("Ascend910B", "Huawei", "2023Q3", 0.37, 20_000, tpp=4_800, mem_bw_gbs=1_400,
         dense_tflops=300, source=(
        "280-320 TF (0.30), 1.2-1.6 TB/s (0.42) -> 0.37 (§A1, M); Baidu paid ~$39k incl. systems "
        "(§A1, L) -> ASSUMPTION $20k per chip (range 15-39k)"
        "; dense 300 TF FP16 (280-320), no FP8 (§A1, M)")),
    Chip("Ascend910C", "Huawei", "2025Q1", 0.87, 28_000, tpp=12_480, mem_bw_gbs=3_200,
         dense_tflops=780, source=(
        "780 TF (0.79), 3.2 TB/s (0.96) -> 0.87 (§A1, M); measured ~0.6 of H100 on inference "
        "(§A2, M); implied ~$28k (SCMP via Tom's Hardware, §A1, M)"
        "; dense 780 TF FP16 (752-800), no FP8 (§A1, M)")),
    Chip("Ascend950PR", "Huawei", "2026Q1", 0.49, 20_000, tpp=8_000, mem_bw_gbs=1_600,
         dense_tflops=1_000, flop_bits=8, dense_tflops_fp8=1_000, source=(
        "1 PF FP8 (0.51 of H100 FP8), 1.6 TB/s (0.48) -> 0.49 (§A1, M/H roadmap); price ASSUMPTION"
        "; dense 1,000 TF FP8, quoted only in FP8 (§A1, M/H)")),
    Chip("Ascend950DT", "Huawei", "2026Q4", 0.78, 28_000, tpp=8_000, mem_bw_gbs=4_000,
         dense_tflops=1_000, flop_bits=8, dense_tflops_fp8=1_000, source=(
        "1 PF FP8 (0.51), 4 TB/s (1.19) -> 0.78 (§A1, M); price ASSUMPTION"
        "; dense 1,000 TF FP8, quoted only in FP8 (§A1, M)")),
    Chip("Ascend960", "Huawei", "2027Q4", 1.71, 35_000, tpp=16_000, mem_bw_gbs=9_600,
         dense_tflops=2_000, flop_bits=8, dense_tflops_fp8=2_000, source=(
        "2 PF FP8 (1.01), 9.6 TB/s (2.87) -> 1.71 (§A1, M roadmap); price ASSUMPTION"
        "; dense 2,000 TF FP8, quoted only in FP8 (§A1, M roadmap)")),
    Chip("Ascend970", "Huawei", "2028Q4", 3.40, 40_000, tpp=32_000, mem_bw_gbs=19_200,
         dense_tflops=4_000, flop_bits=8, dense_tflops_fp8=4_000, source=(
        "~2x Ascend960 compute and bandwidth (§A1, L/M: specs 'still being worked on'); price ASSUMPTION"
        "; dense FP8 ASSUMPTION 4,000 TF (range 3,000-5,000): ~8 PF FP4 (§A1, L/M) at half rate = TPP / 8")),
    # Cambricon
    Chip("MLU590", "Cambricon", "2023Q3", 0.40, 6_000, tpp=4_200, mem_bw_gbs=2_000,
         dense_tflops=262.5, source=(
        "'80-90% of A100' (§A1, L) -> 0.27 compute, bandwidth ASSUMPTION A100-class -> 0.40; "
        "price ~$6k: 2025 revenue RMB 6.5B (~$0.9B) over ~142k units (§B2, M)"
        "; dense BF16 262.5 TF within '80-90% of A100' = 250-281 TF (§A1, L) = TPP / 16")),
    Chip("MLU690", "Cambricon", "2026Q1", 0.80, 10_000, tpp=12_600, mem_bw_gbs=3_200,
         dense_tflops=787.5, source=(
        "'expected to rival H100' (SCMP, §A1, L) discounted -> ASSUMPTION 0.8 (range 0.5-1.0); "
        "release ASSUMPTION; price ASSUMPTION $10k (range 6-15k), above the ~$6k average of "
        "2025 (§B2, M)"
        "; dense BF16 ASSUMPTION 787.5 TF (range 490-980) = TPP / 16, no datasheet found")),
    # Moore Threads
    Chip("MTT_S4000", "MooreThreads", "2023Q4", 0.15, 5_000, tpp=1_600, mem_bw_gbs=768,
         dense_tflops=100, source=(
        "100 TF (0.10), 768 GB/s (0.23) -> 0.15 (§A1, M); price ASSUMPTION"
        "; dense 100 TF FP16/BF16, no FP8 (§A1, M)")),
    Chip("MTT_S5000", "MooreThreads", "2026Q1", 0.49, 18_000, tpp=8_000, mem_bw_gbs=1_600,
         dense_tflops=1_000, flop_bits=8, dense_tflops_fp8=1_000, source=(
        "claims ~1 PF FP8 (0.51), 1.6 TB/s (0.48) -> 0.49 (§A1, L); price ASSUMPTION"
        "; dense ~1,000 TF FP8, quoted only in FP8 (§A1, L)")),
    # Alibaba T-Head (in-house)
    Chip("PPU", "THead", "2025Q1", 0.42, 10_000, tpp=2_400, mem_bw_gbs=4_000,
         dense_tflops=150, source=(
        "claimed ~H20 (CCTV Sep 2025, §A1 M) -> the H20's 0.42 (ASSUMPTION, range 0.25-0.5); 96 GB HBM2e; "
        "release ASSUMPTION 2025Q1 (IDC counts ~265k shipped in 2025, §C4 M); "
        "price ASSUMPTION $10k (6-15k)"
        "; dense BF16 ASSUMPTION 150 TF (range 90-180, ~the H20's 148) = TPP / 16")),
    # Baidu Kunlunxin (in-house)
    Chip("P800", "Kunlunxin", "2025Q1", 0.35, 8_000, tpp=2_000, mem_bw_gbs=2_000,
         dense_tflops=125, source=(
        "30,000-chip cluster online Apr 2025 (Reuters, §A1 M); specs unpublished: perf ASSUMPTION 0.35 "
        "(range 0.25-0.5), price ASSUMPTION $8k"
        "; dense BF16 ASSUMPTION 125 TF (range 90-180) = TPP / 16, no datasheet found")),
    Chip("M100", "Kunlunxin", "2026Q1", 0.60, 12_000, tpp=6_000, mem_bw_gbs=3_000,
         dense_tflops=375, source=(
        "roadmap: M100 early 2026 (§A1 M); perf ASSUMPTION 0.6 (range 0.4-0.9), price ASSUMPTION"
        "; dense BF16 ASSUMPTION 375 TF (range 250-560) = TPP / 16")),
    Chip("M300", "Kunlunxin", "2027Q1", 1.20, 18_000, tpp=12_000, mem_bw_gbs=6_000,
         dense_tflops=750, source=(
        "roadmap: M300 early 2027 (§A1 M); perf ASSUMPTION 1.2 (range 0.8-1.8), price ASSUMPTION"
        "; dense BF16 ASSUMPTION 750 TF (range 500-1,100) = TPP / 16")),
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

#: Split of the US stack's purchases before 2026 (``Maker.history_share``): AMD ~160k of ~2.36M
#: US-designed cards in China in 2025 (IDC via Reuters, §C4, M) -> AMD 0.07, Nvidia 0.93. Domestic makers'
#: purchases before 2026 follow their foundry output (``model.core.backcast``), not a share.


#: Chips planned from this quarter on form the roadmap ahead: domestic makers' R&D can move theirs
#: (ChipMarketModel.reschedule_releases) and the US roadmap after Blackwell is a scenario
#: (``with_us_roadmap``); earlier releases are history (SOURCES §A1).
ROADMAP_FROM = parse_quarter("2026Q1")

#: Doubling times in years of the trend the ``on_trend`` chips follow (the defaults of the parameters
#: ``us_flop_per_usd_doubling_years`` and ``us_bandwidth_doubling_years``): dense FLOP/s per dollar of ML
#: GPUs 2.07 years (Epoch AI, Hobbhahn & Besiroglu 2022, 95% CI 1.54-3.13, SOURCES §A1 H); memory
#: bandwidth ~4 years (Epoch AI, §A1 M), here per dollar.
TREND_DOUBLING_YEARS = (2.07, 4.0)

#: A quarter no chip reaches (year 10000): the release of an empty design slot, and "not before" dates.
NEVER = 10_000 * 4

#: Parts a US maker can design to the US rule in one run (``USChipmaker.design_to_rule``, ODD 7.5): the
#: catalogue's arrays hold this many generated columns after each US maker's chips, empty (never released)
#: until the maker designs a part into one. ASSUMPTION 3: room for a licensed product and a China part under
#: the threshold and one more when the rule changes; Nvidia brought out four China parts in 2022-25 (A800,
#: H800, H20, RTX Pro 6000D, §A1/§C1), about one per change of the rules.
DESIGN_SLOTS = 3


def design_slots(chip_list: tuple[Chip, ...], maker_list: tuple[Maker, ...]) -> tuple[Chip, ...]:
    """The chips with ``DESIGN_SLOTS`` generated entries after each US maker's last chip: GENERATED, not
    sourced; a run fills one when its maker designs a part to the rule (``ChipMarketModel.place_design``)."""
    us = {m.name for m in maker_list if m.stack == "US"}
    out: list[Chip] = []
    for k, c in enumerate(chip_list):
        out.append(c)
        last_of_maker = k + 1 == len(chip_list) or chip_list[k + 1].maker != c.maker
        if c.maker in us and last_of_maker and not c.generated:
            # H100-like placeholder numbers until a part is designed into it (never on sale before)
            out += [Chip(f"{c.maker}Design{n + 1}", c.maker, "", 1.0, 25_000.0, generated=True,
                         tpp=H100_TPP, mem_bw_gbs=H100_MEM_BW_GBS, dense_tflops=H100_DENSE_TFLOPS[16],
                         source="GENERATED: a part its maker designs to the US rule in a run (ODD 7.5)")
                    for n in range(DESIGN_SLOTS)]
    return tuple(out)


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
    flop_h100e: np.ndarray  # (J,) FLOP-based H100-equivalents: dense TFLOPS / the H100's (module docstring)
    hbm_stacks_per_chip: np.ndarray  # (M,) per maker
    history_share: np.ndarray  # (M,) per maker: its share of its stack's purchases before 2026
    on_trend: np.ndarray = None  # (J,) bool: compute and bandwidth from the trend (``on_trend``)
    generated: np.ndarray = None  # (J,) bool: a slot for a part designed to the rule (``DESIGN_SLOTS``)
    makers: tuple[Maker, ...] = ()  # the entries themselves (name, colour, capacity, ...)

    def maker_index(self, name: str) -> int:
        return self.maker_names.index(name)


# --- The catalogue in force -----------------------------------------------------------------------
# The sourced tables above, plus any makers and chips a user adds for a what-if (``extended``). Code that
# needs the catalogue asks ``makers()`` / ``chips()`` / ``catalogue_arrays()`` when it runs, so an added
# maker reaches the model, its reporters, the sweep's outputs and the UI without touching anything else.
_IN_FORCE: list[tuple[tuple[Maker, ...], tuple[Chip, ...]]] = [(MAKERS, CHIPS)]


def makers() -> tuple[Maker, ...]:
    """The chipmakers in force: ``MAKERS`` plus any added with ``extended``, ordered by ecosystem."""
    return _IN_FORCE[-1][0]


def chips() -> tuple[Chip, ...]:
    """The chips in force: ``CHIPS`` plus any added with ``extended``, ordered by ecosystem."""
    return _IN_FORCE[-1][1]


@contextmanager
def extended(new_makers: tuple[Maker, ...] = (), new_chips: tuple[Chip, ...] = ()):
    """Within the ``with`` block the catalogue holds these makers and chips as well (a what-if maker, a
    rumoured part). Entries keep the catalogue's order by ecosystem (a new domestic maker goes after the
    others); the process's runs see it (an inline sweep does, a pool of worker processes does not)."""
    old_makers, old_chips = _IN_FORCE[-1]
    all_makers = old_makers + tuple(new_makers)
    names = [m.name for m in all_makers]
    if len(set(names)) != len(names):
        raise ValueError(f"catalogue: a maker is named twice in {names}")
    eco = {m.name: m.ecosystem for m in all_makers}
    unknown = [c.maker for c in new_chips if c.maker not in eco]
    if unknown:
        raise ValueError(f"catalogue: chips of unknown makers {unknown}; add the maker too")
    ordered_makers = tuple(sorted(all_makers, key=lambda m: m.ecosystem))  # stable: old order kept
    ordered_chips = tuple(sorted(old_chips + tuple(new_chips), key=lambda c: eco[c.maker]))
    _IN_FORCE.append((ordered_makers, ordered_chips))
    try:
        yield
    finally:
        _IN_FORCE.pop()


def catalogue_arrays(chip_table: tuple[Chip, ...] | None = None,
                     maker_table: tuple[Maker, ...] | None = None) -> CatalogueArrays:
    """Turn the data tables (default: the catalogue in force) into arrays, checking the contiguity the
    model relies on."""
    maker_list = makers() if maker_table is None else maker_table
    chip_list = design_slots(chips() if chip_table is None else chip_table, maker_list)
    maker_index = {m.name: k for k, m in enumerate(maker_list)}
    maker_of_chip = np.array([maker_index[c.maker] for c in chip_list], dtype=np.int64)
    eco_of_maker = np.array([m.ecosystem for m in maker_list], dtype=np.int64)
    eco_of_chip = eco_of_maker[maker_of_chip]
    if np.any(np.diff(eco_of_chip) < 0):
        raise ValueError("catalogue chips must be ordered by ecosystem (contiguous columns)")
    arrays = CatalogueArrays(
        names=tuple(c.name for c in chip_list),
        maker_names=tuple(m.name for m in maker_list),
        maker_of_chip=maker_of_chip,
        ecosystem_of_chip=eco_of_chip,
        ecosystem_of_maker=eco_of_maker,
        is_us=np.array([maker_list[maker_index[c.maker]].stack == "US" for c in chip_list]),
        release=np.array([NEVER if c.generated else parse_quarter(c.release) for c in chip_list],
                         dtype=np.int64),
        perf_paper=np.array([c.perf_paper for c in chip_list], dtype=float),
        price_usd=np.array([c.price_usd for c in chip_list], dtype=float),
        china_part=np.array([c.china_part for c in chip_list]),
        compliant_until=np.array(
            [parse_quarter(c.compliant_until) if c.compliant_until else NEVER for c in chip_list],
            dtype=np.int64,
        ),
        tpp=np.array([c.tpp for c in chip_list], dtype=float),
        mem_bw_gbs=np.array([c.mem_bw_gbs for c in chip_list], dtype=float),
        end_of_production=np.array(
            [parse_quarter(c.end_of_production) if c.end_of_production else NEVER for c in chip_list],
            dtype=np.int64,
        ),
        stock_units=np.array([c.stock_units for c in chip_list], dtype=float),
        us_units_per_quarter=np.array([c.us_units_per_quarter for c in chip_list], dtype=float),
        china_units_per_quarter=np.array([c.china_units_per_quarter for c in chip_list], dtype=float),
        flop_h100e=np.array([c.dense_tflops / H100_DENSE_TFLOPS[c.flop_bits] for c in chip_list],
                            dtype=float),
        hbm_stacks_per_chip=np.array([m.hbm_stacks_per_chip for m in maker_list], dtype=float),
        history_share=np.array([m.history_share for m in maker_list], dtype=float),
        on_trend=np.array([c.on_trend for c in chip_list], dtype=bool),
        generated=np.array([c.generated for c in chip_list], dtype=bool),
        makers=tuple(maker_list),
    )
    return on_trend(arrays, *TREND_DOUBLING_YEARS)


def on_trend(cat: CatalogueArrays, flop_doubling_years: float,
             bandwidth_doubling_years: float) -> CatalogueArrays:
    """The catalogue with its ``on_trend`` chips' compute and bandwidth from the trend (module docstring):
    for a chip released y years after its maker's anchor (the maker's US chip, not a China part, with the
    most FLOP-based H100e per dollar released before ``ROADMAP_FROM``), ``flop_h100e`` = the anchor's per
    dollar x price x 2**(y / flop_doubling_years), bandwidth likewise with ``bandwidth_doubling_years``;
    ``perf_paper`` = sqrt(flop_h100e x bandwidth / the H100's), ``tpp`` = flop_h100e x the H100's TPP.
    Powers of two by ``fixedmath.exp2`` (same bits on any CPU)."""
    trend = cat.on_trend
    if not trend.any():
        return cat
    flop, bw, perf, tpp = (cat.flop_h100e.copy(), cat.mem_bw_gbs.copy(), cat.perf_paper.copy(),
                           cat.tpp.copy())
    for maker in np.unique(cat.maker_of_chip[trend]):
        sourced = ((cat.maker_of_chip == maker) & ~trend & ~cat.china_part & cat.is_us
                   & (cat.release < ROADMAP_FROM))
        if not sourced.any():
            raise ValueError(f"catalogue: {cat.maker_names[maker]} has on_trend chips but no sourced chip "
                             "before the roadmap to anchor them")
        a = int(np.argmax(np.where(sourced, cat.flop_h100e / cat.price_usd, -np.inf)))
        rows = trend & (cat.maker_of_chip == maker)
        years = (cat.release[rows] - cat.release[a]) / 4.0
        flop[rows] = (cat.flop_h100e[a] / cat.price_usd[a]) * cat.price_usd[rows] * fm.exp2(
            years / flop_doubling_years)
        bw[rows] = (cat.mem_bw_gbs[a] / cat.price_usd[a]) * cat.price_usd[rows] * fm.exp2(
            years / bandwidth_doubling_years)
        perf[rows] = np.sqrt(flop[rows] * (bw[rows] / H100_MEM_BW_GBS))
        tpp[rows] = flop[rows] * H100_TPP
    return replace(cat, flop_h100e=flop, mem_bw_gbs=bw, perf_paper=perf, tpp=tpp)


def with_us_roadmap(cat: CatalogueArrays, delay_quarters: int, perf_scale: float,
                    flop_doubling_years: float | None = None,
                    bandwidth_doubling_years: float | None = None) -> CatalogueArrays:
    """The catalogue with the US roadmap after Blackwell moved as a whole (parameters
    ``us_roadmap_delay_quarters`` and ``us_roadmap_perf_scale``, ODD section 2): every US chip planned from
    ``ROADMAP_FROM`` on is released ``delay_quarters`` later (negative: earlier) and has its performance
    index, TPP and FLOP-based ``flop_h100e`` scaled by ``perf_scale`` (its price and memory bandwidth
    stay). The ``on_trend`` chips are first put on the trend with the given doubling times (None: the
    catalogue's, ``TREND_DOUBLING_YEARS``). With 0, 1.0 and the catalogue's doubling times the arrays are
    the catalogue's own, bit for bit."""
    if flop_doubling_years is not None or bandwidth_doubling_years is not None:
        flop_d, bw_d = TREND_DOUBLING_YEARS
        cat = on_trend(cat, flop_d if flop_doubling_years is None else flop_doubling_years,
                       bw_d if bandwidth_doubling_years is None else bandwidth_doubling_years)
    ahead = cat.is_us & ~cat.generated & (cat.release >= ROADMAP_FROM)
    scale = np.where(ahead, perf_scale, 1.0)
    return replace(cat, release=cat.release + np.where(ahead, int(delay_quarters), 0),
                   perf_paper=cat.perf_paper * scale, tpp=cat.tpp * scale,
                   flop_h100e=cat.flop_h100e * scale)


def run_catalogue(delay_quarters: int, perf_scale: float, flop_doubling_years: float | None = None,
                  bandwidth_doubling_years: float | None = None) -> CatalogueArrays:
    """``with_us_roadmap(catalogue_arrays(), ...)``: a run's catalogue, kept per catalogue in force and
    roadmap parameters in this process (every run of a sweep starts from it). Its arrays are read-only, so
    runs share it; a run's designed parts go into copies (``with_design``)."""
    tables = _IN_FORCE[-1]
    key = (id(tables), delay_quarters, perf_scale, flop_doubling_years, bandwidth_doubling_years)
    kept = _RUN_CATALOGUES.get(key)
    if kept is not None and kept[0] is tables:
        return kept[1]
    cat = with_us_roadmap(catalogue_arrays(), delay_quarters, perf_scale, flop_doubling_years,
                          bandwidth_doubling_years)
    for value in vars(cat).values():
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
    if len(_RUN_CATALOGUES) >= 32:
        _RUN_CATALOGUES.clear()
    _RUN_CATALOGUES[key] = (tables, cat)
    return cat


_RUN_CATALOGUES: dict[tuple, tuple] = {}  # run_catalogue's key -> (the tables in force, the catalogue)


def with_design(cat: CatalogueArrays, slot: int, release: int,
                part: tuple[float, float, float, float] | None = None, parent: int = -1,
                china_part: bool = False, production_share: float = 0.0) -> CatalogueArrays:
    """The catalogue with generated column ``slot`` (``DESIGN_SLOTS``) holding a part its maker designed to
    the rule, released at ``release``: ``part`` = (FLOP-based H100e, bandwidth GB/s, performance index,
    price) from ``supply.part_under_caps``, TPP from its compute. A China part (``china_part``: designed to
    the h20-era caps, sold to anyone while it complies) may be made for China at ``production_share`` x its
    ``parent``'s US shipments a quarter (``china_units_per_quarter``: the rate other products are made for
    China at, parameter ``us_china_production_share``); any other part is a product licensed
    under the threshold whose volume-cap base is its parent's US shipments (ASSUMPTION: a cut-down variant
    counts its parent's US volume, as a China-only product could not be sold under the cap at all).
    ``part`` None: only the release changes (``NEVER`` empties the slot). The arrays changed are copies."""
    def put(a: np.ndarray, value) -> np.ndarray:
        out = a.copy()
        out[slot] = value
        return out

    if part is None:
        return replace(cat, release=put(cat.release, release))
    flop, bw, perf, price = part
    us_units = float(cat.us_units_per_quarter[parent])
    return replace(
        cat, release=put(cat.release, release), flop_h100e=put(cat.flop_h100e, flop),
        mem_bw_gbs=put(cat.mem_bw_gbs, bw), perf_paper=put(cat.perf_paper, perf),
        tpp=put(cat.tpp, flop * H100_TPP), price_usd=put(cat.price_usd, price),
        china_part=put(cat.china_part, china_part),
        us_units_per_quarter=put(cat.us_units_per_quarter, 0.0 if china_part else us_units),
        china_units_per_quarter=put(cat.china_units_per_quarter,
                                    production_share * us_units if china_part else 0.0))
