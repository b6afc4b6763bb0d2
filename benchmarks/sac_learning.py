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


def curve_summary(env: str, lo: int = 10_000, hi: int = 50_000, a: str = "ours", b: str = "sb3") -> str:
    """Per seed, the mean eval return over the evaluations at steps lo..hi (seeds that have them all);
    the difference of the two libraries' means with a 95% bootstrap CI over seeds, and the
    probability that a seed of ``a`` beats a seed of ``b`` (ties count half)."""
    import csv

    import numpy as np

    want = set(range(lo, hi + 1, 10_000))
    per: dict[str, list[float]] = {a: [], b: []}
    for lib in per:
        for path in sorted(RESULTS.glob(f"{lib}__{env.replace('/', '-')}__s*.csv")):
            with open(path, newline="") as f:
                rows = {int(r["step"]): float(r["mean_return"]) for r in csv.DictReader(f)}
            if want <= rows.keys():
                per[lib].append(float(np.mean([rows[s] for s in sorted(want)])))
    x, y = np.array(per[a]), np.array(per[b])
    if len(x) < 2 or len(y) < 2:
        return f"{env}: too few complete seeds for a summary"
    rng = np.random.default_rng(0)
    boot = [rng.choice(x, len(x)).mean() - rng.choice(y, len(y)).mean() for _ in range(10_000)]
    lo_ci, hi_ci = np.percentile(boot, [2.5, 97.5])
    p = float(np.mean([(xi > yi) + 0.5 * (xi == yi) for xi in x for yi in y]))
    return (f"{env}: mean eval return over {lo}-{hi} steps, {a} {x.mean():.0f} (n={len(x)}) vs {b} {y.mean():.0f} "
            f"(n={len(y)}): difference {x.mean() - y.mean():+.0f}, 95% bootstrap CI [{lo_ci:.0f}, {hi_ci:.0f}], "
            f"P({a} seed > {b} seed) {p:.2f}")


def table() -> None:
    print_table(RESULTS)
    print()
    print(curve_summary("dmc/cartpole-swingup"))
    print(curve_summary("dmc/walker-walk", 10_000, 100_000))


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
