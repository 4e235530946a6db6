"""Market clearing for the whole developer population at once (numpy).

Each quarter every developer has a budget (``demand_i``, USD) for new AI chips. It splits that
budget over the chips it may legally buy by the logit of ``model.core.choice``; a dollar spent on chip j
buys ``1 / cost_j`` chips and ``perf_j / cost_j`` H100-equivalents. Domestic makers' supply is
capacity-bound, and so are some US products (the volume cap of the US rule, a product sold from stock,
Beijing's import cap): supply is a set of *supply groups*, each a set of chips with a number of units
it can still deliver this quarter (a domestic maker's capacity; one product's volume cap or stock; all
US chips under an import cap; under a pairing quota a US chip also draws its bundled units of the paired
domestic chip from that chip's groups, ``MarketOffer.uses``). When a group is over-subscribed every buyer
of its chips gets the same fill ratio (proportional rationing; a chip in several groups gets the smallest
ratio) and the unspent part of the budget is offered again, in a further round, over the chips that still
have supply, or stays unspent. Rounds stop when all budgets are spent or no supply is left for anyone who
still wants some.

All work is on (ecosystems x n) and (makers x n) rows plus a few (classes x chips) tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from model.core.catalogue import SALE_QUARTERS, CatalogueArrays
from model.core.choice import chip_weights, ecosystem_shares_t, within_ecosystem_weights

#: ``ndarray.sum`` and ``.any`` are these reductions behind a Python wrapper (the same operation)
_sum, _any = np.add.reduce, np.logical_or.reduce


@dataclass
class Clearing:
    """What one quarter's market clearing produced."""

    purchases: np.ndarray  # (n x makers) H100e bought by each developer from each maker
    chips_sold: np.ndarray  # (chips,) units of each chip sold
    spent: np.ndarray  # (n,) USD of each developer's budget spent
    unmet: np.ndarray  # (n,) USD of budget that found no legal supply
    rounds: int
    orders: np.ndarray  # (chips,) units wanted in the first round, before rationing (makers' signal)
    capacity_left: np.ndarray  # (K,) units each supply group can still deliver


