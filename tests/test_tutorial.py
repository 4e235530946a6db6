"""docs/TUTORIAL.md runs as written (issue 32 item 8): its fenced blocks, in order, in a fresh folder.

* ```` ```bash ````: run by ``bash -eu -o pipefail`` in that folder, with the ``chipstack`` beside this
  Python (the venv's) first on ``PATH``; a block that exits non-zero fails the test.
* ```` ```python ````: executed in one namespace shared by all python blocks, in that folder.
* ```` ```text ````: the output the nearest executed block above it must print (its standard output), with
  doctest's rules: ``...`` matches any text, runs of white space are equal.
* ```` ```bash no-run ````: shown, never run (the set-up). Any other kind of block, or a fence that is not at
  the start of a line, fails the test: nothing is left out silently.

Then the test checks what the tutorial promises: the sweep's files, the pandas tables (the six cells, and
the four of the second sweep; shares in [0, 1]), the PNG and the replication verdict.
"""

from __future__ import annotations

import contextlib
import doctest
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TUTORIAL = ROOT / "docs" / "TUTORIAL.md"
RUNNABLE = {"bash", "python"}
KINDS = RUNNABLE | {"text", "bash no-run"}


@dataclass
class Block:
    kind: str
    code: str
    line: int  # of the opening fence, 1-based


def blocks(text: str) -> list[Block]:
    """The fenced blocks of a Markdown text, in order. Fences must start a line (an indented one, e.g. in a
    list, would be easy to miss) and every block must be of a kind this runner knows."""
    found: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```") and line != line.lstrip():
            raise ValueError(f"TUTORIAL.md:{i + 1}: an indented fence; start fences at the line's start")
        if line.startswith("```"):
            kind = " ".join(line[3:].split())
            if kind not in KINDS:
                raise ValueError(f"TUTORIAL.md:{i + 1}: a block of kind {kind!r}; allowed: {sorted(KINDS)}")
            end = next((j for j in range(i + 1, len(lines)) if lines[j].startswith("```")), None)
            if end is None or lines[end].strip() != "```":
                raise ValueError(f"TUTORIAL.md:{i + 1}: the block is not closed by a line ```")
            found.append(Block(kind, "\n".join(lines[i + 1:end]) + "\n", i + 1))
            i = end
        i += 1
    return found


def output_matches(expected: str, got: str) -> bool:
    checker = doctest.OutputChecker()
    return checker.check_output(expected, got, doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)


def chipstack_dir() -> Path:
    """The folder of the venv's scripts: where this Python is, not resolved (.venv/bin/python is a link)."""
    folder = Path(sys.executable).parent
    if not (folder / "chipstack").is_file():
        pytest.fail(f"no chipstack command beside {sys.executable}: the tutorial needs `make venv`")
    return folder


