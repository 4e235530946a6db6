"""Results that do not depend on the CPU: fixed-arithmetic exp/log, and whole runs compared bit for bit
in subprocesses under different OpenBLAS kernels and numpy SIMD feature sets.

Before the fix, `OPENBLAS_CORETYPE=SkylakeX` or `=Sandybridge` changed the last bits of every
reporter (dense BLAS products in the logit and the market clearing), and disabling AVX-512 in numpy
changed them again (numpy's AVX-512 `exp`/`log` kernels differ from the C library's by an ulp).
"""

from __future__ import annotations

import ast
import math
import os
import re
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.core import fixedmath as fm

SCRIPT = r"""
import hashlib, json
import numpy as np
from model import ChipMarketModel
cases = [dict(), dict(export_regime="open", china_import_policy="open"),
         dict(export_regime="ban", huawei_capacity_2026=40_000, cambricon_capacity_2026=20_000),
         dict(export_regime="h20", china_import_policy="discourage", us_reversal_prob=0.3,
              realize_reversals=True)]
out = {}
for k, params in enumerate(cases):
    m = ChipMarketModel(rng=11 + k, n_developers=300, **params)
    df = m.run(12)
    table = np.ascontiguousarray(df.drop(columns=["quarter"]).to_numpy())
    out[k] = hashlib.sha256(table.tobytes()).hexdigest()
print(json.dumps(out))
"""

#: Environments that select other BLAS kernels or turn numpy's AVX-512 (and AVX2) kernels off.
ENVIRONMENTS = {
    "default": {},
    "Haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "SkylakeX": {"OPENBLAS_CORETYPE": "SkylakeX"},
    "Sandybridge": {"OPENBLAS_CORETYPE": "Sandybridge"},
    "no AVX-512": {"NPY_DISABLE_CPU_FEATURES": "X86_V4 AVX512_ICL AVX512_SPR"},
    "no AVX2, no AVX-512": {"NPY_DISABLE_CPU_FEATURES": "X86_V3 X86_V4 AVX512_ICL AVX512_SPR",
                            "OPENBLAS_CORETYPE": "Nehalem"},
}


def _run_under(env_extra: dict) -> str:
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_CORETYPE", "NPY_DISABLE_CPU_FEATURES")}
    env.update(env_extra)
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip().splitlines()[-1]


@pytest.mark.skipif(os.uname().machine not in ("x86_64", "AMD64"), reason="the promise is for x86-64")
@pytest.mark.slow  # over ~4 s: the full tier (make test), not make test-fast
def test_runs_are_bit_identical_whatever_blas_kernel_or_simd_features():
    results = {name: _run_under(env) for name, env in ENVIRONMENTS.items()}
    reference = results["default"]
    differ = [name for name, r in results.items() if r != reference]
    assert not differ, f"reporters differ under {differ}: {results}"


def test_exp_is_within_one_ulp_of_the_c_library():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-740, 709, 20_000), rng.uniform(-3, 3, 20_000),
                        rng.uniform(-1e-6, 1e-6, 100)])
    got = fm.exp(x)
    want = np.array([math.exp(v) for v in x])
    ulps = np.abs(got - want) / np.spacing(want)
    assert ulps.max() <= 1.0


def test_log_and_power_are_within_a_few_ulps():
    rng = np.random.default_rng(1)
    x = np.concatenate([np.exp(rng.uniform(-700, 700, 20_000)), rng.uniform(0.5, 2.0, 20_000)])
    got = fm.log(x)
    want = np.array([math.log(v) for v in x])
    assert (np.abs(got - want) / np.spacing(np.abs(want))).max() <= 4.0
    base, expo = rng.uniform(0.1, 3.0, 2000), rng.uniform(-8, 8, 2000)
    got = fm.power(base, expo)
    want = np.array([b**e for b, e in zip(base, expo)])
    assert np.allclose(got, want, rtol=1e-14, atol=0)


def test_special_values_behave_like_the_c_library():
    got = fm.exp(np.array([-np.inf, np.inf, np.nan, 0.0, -800.0, 800.0]))
    assert (got[0] == 0 and got[1] == np.inf and np.isnan(got[2]) and got[3] == 1 and got[4] == 0
            and got[5] == np.inf)
    got = fm.log(np.array([0.0, -1.0, np.inf, np.nan, 1.0]))
    assert got[0] == -np.inf and np.isnan(got[1]) and got[2] == np.inf and np.isnan(got[3]) and got[4] == 0
    assert fm.power(0.0, 2.0) == 0.0 and fm.power(5.0, 0) == 1.0
    assert isinstance(fm.exp(1.0), float) and fm.exp(1.0) == math.e


def test_exp_out_argument_may_alias_the_input():
    z = np.array([1.0, -np.inf, 2.0])
    fm.exp(z, out=z)
    assert z.tolist() == [math.e, 0.0, math.exp(2.0)]


