"""A circular transition replay for flat observations, kept as preallocated tensors.

Each slot holds (obs, action, reward, next_obs, terminated). ``terminated`` is the only end flag a
critic needs: a time-limit truncation keeps ``terminated=False``, so the target bootstraps through it.
Sampling draws indices with its own ``torch.Generator`` (saved in checkpoints) and gathers a batch
with one ``index_select`` per field: no Python loop over transitions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Batch:
    obs: torch.Tensor
    action: torch.Tensor
    reward: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor  # float 0/1: 1 where the next state is terminal (no bootstrap)


class ReplayBuffer:
    def __init__(self, capacity: int, obs_dim: int, act_dim: int, device: torch.device | str = "cpu", seed: int = 0):
        if capacity <= 0:
            raise ValueError(f"replay capacity must be > 0, got {capacity}")
        self.capacity = int(capacity)
        self.device = torch.device(device)
        kw = {"device": self.device}
        self.obs = torch.zeros(capacity, obs_dim, dtype=torch.float32, **kw)
        self.next_obs = torch.zeros(capacity, obs_dim, dtype=torch.float32, **kw)
        self.action = torch.zeros(capacity, act_dim, dtype=torch.float32, **kw)
        self.reward = torch.zeros(capacity, dtype=torch.float32, **kw)
        self.terminated = torch.zeros(capacity, dtype=torch.float32, **kw)
        self.pos = 0
        self.size = 0
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return self.size

    def add(self, obs, action, reward, next_obs, terminated, truncated: bool = False) -> None:
        """Add one transition (the per-env-step path: five slot writes, nothing else)."""
        i = self.pos
        self.obs[i] = torch.as_tensor(obs)
        self.action[i] = torch.as_tensor(action)
        self.reward[i] = float(reward)
        self.next_obs[i] = torch.as_tensor(next_obs)
        self.terminated[i] = float(terminated)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def add_many(self, obs, action, reward, next_obs, terminated) -> None:
        """Add a block of transitions in order (an episode on resume); wraps around the capacity."""
        n = len(reward)
        if n == 0:
            return
        if n > self.capacity:  # only the newest `capacity` survive anyway
            obs, action, reward, next_obs, terminated = (
                x[-self.capacity:] for x in (obs, action, reward, next_obs, terminated)
            )
            self.pos = (self.pos + n - self.capacity) % self.capacity
            n = self.capacity
        idx = (self.pos + torch.arange(n)) % self.capacity
        idx = idx.to(self.device)
        for buf, value in (
            (self.obs, obs), (self.action, action), (self.reward, reward),
            (self.next_obs, next_obs), (self.terminated, terminated),
        ):
            buf[idx] = torch.as_tensor(np.asarray(value), dtype=torch.float32).to(self.device).reshape(buf[idx].shape)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def add_episode(self, episode: dict) -> None:
        """A stored episode (the on-disk layout of ``buffers.episodes``)."""
        from visuomotor.buffers.episodes import transitions

        self.add_many(*transitions(episode))

    def sample(self, batch_size: int) -> Batch:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        idx = torch.randint(0, self.size, (batch_size,), generator=self.generator, device=self.device)
        return Batch(
            obs=self.obs.index_select(0, idx),
            action=self.action.index_select(0, idx),
            reward=self.reward.index_select(0, idx),
            next_obs=self.next_obs.index_select(0, idx),
            terminated=self.terminated.index_select(0, idx),
        )

    def rng_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_rng_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


def cat_batches(batches: list):
    """One batch from several of the same kind (any dataclass of tensors), concatenated on dim 0."""
    import dataclasses

    if len(batches) == 1:
        return batches[0]
    first = batches[0]
    return type(first)(**{f.name: torch.cat([getattr(b, f.name) for b in batches])
                          for f in dataclasses.fields(first)})


class MixedSampler:
    """Symmetric sampling (RLPD): ``round(batch x fraction)`` transitions of every batch from the prior
    data's replay, the rest from the online replay, concatenated (online first)."""

    def __init__(self, online, prior, fraction: float):
        self.online, self.prior, self.fraction = online, prior, float(fraction)

    def counts(self, batch_size: int) -> tuple[int, int]:
        k = int(round(batch_size * self.fraction))
        return batch_size - k, k

    def sample(self, batch_size: int):
        n_online, n_prior = self.counts(batch_size)
        parts = [r.sample(n) for r, n in ((self.online, n_online), (self.prior, n_prior)) if n > 0]
        return cat_batches(parts)
