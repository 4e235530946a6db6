"""chipstack: an agent-based model (Mesa 3.5) of the market for AI chips in China.

Layers (docs/ARCHITECTURE.md), imports flowing one way: ``core`` (the simulation) <- ``sweep``
(experiments, runs, the results folder) <- ``analysis`` (reads results folders) <- ``validation``
(docking and replay) and ``ui`` (the browser UI) <- ``cli``.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from model.core.chip_market import MODEL_REPORTERS, ChipMarketModel


def __getattr__(name: str):
    """``model.core``'s lazy names (PEP 562; see ``model.core.__getattr__``)."""
    if name in __all__:
        from model import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = ["ChipMarketModel", "MODEL_REPORTERS"]
