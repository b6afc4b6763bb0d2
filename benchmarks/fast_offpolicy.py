"""Wall time to a target return on a 2-core CPU: SB3's SAC, our SAC, FastTD3, FastSAC and SAC with SimbaV2
networks, each to the return SB3's SAC reaches at 100k env steps.

    python benchmarks/fast_offpolicy.py run --lib sb3 --env gym/HalfCheetah-v5 --seed 0
    python benchmarks/fast_offpolicy.py run --lib fasttd3 --env dmc/walker-walk --seed 0 --minutes 30
    python benchmarks/fast_offpolicy.py table

``sb3`` runs ``sac_learning.py``'s SB3 (100k steps) and ``sac`` our SAC with the same settings (2x256
MLPs, batch 256, one update per env step, 5,000 warm-up steps, action repeat 1) through the CLI, like
the runs below, so that it can go on past 100k steps within its minutes. ``fasttd3`` and ``fastsac``
run their ``cpu`` preset (16 envs, batch 1,024) through ``visuomotor train`` (FastSAC's with SimbaV2's
temperature on gym and DMC, and compiled), ``fastsac-authors-alpha`` FastSAC's with the authors'
temperature (from 0.001, target entropy 0), ``fastsac-authors-alpha-eager`` that without compiling,
``fastsac-authors-nets`` that with the authors' networks, ``fastsac-sac-entropy`` with SAC's
temperature (from 1, target entropy -|A|), ``fastsac-v100`` the authors' temperature on the support
[-100, 100], ``sac-simbav2``
``--sac.net simbav2``, ``sac-ar2`` our SAC at action repeat 2 (returns still over the episode's 1,000
frames) and ``sac-n3`` our SAC with 3-step returns; they evaluate every ``--eval-every`` env steps (all
envs together) and stop after ``--minutes`` of wall time with a clean checkpoint. Every run: one torch
thread (``--threads``), two runs side by side on the 2 cores, 10 deterministic evaluation episodes;
``train_seconds`` exclude evaluation.

``--machine NAME`` (``run`` and ``table``) keeps the runs of another kind of CPU apart: their rows go to
results/fast_offpolicy-NAME/, and ``table --machine NAME`` times only those (the default machine's rows
are in results/fast_offpolicy/).

``table``: the target of an env is SB3's mean return at 100k steps over its seeds (this benchmark's on
every machine and ``results/sac_learning``'s; a rerun that repeats a seed's return exactly counts
once), its time SB3's mean training time to 100k steps in the runs of the machine asked for only
(times compare on one machine, side by side); each run's time to target is the training time of its
first evaluation at or above the target (none: the run did not reach it), and the ratio is SB3's
time over that.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _learning import eval_rows, read_seeds, write_rows  # noqa: E402

RESULTS = HERE / "results" / "fast_offpolicy"
SAC_RESULTS = HERE / "results" / "sac_learning"
RUNS = HERE / "runs" / "fast_offpolicy"
FASTSAC_CPU = ["--algo", "fastsac", "--fastsac.preset", "cpu"]
AUTHORS_ALPHA = ["--fastsac.alpha-init", "0.001", "--fastsac.target-entropy-ratio", "0.0"]
ALGO_FLAGS = {  # --lib -> visuomotor train flags
    "sac": ["--algo", "sac", "--sac.learning-starts", "5000"],  # sac_learning.py's settings, past 100k steps
    "fasttd3": ["--algo", "fasttd3", "--fasttd3.preset", "cpu"],
    # the cpu preset: 2x256 networks, compiled losses on a CPU run this long, on gym and DMC SimbaV2's temperature
    "fastsac": FASTSAC_CPU,
    # the cpu preset with the authors' temperature (from 0.001, target entropy 0): compiled, eager, the authors'
    # networks (actor 512-256-128, critics 768-384-192; the gpu preset's), the support [-100, 100]
    "fastsac-authors-alpha": [*FASTSAC_CPU, *AUTHORS_ALPHA],
    "fastsac-authors-alpha-eager": [*FASTSAC_CPU, *AUTHORS_ALPHA, "--fastsac.compile", "False"],
    "fastsac-authors-nets": [*FASTSAC_CPU, *AUTHORS_ALPHA, "--fastsac.compile", "False", "--fastsac.actor-hidden",
                             "512", "256", "128", "--fastsac.critic-hidden", "768", "384", "192"],
    "fastsac-v100": [*FASTSAC_CPU, *AUTHORS_ALPHA, "--fastsac.v-min", "-100", "--fastsac.v-max", "100"],
    # the cpu preset with SAC's temperature (from 1, target entropy -|A|)
    "fastsac-sac-entropy": [*FASTSAC_CPU, "--fastsac.alpha-init", "1.0", "--fastsac.target-entropy-ratio", "1.0"],
    "sac-simbav2": ["--algo", "sac", "--sac.net", "simbav2", "--sac.learning-starts", "5000"],
    "sac-ar2": ["--algo", "sac", "--action-repeat", "2", "--sac.learning-starts", "5000"],  # SAC at half the decisions
    "sac-n3": ["--algo", "sac", "--sac.learning-starts", "5000", "--sac.n-step", "3"],  # SAC with 3-step returns
}


def results_dir(machine: str) -> Path:
    """Where a machine's rows go: results/fast_offpolicy (the default machine) or results/fast_offpolicy-NAME."""
    return RESULTS.with_name(f"{RESULTS.name}-{machine}") if machine else RESULTS


