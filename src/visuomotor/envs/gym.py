"""Backend ``gym/<id>``: any env registered with gymnasium (``gym/HalfCheetah-v5``)."""

from __future__ import annotations

import gymnasium

from visuomotor.envs.backend import Backend, unknown_id


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
