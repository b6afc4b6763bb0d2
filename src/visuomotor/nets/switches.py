"""Switches on networks that leave their parameters and what they compute unchanged.

- ``frozen(*modules)``: the modules' parameters take no gradient for the duration (a loss that reaches
  through a network to its input, e.g. SAC's policy loss through the critics, without moving it).
- ``autocast_bf16(fn, on, device)``: a function (a loss) computed under bf16 autocast: the matmuls and
  convolutions of the networks it calls in bfloat16 from their float32 weights; what a loss does with
  their outputs (cast back by ``.float()``) stays float32.
- ``bf16(*modules)``: networks that declare a ``bf16`` attribute (``nets.mlp.ReLUMLP`` and
  ``EnsembleMLP``: hidden layers in bfloat16 from float32 weights, output layer in float32; the simba
  nets: under bf16 autocast, output in float32) compute so for the duration.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator

import torch
from torch import nn


@contextlib.contextmanager
def frozen(*modules: nn.Module) -> Iterator[None]:
    """No gradient reaches the modules' parameters inside the block (gradients still flow through them to
    their inputs); each parameter's ``requires_grad`` is restored after it."""
    params = [p for m in modules for p in m.parameters()]
    before = [p.requires_grad for p in params]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(params, before):
            p.requires_grad_(flag)


def bf16_capable(*modules: nn.Module) -> list[nn.Module]:
    """The submodules that compute in bf16 when switched (those with a ``bf16`` attribute)."""
    return [m for module in modules for m in module.modules() if hasattr(m, "bf16")]


@contextlib.contextmanager
def bf16(*modules: nn.Module, on: bool = True) -> Iterator[None]:
    """The networks among ``modules`` compute in bf16 inside the block (module doc); a no-op with ``on`` False."""
    if not on:
        yield
        return
    with bf16_on(bf16_capable(*modules)):
        yield


@contextlib.contextmanager
def bf16_on(nets: list[nn.Module]) -> Iterator[None]:
    """``bf16`` for networks already collected by ``bf16_capable`` (a hot path collects them once)."""
    before = [m.bf16 for m in nets]
    for m in nets:
        m.bf16 = True
    try:
        yield
    finally:
        for m, flag in zip(nets, before):
            m.bf16 = flag


def autocast_bf16(fn: Callable, on: bool, device) -> Callable:
    """``fn`` computing under bf16 autocast on ``device`` (module doc), or ``fn`` itself with ``on`` False."""
    if not on:
        return fn
    device_type = torch.device(device).type

    @functools.wraps(fn)
    def under_bf16(*args, **kwargs):
        with torch.autocast(device_type, dtype=torch.bfloat16):
            return fn(*args, **kwargs)

    return under_bf16
