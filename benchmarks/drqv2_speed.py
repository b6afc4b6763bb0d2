"""DrQ-v2 speed: updates/s, env frames/s and where an update's time goes; replay bytes/transition.

    python benchmarks/drqv2_speed.py [--batch 256 128] [--updates 5] [--device cpu]
    python benchmarks/drqv2_speed.py --malloc raised    # only as training runs (glibc's malloc thresholds raised)

For each variant (float32; bf16 autocast + channels_last) and batch size, times the parts of one
update as the agent runs them: sampling a batch from a filled pixel replay, the two random shifts,
the encoder (forward of o and o'), the critic step (target, loss, backward through critic and
encoder, two Adam steps), the actor step and the target update. Env frames/s combines the update
time with the measured time of one pixel env step (physics x action repeat + one 84x84 render):
an update every 2 policy steps of 2 frames each, as DrQ-v2 trains.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from _versions import label


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def fill_replay(rb, frames: int, act_dim: int, episode_len: int = 500, seed: int = 0):
    rng = np.random.default_rng(seed)
    pool = rng.integers(0, 256, (64, *rb.frame_shape), dtype=np.uint8)
    written = 0
    while written < frames:
        T = min(episode_len, frames - written - 1)
        if T < 1:
            break
        rb.add_episode({"obs": pool[rng.integers(0, len(pool), T + 1)],
                        "action": rng.uniform(-1, 1, (T, act_dim)).astype(np.float32),
                        "reward": rng.uniform(0, 1, T).astype(np.float32), "terminated": np.zeros(T, bool)})
        written += T + 1


def time_update_parts(agent, rb, batch: int, updates: int) -> dict[str, float]:
    """Median seconds of each part of an update (the agent's own steps, timed one by one)."""
    dev = agent.device
    parts: dict[str, list[float]] = {k: [] for k in ("sample", "augment", "encoder", "critic", "actor", "total")}
    for i in range(updates + 1):
        t0 = time.perf_counter()
        b = rb.sample(batch)
        _sync(dev)
        t1 = time.perf_counter()
        o, o2 = agent._augment(b.obs), agent._augment(b.next_obs)
        _sync(dev)
        t2 = time.perf_counter()
        h = agent._encode(o)
        with torch.no_grad():
            h2 = agent._encode(o2)
        _sync(dev)
        t3 = time.perf_counter()
        std = agent.exploration_std()
        agent.critic_step(h, b.action.to(dev), b.reward.to(dev), b.discount.to(dev), h2, std)
        _sync(dev)
        t4 = time.perf_counter()
        agent.actor_step(h.detach(), std)
        with torch.no_grad():
            torch._foreach_lerp_(agent._target, agent._online, agent.cfg.tau)
        _sync(dev)
        t5 = time.perf_counter()
        if i == 0:
            continue  # warm-up
        for k, v in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t5 - t0)):
            parts[k].append(v)
    return {k: statistics.median(v) for k, v in parts.items()}


def env_step_seconds(env_id: str, action_repeat: int, steps: int = 200) -> float:
    from visuomotor import make_env

    env = make_env(env_id, seed=0, pixels=True, action_repeat=action_repeat)
    env.reset(seed=0)
    t = time.perf_counter()
    for _ in range(steps):
        _, _, term, trunc, _ = env.step(env.action_space.sample())
        if term or trunc:
            env.reset()
    return (time.perf_counter() - t) / steps


