"""What ``--resume`` checks besides the experiment's fingerprint (issue 31 item 1): that the saved runs were
made by the same code and packages (``check_same_code``) and that each saved part has the sweep's columns
(``columns_differ``), so that one folder never mixes runs of two models or two output schemas."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pyarrow as pa

from model.sweep.errors import UsageError, shown
from model.sweep.manifest import Manifest


def columns_differ(have: pa.Schema, want: pa.Schema) -> str:
    """'' when a part's columns are the sweep's (names and types, in order), else what differs."""
    if have.names == want.names and have.types == want.types:
        return ""
    missing = [n for n in want.names if n not in have.names]
    extra = [n for n in have.names if n not in want.names]
    return (f"missing {', '.join(missing[:3])}" if missing else
            f"extra {', '.join(extra[:3])}" if extra else "other types or order")


def check_same_code(spec_file: Path, out_dir: Path) -> None:
    """A partial sweep is resumed only by the code and packages that made its saved runs (their record in
    ``spec_file``, ``.parts/experiment.json``): otherwise one folder would mix runs of two models, under one
    manifest. A folder from before the record is not checked. Raises UsageError."""
    from model.sweep.provenance import code_differences, code_identity

    saved = None
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        saved = json.loads(spec_file.read_text(encoding="utf-8"))["code"]
    if not isinstance(saved, dict):
        return
    differ = code_differences(saved, code_identity())
    if differ:
        commit = str(saved.get("model_commit") or "")[:10]
        where = f" (git checkout {commit})" if commit else ""
        raise UsageError(f"--resume: the runs saved in {shown(out_dir)} were made by other code or "
                         f"packages ({'; '.join(differ)}); resuming would mix runs of two models in one "
                         f"folder; allowed: resume with the code that made them{where}, or another --out "
                         f"folder")


def saved_fingerprint(out_dir: Path, spec_file: Path) -> str | None:
    """The fingerprint of the experiment whose runs a folder holds (its ``spec_file``, else its manifest)."""
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        return json.loads(spec_file.read_text(encoding="utf-8"))["fingerprint"]
    with contextlib.suppress(UsageError, KeyError):
        return Manifest.load(out_dir).data["fingerprint"]
    return None


def manifest_complete(out_dir: Path) -> bool:
    try:
        return Manifest.load(out_dir).complete
    except UsageError:
        return False
