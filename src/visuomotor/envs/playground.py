"""MuJoCo Playground (JAX/MJX) as a massively parallel backend: ``--env playground/<EnvName>``.

Optional: ``pip install 'visuomotor[playground]'`` (the ``playground`` package, with JAX). The N
copies are one batched JAX state; a step is one jitted ``vmap(env.step)`` with time limits and
same-step autoreset done inside the same jitted function, and observations, rewards and flags
cross into torch through DLPack (no copies; on a GPU they stay on the GPU). Actions cross back the
same way. Observations that are a dict follow Playground's convention: ``state`` is the policy's
observation and ``privileged_state`` (when present) becomes ``info["critic_obs"]`` for an
asymmetric critic.

On a CPU, Playground's default ``impl='warp'`` is slow; ``impl='jax'`` is used unless the
``VISUOMOTOR_PLAYGROUND_IMPL`` environment variable says otherwise. On a GPU, install JAX with
CUDA (``pip install -U 'jax[cuda12]'``) and pass ``--device cuda``: the torch tensors then arrive
on the GPU; thousands of envs (``--num-envs 4096``) are the intended use.

The env classes (JAX, torch) live in ``envs/playground_jax.py`` and are imported when an env is built:
listing and checking ids reads the static table of ``envs/playground_ids.py`` and imports neither JAX
nor Playground.
"""

from __future__ import annotations

from visuomotor.envs.backend import Backend
from visuomotor.envs.playground_ids import PREFIX, playground_env_ids, validate_playground_id
from visuomotor.errors import VisuomotorError


class PlaygroundBackend(Backend):
    """Backend ``playground/<EnvName>``: MuJoCo Playground's envs, batched as one jitted JAX state."""

    prefix = PREFIX
    tensor_native = True

    def ids(self) -> list[str]:
        return list(playground_env_ids())

    def heading(self, count: int) -> str:
        if not count:
            return "MuJoCo Playground: pip install 'visuomotor[playground]' for playground/<EnvName> ids"
        return f"MuJoCo Playground ({count}; JAX, batched with --algo ppo --num-envs N)"

    def validate(self, env_id: str) -> None:
        validate_playground_id(env_id)

    def check_options(self, env_id: str, pixels: bool, action_repeat: int, randomization) -> None:
        if pixels or action_repeat != 1 or (randomization is not None and randomization.enabled):
            raise VisuomotorError(f"{env_id}: Playground envs take no --pixels, --action-repeat or --dr here "
                                  "(use the env's own config)")

    def make(self, env_id, seed, render_mode, pixels, pixel_size, camera_id, fast_render, **kwargs):
        from visuomotor.envs.playground_jax import PlaygroundEnv

        return PlaygroundEnv(env_id, seed=seed, render_mode=render_mode)

    def make_vec(self, env_id, num_envs, seed, vectorization, threads, device, **env_kwargs):
        """Always one jitted JAX batch returning torch tensors on ``device`` (whatever ``vectorization``)."""
        self.check_options(env_id, bool(env_kwargs.get("pixels")), env_kwargs.get("action_repeat", 1),
                           env_kwargs.get("randomization"))
        from visuomotor.envs.playground_jax import PlaygroundVecEnv

        return PlaygroundVecEnv(env_id, num_envs, seed=seed, device=device)
