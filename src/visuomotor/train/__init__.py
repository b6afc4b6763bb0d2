"""Training: the run configuration (``config``), the runner and its step drivers (``runner``,
``offpolicy``, ``onpolicy``, ``offline``), building and loading agents (``build``), checkpoints and logging.

Only the configuration is imported here, so that reading a run's config.yaml pulls in no training code."""

from visuomotor.train.config import TrainConfig, load_config

__all__ = ["TrainConfig", "load_config"]
