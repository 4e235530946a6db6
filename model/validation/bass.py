"""Bass (1969): diffusion with innovation p and imitation q, simulated with the model's own choice
function and compared with the discrete recursion and the continuous closed form (SOURCES §E2,
docs/VALIDATION.md §2).

INTERFACES §7::

    from model.validation import bass_adoption
    f = bass_adoption(p=0.03, q=0.38, n_agents=10_000, steps=30, seed=1)  # steps+1 cumulative shares
"""

from __future__ import annotations

import math

import numpy as np

from model.core.choice import logit_shares


def bass_adoption(p, q, n_agents, steps, seed) -> np.ndarray:
    """Agent-based Bass diffusion: cumulative adopted share at steps 0..steps (steps+1 values).

    Each step, each non-adopter adopts with probability P = p + q F (capped at 1), F the adopted
    share at the start of the step (homogeneous mixing).

    What is shared with ChipMarketModel: the adoption decision is the model's own choice function,
    ``model.core.choice.logit_shares``, applied to the whole population as one array per step: a binary
    choice (adopt / not yet) with equal pulls (0, 0) and availability weights (P, 1 - P), exactly
    the role the within-ecosystem availability sums A_ce play in the model, so that the logit
    returns P(adopt) = P / (P + 1 - P) = P; each agent then draws its adoption from that share.
    What is NOT shared: the model's pull (``ecosystem_pull``: lock-in, peers, taste, pressure) is
    not used, because the model's logit in utilities does not produce Bass's hazard, which is
    linear in F; here the Bass hazard is put into the availability weights directly. So this docks
    the population-level probabilistic choice and bookkeeping, not the model's utility weights.
    """
    p, q = float(p), float(q)
    n_agents, steps = int(n_agents), int(steps)
    if n_agents < 1 or steps < 0:
        raise ValueError("n_agents must be >= 1 and steps >= 0")
    if p < 0 or q < 0:
        raise ValueError("p and q must be >= 0")
    rng = np.random.default_rng(seed)
    adopted = np.zeros(n_agents, dtype=bool)
    out = np.zeros(steps + 1)
    for t in range(steps):
        f = adopted.mean()
        hazard = min(1.0, p + q * f)
        waiting = np.flatnonzero(~adopted)
        if waiting.size:
            pull = np.zeros((waiting.size, 2))
            avail = np.empty((waiting.size, 2))
            avail[:, 0] = hazard
            avail[:, 1] = 1.0 - hazard
            share_adopt = logit_shares(pull, avail)[:, 0]
            adopted[waiting[rng.random(waiting.size) < share_adopt]] = True
        out[t + 1] = adopted.mean()
    return out


def bass_recursion(p, q, steps) -> np.ndarray:
    """Discrete-time Bass: F_{t+1} = F_t + (p + q F_t)(1 - F_t), F_0 = 0 (steps+1 values).

    This is the exact expectation of one step of ``bass_adoption`` given F_t (the ABM's mean path
    differs from it only by O(1/N) terms from the variance of F_t)."""
    f = np.zeros(int(steps) + 1)
    for t in range(int(steps)):
        f[t + 1] = f[t] + min(1.0, p + q * f[t]) * (1.0 - f[t])
    return f


def bass_continuous(p, q, t) -> np.ndarray:
    """Continuous-time Bass closed form F(t) = (1 - e^{-(p+q)t}) / (1 + (q/p) e^{-(p+q)t})."""
    t = np.asarray(t, dtype=float)
    e = np.exp(-(p + q) * t)
    return (1.0 - e) / (1.0 + (q / p) * e)


def bass_peak_time(p, q) -> float:
    """t* = ln(q/p)/(p+q) (continuous time; no interior peak if q <= p)."""
    return math.log(q / p) / (p + q) if q > p else 0.0


def bass_peak_share(p, q) -> float:
    """F(t*) = 1/2 - p/(2q) (0 if q <= p)."""
    return 0.5 - p / (2 * q) if q > p else 0.0


def bass_peak_rate(p, q, m: float = 1.0) -> float:
    """Peak adoption rate m (p+q)^2 / (4q) (for q > p; else the rate at t = 0, m p)."""
    return m * (p + q) ** 2 / (4 * q) if q > p else m * p
