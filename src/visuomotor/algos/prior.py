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

import gymnasium as gym
import numpy as np
import torch

from visuomotor.algos.base import Agent, Policy
from visuomotor.buffers.replay import Batch


def frozen(policy: Policy) -> Policy:
    """``policy`` with its gradients off (a base or guide policy never learns)."""
    policy.requires_grad_(False)
    return policy


class _Wrapper(Agent):
    """Delegates what the runner asks of an agent to ``self.learner``."""

    learner: Agent

    def set_step(self, step: int) -> None:
        self.learner.set_step(step)

    def describe(self) -> dict:
        return self.learner.describe()

    def update(self, batch: Batch | None = None) -> dict[str, torch.Tensor]:
        return self.learner.update(self.learner_batch(self.sample() if batch is None else batch))

    def learner_batch(self, batch: Batch) -> Batch:
        """The stored transitions as the learner sees them (as they are here)."""
        return batch


def _act_with(policy: Policy, obs, device) -> np.ndarray:
    """A policy module's action(s) for numpy observation(s) [D] or [N, D]."""
    o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=device)
    with torch.no_grad():
        a = policy(o.unsqueeze(0) if o.dim() == 1 else o).cpu().numpy()
    return a[0] if o.dim() == 1 else a


class ResidualPolicy(Policy):
    """clip(pi_b(s) + scale * pi_r(s, pi_b(s)), -1, 1)."""

    def __init__(self, base: Policy, learner: Policy, scale: float):
        super().__init__()
        self.base, self.learner, self.scale = base, learner, float(scale)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.float()
        a_b = self.base(obs)
        return (a_b + self.scale * self.learner(torch.cat([obs, a_b], -1))).clamp(-1.0, 1.0)

    def contents(self) -> dict:
        return {"residual": f"clip(base(s) + {self.scale:g} * residual(s, base(s)), -1, 1)",
                "base": self.base.contents(), "learner": self.learner.contents()}

    def float32(self) -> ResidualPolicy:
        base, learner = self.base.float32(), self.learner.float32()
        return self if base is self.base and learner is self.learner else ResidualPolicy(base, learner, self.scale)


class ResidualAgent(_Wrapper):
    def __init__(self, base: Policy, observation_space, action_space, learner_cls, learner_cfg, device,
                 scale: float = 0.1):
        super().__init__(observation_space, action_space, learner_cfg, device)
        if not scale > 0:
            raise ValueError(f"residual scale must be > 0, got {scale}")
        self.base, self.scale = frozen(base), float(scale)
        obs_dim, act_dim = int(np.prod(observation_space.shape)), int(np.prod(action_space.shape))
        self.act_dim = act_dim
        aug = gym.spaces.Box(-np.inf, np.inf, (obs_dim + act_dim,), np.float32)  # (s, a_b)
        self.learner = learner_cls(aug, action_space, learner_cfg, device)
        self.learner.zero_policy_output()  # the deterministic residual is 0: the base policy's behaviour

    def n_step(self) -> int:  # the replay keeps the env's own transitions, with the learner's returns
        return self.learner.n_step()

    def gamma(self) -> float:
        return self.learner.gamma()

    def base_action(self, obs) -> np.ndarray:
        return np.asarray(_act_with(self.base, obs, self.device), dtype=np.float32)

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        a_b = self.base_action(obs)
        r = self.learner.act(np.concatenate([np.asarray(obs, np.float32), a_b], -1), explore)
        return np.clip(a_b + self.scale * r, -1.0, 1.0).astype(np.float32)

    def policy(self) -> ResidualPolicy:
        return ResidualPolicy(self.base, self.learner.policy(), self.scale)

    def warmup_action(self, obs: np.ndarray) -> np.ndarray:
        """Before learning starts: the base action plus a uniform residual (exploration around the base)."""
        r = torch.rand(self.act_dim).numpy() * 2.0 - 1.0
        return np.clip(self.base_action(obs) + self.scale * r, -1.0, 1.0).astype(np.float32)

    def learner_batch(self, batch: Batch) -> Batch:
        """The env's transitions as the learner sees them: (s, a_b), the applied residual, (s', a_b')."""
        n = batch.obs.shape[0]
        with torch.no_grad():
            both = self.base(torch.cat([batch.obs, batch.next_obs]).float())
        a_b, next_a_b = both[:n], both[n:]
        residual = ((batch.action - a_b) / self.scale).clamp(-1.0, 1.0)
        return Batch(obs=torch.cat([batch.obs, a_b], -1), action=residual, reward=batch.reward,
                     next_obs=torch.cat([batch.next_obs, next_a_b], -1), terminated=batch.terminated,
                     discount=batch.discount)

    def state_dict(self) -> dict:
        return {"learner": self.learner.state_dict(), "scale": self.scale}

    def policy_state_dict(self) -> dict:
        return {"learner": self.learner.policy_state_dict(), "scale": self.scale}

    def load_state_dict(self, state: dict) -> None:
        self.learner.load_state_dict(state["learner"])


class JSRLPolicy(Policy):
    """The guide for the first h steps of an episode, the learner after (h read as each episode starts)."""

    def __init__(self, guide: Policy, learner: Policy, agent: JSRLAgent):
        super().__init__()
        self.guide, self.learner = guide, learner
        self._h = lambda: agent.h
        self.t, self.h = 0, agent.h

    def reset(self) -> None:
        self.t, self.h = 0, self._h()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        guide = self.t < self.h
        self.t += 1
        return self.guide(obs.float()) if guide else self.learner(obs)


class JSRLAgent(_Wrapper):
    def __init__(self, guide: Policy, learner: Agent, horizon: int, stages: int = 10, tolerance: float = 0.05):
        super().__init__(learner.observation_space, learner.action_space, learner.cfg, learner.device)
        if horizon < 1 or stages < 1 or tolerance < 0:
            raise ValueError(f"JSRL needs horizon >= 1, stages >= 1, tolerance >= 0; got {horizon}, {stages}, {tolerance}")
        self.guide, self.learner = frozen(guide), learner
        self.horizon, self.stages, self.tolerance = int(horizon), int(stages), float(tolerance)
        self.stage = 1  # h = H (n - stage) / n
        self.best = -math.inf
        self.evaluations = 0
        self.t = 0  # steps into the current training episode

    def n_step(self) -> int:
        return self.learner.n_step()

    def gamma(self) -> float:
        return self.learner.gamma()

    @property
    def h(self) -> int:
        return round(self.horizon * (self.stages - self.stage) / self.stages)

    def begin_episode(self, explore: bool) -> None:
        self.t = 0

    def _guide_acts(self) -> bool:
        t, self.t = self.t, self.t + 1
        return t < self.h

    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        if self._guide_acts():
            return np.asarray(_act_with(self.guide, obs, self.device), dtype=np.float32)
        return self.learner.act(obs, explore)

    def policy(self) -> JSRLPolicy:
        return JSRLPolicy(self.guide, self.learner.policy(), self)

    def warmup_action(self, obs: np.ndarray) -> np.ndarray:
        if self._guide_acts():
            return np.asarray(_act_with(self.guide, obs, self.device), dtype=np.float32)
        return self.learner.warmup_action(obs)

    def after_evaluation(self, mean_return: float) -> dict[str, float]:
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
