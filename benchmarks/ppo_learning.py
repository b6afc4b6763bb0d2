"""Learning benchmark: our PPO vs Stable-Baselines3's PPO, from states, returns at equal env steps.

    python benchmarks/ppo_learning.py run --lib ours --env gym/HalfCheetah-v5 --seed 0 [--steps 1000000]
    python benchmarks/ppo_learning.py run --lib sb3  --env gym/HalfCheetah-v5 --seed 0
    python benchmarks/ppo_learning.py table      # summarize benchmarks/results/ppo_learning/*.csv

ours: `--algo ppo` at its defaults (RSL-RL preset: 24 steps x --num-envs envs (default 64), 5
epochs x 4 minibatches, lr 1e-3 adapted to KL 0.01, [256,256,256] ELU, observation normalization,
initial policy std 0.5 on these envs; `--lib ours-std1` is the same with RSL-RL's std 1.0, the
default before; `--lib ours-sb3` our PPO at SB3's preset),
on the batched MuJoCo path where the task has one (`--vectorization mujoco`), else gymnasium's
SyncVectorEnv. sb3: SB3's PPO with its defaults ("MlpPolicy", 1 env, n_steps 2048, batch 64, 10
epochs, lr 3e-4, [64,64] tanh). Both: the same visuomotor env, evaluation every --eval-every env
steps on 10 deterministic episodes whose seeds are the same for both libraries. Each run writes one
CSV (step, mean_return, train_seconds) where train_seconds excludes evaluation time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _learning import eval_rows, learn_sb3, print_table, write_rows  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "ppo_learning"


def run_ours(lib: str, env_id: str, seed: int, steps: int, eval_every: int, threads: int, num_envs: int,
             out: Path) -> None:
    from visuomotor import PPOConfig, TrainConfig, train
    from visuomotor.envs.batched import supported_ids

    vec = "mujoco" if env_id in supported_ids() else "sync"
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        train(TrainConfig(env=env_id, algo="ppo", steps=steps, seed=seed, run_dir=run, eval_every=eval_every,
                          eval_episodes=10, video=False, checkpoint_every=steps, threads=threads, progress=False,
                          device="cpu", num_envs=num_envs, vectorization=vec,
                          ppo=PPOConfig(preset="sb3" if lib == "ours-sb3" else "rsl_rl",
                                        init_noise_std=1.0 if lib == "ours-std1" else None)))
        # ours evaluates at the first rollout boundary past each multiple of eval_every (at most
        # num_steps x num_envs later): reported at that multiple
        rows = eval_rows(run, lib, env_id, seed, step=lambda s: s // eval_every * eval_every)
    write_rows(out, rows)


def run_sb3(env_id: str, seed: int, steps: int, eval_every: int, threads: int, out: Path) -> None:
    from stable_baselines3 import PPO as SB3PPO

    learn_sb3(lambda env: SB3PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0),
              env_id, seed, steps, eval_every, threads, out)


def table() -> None:
    print_table(RESULTS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--lib", choices=["ours", "ours-std1", "ours-sb3", "sb3"], required=True,
                   help="ours: the default (rsl_rl) preset; ours-sb3: --ppo.preset sb3 with --num-envs envs")
    r.add_argument("--env", default="gym/HalfCheetah-v5")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=int, default=1_000_000)
    r.add_argument("--eval-every", type=int, default=100_000)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--num-envs", type=int, default=64, help="ours: parallel envs")
    sub.add_parser("table")
    args = p.parse_args()
    if args.cmd == "table":
        table()
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.lib}__{args.env.replace('/', '-')}__s{args.seed}.csv"
    if args.lib == "sb3":
        run_sb3(args.env, args.seed, args.steps, args.eval_every, args.threads, out)
    else:
        run_ours(args.lib, args.env, args.seed, args.steps, args.eval_every, args.threads, args.num_envs, out)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
