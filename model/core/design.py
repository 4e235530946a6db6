"""A US maker designs China parts to the US rule in force (ODD 7.5, ``design_to_rule``): the rule as a mixin
of ``model.core.makers.USChipmaker``, which holds its state (``designed_for``, ``in_design``) and products.

Pure parts in ``model.core.supply.part_under_caps`` and ``model.core.policy.design_caps``; sources in
docs/SOURCES.md via ``model.core.parameters`` (``design_to_rule``, ``design_lead_quarters``,
``design_margin``).
"""

from __future__ import annotations

import numpy as np

from model.core import supply
from model.core.catalogue import NEVER, ROADMAP_FROM
from model.core.market import best_domestic_perf
from model.core.policy import DESIGN_TRACKS, design_caps


class RuleDesigner:
    """The design-to-the-rule rule of a US maker (needs ``model``, ``products``, ``designed_for`` and
    ``in_design`` from ``USChipmaker``)."""

    def design_to_rule(self) -> None:
        """From 2026 (earlier China parts are the catalogue's), for each set of caps the rule in force has
        (``policy.design_caps``: under 'threshold' a licensed product and a China part, under 'h20' a China
        part), ``design_track``. Off with ``design_to_rule`` = false."""
        m = self.model
        if not m.p.design_to_rule or m.quarter < ROADMAP_FROM:
            return
        caps = design_caps(m.us_government.rule)
        to_anyone, to_licensed = m.us_government.exportable()
        sale = m.on_sale(to_licensed)  # once for both tracks: what is on sale this quarter
        arrays, state = (sale, to_anyone, to_licensed), self.design_state(caps)  # (see design_state)
        quiet = self._quiet
        if quiet is not None and state == quiet[1] and all(a is b for a, b in zip(arrays, quiet[0])):
            return
        for track in DESIGN_TRACKS:
            self.design_track(track, caps.get(track), sale)
        unchanged = not self.in_design and self.design_state(caps) == state
        self._quiet = (arrays, state) if unchanged and not any(a.flags.writeable for a in arrays) else None

    def design_state(self, caps: dict) -> tuple:
        """What the tracks read besides the rule's arrays and the sale (read-only, one array per contents):
        a quarter that changed nothing (no part under way) is followed by another while all stay the same."""
        m, r = self.model, self.rows
        return (caps, m.release[r].tobytes(), m.released[r].tobytes(), tuple(self.designed_for.items()),
                tuple(self.in_design))

    def design_track(self, track: str, caps: tuple[float, float] | None, sale: np.ndarray) -> None:
        """When ``caps`` differ from those its last part on this track answered, or its best part China may
        buy on this track falls behind the best domestic chip on sale, it designs a part just under the caps
        (``supply.part_under_caps``, cut from its newest chip) if that part beats its best one, released
        ``design_lead_quarters`` later. A design whose caps change before release is dropped, its caps
        count as unanswered, and the new caps (if any) are answered."""
        m, p = self.model, self.model.p
        if track in self.in_design:
            slot, aimed, ready = self.in_design[track]
            if m.quarter >= ready:
                del self.in_design[track]  # released
            elif caps == aimed:
                return
            else:
                del self.in_design[track]
                self.designed_for[track] = None  # no part answers the caps it aimed at (again if back)
                m.place_design(slot, None, -1, NEVER)
        slot = self.free_slot()
        if caps is None or slot < 0:
            return
        best = self.best_china_perf(track, sale)
        if caps == self.designed_for[track] and best >= self.best_domestic_perf(sale):
            return
        self.designed_for[track] = caps
        parent = self.parent_chip()
        if parent < 0:
            return
        part = supply.part_under_caps(caps, p.design_margin, *(float(a[parent]) for a in (
            m.catalogue.flop_h100e, m.catalogue.mem_bw_gbs, m.catalogue.price_usd, m.catalogue.perf_paper)))
        if part[2] <= best:
            return
        ready = m.quarter + p.design_lead_quarters
        m.place_design(slot, part, parent, ready, china_part=track == "china_part")
        self.in_design[track] = (slot, caps, ready)

    def best_china_perf(self, track: str, sale: np.ndarray) -> float:
        """Performance index of its best part on sale (``sale``) that China may buy on ``track`` (0:
        none): any part the rule lets a licensed buyer take ('licensed'), or one any buyer may take
        ('china_part')."""
        to_anyone, to_licensed = self.model.us_government.exportable()
        r = self.rows
        ok = sale[r] & (to_anyone[r] | to_licensed[r] if track == "licensed" else to_anyone[r])
        return float(self.model.perf[r][ok].max()) if ok.any() else 0.0

    def best_domestic_perf(self, sale: np.ndarray) -> float:
        """Effective performance of the best domestic chip on sale (``sale``; 0: none)."""
        return best_domestic_perf(self.model.perf, sale, self.model.catalogue.is_us)

    def free_slot(self) -> int:
        """Its first empty design slot (a generated column never released), or -1 when all are used."""
        release = self.model.release
        return next((j for j in self.slots if release[j] == NEVER), -1)

    def parent_chip(self) -> int:
        """Its newest released chip that is not a China part (a designed part is cut from it), or -1."""
        released, release = self.model.released, self.model.release
        best = -1
        for j in self.parents:  # the first of the newest, as argmax
            if released[j] and (best < 0 or release[j] > release[best]):
                best = j
        return best

