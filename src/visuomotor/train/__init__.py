"""Training: the run configuration (``config``), the runner and its step drivers (``runner``,
``offpolicy``, ``onpolicy``, ``offline``), building and loading agents (``build``), checkpoints and logging.

Names are imported when first used (``from visuomotor.train import TrainConfig``)."""

import importlib

_LAZY = {"TrainConfig": "visuomotor.train.config", "load_config": "visuomotor.train.config"}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["TrainConfig", "load_config"]
