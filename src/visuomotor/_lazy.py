"""Names a package imports when first used (PEP 562), so that importing it stays cheap."""

from __future__ import annotations

import importlib


def lazy_getattr(namespace: dict, table: dict[str, str]):
    """A module-level ``__getattr__`` for the module whose globals are ``namespace``: ``name`` in ``table``
    comes from the module ``table[name]`` on first use, and is kept in ``namespace`` after."""

    def __getattr__(name: str):
        if name not in table:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(table[name]), name)
        namespace[name] = value
        return value

    return __getattr__
