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

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from visuomotor.algos.base import Agent, EnvSpec, OffPolicyConfig, Policy
from visuomotor.nets import distributional, hardware, simba
from visuomotor.nets.mlp import EnsembleMLP, mlp
from visuomotor.nets.normalizer import EmpiricalNormalizer


@dataclass
class FastConfig(OffPolicyConfig):
    """What FastTD3 and FastSAC share: N parallel envs, large batches, distributional critics. Fields left
    None take the preset's (``cpu`` or ``gpu``), the task's (``TASK_PRESETS``) or the algorithm's
    ``DEFAULTS``, or, where they depend on the number of envs, are set per run (``for_envs``)."""

    PRESETS: ClassVar[dict[str, dict]] = {}
    DEFAULTS: ClassVar[dict] = {}
    buffer_per_env: ClassVar[int] = 10_240
    compile_on_cpu: ClassVar[bool] = False  # whether compile None compiles long CPU runs (see compile)

    preset: Literal["cpu", "gpu"] = "cpu"
    """cpu: 16 envs, batch 1,024 (two CPU cores); gpu: the paper's thousands of envs and batches of 8k-32k."""
    envs: int | None = None
    """Default --num-envs: the preset's."""
    batch_size: int | None = None
    """Transitions per update: the preset's."""
    buffer_size: int | None = None
    """Replay capacity in transitions; None = ``buffer_per_env`` per env."""
    learning_starts: int | None = None
    """Env steps (all envs together) before the first update; None = 10 steps of every env."""
    update_every: int | None = None
    """Env steps between update rounds; None = one round per step of all the envs."""
    gamma: float | None = None
    """Discount factor; None = the task's or the algorithm's default."""
    n_step: int | None = None
    """n-step returns over each env's own stream; None = the task's or the algorithm's default."""
    actor_lr: float = 3e-4
    """AdamW learning rate of the actor."""
    critic_lr: float = 3e-4
    """AdamW learning rate of the critics."""
    num_atoms: int = 101
    """Atoms of the distributional critics' support."""
    v_min: float | None = None
    """Lowest value of the support; None = the task's or the algorithm's default."""
    v_max: float | None = None
    """Highest value of the support; None = the task's or the algorithm's default."""
    actor_hidden: tuple[int, ...] | None = None
    """Hidden widths of the actor (mlp); None = the preset's."""
    net: Literal["mlp", "simba", "simbav2"] = "mlp"
    """The actor's and critics' networks (nets/simba.py): mlp (the authors', of ``actor_hidden`` and
    ``critic_hidden``), simba or simbav2 (their weight rows back on the unit sphere after every optimizer
    step), each critic ending in the logits over the algorithm's own support."""
    widths: tuple[int, int] = (128, 512)
    """simba, simbav2: the width of the actor and of each critic."""
    blocks: tuple[int, int] = (1, 2)
    """simba, simbav2: residual blocks of the actor and of each critic."""
    obs_normalization: bool = True
    """Normalize observations by running mean and variance."""
    max_grad_norm: float = 0.0
    """Clip gradient norms to this (0 = no clipping, the authors' default)."""
    bf16: bool | None = None
    """bf16 autocast for the networks (losses and optimizer in float32); None = on where bf16 is native."""
    compile: bool | None = None
    """torch.compile the critic and policy losses, each whole (inductor fuses their elementwise work and
    their backward; the optimizer steps stay eager). None = on for training runs on CUDA; on CPU for
    FastSAC runs of at least ``hardware.AUTO_COMPILE_UPDATES`` updates where a C++ compiler is found (its cpu
    preset's bf16 update: 13.7 ms compiled, 20.1 eager), off for FastTD3 (its larger networks' bf16
    update: 90 ms compiled, 46 eager; 2-core Xeon, 2026-12-04). Decided per run by ``for_run``; an agent
    built directly stays eager. Compiling takes ~20-40 s on a CPU."""

    def fill_defaults(self):
        """The preset's values, then the algorithm's general defaults, for the fields still None."""
        values = {**self.DEFAULTS, **self.PRESETS.get(self.preset, {})}
        fill = {k: v for k, v in values.items() if getattr(self, k) is None}
        return dataclasses.replace(self, **fill) if fill else self

    def default_num_envs(self) -> int:
        return int(self.envs if self.envs is not None else self.PRESETS[self.preset]["envs"])

    def for_run(self, updates: int, device: torch.device):
        """``compile`` None decided for a run of ``updates`` updates on ``device`` (see the field)."""
        if self.compile is not None:
            return self
        on = device.type == "cuda" or (self.compile_on_cpu and hardware.long_cpu_run_compiles(device, updates))
        return dataclasses.replace(self, compile=on)

    def default_steps(self, action_repeat: int) -> int:
        return 1_000_000

    def for_envs(self, num_envs: int):
        """The settings that scale with the number of envs, filled for ``num_envs``."""
        fill = {"buffer_size": self.buffer_per_env * num_envs, "learning_starts": 10 * num_envs,
                "update_every": num_envs}
        fill = {k: v for k, v in fill.items() if getattr(self, k) is None}
        return dataclasses.replace(self, **fill) if fill else self

    def validate(self) -> None:
        if self.preset not in self.PRESETS:
            raise ValueError(f"preset must be one of {', '.join(self.PRESETS)}, got {self.preset!r}")
        r = self.resolved().for_envs(self.resolved().default_num_envs())
        super(FastConfig, r).validate()
        if not r.v_max > r.v_min or r.num_atoms < 2:
            raise ValueError(f"need v_max > v_min and num_atoms >= 2, got [{r.v_min}, {r.v_max}], {r.num_atoms}")
        for name in ("policy_frequency", "n_step"):
            if getattr(r, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(r, name)}")
        if not 0.0 < r.tau <= 1.0 or not 0.0 <= r.gamma <= 1.0:
            raise ValueError(f"tau must be in (0, 1] and gamma in [0, 1], got {r.tau}, {r.gamma}")
        for name in ("weight_decay", "max_grad_norm"):
            if getattr(r, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(r, name)}")
        for name in ("critic_hidden", "actor_hidden"):
            if not getattr(r, name) or any(h <= 0 for h in getattr(r, name)):
                raise ValueError(f"{name} must be positive widths, got {getattr(r, name)}")
        if self.net not in simba.NET_KINDS:
            raise ValueError(f"net must be one of {', '.join(simba.NET_KINDS)}, got {self.net!r}")
        if any(x <= 0 for x in (*self.widths, *self.blocks)) or len(self.widths) != 2 or len(self.blocks) != 2:
            raise ValueError(f"widths and blocks must be two positive numbers (actor, critic), got "
                             f"{self.widths}, {self.blocks}")


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
        r = self.resolved()
        if not 0.0 <= r.std_min <= r.std_max:
            raise ValueError(f"need 0 <= std_min <= std_max, got {r.std_min}, {r.std_max}")
        for name in ("policy_noise", "noise_clip", "init_scale"):
            if getattr(r, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(r, name)}")


