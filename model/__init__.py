"""chipstack: an agent-based model (Mesa 3.5) of the market for AI chips in China.

Layers (docs/ARCHITECTURE.md), imports flowing one way: ``core`` (the simulation) <- ``sweep``
(experiments, runs, the results folder) <- ``analysis`` (reads results folders) <- ``validation``
(docking and replay) and ``ui`` (the browser UI) <- ``cli``.
"""

from model.core.chip_market import MODEL_REPORTERS, ChipMarketModel

__all__ = ["ChipMarketModel", "MODEL_REPORTERS"]
