"""The ABC posterior scored out of sample on 2026H1 (issue 29 item 6; docs/VALIDATION.md §3.6).

The calibration (``chipstack calibrate calibration``) saw the record to 2025Q4 only. Here its posterior
predictive is scored on the 2026Q1-Q2 rows of ``experiments/data/observed.csv`` that the model measures in the
record's own terms (``HOLDOUT``; Nvidia's China revenue is left out: from the FY2026 10-K it counts
China-headquartered customers wherever they are and all products, not the same measure, §3.3). Each of
``DRAWS`` particles, drawn by weight from ``posterior.parquet``, is re-run from 2022Q4 to 2026Q2 (the replay's
policy inputs; its seeds from the calibration's root seed + 2) and gives one member of an ensemble per row.
The same rows are scored for the replay at its file's parameters (seed noise only: its seeds, 1000
developers), the model as it stood before the calibration. Scores: the CRPS of the ensemble
(``scoringrules.crps_ensemble``; in the row's unit, and over the record where it is not 0) and whether the
record lies in the ensemble's 90% interval. No measurement error is added: the ensembles are the model's.

``python -m model.validation.abc_holdout`` writes ``docs/validation/calibration/holdout.csv`` and the table in
docs/VALIDATION.md (checked by ``tests/test_abc_calibration.py``).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from model.core.docblocks import maintenance_arguments, replace_block
from model.core.paths import DOCS_VALIDATION, EXPERIMENTS, VALIDATION_MD
from model.sweep.io import write_atomic

#: (period, quantity) scored: each measured by the model as the record measures it (§3.3's comparisons).
HOLDOUT = (("2026Q1", "cambricon_revenue"), ("2026Q2", "cambricon_revenue"),
           ("2026Q1", "nvidia_h20_revenue_china"), ("2026Q1", "nvidia_h200_revenue_china"),
           ("2026Q1", "nvidia_h200_units_china"), ("2026Q1", "nvidia_datacenter_hopper_revenue_china"),
           ("2026Q1", "chinese_offshore_compute_value"))
END = "2026Q2"
DRAWS = 200
CALIBRATION_DIR = DOCS_VALIDATION / "calibration"
HOLDOUT_CSV = CALIBRATION_DIR / "holdout.csv"
BEGIN, END_MARK = "<!-- abc:holdout begin -->", "<!-- abc:holdout end -->"


def record() -> pd.DataFrame:
    """The held-out rows of observed.csv, in ``HOLDOUT``'s order."""
    obs = pd.read_csv(EXPERIMENTS / "data" / "observed.csv")
    rows = [obs[(obs["quarter"] == p) & (obs["quantity"] == q)].iloc[0] for p, q in HOLDOUT]
    out = pd.DataFrame(rows)[["quarter", "quantity", "value", "unit", "grade"]].reset_index(drop=True)
    return out.rename(columns={"quarter": "period"})


def holdout_targets(rec: pd.DataFrame) -> tuple:
    """The held-out rows as calibration targets (``abc_spec.Target``: a quantity over its quarter), so that
    the calibration's own machinery (``abc.simulate``, ``abc.target_values``) computes them. Only the
    quantity, the quarter and the record are used here: no distance is taken."""
    from model.validation.abc_spec import Target

    return tuple(Target(quantity=r.quantity, period=r.period, observed=float(r.value), scale="linear",
                        error=1.0, why="held out (2026H1)", quarters=(r.period,), grade=r.grade)
                 for r in rec.itertuples())


def posterior_ensemble(spec, posterior: pd.DataFrame, targets: tuple, draws: int = DRAWS) -> np.ndarray:
    """(draws, rows): particles drawn by weight, each re-run to ``END`` with its own seeds (the calibration's
    root seed + 2) by ``abc.simulate``."""
    from model.validation.abc import simulate

    rng = np.random.default_rng(spec.seed + 2)
    picks = rng.choice(len(posterior), size=draws, replace=True, p=posterior["weight"].to_numpy())
    fresh = dataclasses.replace(spec, seed=spec.seed + 2, end_quarter=END, targets=targets)
    sims = [simulate(fresh, {k: float(v) for k, v in posterior.iloc[i][spec.names].items()}) for i in picks]
    return np.array([[sim[t.key] for t in targets] for sim in sims])


