"""A cap that may be off (``Param.allow_off``) takes ``inf`` or ``"off"`` wherever a value is written
(issue 32 item 2): [parameters], [grid], [levers], [uncertainties.choices], ``--set`` and the UI's text
fields; a sampled range refuses it in one line (there is no uniform draw up to infinity). Sweeps with the
cap off run to the end and write their run ids, manifest, Parquet and CSV files."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from model.cli import main
from model.core.parameters import coerce_text, validate_value
from model.sweep.design import build_design, canonical_json, make_run_id
from model.sweep.errors import UsageError
from model.sweep.experiment import experiment_from_dict

HEAD = """[experiment]
name = "off"
description = "caps off"
steps = 2
replications = 1
seed = 3

"""


def base(**sections) -> dict:
    return {"experiment": {"name": "off", "steps": 2, "replications": 1, "seed": 3},
            "parameters": {"n_developers": 20}} | sections


def sweep(tmp_path: Path, body: str, capsys) -> Path:
    path = tmp_path / "off.toml"
    path.write_text(HEAD + body, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["sweep", str(path), "--out", str(out), "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "Traceback" not in captured.err
    return out


@pytest.mark.parametrize("word", ["inf", '"off"', '"OFF"', '"inf"'])
def test_parameters_section_takes_inf_and_off(word, tmp_path, capsys):
    out = sweep(tmp_path, f"[parameters]\nn_developers = 20\nper_customer_cap_units = {word}\n"
                          f"[grid]\nexport_regime = [\"threshold\", \"open\"]\n", capsys)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["fixed"]["per_customer_cap_units"] == math.inf
    assert manifest["counts"]["done"] == 2


def test_grid_takes_inf_and_off_and_writes_every_file(tmp_path, capsys):
    out = sweep(tmp_path, '[parameters]\nn_developers = 20\n'
                          '[grid]\nper_customer_cap_units = [inf, 75000, 50000]\n', capsys)
    final = pd.read_csv(out / "final.csv")
    assert sorted(final["per_customer_cap_units"]) == [50_000, 75_000, math.inf]
    runs = pd.read_parquet(out / "runs.parquet")
    assert math.inf in set(runs["per_customer_cap_units"])
    # "off" is the same point as inf: the same run id
    same = experiment_from_dict(base(grid={"per_customer_cap_units": ["off", 75000.0, 50000.0]}))
    ids = {r["run_id"] for r in json.loads((out / "manifest.json").read_text())["runs"]}
    assert {r.run_id for r in build_design(same).runs} == ids


def test_grid_refuses_off_and_inf_together():
    with pytest.raises(UsageError, match="repeated value"):
        experiment_from_dict(base(grid={"per_customer_cap_units": ["off", math.inf]}))


def test_levers_and_uncertainty_choices_take_off(tmp_path, capsys):
    out = sweep(tmp_path, '[parameters]\nn_developers = 20\n'
                          '[levers]\nus_licence_total_cap_units = ["off", 1000000]\n'
                          '[uncertainties]\nmethod = "lhs"\nn = 2\n'
                          '[uncertainties.ranges]\ndomestic_efficiency = [0.5, 1.0]\n'
                          '[uncertainties.choices]\nper_customer_cap_units = [inf, 75000]\n', capsys)
    final = pd.read_csv(out / "final.csv")
    assert set(final["us_licence_total_cap_units"]) == {math.inf, 1_000_000}
    assert set(final["per_customer_cap_units"]) == {math.inf, 75_000}


@pytest.mark.parametrize("section", ["sample", "uncertainties"])
@pytest.mark.parametrize("bounds", [[50000, math.inf], [50000, "off"]])
def test_a_sampled_range_refuses_off_in_one_line(section, bounds):
    if section == "sample":
        data = base(sample={"method": "lhs", "n": 2, "ranges": {"per_customer_cap_units": bounds}})
    else:
        data = base(levers={"export_regime": ["threshold", "open"]},
                    uncertainties={"method": "lhs", "n": 2, "ranges": {"per_customer_cap_units": bounds}})
    with pytest.raises(UsageError) as err:
        experiment_from_dict(data, "x.toml")
    message = str(err.value)
    assert message.startswith(f"x.toml: [{section}.ranges] per_customer_cap_units") and "\n" not in message
    assert "allowed:" in message


def test_cli_set_takes_off(tmp_path, capsys):
    assert coerce_text("per_customer_cap_units", "off") == math.inf
    assert coerce_text("per_customer_cap_units", " Inf ") == math.inf
    out = tmp_path / "run"
    assert main(["run", "--steps", "2", "--set", "per_customer_cap_units=off", "--set", "n_developers=20",
                 "--out", str(out)]) == 0
    assert "per_customer_cap_units" in capsys.readouterr().out and (out / "timeseries.csv").exists()
    # a parameter that cannot be off still refuses the word, in one line naming what is allowed
    assert main(["run", "--steps", "2", "--set", "export_tpp_cap=off", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chipstack: error: --set 'export_tpp_cap=off'") and err.count("\n") == 1


def test_ui_text_fields_take_the_same_words():
    from model.ui.levers import to_model

    for text in ("off", "OFF", "inf", "", " none "):
        assert to_model("per_customer_cap_units", text) == math.inf
    assert to_model("per_customer_cap_units", "75,000") == 75_000


def test_validate_value_and_run_ids_of_inf():
    assert validate_value("china_import_cap_units", "off") == math.inf
    with pytest.raises(ValueError, match='or inf or "off"'):
        validate_value("china_import_cap_units", "closed")
    assert canonical_json({"a": math.inf}) == '{"a":"inf"}'
    # finite values keep the run ids they always had
    assert canonical_json({"a": 1.5, "b": [2, "x"]}) == json.dumps({"a": 1.5, "b": [2, "x"]},
                                                                     sort_keys=True, separators=(",", ":"))
    assert make_run_id({"per_customer_cap_units": math.inf}, None, 0) != make_run_id(
        {"per_customer_cap_units": 75000.0}, None, 0)
