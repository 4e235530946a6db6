"""Policy rules as pure functions: which chips the US lets China buy, whom Beijing lets buy them,
and dated policy schedules.

Sources: SOURCES §C1 (US timeline, H) and §C2 (China timeline, H/M); the regimes and
stances are those of ODD.

US regimes, from strictest to loosest (``US_REGIMES`` order is used by reversals):

* ``ban``    — no AI chips at all;
* ``h20``    — only cut-down China parts that comply at the time (A800/H800 until the Oct 2023
  rule, then H20 and MI308);
* ``threshold`` — the rule as enacted (BIS final rule of Jan 13 2026, effective Jan 15, §B4/§C3 H):
  China parts, plus US chips with total processing performance below ``export_tpp_cap`` (21,000)
  and DRAM bandwidth below ``export_bw_cap_gbs`` (6,500 GB/s) (on sale in 2026: the H200, MI300X and
  MI325X), to licensed customers only, within the volume caps; the cap can change by date
  (``threshold@30000`` in ``us_policy_schedule``) or follow the best domestic chip (``us_adaptive``);
* ``lagged`` — a *proposed* rolling lag, not the enacted rule: China parts, plus any chip released
  at least ``export_lag_months`` before the current quarter, to licensed customers only (the
  "about 18 months behind" framing of the Dec 2025 decision, §A2 M/L, taken literally);
* ``open``   — every released chip, to anyone.

Chinese stances, from loosest to strictest:

* ``open``       — no barrier;
* ``discourage`` — window guidance: a utility penalty on US chips, larger for state-affiliated
  developers (Aug 2025 notices, §C2 H);
* ``restrict``   — only developers Beijing approves may buy US chips, never state-affiliated ones
  (Jan 2026 H200 approvals "when necessary", §C2 M), with the guidance penalty;
* ``ban``        — customs block on US AI chips (Oct 2025 customs crackdown, §C2 H).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.core.quarters import format_quarter, parse_quarter

US_REGIMES = ("ban", "h20", "threshold", "lagged", "open")  # strictest first
CHINA_STANCES = ("open", "discourage", "restrict", "ban")  # loosest first
#: Beijing's policies: a stance it holds for every US product, or ``decides`` (its rule, product by product).
DECIDES = "decides"
CHINA_POLICIES = (*CHINA_STANCES, DECIDES)


@dataclass(frozen=True)
class ExportRule:
    """The US export rule in force: the regime and the numbers it reads (``export_lag_months`` under
    'lagged'; the TPP and bandwidth caps under 'threshold')."""

    regime: str
    lag_months: int = 18
    tpp_cap: float = 21_000.0
    bw_cap_gbs: float = 6_500.0


#: The caps a China part was designed to under the ``h20`` regime (the rules of 2023-25): TPP below 4,800
#: (the Oct 2022 and Oct 2023 rules, SOURCES §C1 H) and DRAM bandwidth below ~1,400 GB/s (the limit the
#: RTX Pro 6000D was cut to after the Apr 2025 licence requirement: The Register / FT, Sep 2025, §A1 M).
#: The Oct 2023 rule's performance-density test is not modelled.
H20_ERA_CAPS = (4_800.0, 1_400.0)


#: What a US maker can design a part to (``design_caps``): a product licensed under the threshold's caps,
#: or a China part under the h20-era caps, which any buyer Beijing allows may take (in the order answered).
DESIGN_TRACKS = ("licensed", "china_part")


def design_caps(rule: ExportRule) -> dict[str, tuple[float, float]]:
    """{track: (TPP cap, bandwidth cap)} a US maker can design a part to under ``rule`` (``DESIGN_TRACKS``):
    under ``threshold`` a licensed product under its caps and a China part under ``H20_ERA_CAPS`` (China
    parts stay exportable to anyone under the threshold); under ``h20`` the China part only; nothing under
    ``ban``, ``lagged`` and ``open`` (no cap to design to: nothing is exportable, or the newest chips' age
    decides, or everything is)."""
    if rule.regime == "threshold":
        return {"licensed": (float(rule.tpp_cap), float(rule.bw_cap_gbs)), "china_part": H20_ERA_CAPS}
    if rule.regime == "h20":
        return {"china_part": H20_ERA_CAPS}
    return {}


def us_exportable(rule: ExportRule, quarter: int, chips) -> tuple[np.ndarray, np.ndarray]:
    """Which US chips may be exported to China this quarter.

    ``chips`` has the catalogue's arrays ``release``, ``china_part``, ``compliant_until``, ``tpp`` and
    ``mem_bw_gbs`` (a ``CatalogueArrays``). Returns two boolean arrays over the chips: ``to_anyone``
    (any Chinese buyer may receive them) and ``to_licensed`` (only approved customers may). Chips not
    yet released are never exportable. Under ``threshold`` a chip needs ``tpp < tpp_cap`` and
    ``mem_bw_gbs < bw_cap_gbs`` (strictly below, as in the rule). Pure function of its arguments.
    """
    release = np.asarray(chips.release)
    china_part = np.asarray(chips.china_part)
    released = release <= quarter
    china_ok = china_part & (quarter < np.asarray(chips.compliant_until)) & released
    none = np.zeros(release.shape, dtype=bool)
    regime = rule.regime
    if regime == "ban":
        return none, none
    if regime == "h20":
        return china_ok, none
    if regime == "threshold":
        below = (np.asarray(chips.tpp) < rule.tpp_cap) & (np.asarray(chips.mem_bw_gbs) < rule.bw_cap_gbs)
        return china_ok, released & below & ~china_part
    if regime == "lagged":
        old_enough = released & (3 * (quarter - release) >= rule.lag_months)
        return china_ok, old_enough & ~china_ok
    if regime == "open":
        return released.copy(), none
    raise ValueError(f"unknown export regime {regime!r}; allowed: {', '.join(US_REGIMES)}")


#: What Beijing lets in of one US product, loosest first (ODD 7.1). Buyers: ``open`` anyone (state-affiliated
#: developers too); ``discouraged`` (window guidance as a utility penalty, the stance 'discourage') private
#: developers, and state-affiliated ones only without the state mandate; ``approval`` only the developers
#: Beijing approves, never state-affiliated ones; ``held`` (customs holds a new product while Beijing reviews
#: it; it ends in approval or guidance), ``guided`` (a buyer must justify why domestic chips will not do,
#: which for a product a domestic chip matches it cannot) and ``blocked`` (customs turns it away): nobody.
PRODUCT_LEVELS = ("open", "discouraged", "approval", "held", "guided", "blocked")
OPEN, DISCOURAGED, APPROVAL, HELD, GUIDED, BLOCKED = range(len(PRODUCT_LEVELS))
#: The level a stance sets for every US product (``china_import_policy`` and its schedule, the override).
STANCE_LEVEL = {"open": OPEN, "discourage": DISCOURAGED, "restrict": APPROVAL, "ban": BLOCKED}
#: Developers' tiers for Beijing: state-affiliated, private, private and approved by Beijing.
STATE_TIER, PRIVATE_TIER, APPROVED_TIER = range(3)


def beijing_tier(state_affiliated: np.ndarray, approved: np.ndarray) -> np.ndarray:
    """(n,) each developer's tier for Beijing (``STATE_TIER``, ``PRIVATE_TIER``, ``APPROVED_TIER``)."""
    state = np.asarray(state_affiliated, dtype=bool)
    approved = np.asarray(approved, dtype=bool)
    return np.where(state, STATE_TIER, np.where(approved, APPROVED_TIER, PRIVATE_TIER))


