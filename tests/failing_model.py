"""A model class that fails on purpose, for the failure-isolation tests of the sweep runner.

The runner takes the model class as an argument (``run_sweep(..., model_cls=...)``); the tests pass
:class:`FailingModel`, so no test hook lives in the model. Defined at module level in an importable
module (``tests/`` is on ``sys.path`` under pytest, and worker processes inherit it), so the class
pickles by reference to process-pool and Dask workers.
"""

from __future__ import annotations

import math

import numpy as np

from model.core.chip_market import ChipMarketModel

#: The step (0-based) inside which a run of FailingModel fails.
FAIL_AT_STEP = 2
#: Runs with this export regime fail; the others run normally.
FAILING_REGIME = "open"
MESSAGE = "failure injected for testing"


class FailingModel(ChipMarketModel):
    """ChipMarketModel whose runs with ``export_regime == FAILING_REGIME`` raise inside step FAIL_AT_STEP."""

    def step(self) -> None:
        if self.p.export_regime == FAILING_REGIME and self.steps - 1 == FAIL_AT_STEP:
            raise RuntimeError(f"{MESSAGE} (export_regime={self.p.export_regime}, step {self.steps - 1})")
        super().step()


class HangingModel(ChipMarketModel):
    """ChipMarketModel whose runs with ``export_regime == FAILING_REGIME`` hang inside step FAIL_AT_STEP
    (a worker that never answers, for the interrupt tests); the others run normally."""

    def step(self) -> None:
        if self.p.export_regime == FAILING_REGIME and self.steps - 1 == FAIL_AT_STEP:
            import time

            while True:
                time.sleep(1)
        super().step()


def overflowing_step(self) -> None:
    """A step that overflows a float as a run of thousands of quarters of the real model did before
    ``MAX_STEPS`` was lowered: numpy warns (overflow), then converting inf to an integer raises."""
    math.floor(np.float64(1e308) * np.float64(10))


class OverflowingModel(ChipMarketModel):
    """ChipMarketModel whose every run overflows in its first step (:func:`overflowing_step`)."""

    step = overflowing_step


class SleepyModel(ChipMarketModel):
    """ChipMarketModel whose steps take wall time without CPU: 2 s each with ``export_regime ==
    FAILING_REGIME``, 0.3 s otherwise (a long and a short run, for the interrupt tests)."""

    def step(self) -> None:
        import time

        time.sleep(2.0 if self.p.export_regime == FAILING_REGIME else 0.3)
        super().step()
