"""The Simba papers' changes to how an actor-critic learns, beside their networks (``nets/simba.py``).

SimBa (Lee et al. 2024, "SimBa: Simplicity Bias for Scaling Up Parameters in Deep Reinforcement
Learning") and SimbaV2 (Lee et al. 2025, "Hyperspherical Normalization for Scalable Deep
Reinforcement Learning") train SAC with more than new networks; ``algos/sac.py`` takes these from
here when ``--sac.net`` is simba or simbav2 (each a config field, so any of them can be set alone):

- observations normalized by running statistics (``obs_normalization``), the statistics taking in
  every stored step;
- SimbaV2's distributional critics learn from rewards divided by the scale of the running
  discounted return (``nets.simba.RewardScaler``), so that returns stay within [-g_max, g_max];
- SimBa: AdamW with weight decay 0.01; SimbaV2: Adam with learning rates decaying linearly from
  1e-4 to 5e-5 over the run (``lr_final_ratio``, ``lr_decay_updates``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
from torch import nn

from visuomotor.nets import simba
from visuomotor.nets.normalizer import EmpiricalNormalizer


@dataclass
class SimbaRecipeConfig:
    """The Simba papers' learning settings (a mixin of an algorithm's config; None = the network family's
    papers' value, filled by the algorithm's ``fill_defaults``)."""

    obs_normalization: bool | None = None
    """Normalize observations by running mean and variance (kept with the policy and exported); None = on
    with simba and simbav2, off with mlp."""
    weight_decay: float | None = None
    """AdamW weight decay of the networks (0 = Adam); None = 0.01 with simba, 0 otherwise."""
    lr_final_ratio: float | None = None
    """The learning rates decay linearly to this fraction of their start over ``lr_decay_updates``;
    None = 0.5 with simbav2 (1e-4 to 5e-5, the authors' config), 1 (constant) otherwise."""
    lr_decay_updates: int | None = None
    """Updates over which the learning rates decay; None = all of the run's updates (set per run)."""

    def recipe_defaults(self) -> dict:
        """The values of these fields for the config's network family (``net``): its papers' recipe, or
        none of it (a family of its own takes the mlp row)."""
        return {**RECIPES.get(self.net, RECIPES["mlp"]), "obs_normalization": self.family().running_normalization}

    def for_run(self, updates: int, device: torch.device):
        """``lr_decay_updates`` None: all of the run's ``updates``."""
        cfg = super().for_run(updates, device)  # (the next config in the algorithm config's bases)
        if cfg.lr_decay_updates is None:
            cfg = dataclasses.replace(cfg, lr_decay_updates=max(1, updates))
        return cfg

    def validate_recipe(self) -> None:
        if self.weight_decay < 0 or not 0 < self.lr_final_ratio <= 1:
            raise ValueError(f"need weight_decay >= 0 and lr_final_ratio in (0, 1], got {self.weight_decay}, "
                             f"{self.lr_final_ratio}")
        if self.lr_decay_updates is not None and self.lr_decay_updates < 1:
            raise ValueError(f"lr_decay_updates must be >= 1, got {self.lr_decay_updates}")


RECIPES: dict[str, dict] = {
    "mlp": dict(weight_decay=0.0, lr_final_ratio=1.0),
    "simba": dict(weight_decay=0.01, lr_final_ratio=1.0),  # SimBa: AdamW, constant learning rates
    "simbav2": dict(weight_decay=0.0, lr_final_ratio=0.5),  # SimbaV2: Adam, 1e-4 -> 5e-5
}


def optimizer(groups: list[dict], cfg: SimbaRecipeConfig, eps: float, device: torch.device) -> torch.optim.Optimizer:
    """AdamW with the config's weight decay, or Adam without it (then groups of one learning rate merge into
    one: one fused kernel launch per step)."""
    fused = device.type in ("cpu", "cuda")
    if cfg.weight_decay:
        return torch.optim.AdamW(groups, eps=eps, weight_decay=cfg.weight_decay, fused=fused)
    if len({g["lr"] for g in groups}) == 1:
        groups = [{"params": [p for g in groups for p in g["params"]], "lr": groups[0]["lr"]}]
    return torch.optim.Adam(groups, eps=eps, fused=fused)


class LinearDecay:
    """The optimizer's learning rates decay linearly from their start to ``lr_final_ratio`` of it over
    ``lr_decay_updates`` updates, then stay (a no-op with ratio 1)."""

    def __init__(self, opt: torch.optim.Optimizer, cfg: SimbaRecipeConfig):
        self.opt, self.cfg = opt, cfg
        self.base_lrs = [g["lr"] for g in opt.param_groups]

    def set(self, updates: int) -> None:
        """The learning rates for the update after ``updates`` updates."""
        cfg = self.cfg
        if cfg.lr_final_ratio != 1.0 and cfg.lr_decay_updates:
            f = 1.0 - (1.0 - cfg.lr_final_ratio) * min(1.0, updates / cfg.lr_decay_updates)
            for group, lr in zip(self.opt.param_groups, self.base_lrs):
                group["lr"] = lr * f


class RunningInputs(nn.Module):
    """What the losses see of the data: observations through ``normalizer`` (running statistics with
    ``normalize``, else ``fixed``: the algorithm's own fixed statistics, or the identity) and rewards
    divided by ``reward_scaler``'s scale (with ``scale_rewards``, a distributional family; else as they
    are). The running statistics take in every stored step."""

    def __init__(self, obs_dim: int, normalize: bool, scale_rewards: bool, gamma: float, g_max: float, device,
                 fixed: nn.Module | None = None):
        super().__init__()
        self.obs_dim, self.running, self.device = obs_dim, normalize, device
        self.normalizer = (EmpiricalNormalizer(obs_dim) if normalize else fixed if fixed is not None else nn.Identity()).to(device)
        self.reward_scaler = simba.RewardScaler(gamma, g_max).to(device) if scale_rewards else None

    def observe(self, t) -> None:
        """One env step's ``Transitions`` into the statistics."""
        simba.take_in(t, self.normalizer if self.running else None, self.reward_scaler, self.obs_dim, self.device)

    def batch(self, batch):
        """The batch as the losses see it (itself when nothing is normalized or scaled)."""
        if isinstance(self.normalizer, nn.Identity) and self.reward_scaler is None:
            return batch
        reward = batch.reward / self.reward_scaler.denominator() if self.reward_scaler is not None else batch.reward
        return dataclasses.replace(batch, obs=self.normalizer(batch.obs), next_obs=self.normalizer(batch.next_obs),
                                   reward=reward)

    def state(self) -> dict:
        """The statistics, as an agent's state keeps them (keys ``normalizer`` and ``reward_scaler``)."""
        return {"normalizer": self.normalizer.state_dict(),
                "reward_scaler": self.reward_scaler.state_dict() if self.reward_scaler is not None else {}}

    def load(self, state: dict) -> None:
        self.normalizer.load_state_dict(state.get("normalizer", {}))
        if self.reward_scaler is not None and "reward_scaler" in state:
            self.reward_scaler.load_state_dict(state["reward_scaler"])

