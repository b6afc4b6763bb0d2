"""Pixel observations: render the scene as the observation, and stack the last frames.

    make_env("dmc/walker-walk", pixels=True)   # uint8 [3 * frame_stack, 84, 84], DrQ-v2's layout

``PixelObservation`` replaces an env's observation with an RGB frame (uint8, channels first),
rendered once per policy step: it sits outside ``ActionRepeat``, so repeated simulator steps are
not rendered. DMC tasks render from DrQ-v2's camera (2 for quadruped, 0 otherwise) with the fast
path (no shadows, reflections or multisampling) unless ``fast_render=False``; gymnasium envs render
through ``render_mode="rgb_array"`` at the requested size. ``FrameStack`` concatenates the last k
frames along channels; on reset the first frame fills the stack (as DrQ-v2's wrapper does).
Videos (``env.render()``) still come at the env's own render size, for people to watch. With
``state_info`` the state observation the frame replaces comes along in ``info["state"]`` (a privileged
observation, e.g. for a teacher that acts from the simulator's state while a student sees pixels).
"""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np

from visuomotor.envs.simulator import renders_pixels


class PixelObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """obs -> uint8 [3, size, size] frame of the scene."""

    def __init__(self, env: gym.Env, size: int = 84, camera_id: int | None = None, fast_render: bool = True,
                 state_info: bool = False):
        gym.utils.RecordConstructorArgs.__init__(self, size=size, camera_id=camera_id, fast_render=fast_render,
                                                 state_info=state_info)
        gym.ObservationWrapper.__init__(self, env)
        self.size = int(size)
        self.state_info = bool(state_info)  # the replaced state observation in info["state"] (privileged)
        self.state_space = env.observation_space if state_info else None
        self.camera_id = camera_id
        self._dmc = renders_pixels(env)
        self.observation_space = gym.spaces.Box(0, 255, shape=(3, self.size, self.size), dtype=np.uint8)
        # gymnasium MuJoCo envs: the same fast path as DMC's (no multisampling, shadows or
        # reflections; 12 -> 137 frames/s at 84x84 for HalfCheetah on a software GL)
        self._fast_gym = fast_render and not self._dmc and hasattr(env.unwrapped, "mujoco_renderer")
        if self._fast_gym:
            env.unwrapped.model.vis.quality.offsamples = 0
        self.fixed_render = self._dmc or self._fast_gym
        """Frames render without shadows, reflections or multisampling (else: the env's own render())."""
        self._flags_set = False

    def frame(self) -> np.ndarray:
        if self._dmc:
            img = self.env.unwrapped.render_pixels(self.size, self.size, self.camera_id)
        else:
            img = self.env.unwrapped.render()
            if self._fast_gym and not self._flags_set:
                self._fast_scene()
                img = self.env.unwrapped.render()
            if img is None:
                raise RuntimeError("pixel observations need an env that renders with render_mode='rgb_array'")
            if img.shape[:2] != (self.size, self.size):
                raise RuntimeError(f"the env renders {img.shape[1]}x{img.shape[0]} frames; "
                                   f"make it with width={self.size}, height={self.size}")
        return np.ascontiguousarray(np.asarray(img, dtype=np.uint8).transpose(2, 0, 1))

    def _fast_scene(self) -> None:
        import mujoco

        self._flags_set = True
        try:  # gymnasium keeps its offscreen viewer private; without it, render as it comes
            viewer = self.env.unwrapped.mujoco_renderer._get_viewer("rgb_array")
            viewer.scn.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
            viewer.scn.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        except (AttributeError, TypeError):
            pass

    def observation(self, observation) -> np.ndarray:
        return self.frame()

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        if self.state_info:
            info = {**info, "state": np.asarray(obs, np.float32)}
        return self.observation(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self.state_info:
            info = {**info, "state": np.asarray(obs, np.float32)}
        return self.observation(obs), reward, terminated, truncated, info


class FrameStack(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """uint8 [C, H, W] frames -> [k * C, H, W], oldest first; reset repeats the first frame."""

    def __init__(self, env: gym.Env, k: int = 3):
        if k < 1:
            raise ValueError(f"frame_stack must be >= 1, got {k}")
        gym.utils.RecordConstructorArgs.__init__(self, k=k)
        gym.Wrapper.__init__(self, env)
        self.k = k
        c, h, w = env.observation_space.shape
        self.observation_space = gym.spaces.Box(0, 255, shape=(k * c, h, w), dtype=np.uint8)
        self._frames: deque[np.ndarray] = deque(maxlen=k)

    def _obs(self) -> np.ndarray:
        return np.concatenate(list(self._frames), axis=0)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        for _ in range(self.k):
            self._frames.append(obs)
        return self._obs(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames.append(obs)
        return self._obs(), reward, terminated, truncated, info
