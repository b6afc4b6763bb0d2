"""Network building blocks shared by the algorithms."""

from visuomotor.nets.distributions import squashed_gaussian_log_prob, squashed_gaussian_sample
from visuomotor.nets.mlp import EnsembleLinear, EnsembleMLP, mlp

__all__ = ["EnsembleLinear", "EnsembleMLP", "mlp", "squashed_gaussian_log_prob", "squashed_gaussian_sample"]
