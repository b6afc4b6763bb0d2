"""Finished episodes on disk, one compressed ``.npz`` each, written atomically.

File ``ep_<index:06d>_<end_step:09d>.npz`` holds ``obs`` [T+1, ...] (every observation once,
including the last), ``action`` [T, A], ``reward`` [T], ``terminated`` [T], ``truncated`` [T], where
``end_step`` is the global env-step count after the episode's last step. A run whose agent sees
the env's privileged state (``--algo distill``) also stores ``state`` [T+1, D], the state observation
beside each stored observation. The replay is rebuilt from
these on resume, and later runs can load them as prior data.
"""

from __future__ import annotations

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
    state: list = field(default_factory=list)  # privileged states, when the run records them

    def _keep(self, obs):
        return obs if self.frame_channels is None else obs[-self.frame_channels:]

    def start(self, obs, state=None) -> None:
        self.obs, self.action, self.reward, self.terminated, self.truncated = [self._keep(obs)], [], [], [], []
        self.state = [] if state is None else [state]

    def step(self, action, reward, next_obs, terminated: bool, truncated: bool, state=None) -> None:
        if state is not None:
            self.state.append(state)
        self.action.append(action)
        self.reward.append(reward)
        self.obs.append(self._keep(next_obs))
        self.terminated.append(terminated)
        self.truncated.append(truncated)

    def __len__(self) -> int:
        return len(self.action)

    def arrays(self) -> dict[str, np.ndarray]:
        out = {
            "obs": np.asarray(self.obs),
            "action": np.asarray(self.action, dtype=np.float32),
            "reward": np.asarray(self.reward, dtype=np.float32),
            "terminated": np.asarray(self.terminated, dtype=bool),
            "truncated": np.asarray(self.truncated, dtype=bool),
        }
        if self.state:
            out["state"] = np.asarray(self.state, dtype=np.float32)
        return out


def write_episode(directory: Path, index: int, end_step: int, arrays: dict[str, np.ndarray]) -> Path:
    """One finished episode to ``ep_<index>_<end_step>.npz``, all or nothing (``atomic_write_bytes``: a
    temporary name of this process's own, a one-line error naming the file when the disk is full)."""
    import io

    from visuomotor.fileio import atomic_write_bytes

    final = directory / f"ep_{index:06d}_{end_step:09d}.npz"
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    atomic_write_bytes(final, buf.getvalue())
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


EPISODE_KEYS = ("obs", "action", "reward", "terminated", "truncated")


def load_episode(path: Path) -> dict[str, np.ndarray]:
    """A stored episode's arrays; a one-line error naming the file when it is damaged (no silent skip)."""
    from visuomotor.errors import VisuomotorError

    try:
        with np.load(path, allow_pickle=False) as data:
            ep = {k: data[k] for k in data.files}
    except Exception as e:  # noqa: BLE001 - a damaged zip, object arrays, a truncated file: all unreadable
        reason = (str(e).strip().splitlines() or [type(e).__name__])[0][:120]
        raise VisuomotorError(f"episode file {path} is corrupt or unreadable ({type(e).__name__}: {reason}); "
                              f"move it out of its episodes/ folder to go on without it") from None
    missing = [k for k in EPISODE_KEYS if k not in ep]
    if missing:
        raise VisuomotorError(f"episode file {path} is not a visuomotor episode (no {', '.join(missing)})")
    return ep


def transitions(ep: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(obs, action, reward, next_obs, terminated) arrays of one stored episode."""
    return ep["obs"][:-1], ep["action"], ep["reward"], ep["obs"][1:], ep["terminated"]
