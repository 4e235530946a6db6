"""The policy game (issue 30): the solver on constructed matrices with known answers and against brute
force, the payoffs of a constructed sweep, a tiny real game file end to end, and bad game files."""

import itertools
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from model.analysis.game import solve
from model.analysis.game_solve import best_responses, nash_equilibria, pure_nash, stackelberg, tolerance
from model.sweep.game_spec import GameSpec, Side
from model.sweep.io import sha256_file


def write_toml(path, data: dict):
    """``data`` as TOML: nested tables become [a.b] sections (values: JSON scalars and lists)."""
    lines: list[str] = []

    def table(prefix: str, t: dict) -> None:
        scalars = {k: v for k, v in t.items() if not isinstance(v, dict)}
        if prefix and (scalars or not t):
            lines.append(f"[{prefix}]")
        lines.extend(f"{k} = {json.dumps(v)}" for k, v in scalars.items())
        for k, v in t.items():
            if isinstance(v, dict):
                table(f"{prefix}.{k}" if prefix else k, v)

    table("", data)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# The solver on constructed matrices
def test_a_strictly_dominated_strategy_is_never_a_best_response_nor_in_an_equilibrium():
    # Beijing's third strategy is strictly dominated by its first in every row
    A = np.array([[3.0, 1.0, 4.0], [2.0, 5.0, 0.0], [0.0, 2.0, 6.0]])
    B = np.array([[2.0, 1.0, 1.5], [0.0, 3.0, -1.0], [4.0, 4.5, 3.0]])
    responses = best_responses(A, B)
    assert [r.column for r in responses] == [0, 1, 1]
    assert all(2 not in r.ties for r in responses)
    eqs = nash_equilibria(A, B)
    assert eqs and all(e.follower[2] == 0 for e in eqs)
    assert all(e.verified and e.verified_nashpy for e in eqs)
    # Stackelberg: row 0 -> col 0 (3), row 1 -> col 1 (5), row 2 -> col 1 (2): the US picks row 1
    s = stackelberg(A, B)
    assert (s.row, s.column, s.leader_payoff) == (1, 1, 5.0)


def test_prisoners_dilemma_has_its_one_pure_equilibrium():
    A = np.array([[3.0, 0.0], [5.0, 1.0]])  # row 1 (defect) strictly dominates row 0
    B = A.T
    eqs = nash_equilibria(A, B)
    assert len(eqs) == 1 and eqs[0].pure
    assert np.array_equal(eqs[0].leader, [0, 1]) and np.array_equal(eqs[0].follower, [0, 1])
    assert pure_nash(A, B) == [(1, 1)]


def test_matching_pennies_has_one_mixed_equilibrium_at_one_half():
    A = np.array([[1.0, -1.0], [-1.0, 1.0]])
    eqs = nash_equilibria(A, -A)
    assert len(eqs) == 1 and not eqs[0].pure
    assert np.allclose(eqs[0].leader, [0.5, 0.5]) and np.allclose(eqs[0].follower, [0.5, 0.5])
    assert eqs[0].verified and eqs[0].max_gain == pytest.approx(0.0, abs=1e-12)
    assert pure_nash(A, -A) == []


def test_a_tie_goes_to_the_leader_and_the_other_case_is_kept():
    A = np.array([[1.0, 4.0], [2.0, 2.0]])
    B = np.array([[7.0, 7.0], [1.0, 0.0]])  # Beijing indifferent to row 0
    r0 = best_responses(A, B)[0]
    assert r0.ties == (0, 1) and r0.column == 1 and r0.worst_for_leader == 1.0
    assert stackelberg(A, B).row == 0


