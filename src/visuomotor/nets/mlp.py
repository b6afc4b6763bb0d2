"""MLPs and ensembles of MLPs evaluated as one batched matmul per layer."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: type[nn.Module] = nn.ReLU) -> nn.Sequential:
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden]
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), activation()]
    layers.append(nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*layers)


class EnsembleLinear(nn.Module):
    """``n`` independent Linear layers applied as one ``baddbmm``: [n, B, in] -> [n, B, out].

    Initialized like ``nn.Linear`` (uniform in +-1/sqrt(in)) independently per member.
    """

    def __init__(self, n: int, in_dim: int, out_dim: int):
        super().__init__()
        bound = 1.0 / math.sqrt(in_dim)
        self.weight = nn.Parameter(torch.empty(n, in_dim, out_dim).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(n, 1, out_dim).uniform_(-bound, bound))

    def forward(self, x: torch.Tensor, weight: torch.Tensor | None = None, bias: torch.Tensor | None = None):
        w = self.weight if weight is None else weight
        b = self.bias if bias is None else bias
        if x.dim() == 2:  # a shared input for every member
            x = x.unsqueeze(0).expand(w.shape[0], -1, -1)
        return torch.baddbmm(b, x, w)


class EnsembleMLP(nn.Module):
    """``n`` MLPs with identical shapes, one batched matmul per layer for all of them."""

    def __init__(self, n: int, in_dim: int, hidden: Sequence[int], out_dim: int):
        super().__init__()
        dims = [in_dim, *hidden, out_dim]
        self.layers = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.n = n

    def forward(self, x: torch.Tensor, params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """x: [B, in] (shared by every member) or [n, B, in] -> [n, B, out].

        ``params`` (weight, bias, weight, bias, ...) replaces the module's own parameters: a cast
        copy (bf16 compute from float32 masters) or detached ones (a loss that must reach the
        input but not these weights).
        """
        if params is None:
            params = [t for layer in self.layers for t in (layer.weight, layer.bias)]
        last = len(params) // 2 - 1
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.n, -1, -1)
        for i in range(last + 1):
            w = params[2 * i]
            x = torch.baddbmm(params[2 * i + 1], x.to(w.dtype), w)  # layers may differ in precision
            if i < last:
                x = torch.relu(x)
        return x
