"""Soft Actor-Critic with automatic entropy tuning.

Haarnoja et al. 2018, "Soft Actor-Critic Algorithms and Applications" (arXiv 1812.05905).

Per update, on a batch (s, a, r, s', d) with d = 1 only at true terminations (not time limits):

    a' ~ pi(.|s'),                 y = r + gamma (1 - d) (min_i Qbar_i(s', a') - alpha log pi(a'|s'))
                                   (with --sac.n-step n: the n-step return and gamma^m, see buffers.replay)
    J_Q  = sum_i 0.5 E[(Q_i(s, a) - y)^2]                             (twin critics, min target)
    a~ ~ pi(.|s) (reparameterized), J_pi = E[alpha log pi(a~|s) - min_i Q_i(s, a~)]
    J_alpha = E[-log(alpha) (log pi(a~|s) + Hbar)], Hbar = -|A|        (on log alpha, as the authors' code)
    Qbar <- (1 - tau) Qbar + tau Q                                     (Polyak)

The policy is a tanh-squashed Gaussian; evaluation acts with tanh(mean). As in the paper's Algorithm 1
(and softlearning, SB3, CleanRL) each update steps the critics, then the policy and temperature against
the updated critics; ``simultaneous_update`` takes all three from the same parameters (the authors' TF1
code). The critics are one ensemble (batched matmuls); one Adam serves all parameters.

This file is the method, by autograd (``plain_update``). ``algos/sac_fast.py`` wraps that update from
the outside (hand-derived gradients, bf16, torch.compile, two threads), tested to give its numbers.

Networks (``--sac.net``, ``nets/families.py``): the paper's ReLU MLPs, or Simba's or SimbaV2's with
their papers' settings. SimbaV2's critics are distributional: logits over atoms z of [-g_max, g_max],
learned by cross-entropy from the projection of r~ + gamma^n (1 - d) (z - alpha log pi(a'|s')) under
the target critic of the lower mean, rewards scaled by the running discounted return.

The ``rlpd`` preset (Ball et al. 2023, "Efficient Online RL with Offline Data"; with --prior-data):
N LayerNorm critics, the target's min over a random 2 of them, the policy loss on their mean, many
updates per env step, half of each batch from the prior data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from visuomotor.algos.base import Agent, OffPolicyConfig, Policy, TDConfig
from visuomotor.algos.sac_fast import SACSpeedConfig, SpeedPath
from visuomotor.algos.simba_recipe import LinearDecay, RunningInputs, SimbaRecipeConfig, optimizer
from visuomotor.buffers.replay import Batch
from visuomotor.nets import distributional
from visuomotor.nets.distributions import squashed_gaussian_log_prob, squashed_gaussian_sample
from visuomotor.nets.families import FAMILIES, NetConfig, ValueSupportConfig, critic_ensemble
from visuomotor.nets.mlp import ReLUMLP
from visuomotor.nets.normalizer import EmpiricalNormalizer
from visuomotor.nets.switches import frozen


@dataclass
class SACConfig(SACSpeedConfig, SimbaRecipeConfig, OffPolicyConfig, TDConfig, NetConfig, ValueSupportConfig):
    """SAC hyperparameters; defaults from Haarnoja et al. 2018 (table 1). Fields left None take the
    preset's value: ``sac`` (the paper) or ``rlpd`` (Ball et al. 2023, for learning with prior data)."""

    preset: Literal["sac", "rlpd"] = "sac"
    """sac: 2 critics, min of both, 1 update per step; rlpd: 10 LayerNorm critics, the target takes the
    min over a random 2 of them, the policy their mean, 20 updates per env step (use with --prior-data)."""
    updates_per_step: int | None = None
    """Gradient updates per env step (the update-to-data ratio); sac 1, rlpd 20."""

    actor_lr: float | None = None
    """Adam learning rate of the policy; None = 3e-4 (mlp) or 1e-4 (simba, simbav2)."""
    critic_lr: float | None = None
    """Adam learning rate of the critics; None = 3e-4 (mlp) or 1e-4 (simba, simbav2)."""
    alpha_lr: float | None = None
    """Adam learning rate of the temperature (log alpha); None = 3e-4 (mlp) or 1e-4 (simba, simbav2)."""
    adam_eps: float = 1e-8
    """Adam's epsilon (the authors' TensorFlow default, and SB3's for SAC: torch's own default)."""
    hidden: tuple[int, ...] = (256, 256)
    """Hidden layer widths of the policy and of each critic (mlp)."""
    num_critics: int | None = None
    """Critics in the ensemble (sac 2, rlpd 10)."""
    critic_subset: int | None = None
    """The target's min is over this many critics drawn at random each update; 0 = all (sac 0, rlpd 2)."""
    actor_q: Literal["min", "mean"] | None = None
    """How the policy loss combines the critics: min (sac) or mean (rlpd)."""
    layer_norm: bool | None = None
    """LayerNorm after every hidden layer of the critics (sac no, rlpd yes)."""
    init_alpha: float | None = None
    """Initial temperature; None = 1 (mlp) or 0.01 (simba, simbav2)."""
    autotune_alpha: bool = True
    """Learn the temperature toward the target entropy; if False, alpha stays init_alpha."""
    target_entropy: float | None = None
    """Entropy target; None means -|A| (the paper's heuristic), -|A|/2 with simba and simbav2."""
    log_std_min: float | None = None
    """Lower bound of the policy's log std: mlp clips at it (None = -20, the authors' softlearning
    value); simba nets squash into [log_std_min, log_std_max] with a tanh (None = -10)."""
    log_std_max: float = 2.0
    """Upper bound of the policy's log std."""
    log_prob_epsilon: float = 0.0
    """0 = the exact tanh log-prob correction; e.g. 1e-6 = SB3/CleanRL's log(1 - tanh(u)^2 + 1e-6)."""
    simultaneous_update: bool = False
    """Take the policy and temperature losses from the critics before this update's critic step
    (the authors' TF1 code) instead of after it (Algorithm 1 of the paper, SB3, CleanRL)."""

    def fill_defaults(self) -> SACConfig:
        """A copy with every None filled from the preset, then from the network family's papers' settings
        (a family with none of its own takes the paper's, mlp's), then from the family itself."""
        if self.net not in FAMILIES or self.preset not in SAC_PRESETS:
            return self  # (validate names the bad value)
        values = {**NET_DEFAULTS.get(self.net, NET_DEFAULTS["mlp"]), **SAC_PRESETS[self.preset],
                  **self.recipe_defaults()}
        fill = {k: v for k, v in values.items() if getattr(self, k) is None}
        return dataclasses.replace(self, **fill) if fill else self

    def validate_names(self) -> None:
        if self.preset not in SAC_PRESETS:
            raise ValueError(f"preset must be one of {', '.join(SAC_PRESETS)}, got {self.preset!r}")
        self.validate_net()

    def validate(self) -> None:
        self.validate_names()
        self.validate_support()
        self.validate_td()
        super().validate()
        if not 0 <= self.critic_subset <= self.num_critics:
            raise ValueError(f"critic_subset must be in [0, num_critics={self.num_critics}], got {self.critic_subset}")
        self.validate_recipe()
        if self.actor_q not in ("min", "mean"):
            raise ValueError(f"actor_q must be min or mean, got {self.actor_q!r}")
        if self.num_critics < 1 or self.init_alpha <= 0:
            raise ValueError(f"need num_critics >= 1 and init_alpha > 0, got {self.num_critics}, {self.init_alpha}")
        if not self.hidden or any(h <= 0 for h in self.hidden):
            raise ValueError(f"hidden must be positive widths, got {self.hidden}")
        self.validate_speed()


