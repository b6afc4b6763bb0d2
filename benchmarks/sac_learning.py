"""Learning benchmark: our SAC vs Stable-Baselines3's SAC, same settings, from states.

    python benchmarks/sac_learning.py run --lib ours --env dmc/cartpole-swingup --seed 0 [--steps 100000]
    python benchmarks/sac_learning.py run --lib sb3  --env dmc/cartpole-swingup --seed 0
    python benchmarks/sac_learning.py table            # summarize benchmarks/results/sac_learning/*.csv

Identical settings for both: 2x256 MLPs, batch 256, lr 3e-4, gamma 0.99, tau 0.005, one update per
env step, 5000 uniform-random warm-up steps, automatic temperature toward -|A| from alpha 1, action
repeat 1, the same visuomotor env and the same evaluation: every 10k steps, 10 deterministic
episodes whose seeds are the same for both libraries. Each run writes one CSV (step,
mean_return, train_seconds) where train_seconds excludes evaluation time.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _learning import eval_rows, learn_sb3, print_table, write_rows  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sac_learning"


def run_ours(env_id: str, seed: int, steps: int, eval_every: int, threads: int, out: Path, **sac_kw) -> None:
    from visuomotor import SACConfig, TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        train(TrainConfig(env=env_id, algo="sac", steps=steps, seed=seed, run_dir=run, eval_every=eval_every,
                          eval_episodes=10, video=False, checkpoint_every=steps, threads=threads,
                          progress=False, device="cpu", sac=SACConfig(learning_starts=5000, **sac_kw)))
        rows = eval_rows(run, out.stem.split("__")[0], env_id, seed)
    write_rows(out, rows)


def run_sb3(env_id: str, seed: int, steps: int, eval_every: int, threads: int, out: Path) -> None:
    from stable_baselines3 import SAC as SB3SAC

    learn_sb3(lambda env: SB3SAC("MlpPolicy", env, learning_rate=3e-4, buffer_size=1_000_000, learning_starts=5000,
                                 batch_size=256, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1,
                                 ent_coef="auto", policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu",
                                 verbose=0),
              env_id, seed, steps, eval_every, threads, out)


def table() -> None:
    print_table(RESULTS)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--lib", choices=["ours", "ours-fp32", "sb3"], required=True)
    r.add_argument("--env", default="dmc/cartpole-swingup")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=int, default=100_000)
    r.add_argument("--eval-every", type=int, default=10_000)
    r.add_argument("--threads", type=int, default=1)
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
        extra = {"bf16": False} if args.lib == "ours-fp32" else {}
        run_ours(args.env, args.seed, args.steps, args.eval_every, args.threads, out, **extra)
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
