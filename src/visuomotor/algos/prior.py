"""Learning on top of an existing policy: residual RL on a frozen base policy, and JSRL's guide policy.

Residual RL (``--base-policy RUN``; as in ResFiT, Ankile et al. 2025, and residual policy learning,
Silver et al. 2018): the frozen base policy pi_b proposes a_b = pi_b(s); an off-policy learner sees
(s, a_b) and outputs a residual r in [-1, 1]; the env receives clip(a_b + scale r, -1, 1)
(scale 0.1 by default). The learner's actor starts with a zero mean head, so its deterministic
residual is exactly 0 and training starts at the base policy's behaviour; its critic Q((s, a_b), r)
sees the base action. The replay keeps the env's own transitions (s, a, r, s'): each update
recomputes a_b for the batch (the base is frozen, so these never change) and the residual that was
applied, (a - a_b) / scale, so the stored episodes stay ordinary data any run can reuse.

JSRL (``--guide-policy RUN``; Uchendu et al. 2023, "Jump-Start Reinforcement Learning"): in each
episode the guide acts for the first h steps and the learner after. The curriculum starts at
h = H (n - 1) / n (H the episode's length in policy steps, n = --jsrl-stages) and moves to the next
stage, h = H (n - i) / n, whenever an evaluation of the combined policy at the current h returns at
least the best evaluation so far minus --jsrl-tolerance of its magnitude; at h = 0 the learner acts
alone. Every transition, the guide's included, goes to the replay the learner trains on.
"""

from __future__ import annotations

import math
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from visuomotor.algos.base import Agent
from visuomotor.buffers.replay import Batch
from visuomotor.errors import VisuomotorError


def load_frozen_policy(run_dir: Path, env, env_id: str, what: str, device) -> Agent:
    """A trained run's policy for acting only (checked against this run's env), gradients off."""
    from visuomotor.evaluate.load import load_agent

    agent, cfg, _ = load_agent(run_dir, "latest", device=str(device))
    if cfg.env != env_id:  # e.g. a guide from the dense-reward version of a sparse task: shapes must match
        import sys

        print(f"[visuomotor] note: {what} {run_dir} was trained on {cfg.env}; this run's env is {env_id}",
              file=sys.stderr)
    if tuple(agent.observation_space.shape) != tuple(env.observation_space.shape) or \
            tuple(agent.action_space.shape) != tuple(env.action_space.shape):
        raise VisuomotorError(f"{what} {run_dir} acts on observations {tuple(agent.observation_space.shape)} and "
                              f"actions {tuple(agent.action_space.shape)}; this run's env has "
                              f"{tuple(env.observation_space.shape)} and {tuple(env.action_space.shape)}")
    for m in vars(agent).values():
        if isinstance(m, torch.nn.Module):
            m.requires_grad_(False)
    return agent


def episode_horizon(env, action_repeat: int = 1) -> int | None:
    """Policy steps in a full episode of ``env`` (its time limit / action repeat), None if unknown."""
    limit = getattr(env.unwrapped, "max_episode_steps", None) or getattr(env.spec, "max_episode_steps", None)
    return math.ceil(int(limit) / max(1, action_repeat)) if limit else None


def make_prior_agent(cfg, env, agent_cls, algo_cfg, device) -> Agent:
    """The agent of a run with --base-policy (ResidualAgent) or --guide-policy (JSRLAgent); the flags'
    combination and --algo were checked by ``train.loop.validate``."""
    if len(env.observation_space.shape) != 1:
        raise VisuomotorError("--base-policy/--guide-policy need state observations (not --pixels)")
    if cfg.base_policy is not None:
        base = load_frozen_policy(cfg.base_policy, env, cfg.env, "--base-policy", device)
        return ResidualAgent(base, env.observation_space, env.action_space, agent_cls, algo_cfg, device,
                             scale=cfg.residual_scale)
    guide = load_frozen_policy(cfg.guide_policy, env, cfg.env, "--guide-policy", device)
    horizon = cfg.jsrl_horizon or episode_horizon(env, cfg.action_repeat or 1)
    if not horizon:
        raise VisuomotorError(f"cannot tell the episode length of {cfg.env}; pass --jsrl-horizon N")
    learner = agent_cls(env.observation_space, env.action_space, algo_cfg, device)
    return JSRLAgent(guide, learner, horizon, cfg.jsrl_stages, cfg.jsrl_tolerance)


class _Wrapper(Agent):
    """Delegates what the loop asks of an agent to ``self.learner``."""

    learner: Agent

    def set_step(self, step: int) -> None:
        self.learner.set_step(step)

    @property
    def target_entropy(self):
        return getattr(self.learner, "target_entropy", None)

    @property
    def bf16(self):
        return getattr(self.learner, "bf16", None)


