"""Network families: the one choice of networks an algorithm's config embeds (``NetConfig``: ``--sac.net``,
``--td3.net``, ``--fasttd3.net``, ``--fastsac.net``), and the registry that builds them.

An algorithm asks its config's family for "an actor" (a network from the observation to the heads it
names) and for "a critic ensemble" (n networks, [n, B, out]); it never names a family. ``mlp`` is the
algorithm's own paper's MLP, which the algorithm hands over as ``own`` (SAC's ReLU MLP, FastSAC's
SiLU trunk with zeroed heads, ...); ``simba`` and ``simbav2`` are Simba's and SimbaV2's networks
(``nets/simba.py``) in place of it. What else a family changes is declared on it, not tested by name:

- ``running_normalization``: its papers learn from observations normalized by running statistics;
- ``distributional``: its critics return logits over a support of atoms (C51) and learn from scaled
  rewards (``simba.RewardScaler``);
- ``bounded_log_std``: a Gaussian policy's log std is squashed by a tanh into [min, max] (else clipped);
- ``hand_derived``: SAC's speed path has hand-derived gradients for it (a plain ReLU MLP);
- ``after_step(module)``: what follows each optimizer step (SimbaV2: weight rows back on the sphere);
- ``zero_output(actor, rows)``: zero the rows of an actor's output layer (a residual learner's start).

A new family is one file and one line: a ``NetFamily`` subclass and ``FAMILIES["name"] = Family()``
(``tests/test_new_network.py`` defines one and trains SAC and FastTD3 with it).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from torch import nn

from visuomotor.nets import simba
from visuomotor.nets.mlp import EnsembleMLP


@dataclass
class NetConfig:
    """The networks of an algorithm's actor and critics, one choice shared by the algorithms that take it."""

    net: str = "mlp"
    """The actor's and critics' networks, a family of ``nets.families.FAMILIES``: mlp (the algorithm's own
    paper's MLPs), simba (pre-LayerNorm residual blocks) or simbav2 (weights and features on the unit
    hypersphere, distributional critics on scaled rewards); the simba nets learn from observations
    normalized by running statistics."""
    widths: tuple[int, int] = (128, 512)
    """simba, simbav2: the width of the actor and of each critic (the papers' 128 and 512)."""
    blocks: tuple[int, int] = (1, 2)
    """simba, simbav2: residual blocks of the actor and of each critic (the papers' 1 and 2)."""

    def family(self) -> NetFamily:
        """The registered family ``net`` names."""
        return FAMILIES[self.net]

    def validate_net(self) -> None:
        if self.net not in FAMILIES:
            raise ValueError(f"net must be one of {', '.join(FAMILIES)}, got {self.net!r}")
        if len(self.widths) != 2 or len(self.blocks) != 2 or any(x <= 0 for x in (*self.widths, *self.blocks)):
            raise ValueError(f"widths and blocks must be two positive numbers (actor, critic), got "
                             f"{self.widths}, {self.blocks}")


@dataclass
class ValueSupportConfig:
    """The support of a distributional critic whose rewards are scaled into it (SimbaV2's)."""

    num_atoms: int = 101
    """simbav2: atoms of each critic's value distribution."""
    g_max: float = 5.0
    """simbav2: the value support is [-g_max, g_max], and rewards are scaled so that returns stay in it."""

    def validate_support(self) -> None:
        if self.num_atoms < 2 or not self.g_max > 0:
            raise ValueError(f"need num_atoms >= 2 and g_max > 0, got {self.num_atoms}, {self.g_max}")


class NetFamily:
    """How one family builds an actor and a critic ensemble, and what else it changes (module doc)."""

    running_normalization: ClassVar[bool] = False
    distributional: ClassVar[bool] = False
    bounded_log_std: ClassVar[bool] = False
    hand_derived: ClassVar[bool] = False

    def actor(self, cfg: NetConfig, in_dim: int, heads: Sequence[int], own: Callable[[], nn.Module]) -> nn.Module:
        """A network from ``in_dim`` inputs to ``sum(heads)`` outputs (the heads side by side, or as a tuple
        where the algorithm's own network returns them so); ``own`` builds the algorithm's own paper's
        network."""
        raise NotImplementedError

    def critics(self, cfg: NetConfig, n: int, in_dim: int, out_dim: int, own: Callable[[], nn.Module]) -> nn.Module:
        """``n`` critics, x [B, in] (or [n, B, in]) -> [n, B, out], with ``flat_params()`` and a
        ``forward(x, params)`` that takes replacement parameters in that order."""
        raise NotImplementedError

    def after_step(self, module: nn.Module) -> None:
        """After each optimizer step of ``module``'s parameters."""

    def zero_output(self, actor: nn.Module, rows: slice) -> None:
        """Zero the rows ``rows`` of the output layer of a network ``actor`` built (its output 0 there)."""
        raise ValueError(f"a residual learner starts from a zeroed output layer; {type(self).__name__} has "
                         f"none to zero (use net mlp)")


class MLP(NetFamily):
    """The algorithm's own paper's MLPs."""

    hand_derived = True

    def actor(self, cfg, in_dim, heads, own):
        return own()

    def critics(self, cfg, n, in_dim, out_dim, own):
        return own()

    def zero_output(self, actor, rows):
        import torch

        head = [m for m in actor.modules() if isinstance(m, nn.Linear)][-1]
        with torch.no_grad():
            head.weight[rows].zero_()
            head.bias[rows].zero_()


class Simba(NetFamily):
    """SimBa's pre-LayerNorm residual blocks (``nets/simba.py``), from running-normalized observations."""

    running_normalization = True
    bounded_log_std = True  # (both simba papers squash the log std by a tanh)
    kind = "simba"

    def actor(self, cfg, in_dim, heads, own):
        return simba.build(self.kind, in_dim, cfg.widths[0], cfg.blocks[0], tuple(heads))

    def critics(self, cfg, n, in_dim, out_dim, own):
        return simba.NetEnsemble(n, lambda: simba.build(self.kind, in_dim, cfg.widths[1], cfg.blocks[1], (out_dim,)))


class SimbaV2(Simba):
    """SimbaV2's hyperspherical networks and distributional critics on scaled rewards (``nets/simba.py``)."""

    distributional = True
    kind = "simbav2"

    def after_step(self, module):
        simba.project_weights_(module)


def critic_ensemble(cfg: NetConfig, n: int, in_dim: int, out_dim: int, hidden: Sequence[int], layer_norm: bool = False,
                    activation: str = "relu") -> nn.Module:
    """``n`` critics [n, B, out_dim] of ``cfg``'s family; the algorithm's own (mlp) are an ``EnsembleMLP``
    of ``hidden`` (LayerNorms with ``layer_norm``, ``activation`` between layers)."""
    return cfg.family().critics(cfg, n, in_dim, out_dim,
                                lambda: EnsembleMLP(n, in_dim, hidden, out_dim, layer_norm, activation))


FAMILIES: dict[str, NetFamily] = {"mlp": MLP(), "simba": Simba(), "simbav2": SimbaV2()}
"""Family name (``--<algo>.net``) -> the family; a new one is one line here or in the user's code."""
