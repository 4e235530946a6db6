"""The README's headline tables, generated from the committed reference results (never typed).

``python -m model.analysis.headline`` rewrites each block of README.md between
``<!-- headline:NAME begin -->`` and ``<!-- headline:NAME end -->`` from
``outputs/export_regimes/summary.csv`` (and the "Which assumptions matter" tables from
``docs/figures/screening.csv`` and ``sensitivity.csv``); ``tests/test_headline.py`` fails when a block is
stale, so a model
change that moves a number either regenerates the table or fails ``make test``.
"""

from __future__ import annotations

import sys

import pandas as pd

from model.core.docblocks import maintenance_arguments, replace_block
from model.core.paths import README_MD, REFERENCE_SWEEP

README = README_MD
SUMMARY = REFERENCE_SWEEP / "summary.csv"
REGIMES = (("ban", "ban"), ("h20", "h20"), ("threshold", "**threshold (as enacted)**"),
           ("lagged", "lagged (18 months, proposal)"), ("open", "open"))
STANCES = ("decides", "open", "restrict", "ban")  # the columns: Beijing deciding first, then stances
HUAWEI = 600_000


def _cell(row: pd.Series, reporter: str, scale: float, digits: int, interval: bool) -> str:
    mean = row[f"{reporter}_mean"] / scale
    if not interval:
        return f"{mean:.{digits}f}"
    lo, hi = row[f"{reporter}_ci_low"] / scale, row[f"{reporter}_ci_high"] / scale
    return f"{mean:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def table(summary: pd.DataFrame, reporter: str, scale: float = 1.0, digits: int = 2, interval: bool = True,
          huawei: float = HUAWEI) -> str:
    """Markdown table: US regime (rows) x Beijing's stance (columns) at one Huawei scenario."""
    cells = summary[summary["huawei_capacity_2026"] == huawei].set_index(["export_regime",
                                                                        "china_import_policy"])
    lines = ["| US regime \\ Beijing | " + " | ".join(STANCES) + " |", "|---" * (len(STANCES) + 1) + "|"]
    for regime, label in REGIMES:
        row = [_cell(cells.loc[(regime, stance)], reporter, scale, digits, interval) for stance in STANCES]
        if regime == "threshold":
            row = [f"**{c}**" for c in row]
        lines.append(f"| {label} | " + " | ".join(row) + " |")
    return "\n".join(lines)


def blocks(summary: pd.DataFrame) -> dict[str, str]:
    return {
        "us_share_legal": table(summary, "us_share_legal"),
        "developers_on_us_stack": table(summary, "developers_on_us_stack"),
        "compute_ratio": table(summary, "china_to_us_compute_ratio", digits=4, interval=False),
        "us_stack_share": table(summary, "us_stack_share"),
        "us_stack_share_incl_offshore": table(summary, "us_stack_share_incl_offshore"),
        "china_compute": table(summary, "china_compute_h100e", scale=1e6, digits=1, interval=False),
        "offshore_compute": table(summary, "offshore_compute_h100e", scale=1e6, digits=1, interval=False),
        "reading": reading(summary),
    }