def tier_max_level(state_mandate: bool) -> np.ndarray:
    """(3,) the strictest product level each tier may still buy: state-affiliated developers only ``open``
    products under the state mandate (else also ``discouraged``), private ones ``discouraged``, approved
    ones ``approval``; nobody a ``guided``, ``held`` or ``blocked`` one."""
    return np.array([OPEN if state_mandate else DISCOURAGED, DISCOURAGED, APPROVAL])


def access_by_class(us_rows: np.ndarray, is_us: np.ndarray, levels: np.ndarray,
                    state_mandate: bool) -> np.ndarray:
    """(6 x J) the chips each access class may buy: class = 2 x tier + licensed (``access_class``);
    ``us_rows`` is the US rule's view (``legal_chips_by_class``: row 1 what anyone may get, row 2 also what
    licensed buyers may); a US product also needs ``levels[j]`` at most its tier's ``tier_max_level``."""
    ok = levels[None, :] <= tier_max_level(state_mandate)[:, None]  # (tiers x J)
    let_in = ~is_us[None, :] | ok
    return np.concatenate([us_rows[1:3] & let_in[t][None, :] for t in range(3)])


def access_class(tier: np.ndarray, licensed: np.ndarray) -> np.ndarray:
    """(n,) each developer's row of ``access_by_class``: 2 x its tier + whether it holds a US licence."""
    return (2 * tier + np.asarray(licensed, dtype=bool)).astype(np.intp)


