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

from visuomotor.envs import simulator
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
    """(mujoco.MjModel, mujoco.MjData) behind a dm_control or gymnasium MuJoCo env (``envs.simulator``);
    a one-line error when there is none."""
    model, data = simulator.mujoco_handles(env)
    if model is None or data is None:
        raise VisuomotorError(f"domain randomization needs a MuJoCo env; {type(env.unwrapped).__name__} exposes "
                              f"no MuJoCo model")
    return model, data


def root_translation_dofs(model) -> np.ndarray:
    """Velocity indices of the translational dofs of the bodies attached to the world (where pushes go)."""
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


def randomization_rng(seed: int) -> np.random.Generator:
    """The generator of the draws and pushes for a reset ``seed`` (a stream apart from the env's own)."""
    return np.random.default_rng([seed, 0xD0])


def nominal_params(model) -> dict[str, np.ndarray]:
    """Copies of the model arrays that randomization scales (to scale from, and to restore)."""
    return {"body_mass": model.body_mass.copy(), "body_inertia": model.body_inertia.copy(),
            "geom_friction": model.geom_friction.copy(), "dof_damping": model.dof_damping.copy(),
            "actuator_gainprm": model.actuator_gainprm.copy(), "actuator_biasprm": model.actuator_biasprm.copy()}


def draw_factors(cfg: RandomizationConfig, rng: np.random.Generator, model) -> dict[str, np.ndarray]:
    """One episode's factors: per body (not the world), geom, dof and actuator, uniform in the ranges."""
    sizes = {"mass": model.nbody - 1, "friction": model.ngeom, "damping": model.nv, "actuator_gain": model.nu}
    return {k: rng.uniform(*getattr(cfg, k), size=n) for k, n in sizes.items()}


def apply_factors(model, data, nominal: dict[str, np.ndarray], factors: dict[str, np.ndarray]) -> None:
    """Write nominal x factors into ``model`` (``data``: any MjData of the same sizes, for mj_setConst)."""
    import mujoco

    s, nom = factors, nominal
    servo = np.asarray(model.actuator_biastype) == mujoco.mjtBias.mjBIAS_AFFINE
    model.body_mass[1:] = nom["body_mass"][1:] * s["mass"]
    model.body_inertia[1:] = nom["body_inertia"][1:] * s["mass"][:, None]
    model.geom_friction[:, 0] = nom["geom_friction"][:, 0] * s["friction"]
    model.dof_damping[:] = nom["dof_damping"] * s["damping"]
    model.actuator_gainprm[:, 0] = nom["actuator_gainprm"][:, 0] * s["actuator_gain"]
    model.actuator_biasprm[:, 1] = np.where(servo, nom["actuator_biasprm"][:, 1] * s["actuator_gain"],
                                            nom["actuator_biasprm"][:, 1])
    mujoco.mj_setConst(model, data)  # derived constants (subtree masses, inverse weights)


def factor_means(factors: dict[str, np.ndarray]) -> dict[str, float]:
    """The logged summary of an episode's draws: ``dr/<parameter>`` = mean factor."""
    return {f"dr/{k}": float(v.mean()) if v.size else 1.0 for k, v in factors.items()}


class DomainRandomization(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Per-episode dynamics randomization and interval pushes (see the module doc)."""

    def __init__(self, env: gym.Env, cfg: RandomizationConfig, seed: int | None = None):
        gym.utils.RecordConstructorArgs.__init__(self)
        gym.Wrapper.__init__(self, env)
        cfg.validate()
        self.cfg = cfg
        self.model, self.data = mujoco_handles(env)
        self.nominal = nominal_params(self.model)
        self._push_dofs = root_translation_dofs(self.model)
        self.rng = np.random.default_rng(seed)
        self.sample: dict[str, np.ndarray] = {}
        self._t = 0

    def randomize(self) -> dict[str, np.ndarray]:
        """Draw new factors and write the scaled parameters into the model."""
        self.sample = draw_factors(self.cfg, self.rng, self.model)
        apply_factors(self.model, self.data, self.nominal, self.sample)
        return self.sample

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
            self.rng = randomization_rng(seed)
        s = self.randomize()
        obs, info = self.env.reset(seed=seed, options=options)
        self._t = 0
        info = {**info, **factor_means(s)}
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
