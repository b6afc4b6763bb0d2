"""Replay for pixel observations: every rendered frame stored once, stacks and n-step returns
rebuilt at sample time.

Storage is a ring of single frames (uint8 [C, H, W]) with, per frame, the action and reward of the
step that produced it, whether that step terminated the episode, and the episode it belongs to.
An episode of T steps takes T + 1 frames (its reset frame, then one per step): with DrQ-v2's
84x84 RGB frames that is 21,168 bytes plus 8 + 4 * |A| + 5 bytes of per-frame data, never a
stored stack of 3 and never a separate copy of the next observation.

Sampling picks frames t that have a successor in their episode and returns, with n = ``n_step``
and m = min(n, steps left in the episode after t):

    obs       frames t-k+1 .. t         (clamped at the episode's first frame, as FrameStack's reset)
    action    the action taken at t
    reward    sum_{i<m} gamma^i r_{t+1+i}
    discount  gamma^m, or 0 when the episode terminated within those m steps
    next_obs  frames t+m-k+1 .. t+m

so an episode that ended by time limit (truncation) still bootstraps from its last frame, and one
that terminated does not. All gathers are tensor indexing over the batch, no Python loop over
transitions; the indices come from the buffer's own ``torch.Generator`` (saved in checkpoints).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class FrameBatch:
    obs: torch.Tensor  # uint8 [B, k*C, H, W]
    action: torch.Tensor  # [B, A]
    reward: torch.Tensor  # [B] n-step discounted sum
    discount: torch.Tensor  # [B] gamma^m, 0 after a termination
    next_obs: torch.Tensor  # uint8 [B, k*C, H, W]


class FrameReplay:
    def __init__(self, capacity: int, frame_shape: tuple[int, int, int], act_dim: int, frame_stack: int = 3,
                 n_step: int = 3, gamma: float = 0.99, device: torch.device | str = "cpu", seed: int = 0):
        if capacity < 2:
            raise ValueError(f"replay capacity must be >= 2 frames, got {capacity}")
        if n_step < 1 or frame_stack < 1:
            raise ValueError(f"n_step and frame_stack must be >= 1, got {n_step}, {frame_stack}")
        self.capacity = int(capacity)
        self.k, self.n, self.gamma = int(frame_stack), int(n_step), float(gamma)
        self.frame_shape = tuple(frame_shape)
        self.device = torch.device(device)
        kw = {"device": self.device}
        self.frames = torch.empty((self.capacity, *self.frame_shape), dtype=torch.uint8, **kw)
        self.action = torch.zeros(self.capacity, act_dim, dtype=torch.float32, **kw)  # step into frame f
        self.reward = torch.zeros(self.capacity, dtype=torch.float32, **kw)
        self.terminal = torch.zeros(self.capacity, dtype=torch.bool, **kw)
        self.episode = torch.full((self.capacity,), -1, dtype=torch.int64, **kw)
        # per episode (by id): absolute index of its first and (so far) last frame
        self._ep_first_t = torch.zeros(0, dtype=torch.int64, **kw)
        self._ep_last_t = torch.zeros(0, dtype=torch.int64, **kw)
        self.total = 0  # frames ever written (absolute index of the next frame)
        self.steps_written = 0  # frames that end a step (all but each episode's first)
        self._open = False  # an episode is accepting frames
        self.generator = torch.Generator(device=self.device)
        self.generator.manual_seed(seed)
        self._discounts = self.gamma ** torch.arange(self.n + 1, dtype=torch.float32, device=self.device)

    # ---- writing ----------------------------------------------------------------------------------
    def _frame(self, obs) -> torch.Tensor:
        """The newest frame of an observation (a stack [k*C, H, W] or one frame [C, H, W])."""
        t = torch.as_tensor(np.asarray(obs))
        if t.dtype != torch.uint8:
            raise TypeError(f"pixel replay stores uint8 frames, got {t.dtype}")
        return t[-self.frame_shape[0]:]

    def _write(self, frame: torch.Tensor, action, reward: float, terminal: bool) -> None:
        i = self.total % self.capacity
        self.frames[i] = frame
        if action is not None:
            self.action[i] = torch.as_tensor(np.asarray(action), dtype=torch.float32)
        self.reward[i] = float(reward)
        self.terminal[i] = bool(terminal)
        self.episode[i] = len(self._ep_first_t) - 1
        self._ep_last_t[-1] = self.total
        self.total += 1

    def start_episode(self, obs) -> None:
        """The reset observation of a new episode (its newest frame is stored)."""
        self._ep_first_t = torch.cat([self._ep_first_t, torch.tensor([self.total], device=self.device)])
        self._ep_last_t = torch.cat([self._ep_last_t, torch.tensor([self.total], device=self.device)])
        self._write(self._frame(obs), None, 0.0, False)
        self._open = True

    def add(self, obs, action, reward, next_obs, terminated, truncated: bool = False) -> None:
        """One step: same signature as the flat replay. ``obs`` starts a new episode when the last
        one ended (only its newest frame is kept); then ``next_obs``'s newest frame is stored."""
        if not self._open:
            self.start_episode(obs)
        self._write(self._frame(next_obs), action, reward, terminated)
        self.steps_written += 1
        if terminated or truncated:
            self._open = False

    def add_episode(self, episode: dict) -> None:
        """A stored episode (``buffers.episodes`` layout): obs [T+1, C, H, W] frames (or stacks),
        action [T, A], reward [T], terminated [T]."""
        frames, action, reward, terminated = (np.asarray(episode[k]) for k in ("obs", "action", "reward", "terminated"))
        self.start_episode(frames[0])
        for t in range(len(reward)):  # once per episode on resume, not in the training hot path
            self._write(self._frame(frames[t + 1]), action[t], reward[t], bool(terminated[t]))
        self.steps_written += len(reward)
        self._open = False

    def __len__(self) -> int:
        """Transitions available to sample."""
        return int(self._valid_count())

    # ---- sampling ---------------------------------------------------------------------------------
    def _valid(self, t: torch.Tensor) -> torch.Tensor:
        """Whether absolute frame indices t can start a sample: still stored with their stack,
        and followed by a frame of the same episode."""
        oldest = max(0, self.total - self.capacity)
        ep = self.episode[t % self.capacity]
        first = self._ep_first_t[ep]
        last = self._ep_last_t[ep]
        stack_start = torch.maximum(t - (self.k - 1), first)
        return (t >= oldest) & (stack_start >= oldest) & (t < last)

    def _valid_count(self) -> int:
        oldest = max(0, self.total - self.capacity)
        if self.total - oldest < 2:
            return 0
        t = torch.arange(oldest, self.total, device=self.device)
        return int(self._valid(t).sum())

    def _stack(self, t: torch.Tensor, first: torch.Tensor) -> torch.Tensor:
        """uint8 [B, k*C, H, W]: frames t-k+1..t of each sample, clamped at its episode's first frame."""
        offsets = torch.arange(-(self.k - 1), 1, device=self.device)
        idx = torch.maximum(t[:, None] + offsets[None, :], first[:, None]) % self.capacity  # [B, k]
        out = self.frames.index_select(0, idx.reshape(-1))  # [B*k, C, H, W]
        return out.reshape(len(t), self.k * self.frame_shape[0], *self.frame_shape[1:])

    def sample(self, batch_size: int) -> FrameBatch:
        oldest = max(0, self.total - self.capacity)
        if self.steps_written == 0:
            raise RuntimeError("cannot sample: the pixel replay holds no complete transition yet")
        t = torch.randint(oldest, self.total, (batch_size,), generator=self.generator, device=self.device)
        bad = ~self._valid(t)
        for _ in range(1000):  # redraw the few invalid picks (episode ends, the ring's edge)
            if not bool(bad.any()):
                break
            redraw = torch.randint(oldest, self.total, (int(bad.sum()),), generator=self.generator, device=self.device)
            t[bad] = redraw
            bad = ~self._valid(t)
        else:
            raise RuntimeError("cannot sample: no complete transition within the replay's capacity")
        ep = self.episode[t % self.capacity]
        first, last = self._ep_first_t[ep], self._ep_last_t[ep]
        steps = torch.clamp(last - t, max=self.n)  # m in 1..n
        i = torch.arange(1, self.n + 1, device=self.device)  # frames t+1 .. t+n
        future = t[:, None] + i[None, :]
        inside = i[None, :] <= steps[:, None]
        fut_idx = future.clamp(max=self.total - 1) % self.capacity
        rewards = self.reward[fut_idx] * inside
        reward = (rewards * self._discounts[:-1][None, :]).sum(1)
        terminal = (self.terminal[fut_idx] & inside).any(1)
        discount = torch.where(terminal, torch.zeros_like(reward), self._discounts[steps])
        nxt = t + steps
        return FrameBatch(
            obs=self._stack(t, first),
            action=self.action[(t + 1) % self.capacity],
            reward=reward,
            discount=discount,
            next_obs=self._stack(nxt, first),
        )

    def nbytes_per_frame(self) -> float:
        per = (self.frames[0].numel() * self.frames.element_size() + self.action[0].numel() * 4 + 4 + 1 + 8)
        return float(per)

    def rng_state(self) -> torch.Tensor:
        return self.generator.get_state()

    def set_rng_state(self, state: torch.Tensor) -> None:
        self.generator.set_state(state)


def frame_replay_for(obs_shape: tuple[int, ...], act_dim: int, capacity: int, n_step: int, gamma: float, device,
                     seed: int) -> FrameReplay:
    """The frame replay for frame-stack observations of ``obs_shape`` [k*3, H, W]."""
    c, h, w = obs_shape
    if c % 3:
        raise ValueError(f"pixel observations should stack RGB frames (channels a multiple of 3), got {c}")
    return FrameReplay(capacity, (3, h, w), act_dim, frame_stack=c // 3, n_step=n_step, gamma=gamma, device=device,
                       seed=seed)