SAC_PRESETS: dict[str, dict] = {
    "sac": dict(updates_per_step=1, num_critics=2, critic_subset=0, actor_q="min", layer_norm=False),
    "rlpd": dict(updates_per_step=20, num_critics=10, critic_subset=2, actor_q="mean", layer_norm=True),
}
_SIMBA = dict(actor_lr=1e-4, critic_lr=1e-4, alpha_lr=1e-4, init_alpha=0.01, log_std_min=-10.0)
NET_DEFAULTS: dict[str, dict] = {  # each network family's papers' settings for the fields left None
    "mlp": dict(actor_lr=3e-4, critic_lr=3e-4, alpha_lr=3e-4, init_alpha=1.0, log_std_min=-20.0),
    "simba": _SIMBA, "simbav2": _SIMBA,
}
ENTROPY_RATIO: dict[str, float] = {"simba": 0.5, "simbav2": 0.5}
"""The default entropy target -ratio |A| per network family (the simba papers' -|A|/2; else the paper's -|A|)."""
# SimbaV2 takes clipped double Q only where episodes terminate (the authors' use_cdq = env.episodic):
# one critic on DMC tasks, which never terminate.
SACConfig.TASK_PRESETS = (("dmc/*", {"num_critics": 1}, {"net": "simbav2"}),)


