"""Many copies of a gymnasium MuJoCo locomotion task stepped as one batch (``--vectorization mujoco``).

The N copies live as one array of MuJoCo states [N, nstate]; a step hands all of them to
``mujoco.rollout`` (C++, a thread pool over the copies, no Python per copy) for the task's
``frame_skip`` physics steps, then computes observations, rewards, terminations and time limits
with numpy over the batch. It follows the gymnasium v5 task definitions (observation layout,
forward/control/healthy rewards, health checks, reset noise, 1000-step limit) and the same-step
autoreset of ``visuomotor.envs.vector``. One difference from stepping gymnasium's env: a rollout
starts each call from the solver's zero warm start (MuJoCo's full-physics state does not carry it),
which changes results at the solver's tolerance, not the task.

Domain randomization (``randomization=``, ``--dr.enabled``) gives every copy its own ``MjModel``
(``mujoco.rollout`` takes one model per copy): at each copy's reset its masses, friction, damping
and actuator gains are redrawn exactly as ``visuomotor.envs.randomization`` does for one env, and
every ``push_interval`` steps of a copy's episode its root gets the same velocity kick; the draws
come back in ``info["dr/<parameter>"]`` (mask ``info["_dr/<parameter>"]``) for the copies that
started an episode.

Supported: HalfCheetah-v5, Hopper-v5, Walker2d-v5 (default arguments).
"""

from __future__ import annotations

from dataclasses import dataclass

import gymnasium as gym
import numpy as np

from visuomotor.envs.randomization import (RandomizationConfig, apply_factors, draw_factors, factor_means,
                                           nominal_params, randomization_rng, root_translation_dofs)
from visuomotor.errors import VisuomotorError


@dataclass(frozen=True)
class LocomotionSpec:
    frame_skip: int
    ctrl_cost_weight: float
    reset_noise_scale: float
    gaussian_qvel_noise: bool  # HalfCheetah: qvel + scale * N(0, 1); others uniform like qpos
    healthy_reward: float = 0.0
    healthy_z: tuple[float, float] | None = None
    healthy_angle: tuple[float, float] | None = None
    healthy_state: tuple[float, float] | None = None
    clip_qvel: float | None = None


SPECS = {
    "HalfCheetah-v5": LocomotionSpec(5, 0.1, 0.1, True),
    "Hopper-v5": LocomotionSpec(4, 1e-3, 5e-3, False, 1.0, (0.7, np.inf), (-0.2, 0.2), (-100.0, 100.0), 10.0),
    "Walker2d-v5": LocomotionSpec(4, 1e-3, 5e-3, False, 1.0, (0.8, 2.0), (-1.0, 1.0), None, 10.0),
}
MAX_EPISODE_STEPS = 1000


def supported_ids() -> list[str]:
    return [f"gym/{k}" for k in SPECS]


