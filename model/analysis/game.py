"""The policy game of a finished game sweep (``chipstack game EXPERIMENT``, docs/EXPLORING.md §6).

Input: the sweep folder of an experiment with ``[game]`` (its runs: every US strategy x every Beijing
strategy x every future x replications, with common random numbers) and the game's spec
(:class:`model.sweep.game_spec.GameSpec`).

**Payoffs.** A cell is (US strategy, Beijing strategy, future); its outcome is the mean over its
replications of each reporter at the last quarter (``statistic = "final"``). Each reporter a side
weighs is normalised to [0, 1] by its range over every cell of the game (all strategy pairs and
futures): ``(x - min) / (max - min)`` (0 when it does not vary). A side's payoff in a cell is the sum
of its weights times the normalised reporters, so a weight of 1 is worth the reporter's whole range
in the game; a negative weight means the side wants the reporter low. Per future this gives the two
payoff matrices; the *expected game* averages them over the futures (equal weights).

**What is computed** (:func:`solve`): Beijing's best response to each US strategy, per future and in
the expected game, and how often it differs from the expected game's across futures; the Stackelberg
outcome (Washington moves first, anticipating Beijing's reply); the pure and mixed Nash equilibria of
the simultaneous game with nashpy, each verified (:mod:`model.analysis.game_solve`); the US trade-off
frontier under Beijing's best response in each future (the ``frontier`` reporters, averaged over the
futures); regret (the Stackelberg-best US strategy's payoff minus each one's, per future and weight
combination); and, over the ``weight_grid`` of both sides, which US strategy the Stackelberg outcome
picks for each combination of weights (where the recommendation flips).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.analysis.game_solve import best_responses, nash_equilibria, pure_nash, stackelberg, tolerance
from model.sweep.errors import UsageError
from model.sweep.game_spec import GameSpec

#: the rules the issue names on the frontier: the enacted rule, the rolling-lag proposal and H20-only
MARKED = ("threshold", "lagged", "h20")
EXPECTED = "expected"


@dataclass
class GameResult:
    spec: GameSpec
    us: list[str]  # US strategy labels, in grid order
    china: list[str]
    futures: list[str]
    cells: pd.DataFrame  # game.csv
    best: pd.DataFrame  # best_responses.csv
    equilibria: pd.DataFrame  # equilibria.csv
    frontier: pd.DataFrame  # frontier.csv
    regret: pd.DataFrame  # regret.csv
    weights: pd.DataFrame  # weights.csv
    notes: list[str] = field(default_factory=list)
    spec_name: str = "game"


def strategy_labels(frame: pd.DataFrame, axes: dict[str, list]) -> pd.Series:
    """One label per row: the value alone for one axis ('threshold'), 'a=1, b=2' for several."""
    if not axes:
        return pd.Series("all", index=frame.index)
    if len(axes) == 1:
        (name,) = axes
        return frame[name].map(_short)
    return frame[list(axes)].apply(lambda row: ", ".join(f"{k}={_short(v)}" for k, v in row.items()), axis=1)


def _short(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _labels_in_order(axes: dict[str, list]) -> list[str]:
    combos = list(itertools.product(*axes.values())) if axes else [()]
    frame = pd.DataFrame(combos, columns=list(axes)) if axes else pd.DataFrame(index=[0])
    return list(strategy_labels(frame, axes))


def game_cells(final: pd.DataFrame, spec: GameSpec) -> pd.DataFrame:
    """Per (US strategy, Beijing strategy, future): ``n_runs`` and the mean of every reporter used."""
    reporters = sorted(set(spec.us.weights) | set(spec.china.weights) | set(spec.frontier))
    missing = [c for c in list(spec.grid) + reporters if c not in final.columns]
    if missing:
        raise UsageError(f"final.csv lacks {', '.join(missing)}; allowed: the sweep of this game's file")
    values = final[reporters].to_numpy(float)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():  # a mean would skip them silently (issue 31 item 3)
        which = [r for r, finite in zip(reporters, np.isfinite(values).all(axis=0)) if not finite]
        first = final["run_id"][bad].iloc[0] if "run_id" in final else "?"
        raise UsageError(f"final.csv: {int(bad.sum())} run(s) have a non-finite {', '.join(which)} "
                         f"(first: run {first}); allowed: finite values of the game's reporters "
                         f"(a payoff is not computed from NaN or inf)")
    frame = final.copy()
    frame["us_strategy"] = strategy_labels(frame, spec.us.strategies)
    frame["china_strategy"] = strategy_labels(frame, spec.china.strategies)
    frame["future"] = strategy_labels(frame, spec.futures)
    keys = ["us_strategy", "china_strategy", "future"]
    cells = frame.groupby(keys, sort=False)[reporters].mean()
    cells.insert(0, "n_runs", frame.groupby(keys, sort=False).size())
    return cells.reset_index()


def normalised(cells: pd.DataFrame, reporters) -> pd.DataFrame:
    """Each reporter scaled to [0, 1] by its range over the game's cells (0 when it does not vary)."""
    out = {}
    for r in reporters:
        x = cells[r].to_numpy(dtype=float)
        span = x.max() - x.min()
        out[r] = (x - x.min()) / span if span > 0 else np.zeros_like(x)
    return pd.DataFrame(out, index=cells.index)


