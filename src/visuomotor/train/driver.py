"""What a step driver gives the runner (``train/runner.py``), and what the drivers share.

A driver owns the envs of one kind of learning and turns ``advance`` into env steps and updates (or
dataset updates); the runner calls, in order: ``prepare`` (before a restore), ``restore(state)`` on resume, ``start``, then ``advance`` until ``end_step`` with ``log_row``, ``can_checkpoint``
and ``state`` at its cadences, and ``next_phase`` at the end.
"""

from __future__ import annotations

import numpy as np
import torch

from visuomotor.algos.base import Agent, EnvSpec
from visuomotor.errors import VisuomotorError


class Driver:
    rate_name = "perf/sps"  # the metrics row's rate column
    unit = "step"  # what the step counter counts (progress bar, last line)
    agent: Agent
    spec: EnvSpec
    end_step: int  # the step counter's value at the end of this driver's phase

    def __init__(self, runner):
        self.runner = runner
        self.cfg = runner.cfg

    @property
    def desc(self) -> str:
        return f"{self.cfg.env} {self.cfg.algo}"

    @property
    def final_step(self) -> int:
        """The step counter's value at the end of the run (after every phase)."""
        return self.end_step

    def learns_before(self, end: int) -> bool:
        """Whether the agent updates before step ``end`` (so a compiled update would be compiled)."""
        return True

    def prepare(self) -> None:
        """Before a restore: what the storage holds on a fresh start and on resume alike."""

    def restore(self, state: dict) -> None:
        """The driver's part of latest.pt (see ``state``)."""

    def start(self, resumed: bool) -> None:
        """Begin stepping (reset the envs)."""

    def advance(self) -> list[dict[str, torch.Tensor]]:
        """Advance the runner's step counter by at least one; returns the metrics of the updates made."""
        raise NotImplementedError

    def log_row(self) -> dict:
        """This kind's columns of a metrics row (episodes, frames, ...) since the last row."""
        return {}

    def can_checkpoint(self) -> bool:
        return True

    def state(self) -> dict:
        """What latest.pt keeps for this driver beyond the runner's own fields."""
        return {}

    def describe(self) -> dict:
        """Facts for config.yaml's ``resolved`` section."""
        return {}

    def next_phase(self) -> Driver | None:
        """The driver of the run's next phase, if any (an offline run's online fine-tuning)."""
        return None

    def close(self) -> None:
        """Close the envs."""


class EpisodeStats:
    """Per-env running return and length, the episodes finished since the last metrics row, and the
    domain-randomization draws of the episodes that started since then. Tensors on ``device`` for
    tensor-native envs (no host sync until an episode ends), numpy otherwise."""

    def __init__(self, num_envs: int, device: torch.device | None = None):
        if device is None:
            self.ret, self.len = np.zeros(num_envs, np.float64), np.zeros(num_envs, np.int64)
        else:
            self.ret = torch.zeros(num_envs, dtype=torch.float64, device=device)
            self.len = torch.zeros(num_envs, dtype=torch.int64, device=device)
        self.returns: list[float] = []
        self.lengths: list[int] = []
        self.dr: dict[str, list[float]] = {}

    def step(self, reward, ended) -> bool:
        """One step of every env: ``ended`` marks the envs whose episode ended with it; returns whether any did."""
        if isinstance(self.ret, torch.Tensor):
            self.ret += torch.as_tensor(reward, dtype=torch.float64, device=self.ret.device)
            self.len += 1
            done = torch.as_tensor(ended, device=self.ret.device).nonzero().squeeze(1)
        else:
            self.ret += np.asarray(reward, np.float64)
            self.len += 1
            done = np.flatnonzero(np.asarray(ended))
        if len(done):
            self.returns += self.ret[done].tolist()
            self.lengths += self.len[done].tolist()
            self.ret[done] = 0.0
            self.len[done] = 0
        return len(done) > 0

    def started(self, info: dict, mask=None) -> None:
        """Record the randomization draws (``info["dr/..."]``) of episodes that just started: a single
        env's info, or a vector env's restricted to ``mask``."""
        for k, v in info.items():
            if not k.startswith("dr/"):
                continue
            if mask is None:
                self.dr.setdefault(k, []).append(float(v))
            else:
                sel = np.asarray(mask, bool) & np.asarray(info.get(f"_{k}", np.ones(len(mask), bool)), bool)
                self.dr.setdefault(k, []).extend(np.asarray(v, np.float64)[sel].tolist())

    def row(self) -> dict:
        """Mean return and length of the finished episodes, mean draws; then a fresh window."""
        row = {}
        if self.returns:
            row["charts/episode_return"] = float(np.mean(self.returns))
            row["charts/episode_length"] = float(np.mean(self.lengths))
        row.update({k: float(np.mean(v)) for k, v in self.dr.items() if v})
        self.returns, self.lengths, self.dr = [], [], {}
        return row


def merge_rows(current, final, mask):
    """``current`` [N, ...] with the rows where ``mask`` holds taken from ``final``: a full tensor, an
    array, or gymnasium's object array of per-env arrays (only the masked rows set)."""
    if isinstance(current, torch.Tensor):
        final = torch.as_tensor(final, device=current.device) if not isinstance(final, torch.Tensor) else final
        m = torch.as_tensor(mask, device=current.device).reshape(-1, *([1] * (current.dim() - 1)))
        return torch.where(m, final.reshape(current.shape).to(current.dtype), current)
    mask = np.asarray(mask, bool)
    if not mask.any():
        return current
    out = np.array(current, copy=True)
    for i in np.flatnonzero(mask):  # only the envs that just ended (a handful per step)
        out[i] = np.asarray(final[i], dtype=out.dtype).reshape(out.shape[1:])
    return out


def check_finite(env_id: str, step: int, reward, obs) -> None:
    """A one-line error when an env returned a non-finite reward or (float) observation at ``step``, before
    anything of that step is stored (numpy or scalars; cheap: two vectorized checks)."""
    field = None
    if not np.all(np.isfinite(reward)):
        field = "reward"
    else:
        obs = np.asarray(obs)
        if np.issubdtype(obs.dtype, np.floating) and not np.isfinite(obs).all():
            field = "observation"
    if field is not None:
        raise VisuomotorError(f"env {env_id} returned a non-finite {field} at step {step}; nothing of that step was "
                              f"stored and the last checkpoint is intact")


def nonfinite_flag(reward: torch.Tensor, obs: torch.Tensor) -> torch.Tensor:
    """A 0-dim bool tensor: whether a tensor env's step returned a non-finite reward or observation (no sync)."""
    return ~(torch.isfinite(reward).all() & torch.isfinite(obs).all())

