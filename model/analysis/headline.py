"""The README's headline tables, generated from the committed reference results (never typed).

``python -m model.analysis.headline`` rewrites each block of README.md between
``<!-- headline:NAME begin -->`` and ``<!-- headline:NAME end -->`` from
``outputs/export_regimes/summary.csv``; ``tests/test_headline.py`` fails when a block is stale, so a model
change that moves a number either regenerates the table or fails ``make test``.
"""

from __future__ import annotations

import sys

import pandas as pd

from model.core.docblocks import replace_block
from model.core.paths import README_MD, REFERENCE_SWEEP

README = README_MD
SUMMARY = REFERENCE_SWEEP / "summary.csv"
REGIMES = (("ban", "ban"), ("h20", "h20"), ("threshold", "**threshold (as enacted)**"),
           ("lagged", "lagged (18 months, proposal)"), ("open", "open"))
STANCES = ("open", "discourage", "restrict", "ban")
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
        "us_stack_share": table(summary, "us_stack_share"),
        "us_stack_share_incl_offshore": table(summary, "us_stack_share_incl_offshore"),
        "china_compute": table(summary, "china_compute_h100e", scale=1e6, digits=1, interval=False),
        "offshore_compute": table(summary, "offshore_compute_h100e", scale=1e6, digits=1, interval=False),
    }


def render(text: str, generated: dict[str, str]) -> str:
    for name, body in generated.items():
        begin, end = f"<!-- headline:{name} begin -->", f"<!-- headline:{name} end -->"
        try:
            text = replace_block(text, begin, end, body)
        except ValueError:
            raise ValueError(f"README.md has no block '{name}' ({begin} ... {end})") from None
    return text


def main() -> int:
    text = README.read_text(encoding="utf-8")
    new = render(text, blocks(pd.read_csv(SUMMARY)))
    if new != text:
        README.write_text(new, encoding="utf-8")
        print(f"{README}: updated", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
