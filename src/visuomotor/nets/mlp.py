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


class EnsembleLayerNorm(nn.Module):
    """LayerNorm over the last dim with a separate affine per ensemble member: [n, B, d]."""

    def __init__(self, n: int, dim: int, eps: float = 1e-5):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n, 1, dim))
        self.bias = nn.Parameter(torch.zeros(n, 1, dim))
        self.eps = eps


class EnsembleMLP(nn.Module):
    """``n`` MLPs with identical shapes, one batched matmul per layer for all of them.

    ``layer_norm=True`` puts a LayerNorm (per-member affine) after every hidden layer's matmul,
    before the ReLU, as RLPD's critics."""

    def __init__(self, n: int, in_dim: int, hidden: Sequence[int], out_dim: int, layer_norm: bool = False):
        super().__init__()
        dims = [in_dim, *hidden, out_dim]
        self.layers = nn.ModuleList(EnsembleLinear(n, a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.norms = nn.ModuleList(EnsembleLayerNorm(n, d) for d in hidden) if layer_norm else None
        self.n = n

    def flat_params(self) -> list[torch.Tensor]:
        """(weight, bias[, ln weight, ln bias]) per layer, in order; the output layer's pair last."""
        out = []
        for i, layer in enumerate(self.layers):
            out += [layer.weight, layer.bias]
            if self.norms is not None and i < len(self.norms):
                out += [self.norms[i].weight, self.norms[i].bias]
        return out

    def forward(self, x: torch.Tensor, params: Sequence[torch.Tensor] | None = None) -> torch.Tensor:
        """x: [B, in] (shared by every member) or [n, B, in] -> [n, B, out].

        ``params`` (in ``flat_params`` order) replaces the module's own parameters: a cast copy
        (bf16 compute from float32 masters) or detached ones (a loss that must reach the input but
        not these weights).
        """
        if params is None:
            params = self.flat_params()
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.n, -1, -1)
        k, last = 0, len(self.layers) - 1
        for i in range(last + 1):
            w, b = params[k], params[k + 1]
            k += 2
            x = torch.baddbmm(b, x.to(w.dtype), w)  # layers may differ in precision
            if i < last:
                if self.norms is not None:
                    g, beta = params[k], params[k + 1]
                    k += 2
                    x = torch.nn.functional.layer_norm(x, x.shape[-1:], eps=self.norms[i].eps) * g + beta
                x = torch.relu(x)
        return x