def payoff(norm: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    return sum(w * norm[r].to_numpy() for r, w in weights.items())


def matrices(cells: pd.DataFrame, values: np.ndarray, us: list[str], china: list[str],
             futures: list[str]) -> np.ndarray:
    """(futures x US x Beijing) array of ``values`` (one per cell)."""
    index = {(u, c, f): k for k, (u, c, f) in enumerate(
        zip(cells["us_strategy"], cells["china_strategy"], cells["future"]))}
    out = np.full((len(futures), len(us), len(china)), np.nan)
    for (fi, f), (ui, u), (ci, c) in itertools.product(enumerate(futures), enumerate(us), enumerate(china)):
        k = index.get((u, c, f))
        if k is not None:
            out[fi, ui, ci] = values[k]
    if np.isnan(out).any():
        raise UsageError("the game's sweep lacks some (US strategy, Beijing strategy, future) cells; "
                         "allowed: a complete sweep of the game's file (run it again with --resume)")
    return out


def weight_combinations(spec: GameSpec) -> list[tuple[dict, dict]]:
    """(US weights, Beijing weights) for every combination of both sides' weight grids (the base
    weights first when no grid)."""
    names = [("us", k) for k in spec.us.weight_grid] + [("china", k) for k in spec.china.weight_grid]
    grids = list(spec.us.weight_grid.values()) + list(spec.china.weight_grid.values())
    out = []
    for combo in itertools.product(*grids):
        us, china = dict(spec.us.weights), dict(spec.china.weights)
        for (side, name), w in zip(names, combo):
            (us if side == "us" else china)[name] = w
        out.append((us, china))
    return out


def solve(final: pd.DataFrame, spec: GameSpec) -> GameResult:
    us, china, futures = (_labels_in_order(spec.us.strategies), _labels_in_order(spec.china.strategies),
                          _labels_in_order(spec.futures))
    cells = game_cells(final, spec)
    reporters = sorted(set(spec.us.weights) | set(spec.china.weights)
                       | {k for s in (spec.us, spec.china) for k in s.weight_grid})
    norm = normalised(cells, reporters)
    cells["payoff_us"] = payoff(norm, spec.us.weights)
    cells["payoff_china"] = payoff(norm, spec.china.weights)
    A = matrices(cells, cells["payoff_us"].to_numpy(), us, china, futures)
    B = matrices(cells, cells["payoff_china"].to_numpy(), us, china, futures)
    tol = tolerance(A, B)
    notes: list[str] = []
    best = _best_table(A, B, us, china, futures, tol)
    equilibria = _equilibria_table(A, B, us, china, futures, tol, notes)
    frontier = _frontier_table(cells, A, B, us, china, futures, spec, tol)
    regret, weights = _weights_tables(cells, norm, spec, us, china, futures)
    return GameResult(spec, us, china, futures, cells, best, equilibria, frontier, regret, weights, notes)


def _scopes(A: np.ndarray, B: np.ndarray, futures: list[str]):
    """(scope, A, B): the expected game first, then each future (when there are several)."""
    yield EXPECTED, A.mean(axis=0), B.mean(axis=0)
    if len(futures) > 1:
        yield from zip(futures, A, B)


def _best_table(A, B, us, china, futures, tol) -> pd.DataFrame:
    rows = []
    expected = {r.row: set(r.ties) for r in best_responses(A.mean(axis=0), B.mean(axis=0), tol)}
    per_future = [{r.row: set(r.ties) for r in best_responses(a, b, tol)} for a, b in zip(A, B)]
    for scope, a, b in _scopes(A, B, futures):
        for r in best_responses(a, b, tol):
            # a future differs when none of its best responses is one of the expected game's
            changes = sum(not (pf[r.row] & expected[r.row]) for pf in per_future)
            rows.append({"scope": scope, "us_strategy": us[r.row], "china_best_response": china[r.column],
                         "ties": "|".join(china[t] for t in r.ties), "payoff_us": r.leader_payoff,
                         "payoff_us_if_ties_against": r.worst_for_leader, "payoff_china": r.follower_payoff,
                         "futures_differing_from_expected": changes, "n_futures": len(futures)})
    return pd.DataFrame(rows)


def reply_label(ties: tuple[int, ...], china: list[str]) -> str:
    """Beijing's best responses: one name, several joined by '|', or 'any (all tie)'."""
    return "any (all tie)" if len(ties) == len(china) > 1 else "|".join(china[t] for t in ties)


def _mix(sigma: np.ndarray, labels: list[str]) -> str:
    return " ".join(f"{labels[k]}:{p:.4g}" for k, p in enumerate(sigma) if p > 0)


def _equilibria_table(A, B, us, china, futures, tol, notes: list[str]) -> pd.DataFrame:
    rows = []
    for scope, a, b in _scopes(A, B, futures):
        s = stackelberg(a, b, tol)
        rows.append({"scope": scope, "kind": "stackelberg", "us": us[s.row], "china": china[s.column],
                     "payoff_us": s.leader_payoff, "payoff_china": s.follower_payoff, "pure": True,
                     "verified": True, "verified_nashpy": None, "max_gain": None})
        eqs = nash_equilibria(a, b, tol)
        for e in eqs:
            rows.append({"scope": scope, "kind": "nash", "us": _mix(e.leader, us),
                         "china": _mix(e.follower, china), "payoff_us": e.leader_payoff,
                         "payoff_china": e.follower_payoff, "pure": e.pure, "verified": e.verified,
                         "verified_nashpy": e.verified_nashpy, "max_gain": e.max_gain})
        brute = {(i, j) for i, j in pure_nash(a, b, tol)}
        found = {(int(np.argmax(e.leader)), int(np.argmax(e.follower))) for e in eqs if e.pure}
        if brute != found:
            notes.append(f"{scope}: pure equilibria by brute force {sorted(brute)} differ from nashpy's "
                         f"{sorted(found)} (a degenerate game: ties)")
        if not eqs:
            notes.append(f"{scope}: nashpy found no equilibrium")
        if any(not e.verified for e in eqs):
            notes.append(f"{scope}: an equilibrium failed the direct check")
    return pd.DataFrame(rows)


def _frontier_table(cells, A, B, us, china, futures, spec: GameSpec, tol) -> pd.DataFrame:
    benefit, cost = spec.frontier
    values = {r: matrices(cells, cells[r].to_numpy(dtype=float), us, china, futures) for r in (benefit, cost)}
    rows = []
    for ui, u in enumerate(us):
        responses = [best_responses(a, b, tol)[ui] for a, b in zip(A, B)]
        replies = [r.column for r in responses]
        b = np.array([values[benefit][fi, ui, j] for fi, j in enumerate(replies)])
        c = np.array([values[cost][fi, ui, j] for fi, j in enumerate(replies)])
        rows.append({"us_strategy": u,
                     benefit: b.mean(), f"{benefit}_min": b.min(), f"{benefit}_max": b.max(),
                     cost: c.mean(), f"{cost}_min": c.min(), f"{cost}_max": c.max(),
                     "china_replies": "; ".join(dict.fromkeys(reply_label(r.ties, china) for r in responses)),
                     "marked": any(u == m or u.startswith(f"export_regime={m}") for m in MARKED)})
    frame = pd.DataFrame(rows)
    frame["pareto"] = pareto(frame[benefit].to_numpy(), frame[cost].to_numpy())
    return frame


def pareto(benefit: np.ndarray, cost: np.ndarray) -> np.ndarray:
    """True where no other point has benefit >= and cost <= with one strictly better."""
    n = len(benefit)
    return np.array([not any((benefit[k] >= benefit[i] and cost[k] <= cost[i])
                             and (benefit[k] > benefit[i] or cost[k] < cost[i]) for k in range(n))
                     for i in range(n)])


def _weights_tables(cells, norm, spec: GameSpec, us, china, futures) -> tuple[pd.DataFrame, pd.DataFrame]:
    regret_rows, weight_rows = [], []
    for k, (wu, wc) in enumerate(weight_combinations(spec)):
        A = matrices(cells, payoff(norm, wu), us, china, futures)
        B = matrices(cells, payoff(norm, wc), us, china, futures)
        tol = tolerance(A, B)
        s = stackelberg(A.mean(axis=0), B.mean(axis=0), tol)
        replies = {f"china_reply_to.{us[r.row]}": reply_label(r.ties, china)
                   for r in best_responses(A.mean(axis=0), B.mean(axis=0), tol)}
        weight_rows.append({"weights": k} | {f"us.{n}": w for n, w in wu.items()}
                           | {f"china.{n}": w for n, w in wc.items()}
                           | {"us_best": us[s.row], "china_reply": reply_label(s.ties, china),
                              "payoff_us": s.leader_payoff}
                           | replies)
        for f, a, b in zip(futures, A, B):
            value = np.array([r.leader_payoff for r in best_responses(a, b, tol)])
            for ui, u in enumerate(us):
                regret_rows.append({"weights": k, "future": f, "us_strategy": u,
                                    "regret": float(value.max() - value[ui])})
    return pd.DataFrame(regret_rows), pd.DataFrame(weight_rows)


def regret_summary(regret: pd.DataFrame, us: list[str]) -> pd.DataFrame:
    """Per US strategy over weights and futures: max and mean regret, share of cases it is best."""
    g = regret.groupby("us_strategy")["regret"]
    out = pd.DataFrame({"max_regret": g.max(), "mean_regret": g.mean(),
                        "share_best": g.apply(lambda x: float(np.mean(x <= 1e-12)))})
    return out.reindex(us).reset_index()


def summary_text(r: GameResult) -> str:
    """The printed summary: best responses, Stackelberg, equilibria, frontier, regret, weights."""
    lines = [f"Beijing's best response to each US strategy (expected game over {len(r.futures)} future(s); "
             f"per-future replies differing from it):"]
    exp = r.best[r.best["scope"] == EXPECTED]
    for row in exp.itertuples():
        reply = reply_label(tuple(r.china.index(t) for t in row.ties.split("|")), r.china)
        lines.append(f"  {row.us_strategy:>24s} -> {reply}; differs in "
                     f"{row.futures_differing_from_expected} of {row.n_futures} futures")
    eq = r.equilibria[r.equilibria["scope"] == EXPECTED]
    for row in eq.itertuples():
        if row.kind == "stackelberg":
            lines.append(f"Stackelberg (US first): US {row.us}, Beijing {row.china}; payoffs "
                         f"{row.payoff_us:.4f} / {row.payoff_china:.4f}")
    lines.append("Nash equilibria of the simultaneous game (expected game; nashpy support enumeration):")
    for row in eq[eq["kind"] == "nash"].itertuples():
        lines.append(f"  US [{row.us}] x Beijing [{row.china}]: payoffs {row.payoff_us:.4f} / "
                     f"{row.payoff_china:.4f}; {'pure' if row.pure else 'mixed'}; verified={row.verified} "
                     f"(nashpy's exact check: {row.verified_nashpy})")
    b, c = r.spec.frontier
    lines.append(f"US frontier under Beijing's best response per future (mean over futures of {b}, {c}):")
    for row in r.frontier.itertuples(index=False):
        d = row._asdict()
        lines.append(f"  {d['us_strategy']:>24s}: {d[b]:.4g}, {d[c]:.4g}{'  Pareto' if d['pareto'] else ''}"
                     f"{'  (marked)' if d['marked'] else ''}; Beijing replies {d['china_replies']}")
    rs = regret_summary(r.regret, r.us)
    lines.append(f"Regret over {r.weights.shape[0]} weight combination(s) x {len(r.futures)} future(s):")
    for row in rs.itertuples(index=False):
        lines.append(f"  {row.us_strategy:>24s}: max {row.max_regret:.4f}, mean {row.mean_regret:.4f}, "
                     f"best in {row.share_best:.0%}")
    lines += weights_lines(r)
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)


