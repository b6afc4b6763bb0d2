"""Pixel encoder and image augmentation of DrQ-v2 (Yarats et al. 2021).

Encoder: pixels / 255 - 0.5, then 4 convolutions 3x3 with 32 channels (the first with stride 2),
each followed by ReLU: a [9, 84, 84] stack becomes 32 x 35 x 35 = 39,200 features.
Augmentation: random shift by up to ``pad`` pixels: replicate-pad, then resample the original
size at an integer offset with bilinear ``grid_sample`` (one call for the whole batch).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def orthogonal_init(m: nn.Module) -> None:
    """DrQ-v2's weight init: orthogonal weights (ReLU gain for convs), zero biases."""
    if isinstance(m, nn.Linear):
        nn.init.orthogonal_(m.weight.data)
        if m.bias is not None:
            m.bias.data.fill_(0.0)
    elif isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.orthogonal_(m.weight.data, nn.init.calculate_gain("relu"))
        if m.bias is not None:
            m.bias.data.fill_(0.0)


class ConvEncoder(nn.Module):
    def __init__(self, obs_shape: tuple[int, int, int], channels: int = 32, layers: int = 4):
        super().__init__()
        c, h, w = obs_shape
        convs: list[nn.Module] = []
        for i in range(layers):
            convs += [nn.Conv2d(c if i == 0 else channels, channels, 3, stride=2 if i == 0 else 1), nn.ReLU()]
        self.convnet = nn.Sequential(*convs)
        with torch.no_grad():
            self.repr_dim = int(self.convnet(torch.zeros(1, c, h, w)).numel())
        self.apply(orthogonal_init)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """uint8 or float pixels [B, C, H, W] in 0..255 -> features [B, repr_dim]."""
        x = obs.float() / 255.0 - 0.5 if obs.dtype == torch.uint8 else obs / 255.0 - 0.5
        return self.convnet(x).flatten(1)


def trunk(repr_dim: int, feature_dim: int) -> nn.Sequential:
    """DrQ-v2's trunk after the encoder: Linear -> LayerNorm -> tanh, the features the actor and critic share."""
    return nn.Sequential(nn.Linear(repr_dim, feature_dim), nn.LayerNorm(feature_dim), nn.Tanh())


def random_shift(x: torch.Tensor, pad: int = 4, generator: torch.Generator | None = None,
                 shifts: torch.Tensor | None = None) -> torch.Tensor:
    """Shift each image [B, C, H, W] (float, square) by an integer offset in [-pad, pad] per axis,
    filling with the replicated border; ``shifts`` [B, 2] (x, y in 0..2*pad) overrides the draw."""
    n, _, h, w = x.shape
    if h != w:
        raise ValueError(f"random_shift expects square images, got {h}x{w}")
    if pad == 0:
        return x
    x = F.pad(x, (pad, pad, pad, pad), mode="replicate")
    eps = 1.0 / (h + 2 * pad)
    arange = torch.linspace(-1.0 + eps, 1.0 - eps, h + 2 * pad, device=x.device, dtype=x.dtype)[:h]
    arange = arange.unsqueeze(0).repeat(h, 1).unsqueeze(2)
    base_grid = torch.cat([arange, arange.transpose(1, 0)], dim=2).unsqueeze(0).repeat(n, 1, 1, 1)
    if shifts is None:
        shifts = torch.randint(0, 2 * pad + 1, (n, 1, 1, 2), device=x.device, generator=generator)
    else:
        shifts = shifts.reshape(n, 1, 1, 2)
    grid = base_grid + shifts.to(x.dtype) * (2.0 / (h + 2 * pad))
    return F.grid_sample(x, grid, padding_mode="zeros", align_corners=False)


def random_overlay(x: torch.Tensor, images: torch.Tensor, share: float, generator: torch.Generator | None = None,
                   alpha: float = 0.5) -> torch.Tensor:
    """Random overlay (Hansen et al. 2021, SODA; SVEA): each frame stack of ``x`` [B, 3k, H, W] (float,
    0-255) is, with probability ``share``, blended as (1 - alpha) x + alpha I with one image I [3, H, W]
    drawn from ``images`` [M, 3, H, W] (uint8), the same image for every frame of the stack."""
    b, c = x.shape[:2]
    pick = torch.randint(0, images.shape[0], (b,), generator=generator, device=x.device)
    on = (torch.rand(b, generator=generator, device=x.device) < share).to(x.dtype).view(b, 1, 1, 1)
    img = images.index_select(0, pick).to(x.dtype).repeat(1, c // images.shape[1], 1, 1)
    return x + on * alpha * (img - x)
