"""What FastTD3 and FastSAC share: their config's common fields and presets (``FastConfig``), acting
with running observation statistics under bf16 autocast (``FastPolicy``), and the agent around their
updates (``FastAgent``: N envs, the config resolved for them, the policy's state). Each algorithm's own
file (``fasttd3.py``, ``fastsac.py``) holds its losses and update.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import torch
from torch import nn

from visuomotor.algos.base import Agent, EnvSpec, OffPolicyConfig, Policy, TDConfig
from visuomotor.nets import hardware, switches
from visuomotor.nets.families import NetConfig, critic_ensemble
from visuomotor.nets.normalizer import EmpiricalNormalizer


@dataclass
class FastConfig(OffPolicyConfig, TDConfig, NetConfig):
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

    def validate_names(self) -> None:
        if self.preset not in self.PRESETS:
            raise ValueError(f"preset must be one of {', '.join(self.PRESETS)}, got {self.preset!r}")
        self.validate_net()

    def validate(self) -> None:
        self.validate_names()
        super().validate()
        self.validate_td()
        if not self.v_max > self.v_min or self.num_atoms < 2:
            raise ValueError(f"need v_max > v_min and num_atoms >= 2, got [{self.v_min}, {self.v_max}], {self.num_atoms}")
        if self.policy_frequency < 1:
            raise ValueError(f"policy_frequency must be >= 1, got {self.policy_frequency}")
        for name in ("weight_decay", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("critic_hidden", "actor_hidden"):
            if not getattr(self, name) or any(h <= 0 for h in getattr(self, name)):
                raise ValueError(f"{name} must be positive widths, got {getattr(self, name)}")



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
        return switches.autocast_bf16(self.action, self.bf16, x.device)(x).float()

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

    def __init__(self, observation_space, action_space, cfg: FastConfig, device, num_envs: int):
        cfg = cfg.for_envs(num_envs)
        super().__init__(observation_space, action_space, cfg, device)
        self.obs_dim = int(np.prod(observation_space.shape))
        self.act_dim = int(np.prod(action_space.shape))
        self.num_envs = int(num_envs)
        self.family = cfg.family()
        self.normalizer = (EmpiricalNormalizer(self.obs_dim) if cfg.obs_normalization else nn.Identity()).to(self.device)
        self.bf16 = hardware.use_bf16(cfg.bf16, self.device)
        self.noise = torch.Generator(device=self.device)  # exploration and the update's draws
        self.noise.manual_seed(int(torch.randint(0, 2**62, (1,))))
        self.updates = 0

    @classmethod
    def from_spec(cls, spec: EnvSpec, cfg, device) -> FastAgent:
        return cls(spec.observation_space, spec.action_space, cfg, device, num_envs=spec.num_envs)

    def describe(self) -> dict:
        c = self.cfg
        return {"bf16": self.bf16, "compile": bool(c.compile), "buffer_size": c.buffer_size,
                "learning_starts": c.learning_starts, "update_every": c.update_every}

    def sped_up(self, loss_fn):
        """``loss_fn`` under the config's speed switches, applied from outside: bf16 autocast
        (``nets.switches.autocast_bf16``), and compiled whole (``hardware.compiled_or_eager``) where
        ``compile`` is on. The losses are functions of their inputs and the networks, their randomness
        drawn outside."""
        fn = switches.autocast_bf16(loss_fn, self.bf16, self.device)
        return hardware.compiled_or_eager(fn) if self.cfg.compile else fn

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

    def make_critics(self, n: int, layer_norm: bool = False, activation: str = "relu") -> nn.Module:
        """``n`` critics of the config's network family, each ending in the logits over the support (the
        authors': MLPs of ``critic_hidden``, ``activation`` between layers, one batched matmul per layer)."""
        c = self.cfg
        return critic_ensemble(c, n, self.obs_dim + self.act_dim, c.num_atoms, c.critic_hidden, layer_norm,
                               activation).to(self.device)

    def step(self, opt: torch.optim.Optimizer, loss: torch.Tensor, module: nn.Module | None) -> None:
        """One optimizer step on ``loss`` (its gradient norm clipped with max_grad_norm), then the network
        family's after-step (simbav2: weight rows back on the unit sphere)."""
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if module is not None and self.cfg.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(module.parameters(), self.cfg.max_grad_norm)
        opt.step()
        if module is not None:
            self.family.after_step(module)

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


