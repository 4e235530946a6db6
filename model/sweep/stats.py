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
