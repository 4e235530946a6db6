"""Finding things (issue 32 item 8): ``chipstack params [NAME]`` lists the parameter table with units,
defaults, allowed values and source grades; the README says how to call ``chipstack`` after ``make run``;
``python -m MODULE --help`` of every maintenance module prints help and writes nothing; the sweep's
progress bar keeps one known total per round of a precision target."""

from __future__ import annotations

import ast
import importlib
import re

import pytest

from model.cli import main
from model.cli_commands import ProgressBar
from model.core.defaults_doc import grade
from model.core.parameters import PARAMS
from model.core.paths import REPO_ROOT
from model.sweep.experiment import experiment_from_dict
from model.sweep.runner import run_sweep


def test_params_lists_every_parameter_with_unit_default_range_and_grade(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split() == ["parameter", "default", "unit", "allowed", "grade"]
    for p in PARAMS:
        assert any(line.startswith(p.name + " ") for line in lines), p.name
    row = next(line for line in lines if line.startswith("export_tpp_cap "))
    assert "21,000" in row and "TPP" in row and "[0, 1e+07]" in row and row.rstrip().endswith("H")
    assert f"{len(PARAMS)} parameters" in out


def test_params_name_shows_one_in_full_and_a_part_filters(capsys):
    assert main(["params", "per_customer_cap_units"]) == 0
    out = capsys.readouterr().out
    for key in ("default:", "unit:", "allowed:", "swept range:", "grade:", "what it does:", "source:"):
        assert key in out
    assert 'or inf or "off"' in out and "ASSUMPTION" in out and "§C3" in out
    assert main(["params", "capacity_2026"]) == 0
    table = capsys.readouterr().out.split("\n\n")[0].splitlines()[2:]  # the rows, below the header
    names = [line.split()[0] for line in table]
    assert "huawei_capacity_2026" in names and all("capacity_2026" in n for n in names)
    assert main(["params", "no_such_thing"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chipstack: error: params 'no_such_thing'") and err.count("\n") == 1


def test_grade_reads_the_cited_sections_grade():
    assert grade("BIS final rule FR 2026-00789 (§C3, H)") == "H"
    assert grade("Bloomberg (§C3, M); Reuters (§C3, M/L)") == "M/L"
    assert grade("ASSUMPTION 0.6 (range 0.4-0.8): MI300X (§A2 derived ratios, M)") == "ASSUMPTION (cites M)"
    assert grade("experimental design switch") == "setting"


def test_readme_says_how_to_call_chipstack_after_make_run():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    intro = readme[: readme.index("## Headline result")]
    assert ".venv/bin/chipstack" in intro and "source .venv/bin/activate" in intro
    assert "chipstack params" in intro


def maintenance_modules() -> list[str]:
    """Every module under model/ run as ``python -m`` that has a ``main`` (found by reading the sources,
    so a new one is covered): the command line itself aside."""
    found = []
    for path in sorted((REPO_ROOT / "model").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(n, ast.FunctionDef) and n.name == "main" for n in tree.body):
            name = ".".join(path.relative_to(REPO_ROOT).with_suffix("").parts)
            if name != "model.cli":
                found.append(name)
    return found


def snapshot() -> dict:
    """mtime and size of every file a maintenance module may write (README, docs/, outputs/)."""
    files = [REPO_ROOT / "README.md", *(REPO_ROOT / "docs").rglob("*"), *(REPO_ROOT / "outputs").rglob("*")]
    return {str(f): (f.stat().st_mtime_ns, f.stat().st_size) for f in files if f.is_file()}


def test_every_maintenance_module_is_found():
    assert {"model.analysis.headline", "model.core.defaults_doc", "model.validation.decomposition",
            "model.analysis.posterior_cells"} <= set(maintenance_modules())


@pytest.mark.parametrize("module", maintenance_modules())
def test_module_help_prints_help_and_writes_nothing(module, capsys, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # a module writing relative paths would write here
    before = snapshot()
    main_of = importlib.import_module(module).main
    with pytest.raises(SystemExit) as exit_:
        main_of(["--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: python -m ") and re.search(r"-h, --help", out)
    assert snapshot() == before
    assert not any(tmp_path.iterdir())


class RecordingBar(ProgressBar):
    """The command line's bar, recording every tqdm bar it opens and each bar's (n, total) as it goes."""

    def __init__(self):
        self.seen: list[list[tuple[int, int]]] = []

    def _bar(self, total, initial, desc):
        bar = super()._bar(total, initial, desc)
        self.seen.append([(bar.n, bar.total)])
        return bar

    def advance(self, runs, failed):
        super().advance(runs, failed)
        self.seen[-1].append((self.bar.n, self.bar.total))


def test_progress_total_is_known_and_fixed_within_each_round(tmp_path, capsys):
    """A precision target adds replications in rounds: each round has its own bar whose total never
    changes and whose count never passes it; a line says what the next round adds."""
    spec = {"experiment": {"name": "p", "steps": 2, "replications": 2, "seed": 5, "target_half_width": 1e-6,
                           "max_replications": 4},
            "parameters": {"n_developers": 20}, "grid": {"export_regime": ["threshold", "open"]}}
    bar = RecordingBar()
    result = run_sweep(experiment_from_dict(spec), tmp_path / "out", workers=1, progress=bar)
    assert result.exit_code == 0 and result.total > 4
    assert len(bar.seen) >= 2  # one bar per round
    for steps in bar.seen:
        totals = {total for _, total in steps}
        assert len(totals) == 1  # the total of a round's bar never changes
        assert all(n <= total for n, total in steps)
        assert steps[-1][0] == steps[-1][1]  # and each round ends full
    assert bar.seen[-1][-1] == (result.total, result.total)
    assert "round 2 of the precision target" in capsys.readouterr().err
