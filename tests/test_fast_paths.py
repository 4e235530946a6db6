"""The fast paths of a quarter give the same bits as the plain computations they replace (issue 25 item 8).

A small run is a few hundred numpy calls on arrays of a few to a few hundred elements, so the model
does several reductions in one call, or keeps an answer while its inputs stay the same. Each rewrite
rests on a property of numpy's arithmetic that these tests check bit for bit on many generated inputs
(and fail when the property is broken, e.g. by a reduction over a column instead of a row).
"""

from __future__ import annotations

import numpy as np
import pytest

from model import ChipMarketModel
from model.core import fixedmath as fm
from model.core.catalogue import NEVER
from model.core.governments import next_releases, us_shipments_to_date
from model.core.reporters import developers_on_us_stack

RNG = np.random.default_rng(20261207)


def bits(a) -> np.ndarray:
    return np.asarray(a, dtype=float).view(np.int64)


def random_values(shape) -> np.ndarray:
    """Values over many magnitudes and both signs (so that the order of a sum shows in its rounding)."""
    return RNG.normal(size=shape) * 10.0 ** RNG.integers(-6, 16, size=shape)


@pytest.mark.parametrize("trial", range(8))
def test_row_sums_of_a_table_are_the_sums_of_its_rows(trial):
    """``np.add.reduce(T, axis=1)`` of a C-ordered table sums each row as the 1-d ``sum`` of that row does
    (pairwise, along the contiguous axis), and ``T.compress(mask, axis=1)`` keeps that true for a subset of
    the columns (the ledger's channels in ``reporters.compute``)."""
    for _ in range(200):
        rows, cols = int(RNG.integers(1, 10)), int(RNG.integers(1, 400))
        table = random_values((rows, cols))
        mask = RNG.random(cols) < RNG.random()
        assert (bits(np.add.reduce(table, axis=1)) == bits([row.sum() for row in table])).all()
        assert (bits(np.add.reduce(table.compress(mask, axis=1), axis=1))
                == bits([row[mask].sum() for row in table])).all()


def test_a_gathered_table_is_not_summed_row_by_row():
    """The property above is not free: ``T[:, mask]`` is laid out column-first, and its row sums differ
    from the rows' 1-d sums for some inputs (why ``reporters`` uses ``compress``)."""
    differ = 0
    for _ in range(200):
        cols = int(RNG.integers(20, 400))
        table, mask = random_values((5, cols)), RNG.random(cols) < 0.5
        gathered = np.add.reduce(table[:, mask], axis=1)
        differ += int((bits(gathered) != bits([r[mask].sum() for r in table])).sum())
    assert differ > 0


def test_column_reduction_of_a_fortran_table_adds_columns_in_order():
    """``developers_on_us_stack``: a reduction over the columns of a Fortran-ordered (n x makers) table adds
    the columns one after the other, as the loop it replaces did, and so gives the same share."""
    for _ in range(300):
        n, m = int(RNG.integers(1, 600)), int(RNG.integers(1, 10))
        table = np.asfortranarray(np.abs(random_values((n, m))))
        total = np.zeros(n)
        for k in range(m):
            total += table[:, k]
        assert (bits(np.add.reduce(table, axis=1)) == bits(total)).all()
        n_us = int(RNG.integers(0, m + 1))
        mask = np.arange(m) < n_us
        us = np.zeros(n)
        for k in range(n_us):
            us += table[:, k]
        assert developers_on_us_stack(table, mask) == float(np.mean(us > 0.5 * total))
        # any other layout takes the loop
        assert developers_on_us_stack(np.ascontiguousarray(table), mask) == float(np.mean(us > 0.5 * total))


def test_us_shipments_powers_on_the_scalar_path_equal_the_array_path():
    """``us_shipments_to_date`` takes k**n chip by chip on ``fm.power``'s scalar path; the array path
    (``fm.power`` of the whole (J,) array) gives the same bits, for many declines and quarters."""
    m = ChipMarketModel(rng=1, n_developers=20)
    cat = m.catalogue
    for decline in (0.0, 0.1, 0.3, 0.5, 0.77, 0.99, 1.0):
        k = fm.power(1.0 - decline, 0.25)
        dated = m.release[m.release != NEVER]
        for quarter in range(int(dated.min()) - 2, int(dated.max()) + 40, 3):
            nxt = next_releases(cat, m.release)
            after = np.maximum(quarter + 1 - nxt, 0).astype(float)
            before = np.maximum(np.minimum(quarter + 1, nxt) - m.release, 0).astype(float)
            with np.errstate(invalid="ignore"):  # 0 x log(0) where k = 0 (the array path then puts 1)
                powers = fm.power(np.full(after.shape, k), after)
            tail = after if k == 1.0 else k * (1.0 - powers) / (1.0 - k)
            want = cat.us_units_per_quarter * (before + tail)
            got = us_shipments_to_date(cat, m.release, quarter, decline)
            assert (bits(got) == bits(want)).all()
            assert (bits(us_shipments_to_date(cat, m.release, quarter, decline, nxt)) == bits(want)).all()


def test_kept_logs_of_chip_values_equal_the_array_log():
    """``choice._log_kept`` keeps each value's log and takes new ones on the scalar path (a few) or in one
    array call (many): the same bits as ``fm.log`` of the whole array, whichever way a value came."""
    from model.core.choice import _log_kept

    pool = np.abs(random_values(200))
    for _ in range(300):
        x = RNG.choice(pool, size=int(RNG.integers(1, 60)))
        if RNG.random() < 0.2:
            x = np.abs(random_values(x.shape[0]))  # all new
        assert (bits(_log_kept(x)) == bits(fm.log(x))).all()
    special = np.array([0.0, -0.0, 1.0, np.inf, 5e-324, 1e-310, np.finfo(float).max])
    assert (bits(_log_kept(special)) == bits(fm.log(special))).all()


def test_kept_logs_survive_the_table_being_emptied():
    """When the table of kept logs is full it is emptied before new values go in: values found in it a
    moment before still get their logs (a run of thousands of quarters in one process)."""
    from model.core import choice

    known = np.abs(random_values(20))
    choice._log_kept(known)
    choice._LOGS.update((-0.5 - v, 0.0) for v in range(4096))  # full (keys no chip value takes)
    x = np.concatenate((known, np.abs(random_values(12))))  # known values and enough new ones
    assert (bits(choice._log_kept(x)) == bits(fm.log(x))).all()
    assert len(choice._LOGS) < 4096
