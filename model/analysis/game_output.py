"""The policy game's results folder, ``SWEEP_DIR/game/`` (``chipstack game``; docs/EXPLORING.md §6):
``game.csv``, ``best_responses.csv``, ``equilibria.csv``, ``frontier.csv``, ``regret.csv``,
``weights.csv``, ``summary.txt``, ``figures/frontier.png``, ``figures/best_responses.png`` and
``game.json`` (the game as solved, the sweep it reads by fingerprint and manifest hash, versions, git
state, and the sha256 of every file), written as one folder, atomically."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from model.analysis.futures import atomic_folder  # noqa: E402
from model.analysis.game import EXPECTED, GameResult, solve, summary_text  # noqa: E402
from model.analysis.labels import reporter_label  # noqa: E402
from model.analysis.sweep_data import load_sweep  # noqa: E402
from model.sweep.finalize import now  # noqa: E402
from model.sweep.game_spec import GameSpec  # noqa: E402
from model.sweep.io import sha256_file  # noqa: E402
from model.sweep.manifest import MANIFEST  # noqa: E402
from model.sweep.provenance import git_state, package_versions  # noqa: E402

DPI = 110
NORMALISATION = ("each reporter a side weighs, at the last quarter, mean over replications per cell, "
                 "scaled to [0, 1] by its range over every cell of the game (all strategy pairs and "
                 "futures); payoff = sum of weight x scaled value; the expected game averages the futures' "
                 "payoffs")


def frontier_figure(r: GameResult):
    b, c = r.spec.frontier
    f = r.frontier
    fig, ax = plt.subplots(figsize=(7.5, 5.2))
    xerr = np.vstack([f[b] - f[f"{b}_min"], f[f"{b}_max"] - f[b]])
    yerr = np.vstack([f[c] - f[f"{c}_min"], f[f"{c}_max"] - f[c]])
    ax.errorbar(f[b], f[c], xerr=xerr, yerr=yerr, fmt="none", ecolor="0.7", lw=1)
    front = f[f["pareto"]].sort_values(b)
    ax.plot(front[b], front[c], "-", color="tab:blue", lw=1, label="Pareto (no other rule better on both)")
    for row in f.itertuples(index=False):
        d = row._asdict()
        marked = d["marked"]
        ax.plot(d[b], d[c], "o", ms=9 if marked else 6, color="tab:red" if marked else "tab:blue",
                mec="k" if marked else "none")
        ax.annotate(f"{d['us_strategy']}\n(Beijing: {d['china_replies']})", (d[b], d[c]), fontsize=7,
                    xytext=(5, 4), textcoords="offset points", fontweight="bold" if marked else "normal")
    ax.plot([], [], "o", color="tab:red", mec="k", label="enacted (threshold), lagged proposal, H20-only")
    ax.set_xlabel(f"{reporter_label(b)} (higher is better for the US)")
    ax.set_ylabel(f"{reporter_label(c)} (lower is better for the US)")
    ax.set_title(f"{r.spec_name}: US rules under Beijing's best response\n(mean over {len(r.futures)} "
                 f"future(s); bars: min-max over futures)", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def best_response_figure(r: GameResult):
    scopes = [EXPECTED] + (r.futures if len(r.futures) > 1 else [])
    table = r.best.set_index(["scope", "us_strategy"])["china_best_response"]
    codes = np.array([[r.china.index(table[(s, u)]) for s in scopes] for u in r.us])
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(scopes), 1.2 + 0.5 * len(r.us)))
    cmap = plt.get_cmap("tab10", max(len(r.china), 2))
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=cmap.N - 0.5, aspect="auto")
    for (i, j), k in np.ndenumerate(codes):
        ax.text(j, i, r.china[k], ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(scopes)), [s.replace(", ", "\n") for s in scopes], fontsize=7)
    ax.set_yticks(range(len(r.us)), r.us, fontsize=8)
    ax.set_xlabel("future (first column: the expected game over all futures)")
    ax.set_ylabel("US strategy")
    ax.set_title(f"{r.spec_name}: Beijing's best response", fontsize=10)
    fig.tight_layout()
    return fig


def write_game(out_dir: Path, result: GameResult, sweep_manifest: dict) -> Path:
    """Write ``out_dir/game/`` atomically; return its path."""
    target = Path(out_dir) / "game"
    text = summary_text(result)
    with atomic_folder(target) as tmp:
        tables = {"game.csv": result.cells, "best_responses.csv": result.best,
                  "equilibria.csv": result.equilibria, "frontier.csv": result.frontier,
                  "regret.csv": result.regret, "weights.csv": result.weights}
        for name, frame in tables.items():
            frame.to_csv(tmp / name, index=False)
        (tmp / "summary.txt").write_text(text + "\n", encoding="utf-8")
        (tmp / "figures").mkdir()
        for name, make in (("frontier.png", frontier_figure), ("best_responses.png", best_response_figure)):
            fig = make(result)
            fig.savefig(tmp / "figures" / name, dpi=DPI)
            plt.close(fig)
        files = sorted(p for p in tmp.rglob("*") if p.is_file())
        meta = {
            "chipstack_game": 1, "created": now(), "game": result.spec.as_dict(),
            "normalisation": NORMALISATION,
            "strategies": {"us": result.us, "china": result.china}, "futures": result.futures,
            "sweep": {"folder": str(out_dir), "name": sweep_manifest.get("experiment", {}).get("name"),
                      "fingerprint": sweep_manifest.get("fingerprint"),
                      "manifest_sha256": sha256_file(Path(out_dir) / MANIFEST),
                      "runs": (sweep_manifest.get("counts") or {}).get("done")},
            "versions": package_versions() | {"nashpy": _nashpy_version()}, "git": git_state(),
            "notes": result.notes,
            "files": {str(p.relative_to(tmp)): sha256_file(p) for p in files},
        }
        (tmp / "game.json").write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    return target


def _nashpy_version() -> str:
    import nashpy

    return nashpy.__version__


def game_folder(out_dir: str | Path, spec: GameSpec, name: str) -> tuple[GameResult, Path]:
    """Solve the game on the finished sweep in ``out_dir`` and write ``out_dir/game/``."""
    sweep = load_sweep(out_dir)
    result = solve(sweep.final, spec)
    result.spec_name = name
    result.notes = sweep.notes + result.notes
    return result, write_game(Path(out_dir), result, sweep.manifest)
