"""visuomotor: reinforcement learning for robot control on MuJoCo tasks.

    from visuomotor import make_env, train, SAC, SACConfig, TrainConfig, load_agent

    run_dir = train(env="dmc/cartpole-swingup", algo="sac", steps=50_000, seed=0)
    agent, cfg, step = load_agent(run_dir)

Names are imported when first used (PEP 562): ``import visuomotor`` itself imports no torch, so the
command line starts at once.
"""

__version__ = "0.1.0"

from visuomotor._gl import select_gl_backend
from visuomotor._lazy import lazy_getattr

select_gl_backend()

_LAZY = {  # public name -> the module that defines it
    **{name: "visuomotor.algos" for name in (
        "ALGORITHMS", "Agent", "BC", "BCConfig", "DrM", "DrMConfig", "DrQv2", "DrQv2Config", "PPO", "PPOConfig",
        "SAC", "SACConfig", "TD3", "TD3BC", "TD3BCConfig", "TD3Config")},
    "list_env_ids": "visuomotor.envs", "make_env": "visuomotor.envs",
    "RandomizationConfig": "visuomotor.envs.randomization",
    "make_vec_env": "visuomotor.envs.vector",
    "VisuomotorError": "visuomotor.errors",
    "load_agent": "visuomotor.train.build",
    "TrainConfig": "visuomotor.train.config",
}

# The subpackages named like the functions `train` and `evaluate` are imported first (their own names
# are lazy and cheap): importing a subpackage binds its name here, so the functions are bound after.
import visuomotor.evaluate  # noqa: E402
import visuomotor.train  # noqa: E402, F401


def train(config=None, **overrides):
    """Train from a config (and/or keyword overrides of its fields); returns the run directory (with
    ``seeds``, the sweep directory of one run per seed).

    >>> train(env="dmc/cartpole-swingup", algo="sac", steps=20_000, run_dir="runs/demo")
    """
    from visuomotor.api import train as _train

    return _train(config, **overrides)


def evaluate(agent, env, episodes, *args, **kwargs):
    """Roll ``agent``'s deterministic policy out for ``episodes`` episodes (``visuomotor.evaluate.rollout.evaluate``)."""
    from visuomotor.evaluate.rollout import evaluate as _evaluate

    return _evaluate(agent, env, episodes, *args, **kwargs)


__getattr__ = lazy_getattr(globals(), _LAZY)


def __dir__():
    return sorted([*globals(), *_LAZY])


__all__ = sorted([*_LAZY, "evaluate", "train"])
