"""The developers' choice: a multinomial logit over chips, computed per software ecosystem.

A developer i values chip j (of ecosystem e) at

    U_ij = base_j + V_ie + eps_ij,     eps ~ Gumbel (i.i.d.)

where ``base_j`` is the same for every developer (performance per dollar, ecosystem maturity,
policy risk; see ``chip_base_utility``) and ``V_ie`` is the developer's own pull towards the
ecosystem (own lock-in, peers' adoption, persistent taste, government pressure; see
``ecosystem_pull``). Because ``V_ie`` is constant across an ecosystem's chips, the logit
factorises exactly:

    P(i buys e)        = exp(V_ie) A_ce / sum_e' exp(V_ie') A_ce'
    P(j | i buys e)    = exp(base_j) / A_ce,    A_ce = sum over chips of e that class c may buy

with c the developer's access class (which chips it may legally buy). The population-wide
computation is therefore an (n x ecosystems) array operation, never (n x chips): that is what
keeps a quarter at 100,000 developers in milliseconds.

With ``temperature -> 0`` the logit becomes a best response (argmax) with a deterministic
tie-break; the Arthur (1989) docking in ``model.validation.docking`` uses that limit of the same function.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core import fixedmath as fm


@dataclass(frozen=True)
class ChoiceWeights:
    """The weights of the developers' utility (ODD §7.3): price-performance, ecosystem maturity, policy
    risk (common to all developers), own lock-in and peers (per developer)."""

    price: float
    ecosystem: float
    policy_risk: float
    lockin: float
    peer: float

    @classmethod
    def of(cls, p) -> ChoiceWeights:
        """The weights among a model's parameters ``p`` (kept for the last parameters asked for)."""
        kept = _WEIGHTS[0]
        if kept[0] is not p or kept[1] is not cls:
            kept = _WEIGHTS[0] = (p, cls, cls(p.price_weight, p.ecosystem_weight, p.policy_risk_weight,
                                              p.lockin_weight, p.peer_weight))
        return kept[2]


_WEIGHTS: list[tuple] = [(None, None, None)]  # (parameters, class, ChoiceWeights.of them)


def chip_base_utility(perf: np.ndarray, cost: np.ndarray, maturity_of_chip: np.ndarray,
                      risk_of_chip: np.ndarray, w: ChoiceWeights) -> np.ndarray:
    """Utility every developer gets from each chip: price*log(perf/cost[$k]) + ecosystem*maturity
    - policy_risk*risk."""
    return (
        w.price * _log_kept(perf / (cost / 1000.0))
        + w.ecosystem * maturity_of_chip
        - w.policy_risk * risk_of_chip
    )


_LOGS: dict[float, float] = {}  # value -> fm.log of it


def _log_kept(x) -> np.ndarray:
    """``fm.log(x)``, each value's log kept (a chip's performance per $k often stays the same from one
    quarter to the next: the log of 30 numbers is ~25 numpy calls; a few new values take ``fm.log``'s scalar
    path, the same bits as the array path, tests/test_fixedmath.py)."""
    if not (isinstance(x, np.ndarray) and x.ndim == 1 and x.dtype == np.float64):
        return fm.log(x)
    values = x.tolist()
    logs = [_LOGS.get(v) for v in values]
    new = [v for v, log in zip(values, logs, strict=True) if log is None]
    if new:
        # many new values: one array call
        fresh = dict(zip(new, fm.log(np.array(new)).tolist() if len(new) > 8 else map(fm.log, new),
                         strict=True))
        if len(_LOGS) >= 4096:
            _LOGS.clear()
        _LOGS.update(fresh)
        logs = [fresh[v] if log is None else log for v, log in zip(values, logs, strict=True)]
    return np.array(logs)


def ecosystem_pull(own_share: np.ndarray, peer_share: np.ndarray, taste: np.ndarray, pressure: np.ndarray,
                   w: ChoiceWeights, out: np.ndarray | None = None) -> np.ndarray:
    """V_ie = lockin*own_share + peer*peer_share + taste - pressure  (n x E)."""
    if out is None:
        out = np.empty(np.shape(own_share), order="F")
    np.multiply(own_share, w.lockin, out=out)
    out += w.peer * peer_share
    out += taste
    out -= pressure
    return out


def logit_shares(
    pull: np.ndarray,
    availability: np.ndarray,
    temperature: float = 1.0,
    tie_order: np.ndarray | None = None,
) -> np.ndarray:
    """Choice probabilities over ecosystems, rows summing to 1 (0 where nothing is available).

    ``pull`` is (n x E); ``availability`` (n x E) holds A_ce for each developer's class (0 = none
    of that ecosystem is available). With ``temperature == 0`` the result is one-hot on the best
    available ecosystem; exact ties go to the earliest entry in ``tie_order`` (default: column order).

    The work is done on the transposed (E x n) views, one contiguous row per ecosystem, so the
    reductions over the few ecosystems are element-wise operations between rows; pass
    Fortran-ordered (n x E) arrays (as the model does) and no copy is made. The result is an
    (n x E) Fortran-ordered array.
    """
    zt = np.asarray(pull, dtype=float).T
    avt = np.asarray(availability, dtype=float).T
    if temperature == 0:
        return _best_response(zt, avt, tie_order).T
    z = zt / temperature if temperature != 1.0 else zt
    exp_z = exp_pull(z, avt > 0)
    return normalised_shares(exp_z, avt, out=exp_z).T


