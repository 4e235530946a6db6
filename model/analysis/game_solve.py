"""Solving a two-player game given as payoff matrices: the follower's best responses, the Stackelberg
outcome, and the pure and mixed Nash equilibria (with nashpy, each one verified).

The row player (``A``, m x n) is the leader, Washington; the column player (``B``, m x n) the follower,
Beijing. Payoffs are compared with a tolerance: two payoffs within ``tol`` (default :data:`REL_TOL`
times the largest absolute payoff, at least :data:`ABS_TOL`) are a tie. Runs of the model that do not
differ (a Beijing stance that does not act under a US ban, with common random numbers) give exact ties.

- **Best response** of the follower to row i: the columns whose payoff is within ``tol`` of row i's
  best. With several, the one best for the leader is taken (the *strong* Stackelberg convention, ties
  in the leader's favour); the whole set is kept (``BestResponse.ties``) and the leader's payoff if
  ties went against it (``worst_for_leader``).
- **Stackelberg**: the leader's row that is best for it given the follower's best response to each row.
- **Nash equilibria** of the simultaneous game (payoffs rounded to ``REL_TOL`` of their scale first,
  :func:`rounded`, so ties within round-off are exact for nashpy): ``nashpy.Game(A, B).support_enumeration(
  non_degenerate=False)`` (every pair of supports, so degenerate games with ties are covered; a continuum
  of equilibria shows as its extreme points found), duplicates merged. Each is verified twice: nashpy's
  own check (``Game.is_best_response``, exact equality of payoffs) and a direct one with ``tol`` (no
  pure strategy gains either player more than ``tol``). Pure equilibria are also found by brute force
  over every cell (:func:`pure_nash`), which must agree with nashpy's pure ones.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

REL_TOL = 1e-9
ABS_TOL = 1e-12


def tolerance(*matrices: np.ndarray) -> float:
    scale = max(float(np.max(np.abs(m))) for m in matrices) if matrices else 0.0
    return max(ABS_TOL, REL_TOL * scale)


@dataclass(frozen=True)
class BestResponse:
    row: int
    column: int  # the one played (ties: the best for the leader)
    ties: tuple[int, ...]  # every best response
    leader_payoff: float
    follower_payoff: float
    worst_for_leader: float  # the leader's payoff if ties went against it


def best_responses(A: np.ndarray, B: np.ndarray, tol: float | None = None) -> list[BestResponse]:
    """The follower's best response to each of the leader's rows."""
    A, B = _matrices(A, B)
    tol = tolerance(A, B) if tol is None else tol
    out = []
    for i in range(A.shape[0]):
        ties = np.flatnonzero(B[i] >= B[i].max() - tol)
        j = int(ties[np.argmax(A[i, ties])])
        out.append(BestResponse(i, j, tuple(int(t) for t in ties), float(A[i, j]), float(B[i, j]),
                                float(A[i, ties].min())))
    return out


def stackelberg(A: np.ndarray, B: np.ndarray, tol: float | None = None) -> BestResponse:
    """The leader's best row anticipating the follower's best response (ties between rows: the first)."""
    A, B = _matrices(A, B)
    tol = tolerance(A, B) if tol is None else tol
    responses = best_responses(A, B, tol)
    values = np.array([r.leader_payoff for r in responses])
    return responses[int(np.flatnonzero(values >= values.max() - tol)[0])]


def pure_nash(A: np.ndarray, B: np.ndarray, tol: float | None = None) -> list[tuple[int, int]]:
    """Every cell (i, j) where neither player gains more than ``tol`` by moving alone (brute force)."""
    A, B = _matrices(A, B)
    tol = tolerance(A, B) if tol is None else tol
    return [(i, j) for i in range(A.shape[0]) for j in range(A.shape[1])
            if A[i, j] >= A[:, j].max() - tol and B[i, j] >= B[i, :].max() - tol]


@dataclass(frozen=True)
class Equilibrium:
    leader: np.ndarray  # mixed strategy over rows
    follower: np.ndarray  # mixed strategy over columns
    leader_payoff: float
    follower_payoff: float
    verified_nashpy: bool  # nashpy's Game.is_best_response, both ways (exact equality)
    verified: bool  # direct: no pure strategy gains either player more than tol
    max_gain: float  # the largest gain a player has from a pure deviation

    @property
    def pure(self) -> bool:
        return int(np.count_nonzero(self.leader > 0)) == 1 and int(np.count_nonzero(self.follower > 0)) == 1


def nash_equilibria(A: np.ndarray, B: np.ndarray, tol: float | None = None) -> list[Equilibrium]:
    """The Nash equilibria nashpy's support enumeration finds (every pair of supports), merged when
    equal within 1e-9, each verified."""
    import nashpy

    A, B = _matrices(A, B)
    tol = tolerance(A, B) if tol is None else tol
    game = nashpy.Game(*rounded(A, B))
    found: list[Equilibrium] = []
    with warnings.catch_warnings():  # nashpy warns that a degenerate game may have more equilibria
        warnings.simplefilter("ignore", RuntimeWarning)
        candidates = list(game.support_enumeration(non_degenerate=False, tol=tol))
    for sigma_r, sigma_c in candidates:
        sigma_r = _clean(sigma_r)
        sigma_c = _clean(sigma_c)
        if any(np.allclose(sigma_r, e.leader, atol=1e-9) and np.allclose(sigma_c, e.follower, atol=1e-9)
               for e in found):
            continue
        gain = max_deviation_gain(A, B, sigma_r, sigma_c)
        ok_r, ok_c = game.is_best_response(sigma_r, sigma_c)
        found.append(Equilibrium(sigma_r, sigma_c, float(sigma_r @ A @ sigma_c), float(sigma_r @ B @ sigma_c),
                                 bool(ok_r and ok_c), gain <= tol, gain))
    return found


def rounded(A: np.ndarray, B: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both matrices rounded to ``REL_TOL`` of their scale: payoffs that differ by floating-point
    round-off only (the same runs, summed in another order) become exact ties, which nashpy's exact
    comparisons need."""
    scale = max(float(np.max(np.abs(A))), float(np.max(np.abs(B))), ABS_TOL)
    step = REL_TOL * scale
    return np.round(A / step) * step, np.round(B / step) * step


def max_deviation_gain(A: np.ndarray, B: np.ndarray, sigma_r: np.ndarray, sigma_c: np.ndarray) -> float:
    """The most either player gains by a pure deviation from (sigma_r, sigma_c): 0 at an equilibrium."""
    gain_r = float((A @ sigma_c).max() - sigma_r @ A @ sigma_c)
    gain_c = float((sigma_r @ B).max() - sigma_r @ B @ sigma_c)
    return max(gain_r, gain_c, 0.0)


def _clean(sigma: np.ndarray) -> np.ndarray:
    """A mixed strategy with round-off below 1e-12 set to 0 and renormalised."""
    s = np.where(np.abs(np.asarray(sigma, dtype=float)) < 1e-12, 0.0, np.asarray(sigma, dtype=float))
    return s / s.sum()


def _matrices(A, B) -> tuple[np.ndarray, np.ndarray]:
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if A.shape != B.shape or A.ndim != 2 or min(A.shape) < 1:
        raise ValueError(f"payoff matrices of shapes {A.shape} and {B.shape}; allowed: two m x n matrices")
    return A, B
