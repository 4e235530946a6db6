"""Analytic checks of the developers' logit (model/core/choice.py): shares against closed forms, their
limits, and the factorisation by ecosystem against a flat logit over the chips."""

from __future__ import annotations

import math

import numpy as np
import pytest

from model.core.choice import ChoiceWeights, chip_base_utility, logit_shares, within_ecosystem_weights


def shares(pull, availability, temperature=1.0, tie_order=None) -> np.ndarray:
    """The one call of ``logit_shares`` in this module (n x E pull and availability, as lists)."""
    return logit_shares(np.asfortranarray(np.array(pull, dtype=float)),
                        np.asfortranarray(np.array(availability, dtype=float)), temperature, tie_order)


def test_two_options_follow_the_binary_logit():
    for u1, u2 in [(0.0, 0.0), (1.0, 0.0), (0.3, -2.2), (-5.0, 4.0), (10.0, 9.5)]:
        got = shares([[u1, u2]], [[1.0, 1.0]])[0]
        assert got[0] == pytest.approx(1.0 / (1.0 + math.exp(-(u1 - u2))), rel=1e-14)
        assert got[1] == pytest.approx(1.0 / (1.0 + math.exp(u1 - u2)), rel=1e-14)


def test_availability_weights_each_option_like_that_many_equal_chips():
    # A_e is the sum of exp(base) over e's chips: A = 3 acts like three copies of the option
    got = shares([[0.7, 0.0]], [[3.0, 1.0]])[0]
    want = 3 * math.exp(0.7) / (3 * math.exp(0.7) + 1.0)
    assert got == pytest.approx([want, 1 - want], rel=1e-14)


def test_shares_sum_to_one_and_unavailable_options_get_none():
    rng = np.random.default_rng(5)
    pull = rng.normal(0, 3, (200, 3))
    avail = rng.uniform(0, 2, (200, 3)) * (rng.random((200, 3)) < 0.7)
    got = shares(pull, avail)
    some = avail.sum(axis=1) > 0
    assert np.allclose(got[some].sum(axis=1), 1.0, rtol=0, atol=1e-15)
    assert (got[avail == 0] == 0).all() and (got >= 0).all()
    assert (got[~some] == 0).all()  # a developer with nothing available buys nothing


def test_limits_of_the_utility_gap():
    assert shares([[0.0, 0.0, 0.0]], [[1.0, 1.0, 1.0]])[0].tolist() == [1 / 3, 1 / 3, 1 / 3]
    got = shares([[800.0, 0.0]], [[1.0, 1.0]])[0]  # no overflow: utilities are shifted by the maximum
    assert got.tolist() == [1.0, 0.0]
    got = shares([[-800.0, 0.0]], [[1e6, 1.0]])[0]
    assert got.tolist() == [0.0, 1.0]


def test_temperature_scales_the_utilities():
    u = [[1.2, -0.4, 0.3]]
    assert shares(u, [[1.0] * 3], temperature=2.0) == pytest.approx(shares([[0.6, -0.2, 0.15]], [[1.0] * 3]),
                                                                  rel=1e-14)
    # a large temperature: shares tend to the availabilities' proportions
    assert shares(u, [[1.0, 2.0, 1.0]], temperature=1e9)[0] == pytest.approx([0.25, 0.5, 0.25], rel=1e-8)
    # temperature -> 0: the best response, and temperature 0 is exactly that
    assert shares(u, [[1.0] * 3], temperature=1e-3)[0] == pytest.approx([1.0, 0.0, 0.0], abs=1e-300)
    assert shares(u, [[1.0] * 3], temperature=0)[0].tolist() == [1.0, 0.0, 0.0]


def test_best_response_skips_unavailable_options_and_breaks_ties_by_the_given_order():
    got = shares([[5.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 2.0, 3.0]],
                 [[0.0, 1.0, 1.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]], temperature=0, tie_order=[2, 1, 0])
    assert got.tolist() == [[0.0, 0.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]]


def test_the_factorisation_by_ecosystem_equals_a_flat_logit_over_the_chips():
    """P(j) = P(e) P(j | e) with A_ce = sum of exp(base_j) over e's allowed chips is the flat logit of
    U_ij = base_j + V_ie over every allowed chip."""
    rng = np.random.default_rng(11)
    n, J, E = 50, 7, 3
    eco = np.array([0, 0, 0, 1, 1, 2, 2])
    base = rng.normal(0, 1.5, J)
    allowed = np.array([[True] * J, [True, False, True, True, False, True, False], [False] * 3 + [True] * 4])
    cls = rng.integers(0, 3, n)
    pull = rng.normal(0, 2, (n, E))
    A, within = within_ecosystem_weights(base, allowed, eco, E)
    factored = shares(pull, A[cls])[:, eco] * within[cls]
    u = base[None, :] + pull[:, eco]
    w = np.where(allowed[cls], np.exp(u - u.max(axis=1, keepdims=True)), 0.0)
    flat = w / w.sum(axis=1, keepdims=True)
    assert factored == pytest.approx(flat, rel=1e-12, abs=1e-300)
    assert within.sum(axis=1) == pytest.approx([E, 3, 2])  # one per ecosystem with an allowed chip
    assert (within[~allowed] == 0).all()


def test_chip_base_utility_is_the_documented_sum():
    perf, cost = np.array([1.0, 2.0]), np.array([25_000.0, 10_000.0])
    got = chip_base_utility(perf, cost, np.array([1.0, 0.5]), np.array([0.0, 0.2]),
                            ChoiceWeights(price=1.5, ecosystem=3.0, policy_risk=2.0, lockin=0.0, peer=0.0))
    want = [1.5 * math.log(1 / 25) + 3.0, 1.5 * math.log(2 / 10) + 1.5 - 0.4]
    assert got == pytest.approx(want, rel=1e-14)
