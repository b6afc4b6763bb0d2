"""``visuomotor collect``: record episodes from a trained policy (or uniform random actions) as a dataset."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from visuomotor.buffers.datasets import write_manifest
from visuomotor.buffers.episodes import EpisodeRecorder, write_episode
from visuomotor.envs import make_env
from visuomotor.errors import VisuomotorError
from visuomotor.fileio import DirLock, is_empty
from visuomotor.evaluate.rollout import episode_seed


def collect(output: Path, episodes: int, run_dir: Path | None = None, env_id: str | None = None,
            random: bool = False, noise: float = 0.0, explore: bool = False, checkpoint: str = "latest",
            seed: int = 0, device: str = "cpu", progress: bool = True) -> dict:
    """Write ``episodes`` episodes and a manifest to ``output``; returns the manifest.

    With ``run_dir``: the run's policy acts, deterministically (its mean action) unless ``explore``
    (its own exploration), plus Gaussian noise of std ``noise`` on every action (clipped to [-1, 1]):
    mixed-quality data. With ``random``: uniform random actions on ``env_id`` (or the run's env).
    """
    output = Path(output)
    if episodes < 1:
        raise VisuomotorError(f"--episodes must be >= 1, got {episodes}")
    if noise < 0:
        raise VisuomotorError(f"--noise must be >= 0, got {noise}")
    if run_dir is None and not random:
        raise VisuomotorError("collect needs a run directory (its policy acts) or --random with --env ID")
    if output.exists() and (not output.is_dir() or not is_empty(output)):
        raise VisuomotorError(f"output {output} already exists and is not empty; choose another -o")
    with DirLock(output, "dataset dir"):  # one writer
        return _collect(output, episodes, run_dir, env_id, random, noise, explore, checkpoint, seed, device, progress)


def _collect(output, episodes, run_dir, env_id, random, noise, explore, checkpoint, seed, device, progress) -> dict:
    agent, env_kwargs, source = None, {}, {"random": random, "noise": noise, "explore": explore, "seed": seed}
    if run_dir is not None:
        from visuomotor.train.build import load_agent

        agent, cfg, step = load_agent(run_dir, checkpoint, device)
        if env_id is not None and env_id != cfg.env:
            raise VisuomotorError(f"--env {env_id} differs from the run's env {cfg.env}; leave --env out")
        env_id, env_kwargs = cfg.env, cfg.env_kwargs()
        source.update(run=str(run_dir), algo=cfg.algo, checkpoint=checkpoint, step=step)
        if random:
            agent = None
    if env_id is None:
        raise VisuomotorError("collect --random needs --env ID (or a run directory)")
    env = make_env(env_id, seed=seed, **env_kwargs)
    rng = np.random.default_rng(seed)
    frames = 3 if env_kwargs.get("pixels") else None
    returns, total, t0 = [], 0, time.perf_counter()
    for i in range(episodes):
        obs, _ = env.reset(seed=episode_seed(seed, 2, i))
        if agent is not None:
            agent.begin_episode(explore=explore)
        rec = EpisodeRecorder(frame_channels=frames)
        rec.start(obs)
        done, ret = False, 0.0
        while not done:
            if agent is None:
                action = rng.uniform(-1.0, 1.0, env.action_space.shape).astype(np.float32)
            else:
                action = np.asarray(agent.act(obs, explore=explore), dtype=np.float32)
                if noise > 0:
                    action = np.clip(action + rng.normal(0.0, noise, action.shape), -1.0, 1.0).astype(np.float32)
            obs, reward, terminated, truncated, _ = env.step(action)
            if not (np.isfinite(reward) and np.isfinite(np.asarray(obs, np.float64)).all()):
                raise VisuomotorError(f"env {env_id} returned a non-finite reward or observation in episode {i}, "
                                      f"step {len(rec) + 1}; {output} stays incomplete (no manifest.json)")
            rec.step(action, reward, obs, terminated, truncated)
            ret += float(reward)
            done = terminated or truncated
        total += len(rec)
        write_episode(output / "episodes", i, total, rec.arrays())
        returns.append(ret)
        if progress:
            print(f"[visuomotor] episode {i + 1}/{episodes}: return {ret:.1f} ({len(rec)} steps, "
                  f"{time.perf_counter() - t0:.0f}s)", flush=True)
    env.close()
    return write_manifest(output, env_id, env_kwargs, env.observation_space, env.action_space, returns, total, source)