def weights_lines(r: GameResult) -> list[str]:
    """Where the recommendation flips: the Stackelberg US strategy over the US weight grid (Beijing at its
    base weights), and Beijing's reply to each US strategy over its own weight grid (the US at its base)."""
    w, spec = r.weights, r.spec
    counts = w["us_best"].value_counts()
    lines = ["US strategy best (Stackelberg, expected game) across all weight combinations: "
             + ", ".join(f"{k} in {v} of {len(w)}" for k, v in counts.items())]
    at_base = _at(w, "china", spec.china.weights, spec.china.weight_grid)
    axes = [f"us.{k}" for k in spec.us.weight_grid]
    if axes and not at_base.empty:
        lines.append(f"US strategy best by US weights ({', '.join(axes)}), Beijing at its base weights:")
        for _, row in at_base.iterrows():
            lines.append("  " + ", ".join(f"{a}={row[a]:g}" for a in axes) + f" -> {row['us_best']} "
                         f"(Beijing {row['china_reply']})")
    at_us_base = _at(w, "us", spec.us.weights, spec.us.weight_grid)
    if spec.china.weight_grid and not at_us_base.empty:
        lines.append(f"Beijing's reply across its {len(at_us_base)} weight combinations (the US at its base "
                     f"weights; ties joined by |):")
        for u in r.us:
            counts = at_us_base[f"china_reply_to.{u}"].value_counts()
            lines.append(f"  {u:>24s}: " + ", ".join(f"{k} in {v}" for k, v in counts.items()))
    return lines


def _at(w: pd.DataFrame, side: str, base: dict[str, float], grid: dict[str, list]) -> pd.DataFrame:
    """The rows of ``weights.csv`` where ``side``'s gridded weights are at their base values (all rows
    when a base value is not on its grid)."""
    mask = pd.Series(True, index=w.index)
    for name in grid:
        if base[name] in grid[name]:
            mask &= w[f"{side}.{name}"] == base[name]
    return w[mask]

