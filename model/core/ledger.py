"""China's installed AI chips by channel, chip by chip: what the headline shares are computed from.

The developers' arrays hold each developer's installed compute per chipmaker in *effective* H100e
(what a developer gets out of its chips: the catalogue's blend of throughput, memory bandwidth and
ecosystem efficiency; it drives choice). The policy debate and the literature (Epoch AI, CNAS, IFP,
SemiAnalysis, Bernstein) count compute in *FLOP-based* H100e: a chip's dense 16-bit throughput over the
H100 SXM's (``CatalogueArrays.flop_h100e``). To report both, and to say through which channel each
US chip came, the model keeps this ledger of installed *units* per chip and channel (ODD §7.7):

* ``legacy``: chips bought before the run's start, from the backcast of purchases
  (``model.core.backcast``), still in service;
* ``legal``: chips bought in China since the start through the market (licensed or unrestricted US
  sales, and every domestic chip);
* ``grey``: smuggled US chips that arrived (``Developers.spend_the_rest``);
* ``offshore``: US chips Chinese developers own in data centres abroad (not in China);
* ``rented``: US chips Chinese developers rent from clouds abroad this quarter (a flow: what they rent
  this quarter, not a stock).

Each quarter every stock loses ``depreciation`` of its units (as the developers' arrays do) and this
quarter's units are added; the rented channel holds only this quarter's units. Compute in either unit
is units x the chip's H100e per unit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The channels of chips installed in China, in the order the headline decomposes the US share.
CHINA_CHANNELS = ("legal", "legacy", "grey")
#: Channels abroad: chips owned in data centres abroad (a stock) and rented from clouds abroad (a flow).
ABROAD_CHANNELS = ("offshore", "rented")
#: Every channel the ledger keeps.
CHANNELS = (*CHINA_CHANNELS, *ABROAD_CHANNELS)
#: Channels that hold only this quarter's units (rented compute is paid for by the quarter).
FLOW_CHANNELS = ("rented",)
_FLOW_ROWS = [CHANNELS.index(c) for c in FLOW_CHANNELS]


@dataclass
class ComputeLedger:
    """Installed units per channel, each a (chips,) array; ``new`` holds this quarter's additions. Both are
    the rows of a (channels x chips) table in ``CHANNELS`` order (``stock_rows``, ``new_rows``: a quarter
    is one operation on each, and the reporters read all channels at once)."""

    stock: dict[str, np.ndarray]
    new: dict[str, np.ndarray] = field(default_factory=dict)
    stock_rows: np.ndarray | None = None
    new_rows: np.ndarray | None = None

    @classmethod
    def start(cls, legacy_units: np.ndarray) -> ComputeLedger:
        """The ledger at the start: the backcast's surviving units, nothing else installed yet."""
        legacy = np.asarray(legacy_units, dtype=float)
        stock = np.zeros((len(CHANNELS), legacy.shape[0]))
        stock[CHANNELS.index("legacy")] = legacy
        return cls.of(stock, np.zeros_like(stock))

    @classmethod
    def of(cls, stock_rows: np.ndarray, new_rows: np.ndarray) -> ComputeLedger:
        """The ledger of the (channels x chips) tables ``stock_rows`` and ``new_rows``."""
        return cls(dict(zip(CHANNELS, stock_rows, strict=True)), dict(zip(CHANNELS, new_rows, strict=True)),
                   stock_rows, new_rows)

    def step(self, depreciation: float, new: dict[str, np.ndarray]) -> None:
        """One quarter: every stock depreciates, then ``new`` units (per channel; missing = none) join; a
        flow channel holds only the new units."""
        added = np.zeros_like(self.stock_rows)
        for k, c in enumerate(CHANNELS):
            if new.get(c) is not None:
                added[k] = new[c]
        stock = self.stock_rows * (1.0 - depreciation) + added
        stock[_FLOW_ROWS] = added[_FLOW_ROWS]
        fresh = self.of(stock, added)
        self.stock, self.new, self.stock_rows, self.new_rows = fresh.stock, fresh.new, stock, added

    def compute(self, channel: str, per_unit: np.ndarray, mask: np.ndarray | None = None,
                new: bool = False) -> float:
        """H100e (``per_unit``: FLOP-based or effective H100e per unit of each chip) installed in
        ``channel`` (this quarter's additions with ``new``), over the chips in ``mask`` (default all)."""
        units = (self.new if new else self.stock)[channel]
        h100e = units * per_unit
        return float(h100e[mask].sum() if mask is not None else h100e.sum())
