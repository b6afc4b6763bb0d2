"""The declared env contract: what export, domain randomization, distractions, `visuomotor play` and
the deploy contract need from the simulator behind a ``make_env`` env, as public functions here.

An adapter of ours (``DMCEnv``) declares it by implementing ``SimulatorEnv``'s methods; gymnasium's
own MuJoCo envs are read through their public attributes (``model``, ``data``, ``dt``,
``action_space``). Nothing outside ``envs/`` reads an env's private attribute: code elsewhere calls
these functions (a new backend whose adapter implements ``SimulatorEnv`` needs no change outside
its module).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np


class SimulatorEnv:
    """What an env adapter of ours declares about its simulator (each has a default: unknown)."""

    def mujoco_handles(self):
        """(mujoco.MjModel, mujoco.MjData) of the simulation, or (None, None)."""
        return None, None

    def native_action_bounds(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The bounds of the actions the simulator receives (the [-1, 1] action maps affinely onto
        them), or None when the action space already is the simulator's."""
        return None

    def observation_keys(self) -> list[tuple[str, tuple[int, ...]]] | None:
        """The named parts of the flat observation, in flattening order, with their shapes (each
        flattened in C order); None when the observation is one vector of the env's own."""
        return None

    def control_timestep(self) -> float | None:
        """Seconds of simulated time per env step (before any action repeat)."""
        return None

    def renders_pixels(self) -> bool:
        """Whether it renders pixel observations itself (``render_pixels``), with fixed render settings."""
        return False


def _adapter(env: gym.Env) -> SimulatorEnv | None:
    base = env.unwrapped
    return base if isinstance(base, SimulatorEnv) else None


def mujoco_handles(env: gym.Env):
    """(mujoco.MjModel, mujoco.MjData) behind ``env`` (an adapter's, or a gymnasium MuJoCo env's
    ``model`` and ``data``), or (None, None) when there is no MuJoCo simulation behind it."""
    adapter = _adapter(env)
    if adapter is not None:
        return adapter.mujoco_handles()
    base = env.unwrapped
    model, data = getattr(base, "model", None), getattr(base, "data", None)
    try:
        import mujoco
    except ImportError:
        return None, None
    if isinstance(model, mujoco.MjModel) and isinstance(data, mujoco.MjData):
        return model, data
    return None, None


def native_action_bounds(env: gym.Env) -> tuple[np.ndarray, np.ndarray]:
    """The bounds of the actions the simulator receives, float64 (the policy's [-1, 1] maps affinely
    onto them, as the adapter or ``make_env``'s rescaling applies it)."""
    adapter = _adapter(env)
    bounds = adapter.native_action_bounds() if adapter is not None else None
    if bounds is None:
        space = env.unwrapped.action_space
        bounds = space.low, space.high
    return np.asarray(bounds[0], np.float64), np.asarray(bounds[1], np.float64)


def observation_keys(env: gym.Env) -> list[tuple[str, tuple[int, ...]]] | None:
    """The named parts of the (flat) state observation in order with their shapes, or None."""
    adapter = _adapter(env)
    return adapter.observation_keys() if adapter is not None else None


def control_timestep(env: gym.Env) -> float | None:
    """Seconds of simulated time per step of the unwrapped env (gymnasium MuJoCo envs: ``dt``)."""
    adapter = _adapter(env)
    if adapter is not None:
        return adapter.control_timestep()
    dt = getattr(env.unwrapped, "dt", None)
    return float(dt) if dt is not None else None


def time_limit(env: gym.Env) -> int | None:
    """The episode's time limit in steps of the unwrapped env, or None."""
    limit = getattr(env.unwrapped, "max_episode_steps", None) or (env.spec.max_episode_steps if env.spec else None)
    return int(limit) if limit else None


def renders_pixels(env: gym.Env) -> bool:
    """Whether the adapter renders pixel observations itself (fixed settings: no shadows, reflections
    or multisampling)."""
    adapter = _adapter(env)
    return adapter is not None and adapter.renders_pixels()
