"""Backend ``module.path:factory``: a user's own callable returning a ``gymnasium.Env``."""

from __future__ import annotations

import importlib

import gymnasium as gym

from visuomotor.envs.backend import Backend
from visuomotor.errors import VisuomotorError


class UserBackend(Backend):
    def heading(self, count: int) -> str:
        return "your own env: module.path:factory (a callable returning a gymnasium.Env)"

    def validate(self, env_id: str) -> None:
        module, _, attr = env_id.partition(":")
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            raise VisuomotorError(f"env id {env_id!r}: cannot import module {module!r} ({e})") from None
        if not callable(getattr(mod, attr, None)):
            raise VisuomotorError(f"env id {env_id!r}: module {module!r} has no callable {attr!r}")

    def make(self, env_id, seed, render_mode, pixels, pixel_size, camera_id, fast_render, **kwargs):
        module, _, attr = env_id.partition(":")
        factory = getattr(importlib.import_module(module), attr)
        if pixels:
            render_mode = "rgb_array"
        if render_mode is not None:
            kwargs["render_mode"] = render_mode
        env = factory(**kwargs)
        if not isinstance(env, gym.Env):
            raise VisuomotorError(f"env factory {env_id!r} returned {type(env).__name__}, not a gymnasium.Env")
        return env
