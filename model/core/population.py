"""The AI-developer population as arrays: its initial state and its quarterly rules.

The arrays are the developers' state. ``AIDeveloper`` agents (``model.core.developers``) are views that read
their own row, so the UI and the DataCollector see agents while the quarterly decisions of the
whole population are numpy operations (``ecosystem_pull``, ``quarterly_demand``,
``install``). Names follow docs/ODD.md.

Segments and their sources (SOURCES §D1; shares are ASSUMPTIONS documented in ODD.md):

=============  ==========  =========  ========================  =================================
segment        developers  demand     US-share tilt (log-odds)  basis
=============  ==========  =========  ========================  =================================
hyperscaler    2%          50%        +1.0                      ByteDance alone plans 85B yuan
                                                                (~$12B) of AI chips in 2026, about
                                                                a quarter of the market (§D1, M);
                                                                'still rely primarily on NVIDIA'
                                                                (Epoch, §D2, M/H)
ai_lab         8%          15%        +0.5                      DeepSeek, Moonshot, MiniMax... (§D1)
state          30%         20%        -2.0                      SOE carriers and state-funded DCs;
                                                                Ascend demand came mostly from SOEs
                                                                (The Information, §D2, M); >$100B
                                                                of state funds to AI DCs (§C2, H)
enterprise     60%         15%         0.0                      the long tail
=============  ==========  =========  ========================  =================================
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import brentq

from model.core import fixedmath as fm
from model.core.catalogue import DOMESTIC, ECOSYSTEMS, CatalogueArrays
from model.core.network import peer_network
from model.core.quarters import years_since_2026

SEGMENTS = ("hyperscaler", "ai_lab", "state", "enterprise")
HYPERSCALER, AI_LAB, STATE, ENTERPRISE = range(4)
SEGMENT_DEVELOPER_SHARE = np.array([0.02, 0.08, 0.30, 0.60])  # ASSUMPTION, see module docstring
SEGMENT_DEMAND_SHARE = np.array([0.50, 0.15, 0.20, 0.15])  # ASSUMPTION, see module docstring
SEGMENT_US_TILT = np.array([1.0, 0.5, -2.0, 0.0])  # ASSUMPTION (log-odds), see module docstring
#: log-sd of developers' sizes inside a segment (ASSUMPTION 1.0, range 0.5-2: heavy-tailed demand)
SIZE_LOG_SD = 1.0
#: log-odds sd of developers' initial US share around their segment's (ASSUMPTION 0.5)
INITIAL_SHARE_LOG_SD = 0.5


def segment_counts(n: int) -> np.ndarray:
    """Developers per segment: largest-remainder rounding, every segment present when n >= 4."""
    raw = SEGMENT_DEVELOPER_SHARE * n
    counts = np.floor(raw).astype(int)
    if n >= len(SEGMENTS):
        counts = np.maximum(counts, 1)
    while counts.sum() > n:
        counts[np.argmax(counts)] -= 1
    order = np.argsort(-(raw - np.floor(raw)), kind="stable")
    k = 0
    while counts.sum() < n:
        counts[order[k % len(order)]] += 1
        k += 1
    return counts


def _logit(p):
    return fm.logit(p)


def _sigmoid(x):
    return fm.sigmoid(x)


@dataclass
class DeveloperArrays:
    """State of the developer population, one row per developer."""

    segment: np.ndarray  # (n,) int index into SEGMENTS
    base_demand: np.ndarray  # (n,) USD budget per quarter at 2026Q1 (before growth and shocks)
    licensed: np.ndarray  # (n,) bool: holds a US licence (approved customer); see stratified_pick
    china_approved: np.ndarray  # (n,) bool: Beijing lets it buy US chips under 'restrict'
    taste: np.ndarray  # (n x E) persistent taste for each ecosystem
    installed: np.ndarray  # (n x makers) installed compute in H100e, per chipmaker
    peers: sp.csr_matrix  # (n x n) row-normalised peer network
    last_purchases: np.ndarray  # (n x makers) H100e bought in the last quarter
    last_unmet: np.ndarray  # (n,) USD of budget left unspent in the last quarter (after abroad and grey)
    last_demand: np.ndarray  # (n,) USD budget in the last quarter (before stockpiling)
    last_spent: np.ndarray  # (n,) USD spent in China in the last quarter
    installed_offshore: np.ndarray  # (n x makers) H100e of US chips the developer owns abroad
    rented_offshore: np.ndarray  # (n x makers) H100e of US chips it rents abroad this quarter (a flow)
    last_stockpiled: np.ndarray  # (n,) USD brought forward and spent on US chips in the last quarter
    last_offshore: np.ndarray  # (n,) USD spent abroad in the last quarter
    last_grey: np.ndarray  # (n,) USD spent on grey-market chips in the last quarter
    last_grey_h100e: np.ndarray  # (n,) H100e of grey-market chips delivered (part of last_purchases)
    carry: np.ndarray  # (n,) USD of unspent budget carried into the next quarter
    advance: np.ndarray  # (n,) USD brought forward to stockpile, still to be repaid from later budgets

    @property
    def n(self) -> int:
        return self.segment.shape[0]

    @property
    def state_affiliated(self) -> np.ndarray:
        """(n,) bool, read-only: state-affiliated developers (kept while ``segment`` is the same array)."""
        return self._of_segment()[0]

    @property
    def private(self) -> np.ndarray:
        """(n,) bool, read-only: the developers that are not state-affiliated."""
        return self._of_segment()[1]

    def _of_segment(self) -> tuple[np.ndarray, np.ndarray]:
        kept = self.__dict__.get("_segment_masks")
        if kept is None or kept[0] is not self.segment:
            state = self.segment == STATE
            private = ~state
            state.setflags(write=False)
            private.setflags(write=False)
            kept = self.__dict__["_segment_masks"] = (self.segment, state, private)
        return kept[1], kept[2]


@dataclass(frozen=True)
class InstalledBase:
    """China's installed AI compute at the start (effective H100e), its US share and each maker's
    share of its stack's compute (``InstalledBase.of`` the backcast, ``model.core.backcast``)."""

    h100e: float
    us_share: float
    maker_share: np.ndarray  # (makers,) each maker's share of its own stack's installed compute

    @classmethod
    def of(cls, h100e_by_chip: np.ndarray, cat: CatalogueArrays) -> InstalledBase:
        """The installed base whose compute per chip is ``h100e_by_chip``."""
        by_maker = np.bincount(cat.maker_of_chip, weights=h100e_by_chip, minlength=len(cat.maker_names))
        is_us = cat.ecosystem_of_maker != DOMESTIC
        total, us = float(by_maker.sum()), float(by_maker[is_us].sum())
        stack = np.where(is_us, us, total - us)
        return cls(total, us / total if total > 0 else 0.0, by_maker / np.where(stack > 0, stack, 1.0))


