"""Experiment files and designs: validation messages, bad input on the command line, run ids and seeds."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest

from model.cli import main
from model.sweep.design import build_design, make_run_id, run_seed
from model.sweep.errors import UsageError
from model.sweep.experiment import EXPERIMENTS_DIR, experiment_from_dict, load_experiment

GOOD = """\
[experiment]
name = "tiny"
description = "a test"
steps = 3
replications = 2
seed = 7

[parameters]
n_developers = 20

[grid]
export_regime = ["ban", "open"]
"""


def write(tmp_path: Path, text: str, name: str = "exp.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------------------------------------
# Shipped experiments
SHIPPED = ("quick", "export_regimes", "export_lag", "huawei_capacity", "sensitivity")


def _sweep_files() -> list[Path]:
    """Shipped experiments plus any other file in experiments/ with an [experiment] table."""
    found = {EXPERIMENTS_DIR / f"{name}.toml" for name in SHIPPED}
    found |= {p for p in EXPERIMENTS_DIR.glob("*.toml") if "experiment" in tomllib.loads(p.read_text())}
    return sorted(found)


@pytest.mark.parametrize("path", _sweep_files(), ids=lambda p: p.stem)
def test_shipped_experiments_are_valid(path):
    experiment = load_experiment(path)
    assert experiment.name == path.stem
    assert experiment.description.strip()
    assert build_design(experiment).runs


def test_name_resolves_to_experiments_folder():
    assert Path(load_experiment("quick").source) == EXPERIMENTS_DIR / "quick.toml"


def test_good_file_resolved(tmp_path):
    exp = load_experiment(write(tmp_path, GOOD))
    assert (exp.name, exp.steps, exp.replications, exp.seed) == ("tiny", 3, 2, 7)
    assert exp.varying == ["export_regime"]
    assert exp.fixed_parameters()["n_developers"] == 20
    assert "export_regime" not in exp.fixed_parameters()
    assert exp.n_runs() == 4


# ---------------------------------------------------------------------------------------------
# Bad files: (replacement of GOOD's text, words the message must contain)
BAD_CASES = {
    "unknown_key": (("seed = 7", "seed = 7\nsteeps = 4"),
                    ["'steeps'", "[experiment]", "did you mean 'steps'"]),
    "unknown_section": (("[grid]", "[grids]"), ["[grids]", "allowed sections"]),
    "unknown_parameter": (("n_developers = 20", "n_developer = 20"),
                          ["[parameters] n_developer", "did you mean 'n_developers'"]),
    "invalid_value": (('"ban", "open"', '"ban", "opne"'), ["export_regime", "'opne'", "one of"]),
    "out_of_range": (("n_developers = 20", "n_developers = 0"), ["n_developers", "0", "allowed"]),
    "wrong_type": (("steps = 3", 'steps = "3"'), ["[experiment] steps", "'3'", "an integer"]),
    "wrong_type_param": (("n_developers = 20", 'n_developers = "20"'), ["n_developers", "'20'", "integer"]),
    "negative_replications": (("replications = 2", "replications = -1"), ["replications", "-1", "from 1"]),
    "zero_replications": (("replications = 2", "replications = 0"), ["replications", "0", "from 1"]),
    "name_with_slash": (('name = "tiny"', 'name = "../evil"'), ["name", "'../evil'", "letters, digits"]),
    "name_dotdot": (('name = "tiny"', 'name = ".."'), ["name", "'..'", "letters, digits"]),
    "name_with_separator": (('name = "tiny"', 'name = "a/b"'), ["name", "'a/b'"]),
    "fixed_and_varied": (("n_developers = 20", 'n_developers = 20\nexport_regime = "h20"'),
                         ["export_regime", "also in [parameters]"]),
    "toml_syntax": (("steps = 3", "steps = = 3"), ["TOML syntax error", "line 4"]),
    "empty_grid_axis": (('["ban", "open"]', "[]"), ["export_regime", "non-empty"]),
    "missing_name": (('name = "tiny"\n', ""), ["missing", "name"]),
    "seed_as_parameter": (("n_developers = 20", "seed = 3"), ["[parameters] seed", "not a model parameter"]),
}


@pytest.mark.parametrize("case", sorted(BAD_CASES))
def test_bad_file_message(tmp_path, case):
    (old, new), words = BAD_CASES[case]
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(UsageError) as info:
        load_experiment(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    for word in words:
        assert word in message, (word, message)
    assert "\n" not in message


SAMPLE = """\
[experiment]
name = "s"
steps = 2
seed = 3

[sample]
method = "{method}"
n = {n}

