"""Behaviour cloning: regress the dataset's actions from its observations (``--algo bc --data DIR``).

The policy is an MLP (states) or DrQ-v2's conv encoder + trunk + MLP (pixels, with the same random
shift augmentation), ending in tanh so actions stay in [-1, 1]; the loss is the mean squared error
to the recorded action. It trains offline (no env steps: ``--steps`` counts gradient steps) and
writes an ordinary run directory, whose checkpoint acts like any other agent's (evaluation, export,
a frozen base policy for residual RL, a guide for JSRL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from visuomotor.algos.base import Agent, AlgoConfig, Kind, Observes, Policy
from visuomotor.nets import switches
from visuomotor.nets.mlp import mlp


@dataclass
class BCConfig(AlgoConfig):
    """Behaviour-cloning hyperparameters."""

    hidden: tuple[int, ...] = (256, 256)
    """Hidden widths of the policy MLP."""
    lr: float = 1e-3
    """Adam learning rate."""
    weight_decay: float = 0.0
    """Adam weight decay."""
    batch_size: int = 256
    """Transitions per gradient step."""
    feature_dim: int = 50
    """Pixels: trunk output size after the conv encoder."""
    augment_pad: int = 4
    """Pixels: random shift of up to this many pixels (0 = none)."""
    overlay: float = 0.0
    """Pixels: the share of each batch whose frame stacks are blended half and half with a random image
    (the random overlay of Hansen et al. 2021, SODA/SVEA: x' = 0.5 x + 0.5 I), for robustness to what the
    background shows. The images are procedural textures of their own stream, disjoint from the train
    and held-out splits of ``--distract`` (``envs.distract.procedural_texture``). 0 = none."""
    total_steps: int = 20_000
    """Default --steps: gradient steps."""

    def default_steps(self, action_repeat: int) -> int:
        return self.total_steps

    def validate(self) -> None:
        if not self.hidden or any(h <= 0 for h in self.hidden):
            raise ValueError(f"hidden must be positive widths, got {self.hidden}")
        for name in ("lr", "batch_size", "feature_dim", "total_steps"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.weight_decay < 0 or self.augment_pad < 0:
            raise ValueError(f"weight_decay and augment_pad must be >= 0, got {self.weight_decay}, {self.augment_pad}")
        if not 0.0 <= self.overlay <= 1.0:
            raise ValueError(f"overlay must be in [0, 1], got {self.overlay}")


OVERLAY_IMAGES = 256
"""Images in the random-overlay bank."""


def overlay_bank(height: int, width: int, device) -> torch.Tensor:
    """The random-overlay images, uint8 [OVERLAY_IMAGES, 3, height, width]: procedural textures of the
    ``augment`` stream (never a train or held-out distraction background)."""
    from visuomotor.envs.distract import procedural_texture

    imgs = np.stack([procedural_texture("augment", i, height, width) for i in range(OVERLAY_IMAGES)])
    return torch.as_tensor(imgs, device=device).permute(0, 3, 1, 2).contiguous()


class BCPolicy(nn.Module):
    """obs -> action in [-1, 1]; a conv encoder first when the observation is an image stack."""

    def __init__(self, obs_shape: tuple[int, ...], act_dim: int, cfg: BCConfig):
        super().__init__()
        self.pixels = len(obs_shape) == 3
        if self.pixels:
            from visuomotor.nets.conv import ConvEncoder

            self.encoder = ConvEncoder(obs_shape)
            self.trunk = nn.Sequential(nn.Linear(self.encoder.repr_dim, cfg.feature_dim),
                                       nn.LayerNorm(cfg.feature_dim), nn.Tanh())
            in_dim = cfg.feature_dim
        else:
            in_dim = int(np.prod(obs_shape))
        self.net = mlp(in_dim, cfg.hidden, act_dim)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Observations -> actions (float32; a caller's bf16 switch wraps this call, ``nets.switches``)."""
        if self.pixels:
            from visuomotor.algos.drqv2 import encode

            h = encode(self.encoder, obs)  # (channels-last on a CPU)
        else:
            h = obs
        return torch.tanh(self.net(self.trunk(h) if self.pixels else h)).float()


class BCActing(Policy):
    """Acting: the cloned policy on float observations (flattened states, or frame stacks)."""

    def __init__(self, policy: BCPolicy, bf16: bool = False):
        super().__init__()
        self.policy, self.bf16 = policy, bf16

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        x = obs.float() if self.policy.pixels else obs.float().reshape(obs.shape[0], -1)
        return switches.autocast_bf16(self.policy, self.bf16, x.device)(x)

    def contents(self) -> dict:
        pixels = {"pixel_scaling": "uint8 x -> x / 255 - 0.5", "encoder": "DrQ-v2's conv encoder"} \
            if self.policy.pixels else {}
        return {**pixels, "squashing": "tanh", "trained_in_bf16": self.bf16}

    def float32(self) -> BCActing:
        return BCActing(self.policy) if self.bf16 else self


class BC(Agent):
    kind = Kind.OFFLINE
    observes = Observes.EITHER  # states, or --pixels (then a conv encoder)

    def __init__(self, observation_space, action_space, cfg: BCConfig, device="cpu"):
        super().__init__(observation_space, action_space, cfg, device)
        self.obs_shape = tuple(observation_space.shape)
        self.policy_net = BCPolicy(self.obs_shape, int(np.prod(action_space.shape)), cfg).to(self.device)
        self.optimizer = torch.optim.Adam(self.policy_net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        self.aug_generator = torch.Generator(device=self.device)
        self.aug_generator.manual_seed(int(torch.randint(0, 2**62, (1,))))
        self.bf16 = False  # bf16 autocast of the policy network (a subclass's choice)
        self.overlay_images: torch.Tensor | None = None  # (built at the first overlaid batch)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """The policy network's actions for prepared inputs, under the bf16 switch (``nets.switches``)."""
        return switches.autocast_bf16(self.policy_net, self.bf16, self.device)(x)

    def _obs(self, obs: torch.Tensor) -> torch.Tensor:
        return obs.float() if self.policy_net.pixels else obs.float().reshape(obs.shape[0], -1)

    @torch.no_grad()
    def act(self, obs: np.ndarray, explore: bool = False) -> np.ndarray:
        o = torch.as_tensor(np.asarray(obs), device=self.device)
        single = o.dim() == len(self.obs_shape)
        a = self.predict(self._obs(o.unsqueeze(0) if single else o)).cpu().numpy()
        return a[0] if single else a

    def policy(self) -> BCActing:
        return BCActing(self.policy_net, self.bf16)

    def training_input(self, obs: torch.Tensor) -> torch.Tensor:
        """A batch's observations as the policy learns from them: float, flattened states or frame stacks
        randomly shifted by up to ``augment_pad`` pixels."""
        obs = self._obs(obs.to(self.device))
        if self.policy_net.pixels and self.cfg.augment_pad > 0:
            from visuomotor.nets.conv import random_shift

            obs = random_shift(obs, self.cfg.augment_pad, generator=self.aug_generator)
        if self.policy_net.pixels and self.cfg.overlay > 0:
            from visuomotor.nets.conv import random_overlay

            if self.overlay_images is None:
                self.overlay_images = overlay_bank(obs.shape[-2], obs.shape[-1], self.device)
            obs = random_overlay(obs, self.overlay_images, self.cfg.overlay, self.aug_generator)
        return obs

    def update(self, batch=None) -> dict[str, torch.Tensor]:
        batch = self.sample() if batch is None else batch
        loss = (self.policy_net(self.training_input(batch.obs)) - batch.action).pow(2).sum(-1).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return {"losses/bc": loss.detach()}

    def make_replay(self, capacity: int, seed: int):
        if len(self.obs_shape) == 3:
            from visuomotor.buffers.frames import frame_replay_for

            return frame_replay_for(self.obs_shape, int(np.prod(self.action_space.shape)), capacity, 1, 0.99,
                                    self.device, seed)
        return super().make_replay(capacity, seed)

    def state_dict(self) -> dict:
        return {"policy": self.policy_net.state_dict(), "optimizer": self.optimizer.state_dict(),
                "aug_generator": self.aug_generator.get_state()}

    def policy_state_dict(self) -> dict:
        return {"policy": self.policy_net.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.policy_net.load_state_dict(state["policy"])
        if "optimizer" in state:
            self.optimizer.load_state_dict(state["optimizer"])
            self.aug_generator.set_state(state["aug_generator"])