class Actor(nn.Module):
    """s -> (mean, log_std) of the pre-squash Gaussian: the config's network family with two heads (the
    paper's: a ReLU MLP of ``hidden``)."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: SACConfig):
        super().__init__()
        self.family, self.kind = cfg.family(), cfg.net
        self.net = self.family.actor(cfg, obs_dim, (act_dim, act_dim), lambda: ReLUMLP(obs_dim, cfg.hidden, 2 * act_dim))
        self.log_std_min, self.log_std_max = cfg.log_std_min, cfg.log_std_max

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.head(self.net(obs))

    def head(self, out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's output -> (mean, log_std)."""
        mean, log_std = out.float().chunk(2, dim=-1)
        if self.family.bounded_log_std:  # the simba papers' tanh squash into [min, max]
            return mean, self.log_std_min + (self.log_std_max - self.log_std_min) * 0.5 * (1 + torch.tanh(log_std))
        # clipped as in the authors' code (so a fresh policy starts near std 1, exploring widely);
        # a tanh rescale into [-5, 2] instead starts near std 0.22 and learned visibly slower here
        return mean, log_std.clamp(self.log_std_min, self.log_std_max)


class SACPolicy(Policy):
    """Acting deterministically: a = tanh(mean(normalize(s)))."""

    def __init__(self, actor: Actor, normalizer: nn.Module | None = None):
        super().__init__()
        self.actor = actor
        self.normalizer = normalizer if normalizer is not None else nn.Identity()

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.actor(self.normalizer(obs.float()))[0])

    def contents(self) -> dict:
        out = {"squashing": "tanh of the Gaussian's mean", "network": self.actor.kind}
        if isinstance(self.normalizer, EmpiricalNormalizer):
            out["normalizer"] = "(s - mean) / sqrt(var + 1e-8), clipped to +-10"
        return out


