"""exp, log and power in a fixed order of IEEE operations: the same bits on every x86-64 CPU.

Why this module exists. numpy dispatches ``np.exp`` and ``np.log`` (float64) to different kernels by
CPU feature (an AVX-512 kernel on Skylake-X and later, the C library's scalar code elsewhere), and
BLAS products (``@``, ``dot``) pick a kernel by CPU model at run time (OpenBLAS ``DYNAMIC_ARCH``,
``OPENBLAS_CORETYPE``). Those kernels agree to an ulp or two but not bit for bit, and a simulation
that feeds exponentials into a logit and then into the next quarter's state carries the difference
into every reporter. Replication across machines (docs: README "Replicating a result") needs the
same bits, so the simulation never calls BLAS and computes its transcendental functions here, from
operations that IEEE 754 defines exactly and numpy computes the same way in every kernel:
``+ - * /``, ``rint``, ``frexp``, ``ldexp``, comparisons and table look-ups (each a separate ufunc,
so no fused multiply-add can change a rounding).

Accuracy: within a few ulps of the correctly rounded result for finite arguments (tested against
``math.exp``/``math.log`` in tests/test_fixedmath.py); ``exp`` under/overflows like ``np.exp``
(0 below about -745, inf above about 709.78), ``log(0) = -inf``, ``log(x < 0) = nan``.

Scalars (Python or numpy floats and ints) take a path of plain Python float arithmetic that performs
the same IEEE operations in the same order as the array path (CPython's float ``+ - * /`` are single
IEEE double operations, never contracted into a fused multiply-add; ``round`` is round-half-even like
``rint``; ``math.frexp``/``math.ldexp`` are exact like numpy's), so a scalar gets the same bits as the
same number in an array, about 20 times faster than through 0-d arrays (tests/test_fixedmath.py
compares the two paths bit for bit).

Constants (ln 2 split in two, the 2^(j/32) table, the series coefficients) are computed once with
``decimal`` at 60 digits, software arithmetic that does not depend on the platform's C library.
"""

from __future__ import annotations

import math
from decimal import Decimal, localcontext
from functools import lru_cache

import numpy as np

_TABLE_BITS = 5
_N = 1 << _TABLE_BITS  # 32 sub-intervals of each power of two


def _constants() -> dict:
    with localcontext() as ctx:
        ctx.prec = 60
        ln2 = Decimal(2).ln()
        step = ln2 / _N
        # high part with the low 20 bits of the significand clear: k * hi is exact for |k| < 2^20
        hi = float(step)
        m, e = np.frexp(hi)
        hi = float(np.ldexp(np.floor(m * 2.0**33), int(e) - 33))
        lo = float(step - Decimal(hi))
        table = np.array([float(Decimal(2) ** (Decimal(j) / _N)) for j in range(_N)])
        ln2_hi = float(np.ldexp(np.floor(np.frexp(float(ln2))[0] * 2.0**33), 0 - 33))
        ln2_lo = float(ln2 - Decimal(ln2_hi))
        inv_step = float(_N / ln2)
    return {"step_hi": hi, "step_lo": lo, "inv_step": inv_step, "table": table, "ln2_hi": ln2_hi,
            "ln2_lo": ln2_lo}


_C = _constants()
_STEP_HI, _STEP_LO, _INV_STEP, _TABLE = _C["step_hi"], _C["step_lo"], _C["inv_step"], _C["table"]
_LN2_HI, _LN2_LO = _C["ln2_hi"], _C["ln2_lo"]
#: exp(x) is inf above this and 0 below _EXP_MIN (as in the C library)
_EXP_MAX = 709.782712893384
_EXP_MIN = -745.1332191019412
#: Taylor coefficients 1/k! of expm1 on |r| <= ln2/64 (degree 6: truncation < 1e-17 relative)
_EXPM1 = tuple(float(Decimal(1) / Decimal(f)) for f in (720, 120, 24, 6, 2))
#: 2/(2k+1) for the series log(m) = 2 atanh(s), |s| <= 0.1716 (to s^21: truncation < 1e-18)
_ATANH = tuple(2.0 / (2 * k + 1) for k in range(10, -1, -1))


