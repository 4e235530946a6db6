"""docs/SOURCES.md states every default as the code does: its generated tables are current."""

from model.core import defaults_doc


def test_generated_defaults_tables_in_sources_md_are_current():
    text = defaults_doc.SOURCES_MD.read_text(encoding="utf-8")
    generated = text.split(defaults_doc.BEGIN, 1)[1].split(defaults_doc.END, 1)[0]
    assert generated == "\n" + defaults_doc.tables(), (
        "docs/SOURCES.md is stale: run `python -m model.core.defaults_doc` and commit it")


def test_generated_constants_table_in_sources_md_is_current():
    """The model constants' table is generated from the constants themselves (value imported, statement
    read from the code's comment): changing a constant's value or comment makes SOURCES.md stale."""
    text = defaults_doc.SOURCES_MD.read_text(encoding="utf-8")
    generated = text.split(defaults_doc.CONSTANTS_BEGIN, 1)[1].split(defaults_doc.CONSTANTS_END, 1)[0]
    assert generated == "\n" + defaults_doc.constants_table(), (
        "docs/SOURCES.md is stale: run `python -m model.core.defaults_doc` and commit it")


def test_every_constant_is_importable_and_states_its_source(monkeypatch):
    import importlib

    table = defaults_doc.constants_table()
    for c in defaults_doc.CONSTANTS:
        assert hasattr(importlib.import_module(c.module), c.name), (c.module, c.name)
        assert len(c.statement) > 10, c.name
        assert f"| `{c.name}` (`{c.module.replace('.', '/')}.py`) |" in table
    # the value is read from the module, never typed twice: a changed value changes the table
    monkeypatch.setattr("model.core.catalogue.SALE_QUARTERS", 13)
    changed = defaults_doc.constants_table()
    assert changed != table and "| 13 | quarters on sale" in changed


def test_every_parameter_and_chip_appears_with_its_default():
    table = defaults_doc.tables()
    from model.core.catalogue import CHIPS
    from model.core.parameters import PARAMS

    for p in PARAMS:
        assert f"| `{p.name}` |" in table
    for c in CHIPS:
        assert f"| {c.name} | {c.maker} | {c.release} |" in table


def test_every_ranged_parameter_is_screened_over_its_documented_range():
    """An assumption with a range must be in the sensitivity analysis: experiments/screening.toml (Morris)
    varies every parameter with a sweep range, over that range or the one sensitivity.toml uses, and the
    Sobol' analysis varies a subset of them over the same ranges."""
    import tomllib

    from model.core.parameters import PARAMS, PARAMS_BY_NAME
    from model.sweep.experiment import EXPERIMENTS_DIR

    def ranges(name):
        with open(EXPERIMENTS_DIR / f"{name}.toml", "rb") as f:
            return tomllib.load(f)["sample"]["ranges"]

    screened, sobol = ranges("screening"), ranges("sensitivity")
    ranged = {p.name for p in PARAMS if p.sweep_range is not None and p.kind in ("float", "int")}
    missing = ranged - {"n_developers"} - set(screened)
    assert not missing, f"ranged parameters not screened in experiments/screening.toml: {sorted(missing)}"
    assert set(sobol) <= set(screened)
    for name, (lo, hi) in screened.items():
        expected = sobol.get(name, PARAMS_BY_NAME[name].sweep_range)
        assert (lo, hi) == tuple(expected), f"{name}: screened over {lo}..{hi}, documented {expected}"
