"""Algorithms, each one file with its config; ``ALGORITHMS`` maps CLI names to (Agent, Config).

The classes are imported when first named (``from visuomotor.algos import SAC``), so that importing
this package, or listing the algorithms, imports no torch."""

from __future__ import annotations

from visuomotor._lazy import lazy_getattr
from visuomotor.algos.registry import ALGORITHMS, BUILTIN

_NAMES = {cls: module for module, *classes in BUILTIN.values() for cls in classes}
_NAMES.update(Agent="visuomotor.algos.base", OffPolicyConfig="visuomotor.algos.base")


__getattr__ = lazy_getattr(globals(), _NAMES)


__all__ = ["ALGORITHMS", *sorted(_NAMES)]
