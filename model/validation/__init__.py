"""Validation: docking with classic models (Arthur 1989, Bass 1969), the 2022-2025 history replay, its
calibration and the seed's claims (docs/VALIDATION.md); ``chipstack validate``.

``from model.validation import arthur_lockin, bass_adoption`` (INTERFACES §7)."""

from model.validation.arthur import ArthurResult, arthur_lockin
from model.validation.bass import bass_adoption

__all__ = ["ArthurResult", "arthur_lockin", "bass_adoption"]
