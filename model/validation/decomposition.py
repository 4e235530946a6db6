"""What produces the headline: the US share of China's installed compute split by the channel the US
chips came through, with the US-China compute ratio (issue 26, items 2-3), as a generated README table.

For the headline's settings (``experiments/export_regimes.toml``: 300 developers, rules as set, Huawei's
central scenario) and Beijing deciding by its rule (``decides``), each US export rule is run over a few
seeds and the model's reporters at 2030Q4 are averaged: ``us_share_legal`` (US chips bought through
licensed or unrestricted sales since 2026), ``us_share_legacy`` (bought before 2026, still in service),
``us_share_grey`` (smuggled), which sum to ``us_stack_share`` exactly; the part of the legal share bought
as parts designed to the rule (``us_share_designed``); compute abroad (``offshore_compute_h100e``) and the
share including it (``us_stack_share_incl_offshore``); ``developers_on_us_stack``; and
``china_to_us_compute_ratio``. Shares and compute are FLOP-based H100e (the model's ledger of installed
chips, ``model.core.ledger``).

A second table says what Washington's licence terms (issue 28) do to the enacted rule's legal share: the
threshold rule run with the terms added one at a time (``LICENCE_STEPS``), under Beijing deciding and open.
``python -m model.validation.decomposition`` rewrites both tables in README.md (checked by
``tests/test_decomposition.py``).
"""

from __future__ import annotations

import pandas as pd

from model.core.docblocks import maintenance_arguments, replace_block
from model.core.parameters import DEFAULTS
from model.core.paths import README_MD
from model.sweep.io import write_atomic

#: The headline's settings the decomposition runs with (experiments/export_regimes.toml) and its stance.
SETTINGS = {"n_developers": 300, "realize_reversals": False, "china_import_policy": "decides",
            "huawei_capacity_2026": 600_000}
REGIMES = ("ban", "h20", "threshold", "lagged", "open")
SEEDS = (1, 2, 3, 4, 5)
STEPS = 20
BEGIN, END = "<!-- decomposition:table begin -->", "<!-- decomposition:table end -->"
LIC_BEGIN, LIC_END = "<!-- decomposition:licence_terms begin -->", "<!-- decomposition:licence_terms end -->"
#: Washington's licence terms added one at a time to the threshold rule (the last step is the defaults).
LICENCE_STEPS = {
    "licences drawn at random, no caps (before issue 28)": {
        "us_licence_allocation": "random", "per_customer_cap_units": float("inf"),
        "us_licence_total_cap_units": float("inf")},
    "licences to the largest private developers": {
        "per_customer_cap_units": float("inf"), "us_licence_total_cap_units": float("inf")},
    "+ 75,000 units a customer a year": {"us_licence_total_cap_units": float("inf")},
    "+ 1M units in all (the defaults)": {},
}
CHANNELS = ("legal", "legacy", "grey")


def decompose(params: dict, seed: int, steps: int = STEPS) -> dict[str, float]:
    """One run's US share of China's installed compute at its last quarter, by channel, and the other
    columns of the table (the model's reporters)."""
    from model.core.chip_market import ChipMarketModel

    last = ChipMarketModel(rng=seed, **params).run(steps).iloc[-1]
    return {"us_stack_share": last["us_stack_share"],
            **{c: last[f"us_share_{c}"] for c in CHANNELS},
            **{k: last[k] for k in ("developers_on_us_stack", "china_to_us_compute_ratio",
                                    "china_compute_h100e", "us_share_designed", "offshore_compute_h100e",
                                    "us_stack_share_incl_offshore")}}


def table(regimes=REGIMES, seeds=SEEDS, settings: dict | None = None) -> pd.DataFrame:
    """Mean over ``seeds`` of each regime's decomposition (one row per regime)."""
    settings = SETTINGS if settings is None else settings
    rows = []
    for regime in regimes:
        runs = pd.DataFrame([decompose({**settings, "export_regime": regime}, s) for s in seeds])
        rows.append({"export_regime": regime, **runs.mean().to_dict()})
    return pd.DataFrame(rows)


def licence_table(seeds=SEEDS, stances=("decides", "open")) -> pd.DataFrame:
    """The threshold rule with Washington's licence terms added one at a time (``LICENCE_STEPS``), under each
    of Beijing's ``stances``: mean over ``seeds`` of the 2030 legal share, China's compute and the licensed
    units sold over the run (one row per step and stance)."""
    from model.core.chip_market import ChipMarketModel

    rows = []
    for stance in stances:
        for step, terms in LICENCE_STEPS.items():
            runs = []
            for seed in seeds:
                m = ChipMarketModel(rng=seed, **{**SETTINGS, "export_regime": "threshold",
                                                 "china_import_policy": stance, **terms})
                last = m.run(STEPS).iloc[-1]
                runs.append({"legal": last["us_share_legal"],
                             "licensed_units": m.us_government.licensed_units,
                             "china_compute_h100e": last["china_compute_h100e"]})
            rows.append({"stance": stance, "terms": step, **pd.DataFrame(runs).mean().to_dict()})
    return pd.DataFrame(rows)


