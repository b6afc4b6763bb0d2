"""visuomotor: reinforcement learning for robot control on MuJoCo tasks.

    from visuomotor import make_env, train, SAC, SACConfig, TrainConfig, load_agent

    run_dir = train(env="dmc/cartpole-swingup", algo="sac", steps=50_000, seed=0)
    agent, cfg, step = load_agent(run_dir)
"""

__version__ = "0.1.0"

from visuomotor._gl import select_gl_backend

select_gl_backend()

from visuomotor.algos import (ALGORITHMS, BC, PPO, SAC, TD3, TD3BC, Agent, BCConfig, DrM, DrMConfig,  # noqa: E402
                              DrQv2, DrQv2Config, PPOConfig, SACConfig, TD3BCConfig, TD3Config)
from visuomotor.envs import list_env_ids, make_env  # noqa: E402
from visuomotor.envs.randomization import RandomizationConfig  # noqa: E402
from visuomotor.envs.vector import make_vec_env  # noqa: E402
from visuomotor.errors import VisuomotorError  # noqa: E402
from visuomotor.train.build import load_agent  # noqa: E402
from visuomotor.evaluate.rollout import evaluate  # noqa: E402
from visuomotor.api import train  # noqa: E402
from visuomotor.train import TrainConfig  # noqa: E402

__all__ = [
    "ALGORITHMS", "BC", "BCConfig", "PPO", "SAC", "TD3", "TD3Config", "TD3BC", "TD3BCConfig", "Agent", "DrM", "DrMConfig", "DrQv2", "DrQv2Config", "PPOConfig",
    "RandomizationConfig", "SACConfig", "TrainConfig", "VisuomotorError",
    "evaluate", "list_env_ids", "load_agent", "make_env", "make_vec_env", "train",
]
