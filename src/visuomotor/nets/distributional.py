"""A categorical (C51) value distribution: a fixed support of K atoms and the projection of a Bellman
target onto it, written once for every distributional critic (FastTD3, FastSAC, SimbaV2's critic).

Bellemare, Dabney and Munos 2017, "A Distributional Perspective on Reinforcement Learning". The
support is z_j = v_min + j dz, dz = (v_max - v_min) / (K - 1). For a transition with (n-step) reward R
and discount d (gamma^n, 0 after a termination) and next-state probabilities p_j, the target atom
Tz_j = clip(R + d z_j, v_min, v_max) sits at b_j = (Tz_j - v_min) / dz between atoms l = floor(b_j)
and u = ceil(b_j), and its mass is split linearly:

    m_l += p_j (u - b_j),   m_u += p_j (b_j - l)      (all of p_j on l when b_j is a whole number)

The critic's loss is the cross-entropy -sum_i m_i log q_i(s, a) of its predicted distribution q.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def support(v_min: float, v_max: float, atoms: int, device=None) -> torch.Tensor:
    """The K atoms z_j, evenly spaced from v_min to v_max (float32)."""
    if atoms < 2 or not v_max > v_min:
        raise ValueError(f"a categorical support needs >= 2 atoms and v_max > v_min, got {atoms}, [{v_min}, {v_max}]")
    return torch.linspace(v_min, v_max, atoms, device=device)


def project(probs: torch.Tensor, reward: torch.Tensor, discount: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The target distribution m [B, K] on the support ``z`` [K] of R + d Z, for next-state probabilities
    ``probs`` [B, K], rewards and discounts [B] (tensor ops over the batch; no loop)."""
    atoms = z.shape[0]
    v_min, v_max = z[0], z[-1]
    dz = (v_max - v_min) / (atoms - 1)
    tz = (reward.unsqueeze(1) + discount.unsqueeze(1) * z.unsqueeze(0)).clamp(v_min, v_max)
    b = ((tz - v_min) / dz).clamp(0, atoms - 1)  # (float rounding at the edges)
    lower, upper = b.floor(), b.ceil()
    whole = (upper == lower).to(probs.dtype)  # b on an atom: all of its mass there
    m = torch.zeros_like(probs)
    m.scatter_add_(1, lower.long(), probs * (upper - b + whole))
    m.scatter_add_(1, upper.long(), probs * (b - lower))
    return m


def lower_mean(probs: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Of n distributions per sample, ``probs`` [n, B, K], the one of the lower mean for each sample
    [B, K] (clipped double Q for distributional critics)."""
    lower = (probs * z).sum(-1).argmin(0)
    return probs.gather(0, lower.view(1, -1, 1).expand(1, -1, probs.shape[-1]))[0]


def expected(logits: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """The mean sum_j q_j z_j of the distributions with ``logits`` [..., K]."""
    return (F.softmax(logits, dim=-1) * z).sum(-1)


def cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """-sum_i m_i log q_i per row of ``logits`` [..., K] against target probabilities [..., K]."""
    return -(target * F.log_softmax(logits, dim=-1)).sum(-1)


def clipped_double_loss(logits: torch.Tensor, next_logits: torch.Tensor, reward: torch.Tensor,
                        discount: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Clipped double Q for distributional critics: the cross-entropy of each critic's ``logits`` [n, B, K]
    to the projection of R + d Z under the next-state distribution of the lower mean among the target's
    ``next_logits`` [m, B, K], averaged over the batch and summed over the n critics."""
    with torch.no_grad():
        target = project(lower_mean(torch.softmax(next_logits, -1), z), reward, discount, z)
    return cross_entropy(logits, target.unsqueeze(0)).mean(-1).sum()