def reading(summary: pd.DataFrame, huawei: float = HUAWEI, stance: str = "decides",
            old: str = "restrict") -> str:
    """What the tables say about the December 2025 decision, in sentences built from the same cells: Beijing
    deciding by its rule (``stance``), next to the stance that was the central case before (``old``)."""
    cells = summary[summary["huawei_capacity_2026"] == huawei].set_index(["export_regime",
                                                                        "china_import_policy"])

    def v(regime: str, reporter: str, policy: str = stance) -> float:
        return float(cells.loc[(regime, policy), f"{reporter}_mean"])

    def m(regime: str) -> str:
        return f"{v(regime, 'china_compute_h100e') / 1e6:.1f}M"

    gain = (v("threshold", "china_compute_h100e") - v("ban", "china_compute_h100e")) / 1e6
    return (
        f"With Beijing deciding product by product by its rule (`{stance}`, ODD 7.1b: it guides buyers away "
        "from, then blocks, the US parts a domestic chip matches, holds new ones for review and approves the "
        "largest licensed buyers for the rest), the rule as enacted keeps "
        f"**{v('threshold', 'us_share_legal'):.2f}** of China's installed AI compute (FLOP-based) on US "
        f"chips bought legally since 2026 by 2030, against {v('h20', 'us_share_legal'):.2f} under H20-only "
        f"and {v('ban', 'us_share_legal'):.2f} under a ban. With Beijing held instead at `{old}` (the "
        f"central case before Beijing decided: a random quarter of private demand approved for every US "
        "product) "
        f"the rule kept {v('threshold', 'us_share_legal', old):.2f}, H20-only "
        f"{v('h20', 'us_share_legal', old):.2f}. Of the {v('threshold', 'us_share_legal'):.2f}, "
        f"{v('threshold', 'us_share_designed'):.2f} is parts Nvidia and AMD design to the rule in the run "
        "(`design_to_rule`; China parts under the 2023-25 caps meet Beijing's match and are blocked, as the "
        "RTX Pro 6000D was in 2025), a behaviour no 2026 record confirms yet; "
        f"{v('threshold', 'developers_on_us_stack'):.2f} of developers then have most of their compute on "
        f"US chips, smuggled ones included ({v('ban', 'developers_on_us_stack'):.2f} "
        f"under a ban). Counting every channel, including chips bought before 2026 and smuggled chips, which "
        f"the rule does not decide, the US share is {v('threshold', 'us_stack_share'):.2f} "
        f"({v('ban', 'us_stack_share'):.2f} under a ban). Smuggled chips alone are "
        f"{v('threshold', 'us_share_grey'):.2f} of China's 2030 compute under the rule "
        f"({v('ban', 'us_share_grey'):.2f} under a ban): the largest term, and it rests on the grey market "
        f"fitted to one count (CNAS's 2024 median) and held to 2030 with the roadmap's FLOP-dense chips. "
        f"The rule adds {gain:.1f}M H100e to China's compute "
        f"over a ban ({m('threshold')} vs {m('ban')}), and China's compute is "
        f"{v('threshold', 'china_to_us_compute_ratio'):.4f} of the US's in 2030 "
        f"({v('ban', 'china_to_us_compute_ratio'):.4f} under a ban; the US path is an assumption, "
        f"`us_compute_2026_h100e` and `us_compute_growth`). The rolling lag would keep "
        f"{v('lagged', 'us_share_legal'):.2f} legally and take China's compute to {m('lagged')}.")


#: The parameters experiments/screening.toml screens as dummies (inactive under the rule it screens): the
#: largest of their mu* is the run-noise floor.
DUMMIES = ("export_lag_months", "us_adaptive_margin")
#: A screened parameter "matters" at this multiple of the floor on at least one output.
FLOOR_MULTIPLE = 5.0
SCREENING_CSV = README_MD.parent / "docs/figures/screening.csv"
SENSITIVITY_CSV = README_MD.parent / "docs/figures/sensitivity.csv"
#: Sobol' indices with the US regime and Beijing's stance as factors (experiments/sensitivity_rules.toml).
SENSITIVITY_RULES_CSV = README_MD.parent / "docs/figures/sensitivity_rules.csv"
#: The two governments' choices in that analysis, and how the README names them.
CHOICE_FACTORS = (("export_regime", "US rule"), ("china_import_policy", "Beijing's stance"))


def _output_header(outputs) -> str:
    return " | ".join(f"`{o}`" for o in outputs)


def screening_table(screening: pd.DataFrame, sobol_parameters) -> str:
    """Parameters whose Morris mu* reaches ``FLOOR_MULTIPLE`` x the dummies' on some output, as multiples
    of each output's floor, largest first; those the Sobol' analysis does not vary are marked."""
    outputs = list(dict.fromkeys(screening["output"]))
    ratio = {}
    for out in outputs:
        sub = screening[screening["output"] == out].set_index("parameter")
        floor = float(sub.loc[list(DUMMIES), "mu_star"].max())
        ratio[out] = sub["mu_star"] / floor
    table = pd.DataFrame(ratio)
    table = table[(table >= FLOOR_MULTIPLE).any(axis=1)]
    table = table.loc[table.max(axis=1).sort_values(ascending=False).index]
    lines = ["| parameter | " + _output_header(outputs) + " |", "|---" * (len(outputs) + 1) + "|"]
    for name, row in table.iterrows():
        mark = "" if name in set(sobol_parameters) else " (not in the Sobol' set)"
        lines.append(f"| `{name}`{mark} | " + " | ".join(f"{row[o]:.1f}" for o in outputs) + " |")
    return "\n".join(lines)