@pytest.mark.parametrize("seed", range(6))
def test_solver_agrees_with_brute_force_on_random_games(seed):
    rng = np.random.default_rng(seed)
    m, n = rng.integers(2, 6, size=2)
    A, B = rng.normal(size=(m, n)), rng.normal(size=(m, n))
    replies = [int(np.argmax(B[i])) for i in range(m)]  # no ties in continuous draws
    assert [r.column for r in best_responses(A, B)] == replies
    leader_values = [A[i, replies[i]] for i in range(m)]
    s = stackelberg(A, B)
    assert s.row == int(np.argmax(leader_values)) and s.column == replies[s.row]
    brute = [(i, j) for i, j in itertools.product(range(m), range(n))
             if A[i, j] == A[:, j].max() and B[i, j] == B[i, :].max()]
    assert pure_nash(A, B) == brute
    eqs = nash_equilibria(A, B)
    assert eqs, "every finite game has an equilibrium"
    tol = tolerance(A, B)  # 1e-9 of the largest payoff: nashpy solves the game rounded to that step
    for e in eqs:  # verified directly: no pure deviation gains more than the tolerance
        assert (A @ e.follower).max() <= e.leader @ A @ e.follower + tol
        assert (e.leader @ B).max() <= e.leader @ B @ e.follower + tol
        assert e.verified
    found = {(int(np.argmax(e.leader)), int(np.argmax(e.follower))) for e in eqs if e.pure}
    assert found == set(brute)


# ---------------------------------------------------------------------------------------------
# Payoffs from a constructed sweep (a hidden small game with a known answer)
def _constructed_final() -> tuple[pd.DataFrame, GameSpec]:
    """Two US rules x three Beijing stances x two futures, two replications. Beijing's objective is
    ``domestic_revenue_usd``; its 'open' earns less than 'decides' in every cell (strictly dominated)."""
    revenue = {("ban", "open"): 1.0, ("ban", "decides"): 2.0, ("ban", "ban"): 3.0,
               ("open", "open"): 1.0, ("open", "decides"): 5.0, ("open", "ban"): 4.0}
    share = {("ban", "open"): 0.0, ("ban", "decides"): 0.0, ("ban", "ban"): 0.0,
             ("open", "open"): 0.9, ("open", "decides"): 0.5, ("open", "ban"): 0.0}
    rows = []
    for (u, c), f, rep in itertools.product(revenue, (300000, 600000), (0, 1)):
        noise = 0.01 if rep else -0.01  # the replications' mean is the value
        rows.append({"export_regime": u, "china_import_policy": c, "huawei_capacity_2026": f,
                     "domestic_revenue_usd": revenue[(u, c)] * (1 + f / 600000) + noise,
                     "us_share_legal": share[(u, c)], "china_compute_h100e": 10.0 + share[(u, c)]})
    spec = GameSpec(us=Side({"export_regime": ["ban", "open"]}, {"us_share_legal": 1.0}),
                    china=Side({"china_import_policy": ["open", "decides", "ban"]},
                               {"domestic_revenue_usd": 1.0}, {"domestic_revenue_usd": [1.0, -1.0]}),
                    futures={"huawei_capacity_2026": [300000, 600000]})
    return pd.DataFrame(rows), spec


