"""Env-steps/s of our SAC vs Stable-Baselines3's SAC, same settings, one process.

    python benchmarks/sac_speed.py [--envs gym/HalfCheetah-v5 dmc/walker-walk] [--steps 3000] [--warmup 1000]

Both: 2x256 MLPs, batch 256, one update per env step, same torch thread count, the same gymnasium
env built by visuomotor.make_env. Timed: the `--steps` env steps that follow `--warmup` random steps
and then `--skip` steps with updates (which hold any one-time cost of the first updates, such as
torch.compile's), SB3 through a callback clock, ours through the training loop's own sps log (which
includes writing episodes to disk). Runs alternate libraries `--repeats` times; medians.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import tempfile
import time
from pathlib import Path

import torch

from _versions import call_in, label
from visuomotor import SACConfig, TrainConfig, make_env, train


def sb3_sps(env_id: str, warmup: int, skip: int, steps: int, seed: int) -> float:
    from stable_baselines3 import SAC as SB3SAC
    from stable_baselines3.common.callbacks import BaseCallback

    class Clock(BaseCallback):
        def __init__(self):
            super().__init__()
            self.t0 = self.t1 = None

        def _on_step(self) -> bool:
            if self.num_timesteps == warmup + skip + 1:
                self.t0 = time.perf_counter()
            if self.num_timesteps == warmup + skip + steps + 1:
                self.t1 = time.perf_counter()
            return True

    env = make_env(env_id, seed=seed)
    model = SB3SAC("MlpPolicy", env, learning_rate=3e-4, buffer_size=1_000_000, learning_starts=warmup,
                   batch_size=256, tau=0.005, gamma=0.99, train_freq=1, gradient_steps=1,
                   policy_kwargs={"net_arch": [256, 256]}, seed=seed, device="cpu", verbose=0)
    clock = Clock()
    model.learn(total_timesteps=warmup + skip + steps + 1, callback=clock)
    return steps / (clock.t1 - clock.t0)


def ours_sps(env_id: str, warmup: int, skip: int, steps: int, seed: int, threads: int, **sac_kw) -> float:
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        cfg = TrainConfig(env=env_id, algo="sac", steps=warmup + skip + steps, seed=seed, run_dir=run,
                          eval_every=10**9, eval_episodes=1, video=False, checkpoint_every=10**9,
                          log_every=math.gcd(warmup, skip, steps), threads=threads, progress=False, device="cpu",
                          sac=SACConfig(learning_starts=warmup, **sac_kw))
        train(cfg)
        with open(run / "metrics.csv", newline="") as f:
            rows = list(csv.DictReader(f))
        # each row's perf/sps covers the steps since the previous row; time the rows after warm-up and skip
        total, secs, prev = 0, 0.0, warmup + skip
        for r in rows:
            step = int(r["step"])
            if step > warmup + skip:
                total += step - prev
                secs += (step - prev) / float(r["perf/sps"])
                prev = step
        return total / secs


# our configurations: float32 or bf16 hidden layers; the update's gradients written out (the default)
# or taken by autograd; "-tf1": the authors' TF1 update order (all losses from the same parameters);
# "-compile": the hand-derived gradients compiled by torch.compile (--sac.compile)
VARIANTS = {  # (compile pinned: left unset, a run of 20k+ updates would compile every variant)
    "fp32": {"bf16": False, "compile": False},
    "bf16": {"bf16": True, "compile": False},
    "fp32-autograd": {"bf16": False, "manual_grad": False, "compile": False},
    "bf16-autograd": {"bf16": True, "manual_grad": False, "compile": False},
    "bf16-tf1": {"bf16": True, "simultaneous_update": True, "compile": False},
    "bf16-compile": {"bf16": True, "compile": True},
    "fp32-compile": {"bf16": False, "compile": True},  # the long-run default where the CPU lacks native bf16
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--envs", nargs="+", default=["gym/HalfCheetah-v5", "dmc/walker-walk"])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--warmup", type=int, default=1000)
    p.add_argument("--skip", type=int, default=200, help="steps with updates before the clock starts")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS),
                   help="which of our configurations to time next to SB3")
    p.add_argument("--versions", nargs="+", default=[], metavar="SRC",
                   help="also time each variant with visuomotor from these src/ folders (other checkouts), "
                        "this checkout's in a child process too, alternating")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    variants = {k: v for k, v in VARIANTS.items() if k in args.variants}
    sources = [str(Path(__file__).resolve().parents[1] / "src"), *args.versions] if args.versions else []
    if sources:  # every version of ours in a child process, labelled by its commit
        variants = {f"{k}@{label(src)}": (kw, src) for k, kw in variants.items() for src in sources}
    else:
        variants = {k: (kw, None) for k, kw in variants.items()}
    print(f"torch {torch.__version__}, {args.threads} threads, {args.steps} timed steps after {args.warmup} warmup")
    for env_id in args.envs:
        res: dict[str, list[float]] = {"sb3": [], **{k: [] for k in variants}}
        for _ in range(args.repeats):
            res["sb3"].append(sb3_sps(env_id, args.warmup, args.skip, args.steps, args.seed))
            torch.set_num_threads(args.threads)
            for name, (kw, src) in variants.items():
                common = (env_id, args.warmup, args.skip, args.steps, args.seed, args.threads)
                res[name].append(ours_sps(*common, **kw) if src is None else call_in(src, __file__, "ours_sps",
                                                                                      *common, **kw))
        med = {k: statistics.median(v) for k, v in res.items()}
        line = "  ".join(f"{k} {v:6.1f}" for k, v in med.items())
        ratios = "  ".join(f"{k}/sb3 {med[k] / med['sb3']:.2f}x" for k in variants)
        print(f"{env_id:<22} env-steps/s: {line}   |  {ratios}")
        print(f"{'':<22} runs: " + "; ".join(f"{k} " + ",".join(f"{x:.0f}" for x in v) for k, v in res.items()))


if __name__ == "__main__":
    main()
