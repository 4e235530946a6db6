"""Sensitivity of a sweep's final outputs to its sampled parameters: Sobol S1/ST, Morris mu*/sigma
(SALib) or partial rank correlation coefficients (PRCC, for LHS), per grid cell; the table
(``sensitivity.csv``) and its figure (``figures/sensitivity.png``)."""

from __future__ import annotations

import math
import textwrap
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from model.analysis.labels import NICE_NAMES, fmt_value, reporter_scale, reporter_title, reporter_unit  # noqa: E402
from model.analysis.style import PAGE_WIDTH_IN, styled  # noqa: E402
from model.analysis.sweep_data import Sweep  # noqa: E402
from model.core.reporters import REPORTERS_BY_NAME  # noqa: E402
from model.sweep.experiment import too_small  # noqa: E402
from model.sweep.stats import CONF_LEVEL  # noqa: E402

#: Outputs whose sensitivity to the sampled parameters is analysed.
SENSITIVITY_OUTPUTS = ("us_stack_share", "us_share_legal", "us_stack_share_incl_offshore",
                       "china_compute_h100e", "china_to_us_compute_ratio")
#: Resamples for the bootstrap confidence intervals of SALib's analyses.
NUM_RESAMPLES = 500


def _analysis_seed(sweep: Sweep) -> int:
    seed = sweep.manifest.get("experiment", {}).get("seed")
    try:
        seed = int(seed)
    except (TypeError, ValueError):
        seed = 1
    return seed % (2**31 - 1) or 1  # SALib's sobol treats 0 as "no seed"


def _problem(sweep: Sweep) -> dict:
    sample = sweep.sample
    prob = sample.get("salib_problem") or {}
    names = list(sweep.sample_params)
    if prob.get("names") and list(prob["names"]) == names and prob.get("bounds"):
        bounds = [list(map(float, b)) for b in prob["bounds"]]
    else:
        ranges = sample.get("ranges") or {}
        bounds = [list(map(float, ranges[n])) if n in ranges else
                  [float(sweep.final[n].min()), float(sweep.final[n].max())] for n in names]
    return {"num_vars": len(names), "names": names, "bounds": bounds}


def outputs_of(sweep: Sweep) -> list[str]:
    """The final outputs whose sensitivity is computed: ``SENSITIVITY_OUTPUTS`` that the sweep's model
    reports, else its first reporter (another model class)."""
    return [o for o in SENSITIVITY_OUTPUTS if sweep.has(o)] or sweep.reporters[:1]


def sensitivity_table(sweep: Sweep) -> tuple[pd.DataFrame, list[str]]:
    """Sensitivity indices of the final outputs to the sampled parameters, and notes on what was skipped.

    Y per sample point is the mean over replications of the reporter at the last step, ordered by
    ``sample_index``; for ``grid+sample`` designs one analysis per grid cell.
    """
    notes: list[str] = []
    if not sweep.sample_params:
        return pd.DataFrame(), notes
    if "sample_index" not in sweep.final:
        return pd.DataFrame(), [f"{sweep.dir / 'final.csv'} has no sample_index column: sensitivity skipped"]
    method = sweep.method
    problem = _problem(sweep)
    names = problem["names"]
    cells_keys = list(sweep.grid_params)
    per_point = (sweep.final.groupby(cells_keys + ["sample_index"], dropna=False)
                 .agg({**{o: "mean" for o in outputs_of(sweep)}, **{n: "first" for n in names}})
                 .reset_index())
    cells = per_point[cells_keys].drop_duplicates() if cells_keys else pd.DataFrame(index=[0])
    rows: list[dict] = []
    for _, cell in cells.iterrows():
        sub = per_point
        for p in cells_keys:
            sub = sub[sub[p] == cell[p]]
        sub = sub.sort_values("sample_index")
        where = ((" (" + ", ".join(f"{p}={fmt_value(cell[p])}" for p in cells_keys) + ")")
                 if cells_keys else "")
        idx = sub["sample_index"].to_numpy()
        try:  # the runner records the number of sample points; else assume none is missing at the end
            expected = int(sweep.sample["n_points"])
        except (KeyError, TypeError, ValueError):
            expected = int(idx.max()) + 1 if len(idx) else 0
        if len(idx) != expected or not np.array_equal(idx, np.arange(expected)):
            notes.append(f"sensitivity{where}: {expected - len(idx)} of {expected} sample points missing "
                         f"(failed runs?): skipped")
            continue
        X = _factor_matrix(sub, names, sweep)
        for output in outputs_of(sweep):
            Y = sub[output].to_numpy(float)
            base = {p: cell[p] for p in cells_keys}
            base.update(output=output, method=method)
            if not np.all(np.isfinite(Y)):
                notes.append(f"sensitivity of {output}{where}: non-finite outputs: skipped")
                continue
            try:
                res = _analyse(method, problem, X, Y, sweep)
            except Exception as exc:  # noqa: BLE001 - SALib raises RuntimeError/ValueError on bad shapes
                notes.append(f"sensitivity of {output}{where} ({method}): {exc}".replace("\n", " ").strip())
                continue
            if np.ptp(Y) == 0:
                notes.append(f"sensitivity of {output}{where}: the output is constant; indices undefined")
            for j, name in enumerate(names):
                rows.append({**base, "parameter": name, **{k: float(v[j]) for k, v in res.items()}})
    table = pd.DataFrame(rows)
    if not table.empty:
        first = cells_keys + ["output", "parameter", "method"]
        table = table[first + [c for c in table.columns if c not in first]]
    return table, notes


