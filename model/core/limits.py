"""Limits of a run that the command line, experiment files and the Python API share (said once here).

``MAX_STEPS``: the longest run. The model's money stocks grow geometrically, and with its default
parameters a run overflows a float (``OverflowError`` in the makers' roadmap pacing) at step 8,704, so
the documented maximum is 1,000 quarters (250 years), far below that and far beyond any horizon the
model is meant for.
"""

from __future__ import annotations

MAX_STEPS = 1_000
MAX_SEED = 2**63 - 1


def check_steps(steps: object) -> int:
    """``steps`` if it is an integer from 0 to MAX_STEPS (``model.run(steps)``); ValueError otherwise
    (``run(-3)`` used to return an empty table)."""
    if isinstance(steps, bool) or not isinstance(steps, int) or not 0 <= steps <= MAX_STEPS:
        raise ValueError(f"steps {steps!r}: allowed: an integer from 0 to {MAX_STEPS}")
    return steps
