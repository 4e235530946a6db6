"""Docking with classic models (Arthur 1989, Bass 1969) and the history replay (docs/VALIDATION.md).

``from model.validation import arthur_lockin, bass_adoption`` (INTERFACES §7)."""

from model.validation.docking import ArthurResult, arthur_lockin, bass_adoption

__all__ = ["ArthurResult", "arthur_lockin", "bass_adoption"]
