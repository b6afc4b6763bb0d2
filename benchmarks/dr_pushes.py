"""Domain randomization with pushes keeps a walker upright: PPO trained with and without it, both
evaluated on randomized dynamics with pushes.

    python benchmarks/dr_pushes.py [--env gym/Walker2d-v5] [--steps 1500000] [--seed 0] [--episodes 20]
                                   [--num-envs 64] [--vectorization sync]
                                   [--eval-push-velocities 0.5 1.0 1.5] [--out DIR] [--runs nominal dr]

Both runs: --algo ppo (RSL-RL preset, --num-envs envs stepped by --vectorization: sync, or the
batched MuJoCo path, which randomizes one model per copy). "dr" trains with --dr.enabled and pushes
(--push-interval policy steps, up to --push-velocity m/s on each translational root dof), "nominal"
without. Each final policy is then evaluated on --episodes deterministic episodes of the env with
the same randomization and pushes on (and on the nominal env; with --eval-push-velocities, once per
push bound): mean return, mean episode length, and the fraction of episodes that stay upright
(Walker2d terminates when the torso falls or tilts too far, so an episode that reaches the 1000-step
limit stayed up). With --out, trained runs found there are evaluated again without retraining.
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
from pathlib import Path

import numpy as np

from visuomotor import RandomizationConfig, TrainConfig, load_agent, make_env, train
from visuomotor.evaluate import evaluate


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="gym/Walker2d-v5")
    p.add_argument("--steps", type=int, default=1_500_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--push-interval", type=int, default=100)
    p.add_argument("--push-velocity", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--num-envs", type=int, default=64)
    p.add_argument("--vectorization", choices=["sync", "async", "mujoco"], default="sync")
    p.add_argument("--eval-push-velocities", type=float, nargs="+", default=None,
                   help="evaluate under pushes of up to each of these m/s (default: --push-velocity)")
    p.add_argument("--out", type=Path, default=None, help="keep the run directories here (reused if trained)")
    p.add_argument("--runs", nargs="+", choices=["nominal", "dr"], default=["nominal", "dr"],
                   help="which of the two to train and evaluate (e.g. one per process, same --out)")
    args = p.parse_args()
    dr = RandomizationConfig(enabled=True, push_interval=args.push_interval, push_velocity=args.push_velocity)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        runs = {}
        for name, cfg_dr in (("nominal", RandomizationConfig()), ("dr", dr)):
            if name not in args.runs:
                continue
            run_dir = root / f"{name}_s{args.seed}"
            if (run_dir / "checkpoints" / "latest.pt").exists() and (run_dir / "eval.csv").exists():
                runs[name] = run_dir  # trained before (--out): evaluate again only
                continue
            runs[name] = train(TrainConfig(
                env=args.env, algo="ppo", steps=args.steps, seed=args.seed, run_dir=run_dir,
                eval_every=args.steps // 5, eval_episodes=5, video=False, checkpoint_every=args.steps,
                threads=args.threads, progress=False, device="cpu", dr=cfg_dr, num_envs=args.num_envs,
                vectorization=args.vectorization))
        print(f"\n{args.env}, seed {args.seed}, {args.steps} steps, {args.num_envs} envs ({args.vectorization}); "
              f"evaluation: {args.episodes} episodes")
        print("| trained | evaluated on | mean return | mean length | upright (reached the limit) |")
        print("|---|---|---|---|---|")
        for name, run in runs.items():
            agent, cfg, _ = load_agent(run)
            pushes = [(f"randomized + pushes (up to {v:g} m/s)", dataclasses.replace(dr, push_velocity=v))
                      for v in (args.eval_push_velocities or [args.push_velocity])]
            for where, rnd in (("nominal", None), *pushes):
                env = make_env(args.env, seed=10_000 + args.seed, randomization=rnd)
                res = evaluate(agent, env, args.episodes, seed=10_000 + args.seed)
                limit = getattr(env.spec, "max_episode_steps", None) or 1000
                upright = float(np.mean([n >= limit for n in res.lengths]))
                s = res.summary()
                print(f"| {name} | {where} | {s['mean_return']:.0f} ± {s['std_return']:.0f} | "
                      f"{s['mean_length']:.0f} | {upright:.0%} |", flush=True)
                env.close()


if __name__ == "__main__":
    main()
