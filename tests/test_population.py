"""Invariants of the developer population (model/core/population.py) and its peer network
(model/core/network.py), as docs/ODD.md states them."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from model.core.catalogue import ECOSYSTEMS, MAKERS, catalogue_arrays
from model.core.network import edge_list, peer_network
from model.core.population import (
    SEGMENT_DEMAND_SHARE,
    SEGMENT_DEVELOPER_SHARE,
    SEGMENTS,
    InstalledBase,
    create_population,
    install,
    own_shares,
    quarterly_demand,
    segment_counts,
    stratified_pick,
)

BUDGET, INSTALLED, US_SHARE, LICENSED, APPROVED = 10e9, 2e6, 0.6, 0.4, 0.7
#: Each maker's share of its stack's installed base, for the tests: the US makers' historical split
#: (``history_share``), the domestic makers' equal shares (each stack sums to one).
_DOMESTIC = np.array([m.is_domestic for m in MAKERS])
MAKER_SHARE = np.where(_DOMESTIC, 1.0 / _DOMESTIC.sum(), [m.history_share for m in MAKERS])


def population(seed: int = 3, n: int = 2000, **kw):
    """The one call of ``create_population`` in this module (the parameters it reads, by name)."""
    args = dict(demand_2026_usd=4 * BUDGET, n_developers=n, us_licence_allocation="random",
                approved_customer_share=LICENSED,
                china_approval_share=APPROVED, taste_sd=0.5, peers_per_developer=8) | kw
    initial = InstalledBase(kw.pop("initial_installed", INSTALLED), kw.pop("initial_us_share", US_SHARE),
                            MAKER_SHARE)
    args.pop("initial_installed", None)
    args.pop("initial_us_share", None)
    if "quarterly_budget_2026" in args:
        args["demand_2026_usd"] = 4 * args.pop("quarterly_budget_2026")
    rng = np.random.default_rng(seed)
    return create_population(rng, SimpleNamespace(**args), initial, catalogue_arrays())


# --- the peer network

def network(seed: int = 0, n: int = 500, k: int = 8, weights=None):
    """The one call of ``peer_network`` in this module."""
    w = np.random.default_rng(99).lognormal(0, 1, n) if weights is None else np.asarray(weights, dtype=float)
    return peer_network(np.random.default_rng(seed), w, k)


def test_each_developer_follows_at_most_k_distinct_others_with_weights_summing_to_one():
    adj = network(n=500, k=8)
    assert adj.shape == (500, 500)
    assert adj.diagonal().sum() == 0  # no self-loops
    degree = np.diff(adj.indptr)
    assert degree.max() <= 8 and degree.min() >= 1
    for i in range(500):  # distinct peers, each with weight 1/degree
        cols = adj.indices[adj.indptr[i]:adj.indptr[i + 1]]
        assert len(set(cols.tolist())) == len(cols)
        assert np.allclose(adj.data[adj.indptr[i]:adj.indptr[i + 1]], 1.0 / degree[i], rtol=0, atol=0)
    assert np.allclose(np.asarray(adj.sum(axis=1)).ravel(), 1.0, rtol=1e-15)
    rows, cols = edge_list(adj)
    assert len(rows) == adj.nnz and (rows != cols).all()


def test_the_network_is_directed_and_drawn_by_weight():
    n = 400
    weights = np.ones(n)
    weights[0], weights[1] = 1000.0, 0.0  # a giant everyone watches; a developer nobody can pick
    adj = network(n=n, k=4, weights=weights)
    followers = np.asarray((adj > 0).sum(axis=0)).ravel()
    assert followers[0] == n - 1  # everyone else follows the giant
    assert followers[1] == 0 and np.diff(adj.indptr)[1] >= 1  # nobody follows 1, but 1 follows others
    assert (adj != adj.T).nnz > 0  # 'follows' is not symmetric


def test_the_network_depends_only_on_the_generator():
    a, b, c = network(seed=4), network(seed=4), network(seed=5)
    assert (a != b).nnz == 0 and np.array_equal(a.data, b.data)
    assert (a != c).nnz > 0


@pytest.mark.parametrize("n, k", [(0, 8), (1, 8), (50, 0)])
def test_no_peers_when_there_is_no_one_to_follow(n, k):
    adj = network(n=n, k=k)
    assert adj.shape == (n, n) and adj.nnz == 0


# --- the population

@pytest.mark.parametrize("n", [1, 3, 4, 5, 10, 99, 1000, 12345])
def test_segment_counts_sum_to_n_and_follow_the_shares(n):
    counts = segment_counts(n)
    assert counts.sum() == n and (counts >= 0).all()
    if n >= len(SEGMENTS):
        assert (counts >= 1).all()
    if n >= 100:  # largest remainder: each segment within one developer of its share
        assert (np.abs(counts - SEGMENT_DEVELOPER_SHARE * n) < 1).all()


def test_demand_splits_over_segments_by_their_shares():
    d = population()
    assert d.base_demand.sum() == pytest.approx(BUDGET, rel=1e-12)
    by_segment = np.bincount(d.segment, weights=d.base_demand, minlength=len(SEGMENTS)) / BUDGET
    assert by_segment == pytest.approx(SEGMENT_DEMAND_SHARE, rel=1e-12)
    assert np.array_equal(np.bincount(d.segment), segment_counts(2000))
    assert (np.diff(d.segment) >= 0).all()  # developers are ordered by segment


@pytest.mark.parametrize("field, share", [("licensed", LICENSED), ("china_approved", APPROVED)])
def test_licences_and_approvals_hold_their_share_of_each_segments_demand(field, share):
    """stratified_pick: within each segment the picked developers hold ``share`` of its demand, to within
    half the largest developer's demand (the picked ones are a prefix of a random order)."""
    d = population()
    picked = getattr(d, field)
    for seg in range(len(SEGMENTS)):
        w = d.base_demand[d.segment == seg]
        got = w[picked[d.segment == seg]].sum()
        assert abs(got - share * w.sum()) <= 0.5 * w.max() * (1 + 1e-12)