def run_tutorial(text: str, folder: Path, monkeypatch) -> tuple[dict, list[tuple[Block, str]]]:
    """Run every block of ``text`` in ``folder``; the python namespace and each executed block's output."""
    env = {**os.environ, "PATH": f"{chipstack_dir()}{os.pathsep}{os.environ.get('PATH', '')}",
           "MPLBACKEND": "Agg",
           # the checkout under test, also where the venv was installed from elsewhere
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    monkeypatch.chdir(folder)
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": "__tutorial__"}
    executed: list[tuple[Block, str]] = []
    for block in blocks(text):
        where = f"TUTORIAL.md:{block.line} ({block.kind})"
        if block.kind == "bash":
            done = subprocess.run(["bash", "-eu", "-o", "pipefail", "-c", block.code], cwd=folder, env=env,
                                  capture_output=True, text=True, timeout=600)
            assert done.returncode == 0, (f"{where} exited {done.returncode}\n--- stdout\n{done.stdout}"
                                          f"\n--- stderr\n{done.stderr[-3000:]}")
            executed.append((block, done.stdout))
        elif block.kind == "python":
            printed = io.StringIO()
            with contextlib.redirect_stdout(printed):
                exec(compile(block.code, where, "exec"), namespace)  # noqa: S102 - the tutorial's own code
            executed.append((block, printed.getvalue()))
        elif block.kind == "text":
            assert executed, f"{where}: an output block before any command"
            above, got = executed[-1]
            assert output_matches(block.code, got), (
                f"{where}: the output of the block at line {above.line} differs from the one shown"
                f"\n--- shown\n{block.code}--- printed\n{got}")
    return namespace, executed


@pytest.mark.slow  # 20-30 s on one core: six chipstack commands, two sweeps (make test, not make test-fast)
def test_the_tutorial_runs_end_to_end(tmp_path, monkeypatch):
    namespace, executed = run_tutorial(TUTORIAL.read_text(encoding="utf-8"), tmp_path, monkeypatch)

    commands = [b.code for b, _ in executed if b.kind == "bash"]
    for step in ("chipstack sweep", "chipstack replicate", "chipstack report", "chipstack params"):
        assert any(step in code for code in commands), f"the tutorial no longer runs {step}"
    assert any(b.kind == "python" for b, _ in executed)

    out = tmp_path / "outputs" / "my_experiment"
    for name in ("runs.parquet", "final.csv", "summary.csv", "manifest.json",
                 "figures/heatmap_us_share_legal.svg"):
        assert (out / name).is_file(), name

    legal = namespace["legal"]
    assert sorted(legal.index) == sorted((r, p) for r in ("h20", "threshold", "lagged")
                                         for p in ("decides", "open"))
    assert (legal["runs"] == 3).all()
    values = legal[["mean", "low", "high"]]
    assert values.notna().all().all()
    # the shares are in [0, 1]; the interval's ends may pass them by rounding only where the runs agree
    assert ((legal["mean"] >= 0) & (legal["mean"] <= 1)).all(), legal
    by_run = namespace["by_run"]
    assert by_run.shape == (6, 3) and ((by_run >= 0) & (by_run <= 1)).all().all(), by_run
    assert ((legal["low"] <= legal["mean"] + 1e-12) & (legal["mean"] <= legal["high"] + 1e-12)).all(), legal
    assert list(namespace["path"].index) == [f"{y}Q{q}" for y in range(2026, 2031) for q in range(1, 5)]

    png = tmp_path / "legal_share.png"
    assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

    by_cap = namespace["by_cap"]  # section 6: the cap at its default and off, under two stances
    assert list(by_cap.index) == [1_000_000, float("inf")] and list(by_cap.columns) == ["decides", "open"]
    assert ((by_cap >= 0) & (by_cap <= 1)).all().all(), by_cap

    verdict = next(printed for b, printed in executed if "chipstack replicate" in b.code)
    assert verdict.startswith("replicated: 18 runs, all values identical"), verdict


# The runner itself, on small texts (fast tier): a failing block fails, nothing is skipped silently.

def test_a_failing_bash_block_fails(tmp_path, monkeypatch):
    text = "```bash\necho one\nfalse\necho two\n```\n"
    with pytest.raises(AssertionError, match=r"TUTORIAL.md:1 \(bash\) exited 1"):
        run_tutorial(text, tmp_path, monkeypatch)


def test_a_failing_python_block_fails_and_output_is_checked(tmp_path, monkeypatch):
    with pytest.raises(ZeroDivisionError):
        run_tutorial("```python\nx = 1 / 0\n```\n", tmp_path, monkeypatch)
    shown = "```python\nprint('a', 41 + 1)\n```\n\n```text\na ...\n```\n"
    run_tutorial(shown, tmp_path, monkeypatch)
    with pytest.raises(AssertionError, match="differs from the one shown"):
        run_tutorial(shown.replace("a ...", "b ..."), tmp_path, monkeypatch)


def test_blocks_share_a_folder_and_python_a_namespace(tmp_path, monkeypatch):
    text = ("```bash\necho 7 > n.txt\n```\n```python\nn = int(open('n.txt').read())\n```\n"
            "```python\nprint(n * 6)\n```\n```text\n42\n```\n```bash no-run\nexit 1\n```\n")
    namespace, executed = run_tutorial(text, tmp_path, monkeypatch)
    assert namespace["n"] == 7 and [b.kind for b, _ in executed] == ["bash", "python", "python"]


@pytest.mark.parametrize("text, message", [
    ("```sh\nls\n```\n", "of kind 'sh'"),
    ("- a list\n  ```bash\n  ls\n  ```\n", "an indented fence"),
    ("```bash\nls\n", "not closed"),
])
def test_an_unknown_or_hidden_block_is_an_error(text, message):
    with pytest.raises(ValueError, match=message):
        blocks(text)


def test_the_tutorial_parses_and_the_readme_links_it():
    found = blocks(TUTORIAL.read_text(encoding="utf-8"))
    assert sum(b.kind in RUNNABLE for b in found) >= 8
    assert [b.kind for b in found].count("bash no-run") == 1  # the set-up only
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    intro = readme[: readme.index("## Headline result")]
    assert "docs/TUTORIAL.md" in intro
    assert re.search(r"\.venv/bin/chipstack", intro) and "source .venv/bin/activate" in intro
