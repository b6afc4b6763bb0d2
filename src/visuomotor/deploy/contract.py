"""The contract between a policy and the env it acts in, as a deployment needs it without our code.

``env_contract(env, env_id)`` reads it off a ``make_env`` env (its wrappers and its MuJoCo model):

- ``observation``: states (dtype float32, size; for dm_control the task's named observations in
  flattening order with their shapes: each array flattened in C order, concatenated) or pixels (uint8
  [3 k, H, W], channels first, k RGB frames stacked oldest first, the first frame of an episode
  repeated k times; camera, size and render settings);
- ``action``: size, the MuJoCo actuator names, the native bounds and the map from the policy's
  [-1, 1] to them (``native = low + (a + 1) / 2 * (high - low)``, what the env adapter applies);
- ``timing``: physics timestep, control timestep, action repeat and the policy period in seconds,
  the time limit.

``compatible(a, b)`` is the check of ``visuomotor eval --env``: the first difference in observation
or action layout between two contracts, or None.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

from visuomotor.envs import simulator
from visuomotor.envs.simulator import native_action_bounds as native_bounds
from visuomotor.envs.wrappers import find_wrapper as _find


def to_native(action: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """The env adapter's map from [-1, 1] to native units, in float64 (as the env applies it)."""
    a = np.clip(np.asarray(action, np.float64), -1.0, 1.0)
    return low + (a + 1.0) * 0.5 * (high - low)


def env_contract(env: gym.Env, env_id: str) -> dict:
    """What a deployment of a policy for ``env`` (built by ``make_env``) must reproduce; see the module doc."""
    base = env.unwrapped
    model, _ = simulator.mujoco_handles(env)
    obs_space = env.observation_space
    stack, pixels = _find(env, "FrameStack"), _find(env, "PixelObservation")
    if pixels is not None:
        camera = pixels.camera_id if pixels.camera_id is not None else getattr(base, "camera_id", None)
        observation = {
            "kind": "pixels", "shape": list(obs_space.shape), "dtype": "uint8", "layout": "CHW",
            "frame_stack": stack.k if stack is not None else 1, "channels": "RGB per frame, frames oldest first; "
            "an episode's first frame fills the stack", "size": pixels.size, "camera_id": camera,
            "camera_name": _name(model, "camera", camera) if camera is not None else None,
            "render": {"shadow": False, "reflection": False, "offsamples": 0} if pixels.fixed_render
            else "the env's own render()",
        }
        distraction = _find(env, "Distraction")
        if distraction is not None:  # what the policy saw in training varied (visuomotor.envs.distract)
            from visuomotor.envs.distract import distract_settings

            observation["distractions"] = {k: str(v) if v is not None and not isinstance(v, (bool, int, float, str))
                                           else v for k, v in distract_settings(distraction.level,
                                                                                distraction.cfg).items()}
    else:
        observation = {"kind": "state", "shape": list(obs_space.shape), "dtype": "float32",
                       "size": int(np.prod(obs_space.shape))}
        keys = simulator.observation_keys(env)
        if keys is not None:
            observation["keys"] = [{"name": k, "shape": list(shape), "size": int(np.prod(shape)) if shape else 1}
                                   for k, shape in keys]
            observation["order"] = "the keys in this order, each flattened (C order), concatenated"
        else:
            observation["order"] = "the env's own observation vector"
        history = _find(env, "ObservationHistory")
        if history is not None:  # [h * D]: the last h observations of that layout
            observation["history"] = history.h
            observation["order"] = (f"the last {history.h} observations, oldest first, each: {observation['order']}; "
                                    f"an episode's first observation fills the history")
    low, high = native_bounds(env)
    act_dim = int(np.prod(env.action_space.shape))
    names = [_actuator_name(model, i) for i in range(model.nu)] if model is not None and model.nu == act_dim else None
    action = {"size": act_dim, "names": names, "names_are": "the MuJoCo actuators' names (an unnamed actuator: the "
              "joint, tendon or site it drives)", "low": low.tolist(), "high": high.tolist(),
              "policy_range": [-1.0, 1.0], "to_native": "low + (a + 1) / 2 * (high - low)"}
    repeat = _find(env, "ActionRepeat")
    k = repeat.k if repeat is not None else 1
    control = simulator.control_timestep(env)
    limit = simulator.time_limit(env)
    timing = {"physics_timestep": float(model.opt.timestep) if model is not None else None,
              "control_timestep": control, "action_repeat": k,
              "policy_period": control * k if control is not None else None,
              "time_limit_control_steps": int(limit) if limit else None}
    dr = _find(env, "DomainRandomization")
    return {"env": env_id, "observation": observation, "action": action, "timing": timing,
            "randomized": dr is not None}


def _name(model, kind: str, index) -> str | None:
    if model is None or index is None:
        return None
    import mujoco

    obj = {"actuator": mujoco.mjtObj.mjOBJ_ACTUATOR, "camera": mujoco.mjtObj.mjOBJ_CAMERA}[kind]
    return mujoco.mj_id2name(model, obj, int(index))


def _actuator_name(model, i: int) -> str | None:
    import mujoco

    name = mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_ACTUATOR, i)
    if name:
        return name
    kind = {mujoco.mjtTrn.mjTRN_JOINT: mujoco.mjtObj.mjOBJ_JOINT, mujoco.mjtTrn.mjTRN_JOINTINPARENT: mujoco.mjtObj.mjOBJ_JOINT,
            mujoco.mjtTrn.mjTRN_TENDON: mujoco.mjtObj.mjOBJ_TENDON, mujoco.mjtTrn.mjTRN_SITE: mujoco.mjtObj.mjOBJ_SITE}
    obj = kind.get(mujoco.mjtTrn(model.actuator_trntype[i]))
    return mujoco.mj_id2name(model, obj, int(model.actuator_trnid[i, 0])) if obj is not None else None


def compatible(a: dict, b: dict) -> str | None:
    """The first difference in observation or action layout between two contracts, or None when a
    policy for one acts correctly in the other."""
    oa, ob = a["observation"], b["observation"]
    for key in ("kind", "shape", "dtype", "keys", "frame_stack", "history", "size"):
        if oa.get(key) != ob.get(key):
            return f"observation {key}: {_short(oa.get(key))} vs {_short(ob.get(key))}"
    aa, ab = a["action"], b["action"]
    for key in ("size", "names", "low", "high"):
        if aa.get(key) != ab.get(key):
            return f"action {key}: {_short(aa.get(key))} vs {_short(ab.get(key))}"
    if a["timing"]["action_repeat"] != b["timing"]["action_repeat"]:
        return f"action repeat: {a['timing']['action_repeat']} vs {b['timing']['action_repeat']}"
    return None


def _short(v) -> str:
    if isinstance(v, list) and v and isinstance(v[0], dict):
        v = [f"{d['name']}({d['size']})" for d in v]
    s = str(v)
    return s if len(s) <= 120 else s[:117] + "..."