def create_population(rng: np.random.Generator, p, initial: InstalledBase,
                      cat: CatalogueArrays) -> DeveloperArrays:
    """Draw the initial developer population (all randomness from ``rng``) from the model's parameters
    ``p`` (n_developers, demand_2026_usd, us_licence_allocation, approved_customer_share,
    china_approval_share, taste_sd, peers_per_developer), the installed base at the start and the
    catalogue (each maker's share of its
    stack's history)."""
    n, taste_sd = p.n_developers, p.taste_sd
    quarterly_budget_2026 = p.demand_2026_usd / 4.0
    counts = segment_counts(n)
    segment = np.repeat(np.arange(len(SEGMENTS)), counts)
    size = fm.exp(rng.normal(0.0, SIZE_LOG_SD, n))  # log-normal, exp in fixed arithmetic
    # each segment's developers share that segment's demand, in proportion to their size
    seg_size = np.bincount(segment, weights=size, minlength=len(SEGMENTS))
    present = counts > 0
    demand_share = SEGMENT_DEMAND_SHARE * present
    demand_share = demand_share / demand_share.sum()
    weight = size * (demand_share / np.where(seg_size > 0, seg_size, 1.0))[segment]  # sums to 1
    base_demand = quarterly_budget_2026 * weight

    licensed = stratified_pick(rng, segment, weight, p.approved_customer_share)  # drawn either way
    if p.us_licence_allocation == "largest":
        licensed = largest_first(weight, segment != STATE, p.approved_customer_share)
    china_approved = stratified_pick(rng, segment, weight, p.china_approval_share)
    taste = np.asfortranarray(rng.normal(0.0, taste_sd, (n, len(ECOSYSTEMS))) if taste_sd > 0
                             else np.zeros((n, len(ECOSYSTEMS))))

    # initial US share per developer: segment tilt + noise, shifted so that the demand-weighted
    # aggregate equals the sourced historical share exactly (root of a common log-odds shift)
    offset = SEGMENT_US_TILT[segment] + rng.normal(0.0, INITIAL_SHARE_LOG_SD, n)
    target = float(np.clip(initial.us_share, 1e-6, 1 - 1e-6))
    base = _logit(target) + offset
    shift = brentq(lambda c: float((weight * _sigmoid(base + c)).sum()) - target, -40.0, 40.0, xtol=1e-12)
    us_share = _sigmoid(base + shift)
    total = initial.h100e * weight
    installed = np.zeros((n, len(cat.maker_names)), order="F")  # one contiguous column per maker
    for m in range(len(cat.maker_names)):
        stack_share = us_share if cat.ecosystem_of_maker[m] != DOMESTIC else 1.0 - us_share
        installed[:, m] = total * stack_share * float(initial.maker_share[m])

    peers = peer_network(rng, weight, p.peers_per_developer)
    return DeveloperArrays(
        segment=segment,
        base_demand=base_demand,
        licensed=licensed,
        china_approved=china_approved,
        taste=taste,
        installed=installed,
        peers=peers,
        last_purchases=np.zeros_like(installed, order="F"),
        last_unmet=np.zeros(n),
        last_demand=np.zeros(n),
        last_spent=np.zeros(n),
        installed_offshore=np.zeros_like(installed, order="F"),
        rented_offshore=np.zeros_like(installed, order="F"),
        last_stockpiled=np.zeros(n),
        last_offshore=np.zeros(n),
        last_grey=np.zeros(n),
        last_grey_h100e=np.zeros(n),
        carry=np.zeros(n),
        advance=np.zeros(n),
    )


