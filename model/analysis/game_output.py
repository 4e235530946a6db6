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
from model.analysis.game import EXPECTED, GameResult, reply_label, solve, summary_text  # noqa: E402
from model.analysis.labels import reporter_label, reporter_scale  # noqa: E402
from model.analysis.style import DPI, PAGE_WIDTH_IN, page_size, styled  # noqa: E402
from model.analysis.sweep_data import checked_sweep  # noqa: E402
from model.sweep.finalize import now  # noqa: E402
from model.sweep.game_spec import GameSpec  # noqa: E402
from model.sweep.io import sha256_file  # noqa: E402
from model.sweep.manifest import MANIFEST  # noqa: E402
from model.sweep.provenance import git_state, package_versions  # noqa: E402

NORMALISATION = ("each reporter a side weighs, at the last quarter, mean over replications per cell, "
                 "scaled to [0, 1] by its range over every cell of the game (all strategy pairs and "
                 "futures); payoff = sum of weight x scaled value; the expected game averages the futures' "
                 "payoffs")


@styled
def frontier_figure(r: GameResult):
    b, c = r.spec.frontier
    f = r.frontier.copy()
    for name in (b, c):
        for col in (name, f"{name}_min", f"{name}_max"):
            f[col] = f[col] / reporter_scale(name)
    fig, ax = plt.subplots(figsize=page_size(8, 5.4))
    xerr = np.vstack([f[b] - f[f"{b}_min"], f[f"{b}_max"] - f[b]])
    yerr = np.vstack([f[c] - f[f"{c}_min"], f[f"{c}_max"] - f[c]])
    ax.errorbar(f[b], f[c], xerr=xerr, yerr=yerr, fmt="none", ecolor="0.7", lw=1)
    front = f[f["pareto"]].sort_values(b)
    ax.plot(front[b], front[c], "-", color="tab:blue", lw=1, label="Pareto (no other rule better on both)")
    for (x, y), group in f.groupby([b, c], sort=False):  # rules at the same point share one label
        marked = bool(group["marked"].any())
        ax.plot(x, y, "o", ms=9 if marked else 6, color="tab:red" if marked else "tab:blue",
                mec="k" if marked else "none")
        text = "\n".join(f"{u} (Beijing: {reply})" for u, reply in zip(group["us_strategy"],
                                                                       group["china_replies"]))
        ax.annotate(text, (x, y), fontsize=7, xytext=(6, 4), textcoords="offset points",
                    fontweight="bold" if marked else "normal")
    ax.plot([], [], "o", color="tab:red", mec="k", label="enacted (threshold), lagged proposal, H20-only")
    ax.set_xlabel(f"{reporter_label(b)}\n(higher is better for the US)", fontsize=8)
    ax.set_ylabel(f"{reporter_label(c)}\n(lower is better for the US)", fontsize=8)
    ax.set_title(f"{r.spec_name}: US rules under Beijing's best response\n(mean over {len(r.futures)} "
                 f"future(s); bars: min-max over futures)", fontsize=10)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


@styled
def best_response_figure(r: GameResult):
    """Rows: the expected game, then each future; columns: the US strategies; a cell: Beijing's best
    response (coloured by the one played, ties named)."""
    scopes = [EXPECTED] + (r.futures if len(r.futures) > 1 else [])
    table = r.best.set_index(["scope", "us_strategy"])
    codes = np.array([[r.china.index(table.loc[(s, u), "china_best_response"]) for u in r.us]
                      for s in scopes])
    fig, ax = plt.subplots(figsize=(min(PAGE_WIDTH_IN, 2.2 + 1.5 * len(r.us)), 1.4 + 0.42 * len(scopes)))
    cmap = plt.get_cmap("tab10", max(len(r.china), 2))
    ax.imshow(codes, cmap=cmap, vmin=-0.5, vmax=cmap.N - 0.5, aspect="auto", alpha=0.6)
    for i, s in enumerate(scopes):
        for j, u in enumerate(r.us):
            ties = tuple(r.china.index(t) for t in str(table.loc[(s, u), "ties"]).split("|"))
            ax.text(j, i, reply_label(ties, r.china), ha="center", va="center", fontsize=7)
    names = list(r.spec.futures)
    short = [s if s == EXPECTED else ", ".join(part.split("=", 1)[-1] for part in s.split(", "))
             for s in scopes]
    ax.set_yticks(range(len(scopes)), short, fontsize=7)
    ax.set_xticks(range(len(r.us)), r.us, fontsize=8)
    ax.set_ylabel(f"future ({', '.join(names) or 'one'});\nfirst row: the expected game", fontsize=8)
    ax.set_xlabel("US strategy (Washington moves first)")
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
    """Solve the game on the finished sweep in ``out_dir`` (its data checked against the manifest's sha256)
    and write ``out_dir/game/``."""
    sweep = checked_sweep(out_dir)
    result = solve(sweep.final, spec)
    result.spec_name = name
    result.notes = sweep.notes + result.notes
    return result, write_game(Path(out_dir), result, sweep.manifest)