def licence_markdown(t: pd.DataFrame) -> str:
    """The README table of the licence terms and the sentence naming the term that moves the share most."""
    lines = ["| threshold rule, with | Beijing | US share bought legally since 2026 | licensed units sold "
             "2026-30 (M) | China's compute (M H100e) |", "|---|---|---|---|---|"]
    for _, r in t.iterrows():
        lines.append(f"| {r.terms} | `{r.stance}` | {_share(r.legal)} | {r.licensed_units / 1e6:.2f} | "
                     f"{r.china_compute_h100e / 1e6:.1f} |")
    d = t[t.stance == "decides"].reset_index(drop=True)
    moves = d.legal.diff().iloc[1:]
    k = int(moves.abs().idxmax())
    first, last = d.legal.iloc[0], d.legal.iloc[-1]
    share_of_change = moves.loc[k] / (last - first) if last != first else 1.0
    sentence = (f"With Beijing deciding, the terms take the enacted rule's legal share from {_share(first)} "
                f"to {_share(last)}; the step that moves it most is \"{d.terms.iloc[k]}\" "
                f"({_share(d.legal.iloc[k - 1])} to {_share(d.legal.iloc[k])}, {share_of_change:.0%} of "
                "the change). The reported caps give no period: reading the 1M as a total over the "
                "licences' life is an ASSUMPTION (`us_licence_total_cap_units`, range 0.5M-3M, in the "
                "screening and the Sobol' set).")
    return "\n".join(lines) + "\n\n" + sentence


def _share(x: float) -> str:
    """A share to two decimals; a residual of rounding below zero shows as 0.00, not -0.00."""
    return f"{round(float(x), 2) + 0.0:.2f}"


def _largest(row: pd.Series) -> str:
    return max(CHANNELS, key=lambda c: row[c])


def markdown(t: pd.DataFrame) -> str:
    """The README table and the sentence that says which channel produces most of the US share."""
    lines = ["| US rule (Beijing `decides`) | US share bought legally since 2026 | of it: parts designed to "
             "the rule | US share bought before 2026 | US share smuggled | US share, all channels | China's "
             "compute (M H100e) | compute abroad (M H100e) | US share incl. abroad | China's compute / the "
             "US's | developers mostly on US chips |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in t.iterrows():
        name = "**threshold (as enacted)**" if r.export_regime == "threshold" else r.export_regime
        cells = ([_share(r[c]) for c in ("legal", "us_share_designed", "legacy", "grey", "us_stack_share")]
                 + [f"{r.china_compute_h100e / 1e6:.1f}", f"{r.offshore_compute_h100e / 1e6:.1f}",
                    _share(r.us_stack_share_incl_offshore), f"{r.china_to_us_compute_ratio:.4f}",
                    _share(r.developers_on_us_stack)])
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    not_legal = t[[_largest(r) != "legal" for _, r in t.iterrows()]]
    enacted = t.set_index("export_regime").loc["threshold"]
    other = enacted.legacy + enacted.grey
    of_it = other / enacted.us_stack_share
    by = t.set_index("export_regime")
    designed = enacted.us_share_designed / enacted.legal if enacted.legal > 0 else 0.0
    sentence = (f"Under the rule as enacted, {_share(enacted.legal)} of the "
                f"{_share(enacted.us_stack_share)} is bought legally since 2026 ({designed:.0%} of that as "
                "parts US makers designed to the rule, `design_to_rule`) and "
                f"{_share(other)} "
                f"({of_it:.0%} of it) "
                "comes from chips bought before 2026 and from smuggled chips, which the 2026 rule decides "
                "only through the budget it leaves unmet (the grey market's supply line, "
                f"`grey_supply_units` = {DEFAULTS['grey_supply_units']:,.0f} chips a quarter at a 100% "
                "premium, "
                "and enforcement, `grey_seizure_share`, are assumptions); "
                + (f"under {', '.join(f'`{x}`' for x in not_legal.export_regime)} the largest term is not "
                   "the legal channel." if len(not_legal) else "under every rule the legal channel is the "
                   "largest term.")
                + f" China's compute in 2030 is {by.china_compute_h100e.min() / 1e6:.1f}M-"
                f"{by.china_compute_h100e.max() / 1e6:.1f}M H100e across the rules, "
                f"{by.china_to_us_compute_ratio.min():.4f}-{by.china_to_us_compute_ratio.max():.4f} "
                "of the US's; "
                "the level of that ratio is set by the assumed US path (`us_compute_2026_h100e` growing "
                "`us_compute_growth`-fold a year), the differences between rules by the model.")
    return "\n".join(lines) + "\n\n" + sentence


def render(readme: str, t: pd.DataFrame, licence: pd.DataFrame) -> str:
    return replace_block(replace_block(readme, BEGIN, END, markdown(t)), LIC_BEGIN, LIC_END,
                         licence_markdown(licence))


def main(argv: list[str] | None = None) -> int:
    """``python -m model.validation.decomposition``: rewrite the decomposition tables in README.md."""
    maintenance_arguments("model.validation.decomposition", "the decomposition tables of README.md (from "
                          "runs of the model)", argv)
    text = render(README_MD.read_text(encoding="utf-8"), table(), licence_table())
    write_atomic(README_MD, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
