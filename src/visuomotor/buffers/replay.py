"""A circular transition replay for flat observations, kept as preallocated tensors.

Each slot holds (obs, action, reward, next_obs, terminated) and whether the episode ended there.
``terminated`` is the end flag a critic needs: a time-limit truncation keeps ``terminated=False``,
so the target bootstraps through it. Sampling draws indices with its own ``torch.Generator`` (saved
in checkpoints) and gathers a batch with one ``index_select`` per field: no Python loop over
transitions.

With ``n_step`` n > 1 a sample starting at slot i covers the m <= n transitions i, ..., i+m-1 of
its episode (m stops at the episode's end, by termination or truncation, and at the newest stored
transition) and returns

    reward    sum_{k<m} gamma^k r_{i+k}
    next_obs  s_{i+m}, terminated that of transition i+m-1
    discount  gamma^m, or 0 when the episode terminated within those m steps

so the critic's target is reward + discount * V(next_obs); with n = 1 ``discount`` is None and
the target is r + gamma (1 - terminated) V(s').
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
    discount: torch.Tensor | None = None  # n-step replays: gamma^m, 0 after a termination (see above)

    def bootstrap_discount(self, gamma: float) -> torch.Tensor:
        """The factor on V(s') in the critic's target: gamma (1 - d) for one-step batches, the replay's
        per-sample gamma^m (0 after a termination) for n-step ones."""
        return gamma * (1.0 - self.terminated) if self.discount is None else self.discount


class ReplayBuffer:
    def __init__(self, capacity: int, obs_dim: int, act_dim: int, device: torch.device | str = "cpu", seed: int = 0,
                 n_step: int = 1, gamma: float = 0.99):
        if capacity <= 0:
            raise ValueError(f"replay capacity must be > 0, got {capacity}")
        if n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {n_step}")
        self.capacity = int(capacity)
        self.n_step, self.gamma = int(n_step), float(gamma)
        self.device = torch.device(device)
        kw = {"device": self.device}
        self.obs = torch.zeros(capacity, obs_dim, dtype=torch.float32, **kw)
        self.next_obs = torch.zeros(capacity, obs_dim, dtype=torch.float32, **kw)
        self.action = torch.zeros(capacity, act_dim, dtype=torch.float32, **kw)
        self.reward = torch.zeros(capacity, dtype=torch.float32, **kw)
        self.terminated = torch.zeros(capacity, dtype=torch.float32, **kw)
        self.ended = torch.zeros(capacity, dtype=torch.bool, **kw)  # the episode ended with this transition
        self._powers = self.gamma ** torch.arange(self.n_step + 1, dtype=torch.float32, device=self.device)
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
        self.ended[i] = bool(terminated or truncated)
        self.pos = (i + 1) % self.capacity
        self.size = min(self.size + 1, self.capacity)

    def add_batch(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One step of N envs: N self-contained transitions (``next_obs`` the real next states), written
        as one block. Interleaved envs leave no episode contiguous, so this needs one-step returns."""
        if self.n_step != 1:
            raise ValueError(f"a replay fed by several envs at once takes one-step returns, got n_step {self.n_step}")
        ended = torch.as_tensor(np.asarray(terminated) | np.asarray(truncated)) if not isinstance(
            terminated, torch.Tensor) else terminated | torch.as_tensor(truncated, device=terminated.device)
        self.add_many(obs, action, reward, next_obs, terminated, ended)

    def add_many(self, obs, action, reward, next_obs, terminated, ended=None) -> None:
        """Add a block of transitions in order (an episode on resume); wraps around the capacity.
        ``ended`` marks the transitions that end an episode (default: the terminated ones)."""
        n = len(reward)
        if n == 0:
            return
        ended = terminated if ended is None else ended
        ended = ended.bool() if isinstance(ended, torch.Tensor) else np.asarray(ended).astype(bool)
        if n > self.capacity:  # only the newest `capacity` survive anyway
            obs, action, reward, next_obs, terminated, ended = (
                x[-self.capacity:] for x in (obs, action, reward, next_obs, terminated, ended)
            )
            self.pos = (self.pos + n - self.capacity) % self.capacity
            n = self.capacity
        idx = (self.pos + torch.arange(n)) % self.capacity
        idx = idx.to(self.device)
        for buf, value in (
            (self.obs, obs), (self.action, action), (self.reward, reward),
            (self.next_obs, next_obs), (self.terminated, terminated),
        ):
            value = value if isinstance(value, torch.Tensor) else np.asarray(value)
            buf[idx] = torch.as_tensor(value, dtype=torch.float32).to(self.device).reshape(buf[idx].shape)
        self.ended[idx] = torch.as_tensor(ended, device=self.device)
        self.pos = (self.pos + n) % self.capacity
        self.size = min(self.size + n, self.capacity)

    def add_episode(self, episode: dict) -> None:
        """A stored episode (the on-disk layout of ``buffers.episodes``). Its last transition ends it
        in the replay even when it was cut short (a run's last, unfinished episode): what follows
        in the buffer is another episode."""
        from visuomotor.buffers.episodes import transitions

        obs, action, reward, next_obs, terminated = transitions(episode)
        ended = np.asarray(terminated).astype(bool).copy()
        if len(ended):
            ended[-1] = True
        self.add_many(obs, action, reward, next_obs, terminated, ended)

    def sample(self, batch_size: int) -> Batch:
        if self.size == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        idx = torch.randint(0, self.size, (batch_size,), generator=self.generator, device=self.device)
        if self.n_step == 1:
            return Batch(
                obs=self.obs.index_select(0, idx),
                action=self.action.index_select(0, idx),
                reward=self.reward.index_select(0, idx),
                next_obs=self.next_obs.index_select(0, idx),
                terminated=self.terminated.index_select(0, idx),
            )
        return self._n_step_batch(idx)

    def _n_step_batch(self, idx: torch.Tensor) -> Batch:
        """n-step returns from the start slots ``idx`` (see the module docstring), as tensor ops."""
        k = torch.arange(self.n_step, device=self.device)
        slots = (idx[:, None] + k[None, :]) % self.capacity  # [B, n]
        # transitions from idx up to the newest one (slot pos - 1), inclusive
        available = (self.pos - 1 - idx) % self.capacity + 1
        return n_step_batch(self, slots, available)

    def rng_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_rng_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


def n_step_batch(replay, slots: torch.Tensor, available: torch.Tensor) -> Batch:
    """The n-step batch of a replay's fields (obs, action, reward, next_obs, terminated, ended, _powers):
    ``slots`` [B, n] hold each sample's next n transitions of its stream (slot 0 its start), of which
    ``available`` [B] are stored; the window stops after the first episode end (see the module docstring)."""
    k = torch.arange(slots.shape[1], device=slots.device)
    ended = replay.ended[slots]
    ended_before = ended.long().cumsum(1) - ended.long()  # episode ends strictly before step k
    valid = (ended_before == 0) & (k[None, :] < available[:, None])  # [B, n]; step 0 always valid
    m = valid.sum(1)  # steps taken, 1..n
    reward = (replay.reward[slots] * valid * replay._powers[:-1][None, :]).sum(1)
    first, last = slots[:, 0], slots.gather(1, (m - 1)[:, None]).squeeze(1)
    terminated = replay.terminated.index_select(0, last)
    return Batch(
        obs=replay.obs.index_select(0, first),
        action=replay.action.index_select(0, first),
        reward=reward,
        next_obs=replay.next_obs.index_select(0, last),
        terminated=terminated,
        discount=replay._powers[m] * (1.0 - terminated),
    )


class StreamReplay:
    """A replay fed by N envs at once that keeps each env's transitions as a stream of its own, so n-step
    returns follow one env's episode however the envs interleave (FastTD3's n-step over N envs).

    Each env has a ring of ``capacity // N`` slots (tensors [N * rows, ...], env-major); one step of N
    envs writes one slot per ring. A sample draws uniformly over every stored transition and computes,
    within that env's stream, the n-step return of ``ReplayBuffer`` (stopping at the episode's end, by
    termination or truncation, and at the stream's newest transition; a truncated episode bootstraps
    from its real last observation, stored as ``next_obs``). A stored episode (resume, earlier runs)
    goes into the ring that holds the fewest transitions."""

    def __init__(self, capacity: int, num_envs: int, obs_dim: int, act_dim: int, device: torch.device | str = "cpu",
                 seed: int = 0, n_step: int = 1, gamma: float = 0.99):
        if num_envs < 1 or capacity < num_envs:
            raise ValueError(f"a stream replay needs capacity >= num_envs >= 1, got {capacity}, {num_envs}")
        if n_step < 1:
            raise ValueError(f"n_step must be >= 1, got {n_step}")
        self.num_envs, self.rows = int(num_envs), int(capacity) // int(num_envs)
        self.capacity = self.rows * self.num_envs
        self.n_step, self.gamma = int(n_step), float(gamma)
        self.device = torch.device(device)
        kw = {"device": self.device}
        self.obs = torch.zeros(self.capacity, obs_dim, dtype=torch.float32, **kw)
        self.next_obs = torch.zeros(self.capacity, obs_dim, dtype=torch.float32, **kw)
        self.action = torch.zeros(self.capacity, act_dim, dtype=torch.float32, **kw)
        self.reward = torch.zeros(self.capacity, dtype=torch.float32, **kw)
        self.terminated = torch.zeros(self.capacity, dtype=torch.float32, **kw)
        self.ended = torch.zeros(self.capacity, dtype=torch.bool, **kw)
        self.pos = torch.zeros(self.num_envs, dtype=torch.int64, **kw)  # each ring's next slot
        self.size = torch.zeros(self.num_envs, dtype=torch.int64, **kw)  # each ring's stored transitions
        self._base = torch.arange(self.num_envs, device=self.device) * self.rows  # each ring's first slot
        self._powers = self.gamma ** torch.arange(self.n_step + 1, dtype=torch.float32, device=self.device)
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return int(self.size.sum())

    def _write(self, slots: torch.Tensor, obs, action, reward, next_obs, terminated, ended) -> None:
        for buf, value in ((self.obs, obs), (self.action, action), (self.reward, reward), (self.next_obs, next_obs),
                           (self.terminated, terminated)):
            value = value if isinstance(value, torch.Tensor) else np.asarray(value)
            buf[slots] = torch.as_tensor(value, dtype=torch.float32).to(self.device).reshape(buf[slots].shape)
        self.ended[slots] = torch.as_tensor(ended, device=self.device).bool().reshape(-1)

    def add_batch(self, obs, action, reward, next_obs, terminated, truncated) -> None:
        """One step of the N envs (``next_obs`` the real next states: the final ones where an episode ended)."""
        term = terminated if isinstance(terminated, torch.Tensor) else torch.as_tensor(np.asarray(terminated))
        trunc = truncated if isinstance(truncated, torch.Tensor) else torch.as_tensor(np.asarray(truncated))
        self._write(self._base + self.pos, obs, action, reward, next_obs, term, term.bool() | trunc.bool().to(term.device))
        self.pos = (self.pos + 1) % self.rows
        self.size = torch.clamp(self.size + 1, max=self.rows)

    def add_episode(self, episode: dict) -> None:
        """A stored episode (``buffers.episodes`` layout) into the emptiest ring, its last transition
        ending it there (as ``ReplayBuffer.add_episode``)."""
        from visuomotor.buffers.episodes import transitions

        obs, action, reward, next_obs, terminated = (np.asarray(x) for x in transitions(episode))
        n = len(reward)
        if n == 0:
            return
        ended = terminated.astype(bool).copy()
        ended[-1] = True
        if n > self.rows:
            obs, action, reward, next_obs, terminated, ended = (x[-self.rows:] for x in
                                                                (obs, action, reward, next_obs, terminated, ended))
            n = self.rows
        env = int(torch.argmin(self.size))
        rows = (int(self.pos[env]) + torch.arange(n, device=self.device)) % self.rows
        self._write(self._base[env] + rows, obs, action, reward, next_obs, terminated, ended)
        self.pos[env] = (self.pos[env] + n) % self.rows
        self.size[env] = min(int(self.size[env]) + n, self.rows)

    def sample(self, batch_size: int) -> Batch:
        total = self.size.sum()
        if int(total) == 0:
            raise RuntimeError("cannot sample from an empty replay buffer")
        u = (torch.rand(batch_size, generator=self.generator, device=self.device) * total).long().clamp_max(total - 1)
        ends = self.size.cumsum(0)
        env = torch.searchsorted(ends, u, right=True)
        row = u - (ends - self.size)[env]  # a ring holds rows 0 .. size - 1 (it wraps only once full)
        k = torch.arange(self.n_step, device=self.device)
        rows = (row[:, None] + k[None, :]) % self.rows  # [B, n] within the env's ring
        slots = self._base[env][:, None] + rows
        available = (self.pos[env] - 1 - row) % self.rows + 1  # transitions from row to the ring's newest
        return n_step_batch(self, slots, available)

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

    def cat(name: str):
        parts = [getattr(b, name) for b in batches]
        if all(p is None for p in parts):  # an optional field none of them has
            return None
        if any(p is None for p in parts):
            raise ValueError(f"cannot concatenate batches where only some have {name!r}")
        return torch.cat(parts)

    return type(first)(**{f.name: cat(f.name) for f in dataclasses.fields(first)})


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
