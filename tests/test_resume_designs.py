"""``--resume`` on a finished sweep does nothing, whatever its design (issue 32 item 3): a full factorial
[grid], a [sample], [levers] x [uncertainties] (common random numbers), a precision target's adaptive
replications, and a lever that is off (``inf``). The finished folder's manifest is checked against the
seeds the design derives (``Design.derived_seeds``, the rule that made them), not a second copy of it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model.cli import main
from model.sweep.manifest import Manifest

HEAD = """[experiment]
name = "t"
description = "resume"
steps = 2
replications = {replications}
seed = 7
{extra}
[parameters]
n_developers = 20
"""

DESIGNS = {
    "grid": ("", """[grid]
export_regime = ["h20", "open"]
china_import_policy = ["open", "decides"]
"""),
    "sample": ("", """[sample]
method = "lhs"
n = 3
[sample.ranges]
us_reversal_prob = [0.0, 0.3]
huawei_capacity_2026 = [200000, 3000000]
"""),
    "levers_uncertainties": ("", """[levers]
export_regime = ["threshold", "open"]
export_tpp_cap = [10000.0, 21000.0]
[uncertainties]
method = "lhs"
n = 4
[uncertainties.ranges]
us_roadmap_delay_quarters = [-2, 4]
domestic_efficiency = [0.5, 1.0]
[uncertainties.choices]
china_import_policy = ["decides", "open"]
"""),
    # a half-width no two runs reach: the runner adds replications in rounds up to max_replications
    "adaptive_replications": ("target_half_width = 0.000001\nmax_replications = 4\n", """[grid]
export_regime = ["threshold", "open"]
"""),
    "levers_with_a_cap_off": ("", """[levers]
per_customer_cap_units = [inf, 50000]
[uncertainties]
method = "lhs"
n = 2
[uncertainties.ranges]
domestic_efficiency = [0.5, 1.0]
"""),
}


def sweep_twice(tmp_path: Path, design: str, capsys) -> tuple[dict, dict, Path]:
    extra, body = DESIGNS[design]
    path = tmp_path / "t.toml"
    path.write_text(HEAD.format(replications=2, extra=extra) + body, encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--workers", "1"]) == 0
    capsys.readouterr()
    before = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir() if p.is_file()}
    code = main(["sweep", str(path), "--out", str(out), "--workers", "1", "--resume"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    after = {p.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in out.iterdir() if p.is_file()}
    return before, after, out


@pytest.mark.parametrize("design", sorted(DESIGNS))
def test_resume_of_a_finished_sweep_does_nothing(design, tmp_path, capsys):
    before, after, out = sweep_twice(tmp_path, design, capsys)
    assert after == before  # nothing rewritten
    manifest = Manifest.load(out).data
    assert manifest["status"] == "complete"
    if design == "adaptive_replications":
        assert len(manifest["runs"]) > 2 * 2  # the precision target added replications
    if design.startswith("levers"):
        assert manifest["design"]["seeding"] == "crn"


def test_resume_still_refuses_a_manifest_whose_seeds_were_altered(tmp_path, capsys):
    """The check is not weakened: one altered seed in a finished folder's manifest is still refused."""
    _, _, out = sweep_twice(tmp_path, "levers_uncertainties", capsys)
    path = out / "manifest.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data["runs"][3]["seed"] += 1
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    code = main(["sweep", str(tmp_path / "t.toml"), "--out", str(out), "--resume"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("chipstack: error:") and "seeds of 1 runs" in err
