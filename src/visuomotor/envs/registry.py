"""Environment ids and ``make_env``.

Three kinds of id:

- ``dmc/<domain>-<task>``: every DeepMind Control Suite task (``dmc/cartpole-swingup``);
- ``gym/<id>``: any env registered with gymnasium (``gym/HalfCheetah-v5``);
- ``playground/<EnvName>``: a MuJoCo Playground (JAX/MJX) env, with the ``playground`` extra;
- ``module.path:factory``: a user's own callable returning a ``gymnasium.Env``.

Every env comes back with a flat float32 observation and a [-1, 1] action Box.
"""

from __future__ import annotations

import difflib
import importlib
from functools import lru_cache

import gymnasium as gym
import numpy as np

from visuomotor._gl import select_gl_backend
from visuomotor.errors import VisuomotorError

select_gl_backend()


@lru_cache(maxsize=1)
def dmc_env_ids() -> tuple[str, ...]:
    from dm_control import suite

    return tuple(f"dmc/{d}-{t}" for d, t in suite.ALL_TASKS)


def gym_mujoco_env_ids() -> tuple[str, ...]:
    """Registered gymnasium envs that run on MuJoCo (the ones we test)."""
    ids = []
    for env_id, spec in gym.registry.items():
        entry = spec.entry_point if isinstance(spec.entry_point, str) else ""
        if "mujoco" in entry and "mujoco_py" not in entry and not env_id.startswith(("GymV2", "GymV3")):
            ids.append(f"gym/{env_id}")
    return tuple(sorted(ids))


def list_env_ids() -> list[str]:
    return list(dmc_env_ids()) + list(gym_mujoco_env_ids())


def _unknown(env_id: str, pool: list[str] | tuple[str, ...]) -> VisuomotorError:
    close = difflib.get_close_matches(env_id, pool, n=5, cutoff=0.5)
    hint = f"closest: {', '.join(close)}" if close else "see `visuomotor list` for valid ids"
    return VisuomotorError(f"unknown env id {env_id!r}; {hint}")


def validate_env_id(env_id: str) -> None:
    """Raise a one-line VisuomotorError for an id that cannot be built. Cheap: builds nothing."""
    if not isinstance(env_id, str) or not env_id:
        raise VisuomotorError(f"env id must be a non-empty string, got {env_id!r}")
    if env_id.startswith("dmc/"):
        if env_id not in dmc_env_ids():
            raise _unknown(env_id, dmc_env_ids())
    elif env_id.startswith("playground/"):
        from visuomotor.envs.playground import validate_playground_id

        validate_playground_id(env_id)
    elif env_id.startswith("gym/"):
        name = env_id[4:]
        if name not in gym.registry:
            all_gym = [f"gym/{k}" for k in gym.registry]
            raise _unknown(env_id, all_gym)
    elif ":" in env_id:
        module, _, attr = env_id.partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise VisuomotorError(f"env id {env_id!r}: cannot import module {module!r} ({e})") from None
        if not callable(getattr(mod, attr, None)):
            raise VisuomotorError(f"env id {env_id!r}: module {module!r} has no callable {attr!r}")
    else:
        raise _unknown(env_id, list_env_ids())


class FloatObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Flatten any Box/Dict observation to one float32 vector."""

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.ObservationWrapper.__init__(self, env)
        self._inner_space = env.observation_space
        dim = gym.spaces.flatdim(self._inner_space)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(dim,), dtype=np.float32)

    def observation(self, observation):
        return np.asarray(gym.spaces.flatten(self._inner_space, observation), dtype=np.float32)


def _standardize(env: gym.Env, env_id: str) -> gym.Env:
    if not isinstance(env.action_space, gym.spaces.Box):
        raise VisuomotorError(
            f"env {env_id!r} has a {type(env.action_space).__name__} action space; "
            "visuomotor needs a continuous Box action space"
        )
    space = env.observation_space
    if not (isinstance(space, gym.spaces.Box) and space.dtype == np.float32 and len(space.shape) == 1):
        env = FloatObservation(env)
    a = env.action_space
    if not (np.all(a.low == -1.0) and np.all(a.high == 1.0) and a.dtype == np.float32):
        if not (np.all(np.isfinite(a.low)) and np.all(np.isfinite(a.high))):
            raise VisuomotorError(f"env {env_id!r} has an unbounded action space; cannot scale to [-1, 1]")
        env = gym.wrappers.RescaleAction(env, np.float32(-1.0), np.float32(1.0))
        env.action_space = gym.spaces.Box(-1.0, 1.0, shape=a.shape, dtype=np.float32)
    return env


def make_env(env_id: str, seed: int = 0, render_mode: str | None = None, action_repeat: int = 1,
             pixels: bool = False, pixel_size: int = 84, frame_stack: int = 3, camera_id: int | None = None,
             fast_render: bool = True, randomization=None, **kwargs) -> gym.Env:
    """Build an environment from an id (see the module doc); ``seed`` seeds its task and action space.

    ``action_repeat`` > 1 repeats each action that many simulator steps, summing rewards.
    ``pixels=True`` makes the observation the last ``frame_stack`` RGB frames, uint8
    [3 * frame_stack, pixel_size, pixel_size], rendered once per policy step (DMC: from
    ``camera_id``, default DrQ-v2's camera; the fast render path unless ``fast_render=False``).

    ``randomization`` (a ``RandomizationConfig`` with ``enabled``) wraps the env in per-episode domain
    randomization of its MuJoCo model (masses, friction, damping, actuator gains, pushes).

    Extra keyword arguments go to the underlying constructor (``gymnasium.make``, ``DMCEnv`` or the
    user's factory). Call ``env.reset(seed=seed)`` once before stepping for a reproducible start.
    """
    validate_env_id(env_id)
    if env_id.startswith("dmc/"):
        from visuomotor.envs.dmc import DMCEnv

        domain, _, task = env_id[4:].partition("-")
        env: gym.Env = DMCEnv(domain, task, seed=seed, render_mode=render_mode, fast_render=fast_render,
                              camera_id=camera_id, **kwargs)
        env.spec = gym.envs.registration.EnvSpec(
            id=f"visuomotor-{env_id[4:]}", entry_point="visuomotor.envs.dmc:DMCEnv",
            max_episode_steps=None, kwargs={"domain": domain, "task": task},
        )
    elif env_id.startswith("playground/"):
        from visuomotor.envs.playground import PlaygroundEnv

        if pixels or action_repeat != 1 or (randomization is not None and randomization.enabled):
            raise VisuomotorError(f"{env_id}: Playground envs take no --pixels, --action-repeat or --dr here "
                                  "(use the env's own config)")
        env = PlaygroundEnv(env_id, seed=seed, render_mode=render_mode)
    elif env_id.startswith("gym/"):
        if pixels:  # the env's own renderer makes the observation (and the videos) at pixel_size
            kwargs = {"width": pixel_size, "height": pixel_size, **kwargs}
            if camera_id is not None:
                kwargs["camera_id"] = camera_id
            render_mode = "rgb_array"
        env = gym.make(env_id[4:], render_mode=render_mode, **kwargs)
    else:
        module, _, attr = env_id.partition(":")
        factory = getattr(importlib.import_module(module), attr)
        if pixels:
            render_mode = "rgb_array"
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        env = factory(**kwargs)
        if not isinstance(env, gym.Env):
            raise VisuomotorError(f"env factory {env_id!r} returned {type(env).__name__}, not a gymnasium.Env")
    env = _standardize(env, env_id)
    if action_repeat != 1:
        from visuomotor.envs.wrappers import ActionRepeat

        env = ActionRepeat(env, action_repeat)
    if randomization is not None and randomization.enabled:
        from visuomotor.envs.randomization import DomainRandomization

        env = DomainRandomization(env, randomization, seed=seed)
    if pixels:
        from visuomotor.envs.pixels import FrameStack, PixelObservation

        if pixel_size < 8:
            raise VisuomotorError(f"pixel_size must be >= 8, got {pixel_size}")
        env = FrameStack(PixelObservation(env, pixel_size, camera_id if env_id.startswith("dmc/") else None,
                                          fast_render=fast_render), frame_stack)
    env.action_space.seed(seed)
    env.observation_space.seed(seed)
    return env
