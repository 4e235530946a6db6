"""Labels and formats for the analysis: parameter and reporter labels with units (reporters from the
one table, :data:`model.core.reporters.REPORTERS`), short value texts and meaningful value orders."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from model.core.catalogue import DOMESTIC_LEADER
from model.core.parameters import PARAMS_BY_NAME
from model.core.policy import CHINA_POLICIES, US_REGIMES
from model.core.reporters import REPORTERS_BY_NAME

#: The headline's lead reporter (issue 26: the legal-channel share), the default outcome of ``robust`` and
#: ``discover``.
HEADLINE_REPORTER = "us_share_legal"
ORDERS = {"export_regime": tuple(US_REGIMES), "china_import_policy": tuple(CHINA_POLICIES)}
NICE_NAMES = {
    "export_regime": "US export regime",
    "china_import_policy": "Beijing's policy on US chips",
    "huawei_capacity_2026": f"{DOMESTIC_LEADER} 2026 capacity",
}


def param_label(name: str) -> str:
    """Axis label for a parameter, with its unit."""
    base = NICE_NAMES.get(name, name.replace("_", " "))
    p = PARAMS_BY_NAME.get(name)
    if p is not None and p.unit and p.unit != "-":
        return f"{base} ({p.unit})"
    return base


def reporter_title(reporter: str) -> str:
    """The reporter's label (its name for an unknown reporter)."""
    r = REPORTERS_BY_NAME.get(reporter)
    return r.label if r else reporter


def reporter_unit(reporter: str) -> str:
    """The unit a reporter is shown in ('' for an unknown reporter)."""
    r = REPORTERS_BY_NAME.get(reporter)
    return r.unit if r else ""


def is_share(reporter: str) -> bool:
    """Whether a reporter is a share between 0 and 1 (its unit says so), drawn on a fixed 0-1 scale."""
    return reporter_unit(reporter).startswith(("0-1", "share, 0-1"))


def reporter_label(reporter: str) -> str:
    """Axis label for a reporter: 'label (unit)'."""
    r = REPORTERS_BY_NAME.get(reporter)
    return r.axis_label if r else reporter.replace("_", " ")


def reporter_scale(reporter: str) -> float:
    """The divisor that takes a reporter's raw value to its unit (1 for an unknown reporter)."""
    r = REPORTERS_BY_NAME.get(reporter)
    return r.scale if r else 1.0


def fmt_value(value: Any) -> str:
    """Short text for a parameter value: 600000 -> '600k', 0.25 -> '0.25', 'ban' -> 'ban'."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value)).lower()
    if isinstance(value, (int, float, np.integer, np.floating)):
        v = float(value)
        if not math.isfinite(v):
            return str(value)
        if abs(v) >= 1e6:
            return f"{v / 1e6:g}M"
        if abs(v) >= 1e4:
            return f"{v / 1e3:g}k"
        return f"{v:g}"
    return str(value)


def ordered_values(name: str, values) -> list:
    """Distinct values of a parameter in a meaningful order (policy order, numeric, or as listed)."""
    uniq = list(pd.unique(pd.Series(list(values)).dropna()))
    order = ORDERS.get(name)
    if order:
        known = [v for v in order if v in uniq]
        return known + sorted((v for v in uniq if v not in order), key=str)
    try:
        return sorted(uniq)
    except TypeError:
        return sorted(uniq, key=str)


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
