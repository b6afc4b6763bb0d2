"""DrM: DrQ-v2 guided by the actor's dormant ratio.

Xu et al. 2023, "DrM: Mastering Visual Reinforcement Learning through Dormant Ratio Minimization"
(arXiv 2310.19668). Everything of DrQ-v2 (``algos/drqv2.py``) plus three uses of the dormant ratio:

    beta = fraction of the actor's Linear units whose mean |output| over the batch is below
           0.025 x the mean of that layer's units               (every update; logged)
    perturb (every 100k steps): theta <- a theta + (1 - a) theta_fresh for encoder, actor, critics,
           a = clip(1 - 2 beta, 0.2, a_max); the optimizers start afresh
    awaken exploration: sigma = sigmoid(10 (beta - 0.2)) until beta first falls below 0.2; then
           max(that, the DrQ-v2 schedule restarted at the awakening step)
    exploitation: V(h) by expectile regression (tau 0.9) toward min_i Qbar_i(h, a);
           y = R + d (lambda V(h') + (1 - lambda) min_i Qbar_i(h', a')), lambda = 0.6 / (1 + exp(50 (beta - 0.2)))

The dormant ratio reaches the host once per act (where the exploration std is decided); the update
itself uses it as a tensor.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
from torch import nn

from visuomotor.algos.drqv2 import DRQV2_TASKS, Actor, Critic, DrQv2, DrQv2Config, clipped_noise_action
from visuomotor.nets import switches
from visuomotor.nets.conv import ConvEncoder, orthogonal_init, trunk


@dataclass
class DrMConfig(DrQv2Config):
    """DrM hyperparameters: DrQ-v2's plus the dormant-ratio ones, defaults from the paper."""

    dormant_threshold: float = 0.025
    """A unit is dormant when its mean |output| is below this fraction of its layer's mean."""
    perturb_every: int = 100_000
    """Policy steps between dormant-ratio-guided perturbations (0 = never)."""
    perturb_rate: float = 2.0
    """a = clip(1 - perturb_rate * beta, perturb_min, perturb_max)."""
    perturb_min: float = 0.2
    """Lower clip of the shrink factor a."""
    perturb_max: float | None = None
    """Upper clip of a; None = the authors' per-task configs: 0.6 on dog and humanoid, 0.9 otherwise
    (their medium tasks, e.g. cheetah-run, hopper-hop, quadruped-run, acrobot-swingup, all set 0.9;
    the paper's text says 1.0 for medium tasks)."""
    awaken_threshold: float = 0.2
    """beta below which the agent is 'awake' (exploration falls back to the schedule)."""
    awaken_temperature: float = 10.0
    """sigma_beta = sigmoid(awaken_temperature * (beta - awaken_threshold))."""
    expectile: float = 0.9
    """Expectile of the value regression toward min Q."""
    lambda_max: float = 0.6
    """lambda = lambda_max / (1 + exp(lambda_temperature * (beta - awaken_threshold)))."""
    lambda_temperature: float = 50.0
    """Sharpness of lambda's switch around the threshold."""

    TASK_PRESETS = (*DRQV2_TASKS, ("dmc/dog-*", {"perturb_max": 0.6}, {}), ("dmc/humanoid-*", {"perturb_max": 0.6}, {}))

    def fill_defaults(self) -> DrMConfig:
        r = super().fill_defaults()
        return r if r.perturb_max is not None else dataclasses.replace(r, perturb_max=0.9)

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.dormant_threshold < 1.0:
            raise ValueError(f"dormant_threshold must be in (0, 1), got {self.dormant_threshold}")
        if self.perturb_every < 0:
            raise ValueError(f"perturb_every must be >= 0, got {self.perturb_every}")
        if not 0.0 <= self.perturb_min <= self.perturb_max <= 1.0:
            raise ValueError(f"need 0 <= perturb_min <= perturb_max <= 1, got {self.perturb_min}, {self.perturb_max}")
        if not 0.0 < self.expectile < 1.0:
            raise ValueError(f"expectile must be in (0, 1), got {self.expectile}")


def dormant_ratio(linear_outputs: list[torch.Tensor], threshold: float = 0.025) -> torch.Tensor:
    """Fraction of units (over all given layers' outputs [B, units]) whose mean |output| over the
    batch is below ``threshold`` x their layer's mean; a 0-dim tensor (no host sync)."""
    dormant, total = [], 0
    for out in linear_outputs:
        mean = out.detach().float().abs().mean(0)
        dormant.append((mean < threshold * mean.mean()).sum())
        total += mean.numel()
    return torch.stack(dormant).sum().float() / max(total, 1)


def expectile_loss(diff: torch.Tensor, expectile: float) -> torch.Tensor:
    """E[|expectile - 1(diff < 0)| diff^2] for diff = target - prediction."""
    weight = torch.where(diff < 0, 1.0 - expectile, expectile)
    return (weight * diff.pow(2)).mean()


class ValueNet(nn.Module):
    def __init__(self, repr_dim: int, feature_dim: int, hidden_dim: int):
        super().__init__()
        self.trunk = trunk(repr_dim, feature_dim)
        self.v = nn.Sequential(nn.Linear(feature_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim),
                               nn.ReLU(), nn.Linear(hidden_dim, 1))
        self.apply(orthogonal_init)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.v(self.trunk(h)).squeeze(-1)


