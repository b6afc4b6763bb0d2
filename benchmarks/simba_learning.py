"""Sample efficiency from states: SAC with SimbaV2 networks against our plain SAC on four DMC tasks at
100k and 200k frames (action repeat 2), next to SimbaV2's published means.

    python benchmarks/simba_learning.py run --net simbav2 --env dmc/cheetah-run --seed 0 [--frames 200000]
    python benchmarks/simba_learning.py run --net mlp --env dmc/cheetah-run --seed 0
    python benchmarks/simba_learning.py run ... --resume          # continue a stopped run (long runs span days)
    python benchmarks/simba_learning.py all --net simbav2 --frames 100000   # every seed and task not yet there
    python benchmarks/simba_learning.py collect                   # rows of unfinished runs too
    python benchmarks/simba_learning.py table

Every run goes through ``visuomotor train --algo sac --sac.net NET --action-repeat 2`` into
benchmarks/runs/simba/ (git-ignored) with the network's own settings (``--sac.net simbav2``: the
papers'; ``mlp``: SAC's), 5,000 policy steps of uniform actions first, and an evaluation of 10
episodes every 10k frames. The simba nets make one update per env frame, two per policy step, as the
authors' code does (``updates_per_interaction_step = action_repeat``); plain SAC keeps its one update
per policy step. SimbaV2's learning rates decay (1e-4 to 5e-5) over the updates of a
``--decay-frames`` run (default 1M frames, the length of the published runs whose 100k-frame points the
table sets ours beside), not over this run's: a run to 200k frames then follows the published schedule,
and a run stopped at 100k frames and resumed to 200k equals a straight one. Extra ``visuomotor train``
flags go after ``--`` (e.g. ``-- --sac.widths 128 256``, stated with the result). Rows land in
benchmarks/results/simba/*.csv with the step column in frames.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _learning import eval_rows, read_seeds, write_rows  # noqa: E402

RUNS = HERE / "runs" / "simba"
RESULTS = HERE / "results" / "simba"
PUBLISHED_100K = {  # SimbaV2 (Lee et al. 2025), DMC from states, 100k frames (reference/anchors.md)
    "dmc/cartpole-swingup": 880, "dmc/walker-walk": 959, "dmc/cheetah-run": 602, "dmc/finger-spin": 745,
}
REPEAT = 2
UPDATES_PER_STEP = {"mlp": 1, "simba": REPEAT, "simbav2": REPEAT}  # the simba papers: one update per frame


def run_name(a, env: str, seed: int) -> str:
    """The run directory's (and result file's) name: TAG__ENV__sSEED, TAG the net and any variant."""
    return f"{a.net}{f'-{a.variant}' if a.variant else ''}__{env.replace('/', '-')}__s{seed}"


def run(a) -> None:
    name = run_name(a, a.env, a.seed)
    cmd = [sys.executable, "-m", "visuomotor", "train", "--env", a.env, "--algo", "sac", "--sac.net", a.net,
           "--action-repeat", str(REPEAT), "--steps", str(a.frames // REPEAT), "--sac.learning-starts", "5000",
           "--eval-every", str(10_000 // REPEAT), "--eval-episodes", "10", "--seed", str(a.seed),
           "--threads", str(a.threads), "--no-video", "--no-progress", "--run-dir", str(RUNS / name), *a.extra,
           "--sac.updates-per-step", str(UPDATES_PER_STEP[a.net]),
           *(["--sac.lr-decay-updates", str(a.decay_frames // REPEAT * UPDATES_PER_STEP[a.net])]
             if a.net == "simbav2" else []),
           *(["--resume"] if a.resume else []), *(["--restart"] if a.restart else [])]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)
    write_run(name)


def run_all(a) -> None:
    """``run`` for each seed of ``--seeds``, each task in turn, up to ``--frames``: runs already there are
    skipped, stopped ones resumed from their checkpoint, or restarted when they stopped before their first
    (so one command continues the whole grid after an interruption)."""
    for seed in a.seeds:
        for env in PUBLISHED_100K:
            run_dir = RUNS / run_name(a, env, seed)
            done = {row["step"] for row in eval_rows(run_dir, "", env, seed, step=lambda s: s * REPEAT)}
            if a.frames in done:
                continue
            resume = (run_dir / "checkpoints" / "latest.pt").exists()
            run(argparse.Namespace(**{**vars(a), "env": env, "seed": seed, "resume": resume,
                                      "restart": run_dir.exists() and not resume}))


def write_run(name: str) -> None:
    """benchmarks/results/simba/NAME.csv from the run directory NAME (``TAG__ENV__sSEED``)."""
    tag, env, seed = name.split("__")
    env = env.replace("-", "/", 1)
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_rows(RESULTS / f"{name}.csv", eval_rows(RUNS / name, tag, env, int(seed[1:]), step=lambda s: s * REPEAT))


def collect(_a=None) -> None:
    """Rows of every run directory, finished or not (a run in progress is read as far as it got)."""
    for run_dir in sorted(RUNS.glob("*__*__s*")):
        write_run(run_dir.name)
        print("wrote", RESULTS / f"{run_dir.name}.csv")


def table(_a=None) -> None:
    runs = read_seeds(RESULTS) if RESULTS.exists() else {}
    libs = sorted({lib for _, lib in runs})
    pub_mean = statistics.mean(PUBLISHED_100K.values())
    for frames in (100_000, 200_000):
        print(f"\nAt {frames // 1000}k frames: eval return, mean over seeds (n), per seed in brackets\n")
        print("| task | " + " | ".join(libs) + " | SimbaV2 published at 100k (UTD 8) |")
        print("|---|" + "---|" * (len(libs) + 1))
        means: dict[str, list[float]] = {lib: [] for lib in libs}
        minutes: dict[str, list[float]] = {lib: [] for lib in libs}
        for env, pub in PUBLISHED_100K.items():
            cells = []
            for lib in libs:
                vals = [by[frames] for by in runs.get((env, lib), {}).values() if frames in by]
                if vals:
                    means[lib].append(statistics.mean(v[0] for v in vals))
                    minutes[lib] += [v[1] / 60 for v in vals]
                    cells.append(f"{means[lib][-1]:.0f} (n={len(vals)}) [{', '.join(f'{v[0]:.0f}' for v in vals)}]")
                else:
                    cells.append("-")
            print(f"| {env} | " + " | ".join(cells) + f" | {pub} |")
        cells = [f"{statistics.mean(m):.0f}" + (f" ({100 * statistics.mean(m) / pub_mean:.0f}% of published)"
                                                 if frames == 100_000 else "")
                 if len(m) == len(PUBLISHED_100K) else "-" for m in means.values()]
        print("| four-task mean | " + " | ".join(cells) + f" | {pub_mean:.0f} |")
        cells = [f"{statistics.mean(m):.0f}" if m else "-" for m in minutes.values()]
        print("| train minutes per run (mean) | " + " | ".join(cells) + " | |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--env", choices=sorted(PUBLISHED_100K), required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--resume", action="store_true", help="continue the run from its checkpoint")
    r.add_argument("--restart", action="store_true", help="set the run directory's earlier files aside first")
    every = sub.add_parser("all")
    every.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    for q in (r, every):
        q.add_argument("--net", choices=["mlp", "simba", "simbav2"], required=True)
        q.add_argument("--frames", type=int, default=200_000)
        q.add_argument("--threads", type=int, default=1)
        q.add_argument("--variant", default="", help="a name for a run with other flags (its rows get NET-NAME)")
        q.add_argument("--decay-frames", type=int, default=1_000_000,
                       help="simbav2: the lr decays over the updates of a run of this many frames")
        q.add_argument("extra", nargs="*", help="more `visuomotor train` flags, after --")
    sub.add_parser("collect")
    sub.add_parser("table")
    a = p.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    {"table": table, "collect": collect, "run": run, "all": run_all}[a.cmd](a)


if __name__ == "__main__":
    main()
