"""DrQ-v2 (and DrM) learning from pixels at a budget this 2-core CPU can afford (issue 6).

    python benchmarks/drqv2_learning.py run --variant fp32 --seed 0
    python benchmarks/drqv2_learning.py run --variant bf16 --seed 0      # same run, bf16 autocast + channels_last
    python benchmarks/drqv2_learning.py table

dmc/cartpole-swingup from 84x84 pixels (frame stack 3), the paper's networks, batch 256, lr 1e-4, n-step 3,
tau 0.01, easy preset, with the changes a CPU budget needs, all in frames so they match the paper's:
action repeat 8 (as DrQ / PlaNet's cartpole setting) instead of 2, an update every policy step (one per 8
frames instead of one per 4), 4,000 seed frames (500 policy steps), the easy preset's exploration
schedule over its 200k frames (linear(1.0,0.1,25000) policy steps). Evaluations: 10 deterministic
episodes every 10k frames. Runs live in --work (default benchmarks/runs/drqv2_learning, ignored by git)
and are resumed with the library's own --resume when the script is started again, so a killed or
interrupted run continues where it stopped; each evaluation is copied to
benchmarks/results/drqv2_learning/<variant>__s<seed>.csv as the run goes.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _learning import eval_rows, read_results, write_rows  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "drqv2_learning"
ENV = "dmc/cartpole-swingup"
VARIANTS = ("fp32", "bf16", "drm")


def _rows(run: Path, variant: str, seed: int, action_repeat: int) -> list[dict]:
    return eval_rows(run, variant, ENV, seed, step=lambda s: s * action_repeat)  # reported in frames


def run(variant: str, seed: int, frames: int, action_repeat: int, work: Path, threads: int) -> None:
    from visuomotor import TrainConfig, train
    from visuomotor.algos.drm import DrMConfig
    from visuomotor.algos.drqv2 import DrQv2Config

    r = work / f"{variant}__s{seed}"
    steps = frames // action_repeat
    algo_kw = dict(preset="easy", learning_starts=4000 // action_repeat, update_every=1,
                   stddev_schedule=f"linear(1.0,0.1,{200_000 // action_repeat})", bf16=variant == "bf16")
    algo = "drm" if variant == "drm" else "drqv2"
    cfg = TrainConfig(env=ENV, algo=algo, pixels=True, action_repeat=action_repeat, steps=steps, seed=seed,
                      run_dir=r, resume=(r / "config.yaml").exists(), eval_every=10_000 // action_repeat,
                      eval_episodes=10, video=False, checkpoint_every=10_000 // action_repeat, threads=threads,
                      progress=False, device="cpu",
                      **({"drm": DrMConfig(**algo_kw)} if algo == "drm" else {"drqv2": DrQv2Config(**algo_kw)}))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{variant}__s{seed}.csv"
    stop = threading.Event()

    def copy_evals():  # each evaluation reaches the results as the run goes
        while not stop.wait(60):
            rows = _rows(r, variant, seed, action_repeat)
            if rows:
                write_rows(out, rows)

    t = threading.Thread(target=copy_evals, daemon=True)
    t.start()
    try:
        train(cfg)
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the run checkpointed; the same command continues it
        print(f"{variant} seed {seed}: stopped (checkpointed in {r}); run the same command to continue",
              file=sys.stderr)
        raise SystemExit(130) from None
    finally:
        stop.set()
        rows = _rows(r, variant, seed, action_repeat)
        if rows:
            write_rows(out, rows)


def table() -> None:
    runs = {lib: by_step for (_, lib), by_step in read_results(RESULTS).items()}
    present = [v for v in VARIANTS if v in runs]
    steps = sorted({s for v in present for s in runs[v]})
    print(f"{ENV} from pixels: eval return (10 episodes) per seed, mean over seeds; train minutes\n")
    print("| frames | " + " | ".join(present) + " |")
    print("|---|" + "---|" * len(present))
    for s in steps:
        cells = []
        for v in present:
            vals = runs[v].get(s, [])
            if not vals:
                cells.append("-")
                continue
            rets = [x[0] for x in vals]
            cells.append(f"{np.mean(rets):.0f} ({', '.join(f'{x:.0f}' for x in rets)}), "
                         f"{np.mean([x[1] for x in vals]) / 60:.0f} min")
        print(f"| {s} | " + " | ".join(cells) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--variant", choices=VARIANTS, required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--frames", type=int, default=100_000)
    r.add_argument("--action-repeat", type=int, default=8)
    r.add_argument("--work", type=Path, default=HERE / "runs" / "drqv2_learning")
    r.add_argument("--threads", type=int, default=1)
    sub.add_parser("table")
    a = p.parse_args()
    if a.cmd == "run":
        run(a.variant, a.seed, a.frames, a.action_repeat, a.work, a.threads)
    else:
        table()


if __name__ == "__main__":
    main()
