"""Training: the run configuration (``config``), the runner and its step drivers (``runner``,
``offpolicy``, ``onpolicy``, ``offline``), building and loading agents (``build``), checkpoints and logging.

Names are imported when first used (``from visuomotor.train import TrainConfig``)."""

from visuomotor._lazy import lazy_getattr

_LAZY = {"TrainConfig": "visuomotor.train.config", "load_config": "visuomotor.train.config"}


__getattr__ = lazy_getattr(globals(), _LAZY)


__all__ = ["TrainConfig", "load_config"]
