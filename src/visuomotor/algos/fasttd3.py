"""FastTD3: TD3 on many parallel envs with large batches and a distributional critic.

Seo et al. 2025, "FastTD3: Simple, Fast, and Capable Reinforcement Learning for Humanoid Control"
(arXiv 2505.22642); defaults from the paper and the authors' code (younggyoseo/FastTD3).

N envs step together; each env explores with its own noise scale sigma_e ~ U(std_min, std_max), drawn
again when its episode ends. Observations are normalized by running statistics (updated as the envs
are stepped; saved with the policy). Per update, on a batch (s, a, R, d, s') of n-step returns R and
discounts d = gamma^m (0 after a termination; a time limit bootstraps from its real last state):

    a' = clip(pi(s') + clip(eps sigma_target, -c, c), -1, 1)      (no target actor; c = noise_clip)
    p_i = softmax(Qbar_i(s', a')) on the support z of K atoms       (two target critics)
    m_i = Proj(R + d z, p_i)                                        (nets/distributional.py)
    clipped double Q: both critics learn the m_i whose mean sum_j m_ij z_j is the smaller
    J_Q = sum_i CE(m, Q_i(s, a))                                    (cross-entropy to each critic)
    every policy_frequency-th update: J_pi = -E[min_i sum_j softmax(Q_i(s, pi(s)))_j z_j]
    Qbar <- (1 - tau) Qbar + tau Q                                  (tau 0.1)

AdamW (weight decay 0.1) for both; the actor's last layer starts near zero (N(0, 0.01)). The critics
are one ensemble of two MLPs (1024, 512, 256) evaluated with batched matmuls; the actor is an MLP
(512, 256, 128) with a tanh. Updates run under bf16 autocast where bf16 is native. Two presets: ``cpu``
(16 envs, batch 1,024: what two CPU cores step and update) and ``gpu`` (the paper's 1,024 envs, batch
32,768).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from visuomotor.algos.fast_common import FastAgent, FastConfig, FastPolicy
from visuomotor.nets import distributional
from visuomotor.nets.mlp import mlp


@dataclass
class FastTD3Config(FastConfig):
    """FastTD3 hyperparameters; defaults from the authors' code."""

    PRESETS: ClassVar[dict[str, dict]] = {  # both with the authors' networks
        "cpu": dict(envs=16, batch_size=1024, actor_hidden=(512, 256, 128), critic_hidden=(1024, 512, 256)),
        "gpu": dict(envs=1024, batch_size=32768, actor_hidden=(512, 256, 128), critic_hidden=(1024, 512, 256)),
    }
    DEFAULTS: ClassVar[dict] = dict(gamma=0.99, n_step=1, std_min=0.001, policy_noise=0.001, v_min=-250.0, v_max=250.0)
    buffer_per_env: ClassVar[int] = 10_240  # (the authors' Playground setting)

    updates_per_step: int = 2
    """Updates per round (per step of all the envs): the paper's 2."""
    policy_frequency: int = 2
    """The actor and the targets' policy learn every this many updates (delayed policy updates)."""
    tau: float = 0.1
    """Polyak step of the target critics per update."""
    weight_decay: float = 0.1
    """AdamW weight decay of both."""
    critic_hidden: tuple[int, ...] | None = None
    """Hidden widths of each critic; None = the preset's (the authors' 1024-512-256)."""
    std_min: float | None = None
    """Smallest per-env exploration noise scale; None = 0.001, 0.1 on DMC tasks."""
    std_max: float = 0.4
    """Largest per-env exploration noise scale (each env draws its own in [std_min, std_max])."""
    policy_noise: float | None = None
    """Std of the target policy's smoothing noise; None = 0.001, 0.1 on DMC tasks."""
    noise_clip: float = 0.5
    """Clip of the target policy's smoothing noise."""
    init_scale: float = 0.01
    """Std of the actor's output layer weights at the start (bias 0)."""
    use_cdq: bool = True
    """Clipped double Q: the lower of the two target distributions (by mean) for both critics, the min
    of the two in the policy loss; False = each critic its own target, their mean in the policy loss."""

    def validate(self) -> None:
        super().validate()
        if not 0.0 <= self.std_min <= self.std_max:
            raise ValueError(f"need 0 <= std_min <= std_max, got {self.std_min}, {self.std_max}")
        for name in ("policy_noise", "noise_clip", "init_scale"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


FASTTD3_PRESETS = FastTD3Config.PRESETS
# The authors' per-suite settings as data: their DMC example (CheetahRun) and Playground defaults.
FastTD3Config.TASK_PRESETS = (
    ("dmc/*", {"n_step": 3, "v_min": -500.0, "v_max": 500.0, "std_min": 0.1, "policy_noise": 0.1}, {}),
    ("playground/*", {"gamma": 0.97, "v_min": -10.0, "v_max": 10.0}, {}),
    ("gym/HalfCheetah*", {"v_min": -1000.0, "v_max": 1000.0}, {}),  # (as FastSAC's: returns of up to ~12 per step)
)


class Actor(nn.Module):
    """Normalized s -> a in [-1, 1]: the config's network family with a tanh (the authors': a ReLU MLP of
    ``actor_hidden`` whose output layer starts near zero)."""

    def __init__(self, obs_dim: int, act_dim: int, cfg: FastTD3Config):
        super().__init__()
        self.net = cfg.family().actor(cfg, obs_dim, (act_dim,), lambda: self.authors(obs_dim, act_dim, cfg))

    @staticmethod
    def authors(obs_dim: int, act_dim: int, cfg: FastTD3Config) -> nn.Module:
        net = mlp(obs_dim, cfg.actor_hidden, act_dim)
        nn.init.normal_(net[-1].weight, 0.0, cfg.init_scale)
        nn.init.zeros_(net[-1].bias)
        return net

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


class FastTD3Policy(FastPolicy):
    """Acting deterministically: a = pi(normalize(s))."""


class FastTD3(FastAgent):
    config_cls = FastTD3Config

    def __init__(self, observation_space, action_space, cfg: FastTD3Config, device="cpu",
                 num_envs: int = 1):
        super().__init__(observation_space, action_space, cfg, device, num_envs)
        cfg = self.cfg
        self.actor = Actor(self.obs_dim, self.act_dim, cfg).to(self.device)
        self.critic, self.critic_target = self.make_critics(2), self.make_critics(2)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        self.z = distributional.support(cfg.v_min, cfg.v_max, cfg.num_atoms, self.device)
        fused = self.device.type in ("cpu", "cuda")
        self.actor_opt = torch.optim.AdamW(self.actor.parameters(), lr=cfg.actor_lr, weight_decay=cfg.weight_decay,
                                           fused=fused)
        self.critic_opt = torch.optim.AdamW(self.critic.parameters(), lr=cfg.critic_lr,
                                            weight_decay=cfg.weight_decay, fused=fused)
        self.noise_scales = self.draw_scales(self.num_envs)  # (self.noise: exploration, scales, smoothing)
        self.last_actor_loss = torch.zeros((), device=self.device)
        self._online, self._target = self.critic.flat_params(), self.critic_target.flat_params()
        self._critic_loss, self._policy_loss = self.sped_up(self.critic_loss), self.sped_up(self.policy_loss)
        self.acting = self.policy()  # (the exploring actions add noise to its)

    # ---- acting -------------------------------------------------------------------------------
    def draw_scales(self, n: int) -> torch.Tensor:
        """n per-env exploration noise scales, uniform in [std_min, std_max], [n, 1]."""
        u = torch.rand((n, 1), generator=self.noise, device=self.device)
        return self.cfg.std_min + u * (self.cfg.std_max - self.cfg.std_min)

    def policy(self) -> FastTD3Policy:
        return FastTD3Policy(self.normalizer, self.actor, self.bf16)

    @torch.no_grad()
    def act(self, obs, explore: bool) -> np.ndarray:
        """Exploring: pi(s_e) + sigma_e eps per env (the normalizer takes in these observations)."""
        o, single = self.observations(obs, explore)
        a = self.acting(o)
        if explore:
            scales = self.noise_scales if len(a) == len(self.noise_scales) else self.noise_scales[:1]
            a = (a + torch.randn(a.shape, generator=self.noise, device=self.device) * scales).clamp(-1.0, 1.0)
        a = a.cpu().numpy()
        return a[0] if single else a

    def observe(self, t) -> None:
        super().observe(t)
        ended = torch.as_tensor(np.asarray(t.terminated) | np.asarray(t.truncated), device=self.device).reshape(-1)
        if bool(ended.any()):  # a fresh noise scale for every env whose episode ended
            self.noise_scales = torch.where(ended[:, None], self.draw_scales(len(ended)), self.noise_scales)

    # ---- learning -----------------------------------------------------------------------------
    def critic_target_dist(self, reward, discount, next_obs, eps) -> torch.Tensor:
        """The projected target distribution(s) [2, B, K] for the smoothing noise's standard-normal draw
        ``eps`` [B, |A|]: with clipped double Q the one of the lower mean for both."""
        cfg = self.cfg
        with torch.no_grad():
            next_a = self.actor(next_obs).float()
            next_a = (next_a + (eps * cfg.policy_noise).clamp(-cfg.noise_clip, cfg.noise_clip)).clamp(-1.0, 1.0)
            logits = self.critic_target(torch.cat([next_obs, next_a], -1)).float()  # [2, B, K]
        probs = torch.softmax(logits, -1)
        proj = torch.stack([distributional.project(p, reward, discount, self.z) for p in probs])
        if not cfg.use_cdq:
            return proj
        values = (proj * self.z).sum(-1)  # [2, B]
        lower = torch.where((values[0] < values[1])[:, None], proj[0], proj[1])
        return lower.unsqueeze(0).expand(2, -1, -1)

    def critic_loss(self, obs, action, next_obs, reward, discount, eps):
        """J_Q = sum_i CE(m, Q_i(s, a)) and the critics' logits (detached). A function of its inputs and
        the networks (``compile`` compiles it)."""
        target = self.critic_target_dist(reward, discount, next_obs, eps)
        logits = self.critic(torch.cat([obs, action], -1)).float()
        return distributional.cross_entropy(logits, target).mean(-1).sum(), logits.detach()

    def policy_loss(self, obs, critic_w):
        """J_pi = -E[min_i Q_i(s, pi(s))] (mean_i without clipped double Q) through the critics' detached
        weights ``critic_w``."""
        q = self.critic(torch.cat([obs, self.actor(obs).float()], -1), critic_w)
        values = distributional.expected(q.float(), self.z)  # [2, B]
        return -(values.amin(0) if self.cfg.use_cdq else values.mean(0)).mean()

    def update(self, batch=None) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        batch = self.sample() if batch is None else batch
        obs, next_obs = self.normalizer(batch.obs), self.normalizer(batch.next_obs)
        critic_loss, logits = self._critic_loss(obs, batch.action, next_obs, batch.reward,
                                                batch.bootstrap_discount(cfg.gamma), self.gaussian(batch.action.shape))
        self.step(self.critic_opt, critic_loss, self.critic)
        self.updates += 1
        if self.updates % cfg.policy_frequency == 0:
            actor_loss = self._policy_loss(obs, [w.detach() for w in self._online])
            self.step(self.actor_opt, actor_loss, self.actor)
            self.last_actor_loss = actor_loss.detach()
        with torch.no_grad():
            torch._foreach_lerp_(self._target, self._online, cfg.tau)
            q_mean = distributional.expected(logits, self.z).mean()
        return {"losses/critic": critic_loss.detach(), "losses/actor": self.last_actor_loss, "losses/q_mean": q_mean,
                "charts/noise_scale": self.noise_scales.mean()}

    # ---- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "normalizer": self.normalizer.state_dict(),
                "critic": self.critic.state_dict(), "critic_target": self.critic_target.state_dict(),
                "actor_opt": self.actor_opt.state_dict(), "critic_opt": self.critic_opt.state_dict(),
                "noise": self.noise.get_state(), "noise_scales": self.noise_scales.clone(), "updates": self.updates,
                "last_actor_loss": self.last_actor_loss.clone()}

    def load_training_state(self, state: dict) -> None:
        self.actor_opt.load_state_dict(state["actor_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.noise_scales = state["noise_scales"].to(self.device)
        self.last_actor_loss = state["last_actor_loss"].to(self.device)
