"""The training loop, run configuration, checkpoints and logging."""

from visuomotor.train.config import TrainConfig, load_config
from visuomotor.train.loop import OffPolicyTrainer, train

__all__ = ["OffPolicyTrainer", "TrainConfig", "load_config", "train"]
