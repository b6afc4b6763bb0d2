"""Batches of environments for on-policy training (``--num-envs N``).

``make_vec_env`` returns a gymnasium ``VectorEnv`` of N copies of ``make_env(id, seed + i)``, stepped
in this process (``sync``) or in worker processes (``async``), always with gymnasium's
*same-step* autoreset: when copy i ends an episode, ``step`` already returns the first observation
of its next episode, and the true last observation is in ``info["final_obs"][i]`` (mask
``info["_final_obs"]``). A transition therefore never mixes two episodes, and a truncated
episode can be bootstrapped from its real final observation.
"""

from __future__ import annotations

import functools
from typing import Literal

import gymnasium as gym
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from visuomotor.envs.registry import backend_of, make_env
from visuomotor.errors import VisuomotorError

VECTORIZATION = ("sync", "async", "mujoco")


def make_vec_env(env_id: str, num_envs: int, seed: int = 0,
                 vectorization: Literal["sync", "async", "mujoco"] = "sync", threads: int | None = None,
                 device=None, **env_kwargs) -> gym.vector.VectorEnv:
    """N copies of ``make_env(env_id, seed=seed + i, **env_kwargs)`` with same-step autoreset: the env's
    backend's own batch when it has one (``Backend.make_vec``: ``mujoco`` for gym/ ids, the batched
    MuJoCo path of ``visuomotor.envs.batched``, stepping every copy in one ``mujoco.rollout`` call on
    ``threads`` threads; ``playground/<EnvName>`` ids always one jitted JAX batch returning torch
    tensors on ``device``), else ``sync`` (this process) or ``async`` (a worker process each)."""
    if num_envs < 1:
        raise VisuomotorError(f"--num-envs must be >= 1, got {num_envs}")
    if vectorization not in VECTORIZATION:
        raise VisuomotorError(f"vectorization must be one of {', '.join(VECTORIZATION)}, got {vectorization!r}")
    backend = backend_of(env_id)
    backend.validate(env_id)
    own = backend.make_vec(env_id, num_envs, seed, vectorization, threads, device, **env_kwargs)
    if own is not None:
        return own
    if vectorization == "mujoco":
        raise VisuomotorError(f"--vectorization mujoco is the batched MuJoCo path of gym/ ids; {env_id!r} has none "
                              f"(use sync or async)")
    fns = [functools.partial(make_env, env_id, seed=seed + i, **env_kwargs) for i in range(num_envs)]
    if vectorization == "sync":
        return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    # forkserver: workers do not inherit this process's torch/OpenMP threads or GL context
    return AsyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP, context="forkserver")