class BatchedMujocoEnv(gym.vector.VectorEnv):
    """N copies of a gymnasium MuJoCo locomotion task as one batch of states (see the module doc)."""

    def __init__(self, env_id: str, num_envs: int, seed: int = 0, threads: int | None = None,
                 randomization: RandomizationConfig | None = None):
        import copy

        import mujoco
        from mujoco import rollout

        name = env_id.removeprefix("gym/")
        if name not in SPECS:
            raise VisuomotorError(f"--vectorization mujoco supports {', '.join(supported_ids())}; got {env_id!r} "
                                  f"(use sync or async for other envs)")
        self.spec_ = SPECS[name]
        ref = gym.make(name)
        u = ref.unwrapped
        self.model = u.model
        self.init_qpos, self.init_qvel = u.init_qpos.copy(), u.init_qvel.copy()
        self.dt = float(u.dt)
        self.metadata = {"render_fps": int(round(1.0 / self.dt)), "autoreset_mode": gym.vector.AutoresetMode.SAME_STEP}
        ref.close()
        self.num_envs = num_envs
        m = self.model
        self.nq, self.nv, self.nu = m.nq, m.nv, m.nu
        self.state_spec = mujoco.mjtState.mjSTATE_FULLPHYSICS
        self.nstate = mujoco.mj_stateSize(m, self.state_spec)
        self._scratch = mujoco.MjData(m)
        self._datas = [mujoco.MjData(m) for _ in range(threads or 1)]
        self._rollout = rollout.Rollout(nthread=threads or 1)
        # where qpos and qvel sit in a state vector: time, qpos, qvel, ...
        self._qpos = slice(1, 1 + self.nq)
        self._qvel = slice(1 + self.nq, 1 + self.nq + self.nv)
        obs_dim = (self.nq - 1) + self.nv
        self.single_observation_space = gym.spaces.Box(-np.inf, np.inf, (obs_dim,), np.float32)
        self.single_action_space = gym.spaces.Box(-1.0, 1.0, (self.nu,), np.float32)
        self.observation_space = gym.vector.utils.batch_space(self.single_observation_space, num_envs)
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        lo, hi = m.actuator_ctrlrange[:, 0].copy(), m.actuator_ctrlrange[:, 1].copy()
        self._ctrl_lo, self._ctrl_hi = lo, hi
        self._ctrl_scaled = not (np.all(lo == -1.0) and np.all(hi == 1.0))
        self.states = np.zeros((num_envs, self.nstate))
        self.t = np.zeros(num_envs, np.int64)
        self.rng = np.random.default_rng(seed)
        self.dr = randomization if randomization is not None and randomization.enabled else None
        if self.dr is not None:
            self.dr.validate()
            self.nominal = nominal_params(m)
            self.models = [copy.copy(m) for _ in range(num_envs)]  # one randomized model per copy
            self.factors: list[dict[str, np.ndarray]] = [{} for _ in range(num_envs)]
            self._push_dofs = root_translation_dofs(m)
            self.dr_rng = randomization_rng(seed)

    # ---- state helpers -----------------------------------------------------------------------------
    def _reset_states(self, idx: np.ndarray) -> None:
        import mujoco

        s, d, m = self.spec_, self._scratch, self.model
        k = len(idx)
        qpos = self.init_qpos + self.rng.uniform(-s.reset_noise_scale, s.reset_noise_scale, (k, self.nq))
        if s.gaussian_qvel_noise:
            qvel = self.init_qvel + s.reset_noise_scale * self.rng.standard_normal((k, self.nv))
        else:
            qvel = self.init_qvel + self.rng.uniform(-s.reset_noise_scale, s.reset_noise_scale, (k, self.nv))
        for j, i in enumerate(idx):  # only the copies being reset
            if self.dr is not None:  # this copy's next episode gets new dynamics
                m = self.models[i]
                self.factors[i] = draw_factors(self.dr, self.dr_rng, m)
                apply_factors(m, d, self.nominal, self.factors[i])
            mujoco.mj_resetData(m, d)
            d.qpos[:], d.qvel[:] = qpos[j], qvel[j]
            mujoco.mj_forward(m, d)
            mujoco.mj_getState(m, d, self.states[i], self.state_spec)
        self.t[idx] = 0

    def _dr_info(self, idx: np.ndarray) -> dict:
        """``dr/<parameter>`` (mean factor) for the copies in ``idx``, as a vector env's info."""
        if self.dr is None or not len(idx):
            return {}
        info: dict = {}
        mask = np.zeros(self.num_envs, bool)
        mask[idx] = True
        for i in idx:
            for k, v in factor_means(self.factors[i]).items():
                info.setdefault(k, np.zeros(self.num_envs))[i] = v
        for k in list(info):
            info[f"_{k}"] = mask
        return info

    def _push(self) -> dict:
        """The interval pushes: a uniform kick on each root translational velocity of the copies whose
        episode step count hit a multiple of ``push_interval``."""
        cfg = self.dr
        if cfg is None or not cfg.push_interval or not len(self._push_dofs):
            return {}
        due = np.flatnonzero((self.t > 0) & (self.t % cfg.push_interval == 0))
        if not len(due):
            return {}
        kick = self.dr_rng.uniform(-cfg.push_velocity, cfg.push_velocity, size=(len(due), len(self._push_dofs)))
        self.states[np.ix_(due, self._qvel.start + self._push_dofs)] += kick
        push = np.zeros(self.num_envs)
        push[due] = np.abs(kick).max(1)
        mask = np.zeros(self.num_envs, bool)
        mask[due] = True
        return {"dr/push": push, "_dr/push": mask}

    def _obs(self, states: np.ndarray) -> np.ndarray:
        qvel = states[:, self._qvel]
        if self.spec_.clip_qvel is not None:
            qvel = np.clip(qvel, -self.spec_.clip_qvel, self.spec_.clip_qvel)
        return np.concatenate([states[:, self._qpos][:, 1:], qvel], axis=1).astype(np.float32)

    def _healthy(self, states: np.ndarray) -> np.ndarray:
        s = self.spec_
        ok = np.ones(len(states), bool)
        qpos = states[:, self._qpos]
        if s.healthy_z is not None:
            ok &= (s.healthy_z[0] < qpos[:, 1]) & (qpos[:, 1] < s.healthy_z[1])
        if s.healthy_angle is not None:
            ok &= (s.healthy_angle[0] < qpos[:, 2]) & (qpos[:, 2] < s.healthy_angle[1])
        if s.healthy_state is not None:  # gymnasium's state_vector()[2:]: qpos[2:], qvel
            sv = np.concatenate([qpos[:, 2:], states[:, self._qvel]], axis=1)
            ok &= np.all((s.healthy_state[0] < sv) & (sv < s.healthy_state[1]), axis=1)
        return ok

    # ---- gymnasium VectorEnv -----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        if seed is not None:
            self.rng = np.random.default_rng(seed)
            if self.dr is not None:
                self.dr_rng = randomization_rng(seed)
        self._reset_states(np.arange(self.num_envs))
        return self._obs(self.states), self._dr_info(np.arange(self.num_envs))

    def set_states(self, qpos: np.ndarray, qvel: np.ndarray) -> None:
        """Put every copy in the given (qpos [N, nq], qvel [N, nv]) state (tests, benchmarks)."""
        import mujoco

        d = self._scratch
        for i in range(self.num_envs):
            m = self.model if self.dr is None else self.models[i]  # (each copy keeps its dynamics)
            mujoco.mj_resetData(m, d)
            d.qpos[:], d.qvel[:] = qpos[i], qvel[i]
            mujoco.mj_forward(m, d)
            mujoco.mj_getState(m, d, self.states[i], self.state_spec)
        self.t[:] = 0

    def step(self, actions):
        s = self.spec_
        a = np.asarray(actions, dtype=np.float64).reshape(self.num_envs, self.nu)
        ctrl = self._ctrl_lo + (a + 1.0) * 0.5 * (self._ctrl_hi - self._ctrl_lo) if self._ctrl_scaled else a
        x_before = self.states[:, self._qpos][:, 0].copy()
        models = self.model if self.dr is None else self.models
        out, _ = self._rollout.rollout(models, self._datas, self.states, ctrl[:, None, :],
                                       nstep=s.frame_skip)
        self.states = np.ascontiguousarray(out[:, -1])
        self.t += 1
        x_vel = (self.states[:, self._qpos][:, 0] - x_before) / self.dt
        healthy = self._healthy(self.states)
        reward = x_vel - s.ctrl_cost_weight * np.square(a).sum(1)
        if s.healthy_reward:
            reward = reward + s.healthy_reward * healthy
        terminated = ~healthy if s.healthy_z is not None else np.zeros(self.num_envs, bool)
        truncated = (self.t >= MAX_EPISODE_STEPS) & ~terminated
        obs = self._obs(self.states)
        info: dict = {}
        done = terminated | truncated
        if done.any():
            idx = np.flatnonzero(done)
            final = np.empty(self.num_envs, dtype=object)
            for i in idx:
                final[i] = obs[i].copy()
            info = {"final_obs": final, "_final_obs": done.copy(), "final_info": {}, "_final_info": done.copy()}
            self._reset_states(idx)
            obs[idx] = self._obs(self.states[idx])
            info.update(self._dr_info(idx))
        info.update(self._push())  # after the step's observation, as the single-env wrapper pushes
        return obs, reward.astype(np.float64), terminated, truncated, info

    def close_extras(self, **kwargs):
        self._rollout.close() if hasattr(self._rollout, "close") else None
