"""DeepMind Control Suite tasks behind the gymnasium API.

Observations: the task's observation dict flattened (in the task's own key order) to one float32
vector. Actions: a Box in [-1, 1] mapped affinely onto the task's action bounds. The suite's time
limit ends an episode with ``truncated=True`` (discount 1), never ``terminated``: a critic must
bootstrap through it. A step with discount 0 (a real terminal state) is ``terminated=True``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import gymnasium as gym
import numpy as np

from visuomotor.envs.backend import Backend, unknown_id
from visuomotor.envs.simulator import SimulatorEnv


def _flat_size(spec) -> int:
    return int(np.prod(spec.shape)) if spec.shape else 1


class DMCEnv(gym.Env, SimulatorEnv):
    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}

    def __init__(
        self,
        domain: str,
        task: str,
        seed: int | None = None,
        render_mode: str | None = None,
        render_size: tuple[int, int] = (240, 320),
        camera_id: int | None = None,
        environment_kwargs: dict[str, Any] | None = None,
        fast_render: bool = True,
        small_skybox: bool = False,
        small_floor: bool = False,
    ):
        from dm_control import suite  # imported late: MUJOCO_GL is chosen first
        from dm_control.suite import common

        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"render_mode must be None or 'rgb_array', got {render_mode!r}")
        self.domain, self.task_name = domain, task
        # small_skybox / small_floor (background distractions): the skybox at SKYBOX_SIZE px per face
        # instead of 800, the floor at FLOOR_SIZE instead of 300, so that replacing them is a small texture
        # upload; the suite's shared assets are swapped for the load and restored
        original = dict(common.ASSETS)
        if small_skybox or small_floor:
            from visuomotor.envs.distract import small_texture_assets

            common.ASSETS.update(small_texture_assets(original, small_skybox, small_floor))
        try:
            self._env = suite.load(
                domain,
                task,
                task_kwargs={"random": np.random.RandomState(seed)},
                environment_kwargs=environment_kwargs or {},
            )
        finally:
            common.ASSETS.update(original)
        self.render_mode = render_mode
        self.render_size = render_size
        # Shadows, reflections and 4x multisampling cost ~2/3 of a frame on a software GL; off by
        # default (the look stays close), back on with fast_render=False.
        self.fast_render = fast_render
        if fast_render:
            self._env.physics.model.vis.quality.offsamples = 0
        # DrQ-v2's convention: camera 2 looks at the quadruped, camera 0 elsewhere.
        self.camera_id = camera_id if camera_id is not None else (2 if domain == "quadruped" else 0)
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self._env.control_timestep()))}

        aspec = self._env.action_spec()
        self._act_low = np.asarray(aspec.minimum, dtype=np.float64)
        self._act_high = np.asarray(aspec.maximum, dtype=np.float64)
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=aspec.shape, dtype=np.float32)
        obs_dim = sum(_flat_size(s) for s in self._env.observation_spec().values())
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, shape=(obs_dim,), dtype=np.float32)

    @property
    def physics(self):
        return self._env.physics

    @property
    def max_episode_steps(self) -> int:
        return int(self._env._step_limit)  # noqa: SLF001 - dm_control exposes no public getter

    # ---- the declared contract (envs/simulator.py) ----
    def mujoco_handles(self):
        return self._env.physics.model.ptr, self._env.physics.data.ptr

    def native_action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return self._act_low, self._act_high

    def observation_keys(self) -> list[tuple[str, tuple[int, ...]]]:
        return [(k, tuple(v.shape)) for k, v in self._env.observation_spec().items()]

    def control_timestep(self) -> float:
        return float(self._env.control_timestep())

    def renders_pixels(self) -> bool:
        return True

    def _flatten(self, observation) -> np.ndarray:
        parts = [np.asarray(v, dtype=np.float32).ravel() for v in observation.values()]
        return np.concatenate(parts) if parts else np.zeros(0, np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.task.random.seed(seed)
        ts = self._env.reset()
        return self._flatten(ts.observation), {}

    def step(self, action):
        action = np.clip(np.asarray(action, dtype=np.float64), -1.0, 1.0)
        scaled = self._act_low + (action + 1.0) * 0.5 * (self._act_high - self._act_low)
        ts = self._env.step(scaled)
        reward = float(ts.reward or 0.0)
        terminated = bool(ts.last() and ts.discount == 0.0)
        truncated = bool(ts.last() and not terminated)
        return self._flatten(ts.observation), reward, terminated, truncated, {}

    def render(self):
        if self.render_mode != "rgb_array":
            return None
        h, w = self.render_size
        flags = {"shadow": False, "reflection": False} if self.fast_render else None
        return self._env.physics.render(height=h, width=w, camera_id=self.camera_id, render_flag_overrides=flags)

    def render_pixels(self, height: int, width: int, camera_id: int | None = None) -> np.ndarray:
        """An RGB frame [H, W, 3] uint8 for pixel observations, whatever ``render_mode`` is."""
        flags = {"shadow": False, "reflection": False} if self.fast_render else None
        cam = self.camera_id if camera_id is None else camera_id
        return self._env.physics.render(height=height, width=width, camera_id=cam, render_flag_overrides=flags)

    def close(self):
        self._env.close()


class DMCBackend(Backend):
    """Backend ``dmc/<domain>-<task>``: every DeepMind Control Suite task (``dmc/cartpole-swingup``)."""

    prefix = "dmc/"

    def ids(self) -> list[str]:
        return list(dmc_env_ids())

    def heading(self, count: int) -> str:
        return f"DeepMind Control Suite ({count})"

    def validate(self, env_id: str) -> None:
        if env_id not in dmc_env_ids():
            raise unknown_id(env_id, dmc_env_ids())

    def make(self, env_id, seed, render_mode, pixels, pixel_size, camera_id, fast_render, **kwargs):
        domain, _, task = env_id[len(self.prefix):].partition("-")
        env = DMCEnv(domain, task, seed=seed, render_mode=render_mode, fast_render=fast_render, camera_id=camera_id,
                     **kwargs)
        env.spec = gym.envs.registration.EnvSpec(
            id=f"visuomotor-{domain}-{task}", entry_point="visuomotor.envs.dmc:DMCEnv",
            max_episode_steps=None, kwargs={"domain": domain, "task": task},
        )
        return env

    def pixel_camera(self, env_id: str, camera_id: int | None) -> int | None:
        return camera_id  # None: DrQ-v2's convention (DMCEnv picks 2 on quadruped, else 0)

    def distract_kwargs(self, cfg) -> dict:
        return {"small_skybox": bool(cfg.background), "small_floor": bool(cfg.floor)}


@lru_cache(maxsize=1)
def dmc_env_ids() -> tuple[str, ...]:
    from dm_control import suite

    return tuple(f"dmc/{d}-{t}" for d, t in suite.ALL_TASKS)
