"""The ``[game]`` section of an experiment file: the policy game's two sides and its futures, as data
(``chipstack game EXPERIMENT``, docs/EXPLORING.md §6).

::

    [game]
    statistic = "final"                       # a reporter's value at the last quarter (the only one)
    frontier = ["us_share_legal", "china_compute_h100e"]   # benefit (higher is better), cost (lower)

    [game.us]                                 # the leader: Washington
    strategies = { export_regime = ["ban", "h20", "threshold", "lagged", "open"] }   # crossed in full
    weights = { us_share_legal = 1.0, china_compute_h100e = -1.0 }
    weight_grid = { china_compute_h100e = [0.0, -0.5, -1.0, -2.0] }   # optional: weights as uncertainty

    [game.china]                              # the follower: Beijing
    strategies = { china_import_policy = ["open", "discourage", "restrict", "ban", "decides"] }
    weights = { domestic_revenue_usd = 1.0, china_compute_h100e = 1.0 }

    [game.futures]                            # stated uncertainty settings, crossed in full
    huawei_capacity_2026 = [300000, 600000, 1200000]

A game is a sweep: its grid is the US strategy axes, then Beijing's, then the futures, and its levers
are both sides' strategy axes, so a run's seed comes from its future and replication only (common
random numbers: every strategy pair meets a future with the same draws). ``[game]`` replaces
``[grid]``, ``[sample]``, ``[levers]`` and ``[uncertainties]``. The weights do not change the runs
(they are not part of the sweep's fingerprint): a game re-solved with other weights reuses its runs.

This module checks the section's structure and its reporter names; the parameter names and values are
checked by :mod:`model.sweep.schema`'s checker, with the same one-line messages.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any

from model.sweep.errors import UsageError

SIDES = ("us", "china")
STATISTICS = ("final",)
#: at most this many strategies a side: the equilibria come from support enumeration over every pair of
#: supports (2^m x 2^n of them), which stays fast up to here
MAX_STRATEGIES = 8
MAX_WEIGHT_COMBINATIONS = 10_000
SIDE_KEYS = ("strategies", "weights", "weight_grid")
GAME_KEYS = ("statistic", "frontier", "us", "china", "futures")


@dataclass(frozen=True)
class Side:
    """One player: its strategy axes (parameter -> values, crossed in full) and its objective (weights
    on reporters; ``weight_grid``: reporter -> alternative weights, for the weights-as-uncertainty view)."""

    strategies: dict[str, list[Any]]
    weights: dict[str, float]
    weight_grid: dict[str, list[float]] = field(default_factory=dict)

    def n_strategies(self) -> int:
        return math.prod(len(v) for v in self.strategies.values())

    def as_dict(self) -> dict:
        return {"strategies": self.strategies, "weights": self.weights, "weight_grid": self.weight_grid}


@dataclass(frozen=True)
class GameSpec:
    us: Side
    china: Side
    futures: dict[str, list[Any]]
    statistic: str = "final"
    frontier: tuple[str, str] = ("us_share_legal", "china_compute_h100e")

    @property
    def grid(self) -> dict[str, list[Any]]:
        """The sweep's grid: US axes, Beijing's axes, then the futures."""
        return self.us.strategies | self.china.strategies | self.futures

    @property
    def levers(self) -> tuple[str, ...]:
        return tuple(self.us.strategies) + tuple(self.china.strategies)

    def as_dict(self) -> dict:
        return {"statistic": self.statistic, "frontier": list(self.frontier), "us": self.us.as_dict(),
                "china": self.china.as_dict(), "futures": self.futures}


def parse_game(data: Any, source: str, reporters: tuple[str, ...], check_axis) -> GameSpec:
    """``[game]`` of ``source`` (the parsed TOML table) -> :class:`GameSpec`. ``check_axis(name, values,
    section)`` validates a parameter axis (schema's checker). Raises UsageError (one line)."""

    def fail(message: str) -> UsageError:
        return UsageError(f"{source}: {message}")

    table = _table(data, "[game]", fail)
    _known_keys(table, GAME_KEYS, "[game]", fail)
    statistic = table.get("statistic", "final")
    if statistic not in STATISTICS:
        raise fail(f"[game] key 'statistic': value {statistic!r}; allowed: one of {', '.join(STATISTICS)} "
                   f"(a reporter's value at the last quarter)")
    frontier = table.get("frontier", ["us_share_legal", "china_compute_h100e"])
    if not (isinstance(frontier, list) and len(frontier) == 2 and all(isinstance(r, str) for r in frontier)):
        raise fail(f"[game] key 'frontier': value {frontier!r}; allowed: [benefit, cost], two reporter names")
    for name in frontier:
        _reporter(name, "[game] frontier", reporters, fail)
    sides = {}
    for side in SIDES:
        if side not in table:
            raise fail(f"[game.{side}] is missing; allowed: a table [game.{side}] with strategies and "
                       f"weights")
        sides[side] = _side(table[side], f"game.{side}", reporters, check_axis, fail)
    futures_table = _table(table.get("futures", {}), "[game.futures]", fail)
    futures = {name: check_axis(name, values if isinstance(values, list) else [values], "game.futures")
               for name, values in futures_table.items()}
    return GameSpec(us=sides["us"], china=sides["china"], futures=futures, statistic=statistic,
                    frontier=(frontier[0], frontier[1]))


def _side(data: Any, where: str, reporters: tuple[str, ...], check_axis, fail) -> Side:
    table = _table(data, f"[{where}]", fail)
    _known_keys(table, SIDE_KEYS, f"[{where}]", fail)
    strategies_table = _table(table.get("strategies", {}), f"[{where}.strategies]", fail)
    if not strategies_table:
        raise fail(f"[{where}] key 'strategies': missing or empty; allowed: a table of parameter = "
                   f"[value, ...] (the side's strategies, crossed in full)")
    strategies = {}
    for name, values in strategies_table.items():
        if not isinstance(values, list):
            raise fail(f"[{where}.strategies] key {name!r}: value {values!r}; allowed: a list of values")
        strategies[name] = check_axis(name, values, f"{where}.strategies")
    n = math.prod(len(v) for v in strategies.values())
    if not 1 < n <= MAX_STRATEGIES:
        raise fail(f"[{where}.strategies]: {n} strategies; allowed: 2 to {MAX_STRATEGIES} (the product of "
                   f"the lists' lengths)")
    weights_table = _table(table.get("weights", {}), f"[{where}.weights]", fail)
    weights = {name: _weight(name, value, f"[{where}.weights]", reporters, fail)
               for name, value in weights_table.items()}
    if not any(weights.values()):
        raise fail(f"[{where}] key 'weights': {weights_table!r}; allowed: a table of reporter = weight with "
                   f"at least one weight that is not 0")
    grid_table = _table(table.get("weight_grid", {}), f"[{where}.weight_grid]", fail)
    weight_grid = {}
    for name, values in grid_table.items():
        if name not in weights:
            raise fail(f"[{where}.weight_grid] key {name!r}: not in [{where}.weights]; allowed: one of "
                       f"{', '.join(weights)}")
        if not isinstance(values, list) or not values:
            raise fail(f"[{where}.weight_grid] key {name!r}: value {values!r}; allowed: a non-empty list of "
                       f"numbers")
        weight_grid[name] = [_weight(name, v, f"[{where}.weight_grid]", reporters, fail) for v in values]
    if math.prod(len(v) for v in weight_grid.values()) > MAX_WEIGHT_COMBINATIONS:
        raise fail(f"[{where}.weight_grid]: too many combinations; "
                   f"allowed: at most {MAX_WEIGHT_COMBINATIONS}")
    return Side(strategies=strategies, weights=weights, weight_grid=weight_grid)


def _weight(name: str, value: Any, where: str, reporters: tuple[str, ...], fail) -> float:
    _reporter(name, where, reporters, fail)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise fail(f"{where} key {name!r}: value {value!r}; allowed: a finite number (the weight on the "
                   f"reporter's normalised value; negative: the side wants it low)")
    return float(value)


def _reporter(name: str, where: str, reporters: tuple[str, ...], fail) -> None:
    if name not in reporters:
        close = difflib.get_close_matches(name, reporters, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise fail(f"{where} key {name!r}: not a reporter{hint}; allowed: one of {', '.join(reporters)}")


def _table(value: Any, where: str, fail) -> dict:
    if not isinstance(value, dict):
        raise fail(f"{where}: value {value!r}; allowed: a table")
    return value


def _known_keys(table: dict, known: tuple[str, ...], where: str, fail) -> None:
    for key in table:
        if key not in known:
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise fail(f"{where} key {key!r}: unknown key{hint}; allowed keys: {', '.join(known)}")