def exp_pull(zt: np.ndarray, available_t: np.ndarray) -> np.ndarray:
    """(E x n) exp(V_ie - max over i's available ecosystems), 0 where unavailable: the part of
    ``logit_shares`` that depends only on the pull and on *which* ecosystems each developer can buy
    from (a market-clearing round that leaves that set unchanged reuses it)."""
    z = np.where(available_t, zt, -np.inf)
    top = np.maximum.reduce(z, axis=0)  # z.max(axis=0) without its Python wrapper
    top[~np.isfinite(top)] = 0.0  # rows with nothing available
    z -= top
    return fm.exp(z, out=z)  # exp(-inf) = 0 where unavailable; fixed arithmetic, same bits on any CPU


def normalised_shares(exp_z: np.ndarray, avt: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(E x n) exp(V_ie) A_ce / sum_e' exp(V_ie') A_ce' from ``exp_pull``, in ``out`` (may be ``exp_z``;
    default a new array)."""
    z = np.multiply(exp_z, avt, out=out)
    total = np.add.reduce(z, axis=0)  # z.sum(axis=0) without its Python wrapper
    np.divide(z, total, out=z, where=total > 0)
    return z


def ecosystem_shares_t(pull_t: np.ndarray, A: np.ndarray, access_class: np.ndarray,
                       kept: dict | None = None) -> np.ndarray:
    """(E x n) ``logit_shares`` (same bits) for developers of access classes ``access_class`` given A
    (classes x E); ``pull_t`` is the (E x n) pull. Where no class can buy from more than one ecosystem
    (a rationing round after the US stock ran out) no exponential is needed: a finite pull minus
    itself is 0 and exp(0) = 1, exp(-inf) = 0; nor a normalisation: 1 x A_ce / A_ce is exactly 1 (the
    shares are where each developer may buy, 0 or 1). ``kept``: a dict in which ``exp_pull`` is kept per
    set of ecosystems each class may buy from (the caller's, for one pull and one ``access_class``: a
    quarter's clearing rounds often leave that set as it was)."""
    positive = A > 0
    rows = positive.tolist()
    if max((sum(row) for row in rows), default=0) <= 1:
        return positive.T[:, access_class].astype(float)
    avt = A.T[:, access_class]
    key = positive.tobytes()
    exp_z = None if kept is None else kept.get(key)
    if exp_z is None:
        exp_z = exp_pull(pull_t, avt > 0)
        if kept is not None:
            exp_z.setflags(write=False)
            kept[key] = exp_z
    return normalised_shares(exp_z, avt, out=None if kept is not None else exp_z)


def _best_response(zt: np.ndarray, avt: np.ndarray, tie_order: np.ndarray | None) -> np.ndarray:
    """One-hot argmax over available ecosystems (E x n), exact ties to the earliest in tie_order."""
    n_eco, n = zt.shape
    order = np.arange(n_eco) if tie_order is None else np.asarray(tie_order)
    best = np.full(n, -1)
    best_val = np.full(n, -np.inf)
    for e in order:  # strict '>' keeps the earlier ecosystem on an exact tie
        better = (avt[e] > 0) & ((zt[e] > best_val) | (best < 0))
        best[better] = e
        best_val[better] = zt[e][better]
    out = np.zeros((n_eco, n))
    rows = np.flatnonzero(best >= 0)
    out[best[rows], rows] = 1.0
    return out


def chip_weights(base: np.ndarray) -> np.ndarray:
    """exp(base_j - max base): each chip's logit weight, shifted by the maximum (the shift cancels in
    every share). Computed once per clearing; ``within_ecosystem_weights`` masks it by access."""
    shift = base.max() if base.size else 0.0
    return fm.exp(base - shift)


def within_ecosystem_weights(
    base: np.ndarray,
    allowed_by_class: np.ndarray,
    ecosystem_of_chip: np.ndarray,
    n_ecosystems: int,
    weights: np.ndarray | None = None,
    of_ecosystem: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """For each access class c: A_ce = sum_{j in e, allowed} exp(base_j), and P(j | c, e).

    ``allowed_by_class`` is (classes x chips) boolean. Returns (A: classes x E, within: classes x J).
    Utilities are shifted by their maximum before exponentiating (``chip_weights``; pass its result as
    ``weights`` to reuse it); the shift cancels in every share. ``of_ecosystem`` (E x J, bool: chip j is
    of ecosystem e) may be passed when the caller keeps it.
    """
    w = (chip_weights(base) if weights is None else weights) * allowed_by_class
    # A[c, e] = sum of w[c, j] over the chips j of ecosystem e: masked row sums (no BLAS product,
    # whose kernel, and so whose rounding, depends on the CPU), all (c, e) rows in one reduction
    if of_ecosystem is None:
        of_ecosystem = ecosystem_of_chip[None, :] == np.arange(n_ecosystems)[:, None]  # (E x J)
    A = (w[:, None, :] * of_ecosystem[None, :, :]).sum(axis=2)
    # A_ce = 0 only when every w of (c, e) is 0 (a sum of non-negative numbers): dividing those by 1
    # gives the 0 they are, and every other w / A_ce is the division itself
    within = w / np.where(A > 0, A, 1.0)[:, ecosystem_of_chip]
    return A, within