FASTTD3_PRESETS = FastTD3Config.PRESETS
# The authors' per-suite settings as data: their DMC example (CheetahRun) and Playground defaults.
FastTD3Config.TASK_PRESETS = (
    ("dmc/*", {"n_step": 3, "v_min": -500.0, "v_max": 500.0, "std_min": 0.1, "policy_noise": 0.1}, {}),
    ("playground/*", {"gamma": 0.97, "v_min": -10.0, "v_max": 10.0}, {}),
    ("gym/HalfCheetah*", {"v_min": -1000.0, "v_max": 1000.0}, {}),  # (as FastSAC's: returns of up to ~12 per step)
)


class Actor(nn.Module):
    """Normalized s -> a in [-1, 1]; an mlp's output layer starts near zero."""

    def __init__(self, obs_dim: int, act_dim: int, hidden, init_scale: float, net: str = "mlp",
                 width: int = 128, blocks: int = 1):
        super().__init__()
        if net != "mlp":
            self.net = simba.build(net, obs_dim, width, blocks, (act_dim,))
            return
        self.net = mlp(obs_dim, hidden, act_dim)
        nn.init.normal_(self.net[-1].weight, 0.0, init_scale)
        nn.init.zeros_(self.net[-1].bias)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.net(obs))


class FastPolicy(Policy):
    """Acting deterministically: the actor's action for normalize(s), under bf16 autocast if it trained so."""

    squashing = "tanh"

    def __init__(self, normalizer: nn.Module, actor: nn.Module, bf16: bool):
        super().__init__()
        self.normalizer, self.actor, self.bf16 = normalizer, actor, bf16

    def action(self, x: torch.Tensor) -> torch.Tensor:
        return self.actor(x)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = self.normalizer(obs.float().reshape(obs.shape[0], -1))
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.action(x).float()

    def contents(self) -> dict:
        norm = isinstance(self.normalizer, EmpiricalNormalizer)
        return {"normalizer": "(s - mean) / sqrt(var + 1e-8), clipped to +-10" if norm else None,
                "squashing": self.squashing, "trained_in_bf16": self.bf16}

    def float32(self) -> FastPolicy:
        return type(self)(self.normalizer, self.actor, bf16=False) if self.bf16 else self