def tighten_us(regime: str) -> str:
    """The next stricter US regime (``ban`` stays ``ban``)."""
    i = US_REGIMES.index(regime)
    return US_REGIMES[max(i - 1, 0)]


def tighten_china(stance: str) -> str:
    """The next stricter Chinese stance (``ban`` stays ``ban``)."""
    i = CHINA_STANCES.index(stance)
    return CHINA_STANCES[min(i + 1, len(CHINA_STANCES) - 1)]


def split_regime(value: str) -> tuple[str, float | None]:
    """``"threshold@30000"`` -> ("threshold", 30000.0); ``"h20"`` -> ("h20", None)."""
    if "@" not in value:
        return value, None
    regime, cap = value.split("@", 1)
    try:
        number = float(cap)
    except ValueError:
        raise ValueError(f"{value!r}: the TPP cap after '@' must be a number") from None
    if regime != "threshold" or not (number > 0 and number < 1e9):
        raise ValueError(f"{value!r}: only 'threshold@CAP' with 0 < CAP < 1e9 takes a cap")
    return regime, number


def _schedule_entries(text: str, parse_value, what: str) -> list[tuple[int, object]]:
    """``"QUARTER:VALUE,..."`` -> sorted [(quarter, parse_value(item, value))]; a quarter given twice
    or an entry without ':' is a ValueError (``what`` names the value in the message)."""
    entries: list[tuple[int, object]] = []
    if text is None or not text.strip():
        return entries
    for raw in text.split(","):
        item = raw.strip()
        if ":" not in item:
            raise ValueError(f"schedule entry {item!r} is not QUARTER:{what}")
        q_text, value = (s.strip() for s in item.split(":", 1))
        q = parse_quarter(q_text)
        parsed = parse_value(item, value)
        if any(q == e[0] for e in entries):
            raise ValueError(f"schedule gives quarter {format_quarter(q)} twice")
        entries.append((q, parsed))
    return sorted(entries)


def parse_schedule(text: str, allowed: tuple[str, ...]) -> list[tuple[int, str]]:
    """Parse ``"2025Q2:h20,2027Q1:ban"`` into ``[(quarter, value), ...]`` sorted by quarter.

    US schedules also take ``threshold@CAP`` (the threshold regime with TPP cap CAP from then on).
    Raises ValueError for a malformed entry, an unknown value or a quarter given twice.
    """
    def value_of(item: str, value: str) -> str:
        base, _ = split_regime(value) if "@" in value else (value, None)
        if base not in allowed or ("@" in value and "threshold" not in allowed):
            raise ValueError(f"schedule entry {item!r}: {value!r} is not one of {', '.join(allowed)}"
                             + (" (or threshold@CAP)" if "threshold" in allowed else ""))
        return value

    return _schedule_entries(text, value_of, "VALUE")


def scheduled_value(schedule: list[tuple[int, str]], quarter: int) -> str | None:
    """The value a schedule sets exactly at ``quarter`` (changes apply from that quarter on)."""
    for q, value in schedule:
        if q == quarter:
            return value
    return None


def parse_count_schedule(text: str) -> list[tuple[int, int]]:
    """Parse ``"2026Q1:3,2026Q2:10"`` (a count from that quarter on) into sorted (quarter, count)."""
    def count_of(item: str, value: str) -> int:
        if not (value.isascii() and value.isdigit()):
            raise ValueError(f"schedule entry {item!r}: {value!r} is not a whole number >= 0 (ASCII digits)")
        return int(value)

    return _schedule_entries(text, count_of, "COUNT")


def format_schedule(entries: list[tuple[int, object]]) -> str:
    """The one spelling of a parsed schedule: ``"2026Q1:3,2026Q2:10"``, sorted, no spaces (so
    ``" 2026q2 : ban"`` and ``"2026Q2:ban"`` are one value, one run id)."""
    return ",".join(f"{format_quarter(q)}:{value}" for q, value in entries)


def in_force_at(schedule: list[tuple[int, object]], quarter: int, initial):
    """The value in force at ``quarter``: the latest scheduled change at or before it, else ``initial``."""
    value = initial
    for q, v in schedule:
        if q <= quarter:
            value = v
    return value
