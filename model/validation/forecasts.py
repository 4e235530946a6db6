"""The frozen forecasts (docs/forecasts/, docs/VALIDATION.md §3.4): what they hold, how one is made
from the replay, and how it is frozen once and checked afterwards.

A forecast is the replay ``experiments/history_2022_2026.toml`` run past the last observed quarter
(``make_forecast``), summarised per quarter over seeds (``forecast_table``), and written once
(``freeze_forecast`` refuses to overwrite a file and records its sha256 in ``SHA256SUMS``). The model may
change after a forecast was frozen: ``make reproduce`` then checks the frozen file against its checksum and
compares the replay at the current commit value by value only while the model is the one the forecast
names (``model.reproduce.frozen_forecast_check``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.core.catalogue import DOMESTIC_LEADER, US_LEADER
from model.core.paths import FORECASTS_DIR  # noqa: F401 (re-exported)
from model.core.quarters import parse_quarter
from model.validation.quarterly import _all_makers, _interval, _period_values, _revenue, _units, run_replay
from model.validation.replay import REPLAY_EXPERIMENT, replay_spec

#: The quantities of a frozen forecast, per quarter: (column, function of one seed's quarter rows).
FORECAST_QUANTITIES = {
    "nvidia_china_revenue_usd": lambda g: _revenue(g, [US_LEADER]),
    "nvidia_share_of_spending": lambda g: _revenue(g, [US_LEADER]) / max(_revenue(g, _all_makers(g)), 1e-9),
    "huawei_units": lambda g: _units(g, [DOMESTIC_LEADER]),
    "huawei_revenue_usd": lambda g: _revenue(g, [DOMESTIC_LEADER]),
    "all_makers_revenue_usd": lambda g: _revenue(g, _all_makers(g)),
    "spent_grey_usd": lambda g: float(g["spent_grey_usd"].sum()),
    "spent_offshore_usd": lambda g: float(g["spent_offshore_usd"].sum()),
}


def forecast_table(runs: pd.DataFrame, quarters: list[str]) -> pd.DataFrame:
    """quarter, quantity, mean, lo, hi (95% over seeds) for the quarters given."""
    rows = []
    for q in quarters:
        for name, fn in FORECAST_QUANTITIES.items():
            vals = _period_values(runs, q, fn)
            if vals is None:
                raise ValueError(f"the replay does not reach {q}")
            mean, lo, hi = _interval(vals)
            rows.append({"quarter": q, "quantity": name, "mean": mean, "lo": lo, "hi": hi,
                         "seeds": len(vals)})
    return pd.DataFrame(rows)


_2026H2_2027 = ["2026Q3", "2026Q4", "2027Q1", "2027Q2", "2027Q3", "2027Q4"]
#: The frozen forecasts (docs/forecasts/): file name -> (last quarter of the replay, quarters forecast).
FORECASTS = {"2026H1.csv": ("2026Q2", ["2026Q1", "2026Q2"]),
             "2026Q3-2027Q4.csv": ("2027Q4", _2026H2_2027),
             "2026Q3-2027Q4-v2.csv": ("2027Q4", _2026H2_2027)}
#: What a forecast changes in the replay file's parameters: v2 lets Beijing decide by its rule (issue 28)
#: instead of following its dated schedule (the replay's US schedule, licences and caps stay).
FORECAST_OVERRIDES = {"2026Q3-2027Q4-v2.csv": {"china_import_policy": "decides", "china_policy_schedule": ""}}
#: Every 2026 fact docs/SOURCES.md held when a forecast was frozen (forecasts frozen from issue 28 on list
#: them in their header: quasi-ex-ante, not ex ante, docs/VALIDATION.md §3.4).
FORECAST_SEEN = {"2026Q3-2027Q4-v2.csv": """\
Quasi-ex-ante: frozen before any 2026H2 outcome was entered in experiments/data/observed.csv, with these
2026 facts in docs/SOURCES.md (the model's policy inputs are only the replay file's schedules and this
forecast's overrides; the rest was seen by whoever froze it):
- Jan 13-15: BIS rule (case by case below TPP 21,000 and 6,500 GB/s, <= 50% of US units, US lab test of
  every shipment); Jan 14: 25% tariff; Jan 13-15: Beijing's customs refuse the H200; Jan 28: first approvals
  (ByteDance, Alibaba, Tencent, > 400k H200 in all); Jan 21 and Mar 26: the AI Overwatch and Chip Security
  Acts advance (not law).
- Feb 10: licence terms agreed with State; Feb 24: Commerce, H200 sold to China 'none so far'; Feb 25:
  Nvidia guides $0 from China; Mar 3: a 75k-per-customer and 1M total cap weighed, 'few licences'; Mar 20:
  Supermicro diversion indictment; Apr 1: IDC's 2025 China shipments; May 14-17: ~10 Chinese firms licensed,
  up to 75k each; May 31: BIS guidance on China-headquartered firms abroad.
- 2026H1 outcomes (docs/SOURCES.md, 'Outcomes of 2026H1'): no Data Center Hopper shipments to China in
  2026Q1, under 1% of data-centre revenue in 2026Q2, a $0.4B H200 charge and a tariff Nvidia could not pass
  on (10-Qs); Nvidia's China revenue on the headquarters basis ($4.55B, $7.88B); Cambricon's 2026Q1 and H1
  revenue; ByteDance's ~36k B200 build-out in Malaysia.
- Read only as one-line digests (L), dated 2026Q3: Nvidia's first limited H200 shipments to China in July
  2026, a Commerce official calling them 'trivial' (Jul 15), Beijing allowing limited H200 imports, 'possibly
  up to 10,000 units' (FT, Aug 20).""",
}


