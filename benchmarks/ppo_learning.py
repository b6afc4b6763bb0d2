"""Learning benchmark: our PPO vs Stable-Baselines3's PPO, from states, returns at equal env steps.

    python benchmarks/ppo_learning.py run --lib ours --env gym/HalfCheetah-v5 --seed 0 [--steps 1000000]
    python benchmarks/ppo_learning.py run --lib sb3  --env gym/HalfCheetah-v5 --seed 0
    python benchmarks/ppo_learning.py table      # summarize benchmarks/results/ppo_learning/*.csv

ours: `--algo ppo` at its defaults (RSL-RL preset: 24 steps x --num-envs envs (default 64), 5
epochs x 4 minibatches, lr 1e-3 adapted to KL 0.01, [256,256,256] ELU, observation normalization),
on the batched MuJoCo path where the task has one (`--vectorization mujoco`), else gymnasium's
SyncVectorEnv. sb3: SB3's PPO with its defaults ("MlpPolicy", 1 env, n_steps 2048, batch 64, 10
epochs, lr 3e-4, [64,64] tanh). Both: the same visuomotor env, evaluation every --eval-every env
steps on 10 deterministic episodes whose seeds are the same for both libraries. Each run writes one
CSV (step, mean_return, train_seconds) where train_seconds excludes evaluation time.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

RESULTS = Path(__file__).resolve().parent / "results" / "ppo_learning"


def _write(path: Path, rows: list[dict]) -> None:
    from visuomotor.fileio import atomic_write_text

    lines = ["lib,env,seed,step,mean_return,train_seconds"]
    lines += [f"{r['lib']},{r['env']},{r['seed']},{r['step']},{r['mean_return']:.2f},{r['train_seconds']:.1f}"
              for r in rows]
    atomic_write_text(path, "\n".join(lines) + "\n")


def run_ours(lib: str, env_id: str, seed: int, steps: int, eval_every: int, threads: int, num_envs: int,
             out: Path) -> None:
    from visuomotor import TrainConfig, train
    from visuomotor.envs.batched import supported_ids

    vec = "mujoco" if env_id in supported_ids() else "sync"
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        train(TrainConfig(env=env_id, algo="ppo", steps=steps, seed=seed, run_dir=run, eval_every=eval_every,
                          eval_episodes=10, video=False, checkpoint_every=steps, threads=threads, progress=False,
                          device="cpu", num_envs=num_envs, vectorization=vec))
        with open(run / "eval.csv", newline="") as f:
            # ours evaluates at the first rollout boundary past each multiple of eval_every (at most
            # num_steps x num_envs later): reported at that multiple
            rows = [{"lib": lib, "env": env_id, "seed": seed, "step": int(r["step"]) // eval_every * eval_every,
                     "mean_return": float(r["mean_return"]), "train_seconds": float(r["train_time"])}
                    for r in csv.DictReader(f)]
    _write(out, rows)


def run_sb3(env_id: str, seed: int, steps: int, eval_every: int, threads: int, out: Path) -> None:
    from stable_baselines3 import PPO as SB3PPO
    from stable_baselines3.common.callbacks import BaseCallback

    from visuomotor import make_env
    from visuomotor.evaluate import evaluate

    torch.set_num_threads(threads)
    env, eval_env = make_env(env_id, seed=seed), make_env(env_id, seed=seed + 1)

    class Policy:
        def __init__(self, model):
            self.model = model

        def act(self, obs, explore):
            return self.model.predict(obs, deterministic=not explore)[0]

    rows: list[dict] = []

    class EvalClock(BaseCallback):
        def __init__(self):
            super().__init__()
            self.t0 = time.perf_counter()
            self.eval_seconds = 0.0
            self.round = 0
            self.next_eval = 0

        def evaluate_now(self, step: int) -> None:
            t = time.perf_counter()
            res = evaluate(Policy(self.model), eval_env, 10, seed=seed, round_index=self.round)
            self.round += 1
            self.eval_seconds += time.perf_counter() - t
            rows.append({"lib": "sb3", "env": env_id, "seed": seed, "step": step,
                         "mean_return": res.summary()["mean_return"],
                         "train_seconds": time.perf_counter() - self.t0 - self.eval_seconds})
            _write(out, rows)
            self.next_eval = (step // eval_every + 1) * eval_every

        def _on_training_start(self) -> None:
            self.evaluate_now(0)

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_eval:
                self.evaluate_now(self.num_timesteps)
            return True

    model = SB3PPO("MlpPolicy", env, seed=seed, device="cpu", verbose=0)
    model.learn(total_timesteps=steps, callback=EvalClock())


def table() -> None:
    runs: dict[tuple[str, str], dict[int, list[tuple[float, float]]]] = {}
    for path in sorted(RESULTS.glob("*.csv")):
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                runs.setdefault((r["env"], r["lib"]), {}).setdefault(int(r["step"]), []).append(
                    (float(r["mean_return"]), float(r["train_seconds"])))
    for env in sorted({e for e, _ in runs}):
        libs = sorted(lib for e, lib in runs if e == env)
        steps = sorted({s for lib in libs for s in runs[(env, lib)]})
        print(f"\n{env}: eval return, mean ± std over seeds (n seeds); train minutes (mean)\n")
        print("| step | " + " | ".join(libs) + " |")
        print("|---|" + "---|" * len(libs))
        for s in steps:
            cells = []
            for lib in libs:
                vals = runs[(env, lib)].get(s, [])
                if not vals:
                    cells.append("-")
                    continue
                rets = [v[0] for v in vals]
                sd = statistics.stdev(rets) if len(rets) > 1 else 0.0
                cells.append(f"{np.mean(rets):.0f} ± {sd:.0f} (n={len(rets)}), "
                             f"{np.mean([v[1] for v in vals]) / 60:.1f} min")
            print(f"| {s} | " + " | ".join(cells) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--lib", choices=["ours", "sb3"], required=True)
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