def test_payoffs_are_weighted_normalised_reporters_and_the_known_answer_is_found():
    final, spec = _constructed_final()
    r = solve(final, spec)
    cells = r.cells.set_index(["us_strategy", "china_strategy", "future"])
    assert (cells["n_runs"] == 2).all()
    # revenue ranges over cells from 1 x 1.5 = 1.5 to 5 x 2 = 10: (x - 1.5) / 8.5
    assert cells.loc[("open", "decides", "600000"), "payoff_china"] == pytest.approx(1.0)
    assert cells.loc[("ban", "open", "300000"), "payoff_china"] == pytest.approx(0.0)
    assert cells.loc[("open", "decides", "300000"), "payoff_us"] == pytest.approx(0.5 / 0.9)
    best = r.best[r.best["scope"] == "expected"].set_index("us_strategy")["china_best_response"]
    assert best.to_dict() == {"ban": "ban", "open": "decides"}
    assert (r.best["china_best_response"] != "open").all()  # dominated: never a best response
    st = r.equilibria[(r.equilibria["scope"] == "expected") & (r.equilibria["kind"] == "stackelberg")]
    assert st[["us", "china"]].values.tolist() == [["open", "decides"]]
    nash = r.equilibria[r.equilibria["kind"] == "nash"]
    assert nash["verified"].all() and not nash["china"].str.contains("open").any()
    # frontier under Beijing's reply: 'open' keeps 0.5 legally at compute 10.5
    front = r.frontier.set_index("us_strategy")
    assert front.loc["open", "us_share_legal"] == pytest.approx(0.5)
    assert front.loc["open", "china_compute_h100e"] == pytest.approx(10.5)
    # weights as uncertainty: with the revenue weight at -1 Beijing opens to the US ('open' earns least)
    flipped = r.weights[r.weights["china.domestic_revenue_usd"] == -1.0]
    assert flipped["china_reply_to.open"].tolist() == ["open"] and flipped["us_best"].tolist() == ["open"]
    # regret: 0 for the best US rule, share gap for the other
    regret = r.regret[r.regret["weights"] == 0].groupby("us_strategy")["regret"].max()
    assert regret["open"] == pytest.approx(0.0) and regret["ban"] == pytest.approx(0.5 / 0.9)


def test_a_nan_outcome_is_refused_not_averaged_over():
    """Issue 31 item 3: a run with a NaN reporter was skipped by the cell's mean (the cell then the mean of
    the other replication); now the game refuses, naming the reporter and the run."""
    from model.sweep.errors import UsageError

    final, spec = _constructed_final()
    final["run_id"] = [f"r{i}" for i in range(len(final))]
    final.loc[3, "us_share_legal"] = np.nan
    with pytest.raises(UsageError, match=r"1 run\(s\) have a non-finite us_share_legal \(first: run r3\)"):
        solve(final, spec)