def sobol_table(sensitivity: pd.DataFrame, top: int = 6) -> str:
    """The ``top`` parameters by total Sobol' index ST on each output: ST ± its 95% interval (S1)."""
    outputs = list(dict.fromkeys(sensitivity["output"]))
    columns = []
    for out in outputs:
        sub = sensitivity[sensitivity["output"] == out].sort_values("ST", ascending=False).head(top)
        columns.append([f"`{r.parameter}` {r.ST:.2f} ± {r.ST_conf:.2f} ({r.S1:.2f})"
                        for r in sub.itertuples()])
    lines = ["| rank | " + _output_header(outputs) + " |", "|---" * (len(outputs) + 1) + "|"]
    for k in range(top):
        lines.append(f"| {k + 1} | " + " | ".join(c[k] if k < len(c) else "" for c in columns) + " |")
    return "\n".join(lines)


def rules_table(sensitivity: pd.DataFrame, top: int = 3) -> str:
    """Per output: the total (and first-order) Sobol' index of the US rule and of Beijing's stance, then
    the ``top`` assumptions by total index, from the analysis with both choices as factors."""
    factors = [name for name, _ in CHOICE_FACTORS]
    lines = ["| 2030 output | " + " | ".join(label for _, label in CHOICE_FACTORS)
             + f" | largest {top} assumptions |", "|---" * (len(factors) + 2) + "|"]
    for out in dict.fromkeys(sensitivity["output"]):
        sub = sensitivity[sensitivity["output"] == out].set_index("parameter")
        cells = [f"{sub.loc[f, 'ST']:.2f} ± {sub.loc[f, 'ST_conf']:.2f} ({sub.loc[f, 'S1']:.2f})"
                 for f in factors]
        rest = sub.drop(index=factors).sort_values("ST", ascending=False).head(top)
        cells.append(", ".join(f"`{name}` {st:.2f}" for name, st in rest["ST"].items()))
        lines.append(f"| `{out}` | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def assumption_blocks(screening: pd.DataFrame, sensitivity: pd.DataFrame,
                      rules: pd.DataFrame | None = None) -> dict[str, str]:
    """README's "Which assumptions matter" tables, from docs/figures/screening.csv and sensitivity.csv
    (and sensitivity_rules.csv, the analysis with the two governments' choices as factors)."""
    blocks = {"screening": screening_table(screening, sensitivity["parameter"]),
              "sobol": sobol_table(sensitivity)}
    if rules is not None:
        blocks["sobol_rules"] = rules_table(rules)
    return blocks


def committed_assumption_blocks() -> dict[str, str]:
    """:func:`assumption_blocks` of the committed CSVs."""
    return assumption_blocks(pd.read_csv(SCREENING_CSV), pd.read_csv(SENSITIVITY_CSV),
                             pd.read_csv(SENSITIVITY_RULES_CSV))


def render(text: str, generated: dict[str, str]) -> str:
    for name, body in generated.items():
        begin, end = f"<!-- headline:{name} begin -->", f"<!-- headline:{name} end -->"
        try:
            text = replace_block(text, begin, end, body)
        except ValueError:
            raise ValueError(f"README.md has no block '{name}' ({begin} ... {end})") from None
    return text


def main(argv: list[str] | None = None) -> int:
    """``python -m model.analysis.headline``: rewrite README.md's headline and assumption tables."""
    maintenance_arguments("model.analysis.headline", "the headline and assumption tables of README.md from "
                          "outputs/export_regimes/summary.csv and the screening and Sobol' results", argv)
    text = README.read_text(encoding="utf-8")
    new = render(text, {**blocks(pd.read_csv(SUMMARY)), **committed_assumption_blocks()})
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"{README}: updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
