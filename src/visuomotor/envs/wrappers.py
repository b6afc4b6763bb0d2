"""Generic wrappers shared by every env kind."""

from __future__ import annotations

import gymnasium as gym


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
