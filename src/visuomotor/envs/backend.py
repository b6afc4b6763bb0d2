"""The interface every simulator backend implements; ``envs/registry.py`` maps id prefixes to backends.

A backend owns its env ids: it checks them (``validate``, cheap, one-line errors), lists them, builds one
env (``make``: the raw gymnasium env; the registry then standardizes spaces and adds action repeat,
domain randomization and pixels) and, where it has a faster way than N copies of ``make``, a batch of
envs (``make_vec``). Per-task hints live here too (the camera pixel observations render from).
"""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from typing import ClassVar

import gymnasium as gym

from visuomotor.errors import VisuomotorError


def unknown_id(env_id: str, pool) -> VisuomotorError:
    """The one-line error for an id no backend knows, with the closest known ids."""
    close = difflib.get_close_matches(env_id, list(pool), n=5, cutoff=0.5)
    hint = f"closest: {', '.join(close)}" if close else "see `visuomotor list` for valid ids"
    return VisuomotorError(f"unknown env id {env_id!r}; {hint}")


class Backend(ABC):
    prefix: ClassVar[str] = ""  # the env ids it owns start with this ("" for user factories)
    tensor_native: ClassVar[bool] = False  # its batched envs take and return torch tensors

    def ids(self) -> list[str]:
        """The ids `visuomotor list` shows (empty when the backend is not installed)."""
        return []

    def heading(self, count: int) -> str:
        """The `visuomotor list` heading over ``count`` ids (or what to install when there are none)."""
        return f"{self.prefix} ({count})"

    @abstractmethod
    def validate(self, env_id: str) -> None:
        """Raise a one-line VisuomotorError for an id that cannot be built. Cheap: builds nothing."""

    @abstractmethod
    def make(self, env_id: str, seed: int, render_mode: str | None, pixels: bool, pixel_size: int,
             camera_id: int | None, fast_render: bool, **kwargs) -> gym.Env:
        """One env (before the registry's standard wrappers)."""

    def check_options(self, env_id: str, pixels: bool, action_repeat: int, randomization) -> None:
        """Raise a one-line error for wrapper options this backend does not take; default: all taken."""

    def distract_kwargs(self, cfg) -> dict:
        """Extra ``make`` arguments for an env that ``--distract`` will change (a ``DistractConfig``)."""
        return {}

    def pixel_camera(self, env_id: str, camera_id: int | None) -> int | None:
        """The camera pixel observations render from (None: the env's own renderer decides)."""
        return None

    def make_vec(self, env_id: str, num_envs: int, seed: int, vectorization: str, threads: int | None, device,
                 **env_kwargs) -> gym.vector.VectorEnv | None:
        """A batch of N envs of the backend's own (Playground: one jitted JAX batch), or None: then
        ``envs.vector.make_vec_env`` steps N copies of ``make_env``."""
        return None
