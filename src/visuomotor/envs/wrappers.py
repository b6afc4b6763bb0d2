"""Generic wrappers shared by every env kind."""

from __future__ import annotations

from collections import deque

import gymnasium as gym
import numpy as np


def find_wrapper(env: gym.Env, cls: type | str):
    """The outermost wrapper of ``env`` (``env`` itself included) that is a ``cls`` (a class, or a class
    name where importing the class would be a cycle), or None."""
    while True:
        if type(env).__name__ == cls if isinstance(cls, str) else isinstance(env, cls):
            return env
        if not isinstance(env, gym.Wrapper):
            return None
        env = env.env


class ActionRepeat(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Repeat each action ``k`` times, summing rewards; stops early when the episode ends.

    One policy step is ``k`` simulator steps (DrQ-v2 / PlaNet convention: a DMC "frame" is a
    simulator step, so frames = policy steps x k). Video frame rate scales down by ``k``.
    """

    def __init__(self, env: gym.Env, k: int):
        if k < 1:
            raise ValueError(f"action_repeat must be >= 1, got {k}")
        gym.utils.RecordConstructorArgs.__init__(self, k=k)
        gym.Wrapper.__init__(self, env)
        self.k = k
        fps = env.metadata.get("render_fps")
        if fps:
            self.metadata = {**env.metadata, "render_fps": max(1, round(fps / k))}

    def step(self, action):
        total = 0.0
        for _ in range(self.k):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
        return obs, total, terminated, truncated, info


class StateInfo(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """A state env's observation also in ``info["state"]`` (on reset and every step): the privileged state
    a teacher acts from, kept whole when the observation itself becomes a history (``ObservationHistory``)."""

    def __init__(self, env: gym.Env):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        self.state_space = env.observation_space

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, "state": np.asarray(obs, np.float32)}

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, "state": np.asarray(obs, np.float32)}


class ObservationHistory(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """float32 [D] observations -> [h * D]: the last ``h`` observations, oldest first; reset repeats the
    first (as ``FrameStack`` does for frames). A proprioceptive policy's history of past observations."""

    def __init__(self, env: gym.Env, h: int):
        if h < 1:
            raise ValueError(f"history must be >= 1, got {h}")
        space = env.observation_space
        if len(space.shape) != 1:
            raise ValueError(f"an observation history stacks flat state observations, got shape {space.shape}")
        gym.utils.RecordConstructorArgs.__init__(self, h=h)
        gym.Wrapper.__init__(self, env)
        self.h = int(h)
        self.observation_space = gym.spaces.Box(np.tile(space.low, h), np.tile(space.high, h), dtype=np.float32)
        self._past: deque[np.ndarray] = deque(maxlen=self.h)

    def _obs(self) -> np.ndarray:
        return np.concatenate(list(self._past)).astype(np.float32, copy=False)

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        for _ in range(self.h):
            self._past.append(np.asarray(obs, np.float32))
        return self._obs(), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._past.append(np.asarray(obs, np.float32))
        return self._obs(), reward, terminated, truncated, info
