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
import numpy as np
from gymnasium.vector import AsyncVectorEnv, AutoresetMode, SyncVectorEnv

from visuomotor.envs.registry import backend_of, make_env
from visuomotor.errors import VisuomotorError

VECTORIZATION = ("sync", "async", "mujoco")


def make_vec_env(env_id: str, num_envs: int, seed: int = 0,
                 vectorization: Literal["sync", "async", "mujoco"] = "sync", threads: int | None = None,
                 device=None, **env_kwargs) -> gym.vector.VectorEnv:
    """N copies of ``make_env(env_id, seed=seed + i, **env_kwargs)`` with same-step autoreset, as the env's
    backend batches them: ``sync`` (this process) or ``async`` (a worker process each); ``mujoco`` the
    batched MuJoCo path (``visuomotor.envs.batched``) for the gymnasium locomotion tasks it supports,
    stepping every copy in one ``mujoco.rollout`` call on ``threads`` threads (with ``randomization``,
    one randomized model per copy); ``playground/<EnvName>`` ids always one jitted JAX batch that
    returns torch tensors on ``device`` (``visuomotor.envs.playground``)."""
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
        from visuomotor.envs.batched import BatchedMujocoEnv

        randomization = env_kwargs.pop("randomization", None)
        other = {k: v for k, v in env_kwargs.items() if v not in (None, False, 1) and k not in (
            "pixel_size", "frame_stack")}
        if other:
            raise VisuomotorError(f"--vectorization mujoco steps the plain task (and --dr); it does not support "
                                  f"{', '.join(sorted(other))} (use sync or async)")
        return BatchedMujocoEnv(env_id, num_envs, seed=seed, threads=threads, randomization=randomization)
    fns = [functools.partial(make_env, env_id, seed=seed + i, **env_kwargs) for i in range(num_envs)]
    if vectorization == "sync":
        return SyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP)
    # forkserver: workers do not inherit this process's torch/OpenMP threads or GL context
    return AsyncVectorEnv(fns, autoreset_mode=AutoresetMode.SAME_STEP, context="forkserver")


def final_observations(next_obs: np.ndarray, info: dict) -> tuple[np.ndarray, np.ndarray]:
    """(observations after this step as the episodes saw them [N, D], mask of envs whose episode ended).

    Where an episode ended, ``next_obs`` holds the next episode's first observation; this puts the
    ended episode's real last observation in its place."""
    mask = np.asarray(info.get("_final_obs", np.zeros(len(next_obs), bool)), dtype=bool)
    if not mask.any():
        return next_obs, mask
    final = np.array(next_obs, copy=True)
    for i in np.flatnonzero(mask):  # only the envs that just ended (a handful per step)
        final[i] = info["final_obs"][i]
    return final, mask
