"""Evaluation episodes with the deterministic policy, and videos of them."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch

from visuomotor.errors import env_call

MAX_VIDEO_FPS = 50


@dataclass
class EvalResult:
    returns: list[float]
    lengths: list[int]
    successes: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float]:
        r = np.asarray(self.returns, dtype=np.float64)
        out = {
            "mean_return": float(r.mean()),
            "std_return": float(r.std()),
            "min_return": float(r.min()),
            "max_return": float(r.max()),
            "mean_length": float(np.mean(self.lengths)),
            "episodes": len(r),
        }
        out["success_rate"] = float(np.mean(self.successes)) if self.successes else float("nan")
        return out


def episode_seed(seed: int, stream: int, index: int) -> int:
    """A 32-bit seed for episode ``index`` of a stream (0 train, 1 eval, ...), independent of history."""
    return int(np.random.SeedSequence([seed, stream, index]).generate_state(1)[0])


def write_video(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    import imageio.v2 as imageio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    imageio.mimwrite(tmp, frames, fps=fps, macro_block_size=1)
    os.replace(tmp, path)
    return path


def act(policy, obs, device) -> np.ndarray:
    """A policy module's action for one observation (numpy in, numpy out)."""
    with torch.inference_mode():
        return policy(torch.as_tensor(np.asarray(obs), device=device).unsqueeze(0))[0].cpu().numpy()


def evaluate(agent, env: gym.Env, episodes: int, seed: int = 0, round_index: int = 0,
             video_path: Path | None = None) -> EvalResult:
    """Run ``episodes`` episodes of the agent's deterministic policy (``agent.policy()``); record the
    first as a video if ``video_path``."""
    policy = agent.policy()
    name = env.spec.id if env.spec is not None else type(env.unwrapped).__name__
    returns, lengths, successes, frames = [], [], [], []
    t_total = 0
    fps = int(env.metadata.get("render_fps", 30) or 30)
    stride = max(1, int(np.ceil(fps / MAX_VIDEO_FPS)))
    for ep in range(episodes):
        obs, _ = env_call(name, f"{t_total} of the evaluation", env.reset, seed=episode_seed(seed, 1 + round_index, ep))
        policy.reset()
        record = video_path is not None and ep == 0
        if record:
            frames.append(env.render())
        total, t, done, success = 0.0, 0, False, None
        while not done:
            obs, reward, terminated, truncated, info = env_call(name, f"{t_total + t + 1} of the evaluation", env.step,
                                                                act(policy, obs, agent.device))
            total += float(reward)
            t += 1
            done = terminated or truncated
            if "success" in info or "is_success" in info:
                success = float(info.get("success", info.get("is_success")))
            if record and t % stride == 0:
                frames.append(env.render())
        returns.append(total)
        lengths.append(t)
        t_total += t
        if success is not None:
            successes.append(success)
    if video_path is not None and frames:
        write_video(video_path, frames, fps=max(1, round(fps / stride)))
    return EvalResult(returns, lengths, successes)
