"""``visuomotor play``: roll a trained run's deterministic policy out, print each episode's return and
length, write an mp4 of every episode, and show it in MuJoCo's passive viewer when a display is present
(headless: the video only). Episode seeds are ``visuomotor eval``'s, so the same ``--seed`` gives the
same episodes."""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from visuomotor.errors import VisuomotorError, env_call


def _viewer(env, wanted: bool):
    """MuJoCo's passive viewer on the env's model, or None (headless, not asked for, or unavailable)."""
    if not wanted or not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None
    from visuomotor.envs.simulator import mujoco_handles

    model, data = mujoco_handles(env)
    if model is None:
        return None
    try:
        import mujoco.viewer

        return mujoco.viewer.launch_passive(model, data)
    except Exception as e:  # noqa: BLE001 - no GL context for a window here: the video still comes
        print(f"[visuomotor] no viewer ({type(e).__name__}: {str(e).splitlines()[0][:100]}); writing the video only",
              file=sys.stderr)
        return None


def play(run_dir: Path, episodes: int = 1, video: Path | None = None, dr: bool = False, checkpoint: str = "latest",
         seed: int = 12345, device: str = "cpu", viewer: bool = True, log=print) -> dict:
    """Roll out; returns {"returns", "lengths", "video"}."""
    from visuomotor.envs import make_env
    from visuomotor.evaluate.rollout import MAX_VIDEO_FPS, act, episode_seed, write_video
    from visuomotor.train.build import load_agent
    from visuomotor.train.config import resolve_device

    if episodes < 1:
        raise VisuomotorError(f"--episodes must be >= 1, got {episodes}")
    resolve_device(device)
    agent, cfg, step = load_agent(run_dir, checkpoint, device)
    env = make_env(cfg.env, seed=seed, render_mode="rgb_array", **cfg.env_kwargs(),
                   randomization=dataclasses.replace(cfg.dr, enabled=True) if dr else None)
    video = Path(video) if video is not None else \
        Path(run_dir) / "videos" / f"play_{checkpoint}_{datetime.now():%Y%m%d-%H%M%S}.mp4"
    policy = agent.policy()
    window = _viewer(env, viewer)
    fps = int(env.metadata.get("render_fps", 30) or 30)
    stride = max(1, int(np.ceil(fps / MAX_VIDEO_FPS)))
    period = 1.0 / fps
    log(f"{cfg.env}  {cfg.algo}  {checkpoint} checkpoint (step {step})" + ("  domain randomization on" if dr else ""))
    frames, returns, lengths = [], [], []
    name = cfg.env
    for ep in range(episodes):
        obs, _ = env_call(name, "reset", env.reset, seed=episode_seed(seed, 1 + 10_000, ep))
        policy.reset()
        frames.append(env.render())
        total, t, done = 0.0, 0, False
        while not done:
            t0 = time.perf_counter()
            obs, reward, terminated, truncated, _ = env_call(name, t + 1, env.step, act(policy, obs, agent.device))
            total += float(reward)
            t += 1
            done = terminated or truncated
            if t % stride == 0:
                frames.append(env.render())
            if window is not None:
                if not window.is_running():
                    window = None
                else:
                    window.sync()
                    time.sleep(max(0.0, period - (time.perf_counter() - t0)))
        returns.append(total)
        lengths.append(t)
        log(f"episode {ep}: return {total:.2f}  length {t}")
    env.close()
    if window is not None:
        window.close()
    write_video(video, frames, fps=max(1, round(fps / stride)))
    log(f"return mean {np.mean(returns):.2f} over {episodes} episode(s); video: {video}")
    return {"returns": returns, "lengths": lengths, "video": video}