def _bits(x: float) -> int:
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def _assert_same_bits(scalar_results, array_results, inputs):
    got = [_bits(v) for v in scalar_results]
    want = [_bits(float(v)) for v in array_results]
    bad = [(x, s, a) for x, s, a, g, w in zip(inputs, scalar_results, array_results, got, want) if g != w]
    assert not bad, f"{len(bad)} scalar results differ from the array path, e.g. {bad[:5]}"


def _edge_cases() -> np.ndarray:
    tiny = np.finfo(float).tiny
    big = np.finfo(float).max
    specials = [0.0, -0.0, 5e-324, -5e-324, 1e-310, tiny, -tiny, 1e-300, 1.0, -1.0, 2.0, 0.5,
                0.7071067811865476, 0.7071067811865475, 0.7071067811865477, 1.0 + 2**-52, 1.0 - 2**-53,
                big, -big, 1e300, 700.0, 709.78, 709.782712893384, 709.7827128933841, 710.0, 710.78,
                711.0, -708.0, -708.4, -740.0, -745.0, -745.1332191019412, -745.14, -746.0, -746.2, -800.0,
                np.inf, -np.inf, np.nan]
    ln2_64 = math.log(2) / 64  # the boundaries where the table index k rounds half to even
    halves = [(k + 0.5) * ln2_64 * 2 for k in range(-40, 40)]
    halves += [np.nextafter(h, np.inf) for h in halves] + [np.nextafter(h, -np.inf) for h in halves]
    rng = np.random.default_rng(25)
    bit_patterns = rng.integers(0, 2**64, 20_000, dtype=np.uint64).view(float)  # every exponent, sign
    return np.concatenate([specials, halves, bit_patterns, rng.uniform(-750, 715, 20_000),
                           rng.uniform(-2, 2, 5000), rng.uniform(-1e-8, 1e-8, 1000),
                           -np.exp(rng.uniform(-745, 709, 5000)), np.arange(-760, 720, 0.25)])


X = _edge_cases()


@pytest.mark.parametrize("name", ["exp", "log", "sigmoid", "logit"])
def test_scalar_path_gives_the_array_paths_bits(name):
    """Python floats take plain float arithmetic; it must reproduce the array path bit for bit."""
    fn = getattr(fm, name)
    with np.errstate(all="ignore"):
        array = fn(X.copy())
    scalar = [fn(float(v)) for v in X]
    assert all(type(v) is float for v in scalar)
    _assert_same_bits(scalar, array, X)
    one_d = [fn(np.array(v)) for v in X[::97]]  # 0-d arrays keep the array path and also give floats
    assert all(type(v) is float for v in one_d)
    _assert_same_bits([fn(float(v)) for v in X[::97]], one_d, X[::97])


def test_scalar_power_gives_the_array_paths_bits():
    rng = np.random.default_rng(7)
    base = np.concatenate([[0.0, -0.0, 1.0, 2.0, 0.5, 5e-324, 1e308, np.inf, -1.0, np.nan] * 12,
                           rng.uniform(0, 3, 20_000), np.exp(rng.uniform(-700, 700, 5000)),
                           rng.uniform(0.9, 1.1, 5000)])
    expo = np.concatenate([[0.0, -0.0, 1.0, -1.0, 2.0, 0.5, 3, -7.5, 1e-300, np.inf, -np.inf, np.nan] * 10,
                           rng.uniform(-8, 8, 20_000), rng.uniform(-1, 1, 5000), rng.integers(-40, 40, 5000)])
    with np.errstate(all="ignore"):
        array = fm.power(base, expo)
    scalar = [fm.power(float(b), float(e)) for b, e in zip(base, expo)]
    _assert_same_bits(scalar, array, list(zip(base, expo)))
    # the callers' mixes: int exponents, numpy scalars; 0-d arrays keep the array path
    for b, e in [(1.05, 3), (0.97, np.float64(2.5)), (np.float64(1.2), np.int64(-4)), (2, 10), (1.1, 0)]:
        got = fm.power(b, e)
        assert type(got) is float
        assert _bits(got) == _bits(fm.power(np.array(b, dtype=float), np.array(e, dtype=float)))


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=True, allow_infinity=True), st.floats(min_value=-50, max_value=50))
def test_scalar_and_array_paths_agree_on_any_float(x, e):
    with np.errstate(all="ignore"):
        for fn in (fm.exp, fm.log, fm.sigmoid, fm.logit):
            assert _bits(fn(x)) == _bits(float(fn(np.array([x]))[0])), (fn.__name__, x)
        assert _bits(fm.power(abs(x), e)) == _bits(float(fm.power(np.array([abs(x)]), np.array([e]))[0]))


