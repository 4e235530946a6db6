"""The simulation and nothing else: parameters, catalogue, calendar, peer network, policy rules,
choice, market clearing, the developer population, agents, reporters and the Mesa model that wires
them (``ChipMarketModel``). Imports nothing from the other layers of ``model``."""

from model.core.chip_market import MODEL_REPORTERS, ChipMarketModel

__all__ = ["ChipMarketModel", "MODEL_REPORTERS"]
