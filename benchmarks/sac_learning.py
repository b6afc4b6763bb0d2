"""Learning benchmark: our SAC vs Stable-Baselines3's SAC, same settings, from states.

    python benchmarks/sac_learning.py run --lib ours --env dmc/cartpole-swingup --seed 0 [--steps 100000]
    python benchmarks/sac_learning.py run --lib sb3  --env dmc/cartpole-swingup --seed 0
    python benchmarks/sac_learning.py table            # summarize benchmarks/results/sac_learning/*.csv
    python benchmarks/sac_learning.py inspect DIR...   # what runs kept with --keep DIR do (cartpole-swingup)

Identical settings for both: 2x256 MLPs, batch 256, lr 3e-4, gamma 0.99, tau 0.005, one update per
env step, 5000 uniform-random warm-up steps, automatic temperature toward -|A| from alpha 1, action
repeat 1, the same visuomotor env and the same evaluation: every 10k steps, 10 deterministic
episodes whose seeds are the same for both libraries. Each run writes one CSV (step,
mean_return, train_seconds) where train_seconds excludes evaluation time.

``table`` prints, per env, the eval return at each step (mean ± std over seeds, mean training minutes),
then the two libraries compared over seeds with 95% bootstrap CIs: at equal steps (the mean over a
range of evaluations, per seed) and at equal training time (the last evaluation within a budget of
minutes, over the seeds that ran under the same conditions: two runs at a time, one thread each).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from _learning import SB3Policy, eval_rows, learn_sb3, print_table, read_seeds, write_rows  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "sac_learning"
OURS_VARIANTS = {  # --lib name -> SACConfig fields beside the defaults
    "ours": {},
    "ours-fp32": {"bf16": False},
    "ours-sb3eps": {"log_prob_epsilon": 1e-6},  # SB3's (and the authors' first code's) tanh correction
}


def run_ours(env_id: str, seed: int, steps: int, eval_every: int, threads: int, out: Path,
             keep: Path | None = None, **sac_kw) -> None:
    """Train our SAC; ``keep``: keep the run directory there (episodes, logs, checkpoints saved at every
    evaluation: latest.pt and best.pt) instead of a temporary one."""
    from visuomotor import SACConfig, TrainConfig, train

    with tempfile.TemporaryDirectory() as tmp:
        run = keep or Path(tmp) / "run"
        train(TrainConfig(env=env_id, algo="sac", steps=steps, seed=seed, run_dir=run, eval_every=eval_every,
                          eval_episodes=10, video=False, checkpoint_every=eval_every if keep else steps,
                          threads=threads, progress=False, device="cpu",
                          sac=SACConfig(learning_starts=5000, **sac_kw)))
        rows = eval_rows(run, out.stem.split("__")[0], env_id, seed)
    write_rows(out, rows)


def run_sb3(env_id: str, seed: int, steps: int, eval_every: int, threads: int, out: Path,
            keep: Path | None = None) -> None:
    from stable_baselines3 import SAC as SB3SAC

    learn_sb3(lambda env: SB3SAC("MlpPolicy", env, learning_rate=3e-4, buffer_size=1_000_000, learning_starts=5000,
                                 batch_size=256, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1,
                                 ent_coef="auto", policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu",
                                 verbose=0),
              env_id, seed, steps, eval_every, threads, out, keep)


def _compare(x, y, a: str, b: str) -> str:
    """Means of two sets of per-seed values, their difference with a 95% bootstrap CI over seeds, and
    P(a seed of ``a`` beats a seed of ``b``) (ties count half)."""
    import numpy as np

    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    rng = np.random.default_rng(0)
    boot = [rng.choice(x, len(x)).mean() - rng.choice(y, len(y)).mean() for _ in range(10_000)]
    lo_ci, hi_ci = np.percentile(boot, [2.5, 97.5])
    p = float(np.mean([(xi > yi) + 0.5 * (xi == yi) for xi in x for yi in y]))
    return (f"{a} {x.mean():.0f} (n={len(x)}) vs {b} {y.mean():.0f} (n={len(y)}): difference "
            f"{x.mean() - y.mean():+.0f}, 95% bootstrap CI [{lo_ci:.0f}, {hi_ci:.0f}], P({a} seed > {b} seed) {p:.2f}")


def per_seed(runs, env: str, lib: str, lo: int, hi: int) -> dict[int, float]:
    """Seed -> the mean eval return over the evaluations at steps lo..hi, for the seeds that have them all."""
    import numpy as np

    want = range(lo, hi + 1, 10_000)
    return {seed: float(np.mean([rows[s][0] for s in want]))
            for seed, rows in sorted(runs.get((env, lib), {}).items()) if set(want) <= rows.keys()}


def curve_summary(env: str, lo: int = 10_000, hi: int = 50_000, a: str = "ours", b: str = "sb3",
                  runs=None) -> str:
    """Per seed, the mean eval return over the evaluations at steps lo..hi (seeds that have them all),
    compared between the two libraries (``_compare``). ``runs``: ``read_seeds(RESULTS)``, read here if None."""
    runs = read_seeds(RESULTS) if runs is None else runs
    per = {lib: list(per_seed(runs, env, lib, lo, hi).values()) for lib in (a, b)}
    if len(per[a]) < 2 or len(per[b]) < 2:
        return f"{env}: too few complete seeds for a summary"
    return f"{env}: mean eval return over {lo}-{hi} steps, " + _compare(per[a], per[b], a, b)


def seed_listing(env: str, lo: int, hi: int, libs=("ours", "sb3"), runs=None) -> str:
    """Each seed's mean eval return over lo..hi, per lib, lowest first (where the spread is)."""
    runs = read_seeds(RESULTS) if runs is None else runs
    out = [f"{env}: per seed, mean eval return over {lo}-{hi} steps, lowest first"]
    for lib in libs:
        vals = sorted(per_seed(runs, env, lib, lo, hi).items(), key=lambda kv: kv[1])
        out.append(f"  {lib} (n={len(vals)}): " + ", ".join(f"s{seed} {v:.0f}" for seed, v in vals))
    return "\n".join(out)


