"""Algorithms, each one file with its config; ``ALGORITHMS`` maps CLI names to (Agent, Config)."""

from visuomotor.algos.base import Agent, OffPolicyConfig
from visuomotor.algos.sac import SAC, SACConfig

ALGORITHMS: dict[str, tuple[type[Agent], type]] = {
    "sac": (SAC, SACConfig),
}

__all__ = ["ALGORITHMS", "SAC", "Agent", "OffPolicyConfig", "SACConfig"]
