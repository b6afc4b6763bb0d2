"""Twin Delayed DDPG (TD3).

Fujimoto, van Hoof & Meger 2018, "Addressing Function Approximation Error in Actor-Critic Methods".
A deterministic policy pi with Gaussian exploration, and three fixes to DDPG's overestimation. Per
update, on a batch (s, a, r, s', d) with d = 1 only at true terminations (not time limits):

    a' = clip(pi_targ(s') + clip(N(0, 0.2), -0.5, 0.5), -1, 1)        target policy smoothing
    y  = r + gamma (1 - d) min_i Q_i,targ(s', a')                      clipped double Q
         (with --td3.n-step n: the n-step return and gamma^m, see buffers.replay)
    J_Q = sum_i E[(Q_i(s, a) - y)^2]
    every 2nd update:  J_pi = -E[Q_1(s, pi(s))]                        delayed policy updates
                       Polyak step (tau 0.005) of the target policy and critics

Acting: clip(pi(s) + N(0, 0.1), -1, 1); evaluation acts with pi(s). Defaults are the authors'
(their TD3 repository: lr 3e-4, batch 256, 2x256 ReLU MLPs, 25k steps of uniform actions first).

Options that ResFiT's residual learner uses (Ankile et al. 2025, ``--base-policy``): n-step returns,
LayerNorm critics, and a critic warm-up: the first ``critic_warmup`` updates train the critics (and
their targets) only, so the policy, and with it the behaviour, stays where it started until the
critics have fitted the data. ``action_l2`` adds a pull of the policy's output toward 0 (for a
residual learner: toward the base policy's action) against the Q term scaled as in TD3+BC.
TD3+BC (``algos/td3bc.py``) is this agent with a behaviour term in the policy loss.

Networks (``--td3.net``, ``nets/simba.py``): the authors' MLPs, or Simba's or SimbaV2's networks, which
learn from observations normalized by running statistics. With ``simbav2`` the critics are
distributional (C51 on [-g_max, g_max], rewards scaled by the running return as in SimbaV2): each learns
by cross-entropy from the projection of r~ + gamma^n (1 - d) z under the target critic of the lower mean
at the smoothed target action, the policy maximizes the first critic's mean, and the weight rows go back
on the unit sphere after every optimizer step. TD3's own learning settings stay.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass


import numpy as np
import torch
from torch import nn

from visuomotor.algos.base import Agent, OffPolicyConfig, Policy, TDConfig
from visuomotor.algos.simba_recipe import RunningInputs
from visuomotor.buffers.replay import Batch
from visuomotor.nets import distributional
from visuomotor.nets.families import NetConfig, ValueSupportConfig, critic_ensemble
from visuomotor.nets.mlp import mlp
from visuomotor.nets.normalizer import EmpiricalNormalizer


@dataclass
class TD3Config(OffPolicyConfig, TDConfig, NetConfig, ValueSupportConfig):
    """TD3 hyperparameters; defaults from Fujimoto et al. 2018 (the authors' repository)."""

    learning_starts: int = 25_000
    """Env steps of uniform random actions before the first update (the authors' start_timesteps)."""
    actor_lr: float = 3e-4
    """Adam learning rate of the policy."""
    critic_lr: float = 3e-4
    """Adam learning rate of the critics."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the policy and of each critic (mlp)."""
    num_critics: int = 2
    """Critics in the ensemble; the target takes the min over all of them, the policy follows the first."""
    layer_norm: bool = False
    """LayerNorm after every hidden layer of the critics (ResFiT, RLPD)."""
    exploration_noise: float = 0.1
    """Std of the Gaussian noise on the acting policy's actions."""
    policy_noise: float = 0.2
    """Std of the target policy smoothing noise."""
    noise_clip: float = 0.5
    """Clip of the target policy smoothing noise."""
    policy_freq: int = 2
    """Critic updates per policy (and target) update."""
    critic_warmup: int = 0
    """Updates that train the critics only before the policy's first update (ResFiT's warm-up)."""
    action_l2: float = 0.0
    """Weight of E[pi(s)^2] in the policy loss, whose Q term is then scaled to unit mean magnitude
    (-Q / mean|Q|, as TD3+BC scales it): pulls a residual learner's output toward 0, the base
    policy's action, wherever the critic's slope is weaker than the pull. 0 = plain TD3 (-Q)."""

    def validate(self) -> None:
        super().validate()
        self.validate_td()
        for name in ("actor_lr", "critic_lr", "policy_freq", "num_critics"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("policy_noise", "noise_clip", "exploration_noise", "critic_warmup", "action_l2"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        if not self.hidden or any(h <= 0 for h in self.hidden):
            raise ValueError(f"hidden must be positive widths, got {self.hidden}")
        self.validate_net()
        self.validate_support()


class StateNormalizer(nn.Module):
    """(s - mean) / std with fixed statistics as buffers (saved with the policy); the identity until a
    subclass fits it (TD3+BC's dataset statistics)."""

    def __init__(self, dim: int):
        super().__init__()
        self.register_buffer("mean", torch.zeros(dim))
        self.register_buffer("std", torch.ones(dim))

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return (obs - self.mean) / self.std


class TD3Policy(Policy):
    """Acting deterministically: a = pi(normalize(s))."""

    def __init__(self, normalizer: StateNormalizer, actor: nn.Module):
        super().__init__()
        self.normalizer, self.actor = normalizer, actor

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.actor(self.normalizer(obs.float()))

    def contents(self) -> dict:
        if isinstance(self.normalizer, EmpiricalNormalizer):
            return {"normalizer": "(s - mean) / sqrt(var + 1e-8), clipped to +-10", "squashing": "tanh"}
        fitted = not (bool((self.normalizer.mean == 0).all()) and bool((self.normalizer.std == 1).all()))
        return {"normalizer": "(s - mean) / std, the dataset's statistics" if fitted else None,
                "squashing": "tanh"}


class TD3(Agent):
    config_cls = TD3Config
    learns_on_policies = True  # a residual learner (--base-policy; ResFiT) or JSRL's learner

    def __init__(self, observation_space, action_space, cfg: TD3Config, device="cpu"):
        super().__init__(observation_space, action_space, cfg, device)
        if len(observation_space.shape) != 1:
            raise ValueError(f"{type(self).__name__.lower()} learns from flat state observations, "
                             f"got shape {observation_space.shape}")
        obs_dim, act_dim = int(observation_space.shape[0]), int(np.prod(action_space.shape))
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.family = cfg.family()
        self.distributional = self.family.distributional
        # simba nets: running statistics (and simbav2 the reward scale, algos/simba_recipe.py); mlp: fixed
        # statistics (the identity, or TD3+BC's dataset statistics)
        self.inputs = RunningInputs(obs_dim, self.family.running_normalization, self.distributional, cfg.gamma,
                                    cfg.g_max, self.device, fixed=StateNormalizer(obs_dim))
        self.normalizer = self.inputs.normalizer
        self.actor = self.make_policy()
        self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
        self.critic = self.make_critic().to(self.device)
        self.critic_target = copy.deepcopy(self.critic).requires_grad_(False)
        self.z = distributional.support(-cfg.g_max, cfg.g_max, cfg.num_atoms, self.device)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.actor_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.critic_lr)
        self.noise = torch.Generator(device=self.device)
        self.noise.manual_seed(int(torch.randint(0, 2**62, (1,))))
        self.updates = 0
        zero = torch.zeros((), device=self.device)
        self._last_policy = {k: zero for k in self.policy_metric_keys()}

    def make_policy(self) -> nn.Module:
        """s -> a in [-1, 1]: the network family's with a tanh output (the authors': a ReLU MLP of ``hidden``)."""
        c = self.cfg
        net = self.family.actor(c, self.obs_dim, (self.act_dim,), lambda: mlp(self.obs_dim, c.hidden, self.act_dim))
        return nn.Sequential(net, nn.Tanh()).to(self.device)

    def make_critic(self) -> nn.Module:
        """The critic ensemble: Q(s, a) of each critic [n, B, 1], or with a distributional family its logits
        over the atoms (the authors': ReLU MLPs of ``hidden``, one batched matmul per layer)."""
        c = self.cfg
        return critic_ensemble(c, c.num_critics, self.obs_dim + self.act_dim,
                               c.num_atoms if self.family.distributional else 1, c.hidden, c.layer_norm)

    def observe(self, t) -> None:
        """Store the step; running observation statistics and (simbav2) the reward scale take it in."""
        super().observe(t)
        self.inputs.observe(t)

    # ---- acting -------------------------------------------------------------------------------
    def acting_policy(self) -> nn.Module:
        """The policy that acts (in training, evaluation and export)."""
        return self.actor

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        o = torch.as_tensor(np.asarray(obs), dtype=torch.float32, device=self.device)
        single = o.dim() == 1
        a = self.acting_policy()(self.normalizer(o.unsqueeze(0) if single else o))
        if explore and self.cfg.exploration_noise > 0:
            a = (a + self.cfg.exploration_noise * torch.randn(a.shape, generator=self.noise, device=self.device)
                 ).clamp(-1.0, 1.0)
        a = a.cpu().numpy()
        return a[0] if single else a

    def policy(self) -> TD3Policy:
        return TD3Policy(self.normalizer, self.acting_policy())

    def zero_policy_output(self) -> None:
        """Zero the policy's output layer (and its target's): pi(s) = tanh(0) = 0 for every s, the
        residual learner's start (gradients still reach the layer through its inputs)."""
        for policy in (self.actor, self.actor_target):
            self.family.zero_output(policy[0], slice(None))

    # ---- learning -----------------------------------------------------------------------------
    def q(self, critic: nn.Module, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        out = critic(torch.cat([obs, action], -1))
        return distributional.expected(out, self.z) if self.distributional else out.squeeze(-1)  # [n, B]

    def critic_loss(self, obs: torch.Tensor, next_obs: torch.Tensor, batch: Batch):
        """J_Q (summed over the critics) and the critics' values, on normalized states."""
        cfg = self.cfg
        with torch.no_grad():
            noise = (torch.randn(batch.action.shape, generator=self.noise, device=self.device) * cfg.policy_noise
                     ).clamp(-cfg.noise_clip, cfg.noise_clip)
            next_a = (self.actor_target(next_obs) + noise).clamp(-1.0, 1.0)
            next_out = self.critic_target(torch.cat([next_obs, next_a], -1))
        d = batch.bootstrap_discount(cfg.gamma)
        if self.distributional:  # against the projected distribution of the lower-mean target critic
            logits = self.critic(torch.cat([obs, batch.action], -1))
            loss = distributional.clipped_double_loss(logits, next_out, batch.reward, d, self.z)
            return loss, distributional.expected(logits.detach(), self.z)
        target = batch.reward + d * next_out.squeeze(-1).amin(0)
        q = self.q(self.critic, obs, batch.action)
        return (q - target).pow(2).mean(-1).sum(), q.detach()

    def policy_metric_keys(self) -> tuple[str, ...]:
        return ("losses/actor", "losses/action_abs")

    def policy_loss(self, obs: torch.Tensor, batch: Batch) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """J_pi = -E[Q_1(s, pi(s))] (with action_l2 c > 0: -E[Q_1] / E|Q_1| + c E[pi(s)^2]) and its metrics."""
        pi = self.actor(obs)
        q = self.q(self.critic, obs, pi)[0]
        if self.cfg.action_l2 > 0:
            loss = -q.mean() / q.abs().mean().detach() + self.cfg.action_l2 * pi.pow(2).mean()
        else:
            loss = -q.mean()
        # mean |pi(s)|: for a residual learner, how far it moves from the base policy (1 = the bound)
        return loss, {"losses/actor": loss.detach(), "losses/action_abs": pi.detach().abs().mean()}

    def policy_step(self, obs: torch.Tensor, batch: Batch) -> dict[str, torch.Tensor]:
        """One optimizer step of the policy; returns its metrics."""
        loss, metrics = self.policy_loss(obs, batch)
        self.actor_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.actor_opt.step()
        self.family.after_step(self.actor)
        return metrics

    def update(self, batch: Batch | None = None) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        batch = self.sample() if batch is None else batch
        batch = self.inputs.batch(batch)  # normalized observations (and simbav2's scaled rewards)
        obs, next_obs = batch.obs, batch.next_obs
        critic_loss, q = self.critic_loss(obs, next_obs, batch)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        self.family.after_step(self.critic)

        self.updates += 1
        if self.updates % cfg.policy_freq == 0:
            if self.updates > cfg.critic_warmup:
                self._last_policy = self.policy_step(obs, batch)
                self.critic.zero_grad(set_to_none=True)  # the policy loss's gradients on the critics are unused
            with torch.no_grad():
                torch._foreach_lerp_(list(self.critic_target.parameters()), list(self.critic.parameters()), cfg.tau)
                torch._foreach_lerp_(list(self.actor_target.parameters()), list(self.actor.parameters()), cfg.tau)
        return {"losses/critic": critic_loss.detach(), "losses/q_mean": q.mean(), **self._last_policy}

    # ---- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "actor_target": self.actor_target.state_dict(),
                "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
                **self.inputs.state(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "noise": self.noise.get_state(),
                "updates": self.updates}

    def policy_state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "normalizer": self.normalizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.inputs.load(state)
        if "critic" in state:
            self.actor_target.load_state_dict(state["actor_target"])
            self.critic.load_state_dict(state["critic"])
            self.critic_target.load_state_dict(state["critic_target"])
            self.actor_opt.load_state_dict(state["actor_opt"])
            self.critic_opt.load_state_dict(state["critic_opt"])
            self.noise.set_state(state["noise"])
            self.updates = int(state["updates"])
