"""N copies of a DMC task stepped on a CPU: dm_control env objects (gymnasium's sync vector env, one
Python env per copy) against Playground's port of the task (one jitted JAX batch).

    python benchmarks/batched_dmc.py [--tasks walker-walk cheetah-run] [--num-envs 16 256] [--steps 300]

Random actions in [-1, 1], action repeat 1, one thread for JAX and torch; env steps per second of all
copies together (the first steps, JAX's compile, are not timed: the clock starts after 20 warm-up
steps). Playground's DMC ports keep dm_control's observations and rewards (walker-walk: orientations,
height and velocities, 24 numbers; the stand-and-move reward); episodes are 1,000 control steps in both.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

PLAYGROUND = {"walker-walk": "WalkerWalk", "cheetah-run": "CheetahRun", "cartpole-swingup": "CartpoleSwingup",
              "finger-spin": "FingerSpin"}


def rate(env, n: int, steps: int, act_dim: int) -> float:
    import torch

    env.reset(seed=0)
    rng = np.random.default_rng(0)
    playground = type(env).__name__.startswith("Playground")

    def step():
        a = rng.uniform(-1, 1, (n, act_dim)).astype(np.float32)
        env.step(torch.as_tensor(a) if playground else a)

    for _ in range(20):
        step()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    return n * steps / (time.perf_counter() - t)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["walker-walk", "cheetah-run"], choices=sorted(PLAYGROUND))
    p.add_argument("--num-envs", nargs="+", type=int, default=[16, 256])
    p.add_argument("--steps", type=int, default=300)
    a = p.parse_args()
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    import torch

    from visuomotor.envs.vector import make_vec_env

    torch.set_num_threads(1)
    print("| task | envs | dm_control (sync) steps/s | Playground (JAX) steps/s | ratio |")
    print("|---|---|---|---|---|")
    for task in a.tasks:
        for n in a.num_envs:
            dmc = make_vec_env(f"dmc/{task}", n, seed=0)
            act_dim = dmc.single_action_space.shape[0]
            r_dmc = rate(dmc, n, max(1, a.steps * 16 // n), act_dim)
            dmc.close()
            pg = make_vec_env(f"playground/{PLAYGROUND[task]}", n, seed=0)
            r_pg = rate(pg, n, a.steps, act_dim)
            pg.close()
            print(f"| {task} | {n} | {r_dmc:.0f} | {r_pg:.0f} | {r_pg / r_dmc:.2f}x |", flush=True)


if __name__ == "__main__":
    main()