def chips_with_supply(groups: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """(J,) chips none of whose supply groups is exhausted (``groups``: ``MarketOffer.members()``)."""
    return ~(groups & (capacity[:, None] <= 0)).any(axis=0)


@dataclass(frozen=True)
class Pairing:
    """Beijing's pairing quota as the market clears it (ODD 7.1): with each unit of US chip j a buyer takes
    ``units[j]`` units of the domestic chip ``chip`` (``ratio`` x j's H100e at ``chip``'s H100e each), paid
    for in j's buyer cost (``ChinaGovernment.pairing_cost``), drawn from ``chip``'s supply groups and
    installed: a bundle, so imports are rationed with the domestic supply they need."""

    chip: int  # the domestic chip paired with the covered US chips: the cheapest per H100e on sale
    ratio: float  # H100e of ``chip`` per H100e of a covered chip (the parameter's, or Beijing's own)
    units: np.ndarray  # (J,) units of ``chip`` per unit of each chip (0 on chips the quota does not cover)


@dataclass(frozen=True)
class MarketOffer:
    """The market in China this quarter, as every developer faces it: which chips each access class may
    buy (legal and on sale), their common utility, what a buyer pays, their effective H100e, and the
    supply groups with the units each can still deliver (``inf`` = not binding)."""

    catalogue: CatalogueArrays  # chip and maker indices (maker_of_chip, ecosystem_of_chip, ...)
    sale: np.ndarray  # (J,) bool: offered in China this quarter
    allowed_by_class: np.ndarray  # (C x J) bool: which chips each access class may buy
    base: np.ndarray  # (J,) utility common to all developers (choice.chip_base_utility)
    cost: np.ndarray  # (J,) USD the buyer pays per chip (after levy pass-through and subsidies)
    perf: np.ndarray  # (J,) effective H100e per chip
    groups: np.ndarray  # (K x J) bool: the chips of each supply group
    capacity: np.ndarray  # (K,) units each supply group can deliver this quarter
    stocked: np.ndarray  # (J,) bool: products sold from a stock (their supply is the stock)
    weights: np.ndarray | None = None  # (J,) choice.chip_weights(base), when the caller has it
    pairing: Pairing | None = None  # Beijing's pairing quota in force, if any

    def but(self, **changes) -> MarketOffer:
        """This offer with some fields changed (``dataclasses.replace`` without its introspection)."""
        return MarketOffer(**{**self.__dict__, **changes})

    def uses(self) -> np.ndarray:
        """(K x J) units of each supply group's supply one unit of each chip takes: 1 for its own groups
        (``groups``, bool), plus under a pairing quota a US chip's paired domestic units from the groups of
        the paired chip (float)."""
        groups = np.asarray(self.groups, dtype=bool)
        if self.pairing is None:
            return groups
        k = self.pairing.chip
        return groups + groups[:, k:k + 1] * self.pairing.units[None, :]

    def members(self) -> np.ndarray:
        """(K x J) bool: the supply groups each chip draws on (its own, and its paired chip's)."""
        return np.asarray(self.groups, dtype=bool) if self.pairing is None else self.uses() > 0


def clear_market(demand: np.ndarray, pull: np.ndarray, access_class: np.ndarray, offer: MarketOffer,
                 max_rounds: int = 8) -> Clearing:
    """Allocate this quarter's budgets.

    Args:
        demand: (n,) USD each developer wants to spend this quarter.
        pull: (n x E) developer-specific utility of each ecosystem (see ``choice.ecosystem_pull``).
        access_class: (n,) index of each developer's access class (row of ``offer.allowed_by_class``).
        offer: the chips, their utility, cost, performance and supply groups (``MarketOffer``).

    Per-developer arrays are handled as (ecosystems x n) and (makers x n) rows internally; the
    (n x M) purchases are their Fortran-ordered transpose. A round is a fixed sequence of a few dozen
    numpy calls on (classes x chips) tables and (ecosystems x n), (makers x n) rows: at a few hundred
    developers the calls' overhead is the cost, so nothing per-clearing is recomputed per round.
    """
    cat = offer.catalogue
    allowed_by_class, cost = offer.allowed_by_class, offer.cost
    ecosystem_of_chip, ecosystem_of_maker = cat.ecosystem_of_chip, cat.ecosystem_of_maker
    n, n_eco = pull.shape
    n_class = allowed_by_class.shape[0]
    remaining = demand.astype(float)  # a copy
    capacity = offer.capacity.astype(float)
    groups, uses = offer.members(), offer.uses()  # (bool, and units of supply per unit of chip)
    n_groups = groups.shape[0]
    bought_t = np.zeros((ecosystem_of_maker.shape[0], n))  # H100e, makers x developers
    chips_sold = np.zeros(offer.base.shape[0])
    chip_is_maker, of_ecosystem = _catalogue_masks(cat, n_eco)
    pairing = offer.pairing
    compute_per_usd = offer.perf / cost
    orders = chips_sold
    weights = chip_weights(offer.base) if offer.weights is None else offer.weights  # the same every round
    pull_t = np.asarray(pull, dtype=float).T
    eco_class, share_cols = _class_columns(access_class, n_eco, n_class)
    exp_kept = _exp_kept(pull, access_class)
    all_served = 1e-12 * max(float(demand.sum()), 1.0)
    rounds = 0
    for rounds in range(1, max_rounds + 1):
        exhausted = capacity <= 0
        if _any(exhausted):
            allowed = allowed_by_class & ~_any(groups & exhausted[:, None], axis=0)[None, :]
        else:
            allowed = allowed_by_class
        A, within = within_ecosystem_weights(offer.base, allowed, ecosystem_of_chip, n_eco, weights,
                                             of_ecosystem)
        wanted_t = ecosystem_shares_t(pull_t, A, access_class, exp_kept)  # (E x n) shares of the budget ...
        wanted_t *= remaining  # ... and USD
        # budget per class and ecosystem, then per chip (USD), then per supply group (units)
        class_eco = np.bincount(eco_class, weights=wanted_t.ravel(), minlength=n_eco * n_class)
        class_eco = class_eco.reshape(n_class, n_eco)  # (C x E)
        chip_spend = _sum(class_eco[:, ecosystem_of_chip] * within, axis=0)  # (J,)
        chip_units = chip_spend / cost
        if rounds == 1:
            orders = chip_units if pairing is None else _with_paired(chip_units, pairing)
        group_units = _sum(uses * chip_units, axis=1)  # (K,) masked row sums, no BLAS
        short = group_units > capacity
        any_short = bool(_any(short))
        if any_short:
            group_fill = np.ones(n_groups)
            np.divide(capacity, group_units, out=group_fill, where=short)
            fill = np.where(groups, group_fill[:, None], 1.0).min(axis=0)
            filled = within * fill  # (C x J)
            sold = chip_units * fill
        else:  # every fill is 1 (x 1.0 is x)
            filled, sold = within, chip_units
        # per class: share of an ecosystem's budget each maker fills, and H100e per such dollar
        per_class = np.concatenate((filled, filled * compute_per_usd))  # (2C x J)
        shares = _sum(chip_is_maker[:, None, :] * per_class[None, :, :], axis=2)  # (M x 2C), no BLAS
        if pairing is None:
            remaining -= buy_from_makers(bought_t, wanted_t, ecosystem_of_maker, shares, share_cols)
            chips_sold = chips_sold + sold
        else:  # (M x 2C) as ``shares``, with no spend and the H100e of the chips the quota covers only
            covered = filled * (compute_per_usd * (pairing.units > 0))  # (C x J)
            covered_h100e = _sum(chip_is_maker[:, None, :] * covered[None, :, :], axis=2)  # (M x C)
            covered_shares = np.concatenate((np.zeros_like(covered_h100e), covered_h100e), axis=1)
            remaining -= _buy_paired(bought_t, (wanted_t, ecosystem_of_maker, shares, share_cols),
                                     covered_shares, pairing, cat)
            chips_sold = chips_sold + _with_paired(sold, pairing)
        capacity -= _sum(uses * sold, axis=1)
        if any_short:
            # a short group whose own ratio was the binding one for all its chips is exhausted and
            # leaves the next round (a chip held lower by another group leaves this one some supply)
            held = groups & (fill[None, :] < group_fill[:, None]) & (chip_units[None, :] > 0)
            held_lower = _any(held, axis=1)
            capacity[short & ~held_lower] = 0.0
        np.maximum(capacity, 0.0, out=capacity)
        np.maximum(remaining, 0.0, out=remaining)
        # stop when nothing is left to serve, or when no maker ran short this round (then the
        # unserved rest has no legal supply at all and another round would change nothing)
        if not any_short or _sum(remaining) <= all_served:
            break
    return Clearing(bought_t.T, chips_sold, demand - remaining, remaining, rounds, orders, capacity)


def _with_paired(units: np.ndarray, pairing: Pairing) -> np.ndarray:
    """(J,) ``units`` of each chip plus, on the paired domestic chip, the units bundled with the US ones."""
    out = units.copy()
    out[pairing.chip] += _sum(units * pairing.units)
    return out


def _buy_paired(bought_t: np.ndarray, round_args: tuple, covered_shares: np.ndarray, pairing: Pairing,
                cat: CatalogueArrays) -> np.ndarray:
    """``buy_from_makers`` under a pairing quota: each developer also gets ``ratio`` H100e of the paired
    domestic chip's maker per H100e it bought this round of the US chips the quota covers
    (``covered_shares``: ``shares`` with no spend and only those chips' H100e; they are paid for in the US
    chips' cost, so the USD served is unchanged). Returns the USD served per developer."""
    wanted_t, ecosystem_of_maker, _, share_cols = round_args
    got_t = np.zeros_like(bought_t)
    served = buy_from_makers(got_t, *round_args)
    covered_t = np.zeros_like(bought_t)
    buy_from_makers(covered_t, wanted_t, ecosystem_of_maker, covered_shares, share_cols)
    us_makers = np.zeros(bought_t.shape[0], dtype=bool)
    us_makers[cat.maker_of_chip[cat.is_us]] = True
    got_t[cat.maker_of_chip[pairing.chip]] += pairing.ratio * _sum(covered_t[us_makers], axis=0)
    bought_t += got_t
    return served


@lru_cache(maxsize=16)
def _masks(maker_of_chip: bytes, ecosystem_of_chip: bytes, n_makers: int, n_eco: int
           ) -> tuple[np.ndarray, np.ndarray]:
    maker = np.frombuffer(maker_of_chip, dtype=np.intp)
    eco = np.frombuffer(ecosystem_of_chip, dtype=np.intp)
    chip_is_maker = (maker[None, :] == np.arange(n_makers)[:, None]).astype(float)
    of_ecosystem = eco[None, :] == np.arange(n_eco)[:, None]
    chip_is_maker.setflags(write=False)
    of_ecosystem.setflags(write=False)
    return chip_is_maker, of_ecosystem


def _catalogue_masks(cat: CatalogueArrays, n_eco: int) -> tuple[np.ndarray, np.ndarray]:
    """(M x J) float: chip j is maker m's; (E x J) bool: chip j is of ecosystem e (kept per catalogue: by
    identity while the model's catalogue is the same object, else by content)."""
    kept = _LAST_MASKS[0]
    if kept[0] is cat and kept[1] == n_eco:
        return kept[2]
    masks = _masks(cat.maker_of_chip.astype(np.intp).tobytes(),
                   cat.ecosystem_of_chip.astype(np.intp).tobytes(), cat.ecosystem_of_maker.shape[0], n_eco)
    _LAST_MASKS[0] = (cat, n_eco, masks)
    return masks


_LAST_MASKS: list[tuple] = [(None, None, None)]  # (catalogue, E, _catalogue_masks) of the last call


def _class_columns(access_class: np.ndarray, n_eco: int, n_class: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``clear_market``: each (ecosystem, developer) cell's bin class * E + e in one bincount over the
    (E x n) flattened budgets (each (class, ecosystem) summed in developer order), and each developer's
    (spend, compute) share columns in the (M x 2C) table (class c and C + c). Kept while ``access_class``
    is the same read-only array (a quarter's clearings share it)."""
    kept = _LAST_CLASSES[0]
    if kept[0] is access_class and kept[1] == (n_eco, n_class):
        return kept[2]
    eco_class = (access_class[None, :] * n_eco + np.arange(n_eco)[:, None]).ravel()
    share_cols = np.concatenate((access_class, access_class + n_class))
    if not access_class.flags.writeable:
        _LAST_CLASSES[0] = (access_class, (n_eco, n_class), (eco_class, share_cols))
    return eco_class, share_cols


def _exp_kept(pull: np.ndarray, access_class: np.ndarray) -> dict | None:
    """A dict for ``ecosystem_shares_t`` to keep ``exp_pull`` in, per set of ecosystems each class may buy
    from: shared by the clearings of one read-only ``pull`` and ``access_class`` (a quarter's), else new.
    None for a large population (``SMALL``: the shares are then computed in place of the exponentials, as
    keeping them would take a fresh (E x n) array a round)."""
    if pull.size > SMALL:
        return None
    kept = _EXP_KEPT[0]
    if kept[0] is pull and kept[1] is access_class:
        return kept[2]
    exps: dict = {}
    if not (pull.flags.writeable or access_class.flags.writeable):
        _EXP_KEPT[0] = (pull, access_class, exps)
    return exps


_EXP_KEPT: list[tuple] = [(None, None, None)]  # (pull, access classes, {pattern: exp_pull}) of the last call
_LAST_CLASSES: list[tuple] = [(None, None, None)]  # (access classes, (E, C), _class_columns) of the last call


#: Populations with at most this many (makers x developers) cells are served all makers at once; larger
#: ones maker by maker (the (makers x n) temporaries would cost more memory traffic than the calls saved).
SMALL = 1 << 16


def buy_from_makers(bought_t: np.ndarray, wanted_t: np.ndarray, ecosystem_of_maker: np.ndarray,
                    shares: np.ndarray, share_cols: np.ndarray) -> np.ndarray:
    """Add one round's purchases to ``bought_t`` (makers x n, H100e) and return the USD served per
    developer: maker m fills ``shares[m, c]`` of the budget ``wanted_t`` (E x n) for its ecosystem,
    at ``shares[m, C + c]`` H100e per such dollar (c is each developer's class; ``share_cols`` is the
    class of each developer followed by C + it). The USD served adds the makers in order both ways (a
    sum over rows is sequential: the same bits)."""
    n = bought_t.shape[1]
    if 1 < n and bought_t.size <= SMALL:  # (one developer: the sum would be pairwise)
        wanted_m = wanted_t[ecosystem_of_maker]  # (M x n)
        per_dev = shares[:, share_cols]  # (M x 2n): spend share, then compute share, per developer
        bought_t += wanted_m * per_dev[:, n:]
        return _sum(wanted_m * per_dev[:, :n], axis=0)
    served = np.zeros(n)
    spend_cols, compute_cols = share_cols[:n], share_cols[n:]
    for m, e in enumerate(ecosystem_of_maker):
        wanted_m = wanted_t[e]
        bought_t[m] += wanted_m * shares[m][compute_cols]
        served += wanted_m * shares[m][spend_cols]
    return served


_NEVER = np.iinfo(np.int64).min  # a release quarter before any other


def on_sale(quarter: int, cat: CatalogueArrays, release: np.ndarray, released: np.ndarray,
            stock_left: np.ndarray, to_licensed: np.ndarray) -> np.ndarray:
    """Chips offered in China at ``quarter``: released (``released``; ``release`` is each chip's
    effective release quarter), still made (or in stock), and not retired. A chip retires SALE_QUARTERS
    after its release, except a maker's newest released chip, a China part while it complies, and a US
    maker's newest chip that the rules in force let it sell to licensed Chinese customers (the maker
    keeps making its best China-licensable part: ASSUMPTION, SOURCES §A1/§C1 pattern of A800/H800/H20).
    """
    made = released & ((quarter < cat.end_of_production) | (stock_left > 0))
    # the makers' steps and the offer ask several times a quarter: the answer is kept per what it reads
    # (the catalogue by identity: its arrays are never written to)
    key = (quarter, release.tobytes(), made.tobytes(), to_licensed.tobytes())
    kept = _ON_SALE.get(key)
    if kept is not None and kept[0] is cat:
        return kept[1]
    maker_of_chip, is_us, china_part = cat.maker_of_chip, cat.is_us, cat.china_part
    newest = np.full(len(cat.maker_names), _NEVER)
    np.maximum.at(newest, maker_of_chip[made], release[made])
    is_newest = release == newest[maker_of_chip]
    licensable = made & is_us & to_licensed & ~china_part
    newest_lic = np.full(newest.shape, _NEVER)
    np.maximum.at(newest_lic, maker_of_chip[licensable], release[licensable])
    is_newest_lic = licensable & (release == newest_lic[maker_of_chip])
    young = quarter < release + SALE_QUARTERS
    complying_part = china_part & (quarter < cat.compliant_until)
    sale = made & (young | is_newest | complying_part | is_newest_lic)
    if len(_ON_SALE) >= 64:
        _ON_SALE.clear()
    if len(_SALE_SETS) >= 256:
        _SALE_SETS.clear()
    # the same set of chips as an earlier answer is that answer (what the offer derives from it is kept by
    # identity from one quarter to the next)
    sale = _SALE_SETS.setdefault(sale.tobytes(), sale)
    sale.setflags(write=False)
    _ON_SALE[key] = (cat, sale)
    return sale


_ON_SALE: dict[tuple, tuple] = {}  # what on_sale reads -> (catalogue, its answer, read-only), this process
_SALE_SETS: dict[bytes, np.ndarray] = {}  # on_sale's answers by contents


@lru_cache(maxsize=8)
def one_chip_rows(n_chips: int) -> np.ndarray:
    """(J x J) bool, read-only: row j holds chip j alone (a supply group of one product)."""
    rows = np.eye(n_chips, dtype=bool)
    rows.setflags(write=False)
    return rows


def best_domestic_perf(perf: np.ndarray, sale: np.ndarray, is_us: np.ndarray) -> float:
    """Effective performance of the best domestic chip on sale (``sale``; 0: none): what a US maker's design
    rule must beat and what Beijing's match test compares US products with."""
    ok = sale & ~is_us
    return float(perf[ok].max()) if ok.any() else 0.0


def legal_chips_by_class(sale: np.ndarray, is_us: np.ndarray, to_anyone: np.ndarray,
                         to_licensed: np.ndarray) -> np.ndarray:
    """(3 x chips): what access classes 0 (no US), 1 (US to anyone), 2 (+licensed) may buy (read-only; kept
    while the arguments are the same read-only arrays)."""
    args = (sale, is_us, to_anyone, to_licensed)
    kept = _LEGAL[0]
    if all(a is b for a, b in zip(args, kept[0], strict=True)):
        return kept[1]
    allowed = _legal_chips_by_class(*args)
    allowed.setflags(write=False)
    if not any(a.flags.writeable for a in args):
        _LEGAL[0] = (args, allowed)
    return allowed


_LEGAL: list[tuple] = [((None,) * 4, None)]  # (arguments, legal_chips_by_class) of the last call


def _legal_chips_by_class(sale: np.ndarray, is_us: np.ndarray, to_anyone: np.ndarray,
                          to_licensed: np.ndarray) -> np.ndarray:
    domestic = sale & ~is_us
    allowed = np.zeros((3, sale.shape[0]), dtype=bool)
    allowed[0] = domestic
    allowed[1] = domestic | (sale & is_us & to_anyone)
    allowed[2] = allowed[1] | (sale & is_us & to_licensed)
    return allowed