# ---------------------------------------------------------------------------------------------
# A tiny real game file, end to end through the command line
TINY = {
    "experiment": {"name": "tiny_game", "steps": 3, "replications": 1, "seed": 11},
    "parameters": {"n_developers": 30, "realize_reversals": False},
    "game": {
        "us": {"strategies": {"export_regime": ["ban", "open"]}, "weights": {"us_share_legal": 1.0}},
        # Beijing wants no compute on US chips bought legally: against 'open', 'ban' is its best response
        "china": {"strategies": {"china_import_policy": ["open", "ban"]},
                  "weights": {"us_share_legal": -1.0}},
    },
}


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "model.cli", *args], capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_a_tiny_real_game_end_to_end_and_resumed(tmp_path):
    path = write_toml(tmp_path / "tiny.toml", TINY)
    out = tmp_path / "out"
    proc = run_cli("game", str(path), "--out", str(out), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    assert "Beijing's best response" in proc.stdout and "Stackelberg" in proc.stdout
    game = out / "game"
    best = pd.read_csv(game / "best_responses.csv")
    expected = best[best["scope"] == "expected"].set_index("us_strategy")
    assert expected.loc["open", "china_best_response"] == "ban"  # the known answer
    assert expected.loc["open", "ties"] == "ban"
    assert expected.loc["ban", "ties"] == "open|ban"  # nothing to block under a US ban
    eq = pd.read_csv(game / "equilibria.csv")
    assert (eq.loc[eq["kind"] == "nash", "verified"]).all()
    assert set(pd.read_csv(game / "frontier.csv")["us_strategy"]) == {"ban", "open"}
    meta = json.loads((game / "game.json").read_text())
    assert meta["versions"]["nashpy"] == "0.0.43"
    for name, digest in meta["files"].items():
        assert sha256_file(game / name) == digest
    assert (game / "figures" / "frontier.png").read_bytes()[:4] == b"\x89PNG"
    before = pd.read_csv(game / "game.csv")
    # other weights: the runs are reused (--resume: the weights are not part of the sweep's identity)
    TINY2 = json.loads(json.dumps(TINY))
    TINY2["game"]["china"]["weights"] = {"us_share_legal": 1.0}
    write_toml(path, TINY2)
    again = run_cli("game", str(path), "--out", str(out), "--workers", "1", "--resume")
    assert again.returncode == 0, again.stderr
    after = pd.read_csv(game / "game.csv")
    pd.testing.assert_series_equal(before["us_share_legal"], after["us_share_legal"])
    best = pd.read_csv(game / "best_responses.csv")
    assert best.set_index(["scope", "us_strategy"]).loc[("expected", "open"), "china_best_response"] == "open"


# ---------------------------------------------------------------------------------------------
# Bad game files: one line, exit 2, nothing written
def _bad(change):
    data = json.loads(json.dumps(TINY))
    change(data)
    return data


BAD = [
    (lambda d: d["game"]["us"]["weights"].update(us_shar_legal=1.0), "did you mean 'us_share_legal'"),
    (lambda d: d["game"]["china"]["strategies"].update(china_import_policy=["open", "closed"]),
     "china_import_policy = 'closed'"),
    (lambda d: d["game"]["us"]["strategies"].update(export_regim=["ban"]), "did you mean 'export_regime'"),
    (lambda d: d["game"]["us"]["weights"].update(us_share_legal="high"), "allowed: a finite number"),
    (lambda d: d["game"].pop("china"), "[game.china] is missing"),
    (lambda d: d["game"]["us"].update(weight=1), "key 'weight': unknown key"),
    (lambda d: d["game"].update(statistic="mean"), "key 'statistic'"),
    (lambda d: d.update(grid={"n_developers": [10, 20]}), "[grid] given with [game]"),
    (lambda d: d["game"]["us"].update(strategies={"export_regime": ["ban"]}), "1 strategies"),
    (lambda d: d["game"].update(futures={"export_regime": ["ban", "open"]}), "also in"),
    (lambda d: d["game"]["us"].update(weight_grid={"china_compute_h100e": [0.0]}),
     "not in [game.us.weights]"),
]


@pytest.mark.parametrize("change, fragment", BAD)
def test_bad_game_files_give_one_line_and_exit_2(tmp_path, capsys, change, fragment):
    """In process (``main`` returns the exit code); the process itself: the test below."""
    from model.cli import main

    path = write_toml(tmp_path / "bad.toml", _bad(change))
    out = tmp_path / "never"
    capsys.readouterr()
    assert main(["game", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"chipstack: error: {path}:"), err
    assert fragment in lines[0] and "allowed" in lines[0]
    assert "Traceback" not in err and not out.exists()


def test_a_file_without_game_is_refused_by_the_game_command(tmp_path):
    data = {k: v for k, v in TINY.items() if k != "game"} | {"grid": {"export_regime": ["ban", "open"]}}
    proc = run_cli("game", str(write_toml(tmp_path / "plain.toml", data)), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and "no [game] section" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_a_finished_sweep_with_levers_resumes(tmp_path):
    """Common random numbers: the folder check derives each run's seed from its future, as the design does
    (it used to derive it from the run id, so a finished [levers] sweep could not be resumed)."""
    data = {"experiment": {"name": "lev", "steps": 2, "replications": 1, "seed": 3},
            "parameters": {"n_developers": 20}, "levers": {"export_regime": ["ban", "open"]},
            "uncertainties": {"method": "lhs", "n": 2, "ranges": {"huawei_capacity_2026": [200000, 3000000]}}}
    path = write_toml(tmp_path / "lev.toml", data)
    out = tmp_path / "out"
    assert run_cli("sweep", str(path), "--out", str(out), "--workers", "1").returncode == 0
    again = run_cli("sweep", str(path), "--out", str(out), "--workers", "1", "--resume")
    assert again.returncode == 0, again.stderr
