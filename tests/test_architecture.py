"""Imports flow one way (docs/ARCHITECTURE.md): core <- sweep <- analysis <- validation, ui <- cli.

Every module's imports are read with ``ast`` (top-level and inside functions, absolute and relative),
so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from model.core.paths import REPO_ROOT

ROOT = REPO_ROOT
PACKAGE = ROOT / "model"

#: the command line: ``model.cli`` and its sibling modules, on top of every layer
CLI = ("cli", "cli_parser", "cli_commands")
#: layer -> the layers it must not import
FORBIDDEN = {
    "core": ("sweep", "analysis", "validation", "ui", *CLI),
    "sweep": ("analysis", "validation", "ui", *CLI),
    "analysis": ("validation", "ui", *CLI),
    "validation": ("ui", *CLI),
    "ui": ("validation", *CLI),
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, name: str | None = None) -> set[str]:
    """Fully qualified names of the modules ``path`` imports (relative imports resolved as if the
    module were called ``name``, by default its name in the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = name or module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names.add(prefix)
            names.update(f"{prefix}.{alias.name}" for alias in node.names)  # `from model import cli`
    return names


def layer_of(name: str) -> str | None:
    parts = name.split(".")
    if parts[0] != "model" or len(parts) < 2:
        return None
    return parts[1]


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_layer_is_a_folder_and_the_cli_sits_on_top():
    assert ({p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
            >= set(FORBIDDEN))
    assert (PACKAGE / "cli.py").is_file() and not (PACKAGE / "model.py").exists()
    assert len(MODULES) > 30


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_flow_one_way(path):
    layer = layer_of(module_name(path))
    forbidden = FORBIDDEN.get(layer, ())
    bad = sorted(name for name in imported_modules(path) if layer_of(name) in forbidden)
    assert not bad, (f"{path.relative_to(ROOT)} (layer {layer}) imports {bad}; "
                     f"allowed: {sorted(set(FORBIDDEN) - set(forbidden) - {layer})}")


def test_the_checker_sees_relative_and_lazy_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ..analysis import report\n    import model.ui.app\n")
    names = imported_modules(probe, name="model.sweep.probe")
    assert "model.analysis.report" in names and "model.ui.app" in names
    assert {layer_of(n) for n in names} >= {"analysis", "ui"}


def test_import_model_loads_no_plotting_ui_or_cluster_library():
    code = ("import json, sys; import model; "
            "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(json.loads(out.stdout))
    assert "model" in loaded
    assert not loaded & {"matplotlib", "solara", "dask", "distributed"}, (
        loaded & {"matplotlib", "solara", "dask"})


DOC_PATH = re.compile(r"`((?:model|tests|benchmarks|experiments|docs)/[^`\s]*)`")


def _expand(path: str) -> list[str]:
    """``docs/figures/x.{png,csv}`` -> both paths; ``tests/mod.Name`` (a class in a module) -> the module."""
    m = re.search(r"\{([^}]*)\}", path)
    if m:
        return [p for alt in m.group(1).split(",") for p in _expand(path[:m.start()] + alt + path[m.end():])]
    path = re.sub(r"[.:,;]$", "", path.split("::")[0])
    if not (ROOT / path).exists() and re.search(r"\.[A-Z]\w*$", path):
        path = path.rsplit(".", 1)[0].replace(".", "/") + ".py"
    return [path]


DOCS = ["README.md", "CHANGELOG.md", "benchmarks/README.md",
        *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").glob("*.md"))]


@pytest.mark.parametrize("doc", DOCS)
def test_paths_the_docs_name_exist(doc):
    """Every repository path a document names in backticks (`model/core/market.py`, `experiments/x.toml`)
    exists: a file moved by a refactoring must take its mentions with it."""
    named = {p for m in DOC_PATH.finditer((ROOT / doc).read_text(encoding="utf-8"))
             for p in _expand(m.group(1))}
    missing = sorted(p for p in named if "<" not in p  # `experiments/<name>.toml` is a pattern to fill in
                     and not ((ROOT / p).exists() or ("*" in p and any(ROOT.glob(p)))))
    assert not missing, f"{doc} names paths that do not exist: {missing}"


MAX_LINES = 400
#: The only modules allowed over MAX_LINES: data tables, one entry per line (no docstring claim counts).
DATA_TABLES = ("model/core/parameters.py", "model/core/catalogue.py")


MODULES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "model").rglob("*.py"))


def test_the_data_tables_exist():
    for path in DATA_TABLES:
        assert (ROOT / path).is_file(), f"{path} is exempt from the length rule but does not exist"


@pytest.mark.parametrize("path", MODULES)
def test_no_module_is_over_400_lines(path):
    """House rule: no module in model/ over 400 lines; split a long one by job. The only exemptions are
    the data tables named in DATA_TABLES."""
    lines = (ROOT / path).read_text(encoding="utf-8").count("\n")
    assert path in DATA_TABLES or lines <= MAX_LINES, f"{path}: {lines} lines; split it by job"


LIBRARY_MODULES = sorted(p.relative_to(ROOT).as_posix() for layer in ("analysis", "validation")
                         for p in (PACKAGE / layer).rglob("*.py") if p.name != "__main__.py")


def stdout_prints(source: str) -> list[int]:
    """Lines of ``print(...)`` calls that write to standard output (no ``file=``, or ``file=sys.stdout``),
    outside an ``if __name__ == "__main__":`` block."""
    tree = ast.parse(source)
    skip: set[int] = set()
    for node in ast.walk(tree):
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
            skip.update(id(n) for n in ast.walk(node))
    lines = []
    for node in ast.walk(tree):
        if (id(node) not in skip and isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "print"):
            target = next((k.value for k in node.keywords if k.arg == "file"), None)
            if target is None or ast.unparse(target) == "sys.stdout":
                lines.append(node.lineno)
    return lines


@pytest.mark.parametrize("path", LIBRARY_MODULES)
def test_library_modules_return_text_and_the_cli_prints_it(path):
    """analysis/ and validation/ return text and data; only the command line (model/cli*.py, the
    ``__main__`` scripts) prints on standard output. Messages on stderr are fine."""
    lines = stdout_prints((ROOT / path).read_text(encoding="utf-8"))
    assert not lines, f"{path} prints on standard output at lines {lines}; return the text instead"


def test_the_print_guard_sees_a_print(tmp_path):
    assert stdout_prints("import sys\nprint('x')\nprint('y', file=sys.stderr)\nprint('z', file=sys.stdout)\n"
                         "if __name__ == '__main__':\n    print('ok')\n") == [2, 4]