class ResidualAgent(_Wrapper):
    def __init__(self, base: Agent, observation_space, action_space, learner_cls, learner_cfg, device,
                 scale: float = 0.1):
        super().__init__(observation_space, action_space, learner_cfg, device)
        if not scale > 0:
            raise ValueError(f"residual scale must be > 0, got {scale}")
        self.base, self.scale = base, float(scale)
        obs_dim, act_dim = int(np.prod(observation_space.shape)), int(np.prod(action_space.shape))
        self.act_dim = act_dim
        aug = gym.spaces.Box(-np.inf, np.inf, (obs_dim + act_dim,), np.float32)  # (s, a_b)
        self.learner = learner_cls(aug, action_space, learner_cfg, device)
        self.learner.zero_policy_output()  # the deterministic residual is 0: the base policy's behaviour

    def base_action(self, obs) -> np.ndarray:
        return np.asarray(self.base.act(obs, explore=False), dtype=np.float32)

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        a_b = self.base_action(obs)
        r = self.learner.act(np.concatenate([np.asarray(obs, np.float32), a_b], -1), explore)
        return np.clip(a_b + self.scale * r, -1.0, 1.0).astype(np.float32)

    def warmup_action(self, obs: np.ndarray) -> np.ndarray:
        """Before learning starts: the base action plus a uniform residual (exploration around the base)."""
        r = torch.rand(self.act_dim).numpy() * 2.0 - 1.0
        return np.clip(self.base_action(obs) + self.scale * r, -1.0, 1.0).astype(np.float32)

    def learner_batch(self, batch: Batch) -> Batch:
        """The env's transitions as the learner sees them: (s, a_b), the applied residual, (s', a_b')."""
        n = batch.obs.shape[0]
        both = torch.as_tensor(self.base_action(torch.cat([batch.obs, batch.next_obs])), device=batch.obs.device)
        a_b, next_a_b = both[:n], both[n:]
        residual = ((batch.action - a_b) / self.scale).clamp(-1.0, 1.0)
        return Batch(obs=torch.cat([batch.obs, a_b], -1), action=residual, reward=batch.reward,
                     next_obs=torch.cat([batch.next_obs, next_a_b], -1), terminated=batch.terminated,
                     discount=batch.discount)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.learner.update(self.learner_batch(batch))

    def state_dict(self) -> dict:
        return {"learner": self.learner.state_dict(), "scale": self.scale}

    def policy_state_dict(self) -> dict:
        return {"learner": self.learner.policy_state_dict(), "scale": self.scale}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["learner"])


class JSRLAgent(_Wrapper):
    def __init__(self, guide: Agent, learner: Agent, horizon: int, stages: int = 10, tolerance: float = 0.05):
        super().__init__(learner.observation_space, learner.action_space, learner.cfg, learner.device)
        if horizon < 1 or stages < 1 or tolerance < 0:
            raise ValueError(f"JSRL needs horizon >= 1, stages >= 1, tolerance >= 0; got {horizon}, {stages}, {tolerance}")
        self.guide, self.learner = guide, learner
        self.horizon, self.stages, self.tolerance = int(horizon), int(stages), float(tolerance)
        self.stage = 1  # h = H (n - stage) / n
        self.best = -math.inf
        self.evaluations = 0
        self.t = {True: 0, False: 0}  # steps into the current training / evaluation episode

    @property
    def h(self) -> int:
        return round(self.horizon * (self.stages - self.stage) / self.stages)

    def begin_episode(self, explore: bool) -> None:
        self.t[bool(explore)] = 0

    def _guide_acts(self, explore: bool) -> bool:
        t = self.t[bool(explore)]
        self.t[bool(explore)] = t + 1
        return t < self.h

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        if self._guide_acts(explore):
            return np.asarray(self.guide.act(obs, explore=False), dtype=np.float32)
        return self.learner.act(obs, explore)

    def warmup_action(self, obs: np.ndarray) -> np.ndarray:
        if self._guide_acts(True):
            return np.asarray(self.guide.act(obs, explore=False), dtype=np.float32)
        return self.learner.warmup_action(obs)

    def update(self, batch: Batch) -> dict[str, torch.Tensor]:
        return self.learner.update(batch)

    def on_evaluation(self, mean_return: float) -> dict[str, float]:
        """After an evaluation of the combined policy at the current h: the curriculum's step. Returns
        the evaluated stage for eval.csv."""
        evaluated = {"jsrl_h": self.h, "jsrl_stage": self.stage}
        if self.evaluations > 0 and self.stage < self.stages and \
                mean_return >= self.best - self.tolerance * abs(self.best):
            self.stage += 1
        self.best = max(self.best, mean_return)
        self.evaluations += 1
        return evaluated

    def state_dict(self) -> dict:
        return {"learner": self.learner.state_dict(), "stage": self.stage, "best": self.best,
                "evaluations": self.evaluations}

    def policy_state_dict(self) -> dict:
        return {"learner": self.learner.policy_state_dict(), "stage": self.stage, "best": self.best,
                "evaluations": self.evaluations}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["learner"])
        self.stage, self.best = int(state["stage"]), float(state["best"])
        self.evaluations = int(state["evaluations"])
