"""End-to-end env-steps/s of our PPO vs Stable-Baselines3's PPO, one process, side by side.

    python benchmarks/ppo_speed.py [--env gym/HalfCheetah-v5] [--steps 16384] [--repeats 2]

Timed (collection + updates, evaluation excluded), after one warm-up rollout:
  sb3          SB3 PPO with its defaults ("MlpPolicy": [64,64] tanh, n_steps 2048, batch 64, 10 epochs)
               on one env from visuomotor.make_env, timed by a callback clock
  ours-sb3     our PPO at SB3's settings (--ppo.preset sb3, 1 env)
  ours-rsl-*   our PPO at RSL-RL's settings (24 steps x N envs, 5 epochs x 4 minibatches,
               [256,256,256] ELU, obs normalization), N envs stepped by gymnasium's SyncVectorEnv
               (sync) or by the batched MuJoCo path (mujoco: mujoco.rollout over an array of states)
Ours is timed by the training loop's own perf/sps rows (those after the first rollout). Every
variant uses the same torch thread count. Runs alternate `--repeats` times; medians.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _versions import call_in, label
from visuomotor import PPOConfig, TrainConfig, make_env, train


def sb3_sps(env_id: str, steps: int, seed: int) -> float:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback

    warm = 2048  # one rollout and update first

    class Clock(BaseCallback):
        def __init__(self):
            super().__init__()
            self.t0 = self.t1 = None

        def _on_step(self) -> bool:
            if self.num_timesteps == warm + 1:
                self.t0 = time.perf_counter()
            return True

        def _on_training_end(self) -> None:
            self.t1 = time.perf_counter()

    model = SB3PPO("MlpPolicy", make_env(env_id, seed=seed), seed=seed, device="cpu", verbose=0)
    clock = Clock()
    model.learn(total_timesteps=warm + steps, callback=clock)
    return (model.num_timesteps - warm) / (clock.t1 - clock.t0)


def ours_sps(env_id: str, steps: int, seed: int, threads: int, num_envs: int, vectorization: str,
             preset: str) -> float:
    torch.set_num_threads(threads)
    ppo = PPOConfig(preset=preset)
    per_iter = ppo.resolved().num_steps * num_envs
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cfg = TrainConfig(env=env_id, algo="ppo", steps=per_iter + steps, seed=seed, run_dir=run, eval_every=10**9,
                          eval_episodes=1, video=False, checkpoint_every=10**9, log_every=per_iter, threads=threads,
                          progress=False, device="cpu", num_envs=num_envs, vectorization=vectorization, ppo=ppo)
        train(cfg)
        with open(run / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
    total, secs, prev = 0, 0.0, None
    for r in rows:  # each row's perf/sps covers the steps since the previous row; skip the first rollout
        step = int(r["step"])
        if prev is not None:
            total += step - prev
            secs += (step - prev) / float(r["perf/sps"])
        prev = step
    return total / secs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="gym/HalfCheetah-v5")
    p.add_argument("--steps", type=int, default=16384, help="timed env steps per variant")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-envs", type=int, nargs="+", default=[64, 256])
    p.add_argument("--variants", nargs="+", default=["sb3", "ours-sb3", "ours-rsl-sync", "ours-rsl-mujoco"])
    p.add_argument("--versions", nargs="+", default=[], metavar="SRC",
                   help="also time our variants with visuomotor from these src/ folders (other checkouts), "
                        "this checkout's in a child process too, alternating")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    sources = [str(Path(__file__).resolve().parents[1] / "src"), *args.versions] if args.versions else [None]
    runs: dict[str, callable] = {}
    if "sb3" in args.variants:
        runs["sb3"] = lambda: sb3_sps(args.env, args.steps, args.seed)
    ours: dict[str, tuple] = {}
    if "ours-sb3" in args.variants:
        ours["ours-sb3"] = (1, "sync", "sb3")
    for n in args.num_envs:
        for vec in ("sync", "mujoco"):
            if f"ours-rsl-{vec}" in args.variants:
                ours[f"ours-rsl-{vec}-{n}"] = (n, vec, "rsl_rl")
    for name, (n, vec, preset) in ours.items():
        for src in sources:
            common = (args.env, args.steps, args.seed, args.threads, n, vec, preset)
            if src is None:
                runs[name] = lambda common=common: ours_sps(*common)
            else:
                runs[f"{name}@{label(src)}"] = lambda common=common, src=src: call_in(src, __file__, "ours_sps", *common)
    print(f"torch {torch.__version__}, {args.threads} threads, {args.env}, {args.steps} timed env steps per run")
    res: dict[str, list[float]] = {k: [] for k in runs}
    for _ in range(args.repeats):
        for name, fn in runs.items():
            torch.set_num_threads(args.threads)
            res[name].append(fn())
            print(f"  {name:<22} {res[name][-1]:9.0f} env-steps/s", flush=True)
    med = {k: statistics.median(v) for k, v in res.items()}
    base = med.get("sb3")
    print("\nmedians:")
    for k, v in med.items():
        ratio = f"  {v / base:5.2f}x sb3" if base else ""
        print(f"  {k:<22} {v:9.0f} env-steps/s{ratio}   (runs: {', '.join(f'{x:.0f}' for x in res[k])})")


if __name__ == "__main__":
    main()
