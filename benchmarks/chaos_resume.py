"""kill -9 at random moments, then --resume: does a run end bit for bit like one never interrupted?

    python benchmarks/chaos_resume.py [--cases sac drqv2] [--kills 20] [--seed 0] [--steps N] [--keep DIR]

For each case: one uninterrupted run through the CLI (`python -m visuomotor train ...`), timed; then the
same command in a second run directory, started, SIGKILLed at a random moment, and started again
(`--resume` where the directory holds a checkpoint; `--restart` where the kill came before the first
one, as the refusal of `--resume` tells a user to), `--kills` times, and once more to the end. The
kills are drawn a quarter in start-up (imports, env and network building, the replay's rebuild on
resume) and the rest at points of training (steps and updates, evaluations, checkpoint writes),
found through the episode files the attempt writes, so they land where drawn on a machine of any
speed or load (see ``kill_plan``).

The two runs must then hold the same `checkpoints/latest.pt` (every parameter, optimizer state, RNG,
counter, the evaluation record; clocks aside), the same `best.pt`, the same episode files, the same
`eval.csv` returns and the same `metrics.csv` rows (but times and rates). `tests/test_chaos.py` runs
5 kills per case on runs of 1,000 (SAC) and 500 (DrQ-v2) policy steps; this script by default 20 on
runs of 4,000 and 1,500, and prints a table (`--json` writes every kill).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

COMMON = ["--seed", "0", "--threads", "1", "--no-progress", "--no-video", "--eval-episodes", "2",
          "--env", "dmc/cartpole-swingup", "--action-repeat", "8"]  # 125-policy-step episodes
# Tiny networks and short runs, so a kill lands anywhere in a run of a few seconds; one checkpoint per
# episode (taken at the first episode end after each 100 steps: the off-policy loop checkpoints at episode
# ends), an evaluation every second episode.
CASES = {
    "sac": [*COMMON, "--algo", "sac", "--sac.hidden", "32", "32", "--sac.batch-size", "32",
            "--sac.learning-starts", "125", "--sac.n-step", "3", "--eval-every", "250", "--checkpoint-every", "100",
            "--log-every", "125"],
    "drqv2": [*COMMON, "--algo", "drqv2", "--pixel-size", "48", "--drqv2.learning-starts", "60",
              "--drqv2.batch-size", "16", "--drqv2.hidden-dim", "32", "--drqv2.feature-dim", "16",
              "--drqv2.buffer-size", "2000", "--eval-every", "250", "--checkpoint-every", "100", "--log-every", "125"],
}
STEPS = {"sac": 1000, "drqv2": 500}  # the test's lengths
LONG_STEPS = {"sac": 4000, "drqv2": 1500}  # this script's default: more of each attempt is training
CLOCK_KEYS = {"wall_time", "eval_time", "config"}  # differ between any two runs by design
TIME_COLUMNS = ("wall_time", "train_time", "eval_seconds")


def _command(args: list[str], steps: int, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "visuomotor", "train", *args, "--steps", str(steps), "--run-dir", str(run_dir),
            *extra]


def _env() -> dict:
    return {**os.environ, "PYTHONWARNINGS": "ignore"}


def _checkpoint_step(run_dir: Path) -> int | None:
    path = run_dir / "checkpoints" / "latest.pt"
    return int(torch.load(path, weights_only=True)["step"]) if path.is_file() else None


def _run_to_end(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {' '.join(cmd)}\n{proc.stderr[-3000:]}")
    return time.perf_counter() - t0


def _continue_flag(run_dir: Path) -> list[str]:
    """What a user passes to go on: --resume where there is a checkpoint, --restart where the kill came
    before the first one (and the directory already holds something), nothing for a fresh directory."""
    if (run_dir / "checkpoints" / "latest.pt").is_file():
        return ["--resume"]
    if run_dir.is_dir() and any(p.name != ".lock" for p in run_dir.iterdir()):
        return ["--restart"]
    return []


def _episode_ends_since(run_dir: Path, since_ns: int) -> int:
    """The largest end step of an episode file written after ``since_ns`` (0 if none)."""
    best = 0
    for p in (run_dir / "episodes").glob("ep_*.npz"):
        try:
            if p.stat().st_mtime_ns >= since_ns:
                best = max(best, int(p.stem.split("_")[2]))
        except (OSError, ValueError):  # moved away meanwhile
            pass
    return best


def _attempt(cmd: list[str], phase: str, moment: float, trigger_end: int, run_dir: Path):
    """Start ``cmd``; SIGKILL it ``moment`` seconds in (start-up), or ``moment`` seconds after it writes
    an episode ending at ``trigger_end`` or later (training). Returns (killed, seconds in, stderr, rc)."""
    since = time.time_ns()
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=_env(),
                            start_new_session=True)
    deadline = t0 + moment if phase == "start-up" else None
    while proc.poll() is None:
        now = time.perf_counter()
        if deadline is None and _episode_ends_since(run_dir, since) >= trigger_end:
            deadline = now + moment
        if deadline is not None and now >= deadline:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            err = proc.stderr.read().decode(errors="replace")
            proc.stderr.close()
            return True, time.perf_counter() - t0, err, proc.returncode
        time.sleep(0.005)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    return False, time.perf_counter() - t0, err, proc.returncode


def chaos(case_args: list[str], steps: int, kills: int, workdir: Path, seed: int = 0, log=print) -> dict:
    """An uninterrupted run and a run killed ``kills`` times; returns the kills and the differences found."""
    workdir = Path(workdir)
    straight, killed = workdir / "straight", workdir / "killed"
    total = _run_to_end(_command(case_args, steps, straight))
    with open(straight / "metrics.csv", newline="") as f:
        clock = {int(r["step"]): float(r["wall_time"]) for r in csv.DictReader(f)}  # step -> the run's own clock
    startup = max(total - clock[steps], 0.5)  # imports, envs, networks, process exit
    step_s = clock[steps] / steps
    ep_len = min(int(p.stem.split("_")[2]) for p in (straight / "episodes").glob("ep_000000_*.npz"))
    rng = random.Random(seed)
    plan = kill_plan(kills, steps, rng)
    record = []
    for i, (phase, point) in enumerate(plan):
        flag = _continue_flag(killed)
        resumed_from = (_checkpoint_step(killed) or 0) if flag == ["--resume"] else 0
        trigger_end = 0
        if phase == "training":  # the moment `point` of training: its episode's start, then the steps into it
            start = (point // ep_len) * ep_len
            trigger_end, delay = (start, (point - start) * step_s) if start > resumed_from else \
                (resumed_from + ep_len, rng.uniform(0, ep_len) * step_s)  # (past it: a moment of the next episode)
            if trigger_end > steps:  # the run is complete: nothing to train, a kill in its start-up instead
                phase = "start-up"
        for tries in range(8):
            moment = rng.uniform(0.0, 0.6 * startup) / 2 ** tries if phase == "start-up" else delay
            was_killed, elapsed, err, rc = _attempt(_command(case_args, steps, killed, *flag), phase, moment,
                                                    trigger_end, killed)
            if was_killed:
                break
            if rc != 0:
                raise RuntimeError(f"attempt {i} exited {rc} before its kill:\n{err[-3000:]}")
            log(f"  attempt {i}: finished before its kill ({phase}, {moment:.2f}s); again, earlier")
            flag = _continue_flag(killed)
            resumed_from = (_checkpoint_step(killed) or 0) if flag == ["--resume"] else 0
            phase = "start-up"  # (a finished run has nothing left to train)
        else:
            raise RuntimeError(f"kill {i + 1}: every attempt finished before its kill")
        after = _checkpoint_step(killed)
        where = "start-up" if phase == "start-up" else f"training, step ~{max(point, resumed_from)}"
        record.append({"kill": i + 1, "at_s": round(elapsed, 2), "flag": " ".join(flag) or "(new)",
                       "from_step": resumed_from, "checkpoint_after": after, "during": phase})
        log(f"  kill {i + 1}: {elapsed:.1f}s into `{' '.join(flag) or 'train'}` from step {resumed_from} ({where}); "
            f"latest.pt then at step {after}")
    _run_to_end(_command(case_args, steps, killed, *_continue_flag(killed)))
    diffs = compare_runs(straight, killed)
    return {"steps": steps, "kills": len(record), "record": record, "uninterrupted_s": round(total, 1),
            "startup_s": round(startup, 1), "differences": diffs}


def kill_plan(kills: int, steps: int, rng: random.Random) -> list[tuple[str, int]]:
    """The kills, stratified: a quarter of them (at least one of two or more) in start-up (a moment drawn
    uniformly over 60% of the uninterrupted run's start-up time, in whichever attempt comes next); the
    rest at points of training drawn uniformly over its first 85% of policy steps, in order. A training
    kill waits for its attempt to write the episode file before the point (so the kill is in training,
    however fast the machine is at that moment), then for the point's steps into the episode at the
    uninterrupted run's speed; an attempt that resumed past the point is killed at a random moment of
    its first episode. Their order is shuffled."""
    n_start = max(1, round(kills / 4)) if kills >= 2 else 0
    points = iter(sorted(int(rng.uniform(0.0, 0.85 * steps)) for _ in range(kills - n_start)))
    phases = ["start-up"] * n_start + ["training"] * (kills - n_start)
    rng.shuffle(phases)
    return [(ph, 0 if ph == "start-up" else next(points)) for ph in phases]


# ---- comparison -------------------------------------------------------------------------------------

def _differences(a, b, where: str, out: list[str]) -> None:
    if isinstance(a, dict):
        if not isinstance(b, dict) or set(a) != set(b):
            out.append(f"{where}: keys differ")
            return
        for k in a:
            _differences(a[k], b[k], f"{where}.{k}", out)
    elif isinstance(a, (list, tuple)):
        if not isinstance(b, (list, tuple)) or len(a) != len(b):
            out.append(f"{where}: lengths differ")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            _differences(x, y, f"{where}[{i}]", out)
    elif isinstance(a, torch.Tensor):
        if not (isinstance(b, torch.Tensor) and a.dtype == b.dtype and a.shape == b.shape
                and torch.equal(a.nan_to_num(), b.nan_to_num()) and torch.equal(a.isnan(), b.isnan())):
            out.append(f"{where}: tensors differ")
    elif isinstance(a, np.ndarray):
        if not np.array_equal(a, b, equal_nan=a.dtype.kind == "f"):
            out.append(f"{where}: arrays differ")
    elif not (a == b or (a != a and b != b)):
        out.append(f"{where}: {a!r} != {b!r}")


def _rows(path: Path, drop: tuple[str, ...]) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if k not in drop and not k.startswith("perf/")} for r in csv.DictReader(f)]


def compare_runs(a: Path, b: Path) -> list[str]:
    """Every difference between two run directories that an exact resume must not make (clocks aside)."""
    out: list[str] = []
    for name, skip in (("latest.pt", CLOCK_KEYS), ("best.pt", {"config"})):
        x = torch.load(a / "checkpoints" / name, weights_only=True)
        y = torch.load(b / "checkpoints" / name, weights_only=True)
        _differences({k: v for k, v in x.items() if k not in skip}, {k: v for k, v in y.items() if k not in skip},
                     name, out)
    ea = sorted(p.name for p in (a / "episodes").glob("ep_*.npz"))
    eb = sorted(p.name for p in (b / "episodes").glob("ep_*.npz"))
    if ea != eb:
        out.append(f"episodes: {len(ea)} files vs {len(eb)} ({sorted(set(ea) ^ set(eb))[:4]})")
    for name in sorted(set(ea) & set(eb)):
        with np.load(a / "episodes" / name) as x, np.load(b / "episodes" / name) as y:
            _differences(dict(x), dict(y), f"episodes/{name}", out)
    for name in ("eval.csv", "metrics.csv"):
        ra, rb = _rows(a / name, TIME_COLUMNS), _rows(b / name, TIME_COLUMNS)
        if ra != rb:
            bad = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
            out.append(f"{name}: {len(ra)} vs {len(rb)} rows, first difference at row {bad}")
    leftovers = [p.name for p in b.rglob("*.tmp")]
    if leftovers:
        out.append(f"temporary files left: {leftovers[:4]}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
    ap.add_argument("--steps", type=int, default=None, help="policy steps per run (default: per case)")
    ap.add_argument("--keep", type=Path, default=None, help="keep the run directories here")
    ap.add_argument("--json", type=Path, default=None, help="write the results here")
    args = ap.parse_args()
    results = {}
    for case in args.cases:
        work = args.keep / case if args.keep else Path(tempfile.mkdtemp(prefix=f"chaos-{case}-"))
        print(f"{case}: {args.kills} kills", flush=True)
        results[case] = chaos(CASES[case], args.steps or LONG_STEPS[case], args.kills, work, seed=args.seed,
                              log=lambda m: print(m, flush=True))
    print("\n| case | policy steps | uninterrupted run | kills | in start-up | in training | before the "
          "first checkpoint | after the last checkpoint | bit-identical |")
    print("|---|---|---|---|---|---|---|---|---|")
    for case, r in results.items():
        kills = [k for k in r["record"] if k["kill"] is not None]
        startup = sum(k["during"] == "start-up" for k in kills)
        early = sum(k["checkpoint_after"] is None for k in kills)
        late = sum(k["checkpoint_after"] is not None and k["checkpoint_after"] >= r["steps"] for k in kills)
        same = "yes" if not r["differences"] else "NO: " + "; ".join(r["differences"][:3])
        print(f"| {case} | {r['steps']} | {r['uninterrupted_s']} s ({r['startup_s']} s start-up) | {len(kills)} | "
              f"{startup} | {len(kills) - startup} | {early} | {late} | {same} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if any(r["differences"] for r in results.values()):
        sys.exit(1)


if __name__ == "__main__":
    main()