def test_scalar_path_is_within_a_few_ulps_of_math():
    rng = np.random.default_rng(3)
    for v in np.concatenate([rng.uniform(-740, 709, 3000), rng.uniform(-3, 3, 3000)]):
        want = math.exp(v)
        assert abs(fm.exp(float(v)) - want) <= np.spacing(want)
    for v in np.concatenate([np.exp(rng.uniform(-700, 700, 3000)), rng.uniform(0.5, 2.0, 3000)]):
        want = math.log(v)
        assert abs(fm.log(float(v)) - want) <= 4 * np.spacing(abs(want))
    for b, e in zip(rng.uniform(0.1, 3.0, 2000), rng.uniform(-8, 8, 2000)):
        assert math.isclose(fm.power(float(b), float(e)), float(b) ** float(e), rel_tol=1e-14)
    assert fm.exp(-math.inf) == 0.0 and fm.exp(math.inf) == math.inf and math.isnan(fm.exp(math.nan))
    assert fm.log(0.0) == -math.inf and math.isnan(fm.log(-1.0)) and fm.log(math.inf) == math.inf
    assert fm.power(0.0, 2.0) == 0.0 and fm.power(5.0, 0) == 1.0 and fm.power(0.0, -1.0) == math.inf


#: Calls that bring a CPU-dependent kernel into the simulation: BLAS products and numpy's (or the C
#: library's) exp/log, which fixedmath replaces.
FORBIDDEN_CALLS = re.compile(r"^(np|numpy)\.(dot|vdot|matmul|einsum|inner|tensordot|linalg(\..*)?"
                             r"|exp|log|log1p|log2|log10|power|expm1|float_power)$"
                             r"|^math\.(exp|log|log1p|log2|log10|expm1|pow)$")


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    return ".".join(reversed(parts))


def blas_offenders(path: Path) -> list[str]:
    """Lines of ``path`` with a dense product (``a @ b``, ``a @= b``, ``np.dot``, ``x.dot(y)``, einsum,
    linalg ...) or a numpy/C-library exp or log. Read with ``ast``, so strings, comments and decorators
    never count. ``peers @ x`` (a scipy.sparse matrix: no BLAS) is allowed."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    lines = path.read_text(encoding="utf-8").splitlines()
    found = []
    for node in ast.walk(tree):
        bad = False
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult):
            bad = not _dotted(node.left).endswith("peers")
        elif isinstance(node, ast.AugAssign) and isinstance(node.op, ast.MatMult):
            bad = True
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            bad = bool(FORBIDDEN_CALLS.match(name)) or (
                isinstance(node.func, ast.Attribute) and node.func.attr == "dot")
        elif isinstance(node, ast.Attribute):  # np.linalg used without a call, np.dot passed as a function
            bad = bool(re.match(r"^(np|numpy)\.(dot|matmul|einsum|linalg)$", _dotted(node)))
        if bad:
            found.append(f"{path.name}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return sorted(set(found))


CORE_MODULES = sorted(Path(fm.__file__).parent.glob("*.py"))


def test_the_guard_covers_every_core_module():
    names = {p.name for p in CORE_MODULES}
    assert {"choice.py", "market.py", "chip_market.py", "makers.py", "governments.py", "developers.py",
            "fixedmath.py"} <= names
    assert len(names) >= 10


@pytest.mark.parametrize("path", CORE_MODULES, ids=lambda p: p.name)
def test_the_simulation_calls_no_blas_product(path):
    """A source-level guard: dense products (or numpy's exp/log) in any module of model/core/ would bring
    the CPU-dependent kernels back."""
    assert not blas_offenders(path)


@pytest.mark.parametrize("code", ["c = a @ b", "c = f(a) @ b.T", "a @= b", "c = np.dot(a, b)", "c = a.dot(b)",
                                  "c = np.einsum('ij,j', a, b)", "x = np.linalg.solve(a, b)",
                                  "y = np.exp(x)", "y = np.log(x)", "y = numpy.power(x, 2)",
                                  "y = math.exp(v)", "f = np.matmul"])
def test_the_guard_flags_a_planted_violation(tmp_path, code):
    probe = tmp_path / "probe.py"
    probe.write_text(f"import math\nimport numpy as np\n\n\ndef f(a, b, x, v):\n    {code}\n")
    assert blas_offenders(probe) == [f"probe.py:6: {code}"]


def test_the_guard_ignores_strings_comments_decorators_and_sparse_peers(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text('"""np.exp(x) and a @ b in a docstring; threshold@30000."""\nimport functools\n\n\n'
                     "@functools.cache\ndef f(dev, own):\n    s = 'a @ b'  # np.dot(a, b)\n"
                     "    return dev.peers @ own, fm.exp(own), np.ldexp(own, 2)\n")
    assert blas_offenders(probe) == []
