"""Empirical observation normalization (running mean and variance), as in RSL-RL and SB3's VecNormalize.

Statistics merge with Chan et al.'s parallel formula, so a batch update, a stream of batches and a
merge of two normalizers (e.g. from two workers) give the same mean and variance as one pass over
all the data. The statistics are buffers: they travel in ``state_dict`` (checkpoints, resume, the
policy checkpoint used for evaluation and export).
"""

from __future__ import annotations

import torch
from torch import nn


class EmpiricalNormalizer(nn.Module):
    """y = clip((x - mean) / sqrt(var + eps), -clip, clip) with running statistics over the last dim."""

    def __init__(self, dim: int, eps: float = 1e-8, clip: float = 10.0):
        super().__init__()
        self.eps, self.clip = eps, clip
        # float64 statistics: a count of 1e9 samples keeps its precision in the merge weights
        self.register_buffer("mean", torch.zeros(dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(dim, dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))

    @torch.no_grad()
    def merge(self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor | float) -> None:
        """Fold in the (population) mean and variance of ``count`` other samples."""
        mean, var = mean.to(self.mean), var.to(self.var)
        count = torch.as_tensor(count, dtype=torch.float64, device=self.count.device)
        total = self.count + count
        w = torch.where(total > 0, count / total.clamp_min(1e-300), torch.zeros_like(total))
        delta = mean - self.mean
        m2 = self.var * self.count + var * count + delta.pow(2) * self.count * w
        self.mean.add_(delta * w)
        self.var.copy_(torch.where(total > 0, m2 / total.clamp_min(1e-300), self.var))
        self.count.copy_(total)

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Add a batch [..., dim] of samples to the statistics."""
        x = x.reshape(-1, x.shape[-1]).to(torch.float64)
        self.merge(x.mean(0), x.var(0, unbiased=False), float(x.shape[0]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self.mean.to(x.dtype), (self.var + self.eps).sqrt().to(x.dtype)
        return ((x - mean) / std).clamp(-self.clip, self.clip)


class ReturnScaler(nn.Module):
    """Reward scaling by the running std of the discounted return (SB3's VecNormalize, CleanRL's PPO):
    per env G <- gamma G + r; the statistics take G; the reward becomes clip(r / sqrt(var(G) + eps)).
    G restarts at 0 when an episode ends. Only the statistics persist (a resumed run starts fresh
    episodes)."""

    def __init__(self, gamma: float, eps: float = 1e-8, clip: float = 10.0):
        super().__init__()
        self.gamma, self.eps, self.clip = gamma, eps, clip
        self.stats = EmpiricalNormalizer(1, eps=eps, clip=clip)
        self.register_buffer("returns", torch.zeros(0, dtype=torch.float64), persistent=False)

    @torch.no_grad()
    def forward(self, reward: torch.Tensor, ended: torch.Tensor) -> torch.Tensor:
        """Scaled rewards [N] for one step of N envs (``ended``: the episode ended at this step)."""
        if self.returns.shape != reward.shape:
            self.returns = torch.zeros(reward.shape, dtype=torch.float64, device=reward.device)
        self.returns.mul_(self.gamma).add_(reward.to(torch.float64))
        self.stats.update(self.returns.unsqueeze(-1))
        std = (self.stats.var + self.eps).sqrt().to(reward.dtype)
        self.returns.masked_fill_(ended, 0.0)
        return (reward / std).clamp(-self.clip, self.clip)
