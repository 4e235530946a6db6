"""Results that do not depend on the CPU: fixed-arithmetic exp/log, and whole runs compared bit for bit
in subprocesses under different OpenBLAS kernels and numpy SIMD feature sets.

Before the fix, `OPENBLAS_CORETYPE=SkylakeX` or `=Sandybridge` changed the last bits of every
reporter (dense BLAS products in the logit and the market clearing), and disabling AVX-512 in numpy
changed them again (numpy's AVX-512 `exp`/`log` kernels differ from the C library's by an ulp).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pytest

from model.core import fixedmath as fm

SCRIPT = r"""
import hashlib, json
import numpy as np
from model import ChipMarketModel
cases = [dict(), dict(export_regime="open", china_import_policy="open"),
         dict(export_regime="ban", huawei_capacity_2026=40_000, cambricon_capacity_2026=20_000),
         dict(export_regime="h20", china_import_policy="discourage", us_reversal_prob=0.3)]
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


def test_the_simulation_calls_no_blas_product():
    """A grep-level guard: dense products in the simulation modules would bring the BLAS kernel back."""
    import re
    from pathlib import Path

    core = Path(fm.__file__).parent
    offenders = []
    for name in ("choice.py", "market.py", "developers.py", "model.py", "agents.py", "metrics.py",
                 "policy.py"):
        path = core / name
        if not path.exists():
            continue
        for lineno, line in enumerate(path.read_text().splitlines(), 1):
            code = line.split("#", 1)[0]
            if (re.search(r"np\.(dot|matmul|einsum|inner|linalg)|\bnp\.(exp|log|log1p|power|expm1)\(", code)
                    or re.search(r"[\w\])] @ [\w(]", code) and "peers @" not in code):
                offenders.append(f"{name}:{lineno}: {line.strip()}")
    assert not offenders, offenders
