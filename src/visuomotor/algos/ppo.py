"""PPO: proximal policy optimization with clipped surrogate, for many parallel environments.

Schulman et al. 2017, "Proximal Policy Optimization Algorithms" (arXiv 1707.06347), as run at
scale by RSL-RL (Rudin et al. 2022, "Learning to Walk in Minutes Using Massively Parallel Deep RL";
leggedrobotics/rsl_rl) and by Stable-Baselines3. Two presets hold the two codebases' defaults.

Each iteration: every env runs ``num_steps`` steps of the Gaussian policy (observations normalized
by running statistics), then with advantages A from GAE(gamma, lambda) (time-outs bootstrapped with
V of the true final observation) and returns R = A + V_old, for ``epochs`` passes over random
minibatches:

    r = pi(a|s) / pi_old(a|s)
    L_clip  = -E[min(r A, clip(r, 1 - eps, 1 + eps) A)]
    L_value = E[max((V - R)^2, (V_old + clip(V - V_old, -eps, eps) - R)^2)]   (or plain (V - R)^2)
    L = L_clip + c_v L_value - c_e H[pi]
    one Adam step on L with the global gradient norm clipped to ``max_grad_norm``

With ``lr_schedule=adaptive`` (RSL-RL) the learning rate is divided by 1.5 when the minibatch's
KL(pi_old || pi) exceeds 2 x ``desired_kl`` and multiplied by 1.5 when it falls below half of it
(within [1e-5, 1e-2]); the rate is a tensor, changed without a host sync. Actions are sampled from
an unbounded Gaussian and clipped to [-1, 1] only when sent to the environment (the stored action
is the sample, so its log-probability is exact). Actor and critic may see different observations
(an asymmetric critic on privileged observations, when the env provides ``info["critic_obs"]``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from visuomotor.algos.base import AlgoConfig, EnvSpec, OnPolicyAgent, Policy, Transitions
from visuomotor.buffers.rollout import RolloutStorage
from visuomotor.nets.mlp import mlp
from visuomotor.nets.normalizer import EmpiricalNormalizer, ReturnScaler
from visuomotor.nets.schedules import parse_schedule

ACTIVATIONS: dict[str, type[nn.Module]] = {"elu": nn.ELU, "tanh": nn.Tanh, "relu": nn.ReLU}

# preset -> defaults of every field left None (RSL-RL's PPO and OnPolicyRunner; SB3's PPO)
PRESETS: dict[str, dict] = {
    "rsl_rl": dict(num_envs=64, num_steps=24, epochs=5, num_minibatches=4, minibatch_size=None,
                   learning_rate=1e-3, lr_schedule="adaptive", value_coef=1.0, entropy_coef=0.01,
                   max_grad_norm=1.0, clip_value_loss=True, hidden=(256, 256, 256), activation="elu",
                   normalize_obs=True, normalize_rewards=False, advantage_norm="batch", orthogonal_init=False),
    "sb3": dict(num_envs=1, num_steps=2048, epochs=10, num_minibatches=None, minibatch_size=64,
                learning_rate=3e-4, lr_schedule="fixed", value_coef=0.5, entropy_coef=0.0,
                max_grad_norm=0.5, clip_value_loss=False, hidden=(64, 64), activation="tanh",
                normalize_obs=False, normalize_rewards=False, advantage_norm="minibatch", orthogonal_init=True),
}


@dataclass
class PPOConfig(AlgoConfig):
    """PPO hyperparameters. Fields left None take the preset's value (see ``PRESETS``)."""

    preset: Literal["rsl_rl", "sb3"] = "rsl_rl"
    """rsl_rl: RSL-RL's defaults (24 steps x many envs, 5 epochs x 4 minibatches, lr 1e-3 adapted to
    KL 0.01, [256,256,256] ELU, obs normalization, clipped value loss); sb3: Stable-Baselines3's
    (2048 steps, 10 epochs of 64-sample minibatches, lr 3e-4, [64,64] tanh, orthogonal init)."""
    num_envs: int | None = None
    """Default of --num-envs for this algorithm: rsl_rl preset 64 (RSL-RL runs 4096 on a GPU), sb3 1."""
    num_steps: int | None = None
    """Steps per env per rollout (RSL-RL num_steps_per_env 24; SB3 n_steps 2048)."""
    epochs: int | None = None
    """Passes over each rollout (RSL-RL 5; SB3 10)."""
    num_minibatches: int | None = None
    """Minibatches per pass (RSL-RL 4). Give this or minibatch_size."""
    minibatch_size: int | None = None
    """Samples per minibatch (SB3 batch_size 64): minibatches = num_steps x num_envs / this."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    clip: float = 0.2
    """Clip range of the probability ratio (and of the value change with clip_value_loss)."""
    learning_rate: float | None = None
    """Adam learning rate (the start value with lr_schedule=adaptive)."""
    lr_schedule: str | None = None
    """adaptive (RSL-RL: KL-driven), fixed, or a schedule over env steps such as linear(3e-4,0,1000000)."""
    desired_kl: float = 0.01
    """Target KL(pi_old || pi) of the adaptive learning rate."""
    value_coef: float | None = None
    """Weight of the value loss (RSL-RL 1.0; SB3 0.5)."""
    entropy_coef: float | None = None
    """Weight of the entropy bonus (RSL-RL 0.01; SB3 0.0)."""
    max_grad_norm: float | None = None
    """Clip of the global gradient norm (RSL-RL 1.0; SB3 0.5)."""
    clip_value_loss: bool | None = None
    """Clip the value change to +-clip around the rollout's values (RSL-RL yes; SB3 no)."""
    hidden: tuple[int, ...] | None = None
    """Hidden widths of the actor and the critic (RSL-RL [256,256,256]; SB3 [64,64])."""
    activation: Literal["elu", "tanh", "relu"] | None = None
    """Hidden activation (RSL-RL elu; SB3 tanh)."""
    init_noise_std: float | None = None
    """Initial standard deviation of the Gaussian policy. None = SB3's 1.0 with the sb3 preset; with
    rsl_rl, RSL-RL's 1.0 on Playground envs (whose actions are scaled the way RSL-RL's tasks scale
    them) and 0.5 elsewhere: our gym/dmc actions span the whole actuator range in [-1, 1], where std 1
    saturates most actions and (measured on Ant-v5) makes falling early pay more than living.
    Resolved without an env id (an agent built directly from a bare config) it is 1.0."""
    state_dependent_std: bool = False
    """Log-std as an output of the actor network instead of a free parameter per action dim."""
    normalize_obs: bool | None = None
    """Running mean/std normalization of observations (saved with the policy; RSL-RL yes, SB3 no)."""
    normalize_rewards: bool | None = None
    """Divide rewards by the running std of the discounted return (SB3's VecNormalize reward
    scaling, CleanRL's PPO), clipped to +-10; the critic then learns returns in those units."""
    advantage_norm: Literal["batch", "minibatch", "none"] | None = None
    """Normalize advantages over the whole rollout (RSL-RL) or per minibatch (SB3), or not at all."""
    orthogonal_init: bool | None = None
    """Orthogonal init, gain sqrt(2) hidden, 0.01 policy output, 1 value output (SB3); else torch's."""
    obs_clip: float = 10.0
    """Clip of the normalized observations."""
    total_steps: int = 1_000_000
    """Default --steps (env steps summed over every env)."""

    # RSL-RL's initial std 1.0 where actions are scaled as its tasks scale them (Playground); 0.5 on
    # gym/dmc envs, whose [-1, 1] actions span the whole actuator range (see init_noise_std)
    TASK_PRESETS = (("*", {"init_noise_std": 0.5}, {"preset": "rsl_rl"}),
                    ("playground/*", {"init_noise_std": 1.0}, {"preset": "rsl_rl"}))

    def fill_defaults(self) -> PPOConfig:
        """A copy with every None filled from the preset."""
        preset = PRESETS[self.preset]
        fill = {k: v for k, v in preset.items() if getattr(self, k) is None}
        if self.init_noise_std is None:
            fill["init_noise_std"] = 1.0
        if self.num_minibatches is not None or self.minibatch_size is not None:
            fill.pop("num_minibatches", None), fill.pop("minibatch_size", None)
        return dataclasses.replace(self, **fill)

    def default_steps(self, action_repeat: int) -> int:
        return self.total_steps

    def default_num_envs(self) -> int:
        return self.num_envs

    def minibatches_for(self, num_envs: int) -> int:
        """Minibatches per pass for a rollout of num_steps x num_envs samples."""
        if self.num_minibatches is not None:
            return self.num_minibatches
        return max(1, (self.num_steps * num_envs) // self.minibatch_size)

    def validate_names(self) -> None:
        if self.preset not in PRESETS:
            raise ValueError(f"preset must be one of {', '.join(PRESETS)}, got {self.preset!r}")

    def validate(self) -> None:
        self.validate_names()
        if self.num_minibatches is not None and self.minibatch_size is not None:
            raise ValueError("give num_minibatches or minibatch_size, not both")
        for name in ("num_envs", "num_steps", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.num_minibatches is not None and self.num_minibatches < 1:
            raise ValueError(f"num_minibatches must be >= 1, got {self.num_minibatches}")
        if self.minibatch_size is not None and self.minibatch_size < 1:
            raise ValueError(f"minibatch_size must be >= 1, got {self.minibatch_size}")
        if not 0.0 <= self.gamma <= 1.0 or not 0.0 <= self.gae_lambda <= 1.0:
            raise ValueError(f"gamma and gae_lambda must be in [0, 1], got {self.gamma}, {self.gae_lambda}")
        for name in ("clip", "learning_rate", "desired_kl", "max_grad_norm", "init_noise_std", "obs_clip"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.value_coef < 0 or self.entropy_coef < 0:
            raise ValueError(f"value_coef and entropy_coef must be >= 0, got {self.value_coef}, {self.entropy_coef}")
        if not self.hidden or any(h <= 0 for h in self.hidden):
            raise ValueError(f"hidden must be positive widths, got {self.hidden}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.advantage_norm not in ("batch", "minibatch", "none"):
            raise ValueError(f"advantage_norm must be batch, minibatch or none, got {self.advantage_norm!r}")
        if self.lr_schedule not in ("adaptive", "fixed"):
            parse_schedule(self.lr_schedule)
        if self.total_steps < 1:
            raise ValueError(f"total_steps must be >= 1, got {self.total_steps}")


def _orthogonal(net: nn.Sequential, out_gain: float) -> None:
    linears = [m for m in net if isinstance(m, nn.Linear)]
    for i, m in enumerate(linears):
        nn.init.orthogonal_(m.weight, gain=out_gain if i == len(linears) - 1 else math.sqrt(2.0))
        nn.init.zeros_(m.bias)


class ActorCritic(nn.Module):
    """Gaussian actor and value critic, each behind its own observation normalizer."""

    def __init__(self, obs_dim: int, critic_obs_dim: int, act_dim: int, cfg: PPOConfig):
        super().__init__()
        act = ACTIVATIONS[cfg.activation]
        self.state_dependent_std = cfg.state_dependent_std
        self.actor = mlp(obs_dim, cfg.hidden, 2 * act_dim if cfg.state_dependent_std else act_dim, act)
        self.critic = mlp(critic_obs_dim, cfg.hidden, 1, act)
        if cfg.orthogonal_init:
            _orthogonal(self.actor, 0.01)
            _orthogonal(self.critic, 1.0)
        self.log_std = nn.Parameter(torch.full((act_dim,), math.log(cfg.init_noise_std)),
                                    requires_grad=not cfg.state_dependent_std)
        self.obs_norm = EmpiricalNormalizer(obs_dim, clip=cfg.obs_clip) if cfg.normalize_obs else nn.Identity()
        self.critic_obs_norm = (EmpiricalNormalizer(critic_obs_dim, clip=cfg.obs_clip) if cfg.normalize_obs
                                else nn.Identity())

    def distribution(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mean, std) of the Gaussian for normalized observations."""
        out = self.actor(obs)
        if self.state_dependent_std:
            mean, log_std = out.chunk(2, dim=-1)
            log_std = (log_std + self.log_std).clamp(-20.0, 2.0)
        else:
            mean, log_std = out, self.log_std.expand_as(out)
        return mean, log_std.exp()

    def value(self, critic_obs: torch.Tensor) -> torch.Tensor:
        return self.critic(critic_obs).squeeze(-1)


def gaussian_log_prob(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, diag(std^2)) summed over the last dim."""
    return (-0.5 * ((x - mean) / std).pow(2) - std.log() - 0.5 * math.log(2.0 * math.pi)).sum(-1)


def gaussian_kl(mean0, std0, mean1, std1) -> torch.Tensor:
    """KL(N0 || N1) of diagonal Gaussians, summed over the last dim."""
    return (torch.log(std1 / std0) + (std0.pow(2) + (mean0 - mean1).pow(2)) / (2.0 * std1.pow(2)) - 0.5).sum(-1)


class PPOPolicy(Policy):
    """Acting deterministically: the Gaussian's mean for normalized observations, clipped to [-1, 1]."""

    def __init__(self, model: ActorCritic):
        super().__init__()
        self.model = model

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        obs = obs.float().reshape(obs.shape[0], -1)
        return self.model.distribution(self.model.obs_norm(obs))[0].clamp(-1.0, 1.0)

    def contents(self) -> dict:
        norm = self.model.obs_norm
        return {"normalizer": f"clip((s - mean) / sqrt(var + {norm.eps:g}), -{norm.clip:g}, {norm.clip:g}), the "
                              f"running statistics of training" if hasattr(norm, "mean") else None,
                "squashing": "the Gaussian's mean clipped to [-1, 1]"}


class PPO(OnPolicyAgent):
    """The agent: acting in rollouts, the rollout's bootstrapping and GAE, and the PPO update."""

    def __init__(self, observation_space, action_space, cfg: PPOConfig, device, critic_obs_dim: int | None = None):
        super().__init__(observation_space, action_space, cfg, device)
        self.obs_dim = int(np.prod(observation_space.shape))
        self.act_dim = int(np.prod(action_space.shape))
        self.critic_obs_dim = critic_obs_dim or self.obs_dim
        self.asymmetric = critic_obs_dim is not None
        self.model = ActorCritic(self.obs_dim, self.critic_obs_dim, self.act_dim, cfg).to(self.device)
        self.lr = torch.tensor(cfg.learning_rate, device=self.device)
        params = [p for p in self.model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.Adam(params, lr=self.lr, fused=True)
        self.lr_fn = None if cfg.lr_schedule in ("adaptive", "fixed") else parse_schedule(cfg.lr_schedule)
        self.reward_scaler = ReturnScaler(cfg.gamma).to(self.device) if cfg.normalize_rewards else None
        self.generator = torch.Generator()  # minibatch shuffling
        self.generator.manual_seed(int(torch.randint(0, 2**62, ()).item()))
        self._step: dict[str, torch.Tensor] | None = None  # the rollout step acted on, until observed
        self._last: torch.Tensor | None = None  # the (critic) observations after the newest observed step

    @classmethod
    def from_spec(cls, spec: EnvSpec, cfg: PPOConfig, device) -> PPO:
        return cls(spec.observation_space, spec.action_space, cfg, device, critic_obs_dim=spec.critic_obs_dim)

    def build_storage(self, spec: EnvSpec, capacity: int, seed: int) -> None:
        """The rollout: num_steps x num_envs (``capacity`` and ``seed`` belong to replays)."""
        self.storage = RolloutStorage(self.cfg.num_steps, spec.num_envs, self.obs_dim, self.act_dim, self.device,
                                      critic_obs_dim=self.critic_obs_dim if self.asymmetric else None)

    @property
    def rollout_steps(self) -> int:
        return self.cfg.num_steps

    def policy(self) -> PPOPolicy:
        return PPOPolicy(self.model)

    # ---- acting -------------------------------------------------------------------------------
    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool) -> np.ndarray:
        """Action(s) for raw observation(s) (evaluation: the Gaussian's mean), clipped to [-1, 1]."""
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        single = o.dim() == 1
        mean, std = self.model.distribution(self.model.obs_norm(o.reshape(-1, self.obs_dim)))
        a = mean + std * torch.randn_like(mean) if explore else mean
        a = a.clamp(-1.0, 1.0).cpu().numpy()
        return a[0] if single else a

    @torch.no_grad()
    def explore(self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None,
                update_normalizer: bool = True) -> dict[str, torch.Tensor]:
        """One rollout step for raw observations [N, D]: the sample, its log-prob, V(s), and what the
        storage keeps (normalized observations, mean, std). Updates the normalizers first."""
        critic_obs = obs if critic_obs is None else critic_obs
        if update_normalizer and self.cfg.normalize_obs:
            self.model.obs_norm.update(obs)
            if self.asymmetric:
                self.model.critic_obs_norm.update(critic_obs)
        nobs = self.model.obs_norm(obs)
        ncobs = self.model.critic_obs_norm(critic_obs) if self.asymmetric else nobs
        mean, std = self.model.distribution(nobs)
        action = mean + std * torch.randn_like(mean)
        return {"obs": nobs, "critic_obs": ncobs, "actions": action, "log_probs": gaussian_log_prob(action, mean, std),
                "values": self.model.value(ncobs), "mean": mean, "std": std}

    @torch.no_grad()
    def value(self, critic_obs: torch.Tensor) -> torch.Tensor:
        """V of raw (critic) observations [N, D] (bootstraps of truncated and unfinished episodes)."""
        norm = self.model.critic_obs_norm if self.asymmetric else self.model.obs_norm
        return self.model.value(norm(critic_obs))

    def scale_rewards(self, reward: torch.Tensor, ended: torch.Tensor) -> torch.Tensor:
        """The rewards the update learns from (scaled when normalize_rewards; else as given)."""
        return reward if self.reward_scaler is None else self.reward_scaler(reward, ended)

    # ---- the rollout --------------------------------------------------------------------------
    def act_rollout(self, obs: torch.Tensor, critic_obs: torch.Tensor | None = None) -> torch.Tensor:
        """One rollout step for raw observations [N, D] (and privileged ones for an asymmetric critic):
        the sampled actions, clipped to [-1, 1] for the envs; the step waits for ``observe``."""
        self._step = self.explore(obs, critic_obs)
        return self._step["actions"].clamp(-1.0, 1.0)

    def observe(self, t: Transitions) -> None:
        """Complete the step ``act_rollout`` began: rewards scaled (normalize_rewards), a time limit
        bootstrapped from V(real last observation) (the step then counts as an episode end, so GAE
        never looks into the next episode), and the step stored."""
        dev = self.device
        as_t = lambda x, dt=torch.float32: torch.as_tensor(x, dtype=dt, device=dev)  # noqa: E731
        out, self._step = self._step, None
        term, trunc = as_t(t.terminated, torch.bool), as_t(t.truncated, torch.bool)
        ended = term | trunc
        rewards = self.scale_rewards(as_t(t.reward), ended)
        timeout = (trunc & ~term).nonzero().squeeze(1)
        if len(timeout):
            final = as_t(t.final_obs if not self.asymmetric else t.final_critic_obs)
            rewards[timeout] += self.cfg.gamma * self.value(final[timeout].reshape(len(timeout), -1))
        self.storage.add(out["obs"], out["actions"], out["log_probs"], out["values"], rewards, ended.float(),
                         out["mean"], out["std"], critic_obs=out["critic_obs"] if self.asymmetric else None)
        self._last = t.next_obs if not self.asymmetric else t.critic_obs

    def set_step(self, step: int) -> None:
        if self.lr_fn is not None:
            self.lr.fill_(self.lr_fn(step))

    # ---- learning -----------------------------------------------------------------------------
    def update(self, storage: RolloutStorage | None = None) -> dict[str, torch.Tensor]:
        """``epochs`` x minibatches of clipped-surrogate steps on the filled rollout (its returns from GAE
        with V of the observations after it); mean metrics. ``storage`` given: a rollout whose returns
        are already computed."""
        cfg = self.cfg
        if storage is None:
            storage = self.storage
            last = torch.as_tensor(self._last, dtype=torch.float32, device=self.device)
            storage.compute_returns(self.value(last), cfg.gamma, cfg.gae_lambda)
        if cfg.advantage_norm == "batch":
            a = storage.advantages
            storage.advantages = (a - a.mean()) / (a.std() + 1e-8)
        n_mb = cfg.minibatches_for(storage.num_envs)
        sums = torch.zeros(7, device=self.device)
        n = 0
        for mb in storage.minibatches(n_mb, cfg.epochs, self.generator):
            mean, std = self.model.distribution(mb["obs"])
            log_prob = gaussian_log_prob(mb["actions"], mean, std)
            entropy = (0.5 + 0.5 * math.log(2.0 * math.pi) + std.log()).sum(-1).mean()
            value = self.model.value(mb["critic_obs"] if self.asymmetric else mb["obs"])
            with torch.no_grad():
                kl = gaussian_kl(mb["mean"], mb["std"], mean, std).mean()
                if cfg.lr_schedule == "adaptive":  # RSL-RL: adapt before this minibatch's step
                    self.lr.copy_(torch.where(kl > 2.0 * cfg.desired_kl, (self.lr / 1.5).clamp_min(1e-5),
                                  torch.where(kl < 0.5 * cfg.desired_kl, (self.lr * 1.5).clamp_max(1e-2), self.lr)))
            adv = mb["advantages"]
            if cfg.advantage_norm == "minibatch":
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
            ratio = torch.exp(log_prob - mb["log_probs"])
            surrogate = -torch.min(adv * ratio, adv * ratio.clamp(1.0 - cfg.clip, 1.0 + cfg.clip)).mean()
            if cfg.clip_value_loss:
                clipped = mb["values"] + (value - mb["values"]).clamp(-cfg.clip, cfg.clip)
                value_loss = torch.max((value - mb["returns"]).pow(2), (clipped - mb["returns"]).pow(2)).mean()
            else:
                value_loss = (value - mb["returns"]).pow(2).mean()
            loss = surrogate + cfg.value_coef * value_loss - cfg.entropy_coef * entropy
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), cfg.max_grad_norm, foreach=True)
            self.optimizer.step()
            with torch.no_grad():
                clip_frac = ((ratio - 1.0).abs() > cfg.clip).float().mean()
                sums += torch.stack([surrogate.detach(), value_loss.detach(), entropy.detach(), kl, clip_frac,
                                     grad_norm, std.detach().mean()])
            n += 1
        storage.clear()
        m = sums / max(n, 1)
        return {"losses/surrogate": m[0], "losses/value": m[1], "losses/entropy": m[2], "ppo/kl": m[3],
                "ppo/clip_fraction": m[4], "ppo/grad_norm": m[5], "policy/std": m[6], "ppo/lr": self.lr.clone()}

    # ---- state --------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {"model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                 "lr": self.lr.detach().clone(), "generator": self.generator.get_state()}
        if self.reward_scaler is not None:
            state["reward_scaler"] = self.reward_scaler.state_dict()
        return state

    def policy_state_dict(self) -> dict:
        """Actor, critic and normalizer statistics (what acting, evaluation and export need)."""
        return {"model": self.model.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state["model"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
            self.lr.copy_(state["lr"])
            self.optimizer.param_groups[0]["lr"] = self.lr  # load_state_dict replaces it with a copy
            self.generator.set_state(state["generator"])
        if self.reward_scaler is not None and "reward_scaler" in state:
            self.reward_scaler.load_state_dict(state["reward_scaler"])