def time_summary(env: str, minutes: float, seeds, a: str = "ours", b: str = "sb3", runs=None) -> str:
    """Returns at equal training time: per seed (of ``seeds`` those both libraries ran, which should have
    run under the same conditions), the eval return of the last evaluation reached within ``minutes``
    of training time (evaluation excluded), compared between the two libraries; a run that stopped
    before ``minutes`` counts with its last evaluation."""
    runs = read_seeds(RESULTS) if runs is None else runs
    both = [seed for seed in seeds if all(seed in runs.get((env, lib), {}) for lib in (a, b))]
    reached = {}  # lib -> [(step, return) of the last evaluation within the budget, per seed]
    for lib in (a, b):
        by_seed = runs.get((env, lib), {})
        reached[lib] = [max((step, ret) for step, (ret, t) in by_seed[seed].items() if t <= minutes * 60)
                        for seed in both]
    if len(both) < 2:
        return f"{env}: too few seeds for a summary at {minutes:g} min"
    where = ", ".join(f"{lib} at {min(r)[0]}-{max(r)[0]} steps" for lib, r in reached.items())
    return (f"{env}: eval return after {minutes:g} training minutes (seeds {_ranges(both)}; {where}), "
            + _compare([ret for _, ret in reached[a]], [ret for _, ret in reached[b]], a, b))


def _ranges(seeds) -> str:
    """[3, 4, 5, 8] -> '3-5, 8'."""
    out, seeds = [], sorted(seeds)
    for s in seeds:
        if out and s == out[-1][1] + 1:
            out[-1][1] = s
        else:
            out.append([s, s])
    return ", ".join(f"{lo}-{hi}" if hi > lo else f"{lo}" for lo, hi in out)


def _kept_policy(path: Path):
    """(label, policy with act(obs, explore)) from a kept run: ours (a run directory, its latest
    checkpoint) or SB3's (a folder with model.zip)."""
    if (path / "model.zip").is_file():
        from stable_baselines3 import SAC as SB3SAC

        return f"sb3 {path.name}", SB3Policy(SB3SAC.load(path / "model.zip", device="cpu"))
    if (path / "config.yaml").is_file():
        from visuomotor import load_agent

        agent, _, step = load_agent(path)
        return f"ours {path.name} (step {step})", agent
    raise SystemExit(f"{path} is neither a kept run of ours (config.yaml) nor of SB3 (model.zip)")


