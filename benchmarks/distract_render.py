"""What distractions cost to render: the pixel observation's render path with and without --distract.

    python benchmarks/distract_render.py [--envs dmc/walker-walk dmc/cartpole-swingup] [--size 84] [--frames 400]

Per env and setting, in one process, settings interleaved over --rounds rounds (medians):

Settings: off; easy / medium / hard, static and dynamic, with the default kinds (background, colours,
camera); and hard, dynamic with the floor too.

- "render": one 84x84 frame the way the pixel observation renders it (the fast path), plus what the
  distraction does per policy step (dynamic: its random walks, the camera update and the background's
  texture upload; static: nothing per step, its draws and upload happen at reset, amortized here over
  an episode of 500 steps as measured);
- "env step": a whole policy step of ``make_env(..., pixels=True)`` (action repeat 2: physics, the
  render, the frame stack), random actions.

Ratios are to the undistracted env in the same round.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from visuomotor.envs import make_env
from visuomotor.envs.distract import DistractConfig, Distraction
from visuomotor.envs.wrappers import find_wrapper

SETTINGS = [("off", False, False), ("easy", False, False), ("medium", False, False), ("hard", False, False),
            ("easy", True, False), ("medium", True, False), ("hard", True, False), ("hard", True, True)]
"""(level, dynamic, floor too)"""


def measure(env_id: str, level: str, dynamic: bool, floor: bool, size: int, frames: int) -> tuple[float, float]:
    """(ms per render-path frame, ms per env step)."""
    kw = {} if level == "off" else {"distract": level, "distract_cfg": DistractConfig(dynamic=dynamic, floor=floor)}
    env = make_env(env_id, pixels=True, pixel_size=size, action_repeat=2, seed=0, **kw)
    env.reset(seed=0)
    w, base = find_wrapper(env, Distraction), env.unwrapped
    cam = base.camera_id
    rng = np.random.default_rng(0)
    for _ in range(20):  # warm-up
        env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
    t = time.perf_counter()
    for _ in range(frames):
        if w is not None and dynamic:
            w._drift()
            w._apply()
        base.render_pixels(size, size, cam)
    render = (time.perf_counter() - t) / frames
    if w is not None and not dynamic:  # the reset's draws and upload, once per 500-step episode
        t = time.perf_counter()
        for _ in range(20):
            w._draw_episode()
            w._apply()
        render += (time.perf_counter() - t) / 20 / 500
    t = time.perf_counter()
    for i in range(frames):
        _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, env.action_space.shape).astype(np.float32))
        if term or trunc:
            env.reset(seed=i)
    step = (time.perf_counter() - t) / frames
    env.close()
    return render * 1e3, step * 1e3


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--envs", nargs="+", default=["dmc/walker-walk", "dmc/cartpole-swingup"])
    ap.add_argument("--size", type=int, default=84)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    for env_id in args.envs:
        res = {s: ([], []) for s in SETTINGS}
        for _ in range(args.rounds):
            for s in SETTINGS:
                r, st = measure(env_id, *s, args.size, args.frames)
                res[s][0].append(r)
                res[s][1].append(st)
        base_r, base_s = (statistics.median(v) for v in res[("off", False, False)])
        print(f"\n{env_id}, {args.size}x{args.size}, medians of {args.rounds} rounds")
        print("| distractions | render path, ms/frame | vs off | env step, ms | vs off |")
        print("|---|---|---|---|---|")
        for (level, dyn, floor), (r, st) in res.items():
            r, st = statistics.median(r), statistics.median(st)
            name = "off" if level == "off" else f"{level}, {'dynamic' if dyn else 'static'}" + (", floor" if floor else "")
            print(f"| {name} | {r:.2f} | {r / base_r:.2f}x | {st:.2f} | {st / base_s:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
