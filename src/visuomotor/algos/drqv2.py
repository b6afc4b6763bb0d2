"""DrQ-v2: data-augmented actor-critic from pixels.

Yarats et al. 2021, "Mastering Visual Continuous Control: Improved Data-Augmented Reinforcement
Learning" (arXiv 2107.09645); defaults from the paper and the authors' code (facebookresearch/drqv2).

Per update, on a batch (o, a, R, d, o') of frame stacks with n-step returns R and discounts d:

    o, o' <- random_shift(o), random_shift(o')         (pad 4, independent shifts)
    h = f(o) (encoder, trained by the critic loss only), h' = f(o') without gradient
    sigma = schedule(step)                              (exploration std, e.g. linear(1.0,0.1,500000))
    a' = clip_[-1,1](mu(h') + clip(sigma eps, -c, c))   (c = stddev_clip = 0.3)
    y  = R + d min_i Qbar_i(h', a')
    J_Q = sum_i E[(Q_i(h, a) - y)^2]                    (updates encoder and critics)
    a~ = clip_[-1,1](mu(sg(h)) + clip(sigma eps, -c, c)), J_pi = -E[min_i Q_i(sg(h), a~)]
    Qbar <- (1 - tau) Qbar + tau Q                      (tau 0.01; the target has no encoder of its own)

Acting explores with mu(h) + sigma eps (unclipped, then clipped to [-1, 1]); evaluation acts with mu(h).
Actor and critic each start with a trunk Linear -> LayerNorm -> tanh to ``feature_dim``; the
critics are a twin ensemble evaluated with batched matmuls.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from visuomotor.algos.base import Agent, Observes, OffPolicyConfig, Policy, TDConfig
from visuomotor.nets import hardware, switches
from visuomotor.nets.conv import ConvEncoder, orthogonal_init, random_shift, trunk
from visuomotor.nets.mlp import EnsembleMLP
from visuomotor.nets.schedules import parse_schedule


@dataclass
class DrQv2Config(OffPolicyConfig, TDConfig):
    """DrQ-v2 hyperparameters; defaults from the paper (the task's difficulty preset) and the authors' code."""

    preset: Literal["easy", "medium", "hard"] | None = None
    """The paper's difficulty preset: training frames 1.1M / 3.1M / 30.1M and exploration schedule
    linear(1.0,0.1,N) with N = 100k / 500k / 2M policy steps (the frames set --steps when it is not given);
    None = the task's, as in the authors' task configs (see ``DRQV2_TASKS``)."""
    buffer_size: int = 1_000_000
    """Replay capacity in frames (each rendered frame is stored once)."""
    batch_size: int | None = None
    """Transitions per update; None = the paper's: 256, 512 on walker tasks."""
    learning_starts: int = 2_000
    """Policy steps of uniform random actions first (4,000 frames at action repeat 2)."""
    update_every: int = 2
    """Env steps between updates."""
    action_repeat: int = 2
    """Default action repeat of a DrQ-v2 run (--action-repeat overrides it)."""
    n_step: int | None = None
    """n-step returns; None = the paper's: 3, 1 on walker tasks."""
    lr: float | None = None
    """Adam learning rate of encoder, actor and critics; None = the paper's: 1e-4, 8e-5 on humanoid."""
    tau: float = 0.01
    """Polyak step of the target critics per update."""
    feature_dim: int | None = None
    """Trunk output size; None = the paper's: 50, 100 on humanoid."""
    hidden_dim: int = 1024
    """Width of the actor's and critics' two hidden layers."""
    stddev_schedule: str | None = None
    """Exploration std over policy steps: a number, linear(init,final,steps) or step_linear(...);
    None = the preset's."""
    stddev_clip: float = 0.3
    """Clip of the noise in the target's and the actor loss's actions (not in acting)."""
    augment_pad: int = 4
    """Random shift of up to this many pixels (0 = no augmentation)."""
    bf16: bool | None = False
    """bf16 autocast for the networks (losses and optimizer in float32); None = on where bf16 is
    native (CUDA; CPUs with AVX512-BF16 or AMX). Off by default: it makes a CPU update at batch 256
    about 1.6x faster, but the pixel learning check (benchmarks/drqv2_learning.py) did not show it
    learning like float32."""

    def fill_defaults(self) -> DrQv2Config:
        """A copy with every None filled: the paper's general settings, the preset's schedule."""
        preset = self.preset if self.preset is not None else "medium"
        return dataclasses.replace(
            self, preset=preset,
            batch_size=self.batch_size if self.batch_size is not None else 256,
            n_step=self.n_step if self.n_step is not None else 3,
            lr=self.lr if self.lr is not None else 1e-4,
            feature_dim=self.feature_dim if self.feature_dim is not None else 50,
            stddev_schedule=self.stddev_schedule if self.stddev_schedule is not None
            else f"linear(1.0,0.1,{PRESETS[preset][1]})",
        )

    def default_action_repeat(self) -> int:
        return self.action_repeat

    def default_steps(self, action_repeat: int) -> int:
        """Policy steps of the preset's frame budget."""
        return PRESETS[self.preset or "medium"][0] // action_repeat

    def validate_names(self) -> None:
        if self.preset is not None and self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")

    def validate(self) -> None:
        self.validate_names()
        super().validate()
        self.validate_td()
        if self.feature_dim < 1:
            raise ValueError(f"feature_dim must be >= 1, got {self.feature_dim}")
        if self.lr <= 0:
            raise ValueError(f"lr must be > 0, got {self.lr}")
        if self.action_repeat < 1:
            raise ValueError(f"action_repeat must be >= 1, got {self.action_repeat}")
        if self.augment_pad < 0:
            raise ValueError(f"augment_pad must be >= 0, got {self.augment_pad}")
        parse_schedule(self.stddev_schedule)


# preset -> (training frames, exploration schedule horizon in policy steps), from the paper
PRESETS = {"easy": (1_100_000, 100_000), "medium": (3_100_000, 500_000), "hard": (30_100_000, 2_000_000)}
EASY_TASKS = ("cartpole-balance", "cartpole-balance_sparse", "cartpole-swingup", "cup-catch", "finger-spin",
              "hopper-stand", "pendulum-swingup", "walker-stand", "walker-walk")

# The authors' task configs as data (env-id pattern, values, when): easy for the 9 tasks DrQ-v2 lists as
# easy, hard for humanoid (DrQ-v2) and for dog and manipulator (DrM's configs), medium otherwise
# (every non-DMC env included); batch 512 and 1-step returns on walker, lr 8e-5 and 100 features on
# humanoid.
DRQV2_TASKS: tuple[tuple[str, dict, dict], ...] = (
    *((f"dmc/{task}", {"preset": "easy"}, {}) for task in EASY_TASKS),
    *((f"dmc/{domain}-*", {"preset": "hard"}, {}) for domain in ("humanoid", "dog", "manipulator")),
    ("dmc/humanoid-*", {"lr": 8e-5, "feature_dim": 100}, {}),
    ("dmc/walker-*", {"batch_size": 512, "n_step": 1}, {}),
)
DrQv2Config.TASK_PRESETS = DRQV2_TASKS


class Actor(nn.Module):
    def __init__(self, repr_dim: int, act_dim: int, feature_dim: int, hidden_dim: int):
        super().__init__()
        self.trunk = trunk(repr_dim, feature_dim)
        self.policy = nn.Sequential(nn.Linear(feature_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, hidden_dim),
                                    nn.ReLU(), nn.Linear(hidden_dim, act_dim))
        self.apply(orthogonal_init)

    def forward(self, h: torch.Tensor, linear_outputs: list | None = None) -> torch.Tensor:
        """Features -> mean action in [-1, 1]; appends each Linear's output to ``linear_outputs``
        when given (DrM's dormant ratio)."""
        if linear_outputs is None:
            return torch.tanh(self.policy(self.trunk(h)))
        x = h
        for m in [*self.trunk, *self.policy]:
            x = m(x)
            if isinstance(m, nn.Linear):
                linear_outputs.append(x)
        return torch.tanh(x)


class Critic(nn.Module):
    def __init__(self, repr_dim: int, act_dim: int, feature_dim: int, hidden_dim: int, num_critics: int = 2):
        super().__init__()
        self.trunk = trunk(repr_dim, feature_dim)
        self.q = EnsembleMLP(num_critics, feature_dim + act_dim, (hidden_dim, hidden_dim), 1)
        self.apply(orthogonal_init)
        for layer in self.q.layers:  # orthogonal per member, zero bias, as nn.Linear members would be
            for i in range(layer.weight.shape[0]):
                nn.init.orthogonal_(layer.weight.data[i])
            layer.bias.data.zero_()

    def forward(self, h: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """-> Q of every critic, [n, B]."""
        return self.q(torch.cat([self.trunk(h), action], -1)).squeeze(-1)


def clipped_noise_action(mean: torch.Tensor, std: float, clip: float | None,
                         generator: torch.Generator | None = None) -> torch.Tensor:
    """mean + std * eps with eps ~ N(0, 1) (its product clipped to [-clip, clip] when given), then
    clamped into [-1, 1] with a straight-through gradient (DrQ-v2's TruncatedNormal.sample)."""
    noise = torch.randn(mean.shape, generator=generator, dtype=mean.dtype, device=mean.device) * std
    if clip is not None:
        noise = noise.clamp(-clip, clip)
    x = mean + noise
    clamped = x.clamp(-1.0 + 1e-6, 1.0 - 1e-6)
    return x - x.detach() + clamped.detach()


def encode(encoder: nn.Module, obs: torch.Tensor, bf16: bool = False) -> torch.Tensor:
    """Frame stacks (uint8 [B, C, H, W], or float 0..255) -> features [B, repr_dim] in float32; on a CPU
    in channels-last layout, with bf16 autocast when ``bf16``."""
    x = obs
    if x.dim() == 4 and x.device.type == "cpu":
        x = x.contiguous(memory_format=torch.channels_last)
    return switches.autocast_bf16(encoder, bf16, x.device)(x).float()


class DrQv2Policy(Policy):
    """Acting deterministically: a = mu(f(o)) from a frame stack."""

    def __init__(self, encoder: ConvEncoder, actor: Actor, bf16: bool):
        super().__init__()
        self.encoder, self.actor, self.bf16 = encoder, actor, bf16

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        h = encode(self.encoder, obs, self.bf16)
        return switches.autocast_bf16(self.actor, self.bf16, h.device)(h).float()

    def contents(self) -> dict:
        return {"pixel_scaling": "uint8 x -> x / 255 - 0.5", "encoder": "DrQ-v2's 4 conv layers 3x3 (32 channels)",
                "squashing": "tanh", "trained_in_bf16": self.bf16}

    def float32(self) -> DrQv2Policy:
        return DrQv2Policy(self.encoder, self.actor, bf16=False) if self.bf16 else self


class DrQv2(Agent):
    observes = Observes.PIXELS  # a run with --algo drqv2 renders frames
    collect_actor_outputs = False  # DrM reads the actor's Linear outputs in the update

    def __init__(self, observation_space, action_space, cfg: DrQv2Config, device="cpu"):
        super().__init__(observation_space, action_space, cfg, device)
        shape = tuple(observation_space.shape)
        if len(shape) != 3 or observation_space.dtype != np.uint8:
            raise ValueError(f"DrQ-v2 learns from pixels: expected a uint8 [C, H, W] observation, got "
                             f"{observation_space.dtype} {shape} (train with --pixels)")
        self.obs_shape = shape
        self.act_dim = int(np.prod(action_space.shape))
        self.encoder = ConvEncoder(shape).to(self.device)
        repr_dim = self.encoder.repr_dim
        self.actor = Actor(repr_dim, self.act_dim, cfg.feature_dim, cfg.hidden_dim).to(self.device)
        self.critic = Critic(repr_dim, self.act_dim, cfg.feature_dim, cfg.hidden_dim).to(self.device)
        self.critic_target = Critic(repr_dim, self.act_dim, cfg.feature_dim, cfg.hidden_dim).to(self.device)
        self.critic_target.load_state_dict(self.critic.state_dict())
        self.critic_target.requires_grad_(False)
        fused = self.device.type in ("cpu", "cuda")
        self.encoder_opt = torch.optim.Adam(self.encoder.parameters(), lr=cfg.lr, fused=fused)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=cfg.lr, fused=fused)
        self.actor_opt = torch.optim.Adam(self.actor.parameters(), lr=cfg.lr, fused=fused)
        self._online = list(self.critic.parameters())
        self._target = list(self.critic_target.parameters())
        self.stddev = parse_schedule(cfg.stddev_schedule)
        self.bf16 = hardware.use_bf16(cfg.bf16, self.device)
        self.noise = torch.Generator(device=self.device)  # augmentation and update noise
        self.noise.manual_seed(int(torch.randint(0, 2**62, (1,))))
        self.step = 0
        self.acting = DrQv2Policy(self.encoder, self.actor, self.bf16)  # (exploring adds noise to its actions)
        # the speed switch, from outside the losses: bf16 autocast (nets.switches)
        bf16 = functools.partial(switches.autocast_bf16, on=self.bf16, device=self.device)
        self._encode, self._critic_loss, self._actor_loss = bf16(self.encode), bf16(self.critic_loss), bf16(self.actor_loss)

    def set_step(self, step: int) -> None:
        self.step = int(step)

    def encode(self, obs: torch.Tensor) -> torch.Tensor:
        """Frame stacks -> features f(o) [B, repr_dim] (float32)."""
        return encode(self.encoder, obs.to(self.device, non_blocking=True))

    # ---- acting -------------------------------------------------------------------------------
    def policy(self) -> DrQv2Policy:
        return DrQv2Policy(self.encoder, self.actor, self.bf16)

    def describe(self) -> dict:
        return {"bf16": self.bf16}

    @torch.inference_mode()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        o = torch.as_tensor(np.asarray(obs), device=self.device)
        single = o.dim() == 3
        if single:
            o = o.unsqueeze(0)
        mean = self.acting(o.to(self.device, non_blocking=True))
        a = clipped_noise_action(mean, self.exploration_std(), None).clamp(-1, 1) if explore else mean
        a = a.cpu().numpy()
        return a[0] if single else a

    # ---- learning -----------------------------------------------------------------------------
    def _augment(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.to(self.device, non_blocking=True).float()
        return random_shift(x, self.cfg.augment_pad, generator=self.noise) if self.cfg.augment_pad else x

    def exploration_std(self) -> float:
        """The noise std of acting and of the update's sampled actions at the current step."""
        return self.stddev(self.step)

    def target_value(self, next_h: torch.Tensor, std: float) -> torch.Tensor:
        """V(o') in y = R + d V(o'): min over the target critics at a noisy next action."""
        next_a = clipped_noise_action(self.actor(next_h).float(), std, self.cfg.stddev_clip, self.noise)
        return self.critic_target(next_h, next_a).float().amin(0)

    def after_update(self, h: torch.Tensor, action: torch.Tensor, actor_linear: list | None) -> dict:
        """Hook after the actor step (features detached): extra learning and metrics; none here."""
        return {}

    def critic_loss(self, h, action, reward, discount, next_h, std: float):
        """J_Q = sum_i E[(Q_i(f(o), a) - y)^2], y = R + d V(o'); returns (J_Q, Q [n, B], y)."""
        with torch.no_grad():
            target = reward + discount * self.target_value(next_h, std)
        q = self.critic(h, action).float()
        return (q - target).pow(2).mean(-1).sum(), q, target

    def actor_loss(self, h, std: float):
        """J_pi = -E[min_i Q_i(f(o), a)] at a noisy action of the actor, on detached features ``h``; also the
        actor's Linear outputs when ``collect_actor_outputs`` (else None)."""
        actor_linear: list | None = [] if self.collect_actor_outputs else None
        pi_a = clipped_noise_action(self.actor(h, actor_linear).float(), std, self.cfg.stddev_clip, self.noise)
        return -self.critic(h, pi_a).float().amin(0).mean(), actor_linear

    def critic_step(self, h, action, reward, discount, next_h, std: float):
        """One step of critics and encoder on J_Q; returns (J_Q, Q [n, B], target y)."""
        critic_loss, q, target = self._critic_loss(h, action, reward, discount, next_h, std)
        self.encoder_opt.zero_grad(set_to_none=True)
        self.critic_opt.zero_grad(set_to_none=True)
        critic_loss.backward()
        self.critic_opt.step()
        self.encoder_opt.step()
        return critic_loss, q, target

    def actor_step(self, h, std: float):
        """One step of the actor on detached features against the (updated) critics; returns
        (J_pi, the actor's Linear outputs when ``collect_actor_outputs`` else None)."""
        actor_loss, actor_linear = self._actor_loss(h, std)
        self.actor_opt.zero_grad(set_to_none=True)
        actor_loss.backward()
        self.actor_opt.step()
        return actor_loss, actor_linear

    def update(self, batch=None) -> dict[str, torch.Tensor]:
        cfg = self.cfg
        batch = self.sample() if batch is None else batch
        std = self.exploration_std()
        obs = self._encode(self._augment(batch.obs))
        with torch.no_grad():
            next_h = self._encode(self._augment(batch.next_obs))
        action = batch.action.to(self.device)
        critic_loss, q, target = self.critic_step(obs, action, batch.reward.to(self.device),
                                                  batch.discount.to(self.device), next_h, std)
        h = obs.detach()
        actor_loss, actor_linear = self.actor_step(h, std)
        with torch.no_grad():
            torch._foreach_lerp_(self._target, self._online, cfg.tau)
        return {
            "losses/critic": critic_loss.detach(),
            "losses/actor": actor_loss.detach(),
            "losses/q_mean": q.detach().mean(),
            "losses/target_q": target.mean(),
            "losses/stddev": torch.tensor(float(std)),
            **self.after_update(h, action, actor_linear),
        }

    # ---- storage ------------------------------------------------------------------------------
    def make_replay(self, capacity: int, seed: int):
        from visuomotor.buffers.frames import frame_replay_for

        return frame_replay_for(self.obs_shape, self.act_dim, capacity, self.cfg.n_step, self.cfg.gamma,
                                self.device, seed)

    # ---- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {
            "encoder": self.encoder.state_dict(),
            "actor": self.actor.state_dict(),
            "critic": self.critic.state_dict(),
            "critic_target": self.critic_target.state_dict(),
            "encoder_opt": self.encoder_opt.state_dict(),
            "critic_opt": self.critic_opt.state_dict(),
            "actor_opt": self.actor_opt.state_dict(),
            "noise": self.noise.get_state(),
            "step": self.step,
        }

    def policy_state_dict(self) -> dict:
        return {"encoder": self.encoder.state_dict(), "actor": self.actor.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.encoder.load_state_dict(state["encoder"])
        self.actor.load_state_dict(state["actor"])
        if "critic" in state:
            self.critic.load_state_dict(state["critic"])
            self.critic_target.load_state_dict(state["critic_target"])
            self.encoder_opt.load_state_dict(state["encoder_opt"])
            self.critic_opt.load_state_dict(state["critic_opt"])
            self.actor_opt.load_state_dict(state["actor_opt"])
            self.noise.set_state(state["noise"])
            self.step = int(state["step"])