_TABLE_LIST = tuple(float(v) for v in _TABLE)
#: the types that take the scalar path (bool is an int)
_SCALARS = (float, int, np.floating, np.integer)
_INF = float("inf")


def _as_array(x) -> tuple[np.ndarray, bool]:
    arr = np.asarray(x, dtype=float)
    return arr, arr.ndim == 0


def _exp_scalar(x: float) -> float:
    """``exp`` of one float: the array path's operations, in its order, on Python floats."""
    if x != x:
        return math.nan  # the array path's nan (np.nan), whatever the input's payload
    a = _EXP_MIN - 1.0 if x < _EXP_MIN - 1.0 else (_EXP_MAX + 1.0 if x > _EXP_MAX + 1.0 else x)
    k = a * _INV_STEP
    k = math.copysign(float(round(k)), k)  # rint: half to even, keeps the sign of zero
    r = a - k * _STEP_HI
    r -= k * _STEP_LO
    n = int(k)
    c0, c1, c2, c3, c4 = _EXPM1
    p = ((((r * c0 + c1) * r + c2) * r + c3) * r + c4) * r
    p = (p + 1.0) * r  # expm1(r)
    t = _TABLE_LIST[n & (_N - 1)]
    p = p * t + t
    try:
        return math.ldexp(p, n >> _TABLE_BITS)
    except OverflowError:  # np.ldexp gives inf (p > 0)
        return _INF


def _log_scalar(x: float) -> float:
    """``log`` of one float: the array path's operations, in its order, on Python floats."""
    if not x > 0.0:
        return -_INF if x == 0.0 else math.nan  # nan, negatives (and -inf) -> nan
    if x == _INF:
        return _INF
    m, e = math.frexp(x)  # x = m 2^e, m in [0.5, 1)
    if m < 0.7071067811865476:
        m *= 2.0
        e -= 1
    ef = float(e)
    f = m - 1.0
    s = f / (2.0 + f)
    s2 = s * s
    poly = _ATANH[0]
    for c in _ATANH[1:]:
        poly = poly * s2 + c
    return ef * _LN2_HI + (ef * _LN2_LO + s * poly)


def exp(x, out: np.ndarray | None = None):
    """e**x elementwise (arrays or scalars), identical bits on every CPU. ``out`` may alias ``x``.

    Range reduction x = (32 m + j) ln2/32 + r with |r| <= ln2/64, then
    e**x = 2**m * 2**(j/32) * (1 + expm1(r)), expm1 by its Taylor polynomial.
    A scalar returns a float (``out`` is not used).

    The array path is a fixed sequence of ufunc calls writing into its own buffers: on the small
    arrays of a 300-developer run each call's overhead, not the arithmetic, is the cost.
    """
    if isinstance(x, _SCALARS):
        return _exp_scalar(float(x))
    arr, scalar = _as_array(x)
    # clip to the range where ldexp gives inf or 0 (+-inf too); a nan stays nan here
    a = np.maximum(arr.reshape(1) if scalar else arr, _EXP_MIN - 1.0)
    np.minimum(a, _EXP_MAX + 1.0, out=a)
    # the clipped values are finite unless nan, so their sum is nan exactly when one of them is
    total = np.add.reduce(a, axis=None)
    has_nan = total != total
    if has_nan:
        nan = np.isnan(a)
        a[nan] = 0.0
    k = np.multiply(a, _INV_STEP)
    np.rint(k, out=k)
    r = np.multiply(k, _STEP_HI)
    np.subtract(a, r, out=r)
    np.multiply(k, _STEP_LO, out=a)
    np.subtract(r, a, out=r)
    n = k.astype(np.int32)  # |n| < 2^16
    p = np.multiply(r, _EXPM1[0], out=a)
    for c in _EXPM1[1:]:
        np.add(p, c, out=p)
        np.multiply(p, r, out=p)
    np.add(p, 1.0, out=p)
    np.multiply(p, r, out=p)  # expm1(r)
    t = _TABLE.take(np.bitwise_and(n, _N - 1), out=k, mode="clip")  # 0..31: 'clip' never clips, is unbuffered
    np.multiply(p, t, out=p)
    np.add(p, t, out=p)
    np.right_shift(n, _TABLE_BITS, out=n)
    target = out if (out is not None and not has_nan and not scalar) else p
    with np.errstate(over="ignore", under="ignore"):
        res = np.ldexp(p, n, out=target)
    if has_nan:
        res[nan] = np.nan
        if out is not None:
            out[...] = res
            res = out
    return float(res[0]) if scalar else res


