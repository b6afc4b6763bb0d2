"""The MuJoCo model behind an env: dm_control's physics or a gymnasium MuJoCo env's model."""

from __future__ import annotations

import gymnasium as gym


def mujoco_model(env: gym.Env):
    """The env's ``mujoco.MjModel`` and ``MjData`` (dm_control's physics or gymnasium's model), or
    (None, None)."""
    base = env.unwrapped
    physics = getattr(base, "physics", None)
    if physics is not None:
        return physics.model.ptr, physics.data.ptr
    model, data = getattr(base, "model", None), getattr(base, "data", None)
    try:
        import mujoco

        if isinstance(model, mujoco.MjModel):
            return model, data
    except ImportError:
        pass
    return None, None
