"""Simba and SimbaV2 networks for off-policy actors and critics (``--sac.net simba|simbav2``; the families
of ``nets/families.py``).

**Simba** (Lee et al. 2024, "SimBa: Simplicity Bias for Scaling Up Parameters in Deep Reinforcement
Learning"): the input (normalized by running statistics, in the agent) goes through a linear embedding,
then residual blocks that each add MLP(LayerNorm(x)) with the MLP d -> 4d -> d, then a final LayerNorm
and a linear head:

    h = W_in x;   h <- h + W_2 relu(W_1 LN(h))   (per block);   out = W_out LN(h)

**SimbaV2** (Lee et al. 2025, "Hyperspherical Normalization for Scalable Deep Reinforcement Learning"):
every feature and every weight row lives on the unit hypersphere.

    embed:  x~ = l2n([x, c_shift]);  h = l2n(s_e * (W_e x~))                      (c_shift 3)
    block:  h~ = l2n(W_2 (relu(s_m * (W_1 h)) + eps));  h <- l2n(h + a * (h~ - h))  (a LERP per feature)
    head:   out = W_o (s_h * (W_h h)) + b

``W`` are ``HyperLinear`` layers (no bias; each output unit's weight row is kept at unit l2 norm by
``project_weights_`` after every optimizer step), ``s`` and ``a`` learned per-feature scalers
(``Scaler``: a parameter of value ``scale`` times the constant ``init / scale``, so that its
effective learning rate is set by ``scale``). The authors' defaults: scalers init = scale = sqrt(2 / d)
(divided by 2 inside the 4d MLP), the interpolation a: init 1 / (blocks + 1), scale 1 / sqrt(d); head
scalers 1. The SimbaV2 critic is distributional (C51 logits over a support, ``nets/distributional.py``)
and learns from rewards scaled by ``RewardScaler``.

Actor 1 block of width 128 and critic 2 blocks of width 512 are both papers' defaults. ``NetEnsemble``
holds a critic ensemble (``[n, B, out]``, like ``nets.mlp.EnsembleMLP``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

EPS = 1e-8


def l2norm(x: torch.Tensor, dim: int = -1, eps: float = EPS) -> torch.Tensor:
    """max(||x||_2, eps) along ``dim`` (kept as a size-1 dim)."""
    return torch.linalg.vector_norm(x, dim=dim, keepdim=True).clamp_min(eps)


def l2normalize(x: torch.Tensor, dim: int = -1, eps: float = EPS) -> torch.Tensor:
    """x / max(||x||_2, eps) along ``dim``."""
    return x / l2norm(x, dim, eps)


class Scaler(nn.Module):
    """A learned per-feature scale: x * (s * init / scale), s initialized to ``scale``."""

    def __init__(self, dim: int, init: float, scale: float):
        super().__init__()
        self.scaler = nn.Parameter(torch.full((dim,), float(scale)))
        self.forward_scale = init / scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * (self.scaler * self.forward_scale)


class HyperLinear(nn.Module):
    """A linear map without bias whose weight rows (one per output unit) sit on the unit sphere
    (orthogonal initialization, then ``project_weights_`` after each optimizer step)."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim))
        nn.init.orthogonal_(self.weight)
        with torch.no_grad():
            self.weight.copy_(l2normalize(self.weight, dim=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight)


@torch.no_grad()
def project_weights_(module: nn.Module) -> None:
    """Every ``HyperLinear`` weight row back onto the unit sphere (after an optimizer step)."""
    for m in module.modules():
        if isinstance(m, HyperLinear):  # l2normalize in place (the same numbers, without a copy)
            m.weight.div_(l2norm(m.weight, dim=1))


class HyperEmbedder(nn.Module):
    def __init__(self, in_dim: int, width: int, c_shift: float):
        super().__init__()
        s = math.sqrt(2.0 / width)
        self.c_shift = c_shift
        self.w = HyperLinear(in_dim + 1, width)
        self.scaler = Scaler(width, s, s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat([x, torch.full_like(x[..., :1], self.c_shift)], -1)
        return l2normalize(self.scaler(self.w(l2normalize(x))))


class HyperLERPBlock(nn.Module):
    def __init__(self, width: int, blocks: int, expansion: int = 4):
        super().__init__()
        s = math.sqrt(2.0 / width) / math.sqrt(expansion)
        self.w1 = HyperLinear(width, expansion * width)
        self.scaler = Scaler(expansion * width, s, s)
        self.w2 = HyperLinear(expansion * width, width)
        self.alpha = Scaler(width, 1.0 / (blocks + 1), 1.0 / math.sqrt(width))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        mlp = l2normalize(self.w2(torch.relu(self.scaler(self.w1(h))) + EPS))
        return l2normalize(h + self.alpha(mlp - h))


class HyperHead(nn.Module):
    """out = W_o (s * (W_h h)) + b (SimbaV2's policy and value heads: no activation in between)."""

    def __init__(self, width: int, out_dim: int):
        super().__init__()
        self.w1 = HyperLinear(width, width)
        self.scaler = Scaler(width, 1.0, 1.0)
        self.w2 = HyperLinear(width, out_dim)
        self.bias = nn.Parameter(torch.zeros(out_dim))

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.w2(self.scaler(self.w1(h))) + self.bias


class SimbaV2Net(nn.Module):
    """Embedding, ``blocks`` LERP blocks, and one ``HyperHead`` per entry of ``heads`` (their outputs
    concatenated: the actor's mean and log-std heads, or the critic's value logits). With ``bf16``
    (``nets.switches.bf16``) it computes under bf16 autocast."""

    bf16 = False

    def __init__(self, in_dim: int, width: int, blocks: int, heads: Sequence[int], c_shift: float = 3.0):
        super().__init__()
        self.embed = HyperEmbedder(in_dim, width, c_shift)
        self.blocks = nn.Sequential(*(HyperLERPBlock(width, blocks) for _ in range(blocks)))
        self.heads = nn.ModuleList(HyperHead(width, k) for k in heads)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            h = self.blocks(self.embed(x))
            return torch.cat([head(h) for head in self.heads], -1)


class SimbaBlock(nn.Module):
    def __init__(self, width: int, expansion: int = 4):
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, expansion * width)
        self.fc2 = nn.Linear(expansion * width, width)
        for fc in (self.fc1, self.fc2):  # orthogonal weights, zero biases (the authors' initialization)
            nn.init.orthogonal_(fc.weight)
            nn.init.zeros_(fc.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.fc2(torch.relu(self.fc1(self.norm(h))))


class SimbaNet(nn.Module):
    """Linear embedding, ``blocks`` pre-LayerNorm residual blocks, a final LayerNorm, a linear head; with
    ``bf16`` (``nets.switches.bf16``) under bf16 autocast."""

    bf16 = False

    def __init__(self, in_dim: int, width: int, blocks: int, out_dim: int):
        super().__init__()
        self.embed = nn.Linear(in_dim, width)
        self.blocks = nn.Sequential(*(SimbaBlock(width) for _ in range(blocks)))
        self.norm = nn.LayerNorm(width)
        self.head = nn.Linear(width, out_dim)
        for fc in (self.embed, self.head):
            nn.init.orthogonal_(fc.weight)
            nn.init.zeros_(fc.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            return self.head(self.norm(self.blocks(self.embed(x))))


def take_in(t, normalizer: nn.Module | None, reward_scaler: RewardScaler | None, obs_dim: int, device) -> None:
    """One env step's ``Transitions`` into the running statistics: the observations into ``normalizer``
    (an ``EmpiricalNormalizer``), the rewards and episode ends into ``reward_scaler`` (either may be None)."""
    import numpy as np

    if normalizer is not None:
        normalizer.update(torch.as_tensor(np.asarray(t.obs), dtype=torch.float32, device=device).reshape(-1, obs_dim))
    if reward_scaler is not None:
        ended = np.asarray(t.terminated) | np.asarray(t.truncated)
        reward_scaler.observe(torch.as_tensor(np.asarray(t.reward), device=device), torch.as_tensor(ended, device=device))


def build(kind: str, in_dim: int, width: int, blocks: int, heads: Sequence[int]) -> nn.Module:
    """A ``simba`` or ``simbav2`` network from ``in_dim`` to ``sum(heads)`` outputs."""
    if kind == "simbav2":
        return SimbaV2Net(in_dim, width, blocks, heads)
    if kind == "simba":
        return SimbaNet(in_dim, width, blocks, sum(heads))
    raise ValueError(f"net must be simba or simbav2 here, got {kind!r}")


class NetEnsemble(nn.Module):
    """``n`` independent networks of one kind: x [B, in] (shared) or [n, B, in] -> [n, B, out].

    ``params`` (in ``flat_params`` order) replaces the members' parameters for one call, as
    ``EnsembleMLP`` takes them (detached copies for a loss that must not move these weights). With
    ``bf16`` (``nets.switches.bf16``) the members compute under bf16 autocast; the output is float32."""

    bf16 = False

    def __init__(self, n: int, make):
        super().__init__()
        self.members = nn.ModuleList(make() for _ in range(n))
        self.n = n
        self._names = [name for name, _ in self.named_parameters()]

    def flat_params(self) -> list[torch.Tensor]:
        return list(self.parameters())

    def forward(self, x: torch.Tensor, params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        if params is not None:
            return torch.func.functional_call(self, dict(zip(self._names, params)), (x,))
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            if x.dim() == 2:
                out = [m(x) for m in self.members]
            else:
                out = [m(xi) for m, xi in zip(self.members, x)]
        return torch.stack(out).float()


class RewardScaler(nn.Module):
    """SimbaV2's reward scaling: per env G <- gamma G + r (G back to 0 when an episode ends); rewards are
    divided by max(sqrt(var(G) + eps), max|G| / g_max), so that scaled returns stay within the critic's
    support [-g_max, g_max]. The statistics are buffers (checkpoints); the open returns start at 0
    (a resumed run starts fresh episodes)."""

    def __init__(self, gamma: float, g_max: float, eps: float = 1e-8):
        super().__init__()
        self.gamma, self.g_max, self.eps = gamma, g_max, eps
        self.register_buffer("mean", torch.zeros((), dtype=torch.float64))
        self.register_buffer("var", torch.ones((), dtype=torch.float64))
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("abs_max", torch.zeros((), dtype=torch.float64))
        self.register_buffer("returns", torch.zeros(0, dtype=torch.float64), persistent=False)

    @torch.no_grad()
    def observe(self, reward: torch.Tensor, ended: torch.Tensor) -> None:
        """One step of N envs: rewards [N] and whether each env's episode ended with this step."""
        reward = reward.reshape(-1).to(torch.float64)
        if self.returns.shape != reward.shape:
            self.returns = torch.zeros_like(reward)
        self.returns.mul_(self.gamma).add_(reward)
        g, n = self.returns, float(reward.numel())
        total = self.count + n  # Chan et al.'s merge of the batch's mean and variance
        delta = g.mean() - self.mean
        m2 = self.var * self.count + g.var(unbiased=False) * n + delta.pow(2) * self.count * n / total
        self.mean.add_(delta * n / total)
        self.var.copy_(m2 / total)
        self.count.copy_(total)
        self.abs_max.copy_(torch.maximum(self.abs_max, g.abs().max()))
        self.returns.masked_fill_(ended.reshape(-1).to(self.returns.device), 0.0)

    def denominator(self) -> torch.Tensor:
        """max(sqrt(var(G) + eps), max|G| / g_max) as float32 (1 before any reward)."""
        d = torch.maximum((self.var + self.eps).sqrt(), self.abs_max / self.g_max)
        return torch.where(self.count > 0, d, torch.ones_like(d)).float()
