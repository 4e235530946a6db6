"""Arthur (1989): competing technologies under increasing returns, simulated with the model's own
choice function and compared with its closed form (SOURCES §E1, docs/VALIDATION.md §1).

INTERFACES §7::

    from model.validation import arthur_lockin
    r = arthur_lockin(a_r=2, b_r=1, a_s=1, b_s=2, r=0.1, s=0.1, p_r=0.5, runs=2000, max_arrivals=5000, seed=1)
    r.share_locked_a, r.share_locked_b, r.mean_lockin_time
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import numpy as np

from model.core.choice import logit_shares

#: Largest integer that float64 represents exactly together with all smaller ones (2**53).
_EXACT_FLOAT_INT = 2**53


def _exact(x: Any) -> Fraction:
    """A parameter as an exact fraction. Floats are read by their shortest decimal repr, so
    ``0.1`` is 1/10 (not the binary double 0.1000000000000000055...); strings like ``"1/3"`` work."""
    if isinstance(x, Fraction):
        return x
    if isinstance(x, bool):
        raise TypeError(f"expected a number, got {x!r}")
    if isinstance(x, (int, np.integer)):
        return Fraction(int(x))
    if isinstance(x, (float, np.floating)):
        if not math.isfinite(float(x)):
            raise ValueError(f"parameter must be finite, got {x!r}")
        return Fraction(repr(float(x)))
    if isinstance(x, str):
        return Fraction(x.strip())
    raise TypeError(f"expected a number, got {x!r}")


def arthur_integer_payoffs(a_r, b_r, a_s, b_s, r, s) -> tuple[dict[str, int], int]:
    """Scale the six payoff parameters by their common denominator D: integers, same ordering.

    Returns ({"a_r": D*a_r, ...}, D). Every payoff a + r*n (n an integer count) times D is then
    an integer, so comparing scaled payoffs compares the true payoffs exactly.
    """
    vals = {k: _exact(v) for k, v in dict(a_r=a_r, b_r=b_r, a_s=a_s, b_s=b_s, r=r, s=s).items()}
    denom = 1
    for v in vals.values():
        denom = math.lcm(denom, v.denominator)
    return {k: int(v * denom) for k, v in vals.items()}, denom


def arthur_barriers(a_r, b_r, a_s, b_s, r, s) -> tuple[int, int]:
    """Absorbing barriers (L, U) of d = n_A - n_B under increasing returns (r, s > 0).

    R-agents prefer A iff a_r + r n_A >= b_r + r n_B (ties to A), i.e. d >= Delta_R = (b_r-a_r)/r;
    S-agents prefer A iff a_s + s n_A > b_s + s n_B (ties to B), i.e. d > Delta_S = (b_s-a_s)/s.
    So L = the largest integer < Delta_R (every agent picks B there) and U = the smallest integer
    > Delta_S (every agent picks A): SOURCES §E1 with its tie rule. Exact (fractions).
    Requires L < 0 < U (the walk starts between the barriers), else ValueError.
    """
    a_r, b_r, a_s, b_s, r, s = (_exact(v) for v in (a_r, b_r, a_s, b_s, r, s))
    if r <= 0 or s <= 0:
        raise ValueError("barriers exist only under increasing returns (r > 0 and s > 0)")
    delta_r = (b_r - a_r) / r
    delta_s = (b_s - a_s) / s
    lower = math.ceil(delta_r) - 1
    upper = math.floor(delta_s) + 1
    if not lower < 0 < upper:
        raise ValueError(f"barriers L={lower}, U={upper} do not bracket d=0 (need a_r > b_r, a_s < b_s)")
    return lower, upper


def gamblers_ruin(lower: int, upper: int, p_up: float) -> tuple[float, float]:
    """Walk from 0, +1 w.p. p_up, -1 otherwise, absorbed at lower < 0 < upper.

    Returns (P(absorbed at upper), E[steps to absorption]). With k = |lower|, N = |lower| + upper,
    rho = q/p: P = (1 - rho^k)/(1 - rho^N) and E[T] = k/(q-p) - (N/(q-p)) P; for p = 1/2,
    P = k/N and E[T] = k (N - k) = |L| U.
    """
    k, n = -lower, upper - lower
    p = float(p_up)
    q = 1.0 - p
    if p <= 0.0:
        return 0.0, float(k)
    if q <= 0.0:
        return 1.0, float(upper)
    if abs(p - q) < 1e-15:
        return k / n, float(k * (n - k))
    rho = q / p
    # log-space for wide barriers: (1 - rho^k)/(1 - rho^N)
    prob = -math.expm1(k * math.log(rho)) / -math.expm1(n * math.log(rho))
    expected = k / (q - p) - (n / (q - p)) * prob
    return prob, expected


def arthur_closed_form(a_r, b_r, a_s, b_s, r, s, p_r) -> dict[str, float]:
    """Closed-form predictions of Arthur's model for the three returns regimes.

    * increasing (r, s > 0): gambler's ruin between the barriers of ``arthur_barriers``:
      P(lock-in to A) and E[lock-in time], for any p_r (symmetric or asymmetric arrivals);
    * constant (r = s = 0): no lock-in; R always picks A, S always B, so A's share -> p_r;
    * diminishing (r, s < 0): no lock-in; d = n_A - n_B stays bounded, so A's share -> 1/2.
    """
    rr, ss = _exact(r), _exact(s)
    if rr > 0 and ss > 0:
        lower, upper = arthur_barriers(a_r, b_r, a_s, b_s, r, s)
        prob, expected = gamblers_ruin(lower, upper, p_r)
        return dict(regime="increasing", lower=lower, upper=upper, p_lock_a=prob, p_lock_b=1 - prob,
                    mean_lockin_time=expected, limit_share_a=float("nan"))
    if rr == 0 and ss == 0:
        return dict(regime="constant", lower=None, upper=None, p_lock_a=0.0, p_lock_b=0.0,
                    mean_lockin_time=float("nan"), limit_share_a=float(p_r))
    if rr < 0 and ss < 0:
        return dict(regime="diminishing", lower=None, upper=None, p_lock_a=0.0, p_lock_b=0.0,
                    mean_lockin_time=float("nan"), limit_share_a=0.5)
    raise ValueError("closed forms cover r, s both > 0, both 0, or both < 0")


@dataclass
class ArthurResult:
    """Outcome of ``arthur_lockin`` over many runs (fractions of runs; times in arrivals)."""

    runs: int
    max_arrivals: int
    share_locked_a: float
    share_locked_b: float
    share_unlocked: float
    mean_lockin_time: float  # over runs that locked in (nan if none did)
    se_share_locked_a: float
    se_share_locked_b: float
    se_mean_lockin_time: float
    mean_final_share_a: float  # A's share of the max_arrivals adopters, mean over runs
    se_final_share_a: float
    locked_to: np.ndarray = field(repr=False)  # (runs,) 0 = not locked, 1 = A, 2 = B
    lockin_time: np.ndarray = field(repr=False)  # (runs,) arrival number of lock-in, -1 if none
    final_share_a: np.ndarray = field(repr=False)  # (runs,) A's share after max_arrivals
    max_abs_d: np.ndarray = field(repr=False)  # (runs,) largest |n_A - n_B| before lock-in/end
    scale: int = 1  # common denominator used to make payoffs integers


def _prefers_a(pull_a: np.ndarray, pull_b: np.ndarray, ties_to_a: bool) -> np.ndarray:
    """Best response through the model's own choice code: ``logit_shares`` at temperature 0.

    The pulls are exact integers stored as float64 (|value| < 2**53 is checked by the caller),
    so numpy's argmax compares them exactly; ``tie_order`` implements the natural-preference tie rule.
    """
    pull = np.stack([pull_a, pull_b], axis=1).astype(np.float64)
    order = np.array([0, 1]) if ties_to_a else np.array([1, 0])
    shares = logit_shares(pull, np.ones_like(pull), temperature=0, tie_order=order)
    return shares[:, 0] == 1.0


def arthur_lockin(a_r, b_r, a_s, b_s, r, s, p_r, runs, max_arrivals, seed) -> ArthurResult:
    """Arthur (1989): R/S agents arrive one at a time and adopt A or B; many runs in parallel.

    Each arrival is an R-agent with probability ``p_r`` (else S). R compares a_r + r n_A with
    b_r + r n_B, S compares a_s + s n_A with b_s + s n_B; ties go to the natural preference (A for
    R, B for S). The choice is the model's own ``logit_shares`` at temperature 0 (best response,
    ``tie_order`` for the tie rule). Exactness: all six parameters are turned into fractions
    (floats by their decimal repr, so 0.1 = 1/10) and multiplied by their common denominator D,
    so every payoff D(a + r n) is an integer; those integers are stored as float64, which is exact
    below 2**53 (checked; a ValueError otherwise), so argmax compares the true payoffs exactly.

    Lock-in is detected from the choice rule itself, not from the closed-form barriers: a state
    is absorbing for A when every type that can arrive prefers A there and that type's payoff
    difference A-B does not fall as d = n_A - n_B rises (its return r or s is >= 0); likewise for
    B. A run's lock-in time is the number of the arrival (from 1) after which its state is
    absorbing (0 if the empty state already is). Locked runs stop being simulated; their remaining
    arrivals all adopt the locked technology. All active runs advance together (numpy).
    """
    runs, max_arrivals = int(runs), int(max_arrivals)
    if runs < 1 or max_arrivals < 0:
        raise ValueError("runs must be >= 1 and max_arrivals >= 0")
    p_r = float(p_r)
    if not 0.0 <= p_r <= 1.0:
        raise ValueError(f"p_r must be in [0, 1], got {p_r}")
    k, scale = arthur_integer_payoffs(a_r, b_r, a_s, b_s, r, s)
    bound = max(abs(k["a_r"]), abs(k["b_r"]), abs(k["a_s"]), abs(k["b_s"])) + \
        max(abs(k["r"]), abs(k["s"])) * max_arrivals
    if bound >= _EXACT_FLOAT_INT:
        raise ValueError(f"scaled payoffs reach {bound}, beyond exact float64 integers (2**53); "
                         "use parameters with smaller denominators or fewer arrivals")
    rng = np.random.default_rng(seed)
    r_arrives, s_arrives = p_r > 0.0, p_r < 1.0
    no_r, no_s = not r_arrives, not s_arrives  # plain bools: 'array | no_r' is elementwise
    # a type's preference for A never weakens as d rises (A-side) / as d falls (B-side)
    monotone = (k["r"] >= 0 or not r_arrives) and (k["s"] >= 0 or not s_arrives)

    n_a = np.zeros(runs, dtype=np.int64)
    n_b = np.zeros(runs, dtype=np.int64)
    locked_to = np.zeros(runs, dtype=np.int8)
    lockin_time = np.full(runs, -1, dtype=np.int64)
    max_abs_d = np.zeros(runs, dtype=np.int64)
    active = np.arange(runs)
    for t in range(max_arrivals + 1):
        a, b = n_a[active], n_b[active]
        r_picks_a = _prefers_a(k["a_r"] + k["r"] * a, k["b_r"] + k["r"] * b, ties_to_a=True)
        s_picks_a = _prefers_a(k["a_s"] + k["s"] * a, k["b_s"] + k["s"] * b, ties_to_a=False)
        if monotone:
            all_a = (r_picks_a | no_r) & (s_picks_a | no_s)
            all_b = (~r_picks_a | no_r) & (~s_picks_a | no_s)
            done = all_a | all_b
            if done.any():
                idx = active[done]
                locked_to[idx] = np.where(all_a[done], 1, 2)
                lockin_time[idx] = t
                keep = ~done
                active, r_picks_a, s_picks_a = active[keep], r_picks_a[keep], s_picks_a[keep]
        if t == max_arrivals or active.size == 0:
            break
        is_r = rng.random(active.size) < p_r
        picks_a = np.where(is_r, r_picks_a, s_picks_a)
        n_a[active] += picks_a
        n_b[active] += ~picks_a
        max_abs_d[active] = np.maximum(max_abs_d[active], np.abs(n_a[active] - n_b[active]))

    # the arrivals after lock-in all adopt the locked technology
    rest = np.where(lockin_time >= 0, max_arrivals - lockin_time, 0)
    final_a = n_a + np.where(locked_to == 1, rest, 0)
    final_share_a = final_a / max_arrivals if max_arrivals > 0 else np.full(runs, np.nan)

    locked = lockin_time >= 0
    share_a = float(np.mean(locked_to == 1))
    share_b = float(np.mean(locked_to == 2))
    times = lockin_time[locked].astype(float)
    mean_t = float(times.mean()) if times.size else float("nan")
    se_t = float(times.std(ddof=1) / math.sqrt(times.size)) if times.size > 1 else float("nan")
    return ArthurResult(
        runs=runs, max_arrivals=max_arrivals,
        share_locked_a=share_a, share_locked_b=share_b, share_unlocked=float(np.mean(~locked)),
        mean_lockin_time=mean_t,
        se_share_locked_a=math.sqrt(share_a * (1 - share_a) / runs),
        se_share_locked_b=math.sqrt(share_b * (1 - share_b) / runs),
        se_mean_lockin_time=se_t,
        mean_final_share_a=float(np.mean(final_share_a)),
        se_final_share_a=float(np.std(final_share_a, ddof=1) / math.sqrt(runs)) if runs > 1 else float("nan"),
        locked_to=locked_to, lockin_time=lockin_time, final_share_a=final_share_a,
        max_abs_d=max_abs_d, scale=scale,
    )