def stratified_pick(rng: np.random.Generator, segment: np.ndarray, weight: np.ndarray,
                    share: float) -> np.ndarray:
    """Pick developers at random so that, within each segment, the picked ones hold ``share`` of
    the segment's demand (as closely as whole developers allow).

    Developers are taken in random order; one is picked when the midpoint of its weight on the
    running total falls below ``share`` of the segment's weight. Compared with independent coin
    flips this removes most of the lottery over which of a few giant developers hold a licence, so
    ``approved_customer_share`` means a share of demand, not just a share of names.
    """
    picked = np.zeros(segment.shape[0], dtype=bool)
    order = rng.permutation(segment.shape[0])
    for seg in range(len(SEGMENTS)):
        idx = order[segment[order] == seg]
        if idx.size == 0:
            continue
        w = weight[idx]
        mid = np.cumsum(w) - 0.5 * w
        picked[idx] = mid < share * w.sum()
    return picked


def largest_first(weight: np.ndarray, eligible: np.ndarray, share: float) -> np.ndarray:
    """Pick eligible developers in order of ``weight`` (largest first, ties in index order) until they hold
    ``share`` of the eligible ones' total, by the midpoint rule of ``stratified_pick``."""
    picked = np.zeros(weight.shape[0], dtype=bool)
    idx = np.flatnonzero(eligible)
    idx = idx[np.argsort(-weight[idx], kind="stable")]
    w = weight[idx]
    picked[idx] = (np.cumsum(w) - 0.5 * w) < share * w.sum()
    return picked


def demand_factor(p, quarter: int) -> float:
    """China's AI-chip spending in ``quarter`` relative to 2026's (``demand_2026_usd``): it grows at
    ``demand_growth`` a year from 2025 on, and before 2025 it falls back at ``history_growth`` a year (the
    path the backcast of the installed base, a replay's budgets and the makers' plans all follow)."""
    years = years_since_2026(quarter)
    if years >= -1.0:
        return fm.power(1.0 + p.demand_growth, years)
    return fm.power(1.0 + p.demand_growth, -1.0) * fm.power(1.0 + p.history_growth, years + 1.0)


def quarterly_demand(
    rng: np.random.Generator, base_demand: np.ndarray, growth_factor: float, shock_sd: float
) -> np.ndarray:
    """Each developer's budget this quarter (USD): base x growth x mean-one log-normal shock."""
    if shock_sd > 0:
        shock = fm.exp(rng.normal(-0.5 * shock_sd * shock_sd, shock_sd, base_demand.shape[0]))
        return base_demand * growth_factor * shock
    return base_demand * growth_factor


def installed_by_ecosystem(installed: np.ndarray, ecosystem_of_maker: np.ndarray) -> np.ndarray:
    """(n x makers) -> (n x ecosystems), Fortran-ordered (one contiguous column per ecosystem)."""
    out_t = np.zeros((len(ECOSYSTEMS), installed.shape[0]))
    for m, e in enumerate(ecosystem_of_maker):
        out_t[e] += installed[:, m]
    return out_t.T


def own_shares(by_eco: np.ndarray) -> np.ndarray:
    """Each developer's share of its installed compute in each ecosystem (0 if it has none)."""
    by_eco_t = by_eco.T
    total = by_eco_t.sum(axis=0)
    out_t = np.zeros(by_eco_t.shape)
    np.divide(by_eco_t, total, out=out_t, where=total > 0)
    return out_t.T


def install(installed: np.ndarray, purchases: np.ndarray, depreciation: float) -> np.ndarray:
    """Installed base after a quarter: last quarter's after depreciation, plus purchases (in place)."""
    installed *= 1.0 - depreciation
    installed += purchases
    return installed
