"""What produces the headline: the US share of China's installed compute split by the channel the US
chips came through (issue 26, item 2, as a generated table until the model reports it by channel).

For the headline's settings (``experiments/export_regimes.toml``: 300 developers, rules as set, Huawei's
central scenario) and Beijing's stance as enacted (``restrict``), each US export rule is run over a few
seeds and China's installed compute at 2030Q4 is split into

* **legacy**: US chips bought before the run's start (2026Q1) and still in service: the backcast
  installed base at the start, depreciated as the model depreciates it;
* **grey**: smuggled US chips still in service (the model's ``Developers.grey_installed``);
* **legal**: every other US chip in China, i.e. bought through licensed or unrestricted sales since the
  rule took effect (the US stack's compute minus the two above).

The three shares sum to ``us_stack_share`` (to rounding: each is its part over the same total). The unit
is the model's effective H100e (``china_compute_h100e`` as the headline reports it). Nothing here changes
the model: it reads the state after each quarter. ``python -m model.validation.decomposition`` rewrites
the table in README.md (checked by ``tests/test_decomposition.py``).
"""

from __future__ import annotations

import sys

import pandas as pd

from model.core.docblocks import replace_block
from model.core.parameters import DEFAULTS
from model.core.paths import README_MD
from model.sweep.io import write_atomic

#: The headline's settings the decomposition runs with (experiments/export_regimes.toml) and its stance.
SETTINGS = {"n_developers": 300, "realize_reversals": False, "china_import_policy": "restrict",
            "huawei_capacity_2026": 600_000}
REGIMES = ("ban", "h20", "threshold", "lagged", "open")
SEEDS = (1, 2, 3, 4, 5)
STEPS = 20
BEGIN, END = "<!-- decomposition:table begin -->", "<!-- decomposition:table end -->"
CHANNELS = ("legal", "legacy", "grey")


def decompose(params: dict, seed: int, steps: int = STEPS) -> dict[str, float]:
    """One run's US share of China's installed compute at its last quarter, by channel."""
    from model.core.chip_market import ChipMarketModel

    m = ChipMarketModel(rng=seed, **params)
    us = m.us_maker_mask
    legacy = float(m.developers.installed[:, us].sum())  # the backcast base: every US chip bought before
    for _ in range(steps):
        m.step()
        legacy *= 1.0 - m.depreciation  # depreciated as ``population.install`` depreciates the base
    dev = m.developers
    total = float(dev.installed.sum())
    us_total = float(dev.installed[:, us].sum())
    grey = float(dev.grey_installed)
    legal = us_total - legacy - grey
    return {"us_stack_share": m.reported["us_stack_share"], "legal": legal / total,
            "legacy": legacy / total, "grey": grey / total,
            "developers_on_us_stack": m.reported["developers_on_us_stack"],
            "china_compute_h100e": total}


def table(regimes=REGIMES, seeds=SEEDS, settings: dict | None = None) -> pd.DataFrame:
    """Mean over ``seeds`` of each regime's decomposition (one row per regime)."""
    settings = SETTINGS if settings is None else settings
    rows = []
    for regime in regimes:
        runs = pd.DataFrame([decompose({**settings, "export_regime": regime}, s) for s in seeds])
        rows.append({"export_regime": regime, **runs.mean().to_dict()})
    return pd.DataFrame(rows)


def _share(x: float) -> str:
    """A share to two decimals; a residual of rounding below zero shows as 0.00, not -0.00."""
    return f"{round(float(x), 2) + 0.0:.2f}"


def _largest(row: pd.Series) -> str:
    return max(CHANNELS, key=lambda c: row[c])


def markdown(t: pd.DataFrame) -> str:
    """The README table and the sentence that says which channel produces most of the US share."""
    lines = ["| US regime (Beijing `restrict`) | US stack share, all channels | bought legally since 2026 "
             "| bought before 2026, still in service | smuggled | developers mostly on US chips |",
             "|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        name = "**threshold (as enacted)**" if r.export_regime == "threshold" else r.export_regime
        cells = [_share(r[c]) for c in ("us_stack_share", *CHANNELS, "developers_on_us_stack")]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    not_legal = t[[_largest(r) != "legal" for _, r in t.iterrows()]]
    enacted = t.set_index("export_regime").loc["threshold"]
    other = enacted.legacy + enacted.grey
    grey_budget = DEFAULTS["grey_capacity_usd"] / 1e9
    of_it = other / enacted.us_stack_share
    sentence = (f"Under the rule as enacted, {_share(enacted.legal)} of the "
                f"{_share(enacted.us_stack_share)} is bought legally since 2026 and {_share(other)} "
                f"({of_it:.0%} of it) "
                "comes from chips bought before 2026 and from smuggled chips, which the 2026 rule does not "
                f"decide in this model (the grey channel is a fixed ${grey_budget:g}B a quarter, "
                "`grey_capacity_usd`); "
                + (f"under {', '.join(f'`{x}`' for x in not_legal.export_regime)} the largest term is not "
                   "the legal channel." if len(not_legal) else "under every rule the legal channel is the "
                   "largest term."))
    return "\n".join(lines) + "\n\n" + sentence


def render(readme: str, t: pd.DataFrame) -> str:
    return replace_block(readme, BEGIN, END, markdown(t))


def main(argv: list[str] | None = None) -> int:
    """``python -m model.validation.decomposition``: rewrite the decomposition table in README.md."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        sys.stderr.write("usage: python -m model.validation.decomposition (rewrites README.md's table)\n")
        return 2
    text = render(README_MD.read_text(encoding="utf-8"), table())
    write_atomic(README_MD, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
