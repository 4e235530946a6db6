"""The calibration's tables in docs/VALIDATION.md §3.6, generated from its committed outputs (never typed):
the posterior (prior -> posterior median and 90% interval per parameter, ``posterior.csv``) and the
coverage of the posterior predictive over the targets (``predictive.csv``).

``python -m model.validation.abc_doc`` rewrites both blocks; ``tests/test_abc_calibration.py`` fails when one
is stale, so a new calibration either regenerates them or fails ``make test``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.core.docblocks import maintenance_arguments, replace_block
from model.core.paths import VALIDATION_MD
from model.sweep.io import write_atomic
from model.validation.abc_holdout import CALIBRATION_DIR

POSTERIOR_CSV = CALIBRATION_DIR / "posterior.csv"
PREDICTIVE_CSV = CALIBRATION_DIR / "predictive.csv"
POSTERIOR_BLOCK = ("<!-- abc:posterior begin -->", "<!-- abc:posterior end -->")
COVERAGE_BLOCK = ("<!-- abc:coverage begin -->", "<!-- abc:coverage end -->")
#: A posterior "piles against" a prior bound when its 90% bound is within ``AGAINST_BOUND`` of the prior's
#: support from it and its median within ``AGAINST_MEDIAN`` (on the log scale for a loguniform prior).
AGAINST_BOUND, AGAINST_MEDIAN = 0.05, 0.2


def _num(x: float) -> str:
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= scale:
            return f"{x / scale:.3g}{suffix}"
    return f"{x:.3g}"


def _support(prior: str) -> tuple[float, float]:
    """(low, high) of a prior written as ``distribution(low, high)``."""
    low, high = prior[prior.index("(") + 1:prior.rindex(")")].split(",")
    return float(low), float(high)


def reading(row: pd.Series) -> str:
    """The identifiability verdict, and whether the posterior piles against a bound of the prior."""
    low, high = _support(row["prior"])
    scale = np.log if row["prior"].startswith("loguniform") else (lambda x: x)
    low, high = scale(low), scale(high)

    def position(column: str) -> float:  # 0 at the lower bound, 1 at the upper
        return float((scale(row[column]) - low) / (high - low))

    median = position("posterior_median")
    against = [side for side, near in (
        ("lower", position("posterior_q05") < AGAINST_BOUND and median < AGAINST_MEDIAN),
        ("upper", position("posterior_q95") > 1 - AGAINST_BOUND and median > 1 - AGAINST_MEDIAN)) if near]
    return row["identifiability"] + "".join(f" (against the {side} bound)" for side in against)


def posterior_markdown(posterior: pd.DataFrame) -> str:
    lines = ["| parameter | prior | prior median [90%] | posterior median [90%] "
             "| posterior / prior 90% width | reading |", "|---|---|---|---|---|---|"]
    for _, r in posterior.iterrows():
        lines.append(f"| `{r['parameter']}` | {r['prior']} | {_num(r['prior_median'])} "
                     f"[{_num(r['prior_q05'])}, {_num(r['prior_q95'])}] | **{_num(r['posterior_median'])}** "
                     f"[{_num(r['posterior_q05'])}, {_num(r['posterior_q95'])}] | {r['width_ratio']:.2f} "
                     f"| {reading(r)} |")
    first = posterior.iloc[0]
    lines += ["", f"{len(posterior)} parameters; the last generation ({int(first['generation']) + 1} in all) "
                  f"has {int(first['particles'])} particles, an effective sample size of {first['ess']:.0f} "
                  f"and ε {first['epsilon']:.2f}."]
    return "\n".join(lines)


def coverage_markdown(predictive: pd.DataFrame) -> str:
    n = len(predictive)
    with_error = int(predictive["covered"].sum())
    model_only = int(((predictive["observed"] >= predictive["model_q05"])
                      & (predictive["observed"] <= predictive["model_q95"])).sum())
    missed = predictive.loc[~predictive["covered"], "target"].tolist()
    tail = f" Outside it: {', '.join(f'`{t}`' for t in missed)}." if missed else ""
    return (f"The record lies inside the 90% posterior predictive interval (model plus measurement error) "
            f"for **{with_error} of {n}** targets; inside the model's own 90% interval (without the "
            f"measurement error) for {model_only} of {n}.{tail}")


def render(text: str, posterior: pd.DataFrame, predictive: pd.DataFrame) -> str:
    text = replace_block(text, *POSTERIOR_BLOCK, posterior_markdown(posterior))
    return replace_block(text, *COVERAGE_BLOCK, coverage_markdown(predictive))


def committed_render(text: str) -> str:
    return render(text, pd.read_csv(POSTERIOR_CSV), pd.read_csv(PREDICTIVE_CSV))


def main(argv: list[str] | None = None) -> int:
    """``python -m model.validation.abc_doc``: rewrite §3.6's posterior and coverage blocks."""
    maintenance_arguments("model.validation.abc_doc", "the posterior and coverage tables of "
                          "docs/VALIDATION.md §3.6 from docs/validation/calibration/posterior.csv and "
                          "predictive.csv", argv)
    text = VALIDATION_MD.read_text(encoding="utf-8")
    new = committed_render(text)
    if new != text:
        write_atomic(VALIDATION_MD, lambda tmp: tmp.write_text(new, encoding="utf-8"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
