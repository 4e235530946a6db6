"""Where a result was made: package versions, the model's git commit, the CPU and the BLAS library.

Recorded in every sweep manifest and compared by ``chipstack replicate``, which warns about each
difference. The simulation's arithmetic does not depend on the CPU or the BLAS kernel (see
``model.core.fixedmath``), so on x86-64 with the pinned lock file a difference in ``platform`` should not
change a number; the record is there so that, when one does change elsewhere (another OS, ARM,
another numpy), the reader can see why.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
from pathlib import Path

from model.core.paths import REPO_ROOT, REQUIREMENTS_LOCK  # the one definition (model.core.paths)

#: Packages whose versions are recorded (the resolved versions of the lock file).
VERSION_PACKAGES = ("chipstack", "mesa", "numpy", "pandas", "pyarrow", "scipy", "SALib", "pydantic",
                    "tqdm", "threadpoolctl")
#: Paths whose last commit is "the commit of the model code": what makes the numbers.
MODEL_PATHS = ("model", "pyproject.toml", REQUIREMENTS_LOCK.name)


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in VERSION_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(REPO_ROOT), *args], capture_output=True, text=True,
                          timeout=10, check=True).stdout.strip()


def git_state() -> dict | None:
    """The repository's HEAD, the last commit that changed the model code (``MODEL_PATHS``), and
    whether the model code has uncommitted changes; None without git or outside a repository."""
    try:
        commit = _git("rev-parse", "HEAD")
        model_commit = _git("log", "-1", "--format=%H", "--", *MODEL_PATHS) or commit
        dirty = bool(_git("status", "--porcelain", "--untracked-files=no", "--", *MODEL_PATHS))
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit, "model_commit": model_commit, "dirty": dirty}


def code_sha256() -> str:
    """sha256 of the code that makes the numbers, as it is on disk (committed or not): every ``.py`` file of
    the ``model`` package in path order, with ``pyproject.toml`` and the lock file where they exist."""
    import hashlib

    import model

    package = Path(model.__file__).resolve().parent
    files = sorted(package.rglob("*.py"), key=lambda p: p.relative_to(package).as_posix())
    files += [f for f in (REPO_ROOT / "pyproject.toml", REPO_ROOT / REQUIREMENTS_LOCK.name) if f.is_file()]
    digest = hashlib.sha256()
    for f in files:
        name = f.relative_to(package).as_posix() if f.is_relative_to(package) else f.name
        digest.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
    return digest.hexdigest()


def code_identity() -> dict:
    """What made a sweep's runs: the code's sha256 (``code_sha256``), the model commit when git knows it, and
    the package versions; a resumed sweep must be made by the same (``store.check_output_folder``)."""
    git = git_state()
    return {"code_sha256": code_sha256(), "model_commit": git and git["model_commit"],
            "versions": package_versions()}


def code_differences(saved: dict, now: dict) -> list[str]:
    """What differs between two ``code_identity`` records, in words (empty: the same code and packages)."""
    out = []
    if saved.get("code_sha256") != now.get("code_sha256"):
        commits = (saved.get("model_commit"), now.get("model_commit"))
        out.append("the model code (commit " + " -> ".join(str(c)[:10] for c in commits) + ")"
                   if commits[0] != commits[1] else "the model code (uncommitted changes)")
    old, new = saved.get("versions") or {}, now.get("versions") or {}
    out += [f"{k} {old.get(k)} -> {new.get(k)}" for k in sorted(set(old) | set(new))
            if old.get(k) != new.get(k)]
    return out


def model_changes_since(commit: str) -> str | None:
    """'N files changed, ...' in the model code between ``commit`` and the working tree, or None."""
    try:
        return _git("diff", "--shortstat", commit, "--", *MODEL_PATHS) or "no change"
    except (OSError, subprocess.SubprocessError):
        return None


def platform_info() -> dict:
    """CPU architecture, the SIMD features numpy uses, and numpy's BLAS library with its core type."""
    import numpy  # noqa: F401  (loads the BLAS library that threadpool_info reports)

    try:
        from numpy._core._multiarray_umath import __cpu_dispatch__, __cpu_features__
        simd = sorted(k for k, v in __cpu_features__.items() if v and k in set(__cpu_dispatch__))
    except ImportError:  # pragma: no cover - numpy internals moved
        simd = None
    blas: dict | None = None
    try:
        from threadpoolctl import threadpool_info

        libs = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        # numpy's own BLAS (numpy.libs/), not scipy's copy: threadpoolctl lists the two in an order
        # that follows Python's string hashing, which differs between processes
        libs.sort(key=lambda i: "numpy" not in Path(i.get("filepath") or "").parent.name)
        if libs:
            blas = {k: libs[0].get(k) for k in ("internal_api", "version", "architecture")}
    except ImportError:  # pragma: no cover - threadpoolctl is a dependency
        pass
    return {
        "machine": platform.machine(),
        "system": platform.system(),
        "numpy_simd_dispatch": simd,
        "blas": blas,
        "env": {k: os.environ.get(k) for k in ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")
                if os.environ.get(k) is not None},
    }
