"""Calendar quarters as integers.

A quarter such as ``2026Q1`` is stored as the integer ``year * 4 + (q - 1)`` so that quarter
arithmetic is integer arithmetic: the quarter after ``2026Q4`` is ``2027Q1``, and the number of
months between two quarters is ``3 * (b - a)``.
"""

from __future__ import annotations

import re
from functools import lru_cache

#: ASCII digits only (``\d`` alone would take any script's digits, e.g. Arabic-Indic); 'q' as 'Q'.
_QUARTER = re.compile(r"(\d{4})Q([1-4])", re.ASCII | re.IGNORECASE)


@lru_cache(maxsize=256)
def parse_quarter(text: str) -> int:
    """``"2026Q1"`` (or ``" 2026q1 "``: surrounding whitespace and the case of Q do not matter) ->
    integer quarter index. Raises ValueError on anything else, digits of other scripts included (kept per
    text: the rules parse the same few parameter quarters every quarter)."""
    if not isinstance(text, str):
        raise ValueError(f"expected a quarter like '2026Q1', got {text!r}")
    m = _QUARTER.fullmatch(text.strip())
    if not m:
        ascii_only = "" if text.isascii() else " (in ASCII: the digits 0-9 and Q)"
        raise ValueError(f"expected a quarter like '2026Q1'{ascii_only}, got {text!r}")
    year, q = int(m.group(1)), int(m.group(2))
    if not 1990 <= year <= 2100:
        raise ValueError(f"quarter year must be within 1990-2100, got {text!r}")
    return year * 4 + (q - 1)


def canonical_quarter(text: str) -> str:
    """The one spelling of a quarter: ``" 2026q1 "`` -> ``"2026Q1"``. Raises ValueError as
    :func:`parse_quarter`."""
    return format_quarter(parse_quarter(text))


def format_quarter(index: int) -> str:
    """Integer quarter index -> ``"2026Q1"``."""
    year, q = divmod(int(index), 4)
    return f"{year}Q{q + 1}"


def quarter_year(index: int) -> int:
    """Calendar year of an integer quarter index."""
    return int(index) // 4


def months_between(earlier: int, later: int) -> int:
    """Months from the start of quarter ``earlier`` to the start of quarter ``later``."""
    return 3 * (int(later) - int(earlier))


Q2026 = 2026 * 4  # 2026Q1


def years_since_2026(index: int) -> float:
    """Fractional years from 2026Q1 (negative before it); used for growth paths anchored on 2026."""
    return (int(index) - Q2026) / 4.0