[sample.ranges]
{ranges}
"""


@pytest.mark.parametrize("method,n,ranges,words", [
    ("sobol", 6, "lockin_weight = [0.0, 4.0]", ["n = 6", "power of 2"]),
    ("lhs", 4, "lockin_weight = [4.0, 1.0]", ["lockin_weight", "low < high"]),
    ("lhs", 4, "lockin_weight = [0.0, 40.0]", ["lockin_weight", "40", "out of range"]),
    ("lhs", 4, 'export_regime = ["ban", "open"]', ["export_regime", "cannot be sampled"]),
    ("lhs", 4, "lockin_weight = [1.0]", ["lockin_weight", "[low, high]"]),
    ("lhs", 4, "lockinweight = [1.0, 2.0]", ["lockinweight", "did you mean 'lockin_weight'"]),
    ("latin", 4, "lockin_weight = [1.0, 2.0]", ["method", "'latin'", "lhs, sobol, morris"]),
])
def test_bad_sample(tmp_path, method, n, ranges, words):
    path = write(tmp_path, SAMPLE.format(method=method, n=n, ranges=ranges))
    with pytest.raises(UsageError) as info:
        load_experiment(path)
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_missing_file_suggests_name():
    with pytest.raises(UsageError, match="did you mean 'quick'"):
        load_experiment("quik")


# ---------------------------------------------------------------------------------------------
# On the command line: exit 2, one stderr line, no traceback, no output folder
@pytest.mark.parametrize("case", ["unknown_key", "unknown_parameter", "invalid_value", "wrong_type",
                                  "negative_replications", "name_with_slash", "name_dotdot", "toml_syntax"])
def test_bad_file_on_command_line(tmp_path, capsys, case):
    (old, new), _ = BAD_CASES[case]
    path = write(tmp_path, GOOD.replace(old, new, 1))
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chipstack: error:"), err
    assert "Traceback" not in err
    assert not out.exists()


def test_missing_file_on_command_line(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "nope.toml"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chipstack: error:") and "nope.toml" in err
    assert not out.exists()


def test_bad_file_subprocess_leaves_nothing(tmp_path):
    """The real command: exit code 2, one line on stderr, nothing written (default output folder)."""
    path = write(tmp_path, GOOD.replace("replications = 2", "replications = -3"))
    proc = subprocess.run([sys.executable, "-m", "model.cli", "sweep", str(path)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.startswith("chipstack: error:") and proc.stderr.count("\n") == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "outputs").exists()


# ---------------------------------------------------------------------------------------------
# Designs: identity, not order
def test_run_ids_and_seeds_do_not_depend_on_order(tmp_path):
    forward = load_experiment(write(tmp_path, GOOD.replace('["ban", "open"]', '["ban", "h20", "open"]')))
    backward = load_experiment(write(tmp_path, GOOD.replace('["ban", "open"]', '["open", "h20", "ban"]'),
                                     "b.toml"))
    runs_f = {r.run_id: (r.seed, r.values["export_regime"], r.replication)
              for r in build_design(forward).runs}
    runs_b = {r.run_id: (r.seed, r.values["export_regime"], r.replication)
              for r in build_design(backward).runs}
    assert runs_f == runs_b and len(runs_f) == 6
    assert len({seed for seed, _, _ in runs_f.values()}) == 6


def test_run_id_and_seed_are_stable():
    run_id = make_run_id({"export_regime": "ban"}, None, 0)
    assert run_id == make_run_id({"export_regime": "ban"}, None, 0)
    assert len(run_id) == 16 and int(run_id, 16) >= 0
    assert run_id != make_run_id({"export_regime": "ban"}, None, 1)
    assert run_seed(1, run_id) == run_seed(1, run_id) != run_seed(2, run_id)
    assert 0 <= run_seed(1, run_id) < 2**63


def _sample_exp(method: str, n: int, extra: str = "") -> dict:
    return {"experiment": {"name": "s", "steps": 2, "replications": 2, "seed": 5},
            "grid": {"export_regime": ["ban", "open"]},
            "sample": {"method": method, "n": n, **({"num_levels": 4} if method == "morris" else {}),
                       "ranges": {"lockin_weight": [0.0, 4.0], "export_lag_months": [0, 36]}}}


@pytest.mark.parametrize("method,n,points", [("lhs", 5, 5), ("sobol", 4, 16), ("morris", 3, 9)])
def test_sample_designs(method, n, points):
    exp = experiment_from_dict(_sample_exp(method, n))
    design = build_design(exp)
    assert design.kind == "grid+sample"
    assert len(design.sample_points) == points
    assert len(design.runs) == 2 * points * 2 == exp.n_runs()
    lags = [r.values["export_lag_months"] for r in design.runs]
    weights = np.array([r.values["lockin_weight"] for r in design.runs])
    assert all(isinstance(v, int) for v in lags) and min(lags) >= 0 and max(lags) <= 36
    assert weights.min() >= 0.0 and weights.max() <= 4.0
    assert len({r.run_id for r in design.runs}) == len(design.runs)
    # the same sample in every grid cell, reproducibly
    again = build_design(experiment_from_dict(_sample_exp(method, n)))
    assert [r.run_id for r in again.runs] == [r.run_id for r in design.runs]
    entry = design.manifest_entry(exp)
    assert entry["sample"]["salib_problem"]["names"] == ["lockin_weight", "export_lag_months"]


def test_sensitivity_ranges_are_the_documented_sweep_ranges():
    from model.core.parameters import PARAMS_BY_NAME

    exp = load_experiment("sensitivity")
    assert exp.sample.method == "sobol" and len(exp.sample.ranges) >= 9
    for name, bounds in exp.sample.ranges.items():
        assert bounds == tuple(float(b) for b in PARAMS_BY_NAME[name].sweep_range), name


def test_precision_keys_validated(tmp_path):
    exp = load_experiment("export_regimes")
    assert exp.precision.half_width == 0.025 and exp.precision.reporter == "us_stack_share"
    bad = GOOD.replace("seed = 7", "seed = 7\ntarget_half_width = 0.1\nmax_replications = 1")
    with pytest.raises(UsageError, match="max_replications = 1: below replications = 2"):
        load_experiment(write(tmp_path, bad))


# ---------------------------------------------------------------------------------------------
# Text values in one spelling (issue 31 item 6): two spellings of one value are one design point and one
# run id; digits of other scripts are refused with one line
def test_quarters_and_schedules_have_one_spelling_before_run_ids():
    def design(grid: dict, parameters: dict | None = None):
        exp = experiment_from_dict({"experiment": {"name": "t", "steps": 2, "seed": 3},
                                    "parameters": parameters or {}, "grid": grid})
        return exp, build_design(exp)

    canonical, plain = design({"start_quarter": ["2026Q1"]})
    spaced, other = design({"start_quarter": [" 2026q1 "]})
    assert spaced.grid["start_quarter"] == ["2026Q1"]
    assert [r.run_id for r in other.runs] == [r.run_id for r in plain.runs]
    assert spaced.fingerprint() == canonical.fingerprint()
    a, _ = design({"export_regime": ["ban", "open"]}, {"china_policy_schedule": "2026Q2:ban"})
    b, _ = design({"export_regime": ["ban", "open"]}, {"china_policy_schedule": " 2026q2 : ban "})
    assert b.parameters["china_policy_schedule"] == "2026Q2:ban" and a.fingerprint() == b.fingerprint()
    # the reviewer's three spellings of one schedule were three design points: now one value, so refused
    with pytest.raises(UsageError, match="china_policy_schedule .*repeated value"):
        design({"china_policy_schedule": ["2026Q2:ban", " 2026Q2:ban", "2026Q2 : ban"]})
    _, counts = design({"us_licence_schedule": ["2026Q2:10,2026Q1:03"]})
    assert counts.runs[0].values["us_licence_schedule"] == "2026Q1:3,2026Q2:10"


@pytest.mark.parametrize("text", ['start_quarter = "٢٠٢٦Q1"', 'china_policy_schedule = "٢٠٢٦Q2:ban"',
                                  'us_licence_schedule = "2026Q1:٣"'])
def test_digits_of_other_scripts_are_one_line_errors(tmp_path, capsys, text):
    path = write(tmp_path, GOOD.replace("n_developers = 20", f"n_developers = 20\n{text}"))
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chipstack: error:"), err
    assert str(path) in err and text.split(" =")[0] in err and "ASCII" in err and "allowed:" in err, err
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------
# Sensitivity designs too small for their method (issue 31 item 5): refused when the file is read
@pytest.mark.parametrize("section, method", [("sample", "sobol"), ("sample", "morris"),
                                             ("uncertainties", "sobol"), ("uncertainties", "morris")])
def test_sensitivity_designs_below_their_minimum_are_refused(tmp_path, capsys, section, method):
    body = (GOOD.replace('[grid]\nexport_regime = ["ban", "open"]\n', "") if section == "sample" else
            GOOD.replace("[grid]", "[levers]"))
    path = write(tmp_path, body + f'\n[{section}]\nmethod = "{method}"\nn = 1\n\n'
                 f"[{section}.ranges]\nlockin_weight = [0.0, 4.0]\n")
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--workers", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("chipstack: error:"), err
    assert f"{path}: [{section}] n = 1: too small" in err and f"at least 2 for method '{method}'" in err, err
    assert not (tmp_path / "out").exists()
    # the minimum itself is accepted
    experiment_from_dict(tomllib.loads(path.read_text().replace("n = 1\n", "n = 2\n")))