def run(args) -> list[dict]:
    from visuomotor.algos.drqv2 import DrQv2, DrQv2Config
    from visuomotor.buffers.frames import FrameReplay

    torch.set_num_threads(args.threads)
    dev = torch.device(args.device)
    obs_space = gym.spaces.Box(0, 255, (9, 84, 84), np.uint8)
    act_space = gym.spaces.Box(-1, 1, (args.act_dim,), np.float32)
    if os.environ.get("VISUOMOTOR_MALLOC") != "default":
        from visuomotor._malloc import tune_malloc

        tune_malloc()  # as the training loop does
    rows = []
    for bf16 in (False, True):
        torch.manual_seed(0)
        agent = DrQv2(obs_space, act_space, DrQv2Config(bf16=bf16).resolved(), dev)
        rb = FrameReplay(args.replay_frames + 10, (3, 84, 84), args.act_dim, device="cpu")
        fill_replay(rb, args.replay_frames, args.act_dim)
        for batch in args.batch:
            parts = time_update_parts(agent, rb, batch, args.updates)
            rows.append({"variant": "bf16+channels_last" if bf16 else "fp32", "batch": batch,
                         "malloc": os.environ.get("VISUOMOTOR_MALLOC") != "default", **parts})
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch", type=int, nargs="+", default=[256, 128])
    p.add_argument("--updates", type=int, default=5)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--device", default="cpu")
    p.add_argument("--act-dim", type=int, default=6)
    p.add_argument("--replay-frames", type=int, default=20_000)
    p.add_argument("--env", default="dmc/walker-walk")
    p.add_argument("--malloc", choices=["default", "raised", "both"], default="both",
                   help="glibc malloc thresholds: as glibc sets them, raised as the training loop does, or both")
    p.add_argument("--versions", nargs="+", default=[], metavar="SRC",
                   help="also time the update with visuomotor from these src/ folders (other checkouts), alternating")
    p.add_argument("--rounds", type=int, default=1, help="times every (version, malloc) child runs, alternating")
    p.add_argument("--json", action="store_true", help=argparse.SUPPRESS)  # child-process mode
    args = p.parse_args()
    if args.json:
        print(json.dumps(run(args)))
        return

    from visuomotor.buffers.frames import FrameReplay

    rb = FrameReplay(1000, (3, 84, 84), args.act_dim)
    print(f"replay: {rb.nbytes_per_frame():.0f} bytes per stored transition "
          f"({rb.nbytes_per_frame() / (84 * 84 * 3):.4f} x one 84x84x3 frame)")
    env_s = env_step_seconds(args.env, 2)
    print(f"pixel env step ({args.env}, action repeat 2, 84x84 render): {env_s * 1e3:.2f} ms")
    settings = {"default": ["default"], "raised": ["raised"], "both": ["default", "raised"]}[args.malloc]
    sources = [None, *args.versions]
    runs: dict[tuple, list[list[dict]]] = {}
    for _ in range(args.rounds):
        for src in sources:
            for s in settings:
                env = dict(os.environ, VISUOMOTOR_MALLOC=s)
                if src is not None:
                    env["PYTHONPATH"] = str(Path(src).resolve())
                cmd = [sys.executable, __file__, "--json", "--batch", *map(str, args.batch), "--updates",
                       str(args.updates), "--threads", str(args.threads), "--device", args.device, "--act-dim",
                       str(args.act_dim), "--replay-frames", str(args.replay_frames)]
                out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
                runs.setdefault((src, s), []).append(json.loads(out.strip().splitlines()[-1]))
    rows = []
    for (src, _), rounds in runs.items():  # per row, the median over rounds of each part
        for i, r in enumerate(rounds[0]):
            row = {**r, **{k: statistics.median(rr[i][k] for rr in rounds) for k in r if isinstance(r[k], float)}}
            row["version"] = label(Path(__file__).resolve().parents[1] if src is None else src)
            rows.append(row)
    print(f"\ndevice {args.device}, {args.threads} threads, medians of {args.updates} updates"
          f"{f' and of {args.rounds} rounds' if args.rounds > 1 else ''}; seconds per update\n")
    print("| version | variant | malloc thresholds | batch | sample | augment | encoder | critic step | actor step | "
          "update | updates/s | env frames/s | sample share |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        frames_s = 4 / (2 * env_s + r["total"])  # one update per 2 policy steps of 2 frames
        print(f"| {r['version']} | {r['variant']} | {'raised' if r['malloc'] else 'default'} | {r['batch']} | {r['sample']:.3f} | "
              f"{r['augment']:.3f} | {r['encoder']:.3f} | {r['critic']:.3f} | {r['actor']:.3f} | {r['total']:.3f} | "
              f"{1 / r['total']:.2f} | {frames_s:.1f} | {r['sample'] / r['total']:.1%} |")


if __name__ == "__main__":
    main()