def log(x):
    """Natural logarithm elementwise (arrays or scalars), identical bits on every CPU."""
    if isinstance(x, _SCALARS):
        return _log_scalar(float(x))
    arr, scalar = _as_array(x)
    if scalar:
        arr = arr.reshape(1)
    ok = np.isfinite(arr)
    np.logical_and(ok, arr > 0, out=ok)
    regular = ok.all()
    a = arr if regular else np.where(ok, arr, 1.0)
    m, e = np.frexp(a)  # a = m 2^e, m in [0.5, 1)
    small = m < 0.7071067811865476
    m = np.where(small, m * 2.0, m)
    e = (e - small).astype(float)
    f = np.subtract(m, 1.0, out=m)
    s = np.add(f, 2.0)
    np.divide(f, s, out=s)
    s2 = np.multiply(s, s)
    poly = np.multiply(s2, _ATANH[0])
    np.add(poly, _ATANH[1], out=poly)
    for c in _ATANH[2:]:
        np.multiply(poly, s2, out=poly)
        np.add(poly, c, out=poly)
    # log(m) = 2 atanh(s) = s*(2 + 2/3 s^2 + ...); poly ends with the constant 2
    np.multiply(s, poly, out=s)
    lo = np.multiply(e, _LN2_LO, out=s2)
    np.add(lo, s, out=lo)
    res = np.multiply(e, _LN2_HI, out=e)
    np.add(res, lo, out=res)
    if not regular:
        res = np.where(arr == 0, -np.inf, res)
        res = np.where(arr == np.inf, np.inf, res)
        res = np.where((arr < 0) | np.isnan(arr), np.nan, res)
    return float(res[0]) if scalar else res


@lru_cache(maxsize=4096)
def _power_scalar(b: float, ex: float) -> float:
    """``power`` of two floats (kept: a run asks for the same few growth factors many times; +0.0 and
    -0.0 share an entry, and their powers are the same)."""
    if ex == 0.0:
        return 1.0
    if b == 0.0 and ex > 0.0:
        return 0.0
    return _exp_scalar(ex * _log_scalar(b))


def power(base, exponent):
    """base**exponent for base > 0 as exp(exponent * log(base)); 0**e = 0 (e > 0), x**0 = 1."""
    if isinstance(base, _SCALARS) and isinstance(exponent, _SCALARS):
        return _power_scalar(float(base), float(exponent))
    b, scalar_b = _as_array(base)
    ex, scalar_e = _as_array(exponent)
    res = exp(ex * log(b))
    res = np.where(ex == 0, 1.0, res)
    res = np.where((b == 0) & (ex > 0), 0.0, res)
    return float(res) if (scalar_b and scalar_e) else res


#: ln 2 (the double nearest), for powers of two.
LN2 = 0.6931471805599453


def exp2(x):
    """2**x as exp(x x ln 2) (arrays or scalars): the price-performance trends' doublings and halvings."""
    return exp(x * LN2)


def sigmoid(x):
    """1 / (1 + e**-x) (a float for a scalar, an array for an array)."""
    if isinstance(x, _SCALARS):
        return 1.0 / (1.0 + _exp_scalar(-float(x)))
    return 1.0 / (1.0 + exp(np.negative(x, dtype=float)))


def logit(p):
    """log(p / (1 - p)) (a float for a scalar, an array for an array)."""
    if isinstance(p, _SCALARS):
        q = float(p)
        return _log_scalar(q) - _log_scalar(1.0 - q)
    return log(p) - log(np.subtract(1.0, p, dtype=float))
