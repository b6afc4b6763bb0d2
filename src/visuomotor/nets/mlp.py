"""MLPs and ensembles of MLPs evaluated as one batched matmul per layer."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def mlp(in_dim: int, hidden: Sequence[int], out_dim: int, activation: type[nn.Module] = nn.ReLU,
        layer_norm: bool = False) -> nn.Sequential:
    """Linear layers with ``activation`` between them (after a LayerNorm with ``layer_norm``)."""
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden]
    for a, b in zip(dims[:-1], dims[1:]):
        layers += [nn.Linear(a, b), *([nn.LayerNorm(b)] if layer_norm else []), activation()]
    layers.append(nn.Linear(dims[-1], out_dim))
    return nn.Sequential(*layers)


def hidden_cast(params, dtype: torch.dtype) -> list[torch.Tensor]:
    """(weight, bias, ...) with every layer but the output layer (the last pair) cast to ``dtype``; the
    cast passes gradients back to the originals."""
    params = list(params)
    return [p.to(dtype) for p in params[:-2]] + params[-2:]


class ReLUMLP(nn.Sequential):
    """``mlp``'s ReLU network (the same layers, initialization and state_dict) computed by
    ``relu_mlp_forward``; with ``bf16`` (``nets.switches.bf16``) its hidden layers compute in bfloat16
    from the float32 weights and the output layer stays float32."""

    bf16 = False

    def __init__(self, in_dim: int, hidden: Sequence[int], out_dim: int):
        super().__init__(*mlp(in_dim, hidden, out_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        params = [p for m in self._modules.values() if isinstance(m, nn.Linear) for p in (m.weight, m.bias)]
        return relu_mlp_forward(x, hidden_cast(params, torch.bfloat16) if self.bf16 else params)[0]


def ensemble_affine(b: torch.Tensor, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """x @ w + b for every ensemble member (x [n, B, in], w [n, in, out], b [n, 1, out]), in w's dtype.
    A single output column (a critic's Q) is a multiply-and-sum, which takes x in any precision
    without a cast: a batched matmul of that shape takes ~3x as long on CPU (88 vs 29 us for
    2 x 256 x 256 here)."""
    if _column(w):
        return (x * w.transpose(1, 2)).sum(-1, keepdim=True) + b
    return torch.baddbmm(b, x.to(w.dtype), w)


def _column(w: torch.Tensor) -> bool:
    return w.dim() == 3 and w.shape[-1] == 1


def relu_mlp_forward(x: torch.Tensor, params: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A ReLU MLP from its (weight, bias, ...) in the modules' layouts: ``nn.Linear``'s [out, in], or
    ``EnsembleLinear``'s [n, in, out] with x [n, B, in] (or [B, in], shared by every member). Each
    layer runs in its weight's dtype. Returns the output and every layer's input (what
    ``relu_mlp_backward`` needs)."""
    x = x.to(params[0].dtype)
    if params[0].dim() == 3 and x.dim() == 2:
        x = x.unsqueeze(0).expand(params[0].shape[0], -1, -1)
    inputs, last = [], len(params) // 2 - 1
    for i in range(last + 1):
        w, b = params[2 * i], params[2 * i + 1]
        if not _column(w):  # (a column layer takes the input as it is, see ensemble_affine)
            x = x.to(w.dtype)
        inputs.append(x)
        x = torch.addmm(b, x, w.t()) if w.dim() == 2 else ensemble_affine(b, x, w)
        if i < last:
            x = torch.relu(x)
    return x, inputs


def relu_mlp_backward(params: Sequence[torch.Tensor], inputs: Sequence[torch.Tensor], dy: torch.Tensor,
                      param_grads: bool = True, input_cols: slice | None = None):
    """The gradients of ``relu_mlp_forward``, derived by hand (no autograd graph): for each layer
    y = x W + b, dW = x^T dy, db = sum over the batch of dy, dx = dy W^T, and through the ReLU
    before it dx where its output x > 0. ``dy``: the gradient of the output. Returns the parameters'
    gradients (in their dtypes and layouts; None when ``param_grads`` is False) and the gradient of
    the input's columns ``input_cols`` (None when not asked for)."""
    grads: list[torch.Tensor | None] = [None] * len(params)
    dx_in = None
    for i in reversed(range(len(params) // 2)):
        w, x = params[2 * i], inputs[i]
        dy = dy.to(w.dtype)
        ensemble = w.dim() == 3
        column = _column(w)  # one output column: products and sums (see ensemble_affine)
        if param_grads:
            if column:
                grads[2 * i] = (x * dy).sum(1, keepdim=True).transpose(1, 2)
            else:
                grads[2 * i] = torch.bmm(x.transpose(1, 2), dy) if ensemble else torch.mm(dy.t(), x)
            grads[2 * i + 1] = dy.sum(1, keepdim=True) if ensemble else dy.sum(0)
        if i > 0:
            if column:  # straight into the input's precision (one pass instead of a product and a cast)
                dx = torch.mul(dy, w.transpose(1, 2), out=x.new_empty(x.shape[:-1] + (w.shape[1],)))
            else:
                dx = torch.bmm(dy, w.transpose(1, 2)) if ensemble else torch.mm(dy, w)
            dy = torch.ops.aten.threshold_backward(dx, x, 0)  # x: the previous layer's ReLU output
        elif input_cols is not None:
            dx_in = torch.bmm(dy, w[:, input_cols].transpose(1, 2)) if ensemble else torch.mm(dy, w[:, input_cols])
    return grads, dx_in


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
        return ensemble_affine(b, x, w)


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
    before the activation, as RLPD's critics; ``activation`` relu or silu (FastSAC's critics). With
    ``bf16`` (``nets.switches.bf16``) every layer but the output layer computes in bfloat16 from the
    float32 weights."""

    bf16 = False

    def __init__(self, n: int, in_dim: int, hidden: Sequence[int], out_dim: int, layer_norm: bool = False,
                 activation: str = "relu"):
        super().__init__()
        if activation not in ("relu", "silu"):
            raise ValueError(f"activation must be relu or silu, got {activation!r}")
        self.act = torch.relu if activation == "relu" else torch.nn.functional.silu
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
            params = hidden_cast(self.flat_params(), torch.bfloat16) if self.bf16 else self.flat_params()
        if not _column(params[0]):  # into the first layer's precision once, before sharing it
            x = x.to(params[0].dtype)
        if x.dim() == 2:
            x = x.unsqueeze(0).expand(self.n, -1, -1)
        k, last = 0, len(self.layers) - 1
        for i in range(last + 1):
            w, b = params[k], params[k + 1]
            k += 2
            x = ensemble_affine(b, x, w)  # layers may differ in precision
            if i < last:
                if self.norms is not None:
                    g, beta = params[k], params[k + 1]
                    k += 2
                    x = torch.nn.functional.layer_norm(x, x.shape[-1:], eps=self.norms[i].eps) * g + beta
                x = self.act(x)
        return x
