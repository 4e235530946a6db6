"""The figures of ``chipstack calibrate``: prior against posterior for each parameter, and the posterior
predictive of each target against the record (standardised by the target's measurement error)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from model.validation.abc_spec import CalibrationSpec

#: The predictive figure's axis: +-XMAX measurement errors (values beyond are drawn at the edge).
XMAX = 8.0


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def prior_posterior_figure(spec: CalibrationSpec, posterior: pd.DataFrame, prior: pd.DataFrame):
    """One panel per parameter: the prior's histogram (constraints applied) and the weighted posterior's."""
    plt = _plt()
    n = len(spec.priors)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False,
                             constrained_layout=True)
    for ax, p in zip(axes.flat, spec.priors):
        log = p.distribution == "loguniform"
        bins = (np.geomspace(p.low, p.high, 31) if log else np.linspace(p.low, p.high, 31))
        # each bin's share of the draws (bins of equal width on the axis's scale, log for loguniform)
        ax.hist(prior[p.name], bins=bins, weights=np.full(len(prior), 1 / len(prior)), color="0.75",
                label="prior")
        ax.hist(posterior[p.name], bins=bins, weights=posterior["weight"], alpha=0.7,
                color="tab:blue", label="posterior")
        if log:
            from matplotlib.ticker import NullFormatter

            ax.set_xscale("log")
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(p.name, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.set_yticks([])
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.suptitle(f"{spec.name}: prior (grey) and posterior (blue), last generation", fontsize=10)
    return fig


def _standardised(value, observed, scale, error):
    value = np.asarray(value, float)
    if scale == "log":
        z = (np.log(np.maximum(value, observed * 1e-3)) - math.log(observed)) / error
    else:
        z = (value - observed) / error
    return np.clip(z, -XMAX, XMAX)  # a miss beyond the axis is drawn at its edge


def predictive_figure(predictive: pd.DataFrame):
    """Per target, the posterior predictive's 90% interval (model alone: thick; with the measurement error:
    thin) and median, as (model - record) / measurement error; the record sits at 0, its own 90%
    measurement interval is the shaded band."""
    plt = _plt()
    n = len(predictive)
    fig, ax = plt.subplots(figsize=(8.5, 0.32 * n + 1.4), constrained_layout=True)
    ax.axvspan(-1.645, 1.645, color="0.9", label="record ± 1.645 measurement errors")
    ax.axvline(0, color="k", lw=0.8)
    for i, r in enumerate(predictive.itertuples()):
        y = n - 1 - i
        lo, mid, hi = (_standardised(v, r.observed, r.scale, r.error)
                       for v in (r.model_q05, r.model_median, r.model_q95))
        plo, phi = (_standardised(v, r.observed, r.scale, r.error)
                    for v in (r.predictive_q05, r.predictive_q95))
        color = "tab:blue" if r.covered else "tab:red"
        ax.plot([plo, phi], [y, y], color=color, lw=1)
        ax.plot([lo, hi], [y, y], color=color, lw=4, solid_capstyle="butt")
        ax.plot([mid], [y], "o", color="k", ms=3)
    ax.set_yticks(range(n))
    ax.set_yticklabels([f"{r.period} {r.quantity} ({r.scale}, ±{r.error:g})"
                        for r in predictive.iloc[::-1].itertuples()], fontsize=7)
    ax.set_xlabel("(model - record) / measurement error (log scale for log targets)\n"
                  "thick: model 90%; thin: with measurement error; red: record outside", fontsize=8)
    ax.set_xlim(-XMAX - 0.5, XMAX + 0.5)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("posterior predictive vs the record", fontsize=10)
    return fig