def replay_ensemble(targets: tuple) -> np.ndarray:
    """(seeds, rows): the replay at its file's parameters and seeds (seed noise only), one row per seed."""
    from model.validation.abc import target_values
    from model.validation.quarterly import run_replay

    return np.array([[values[t.key] for t in targets]
                     for values in (target_values(g, targets) for _, g in run_replay().groupby("seed"))])


def score(obs: np.ndarray, ensemble: np.ndarray) -> pd.DataFrame:
    """Per row: CRPS of the ensemble, its median and 90% interval, and whether the record is in it."""
    import scoringrules as sr

    crps = np.asarray(sr.crps_ensemble(obs, ensemble.T, m_axis=-1), dtype=float)
    q05, q50, q95 = np.quantile(ensemble, [0.05, 0.5, 0.95], axis=0)
    return pd.DataFrame({"median": q50, "q05": q05, "q95": q95, "covered": (q05 <= obs) & (obs <= q95),
                         "crps": crps})


def table(spec=None, posterior: pd.DataFrame | None = None, draws: int = DRAWS) -> pd.DataFrame:
    """The held-out rows scored for the posterior predictive and for the replay at its file's parameters."""
    from model.validation.abc_spec import load_spec

    spec = load_spec("calibration") if spec is None else spec
    posterior = pd.read_parquet(CALIBRATION_DIR / "posterior.parquet") if posterior is None else posterior
    rec = record()
    obs, targets = rec["value"].to_numpy(float), holdout_targets(rec)
    post = score(obs, posterior_ensemble(spec, posterior, targets, draws))
    base = score(obs, replay_ensemble(targets))
    out = rec.rename(columns={"value": "observed"})
    for label, s in (("posterior", post), ("replay", base)):
        out = out.join(s.add_prefix(f"{label}_"))
    return out


def _num(x: float, unit: str) -> str:
    if unit == "share":
        return f"{x:.2f}"
    return f"{x / 1e9:.2f}B" if abs(x) >= 1e8 else (f"{x / 1e3:.0f}k" if abs(x) >= 1e3 else f"{x:.0f}")


def markdown(t: pd.DataFrame) -> str:
    """The VALIDATION table and a sentence with the coverage and the CRPS comparison."""
    head = ("| period | quantity | record (grade) | posterior predictive median [90%] | CRPS "
            "| replay at the file's parameters, median [90%] | CRPS |")
    lines = [head, "|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        cells = [f"{_num(r[f'{k}_median'], r.unit)} [{_num(r[f'{k}_q05'], r.unit)}, "
                 f"{_num(r[f'{k}_q95'], r.unit)}]" + ("" if r[f"{k}_covered"] else " **out**")
                 for k in ("posterior", "replay")]
        lines.append(f"| {r.period} | `{r.quantity}` | {_num(r.observed, r.unit)} ({r.grade}) | {cells[0]} | "
                     f"{_num(r.posterior_crps, r.unit)} | {cells[1]} | {_num(r.replay_crps, r.unit)} |")
    better = int((t.posterior_crps < t.replay_crps).sum())
    worse = int((t.posterior_crps > t.replay_crps).sum())
    n = len(t)
    sentence = (f"The record is inside the posterior predictive's 90% interval for "
                f"{int(t.posterior_covered.sum())} of {n} held-out rows (the replay at its file's "
                f"parameters: {int(t.replay_covered.sum())} of {n}); the posterior's CRPS is lower on "
                f"{better} rows and higher on {worse} (equal: {n - better - worse}). Units: CNY for "
                "Cambricon, USD or units otherwise.")
    return "\n".join(lines) + "\n\n" + sentence


def render(text: str, t: pd.DataFrame) -> str:
    return replace_block(text, BEGIN, END_MARK, markdown(t))


def main(argv: list[str] | None = None) -> int:
    """``python -m model.validation.abc_holdout``: score 2026H1, rewrite holdout.csv and §3.6's table."""
    maintenance_arguments("model.validation.abc_holdout", "docs/validation/calibration/holdout.csv and the "
                          "2026H1 table of docs/VALIDATION.md §3.6 (the ABC posterior's score)", argv)
    t = table()
    write_atomic(HOLDOUT_CSV, lambda tmp: t.to_csv(tmp, index=False))
    text = render(VALIDATION_MD.read_text(encoding="utf-8"), t)
    write_atomic(VALIDATION_MD, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