class SAC(Agent):
    learns_on_policies = True  # a residual learner (--base-policy) or JSRL's learner (--guide-policy)

    def __init__(self, observation_space, action_space, cfg: SACConfig, device="cpu"):
        super().__init__(observation_space, action_space, cfg, device)
        obs_dim = int(np.prod(observation_space.shape))
        act_dim = int(np.prod(action_space.shape))
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.family = cfg.family()
        self.actor = Actor(obs_dim, act_dim, cfg).to(self.device)
        self.critic, self.critic_target = (self.make_critic().to(self.device) for _ in range(2))
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.polyak_pairs = list(self.critic_target.parameters()), list(self.critic.parameters())  # (Qbar, Q)
        self.distributional = self.family.distributional
        self.z = distributional.support(-cfg.g_max, cfg.g_max, cfg.num_atoms, self.device)
        # the Simba papers' running observation statistics and (simbav2) reward scale (algos/simba_recipe.py)
        self.inputs = RunningInputs(obs_dim, cfg.obs_normalization, self.distributional, cfg.gamma, cfg.g_max,
                                    self.device)
        self.normalizer = self.inputs.normalizer
        self.log_alpha = nn.Parameter(torch.tensor(float(np.log(cfg.init_alpha)), device=self.device))
        self.log_alpha.requires_grad_(cfg.autotune_alpha)
        default_entropy = -act_dim * ENTROPY_RATIO.get(cfg.net, 1.0)
        self.target_entropy = float(cfg.target_entropy if cfg.target_entropy is not None else default_entropy)

        groups = [{"params": list(self.actor.parameters()), "lr": cfg.actor_lr},
                  {"params": list(self.critic.parameters()), "lr": cfg.critic_lr}]
        if cfg.autotune_alpha:
            groups.append({"params": [self.log_alpha], "lr": cfg.alpha_lr, "weight_decay": 0.0})
        self.optimizer = optimizer(groups, cfg, cfg.adam_eps, self.device)  # (AdamW with weight decay)
        self.lr = LinearDecay(self.optimizer, cfg)
        self.updates = 0
        # the update's noise: one generator for the target's draws and one for the policy's, so that
        # each loss draws the same numbers in whatever order (or threads) the two are computed
        self.target_noise = torch.Generator(device=self.device)
        self.policy_noise = torch.Generator(device=self.device)
        self.seed(int(torch.randint(0, 2**62, (1,))))
        self.speed = SpeedPath(self)  # plain_update under the config's speed switches

    def make_critic(self) -> nn.Module:
        """The critic ensemble: Q(s, a) of each critic [n, B, 1], or with a distributional family its logits
        over the atoms (the paper's: ReLU MLPs of ``hidden``, one batched matmul per layer)."""
        c = self.cfg
        return critic_ensemble(c, c.num_critics, self.obs_dim + self.act_dim,
                               c.num_atoms if self.family.distributional else 1, c.hidden, c.layer_norm)

    # ---- acting -------------------------------------------------------------------------------
    @torch.inference_mode()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        single = o.dim() == 1
        if single:
            o = o.unsqueeze(0)
        mean, log_std = self.actor(self.normalizer(o))
        # (the draw squashed_gaussian_sample makes, without the log-prob acting does not need)
        a = torch.tanh(mean + log_std.exp() * torch.randn_like(mean)) if explore else torch.tanh(mean)
        a = a.cpu().numpy()
        return a[0] if single else a

    def policy(self) -> SACPolicy:
        return SACPolicy(self.actor, self.normalizer)

    def observe(self, t) -> None:
        """Store the step; the observation statistics and (simbav2) the reward scale take it in."""
        super().observe(t)
        self.inputs.observe(t)

    def describe(self) -> dict:
        return {"target_entropy": self.target_entropy, **self.speed.describe(),
                "lr_decay_updates": self.cfg.lr_decay_updates}

    def zero_policy_output(self) -> None:
        """Zero the rows of the policy's output layer that give the action mean: the deterministic
        action is then tanh(0) = 0 for every input (the residual learner's start)."""
        self.family.zero_output(self.actor.net, slice(0, self.act_dim))

    # ---- the losses -----------------------------------------------------------------------------
    def target_draws(self, n: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The critic target's randomness for a batch of ``n``: the next actions' noise and (RLPD) the
        critics its min is taken over (None = all), from the target generator."""
        eps = torch.randn((n, self.act_dim), generator=self.target_noise, device=self.device)
        k, n_critics = self.cfg.critic_subset, self.cfg.num_critics
        pick = None
        if 0 < k < n_critics:  # RLPD: min over a random subset of the ensemble
            pick = torch.randperm(n_critics, generator=self.target_noise, device=self.device)[:k]
        return eps, pick

    def policy_noise_like(self, mean: torch.Tensor) -> torch.Tensor:
        """The reparameterization noise of the policy loss, from the policy generator."""
        return torch.randn(mean.shape, generator=self.policy_noise, dtype=mean.dtype, device=mean.device)

    @torch.no_grad()
    def target_at_next(self, next_obs, eps, pick) -> tuple[torch.Tensor, torch.Tensor]:
        """The target critics' outputs (float32; only those in ``pick`` when given) at (s', a') for
        a' = tanh(mean + std eps) ~ pi(.|s'), and log pi(a'|s')."""
        next_mean, next_log_std = self.actor(next_obs)
        u = next_mean + next_log_std.exp() * eps
        next_logp = squashed_gaussian_log_prob(u, next_mean, next_log_std, eps, self.cfg.log_prob_epsilon)
        out = self.critic_target(torch.cat([next_obs, torch.tanh(u)], -1)).float()
        return (out if pick is None else out.index_select(0, pick)), next_logp

    @torch.no_grad()
    def td_target(self, reward, bootstrap, next_obs, alpha, eps, pick) -> torch.Tensor:
        """y = r + gamma (1 - d) (min_i Qbar_i(s', a') - alpha log pi(a'|s')) for a' = tanh(mean + std eps);
        ``bootstrap`` = gamma (1 - d) (or the n-step factor), ``eps``/``pick`` from ``target_draws``."""
        q_next, next_logp = self.target_at_next(next_obs, eps, pick)
        return reward + bootstrap * (q_next.squeeze(-1).amin(0) - alpha * next_logp)  # (q_next [n, B, 1])

    def critic_loss(self, batch: Batch, alpha) -> tuple[torch.Tensor, torch.Tensor]:
        """J_Q (summed over the ensemble) and the mean Q."""
        eps, pick = self.target_draws(batch.obs.shape[0])
        if self.distributional:
            return self.categorical_critic_loss(batch, alpha, eps, pick)
        y = self.td_target(batch.reward, batch.bootstrap_discount(self.cfg.gamma), batch.next_obs, alpha, eps, pick)
        q = self.critic(torch.cat([batch.obs, batch.action], -1)).float().squeeze(-1)  # [n, B]
        return 0.5 * (q - y).pow(2).mean(-1).sum(), q.detach().mean()

    def categorical_critic_loss(self, batch: Batch, alpha, eps, pick) -> tuple[torch.Tensor, torch.Tensor]:
        """simbav2: the cross-entropy of each critic's logits to the projection of
        r + gamma^n (1 - d) (z - alpha log pi(a'|s')) under the target critic of the lower mean."""
        next_logits, next_logp = self.target_at_next(batch.next_obs, eps, pick)
        d = batch.bootstrap_discount(self.cfg.gamma)
        logits = self.critic(torch.cat([batch.obs, batch.action], -1)).float()
        loss = distributional.clipped_double_loss(logits, next_logits, batch.reward - d * alpha * next_logp, d, self.z)
        return loss, distributional.expected(logits.detach(), self.z).mean()

    def policy_losses(self, batch: Batch, alpha) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """J_pi, J_alpha and the policy's entropy estimate."""
        mean, log_std = self.actor(batch.obs)
        pi_a, logp = squashed_gaussian_sample(mean, log_std, self.policy_noise, self.cfg.log_prob_epsilon)
        with frozen(self.critic):  # the policy loss reaches the critics' input, never their weights
            out = self.critic(torch.cat([batch.obs, pi_a], -1)).float()
        q_pi = distributional.expected(out, self.z) if self.distributional else out.squeeze(-1)  # [n, B]
        q_pi = q_pi.mean(0) if self.cfg.actor_q == "mean" else q_pi.amin(0)
        actor_loss = (alpha * logp - q_pi).mean()
        alpha_loss = -(self.log_alpha * (logp.detach() + self.target_entropy)).mean()
        return actor_loss, alpha_loss, -logp.detach().mean()

    @staticmethod
    def metrics(critic_loss, actor_loss, alpha_loss, alpha, q_mean, entropy) -> dict[str, torch.Tensor]:
        """The update's metrics, always these keys in this order (the runner stacks them)."""
        return {"losses/critic": critic_loss, "losses/actor": actor_loss, "losses/alpha": alpha_loss,
                "losses/alpha_value": alpha, "losses/q_mean": q_mean, "losses/entropy": entropy}

    def losses(self, batch: Batch) -> dict[str, torch.Tensor]:
        """The three SAC losses (and diagnostics) on one batch, from the current parameters."""
        alpha = self.log_alpha.exp().detach()
        critic_loss, q_mean = self.critic_loss(batch, alpha)
        actor_loss, alpha_loss, entropy = self.policy_losses(batch, alpha)
        return self.metrics(critic_loss, actor_loss, alpha_loss, alpha, q_mean, entropy)

    # ---- the update -----------------------------------------------------------------------------
    def plain_update(self, batch: Batch) -> dict[str, torch.Tensor]:
        """One SAC update by autograd: the critic step, then the policy and temperature against the stepped
        critics (Algorithm 1); with simultaneous_update one step of all three from the same parameters.
        (One Adam over all parameters: a step moves only those that hold gradients.)"""
        alpha = self.log_alpha.exp().detach()
        self.optimizer.zero_grad(set_to_none=True)
        critic_loss, q_mean = self.critic_loss(batch, alpha)
        critic_loss.backward()
        if not self.cfg.simultaneous_update:
            self.optimizer_step()
            self.optimizer.zero_grad(set_to_none=True)
        actor_loss, alpha_loss, entropy = self.policy_losses(batch, alpha)
        (actor_loss + alpha_loss if self.cfg.autotune_alpha else actor_loss).backward()
        self.optimizer_step()
        self.polyak()
        return self.metrics(critic_loss.detach(), actor_loss.detach(), alpha_loss.detach(), alpha, q_mean, entropy)

    def optimizer_step(self) -> None:
        """One optimizer step, then the network family's after-step (SimbaV2: weight rows back on the sphere)."""
        self.optimizer.step()
        self.family.after_step(self.actor)
        self.family.after_step(self.critic)

    @torch.no_grad()
    def polyak(self) -> None:
        """Qbar <- (1 - tau) Qbar + tau Q."""
        torch._foreach_lerp_(*self.polyak_pairs, self.cfg.tau)

    def update(self, batch: Batch | None = None) -> dict[str, torch.Tensor]:
        batch = self.sample() if batch is None else batch
        self.lr.set(self.updates)  # (simbav2: decaying learning rates)
        self.updates += 1
        return self.speed(self.inputs.batch(batch))  # the losses see normalized (and scaled) inputs

    def seed(self, seed: int) -> None:
        """Seed the update's two noise generators (next actions of the target; policy actions)."""
        self.target_noise.manual_seed(seed)
        self.policy_noise.manual_seed(seed + 1)

    # ---- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {**{k: getattr(self, k).state_dict() for k in ("actor", "critic", "critic_target", "optimizer")},
                "log_alpha": self.log_alpha.detach().clone(), **self.inputs.state(),
                "noise": [self.target_noise.get_state(), self.policy_noise.get_state()], "updates": self.updates}

    def policy_state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "normalizer": self.normalizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.inputs.load(state)
        if "critic" in state:  # (a policy's state holds no more)
            for k in ("critic", "critic_target", "optimizer"):
                getattr(self, k).load_state_dict(state[k])
            with torch.no_grad():
                self.log_alpha.copy_(state["log_alpha"])
            self.updates = int(state.get("updates", 0))
            for generator, saved in zip((self.target_noise, self.policy_noise), state["noise"]):
                generator.set_state(saved)
