"""The one confidence interval: the 95% Student-t interval of a mean over replications.

Used by the runner (``summary.csv`` and the adaptive replications of a precision target) and by the
analysis (figures' bands and error bars). The t quantile comes from ``scipy.special.stdtrit``
(what ``scipy.stats.t.ppf`` calls; importing scipy.stats costs 0.25 s).
"""

from __future__ import annotations

import math

import numpy as np

#: Confidence level of every interval chipstack reports.
CONF_LEVEL = 0.95
#: The one naming scheme of the output tables' statistics over runs (INTERFACES §5): ``<value>_mean``, the
#: mean over a design point's runs; ``<value>_ci_low`` / ``_ci_high``, the 95% t-interval of that mean
#: (:func:`half_width`); ``<value>_p025`` / ``_p975``, the spread of the runs themselves (their 2.5th and
#: 97.5th percentiles, :data:`SPREAD`); ``n_runs``, the runs they are over.
MEAN, CI_LOW, CI_HIGH, P_LOW, P_HIGH, N_RUNS = "_mean", "_ci_low", "_ci_high", "_p025", "_p975", "n_runs"
#: The percentiles of the runs that ``_p025`` / ``_p975`` hold.
SPREAD = (2.5, 97.5)


def t_quantile(n, level: float = CONF_LEVEL):
    """The two-sided ``level`` quantile of Student's t with ``n - 1`` degrees of freedom (NaN for n < 2)."""
    from scipy.special import stdtrit

    with np.errstate(invalid="ignore", divide="ignore"):
        return stdtrit(np.asarray(n) - 1, 0.5 + level / 2)


def half_width(sd, n, level: float = CONF_LEVEL):
    """Half-width of the t-interval of a mean: ``sd * t_{n-1} / sqrt(n)``; NaN where n < 2.

    ``sd`` and ``n`` broadcast (arrays or scalars); ``sd`` is the sample standard deviation (ddof=1).
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        half = np.asarray(sd, dtype=float) * (t_quantile(n, level) / np.sqrt(n))
    return np.where(n >= 2, half, np.nan)


def mean_ci(values, level: float = CONF_LEVEL) -> tuple[float, float, float, int]:
    """Mean, interval low, interval high and count of the finite ``values``; the interval is NaN with
    fewer than two values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    m = float(x.mean())
    if n < 2:
        return m, math.nan, math.nan, n
    half = float(half_width(x.std(ddof=1), n, level))
    return m, m - half, m + half, n