def test_stratified_pick_edges():
    rng = np.random.default_rng(0)
    seg = np.array([0, 0, 0, 2, 2])
    w = np.array([1.0, 1.0, 1.0, 3.0, 1.0])
    assert not stratified_pick(rng, seg, w, 0.0).any()
    assert stratified_pick(rng, seg, w, 1.0).all()


def test_the_initial_us_share_of_installed_compute_is_the_parameter():
    d = population()
    us = np.array([MAKERS[m].ecosystem != ECOSYSTEMS.index("domestic") for m in range(len(MAKERS))])
    assert d.installed.sum() == pytest.approx(INSTALLED, rel=1e-9)
    assert d.installed[:, us].sum() / d.installed.sum() == pytest.approx(US_SHARE, rel=1e-9)
    # within a stack, makers split installed compute by the installed base's maker shares
    for m in range(len(MAKERS)):
        assert d.installed[:, m].sum() / INSTALLED == pytest.approx(
            MAKER_SHARE[m] * (US_SHARE if us[m] else 1 - US_SHARE), rel=1e-9)
    assert d.installed.flags.f_contiguous and d.taste.shape == (2000, len(ECOSYSTEMS))


def test_the_population_depends_only_on_the_generator():
    a, b, c = population(seed=8, n=300), population(seed=8, n=300), population(seed=9, n=300)
    for field in ("segment", "base_demand", "licensed", "china_approved", "taste", "installed"):
        assert np.array_equal(getattr(a, field), getattr(b, field))
    assert (a.peers != b.peers).nnz == 0
    assert not np.array_equal(a.base_demand, c.base_demand)


def test_no_taste_when_its_sd_is_zero():
    assert (population(n=100, taste_sd=0.0).taste == 0).all()


def test_quarterly_demand_is_base_times_growth_times_a_mean_one_shock():
    base = np.full(200_000, 2.0)
    assert np.array_equal(quarterly_demand(np.random.default_rng(0), base, 1.5, 0.0), base * 1.5)
    shocked = quarterly_demand(np.random.default_rng(0), base, 1.5, 0.3)
    assert (shocked > 0).all() and shocked.mean() == pytest.approx(3.0, rel=3e-3)


def test_own_shares_and_install():
    shares = own_shares(np.array([[1.0, 3.0, 0.0], [0.0, 0.0, 0.0]]))
    assert shares.tolist() == [[0.25, 0.75, 0.0], [0.0, 0.0, 0.0]]
    installed = np.array([[10.0, 20.0]])
    out = install(installed, np.array([[1.0, 2.0]]), 0.25)
    assert out is installed and out.tolist() == [[8.5, 17.0]]