@torch.no_grad()
def shrink_perturb(net: nn.Module, fresh: nn.Module, a: float) -> None:
    """theta <- a theta + (1 - a) theta_fresh, parameter by parameter (LayerNorm included)."""
    for p, q in zip(net.parameters(), fresh.parameters()):
        p.mul_(a).add_(q, alpha=1.0 - a)


class DrM(DrQv2):
    collect_actor_outputs = True

    def __init__(self, observation_space, action_space, cfg: DrMConfig, device="cpu"):
        super().__init__(observation_space, action_space, cfg, device)
        cfg = self.cfg
        self.value = ValueNet(self.encoder.repr_dim, cfg.feature_dim, cfg.hidden_dim).to(self.device)
        self.value_opt = torch.optim.Adam(self.value.parameters(), lr=cfg.lr, fused=self.device.type in ("cpu", "cuda"))
        self._value_loss = switches.autocast_bf16(self.value_loss, self.bf16, self.device)  # (as DrQ-v2's losses)
        self.beta = torch.ones((), device=self.device)  # dormant ratio of the last update (1: all dormant)
        self.awaken_step: int | None = None
        self.last_perturb = 0
        self.last_factor = 1.0  # shrink factor of the latest perturbation (1: none yet)

    # ---- exploration ------------------------------------------------------------------------------
    def exploration_std(self) -> float:
        cfg = self.cfg
        beta = float(self.beta)
        dormant_std = 1.0 / (1.0 + math.exp(-cfg.awaken_temperature * (beta - cfg.awaken_threshold)))
        if self.awaken_step is None and beta < cfg.awaken_threshold:
            self.awaken_step = self.step
        if self.awaken_step is None:
            return dormant_std
        return max(dormant_std, self.stddev(self.step - self.awaken_step))

    # ---- exploitation -----------------------------------------------------------------------------
    def _lambda(self) -> torch.Tensor:
        cfg = self.cfg
        return cfg.lambda_max / (1.0 + torch.exp(cfg.lambda_temperature * (self.beta - cfg.awaken_threshold)))

    def target_value(self, next_h: torch.Tensor, std: float) -> torch.Tensor:
        min_q = super().target_value(next_h, std)
        v = self.value(next_h).float()
        lam = self._lambda()
        return lam * v + (1.0 - lam) * min_q

    def value_loss(self, h: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """The expectile loss of V(f(o)) toward min_i Qbar_i(f(o), a) on detached features ``h``."""
        with torch.no_grad():
            q_target = self.critic_target(h, action).float().amin(0)
        return expectile_loss(q_target - self.value(h).float(), self.cfg.expectile)

    def after_update(self, h: torch.Tensor, action: torch.Tensor, actor_linear: list | None) -> dict:
        cfg = self.cfg
        self.beta = dormant_ratio(actor_linear, cfg.dormant_threshold)
        value_loss = self._value_loss(h, action)
        self.value_opt.zero_grad(set_to_none=True)
        value_loss.backward()
        self.value_opt.step()
        if cfg.perturb_every and self.step - self.last_perturb >= cfg.perturb_every:
            self.last_factor = self.perturb()
        return {"losses/value": value_loss.detach(), "charts/dormant_ratio": self.beta.detach(),
                "losses/lambda": self._lambda().detach(),
                "charts/perturb_factor": torch.tensor(self.last_factor)}  # of the latest perturbation

    # ---- perturbation -----------------------------------------------------------------------------
    def perturb(self) -> float:
        """Shrink encoder, actor, critics and value toward a fresh init by the dormant ratio;
        reset every optimizer. Returns the factor a."""
        cfg = self.cfg
        a = min(max(1.0 - cfg.perturb_rate * float(self.beta), cfg.perturb_min), cfg.perturb_max)
        fresh_critic = Critic(self.encoder.repr_dim, self.act_dim, cfg.feature_dim, cfg.hidden_dim).to(self.device)
        shrink_perturb(self.encoder, ConvEncoder(self.obs_shape).to(self.device), a)
        shrink_perturb(self.actor, Actor(self.encoder.repr_dim, self.act_dim, cfg.feature_dim, cfg.hidden_dim)
                       .to(self.device), a)
        shrink_perturb(self.critic, fresh_critic, a)
        shrink_perturb(self.critic_target, fresh_critic, a)
        shrink_perturb(self.value, ValueNet(self.encoder.repr_dim, cfg.feature_dim, cfg.hidden_dim).to(self.device), a)
        for opt in (self.encoder_opt, self.critic_opt, self.actor_opt, self.value_opt):
            opt.state.clear()
        self.last_perturb = self.step
        return a

    # ---- state ------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {**super().state_dict(), "value": self.value.state_dict(), "value_opt": self.value_opt.state_dict(),
                "beta": self.beta.detach().clone(), "awaken_step": self.awaken_step, "last_perturb": self.last_perturb,
                "last_factor": self.last_factor}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        if "value" in state:
            self.value.load_state_dict(state["value"])
            self.value_opt.load_state_dict(state["value_opt"])
            self.beta = state["beta"].to(self.device)
            self.awaken_step = state["awaken_step"]
            self.last_perturb = int(state["last_perturb"])
            self.last_factor = float(state["last_factor"])


__all__ = ["DrM", "DrMConfig", "dormant_ratio", "expectile_loss", "shrink_perturb", "clipped_noise_action"]