def run_cli(a) -> None:
    """One of ALGO_FLAGS through the CLI, stopped (SIGTERM: a clean checkpoint) after ``--minutes``."""
    name, results = f"{a.lib}__{a.env.replace('/', '-')}__s{a.seed}", results_dir(a.machine)
    run = RUNS.parent / results.name / name
    cmd = [sys.executable, "-m", "visuomotor", "train", "--env", a.env, *ALGO_FLAGS[a.lib], "--seed", str(a.seed),
           "--steps", str(a.steps), "--eval-every", str(a.eval_every), "--eval-episodes", "10",
           "--threads", str(a.threads), "--no-video", "--no-progress", "--run-dir", str(run), *a.extra]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd)
    try:
        proc.wait(timeout=a.minutes * 60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        proc.wait()
    results.mkdir(parents=True, exist_ok=True)
    write_rows(results / f"{name}.csv", eval_rows(run, a.lib, a.env, a.seed))


def run_sb3(a) -> None:
    import sac_learning

    results = results_dir(a.machine)
    results.mkdir(parents=True, exist_ok=True)
    out = results / f"sb3__{a.env.replace('/', '-')}__s{a.seed}.csv"
    sac_learning.run_sb3(a.env, a.seed, 100_000, 10_000, a.threads, out)


def table(a) -> None:
    """Times only from this benchmark's runs on ``--machine`` (made side by side on one machine); the target
    return pools SB3's seeds of both benchmarks on every machine (a return does not depend on the machine,
    a time does)."""
    own_dir = results_dir(a.machine)
    own = read_seeds(own_dir) if own_dir.exists() else {}
    pooled: dict = {}
    for results in (SAC_RESULTS, *sorted(HERE.glob(f"results/{RESULTS.name}*"))):
        if results.exists():
            for key, seeds in read_seeds(results).items():
                if key[1] == "sb3":  # one sample per distinct run: a rerun that repeats a seed's return
                    # exactly (SB3's float32 run of walker-walk seed 0 did, on another CPU) is that run again
                    pooled.setdefault(key, {}).update({(s, by[100_000][0]): by for s, by in seeds.items()
                                                       if 100_000 in by})
    for env in sorted({e for e, lib in own if lib == "sb3"}):
        at_100k = [by[100_000][0] for by in pooled[(env, "sb3")].values()]
        times = [by[100_000][1] for by in own[(env, "sb3")].values() if 100_000 in by]
        if not at_100k or not times:
            continue
        target, sb3_minutes = statistics.mean(at_100k), statistics.mean(times) / 60
        print(f"\n{env}: target {target:.0f} (SB3 SAC at 100k steps, mean of {len(at_100k)} seeds), SB3's time "
              f"{sb3_minutes:.1f} training minutes (its {len(times)} seeds here)\n")
        print("| lib | seeds | minutes to target, per seed | mean | SB3's time / mean | best return, per seed |")
        print("|---|---|---|---|---|---|")
        for (e, lib), seeds in sorted(own.items()):
            if e != env:
                continue
            hits, best = [], []
            for seed in sorted(seeds):
                by = sorted(seeds[seed].items())
                hits.append(next((v[1] / 60 for _, v in by if v[0] >= target), None))
                best.append(max(v[0] for _, v in by))
            reached = [t for t in hits if t is not None]
            mean = statistics.mean(reached) if len(reached) == len(hits) else None
            cells = ", ".join(f"{t:.1f}" if t is not None else "not reached" for t in hits)
            ratio = f"{sb3_minutes / mean:.1f}x" if mean else "-"
            print(f"| {lib} | {len(hits)} | {cells} | {f'{mean:.1f}' if mean else '-'} | {ratio} | "
                  f"{', '.join(f'{b:.0f}' for b in best)} |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("run")
    r.add_argument("--lib", choices=["sb3", *ALGO_FLAGS], required=True)
    r.add_argument("--env", required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--minutes", type=float, default=30.0, help="wall-time budget of a CLI run")
    r.add_argument("--steps", type=int, default=1_000_000, help="CLI runs: env steps (all envs together)")
    r.add_argument("--eval-every", type=int, default=5_000)
    r.add_argument("--threads", type=int, default=1)
    r.add_argument("extra", nargs="*", help="more `visuomotor train` flags, after --")
    t = sub.add_parser("table")
    for q in (r, t):
        q.add_argument("--machine", default="", help="a name for another kind of CPU: its rows go to "
                                                     "results/fast_offpolicy-NAME (default: results/fast_offpolicy)")
    a = p.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    if a.cmd == "table":
        table(a)
    elif a.lib == "sb3":
        run_sb3(a)
    else:
        run_cli(a)


if __name__ == "__main__":
    main()
