"""The headline's cells over the calibration's posterior (issue 29 item 4, first part; README "Over what the
record does not pin down").

``experiments/headline_posterior.toml`` runs every US rule x Beijing policy of the headline on the same 100
futures drawn by weight from the ABC posterior (``[uncertainties] method = "posterior"``,
model/sweep/draws.py).
Per cell this module takes the 2030Q4 values over those futures: the median and the 80% and 95% posterior
predictive intervals (quantiles over the futures, one run each, so seed noise is inside them), next to the
headline's own 95% interval of the mean over replications at the default parameters (run-to-run noise only,
``outputs/export_regimes/summary.csv``).

``python -m model.analysis.posterior_cells [SWEEP]`` (default ``outputs/headline_posterior``) writes
``docs/exploring/posterior/cells.csv`` and the README table (checked by ``tests/test_draws.py``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.core.docblocks import maintenance_arguments, replace_block
from model.core.paths import DOCS, README_MD, REFERENCE_SWEEP
from model.sweep.io import write_atomic

CELLS_CSV = DOCS / "exploring" / "posterior" / "cells.csv"
SWEEP = Path("outputs") / "headline_posterior"
REPORTERS = ("us_share_legal", "us_stack_share", "china_compute_h100e")
KEYS = ("export_regime", "china_import_policy")
QUANTILES = {"q025": 0.025, "q10": 0.10, "median": 0.5, "q90": 0.90, "q975": 0.975}
BEGIN, END = "<!-- headline:posterior begin -->", "<!-- headline:posterior end -->"
ROWS = ("ban", "h20", "threshold", "lagged", "open")
COLUMNS = ("decides", "open", "restrict", "ban")


def cells(final: pd.DataFrame, headline: pd.DataFrame) -> pd.DataFrame:
    """Per (US rule, Beijing policy) and reporter: quantiles over the posterior futures, the number of
    futures, and the headline's mean and 95% interval of the mean at the defaults (Huawei's central case)."""
    rows = []
    central = headline[headline["huawei_capacity_2026"] == 600_000].set_index(list(KEYS))
    for key, g in final.groupby(list(KEYS)):
        for r in REPORTERS:
            q = g[r].quantile(list(QUANTILES.values())).to_numpy()
            h = central.loc[key]
            rows.append({**dict(zip(KEYS, key, strict=True)), "reporter": r, "futures": len(g),
                         **dict(zip(QUANTILES, q, strict=True)), "defaults_mean": h[f"{r}_mean"],
                         "defaults_ci_low": h[f"{r}_ci_low"], "defaults_ci_high": h[f"{r}_ci_high"]})
    return pd.DataFrame(rows)


def markdown(t: pd.DataFrame, reporter: str = "us_share_legal") -> str:
    """The README table for ``reporter``: median [80%] (95%) over the posterior, and the defaults' mean."""
    sub = t[t.reporter == reporter].set_index(list(KEYS))
    lines = ["| US regime \\ Beijing | " + " | ".join(COLUMNS) + " |", "|---|" + "---|" * len(COLUMNS)]
    for regime in ROWS:
        cells_ = []
        for stance in COLUMNS:
            r = sub.loc[(regime, stance)]
            cells_.append(f"{r['median']:.2f} [{r.q10:.2f}, {r.q90:.2f}] ({r.q025:.2f}, {r.q975:.2f}); "
                          f"defaults {r.defaults_mean:.2f} "
                          f"[{r.defaults_ci_low:.2f}, {r.defaults_ci_high:.2f}]")
        name = "**threshold (as enacted)**" if regime == "threshold" else regime
        lines.append(f"| {name} | " + " | ".join(cells_) + " |")
    enacted = sub.loc[("threshold", "decides")]
    n = int(enacted.futures)
    sentence = (f"Median over {n} posterior futures [80%] (95%); then the headline at the default parameters "
                "with its 95% interval of the mean over replications. Under the rule as enacted with Beijing "
                f"deciding the legal share is {enacted['median']:.3f} "
                f"[{enacted.q10:.3f}, {enacted.q90:.3f}] over what the 2022Q4-2025Q4 record leaves open, "
                f"against the defaults' {enacted.defaults_mean:.3f} "
                f"[{enacted.defaults_ci_low:.3f}, {enacted.defaults_ci_high:.3f}] "
                "from run-to-run noise alone.")
    return "\n".join(lines) + "\n\n" + sentence


def render(text: str, t: pd.DataFrame) -> str:
    return replace_block(text, BEGIN, END, markdown(t))


def main(argv: list[str] | None = None) -> int:
    args = maintenance_arguments("model.analysis.posterior_cells", "docs/exploring/posterior/cells.csv and "
                                 "README.md's posterior table", argv,
                                 ("sweep_folder", "the headline_posterior sweep "
                                                  "(default outputs/headline_posterior)"))
    folder = Path(args.sweep_folder) if args.sweep_folder else SWEEP
    final = pd.read_csv(folder / "final.csv")
    t = cells(final, pd.read_csv(REFERENCE_SWEEP / "summary.csv"))
    CELLS_CSV.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(CELLS_CSV, lambda tmp: t.to_csv(tmp, index=False))
    text = render(README_MD.read_text(encoding="utf-8"), t)
    write_atomic(README_MD, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
