"""FastSAC: SAC on many parallel envs with large batches and distributional critics.

Seo et al. 2025, "Learning Sim-to-Real Humanoid Locomotion in 15 Minutes" (arXiv 2512.01996), the
SAC counterpart of FastTD3; defaults from the authors' code (amazon-far/holosoma, ``agents/fast_sac``).

N envs step together; the policy is a tanh-squashed Gaussian whose log std is squashed into
[log_std_min, log_std_max] by a tanh. Observations are normalized by running statistics (updated as
the envs are stepped; saved with the policy). Per update, on a batch (s, a, R, d, s') of n-step returns
R and discounts d = gamma^m (0 after a termination; a time limit bootstraps from its real last state):

    a' ~ pi(.|s'),  l' = log pi(a'|s')
    p_i = softmax(Qbar_i(s', a'))                                    (each target critic)
    m_i = Proj(R - d alpha l' + d z, p_i)                            (nets/distributional.py)
    J_Q = sum_i CE(m_i, Q_i(s, a))                                   (each critic its own target)
    J_alpha = -E[alpha (l' + Hbar)],  Hbar = -ratio |A|              (on the next states' log-probs)
    every policy_frequency-th update:  a~ ~ pi(.|s),
        J_pi = E[alpha log pi(a~|s) - mean_i sum_j softmax(Q_i(s, a~))_j z_j]
    Qbar <- (1 - tau) Qbar + tau Q                                   (tau 0.125)

Networks with LayerNorm and SiLU: critics 768-384-192 (an ensemble of 2, batched matmuls), actor
512-256-128 with zero-initialized output layers. AdamW (betas 0.9, 0.95; weight decay 0.001) for
all three; bf16 autocast where bf16 is native. The authors' humanoid settings are gamma 0.97 and the
support [-20, 20] (the Playground task preset); elsewhere FastTD3's general and DMC settings, and on gym
and DMC SimbaV2's temperature (from 0.01, target entropy -|A|/2) instead of the authors' (0.001, 0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from visuomotor.algos.fast_common import FastAgent, FastConfig, FastPolicy
from visuomotor.nets import distributional, switches
from visuomotor.nets.distributions import squashed_gaussian_from_noise
from visuomotor.nets.mlp import mlp


@dataclass
class FastSACConfig(FastConfig):
    """FastSAC hyperparameters; defaults from the authors' code (holosoma's FastSACConfig)."""

    PRESETS: ClassVar[dict[str, dict]] = {
        # cpu: 2x256 networks, which learn as fast per env step on gym and DMC tasks as the authors'
        # at under half the update's cost (benchmarks/README.md, fast_offpolicy.py)
        "cpu": dict(envs=16, batch_size=1024, updates_per_step=2, actor_hidden=(256, 256), critic_hidden=(256, 256)),
        "gpu": dict(envs=1024, batch_size=8192, updates_per_step=8, actor_hidden=(512, 256, 128),
                    critic_hidden=(768, 384, 192)),
    }
    DEFAULTS: ClassVar[dict] = dict(gamma=0.99, n_step=1, v_min=-250.0, v_max=250.0, alpha_init=0.001,
                                    target_entropy_ratio=0.0)
    buffer_per_env: ClassVar[int] = 1024  # (the authors' buffer_size per env)
    compile_on_cpu: ClassVar[bool] = True  # (its cpu preset's update: 1.5x faster compiled)

    updates_per_step: int | None = None
    """Updates per round (per step of all the envs): cpu 2, gpu 8 (the authors')."""
    policy_frequency: int = 4
    """The actor learns every this many updates (delayed policy updates)."""
    tau: float = 0.125
    """Polyak step of the target critics per update."""
    alpha_lr: float = 3e-4
    """AdamW learning rate of the temperature (log alpha)."""
    weight_decay: float = 0.001
    """AdamW weight decay of the actor and critics."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW's betas."""
    critic_hidden: tuple[int, ...] | None = None
    """Hidden widths of each critic; None = the preset's: cpu 256-256 (actor 256-256), gpu the authors'
    768-384-192 (actor 512-256-128)."""
    num_critics: int = 2
    """Critics in the ensemble; each learns from its own target critic, the policy from their mean."""
    layer_norm: bool = True
    """LayerNorm after every hidden layer (actor and critics), before the SiLU."""
    alpha_init: float | None = None
    """Initial temperature; None = the task's: 0.01 on gym and DMC tasks (SimbaV2's), else the authors' 0.001."""
    autotune_alpha: bool = True
    """Learn the temperature toward the target entropy; if False, alpha stays alpha_init."""
    target_entropy_ratio: float | None = None
    """The target entropy is -ratio |A|; None = the task's: 0.5 on gym and DMC tasks (SimbaV2's), else the
    authors' 0."""
    log_std_min: float = -5.0
    """Lower bound of the policy's log std (tanh-squashed into [min, max])."""
    log_std_max: float = 0.0
    """Upper bound of the policy's log std."""

    def validate(self) -> None:
        super().validate()
        if self.alpha_init <= 0 or self.num_critics < 1 or not self.log_std_max > self.log_std_min:
            raise ValueError(f"need alpha_init > 0, num_critics >= 1 and log_std_max > log_std_min, got "
                             f"{self.alpha_init}, {self.num_critics}, [{self.log_std_min}, {self.log_std_max}]")


# The authors' temperature (from 0.001, target entropy 0) suits their humanoid rewards (values within
# [-20, 20]). On gym and DMC, whose values reached 50-600 on HalfCheetah and walker-walk, its alpha
# stayed too small to matter for ~100k steps (entropy -9 to -13 on 6 actions), and the cpu preset
# reached SB3 SAC's return within 5 minutes on 3 of 6 runs; with SimbaV2's temperature (from 0.01,
# -|A|/2, its setting on gym and DMC) on 6 of 6, in 2.0-2.9 minutes (benchmarks/README.md).
_SIMBAV2_TEMPERATURE = {"alpha_init": 0.01, "target_entropy_ratio": 0.5}
FastSACConfig.TASK_PRESETS = (
    ("gym/*", _SIMBAV2_TEMPERATURE, {}),
    ("dmc/*", {**_SIMBAV2_TEMPERATURE, "n_step": 3, "v_min": -500.0, "v_max": 500.0}, {}),  # FastTD3's DMC example
    ("playground/*", {"gamma": 0.97, "v_min": -20.0, "v_max": 20.0}, {}),  # the authors' humanoid settings
    # up to ~12 reward per step at speed: |Q| up to ~r/(1-gamma) = 1,200 would pile up at the edge of +-250
    ("gym/HalfCheetah*", {"v_min": -1000.0, "v_max": 1000.0}, {}),
)


class AuthorsActorNet(nn.Module):
    """The authors' actor network: a SiLU trunk of ``actor_hidden`` (LayerNorms with ``layer_norm``), then
    zero-initialized mean and log-std heads (returned as a pair)."""

    def __init__(self, obs_dim: int, act_dim: int, hidden, layer_norm: bool):
        super().__init__()
        self.trunk = mlp(obs_dim, hidden[:-1], hidden[-1], nn.SiLU, layer_norm)
        self.trunk.append(nn.LayerNorm(hidden[-1]) if layer_norm else nn.Identity())
        self.trunk.append(nn.SiLU())
        self.mean, self.log_std = nn.Linear(hidden[-1], act_dim), nn.Linear(hidden[-1], act_dim)
        for head in (self.mean, self.log_std):
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.trunk(obs)
        return self.mean(h), self.log_std(h)


class Actor(nn.Module):
    """Normalized s -> (mean, log_std) of the pre-squash Gaussian: the config's network family with two
    heads (the authors': ``AuthorsActorNet``), the log std squashed by a tanh into [min, max]."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: FastSACConfig):
        super().__init__()
        self.log_std_min, self.log_std_max = cfg.log_std_min, cfg.log_std_max
        self.body = cfg.family().actor(cfg, obs_dim, (act_dim, act_dim), lambda: AuthorsActorNet(
            obs_dim, act_dim, cfg.actor_hidden, cfg.layer_norm))
        self._register_load_state_dict_pre_hook(self._from_before_families)

    @staticmethod
    def _from_before_families(state_dict, prefix, *args) -> None:
        """Checkpoints written before the network families kept the authors' net's modules at the top."""
        for key in [k for k in state_dict if k.startswith(tuple(prefix + m for m in ("trunk.", "mean.", "log_std.")))]:
            state_dict[prefix + "body." + key[len(prefix):]] = state_dict.pop(key)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.body(obs)  # (the heads as a pair, or side by side)
        mean, log_std = (o.float() for o in out) if isinstance(out, tuple) else out.float().chunk(2, -1)
        log_std = torch.tanh(log_std)
        return mean, self.log_std_min + 0.5 * (self.log_std_max - self.log_std_min) * (log_std + 1)


class FastSACPolicy(FastPolicy):
    """Acting deterministically: a = tanh(mean(normalize(s)))."""

    squashing = "tanh of the Gaussian's mean"

    def action(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.actor(x)[0])


class FastSAC(FastAgent):
    config_cls = FastSACConfig

    def __init__(self, observation_space, action_space, cfg: FastSACConfig, device="cpu",
                 num_envs: int = 1):
        super().__init__(observation_space, action_space, cfg, device, num_envs)
        cfg = self.cfg
        self.actor = Actor(self.obs_dim, self.act_dim, cfg).to(self.device)
        self.critic, self.critic_target = (self.make_critics(cfg.num_critics, cfg.layer_norm, "silu")
                                           for _ in range(2))
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.z = distributional.support(cfg.v_min, cfg.v_max, cfg.num_atoms, self.device)
        self.log_alpha = nn.Parameter(torch.tensor(float(np.log(cfg.alpha_init)), device=self.device))
        self.target_entropy = -cfg.target_entropy_ratio * self.act_dim
        fused = self.device.type in ("cpu", "cuda")
        kw = dict(betas=cfg.betas, fused=fused)
        self.actor_opt = torch.optim.AdamW(self.actor.parameters(), lr=cfg.actor_lr, weight_decay=cfg.weight_decay,
                                           **kw)
        self.critic_opt = torch.optim.AdamW(self.critic.parameters(), lr=cfg.critic_lr, weight_decay=cfg.weight_decay,
                                            **kw)
        self.alpha_opt = torch.optim.AdamW([self.log_alpha], lr=cfg.alpha_lr, **kw)  # (AdamW's default decay 0.01)
        zero = torch.zeros((), device=self.device)
        self.last_policy = {"losses/actor": zero, "losses/entropy": zero}
        self._online, self._target = self.critic.flat_params(), self.critic_target.flat_params()
        self._critic_loss, self._policy_loss = self.sped_up(self.critic_loss), self.sped_up(self.policy_loss)
        self.acting = self.policy()
        self._explore = switches.autocast_bf16(self.draw_action, self.bf16, self.device)  # (acting as it learns)

    def describe(self) -> dict:
        return {**super().describe(), "target_entropy": self.target_entropy}

    def sample_with(self, obs: torch.Tensor, eps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """a = tanh(mean + std eps) ~ pi(.|s) and log pi(a|s) for normalized s and standard-normal ``eps``."""
        mean, log_std = self.actor(obs)
        return squashed_gaussian_from_noise(mean, log_std, eps, epsilon=1e-6)  # (the authors' log correction)

    def draw_action(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """a ~ pi(.|s) and log pi(a|s) for normalized s (noise from the agent's generator)."""
        return self.sample_with(obs, self.gaussian((obs.shape[0], self.act_dim)))

    # ---- acting -------------------------------------------------------------------------------
    def policy(self) -> FastSACPolicy:
        return FastSACPolicy(self.normalizer, self.actor, self.bf16)

    @torch.no_grad()
    def act(self, obs, explore: bool) -> np.ndarray:
        """Exploring: a sample of the policy (the normalizer takes in these observations); else tanh(mean)."""
        o, single = self.observations(obs, explore)
        a = self._explore(self.normalizer(o))[0] if explore else self.acting(o)
        a = a.float().cpu().numpy()
        return a[0] if single else a

    # ---- learning -----------------------------------------------------------------------------
    def q_values(self, obs: torch.Tensor, action: torch.Tensor, weights=None) -> torch.Tensor:
        """Each critic's logits [n, B, K] (float32)."""
        return self.critic(torch.cat([obs, action], -1), weights).float()

    def critic_loss(self, obs, action, next_obs, reward, discount, alpha, eps):
        """J_Q summed over the critics, each against the projection of R - d alpha log pi(a'|s') + d z under
        its own target critic, for a' = tanh(mean + std eps) ~ pi(.|s'); also the critics' logits (detached)
        and log pi(a'|s'). A function of its inputs and the networks (``compile`` compiles it)."""
        with torch.no_grad():
            next_a, next_logp = self.sample_with(next_obs, eps)
            probs = torch.softmax(self.critic_target(torch.cat([next_obs, next_a], -1)).float(), -1)
            target = torch.stack([distributional.project(p, reward - discount * alpha * next_logp, discount, self.z)
                                  for p in probs])  # each critic its own target critic's
        logits = self.q_values(obs, action)
        return distributional.cross_entropy(logits, target).mean(-1).sum(), logits.detach(), next_logp

    def policy_loss(self, obs, alpha, eps, critic_w):
        """J_pi = E[alpha log pi(a|s) - mean_i Q_i(s, a)], a = tanh(mean + std eps), through the critics'
        detached weights ``critic_w``; also log pi(a|s) (detached)."""
        a, logp = self.sample_with(obs, eps)
        q = distributional.expected(self.q_values(obs, a, critic_w), self.z)
        return (alpha * logp - q.mean(0)).mean(), logp.detach()

    def update(self, batch=None) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        batch = self.sample() if batch is None else batch
        obs, next_obs = self.normalizer(batch.obs), self.normalizer(batch.next_obs)
        alpha = self.log_alpha.exp().detach()
        critic_loss, logits, next_logp = self._critic_loss(obs, batch.action, next_obs, batch.reward,
                                                           batch.bootstrap_discount(cfg.gamma), alpha,
                                                           self.gaussian(batch.action.shape))
        self.step(self.critic_opt, critic_loss, self.critic)
        alpha_loss = -(self.log_alpha.exp() * (next_logp + self.target_entropy)).mean()
        if cfg.autotune_alpha:
            self.step(self.alpha_opt, alpha_loss, None)
        self.updates += 1
        if self.updates % cfg.policy_frequency == 1 % cfg.policy_frequency:  # (the authors' i % 4 == 1)
            actor_loss, logp = self._policy_loss(obs, alpha, self.gaussian(batch.action.shape),
                                                 [w.detach() for w in self._online])
            self.step(self.actor_opt, actor_loss, self.actor)
            self.last_policy = {"losses/actor": actor_loss.detach(), "losses/entropy": -logp.mean()}
        with torch.no_grad():
            torch._foreach_lerp_(self._target, self._online, cfg.tau)
            q_mean = distributional.expected(logits, self.z).mean()
        return {"losses/critic": critic_loss.detach(), "losses/alpha": alpha_loss.detach(), "losses/alpha_value": alpha,
                "losses/q_mean": q_mean, **self.last_policy}

    # ---- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "normalizer": self.normalizer.state_dict(),
                "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
                "log_alpha": self.log_alpha.detach().clone(), "actor_opt": self.actor_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "alpha_opt": self.alpha_opt.state_dict(),
                "noise": self.noise.get_state(), "updates": self.updates,
                "last_policy": {k: v.clone() for k, v in self.last_policy.items()}}

    def load_training_state(self, state: dict) -> None:
        with torch.no_grad():
            self.log_alpha.copy_(state["log_alpha"])
        for name in ("actor_opt", "critic_opt", "alpha_opt"):
            getattr(self, name).load_state_dict(state[name])
        self.last_policy = {k: v.to(self.device) for k, v in state["last_policy"].items()}
