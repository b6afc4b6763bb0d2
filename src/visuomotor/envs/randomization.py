"""Domain randomization for MuJoCo envs (dm_control and gymnasium), usable by every algorithm.

At every reset, before the episode's initial state is drawn, each randomized model parameter is set
to its nominal value times a factor drawn uniformly from its range, independently per element:
body masses (with their inertias, i.e. density scaled), sliding friction of every geom, damping of
every joint dof, and actuator gains (gainprm[0], with the matching position-servo bias term
biasprm[1] so a servo's stiffness scales as one). During the episode, every ``push_interval``
policy steps the root's translational velocity gets a random kick in [-push_velocity,
push_velocity] per direction (legged_gym's pushes). ``restore()`` (and ``close()``) put the
nominal model back.

The factors come from the wrapper's own generator, seeded by the seed given to ``reset`` (so a
seeded episode reproduces its dynamics); the reset info carries the episode's draws as
``info["dr/<parameter>"]`` (mean factor) for the training loop to log, and the full arrays are
in ``wrapper.sample``.
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from visuomotor.errors import VisuomotorError


@dataclass
class RandomizationConfig:
    """Domain randomization (``--dr.enabled``); each range is (low, high) of a multiplicative factor."""

    enabled: bool = False
    """Randomize the training envs' dynamics every episode."""
    eval: bool = False
    """Randomize the evaluation env too (with pushes); off = evaluate on the nominal model."""
    mass: tuple[float, float] = (0.8, 1.2)
    """Factor on every body's mass and inertia."""
    friction: tuple[float, float] = (0.5, 1.25)
    """Factor on every geom's sliding friction (legged_gym draws friction in [0.5, 1.25])."""
    damping: tuple[float, float] = (0.8, 1.2)
    """Factor on every joint dof's damping."""
    actuator_gain: tuple[float, float] = (0.9, 1.1)
    """Factor on every actuator's gain (and a position servo's matching bias term)."""
    push_interval: int = 0
    """Policy steps between pushes; 0 = no pushes (legged_gym: every 15 s)."""
    push_velocity: float = 1.0
    """Largest velocity kick (m/s) added to each translational root dof at a push."""

    def validate(self) -> None:
        for name in ("mass", "friction", "damping", "actuator_gain"):
            lo, hi = getattr(self, name)
            if not 0.0 <= lo <= hi:
                raise ValueError(f"dr.{name} must be (low, high) with 0 <= low <= high, got {(lo, hi)}")
        if self.push_interval < 0 or self.push_velocity < 0:
            raise ValueError(f"dr.push_interval and dr.push_velocity must be >= 0, got "
                             f"{self.push_interval}, {self.push_velocity}")


def mujoco_handles(env: gym.Env):
    """(mujoco.MjModel, mujoco.MjData) behind a dm_control or gymnasium MuJoCo env."""
    u = env.unwrapped
    physics = getattr(u, "physics", None)
    if physics is not None and hasattr(physics.model, "ptr"):
        return physics.model.ptr, physics.data.ptr
    model, data = getattr(u, "model", None), getattr(u, "data", None)
    if model is not None and data is not None and type(model).__name__ == "MjModel":
        return model, data
    raise VisuomotorError(f"domain randomization needs a MuJoCo env; {type(u).__name__} exposes no MuJoCo model")


def _root_translation_dofs(model) -> np.ndarray:
    """Velocity indices of the translational dofs of the bodies attached to the world."""
    import mujoco

    dofs = []
    for j in range(model.njnt):
        if model.body_parentid[model.jnt_bodyid[j]] != 0:
            continue
        adr, kind = model.jnt_dofadr[j], model.jnt_type[j]
        if kind == mujoco.mjtJoint.mjJNT_FREE:
            dofs += [adr, adr + 1]  # horizontal x, y
        elif kind == mujoco.mjtJoint.mjJNT_SLIDE:
            dofs.append(adr)
    return np.asarray(dofs, dtype=np.int64)


class DomainRandomization(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Per-episode dynamics randomization and interval pushes (see the module doc)."""

    def __init__(self, env: gym.Env, cfg: RandomizationConfig, seed: int | None = None):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        cfg.validate()
        self.cfg = cfg
        self.model, self.data = mujoco_handles(env)
        m = self.model
        self.nominal = {
            "body_mass": m.body_mass.copy(), "body_inertia": m.body_inertia.copy(),
            "geom_friction": m.geom_friction.copy(), "dof_damping": m.dof_damping.copy(),
            "actuator_gainprm": m.actuator_gainprm.copy(), "actuator_biasprm": m.actuator_biasprm.copy(),
        }
        import mujoco

        self._servo = np.asarray(m.actuator_biastype) == mujoco.mjtBias.mjBIAS_AFFINE
        self._push_dofs = _root_translation_dofs(m)
        self.rng = np.random.default_rng(seed)
        self.sample: dict[str, np.ndarray] = {}
        self._t = 0

    def _draw(self, name: str, n: int) -> np.ndarray:
        lo, hi = getattr(self.cfg, name)
        return self.rng.uniform(lo, hi, size=n)

    def randomize(self) -> dict[str, np.ndarray]:
        """Draw new factors and write the scaled parameters into the model."""
        import mujoco

        m, nom = self.model, self.nominal
        s = {"mass": self._draw("mass", m.nbody - 1), "friction": self._draw("friction", m.ngeom),
             "damping": self._draw("damping", m.nv), "actuator_gain": self._draw("actuator_gain", m.nu)}
        m.body_mass[1:] = nom["body_mass"][1:] * s["mass"]
        m.body_inertia[1:] = nom["body_inertia"][1:] * s["mass"][:, None]
        m.geom_friction[:, 0] = nom["geom_friction"][:, 0] * s["friction"]
        m.dof_damping[:] = nom["dof_damping"] * s["damping"]
        m.actuator_gainprm[:, 0] = nom["actuator_gainprm"][:, 0] * s["actuator_gain"]
        m.actuator_biasprm[:, 1] = np.where(self._servo, nom["actuator_biasprm"][:, 1] * s["actuator_gain"],
                                            nom["actuator_biasprm"][:, 1])
        mujoco.mj_setConst(m, self.data)  # derived constants (subtree masses, inverse weights)
        self.sample = s
        return s

    def restore(self) -> None:
        """Put the nominal model back."""
        import mujoco

        m = self.model
        for k, v in self.nominal.items():
            getattr(m, k)[...] = v
        mujoco.mj_setConst(m, self.data)
        self.sample = {}

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng([seed, 0xD0])
        s = self.randomize()
        obs, info = self.env.reset(seed=seed, options=options)
        self._t = 0
        info = {**info, **{f"dr/{k}": float(v.mean()) if v.size else 1.0 for k, v in s.items()}}
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._t += 1
        if self.cfg.push_interval and self._t % self.cfg.push_interval == 0 and len(self._push_dofs):
            kick = self.rng.uniform(-self.cfg.push_velocity, self.cfg.push_velocity, size=len(self._push_dofs))
            self.data.qvel[self._push_dofs] += kick
            info = {**info, "dr/push": float(np.abs(kick).max())}
        return obs, reward, terminated, truncated, info

    def close(self):
        self.restore()
        return self.env.close()
