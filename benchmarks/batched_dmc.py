"""N copies of a DMC task stepped on a CPU: dm_control env objects (gymnasium's sync vector env, one
Python env per copy) against Playground's port of the task (one jitted JAX batch).

    python benchmarks/batched_dmc.py [--tasks walker-walk cheetah-run] [--num-envs 16 256] [--steps 300]

Random actions in [-1, 1], action repeat 1, one thread for JAX and torch; env steps per second of all
copies together (the first steps, JAX's compile, are not timed: the clock starts after 20 warm-up
steps). Episodes are 1,000 control steps in both, with observations of the same size.

    python benchmarks/batched_dmc.py --compare [--tasks ...]

says how the ports differ from dm_control: the physics options that differ between the two MjModels;
each observation key and the reward computed by both from one state (dm_control's after a reset and 3
random steps, copied into Playground's data); and how far the two drift apart when both step from that
state under the same random actions.
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


OPTIONS = ("timestep", "iterations", "ls_iterations", "solver", "cone", "integrator", "noslip_iterations")


def compare(task: str, steps=(1, 10, 100)) -> None:
    """Print how Playground's port of ``task`` differs from dm_control's task (see the docstring)."""
    import jax
    import jax.numpy as jp
    import mujoco
    from dm_control import suite
    from mujoco import mjx
    from mujoco_playground import registry

    env = registry.load(PLAYGROUND[task])
    domain, name = task.split("-")
    d = suite.load(domain, name, task_kwargs={"random": 0})
    d.reset()
    rng = np.random.default_rng(0)
    shape = d.action_spec().shape
    for _ in range(3):
        d.step(rng.uniform(-1, 1, shape))
    phys, m = d.physics, env.mj_model
    print(f"\n{task} (Playground {PLAYGROUND[task]})")
    for f in OPTIONS:
        a, b = getattr(phys.model.ptr.opt, f), getattr(m.opt, f)
        if a != b:
            if f in ("solver", "cone", "integrator"):
                enum = {"solver": mujoco.mjtSolver, "cone": mujoco.mjtCone, "integrator": mujoco.mjtIntegrator}[f]
                a, b = enum(a).name, enum(b).name
            print(f"- opt.{f}: dm_control {a}, Playground {b}")
    for f in ("nbody", "ngeom", "nq", "nu"):
        if getattr(phys.model.ptr, f) != getattr(m, f):
            print(f"- {f}: dm_control {getattr(phys.model.ptr, f)}, Playground {getattr(m, f)}")
    state = env.reset(jax.random.PRNGKey(0))
    data = mjx.forward(env.mjx_model, state.data.replace(qpos=jp.asarray(phys.data.qpos), qvel=jp.asarray(phys.data.qvel)))
    state = state.replace(data=data, obs=env._get_obs(data, state.info))
    keys = {k: np.size(v) for k, v in d.task.get_observation(phys).items()}
    cuts = np.cumsum([0, *keys.values()])

    def per_key(dobs: np.ndarray, pobs: np.ndarray) -> str:
        return ", ".join(f"{k} {np.abs(dobs[i:j] - pobs[i:j]).max():.1e}" for k, i, j in zip(keys, cuts, cuts[1:]))

    flat = lambda ts_obs: np.concatenate([np.ravel(v) for v in ts_obs.values()])  # noqa: E731
    print(f"- one state, max |difference| per observation key: {per_key(flat(d.task.get_observation(phys)), np.asarray(state.obs))}; "
          f"reward dm_control {d.task.get_reward(phys):.4f}, Playground "
          f"{float(env._get_reward(data, jp.zeros(m.nu), state.info, state.metrics)) if hasattr(env, '_get_reward') else float('nan'):.4f}")
    step = jax.jit(env.step)
    for t in range(1, max(steps) + 1):
        a = rng.uniform(-1, 1, shape).astype(np.float32)
        ts, state = d.step(a), step(state, jp.asarray(a))
        if t in steps:
            print(f"- after {t} step(s) of the same actions: {per_key(flat(ts.observation), np.asarray(state.obs))}; "
                  f"reward {ts.reward:.4f} vs {float(state.reward):.4f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tasks", nargs="+", default=["walker-walk", "cheetah-run"], choices=sorted(PLAYGROUND))
    p.add_argument("--num-envs", nargs="+", type=int, default=[16, 256])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--compare", action="store_true", help="how the ports differ from dm_control (no timing)")
    a = p.parse_args()
    os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
    if a.compare:
        os.environ.setdefault("JAX_PLATFORMS", "cpu")
        for task in a.tasks:
            compare(task)
        return
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