class FastAgent(Agent):
    """What FastTD3 and FastSAC share around their updates: N envs, the config resolved for them, running
    observation statistics, bf16 autocast, the policy's state."""

    config_cls: ClassVar[type[FastConfig]]

    def __init__(self, observation_space, action_space, cfg: FastConfig | None, device, num_envs: int):
        cfg = (cfg or self.config_cls()).resolved()
        cfg.validate()
        cfg = cfg.for_envs(num_envs)
        super().__init__(observation_space, action_space, cfg, device)
        self.obs_dim = int(np.prod(observation_space.shape))
        self.act_dim = int(np.prod(action_space.shape))
        self.num_envs = int(num_envs)
        self.normalizer = (EmpiricalNormalizer(self.obs_dim) if cfg.obs_normalization else nn.Identity()).to(self.device)
        self.bf16 = hardware.use_bf16(cfg.bf16, self.device)
        self.noise = torch.Generator(device=self.device)  # exploration and the update's draws
        self.noise.manual_seed(int(torch.randint(0, 2**62, (1,))))
        self.updates = 0

    @classmethod
    def from_spec(cls, spec: EnvSpec, cfg, device) -> FastAgent:
        return cls(spec.observation_space, spec.action_space, cfg, device, num_envs=spec.num_envs)

    def n_step(self) -> int:
        return self.cfg.n_step

    def gamma(self) -> float:
        return self.cfg.gamma

    def describe(self) -> dict:
        c = self.cfg
        return {"bf16": self.bf16, "compile": bool(c.compile), "buffer_size": c.buffer_size,
                "learning_starts": c.learning_starts, "update_every": c.update_every}

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def compiled(self, loss_fn):
        """``loss_fn`` compiled whole (``hardware.compiled_or_eager``) where ``compile`` is on, else itself:
        the losses are functions of their inputs and the networks, their randomness drawn outside."""
        return hardware.compiled_or_eager(loss_fn) if self.cfg.compile else loss_fn

    def gaussian(self, shape) -> torch.Tensor:
        """Standard-normal noise of ``shape`` from the agent's generator (float32)."""
        return torch.randn(tuple(shape), generator=self.noise, device=self.device)

    def observations(self, obs, explore: bool) -> tuple[torch.Tensor, bool]:
        """Observations to act on as a float batch [N, obs_dim] (and whether a single one came); exploring,
        the normalizer takes them in."""
        o = torch.as_tensor(np.asarray(obs) if not isinstance(obs, torch.Tensor) else obs, dtype=torch.float32,
                            device=self.device)
        single = o.dim() == 1
        o = o.reshape(1 if single else o.shape[0], -1)
        if explore and self.cfg.obs_normalization:
            self.normalizer.update(o)
        return o, single

    def warmup_action(self, obs) -> np.ndarray:
        return self.act(obs, explore=True)  # the Fast agents act with their policy from the start

    def simba_critics(self, n: int) -> nn.Module:
        """``n`` critics of the config's simba net, each ending in the logits over the support."""
        c = self.cfg
        return simba.NetEnsemble(n, lambda: simba.build(c.net, self.obs_dim + self.act_dim, c.widths[1], c.blocks[1],
                                                        (c.num_atoms,)))

    def step(self, opt: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module | None) -> None:
        """One optimizer step on ``loss`` (its gradient norm clipped with max_grad_norm; simbav2's weight rows
        back on the unit sphere after it)."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if module is not None and self.cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(module.parameters(), self.cfg.max_grad_norm)
        opt.step()
        if module is not None and self.cfg.net == "simbav2":
            simba.project_weights_(module)

    def policy_state_dict(self) -> dict:
        return {"actor": self.actor.state_dict(), "normalizer": self.normalizer.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.actor.load_state_dict(state["actor"])
        self.normalizer.load_state_dict(state["normalizer"])
        if "critic" in state:
            self.critic.load_state_dict(state["critic"])
            self.critic_target.load_state_dict(state["critic_target"])
            self.noise.set_state(state["noise"])
            self.updates = int(state["updates"])
            self.load_training_state(state)

    def load_training_state(self, state: dict) -> None:
        """The rest of a training checkpoint (optimizers, the algorithm's own state)."""


class FastTD3Policy(FastPolicy):
    """Acting deterministically: a = pi(normalize(s))."""


class FastTD3(FastAgent):
    config_cls = FastTD3Config

    def __init__(self, observation_space, action_space, cfg: FastTD3Config | None = None, device="cpu",
                 num_envs: int = 1):
        super().__init__(observation_space, action_space, cfg, device, num_envs)
        cfg = self.cfg
        self.actor = Actor(self.obs_dim, self.act_dim, cfg.actor_hidden, cfg.init_scale, cfg.net, cfg.widths[0],
                           cfg.blocks[0]).to(self.device)
        dims = (2, self.obs_dim + self.act_dim, cfg.critic_hidden, cfg.num_atoms)
        self.critic, self.critic_target = (
            (EnsembleMLP(*dims) if cfg.net == "mlp" else self.simba_critics(2)).to(self.device) for _ in range(2))
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
        self._critic_loss, self._policy_loss = self.compiled(self.critic_loss), self.compiled(self.policy_loss)

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
        with self._autocast():
            a = self.actor(self.normalizer(o)).float()
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
        with torch.no_grad(), self._autocast():
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
        with self._autocast():
            logits = self.critic(torch.cat([obs, action], -1)).float()
        return distributional.cross_entropy(logits, target).mean(-1).sum(), logits.detach()

    def policy_loss(self, obs, critic_w):
        """J_pi = -E[min_i Q_i(s, pi(s))] (mean_i without clipped double Q) through the critics' detached
        weights ``critic_w``."""
        with self._autocast():
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
