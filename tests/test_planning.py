"""Planning a large sweep: the estimate is said before the silence, and a design this machine cannot hold
is refused with the estimate (model.sweep.planning; issue 31 item 9)."""

import pytest

from model.cli import main
from model.sweep.errors import UsageError
from model.sweep.planning import BYTES_PER_RUN, NOTICE_RUNS, available_bytes, plan


def test_small_designs_plan_silently():
    assert plan("x", NOTICE_RUNS - 1, available=10**12) is None


def test_large_designs_say_what_planning_costs():
    notice = plan("big", 5_000_000, available=10**12)
    assert notice.startswith("chipstack: sweep big: planning 5,000,000 runs")
    assert f"{5_000_000 * BYTES_PER_RUN / 1e9:.1f} GB" in notice


def test_a_design_the_machine_cannot_hold_is_refused_with_the_estimate():
    with pytest.raises(UsageError, match=r"5,000,000 runs need about 2.5 GB .* has 1.0 GB available"):
        plan("big", 5_000_000, available=10**9)


def test_the_machine_memory_is_read():
    available = available_bytes()
    assert available is None or available > 0


def test_the_cli_refuses_before_building_the_design(tmp_path, capsys, monkeypatch):
    """With (pretend) 1 MB free, a 4,000-run grid is refused in one line and nothing is written."""
    monkeypatch.setattr("model.sweep.planning.available_bytes", lambda: 1_000_000)
    path = tmp_path / "big.toml"
    values = ", ".join(f"{i / 200}" for i in range(100))
    path.write_text('[experiment]\nname = "big"\nsteps = 1\nreplications = 40\n[parameters]\n'
                    f'n_developers = 2\n[grid]\ndomestic_subsidy = [{values}]\n', encoding="utf-8")
    out = tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chipstack: error: experiment big: 4,000 runs need about") and err.count("\n") == 1
    assert not out.exists()
