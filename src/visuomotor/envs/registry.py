"""Environment ids and ``make_env``: a table of id prefixes, each owned by one backend module.

Four kinds of id:

- ``dmc/<domain>-<task>``: every DeepMind Control Suite task (``dmc/cartpole-swingup``);
- ``gym/<id>``: any env registered with gymnasium (``gym/HalfCheetah-v5``);
- ``playground/<EnvName>``: a MuJoCo Playground (JAX/MJX) env, with the ``playground`` extra;
- ``module.path:factory``: a user's own callable returning a ``gymnasium.Env``.

Every env comes back with a flat float32 observation and a [-1, 1] action Box.
"""

from __future__ import annotations

import dataclasses

import gymnasium as gym
import numpy as np

from visuomotor._gl import select_gl_backend
from visuomotor.envs.backend import Backend, unknown_id
from visuomotor.envs.dmc import DMCBackend
from visuomotor.envs.gym import GymBackend
from visuomotor.envs.playground import PlaygroundBackend
from visuomotor.envs.user import UserBackend
from visuomotor.errors import VisuomotorError

select_gl_backend()


BACKENDS: dict[str, Backend] = {"dmc/": DMCBackend(), "gym/": GymBackend(), "playground/": PlaygroundBackend()}
"""Env-id prefix -> backend (a new simulator is one module and one line here)."""
USER = UserBackend()  # module.path:factory


def backend_of(env_id: str) -> Backend:
    """The backend that owns ``env_id`` (a one-line error for an id no backend owns)."""
    if not isinstance(env_id, str) or not env_id:
        raise VisuomotorError(f"env id must be a non-empty string, got {env_id!r}")
    for prefix, backend in BACKENDS.items():
        if env_id.startswith(prefix):
            return backend
    if ":" in env_id:
        return USER
    raise unknown_id(env_id, list_env_ids())


def list_env_ids() -> list[str]:
    """Every id the backends list (Playground's when it is installed)."""
    return [i for b in BACKENDS.values() for i in b.ids()]


def validate_env_id(env_id: str) -> None:
    """Raise a one-line VisuomotorError for an id that cannot be built. Cheap: builds nothing."""
    backend_of(env_id).validate(env_id)


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
             fast_render: bool = True, randomization=None, distract: str = "off", distract_split: str | None = None,
             distract_cfg=None, state_info: bool = False, history: int = 1, **kwargs) -> gym.Env:
    """Build an environment from an id (see the module doc); ``seed`` seeds its task and action space.

    ``action_repeat`` > 1 repeats each action that many simulator steps, summing rewards.
    ``pixels=True`` makes the observation the last ``frame_stack`` RGB frames, uint8
    [3 * frame_stack, pixel_size, pixel_size], rendered once per policy step (DMC: from
    ``camera_id``, default DrQ-v2's camera; the fast render path unless ``fast_render=False``).

    ``randomization`` (a ``RandomizationConfig`` with ``enabled``) wraps the env in per-episode domain
    randomization of its MuJoCo model (masses, friction, damping, actuator gains, pushes).

    ``state_info=True`` puts the state observation in ``info["state"]`` on reset and every step (with
    pixels: the state the frame shows; a teacher's privileged input). ``history`` > 1 (states only)
    makes the observation the last ``history`` state observations, oldest first.

    Extra keyword arguments go to the underlying constructor (``gymnasium.make``, ``DMCEnv`` or the
    user's factory). Call ``env.reset(seed=seed)`` once before stepping for a reproducible start.
    """
    backend = backend_of(env_id)
    backend.validate(env_id)
    backend.check_options(env_id, pixels, action_repeat, randomization)
    dcfg = None
    if distract != "off":
        from visuomotor.envs.distract import DistractConfig

        dcfg = distract_cfg or DistractConfig()
        if distract_split is not None:
            dcfg = dataclasses.replace(dcfg, split=distract_split)
        dcfg.validate(distract)
        if not pixels:
            raise VisuomotorError(f"--distract {distract} changes what a camera sees: it needs pixel observations "
                                  f"(--pixels, or a pixel algorithm)")
        kwargs = {**backend.distract_kwargs(dcfg), **kwargs}
    env = backend.make(env_id, seed=seed, render_mode=render_mode, pixels=pixels, pixel_size=pixel_size,
                       camera_id=camera_id, fast_render=fast_render, **kwargs)
    env = _standardize(env, env_id)
    if action_repeat != 1:
        from visuomotor.envs.wrappers import ActionRepeat

        env = ActionRepeat(env, action_repeat)
    if randomization is not None and randomization.enabled:
        from visuomotor.envs.randomization import DomainRandomization

        env = DomainRandomization(env, randomization, seed=seed)
    if dcfg is not None:
        from visuomotor.envs.distract import Distraction

        env = Distraction(env, distract, dcfg, camera_id=backend.pixel_camera(env_id, camera_id), seed=seed)
    if history != 1 and (pixels or history < 1):
        raise VisuomotorError(f"history {history}: a history of past observations is for state observations "
                              f"(>= 1; pixels stack frames with frame_stack)")
    if not pixels and (state_info or history > 1):
        from visuomotor.envs.wrappers import ObservationHistory, StateInfo

        env = StateInfo(env) if state_info else env
        env = ObservationHistory(env, history) if history > 1 else env
    if pixels:
        from visuomotor.envs.pixels import FrameStack, PixelObservation

        if pixel_size < 8:
            raise VisuomotorError(f"pixel_size must be >= 8, got {pixel_size}")
        env = FrameStack(PixelObservation(env, pixel_size, backend.pixel_camera(env_id, camera_id),
                                          fast_render=fast_render, state_info=state_info), frame_stack)
    env.action_space.seed(seed)
    env.observation_space.seed(seed)
    return env
