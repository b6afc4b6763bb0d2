"""Algorithms, each one file with its config; ``ALGORITHMS`` maps CLI names to (Agent, Config)."""

from visuomotor.algos.base import Agent, OffPolicyConfig
from visuomotor.algos.drqv2 import DrQv2, DrQv2Config
from visuomotor.algos.sac import SAC, SACConfig

ALGORITHMS: dict[str, tuple[type[Agent], type]] = {
    "sac": (SAC, SACConfig),
    "drqv2": (DrQv2, DrQv2Config),
}

__all__ = ["ALGORITHMS", "SAC", "Agent", "DrQv2", "DrQv2Config", "OffPolicyConfig", "SACConfig"]