def _factor_matrix(points: pd.DataFrame, names: list[str], sweep: Sweep) -> np.ndarray:
    """The sampled values as numbers; a categorical factor (``[sample.choices]``) as its value's index."""
    choices = sweep.sample.get("choices") or {}
    index = {n: {str(v): float(k) for k, v in enumerate(values)} for n, values in choices.items()}
    columns = [points[n].map(lambda v, n=n: index[n].get(str(v), np.nan)) if n in index else points[n]
               for n in names]
    return np.column_stack([c.to_numpy(float) for c in columns]) if columns else np.empty((len(points), 0))


def _analyse(method: str, problem: dict, X: np.ndarray, Y: np.ndarray, sweep: Sweep) -> dict[str, np.ndarray]:
    seed = _analysis_seed(sweep)
    D = problem["num_vars"]
    constant = np.ptp(Y) == 0
    if method == "sobol":
        from SALib.analyze import sobol

        second = bool(sweep.sample.get("calc_second_order", False))
        per = 2 * D + 2 if second else D + 2
        if len(Y) % per:
            raise ValueError(f"{len(Y)} sample points is not a multiple of {per} "
                             f"(Saltelli/Sobol sample with calc_second_order={second})")
        _check_size("sobol", len(Y) // per, "base sample(s)")  # a folder older than the file's check
        if constant:
            nan = np.full(D, np.nan)
            return {"S1": nan, "S1_conf": nan, "ST": nan, "ST_conf": nan}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            si = sobol.analyze(dict(problem), Y, calc_second_order=second, num_resamples=NUM_RESAMPLES,
                               conf_level=CONF_LEVEL, seed=seed)
        return {k: np.asarray(si[k], float) for k in ("S1", "S1_conf", "ST", "ST_conf")}
    if method == "morris":
        from SALib.analyze import morris

        if len(Y) % (D + 1):
            raise ValueError(f"{len(Y)} sample points is not a multiple of {D + 1} (Morris trajectories)")
        _check_size("morris", len(Y) // (D + 1), "trajectory(ies)")
        levels = int(sweep.sample.get("num_levels", 4))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            si = morris.analyze(dict(problem), X, Y, num_resamples=NUM_RESAMPLES, conf_level=CONF_LEVEL,
                                num_levels=levels, seed=seed)
        return {k: np.asarray(si[k], float) for k in ("mu_star", "mu_star_conf", "sigma", "mu")}
    if len(Y) < D + 3:
        raise ValueError(f"{len(Y)} sample points: too small for partial rank correlations of {D} "
                         f"parameters; at least {D + 3} (two degrees of freedom)")
    return prcc(X, Y)


def _check_size(method: str, n: int, what: str) -> None:
    """ValueError (a note in the report) when ``n`` is below the method's minimum (``too_small``)."""
    why = too_small(method, n)
    if why:
        raise ValueError(f"{n} {what}: too small; {why}")


def prcc(X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
    """Partial rank correlation coefficients of Y with each column of X, with 95% Fisher-z intervals.

    Each column's ranks and Y's ranks are regressed on the ranks of the other columns; the PRCC is the
    correlation of the two residuals. ``prcc_conf`` is the half-width of the interval on the z scale
    mapped back (the interval itself is ``prcc_ci_low``..``prcc_ci_high``).
    """
    n, k = X.shape
    R = np.column_stack([stats.rankdata(X[:, j]) for j in range(k)])
    ry = stats.rankdata(Y)
    out = {key: np.full(k, np.nan) for key in ("prcc", "prcc_ci_low", "prcc_ci_high", "p_value")}
    dof = n - 2 - (k - 1)
    if dof < 2 or np.ptp(Y) == 0:
        return out
    for j in range(k):
        A = np.column_stack([np.ones(n), np.delete(R, j, axis=1)])
        rx = R[:, j] - A @ np.linalg.lstsq(A, R[:, j], rcond=None)[0]
        ey = ry - A @ np.linalg.lstsq(A, ry, rcond=None)[0]
        den = math.sqrt(float(rx @ rx) * float(ey @ ey))
        if den == 0:
            continue
        r = float(np.clip(rx @ ey / den, -1.0, 1.0))
        z, se = math.atanh(min(max(r, -0.999999), 0.999999)), 1 / math.sqrt(max(n - 3 - (k - 1), 1))
        zq = stats.norm.ppf(0.5 + CONF_LEVEL / 2)
        t = r * math.sqrt(dof / max(1 - r * r, 1e-300))
        out["prcc"][j] = r
        # z is taken at |r| <= 0.999999, so at r = +-1 the interval is widened to hold r itself
        out["prcc_ci_low"][j] = min(math.tanh(z - zq * se), r)
        out["prcc_ci_high"][j] = max(math.tanh(z + zq * se), r)
        out["p_value"][j] = float(2 * stats.t.sf(abs(t), dof))
    return out


@styled
def sensitivity_figure(sweep: Sweep, table: pd.DataFrame):
    """Horizontal bars of the sensitivity indices, one panel per output (up to three a row, the parameters
    named on the first of each row)."""
    if table.empty:
        return None
    method = sweep.method
    bars = {"sobol": [("S1", "S1_conf", "first order S1"), ("ST", "ST_conf", "total order ST")],
            "morris": [("mu_star", "mu_star_conf", "mu* (mean |elementary effect|)"),
                       ("sigma", None, "sigma (interactions / non-linearity)")]}.get(
        method, [("prcc", None, "PRCC")])
    cells_keys = [p for p in sweep.grid_params if p in table.columns]
    cells = table[cells_keys].drop_duplicates() if cells_keys else pd.DataFrame(index=[0])
    names = list(dict.fromkeys(table["parameter"]))
    outputs = [o for o in outputs_of(sweep) if o in set(table["output"])]
    # a long list of parameters: every output in one row (a tall figure), else up to three a row
    ncols = len(outputs) if len(names) > 12 and len(outputs) <= 5 else min(len(outputs), 3)
    nrows = -(-len(outputs) // ncols)
    per_row = 0.7 + 0.13 * len(names) * max(1, min(len(cells), 4)) * max(1.0, len(bars) / 2)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PAGE_WIDTH_IN, 0.6 + per_row * nrows), squeeze=False,
                             sharey=True, constrained_layout=True)
    nbars = len(bars) * len(cells)
    height = 0.8 / nbars
    tab10, tab20 = plt.get_cmap("tab10"), plt.get_cmap("tab20")

    def colour(ci: int, bi: int):
        if len(cells) == 1:
            return tab10(bi % 10)
        if len(bars) == 1:
            return tab10(ci % 10)
        return tab20((2 * ci + (1 if bi == 0 else 0)) % 20)  # one hue per grid cell, light = first metric

    ypos = np.arange(len(names))
    for ax, output in zip(axes.flat, outputs):
        t = table[table["output"] == output]
        b = 0
        for ci, (_, cell) in enumerate(cells.iterrows()):
            sub = t
            for p in cells_keys:
                sub = sub[sub[p] == cell[p]]
            sub = sub.set_index("parameter").reindex(names)
            cell_label = ", ".join(f"{p}={fmt_value(cell[p])}" for p in cells_keys)
            for bi, (col, conf, label) in enumerate(bars):
                vals = sub[col].to_numpy(float)
                if method == "morris" and output in REPORTERS_BY_NAME:
                    vals = vals / reporter_scale(output)
                if method == "lhs":
                    err = np.clip(np.vstack([vals - sub["prcc_ci_low"], sub["prcc_ci_high"] - vals]), 0, None)
                elif conf:
                    err = sub[conf].to_numpy(float) / (reporter_scale(output) if method == "morris" else 1.0)
                else:
                    err = None
                off = (b - (nbars - 1) / 2) * height
                ax.barh(ypos + off, np.nan_to_num(vals), height=height * 0.95, xerr=err, capsize=2,
                        color=colour(ci, bi), label=f"{label}" + (f" [{cell_label}]" if cell_label else ""),
                        error_kw={"elinewidth": 0.8})
                b += 1
        ax.set_yticks(ypos, [NICE_NAMES.get(n, n.replace("_", " ")) for n in names])
        ax.axvline(0, color="black", lw=0.6)
        ax.grid(axis="x", alpha=0.3)
        ax.set_title(textwrap.fill(f"final {reporter_title(output)}", 26 if ncols <= 3 else 14))
        xlabel = {"sobol": "Sobol index", "morris": f"mu* ({reporter_unit(output)})"}
        ax.set_xlabel(textwrap.fill(xlabel.get(method, "PRCC"), 26 if ncols <= 3 else 14))
    axes[0][0].invert_yaxis()  # shared: the first parameter at the top of every panel
    for ax in axes.flat[len(outputs):]:
        ax.set_visible(False)
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncol=2 if len(cells) > 1 else len(bars))
    what = {"sobol": "Sobol indices (SALib, Saltelli/Jansen estimators)",
            "morris": "Morris screening (SALib)"}.get(method, "partial rank correlation coefficients (LHS)")
    note = {"sobol": "share of the output's variance; bars: 95% CI",
            "morris": "mean |elementary effect| over the full range, in the output's unit; "
                      "bars: 95% CI of mu*",
            }.get(method, "partial rank correlation coefficient (-1..1); bars: 95% CI (Fisher z)")
    fig.suptitle(textwrap.fill(f"{sweep.name}: sensitivity to the sampled parameters - {what}", 100)
                 + f"\n({note})")
    return fig


#: The committed sensitivity analyses in docs/figures/ (experiment name = file name).
COMMITTED = ("screening", "sensitivity", "sensitivity_rules")
#: Columns of a sensitivity table that are not grid factors.
_TABLE_COLUMNS = {"output", "parameter", "method", "S1", "S1_conf", "ST", "ST_conf", "mu_star",
                  "mu_star_conf", "sigma", "mu", "prcc", "prcc_ci_low", "prcc_ci_high", "p_value", "n"}


class _TableSweep:
    """What ``sensitivity_figure`` reads of a sweep, from its committed table alone."""

    def __init__(self, table: pd.DataFrame, name: str):
        self.name, self.method = name, str(table["method"].iloc[0])
        self.grid_params = [c for c in table.columns if c not in _TABLE_COLUMNS]
        self.reporters = list(dict.fromkeys(table["output"]))

    def has(self, *reporters: str) -> bool:
        return all(r in self.reporters for r in reporters)


def redraw(csv: Path) -> Path:
    """Draw ``csv``'s figure (a committed sensitivity table; the experiment named by the file) beside it."""
    from model.analysis.sweep_figures import save_figure

    table = pd.read_csv(csv)
    return save_figure(sensitivity_figure(_TableSweep(table, csv.stem), table), csv.with_suffix(".png"))[0]


def main(argv: list[str] | None = None) -> int:
    """``python -m model.analysis.sensitivity``: redraw docs/figures/*.png from their committed tables."""
    from model.core.docblocks import maintenance_arguments
    from model.core.paths import DOCS_FIGURES

    writes = "docs/figures/{" + ",".join(COMMITTED) + "}.png from their committed .csv tables"
    maintenance_arguments("model.analysis.sensitivity", writes, argv)
    for name in COMMITTED:
        redraw(DOCS_FIGURES / f"{name}.csv")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
