"""docs/SOURCES.md states every default as the code does: its generated tables are current."""

from model.core import defaults_doc


def test_generated_defaults_tables_in_sources_md_are_current():
    text = defaults_doc.SOURCES_MD.read_text(encoding="utf-8")
    generated = text.split(defaults_doc.BEGIN, 1)[1].split(defaults_doc.END, 1)[0]
    assert generated == "\n" + defaults_doc.tables(), (
        "docs/SOURCES.md is stale: run `python -m model.core.defaults_doc` and commit it")


def test_every_parameter_and_chip_appears_with_its_default():
    table = defaults_doc.tables()
    from model.core.catalogue import CHIPS
    from model.core.parameters import PARAMS

    for p in PARAMS:
        assert f"| `{p.name}` |" in table
    for c in CHIPS:
        assert f"| {c.name} | {c.maker} | {c.release} |" in table
