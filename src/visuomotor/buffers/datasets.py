"""Datasets of episodes: what ``visuomotor collect`` writes and ``--prior-data`` / ``--data`` read.

A dataset directory holds the episodes in the replay's own on-disk layout (``buffers.episodes``:
``episodes/ep_<index>_<end step>.npz`` with obs [T+1], action [T], reward [T], terminated [T],
truncated [T]) and a small ``manifest.json``::

    {"format": "visuomotor-dataset/1", "env": "dmc/cartpole-swingup",
     "env_kwargs": {"action_repeat": 1, "pixels": false, ...},
     "observation_shape": [5], "observation_dtype": "float32", "action_shape": [1],
     "episodes": 20, "transitions": 20000,
     "returns": {"mean": ..., "std": ..., "min": ..., "max": ...},
     "source": {"run": "runs/x", "checkpoint": "latest", "step": 50000, "noise": 0.2, ...}}

A training run's directory is a data source too (``--prior-runs``): its ``config.yaml`` plays the
manifest's part. Both are checked against the env they are used with before any work: a wrong env
id, observation shape or action shape is a one-line error naming both sides.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from visuomotor.buffers.episodes import list_episodes, load_episode
from visuomotor.errors import VisuomotorError

FORMAT = "visuomotor-dataset/1"


@dataclass
class DataSource:
    """Episodes from a dataset directory or a run directory, with what they were recorded on."""

    path: Path
    env: str
    observation_shape: tuple[int, ...]
    action_shape: tuple[int, ...]
    env_kwargs: dict
    episode_files: list[Path]

    def episodes(self):
        for p in self.episode_files:
            yield load_episode(p)

    def check(self, env_id: str, observation_space, action_space, env_kwargs: dict | None = None) -> None:
        """One-line VisuomotorError when this data cannot feed an agent on ``env_id``."""
        what = f"data {self.path} was recorded on {self.env}"
        if self.env != env_id:
            raise VisuomotorError(f"{what}, not on this run's env {env_id}")
        if tuple(observation_space.shape) != self.observation_shape:
            raise VisuomotorError(f"{what} with observation shape {self.observation_shape}; this run's env has "
                                  f"{tuple(observation_space.shape)} (different --pixels/--frame-stack/--pixel-size?)")
        if tuple(action_space.shape) != self.action_shape:
            raise VisuomotorError(f"{what} with action shape {self.action_shape}; this run's env has "
                                  f"{tuple(action_space.shape)}")
        for k, v in (env_kwargs or {}).items():
            if k in self.env_kwargs and self.env_kwargs[k] != v:
                raise VisuomotorError(f"{what} with {k}={self.env_kwargs[k]}; this run uses {k}={v}")
        if not self.episode_files:
            raise VisuomotorError(f"data {self.path} holds no episodes")


def load_replay(paths, agent, env_id: str, env_kwargs: dict, seed: int, extra_capacity: int = 0, open_run=None):
    """Every dataset in ``paths`` checked against ``agent``'s spaces and ``env_id`` (all of them before
    anything is read), then all their episodes in one new replay from ``agent.make_replay``, sized to
    hold them and ``extra_capacity`` more transitions. Returns (replay, episodes, transitions).
    ``open_run`` reads a run directory given as a dataset (``train.rundir.open_run``)."""
    sources = [open_dataset(p, open_run) for p in paths]
    kw = env_kwargs_of_data(env_kwargs)
    for src in sources:
        src.check(env_id, agent.observation_space, agent.action_space, kw)
    episodes = [ep for src in sources for ep in src.episodes()]
    transitions = sum(len(ep["reward"]) for ep in episodes)
    # capacity in transitions, plus one slot per episode (a pixel replay stores frames: T + 1 each)
    replay = agent.make_replay(transitions + len(episodes) + extra_capacity, seed)
    for ep in episodes:
        replay.add_episode(ep)
    return replay, len(episodes), transitions


def open_dataset(path: str | Path, open_run=None) -> DataSource:
    """A dataset directory (manifest.json + episodes/) as a DataSource; a run directory through
    ``open_run`` (``train.rundir.open_run``: reading a run's config is the training layer's)."""
    path = Path(path)
    mpath = path / "manifest.json"
    if not mpath.is_file():
        if (path / "config.yaml").is_file() and open_run is not None:
            return open_run(path)
        raise VisuomotorError(f"{path} is not a dataset (no manifest.json) or run directory (no config.yaml)")
    try:
        m = json.loads(mpath.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise VisuomotorError(f"cannot read {mpath} ({type(e).__name__})") from None
    if m.get("format") != FORMAT:
        raise VisuomotorError(f"{mpath}: format {m.get('format')!r}, expected {FORMAT!r}")
    files = [p for _, _, p in list_episodes(path / "episodes")]
    if len(files) != m.get("episodes"):
        raise VisuomotorError(f"{path}: manifest lists {m.get('episodes')} episodes, found {len(files)} files")
    return DataSource(path, m["env"], tuple(m["observation_shape"]), tuple(m["action_shape"]),
                      m.get("env_kwargs", {}), files)


def env_kwargs_of_data(kw: dict) -> dict:
    """The env settings that change what an observation or a step is."""
    out = {"action_repeat": kw.get("action_repeat", 1), "pixels": bool(kw.get("pixels", False))}
    if out["pixels"]:
        out.update(frame_stack=kw.get("frame_stack"), pixel_size=kw.get("pixel_size"))
    return out


def write_manifest(path: Path, env_id: str, env_kwargs: dict, observation_space, action_space,
                   returns: list[float], transitions: int, source: dict) -> dict:
    from visuomotor.fileio import atomic_write_text

    r = np.asarray(returns, dtype=np.float64)
    m = {"format": FORMAT, "env": env_id, "env_kwargs": env_kwargs_of_data(env_kwargs),
         "observation_shape": list(observation_space.shape), "observation_dtype": str(observation_space.dtype),
         "action_shape": list(action_space.shape), "episodes": len(r), "transitions": int(transitions),
         "returns": {"mean": float(r.mean()), "std": float(r.std()), "min": float(r.min()), "max": float(r.max())}
         if len(r) else {}, "source": source}
    atomic_write_text(Path(path) / "manifest.json", json.dumps(m, indent=2) + "\n")
    return m
