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
tie-break; the Arthur (1989) docking in ``model.validation`` uses that limit of the same function.
"""

from __future__ import annotations

import numpy as np


def chip_base_utility(
    perf: np.ndarray,
    cost: np.ndarray,
    maturity_of_chip: np.ndarray,
    risk_of_chip: np.ndarray,
    price_weight: float,
    ecosystem_weight: float,
    policy_risk_weight: float,
) -> np.ndarray:
    """Utility every developer gets from each chip: price_weight*log(perf/cost[$k]) + ..."""
    return (
        price_weight * np.log(perf / (cost / 1000.0))
        + ecosystem_weight * maturity_of_chip
        - policy_risk_weight * risk_of_chip
    )


def ecosystem_pull(
    own_share: np.ndarray,
    peer_share: np.ndarray,
    taste: np.ndarray,
    pressure: np.ndarray,
    lockin_weight: float,
    peer_weight: float,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """V_ie = lockin_weight*own_share + peer_weight*peer_share + taste - pressure  (n x E)."""
    out = np.multiply(own_share, lockin_weight, out=out)
    out += peer_weight * peer_share
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
    """
    if temperature == 0:
        avail = availability > 0
        score = np.where(avail, pull, -np.inf)
        if tie_order is not None:
            score = score[:, tie_order]
        best = np.argmax(score, axis=1)
        if tie_order is not None:
            best = np.asarray(tie_order)[best]
        out = np.zeros_like(pull, dtype=float)
        rows = np.flatnonzero(avail.any(axis=1))
        out[rows, best[rows]] = 1.0
        return out
    z = pull / temperature if temperature != 1.0 else pull.copy()
    z -= np.max(np.where(availability > 0, z, -np.inf), axis=1, keepdims=True, initial=-np.inf)
    np.nan_to_num(z, copy=False, nan=0.0, neginf=0.0, posinf=0.0)
    np.exp(z, out=z)
    z *= availability
    total = z.sum(axis=1, keepdims=True)
    np.divide(z, total, out=z, where=total > 0)
    return z


def within_ecosystem_weights(
    base: np.ndarray,
    allowed_by_class: np.ndarray,
    ecosystem_of_chip: np.ndarray,
    n_ecosystems: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each access class c: A_ce = sum_{j in e, allowed} exp(base_j), and P(j | c, e).

    ``allowed_by_class`` is (classes x chips) boolean. Returns (A: classes x E, within: classes x J).
    Utilities are shifted by their maximum before exponentiating; the shift cancels in every share.
    """
    shift = base.max() if base.size else 0.0
    w = np.exp(base - shift)[None, :] * allowed_by_class
    A = np.zeros((allowed_by_class.shape[0], n_ecosystems))
    for e in range(n_ecosystems):
        A[:, e] = w[:, ecosystem_of_chip == e].sum(axis=1)
    denom = A[:, ecosystem_of_chip]
    within = np.divide(w, denom, out=np.zeros_like(w), where=denom > 0)
    return A, within
