"""Algorithms, each one file with its config; ``ALGORITHMS`` maps CLI names to (Agent, Config).

The classes are imported when first named (``from visuomotor.algos import SAC``), so that importing
this package, or listing the algorithms, imports no torch."""

from __future__ import annotations

import importlib

from visuomotor.algos.registry import ALGORITHMS, BUILTIN

_NAMES = {cls: module for module, *classes in BUILTIN.values() for cls in classes}
_NAMES.update(Agent="visuomotor.algos.base", OffPolicyConfig="visuomotor.algos.base")


def __getattr__(name: str):
    if name in _NAMES:
        return getattr(importlib.import_module(_NAMES[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["ALGORITHMS", *sorted(_NAMES)]
