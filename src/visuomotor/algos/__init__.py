"""Algorithms, each one file with its config; ``ALGORITHMS`` maps CLI names to (Agent, Config)."""

from visuomotor.algos.base import Agent, OffPolicyConfig
from visuomotor.algos.bc import BC, BCConfig
from visuomotor.algos.distill import Distill, DistillConfig
from visuomotor.algos.drm import DrM, DrMConfig
from visuomotor.algos.drqv2 import DrQv2, DrQv2Config
from visuomotor.algos.fastsac import FastSAC, FastSACConfig
from visuomotor.algos.fasttd3 import FastTD3, FastTD3Config
from visuomotor.algos.ppo import PPO, PPOConfig
from visuomotor.algos.sac import SAC, SACConfig
from visuomotor.algos.td3 import TD3, TD3Config
from visuomotor.algos.td3bc import TD3BC, TD3BCConfig

ALGORITHMS: dict[str, tuple[type[Agent], type]] = {
    "sac": (SAC, SACConfig),
    "drqv2": (DrQv2, DrQv2Config),
    "drm": (DrM, DrMConfig),
    "ppo": (PPO, PPOConfig),
    "bc": (BC, BCConfig),
    "td3": (TD3, TD3Config),
    "td3bc": (TD3BC, TD3BCConfig),
    "fasttd3": (FastTD3, FastTD3Config),
    "fastsac": (FastSAC, FastSACConfig),
    "distill": (Distill, DistillConfig),
}

__all__ = ["ALGORITHMS", "BC", "BCConfig", "SAC", "Agent", "DrM", "DrMConfig", "DrQv2", "DrQv2Config", "FastSAC", "FastSACConfig", "FastTD3", "FastTD3Config", "Distill", "DistillConfig", "OffPolicyConfig", "PPO", "PPOConfig", "SACConfig", "TD3", "TD3Config", "TD3BC", "TD3BCConfig"]
