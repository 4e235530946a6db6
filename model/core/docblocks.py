"""Generated blocks in the Markdown docs: the text between a begin and an end marker is replaced by a
body made from the code or the results (docs/SOURCES.md's defaults tables, README's headline tables,
docs/VALIDATION.md's quarterly and claims tables); tests fail when a block is stale."""

from __future__ import annotations


def replace_block(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with the part between ``begin`` and ``end`` replaced by ``body`` (on lines of its own)."""
    i, j = text.find(begin), text.find(end)
    if not 0 <= i < j:
        raise ValueError(f"no block {begin} ... {end} in the document")
    return text[: i + len(begin)] + "\n" + body.rstrip("\n") + "\n" + text[j:]
