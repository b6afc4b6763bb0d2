"""Pick a MuJoCo OpenGL backend before mujoco / dm_control are imported.

On a machine with no display, rendering needs a headless GL: EGL (Mesa or a GPU driver) first,
OSMesa (software) second. A user's own ``MUJOCO_GL`` always wins.
"""

from __future__ import annotations

import ctypes.util
import os

_CANDIDATES = (("egl", "EGL"), ("osmesa", "OSMesa"))


def select_gl_backend() -> str | None:
    """Set ``MUJOCO_GL`` (and ``PYOPENGL_PLATFORM``) if unset; return the backend in force."""
    chosen = os.environ.get("MUJOCO_GL")
    if not chosen:
        if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
            return None  # a desktop: let mujoco use GLFW
        for backend, lib in _CANDIDATES:
            if ctypes.util.find_library(lib):
                chosen = backend
                break
        if chosen is None:
            return None
        os.environ["MUJOCO_GL"] = chosen
    if chosen in ("egl", "osmesa"):
        os.environ.setdefault("PYOPENGL_PLATFORM", chosen)
    return chosen


def no_gl_message() -> str:
    return (
        "no headless OpenGL found for MuJoCo rendering: install Mesa's EGL "
        "(apt-get install libegl1 libgl1-mesa-dri) or OSMesa (apt-get install libosmesa6), "
        "or set MUJOCO_GL=egl|osmesa|glfw yourself"
    )
