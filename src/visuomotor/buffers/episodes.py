"""Finished episodes on disk, one compressed ``.npz`` each, written atomically.

File ``ep_<index:06d>_<end_step:09d>.npz`` holds ``obs`` [T+1, ...] (every observation once,
including the last), ``action`` [T, A], ``reward`` [T], ``terminated`` [T], ``truncated`` [T], where
``end_step`` is the global env-step count after the episode's last step. The replay is rebuilt from
these on resume, and later runs can load them as prior data.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_NAME = re.compile(r"^ep_(\d{6,})_(\d{9,})\.npz$")


@dataclass
class EpisodeRecorder:
    """Accumulates one episode in memory; ``arrays()`` turns it into the on-disk layout.

    ``frame_channels``: for stacked pixel observations keep only each observation's newest frame
    (its last ``frame_channels`` channels), so every frame is stored once."""

    frame_channels: int | None = None
    obs: list = field(default_factory=list)
    action: list = field(default_factory=list)
    reward: list = field(default_factory=list)
    terminated: list = field(default_factory=list)
    truncated: list = field(default_factory=list)

    def _keep(self, obs):
        return obs if self.frame_channels is None else obs[-self.frame_channels:]

    def start(self, obs) -> None:
        self.obs, self.action, self.reward, self.terminated, self.truncated = [self._keep(obs)], [], [], [], []

    def step(self, action, reward, next_obs, terminated: bool, truncated: bool) -> None:
        self.action.append(action)
        self.reward.append(reward)
        self.obs.append(self._keep(next_obs))
        self.terminated.append(terminated)
        self.truncated.append(truncated)

    def __len__(self) -> int:
        return len(self.action)

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "obs": np.asarray(self.obs),
            "action": np.asarray(self.action, dtype=np.float32),
            "reward": np.asarray(self.reward, dtype=np.float32),
            "terminated": np.asarray(self.terminated, dtype=bool),
            "truncated": np.asarray(self.truncated, dtype=bool),
        }


def write_episode(directory: Path, index: int, end_step: int, arrays: dict[str, np.ndarray]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"ep_{index:06d}_{end_step:09d}.npz"
    tmp = directory / f".{final.name}.tmp"
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, final)
    return final


def list_episodes(directory: Path) -> list[tuple[int, int, Path]]:
    """(index, end_step, path) of every complete episode file, in index order."""
    if not directory.is_dir():
        return []
    found = []
    for p in directory.iterdir():
        m = _NAME.match(p.name)
        if m:
            found.append((int(m.group(1)), int(m.group(2)), p))
    return sorted(found)


def load_episode(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {k: data[k] for k in data.files}


def transitions(ep: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(obs, action, reward, next_obs, terminated) arrays of one stored episode."""
    return ep["obs"][:-1], ep["action"], ep["reward"], ep["obs"][1:], ep["terminated"]
