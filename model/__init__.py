"""chipstack: an agent-based model (Mesa 3.5) of the market for AI chips in China."""

from .model import MODEL_REPORTERS, ChipMarketModel

__all__ = ["ChipMarketModel", "MODEL_REPORTERS"]