def make_forecast(name: str) -> pd.DataFrame:
    """The forecast ``name`` of ``FORECASTS`` from the replay file at this commit (its seeds, run to its
    last quarter), with the forecast's ``FORECAST_OVERRIDES``."""
    last, quarters = FORECASTS[name]
    params, _, seeds = replay_spec(REPLAY_EXPERIMENT)
    params = {**params, **FORECAST_OVERRIDES.get(name, {})}
    steps = parse_quarter(last) - parse_quarter(params["start_quarter"]) + 1
    return forecast_table(run_replay(params, seeds, steps), quarters)


#: The checksums of the frozen forecasts, one ``sha256  name`` line each (``sha256sum`` format), written
#: when a forecast is frozen: ``make reproduce`` checks each frozen file against it.
FROZEN_SUMS = "SHA256SUMS"


def frozen_sums(folder: Path) -> dict[str, str]:
    """{file name: sha256} recorded when each forecast in ``folder`` was frozen."""
    path = folder / FROZEN_SUMS
    if not path.exists():
        return {}
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in
                                              path.read_text(encoding="utf-8").splitlines() if line.strip())}


def sha256_of(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def frozen_commit(path: Path) -> str:
    """The git commit a frozen forecast names in its header ('' if none)."""
    import re

    with open(path, encoding="utf-8") as fh:
        head = fh.readline()
    found = re.search(r"at git commit ([0-9a-f]{7,40})", head)
    return found.group(1) if found else ""


def freeze_forecast(table: pd.DataFrame, path: Path, header: str) -> Path:
    """Write a forecast once: refuses to overwrite (a frozen forecast is never edited)."""
    from model.sweep.errors import UsageError
    from model.sweep.io import write_atomic

    if path.exists():
        raise UsageError(f"{path}: a frozen forecast exists and is never overwritten; "
                         "allowed: a new file name")
    path.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            for line in header.strip().splitlines():
                fh.write(f"# {line}\n")
            table.to_csv(fh, index=False)

    write_atomic(path, write)
    sums = {**frozen_sums(path.parent), path.name: sha256_of(path)}
    text = "".join(f"{digest}  {name}\n" for name, digest in sorted(sums.items()))
    write_atomic(path.parent / FROZEN_SUMS, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    return path
