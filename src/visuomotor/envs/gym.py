"""Backend ``gym/<id>``: any env registered with gymnasium (``gym/HalfCheetah-v5``)."""

from __future__ import annotations

import gymnasium

from visuomotor.envs.backend import Backend, unknown_id
from visuomotor.errors import VisuomotorError


class GymBackend(Backend):
    prefix = "gym/"

    def ids(self) -> list[str]:
        """Registered gymnasium envs that run on MuJoCo (the ones we test)."""
        ids = []
        for env_id, spec in gymnasium.registry.items():
            entry = spec.entry_point if isinstance(spec.entry_point, str) else ""
            if "mujoco" in entry and "mujoco_py" not in entry and not env_id.startswith(("GymV2", "GymV3")):
                ids.append(f"gym/{env_id}")
        return sorted(ids)

    def heading(self, count: int) -> str:
        return f"gymnasium MuJoCo ({count}; any registered gym/<id> works)"

    def validate(self, env_id: str) -> None:
        if env_id[len(self.prefix):] not in gymnasium.registry:
            raise unknown_id(env_id, [f"gym/{k}" for k in gymnasium.registry])

    def make(self, env_id, seed, render_mode, pixels, pixel_size, camera_id, fast_render, **kwargs):
        if pixels:  # the env's own renderer makes the observation (and the videos) at pixel_size
            kwargs = {"width": pixel_size, "height": pixel_size, **kwargs}
            if camera_id is not None:
                kwargs["camera_id"] = camera_id
            render_mode = "rgb_array"
        return gymnasium.make(env_id[len(self.prefix):], render_mode=render_mode, **kwargs)

    def make_vec(self, env_id, num_envs, seed, vectorization, threads, device, **env_kwargs):
        """``mujoco``: the batched MuJoCo path (``envs/batched.py``) for the locomotion tasks it supports,
        every copy stepped in one ``mujoco.rollout`` call (with ``randomization``, one randomized model
        per copy); other vectorizations: None (N copies of ``make_env``)."""
        if vectorization != "mujoco":
            return None
        from visuomotor.envs.batched import BatchedMujocoEnv

        randomization = env_kwargs.pop("randomization", None)
        other = {k: v for k, v in env_kwargs.items() if v not in (None, False, 1) and k not in (
            "pixel_size", "frame_stack")}
        if other:
            raise VisuomotorError(f"--vectorization mujoco steps the plain task (and --dr); it does not support "
                                  f"{', '.join(sorted(other))} (use sync or async)")
        return BatchedMujocoEnv(env_id, num_envs, seed=seed, threads=threads, randomization=randomization)