def inspect(paths: list[Path], episodes: int = 3) -> None:
    """What a kept cartpole-swingup policy does, acting deterministically: per run, over ``episodes``
    episodes, the return, the step the pole first comes within ~18 degrees of upright (cos > 0.95),
    and after that step the fraction of steps it stays there, the mean |cart position| (the reward's
    centered factor is (1 + 10^-(x/2)^2) / 2: 0.91 at |x| = 0.6, 0.72 at 1.2), the final |cart
    position|, the mean |action| and the mean reward per step."""
    import numpy as np

    from visuomotor import make_env

    env = make_env("dmc/cartpole-swingup", seed=0)
    print("| run | return | swing-up step | upright after | mean abs x after | final abs x | mean abs u after "
          "| reward/step after |")
    print("|---|---|---|---|---|---|---|---|")
    for path in paths:
        label, policy = _kept_policy(path)
        rows = []
        for ep in range(episodes):
            obs, _ = env.reset(seed=10_000 + ep)
            xs, coss, acts, rews = [], [], [], []
            done = False
            while not done:
                a = policy.act(obs, explore=False)
                obs, r, terminated, truncated, _ = env.step(a)
                xs.append(obs[0]), coss.append(obs[1]), acts.append(float(np.abs(a).mean())), rews.append(r)
                done = terminated or truncated
            up = np.asarray(coss) > 0.95
            k = int(np.argmax(up)) if up.any() else len(up)
            after = slice(k, None)
            rows.append([sum(rews), k, up[after].mean() if up.any() else 0.0,
                         np.abs(xs[after]).mean() if up.any() else np.nan, abs(xs[-1]),
                         np.mean(acts[after]) if up.any() else np.nan, np.mean(rews[after]) if up.any() else np.nan])
        m = np.nanmean(np.asarray(rows, dtype=float), axis=0)
        print(f"| {label} | {m[0]:.1f} | {m[1]:.0f} | {m[2]:.3f} | {m[3]:.2f} | {m[4]:.2f} | {m[5]:.2f} | {m[6]:.3f} |")


def table() -> None:
    print_table(RESULTS)
    print()
    runs = read_seeds(RESULTS)
    for lo, hi in [(10_000, 50_000), (60_000, 100_000), (100_000, 100_000), (10_000, 100_000)]:
        print(curve_summary("dmc/cartpole-swingup", lo, hi, runs=runs))
    print(curve_summary("dmc/walker-walk", 10_000, 100_000, runs=runs))
    # equal training time, over the runs made two at a time with one thread each (seeds 3 on, sessions
    # 10-12; each seed's pair on the same VM)
    for minutes in (6, 12, 24):
        print(time_summary("dmc/cartpole-swingup", minutes, range(3, 100), runs=runs))
    print(seed_listing("dmc/cartpole-swingup", 60_000, 100_000, ("ours", "ours-fp32", "ours-sb3eps", "sb3"), runs))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--lib", choices=list(OURS_VARIANTS) + ["sb3"], required=True)
    r.add_argument("--env", default="dmc/cartpole-swingup")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--steps", type=int, default=100_000)
    r.add_argument("--eval-every", type=int, default=10_000)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("--keep", type=Path, default=None,
                   help="keep the run there: ours its run directory, SB3 its trained model (model.zip)")
    sub.add_parser("table")
    i = sub.add_parser("inspect", help="what kept cartpole-swingup policies do (see inspect())")
    i.add_argument("paths", type=Path, nargs="+", help="--keep folders of ours or SB3")
    i.add_argument("--episodes", type=int, default=3)
    args = p.parse_args()
    if args.cmd == "table":
        table()
        return
    if args.cmd == "inspect":
        inspect(args.paths, args.episodes)
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{args.lib}__{args.env.replace('/', '-')}__s{args.seed}.csv"
    if args.lib == "sb3":
        run_sb3(args.env, args.seed, args.steps, args.eval_every, args.threads, out, args.keep)
    else:
        run_ours(args.env, args.seed, args.steps, args.eval_every, args.threads, out, args.keep,
                 **OURS_VARIANTS[args.lib])
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
