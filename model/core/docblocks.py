"""Generated blocks in the Markdown docs: the text between a begin and an end marker is replaced by a
body made from the code or the results (docs/SOURCES.md's defaults tables, README's headline tables,
docs/VALIDATION.md's quarterly and claims tables); tests fail when a block is stale."""

from __future__ import annotations

import argparse
import sys


def replace_block(text: str, begin: str, end: str, body: str) -> str:
    """``text`` with the part between ``begin`` and ``end`` replaced by ``body`` (on lines of its own)."""
    i, j = text.find(begin), text.find(end)
    if not 0 <= i < j:
        raise ValueError(f"no block {begin} ... {end} in the document")
    return text[: i + len(begin)] + "\n" + body.rstrip("\n") + "\n" + text[j:]


def maintenance_arguments(module: str, writes: str, argv: list[str] | None = None,
                          optional: tuple[str, str] | None = None) -> argparse.Namespace:
    """The arguments of ``python -m MODULE``, a maintenance command that rewrites files: ``--help`` (or
    ``-h``) says what it ``writes`` and exits 0 having written nothing; an argument it does not take is a
    usage error (exit 2) before anything is written. ``optional``: (name, help) of one optional argument."""
    parser = argparse.ArgumentParser(prog=f"python -m {module}", description=f"Rewrites {writes}.")
    if optional is not None:
        parser.add_argument(optional[0], nargs="?", default=None, help=optional[1])
    return parser.parse_args(sys.argv[1:] if argv is None else argv)
