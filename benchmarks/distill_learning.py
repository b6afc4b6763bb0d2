"""Teacher-student distillation on a CPU: a pixel student taught by our SAC state teacher, against DrQ-v2
from pixels at equal wall time, and the student's robustness to distractions.

    python benchmarks/distill_learning.py teacher --env dmc/cartpole-swingup        # SAC from states, once per env
    python benchmarks/distill_learning.py student --env dmc/cartpole-swingup --seed 0
    python benchmarks/distill_learning.py student --env dmc/cartpole-swingup --seed 0 --distract medium
    python benchmarks/distill_learning.py drqv2 --env dmc/cartpole-swingup --seed 0 --minutes 30
    python benchmarks/distill_learning.py robust --env dmc/cartpole-swingup --seed 0 [--distract medium]
    python benchmarks/distill_learning.py speed                                      # a pixel update, fp32 vs bf16
    python benchmarks/distill_learning.py table

Every run goes through the CLI (``visuomotor train``) into benchmarks/runs/distill/ (git-ignored); the
rows land in benchmarks/results/distill/*.csv and *.json. The teacher's settings are SAC's own (action
repeat 8 on cartpole, 2 on walker: the student renders one frame per policy step and acts at its
teacher's rate). DrQ-v2 runs with the settings of drqv2_learning.py at the teacher's action repeat,
stopped (SIGTERM, a clean checkpoint) after the minutes given; its eval.csv counts training time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
RUNS = HERE / "runs" / "distill"
RESULTS = HERE / "results" / "distill"
sys.path.insert(0, str(HERE))

TEACHERS = {  # env -> SAC settings from states
    "dmc/cartpole-swingup": ["--action-repeat", "8", "--steps", "20000", "--sac.learning-starts", "1000",
                             "--eval-every", "2500"],
    "dmc/walker-walk": ["--action-repeat", "2", "--steps", "200000", "--sac.learning-starts", "2000",
                        "--eval-every", "5000"],
}
STUDENTS = {  # env -> policy steps, the student's share schedule, evaluation cadence
    "dmc/cartpole-swingup": {"steps": 4000, "share": "linear(0,1,2000)", "eval_every": 500},
    "dmc/walker-walk": {"steps": 8000, "share": "linear(0,1,4000)", "eval_every": 1000},
}
STUDENT_COMMON = ["--pixels", "--distill.update-every", "2", "--distill.learning-starts", "500"]
LEVELS = ("easy", "medium", "hard")


def task(env: str) -> str:
    return env.split("/")[-1]


def teacher_dir(env: str) -> Path:
    return RUNS / f"teacher_{task(env)}"


KINDS = ("background", "colors", "camera")


def tag(a) -> str:
    """The distraction a student trains with: off, a level, or a level with one kind only (level-kind)."""
    return (a.distract + (f"-{a.only}" if a.only and a.distract != "off" else "")
            + (f"-{a.variant}" if a.variant else ""))


def only_flags(a) -> list[str]:
    """``--only KIND``: the other kinds of --distract turned off."""
    if not a.only or a.distract == "off":
        return []
    return [f"--distract.no-{k}" for k in KINDS if k != a.only]


def student_dir(env: str, seed: int, distract: str) -> Path:
    return RUNS / f"student_{task(env)}_{distract}_s{seed}"


THREADS: list[str] = []  # --threads N, passed on to every run


def train(args: list[str]) -> None:
    cmd = [sys.executable, "-m", "visuomotor", "train", *args, *THREADS, "--no-progress"]
    print("$", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def cmd_teacher(a) -> None:
    train(["--env", a.env, "--algo", "sac", "--seed", "0", *TEACHERS[a.env], "--eval-episodes", "10",
           "--run-dir", str(teacher_dir(a.env))])


def cmd_student(a) -> None:
    s = STUDENTS[a.env]
    run = student_dir(a.env, a.seed, tag(a))
    train(["--env", a.env, "--algo", "distill", "--teacher", str(teacher_dir(a.env)), *STUDENT_COMMON,
           "--distill.student-share", a.share or s["share"], "--steps", str(a.steps or s["steps"]),
           "--eval-every", str(s["eval_every"]), "--eval-episodes", "10", "--seed", str(a.seed), "--distract",
           a.distract, *only_flags(a), *a.extra, "--no-video", "--run-dir", str(run),
           *(["--resume"] if a.resume else [])])
    _rows(run, f"student-{tag(a)}" if a.distract != "off" else "student", a.env, a.seed)


def cmd_drqv2(a) -> None:
    """DrQ-v2 from pixels for ``--minutes`` of wall time, at the teacher's action repeat."""
    repeat = TEACHERS[a.env][1]
    run = RUNS / f"drqv2_{task(a.env)}_s{a.seed}"
    cmd = [sys.executable, "-m", "visuomotor", "train", "--env", a.env, "--algo", "drqv2", "--action-repeat", repeat,
           "--steps", "1000000", "--drqv2.update-every", "1", "--drqv2.learning-starts", str(4000 // int(repeat)),
           "--eval-every", str(max(1, 10000 // int(repeat))), "--eval-episodes", "10", "--seed", str(a.seed),
           "--no-video", "--no-progress", "--run-dir", str(run), *THREADS]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd)
    try:
        proc.wait(timeout=a.minutes * 60)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)  # stops with a checkpoint
        proc.wait()
    _rows(run, "drqv2", a.env, a.seed, final=True)


def _rows(run: Path, lib: str, env: str, seed: int, final: bool = False) -> None:
    """The run's evaluations as result rows; ``final``: and one of the checkpoint it stopped at (a run
    stopped after its minutes, between evaluations), 10 episodes of `visuomotor eval`."""
    import torch
    from _learning import eval_rows, write_rows

    rows = eval_rows(run, lib, env, seed)
    if final:
        state = torch.load(run / "checkpoints" / "latest.pt", map_location="cpu", weights_only=False)
        if not rows or state["step"] > rows[-1]["step"]:
            rows.append({"lib": lib, "env": env, "seed": seed, "step": int(state["step"]),
                         "mean_return": _eval(run, []),
                         "train_seconds": float(state["wall_time"]) - float(state.get("eval_time", 0.0))})
    RESULTS.mkdir(parents=True, exist_ok=True)
    write_rows(RESULTS / f"{lib}_{task(env)}_s{seed}.csv", rows)


def _eval(run: Path, extra: list[str], episodes: int = 10) -> float:
    """`visuomotor eval`'s mean return (its line "return  mean X  std ...")."""
    out = subprocess.run([sys.executable, "-m", "visuomotor", "eval", str(run), "--checkpoint", "latest",
                          "--episodes", str(episodes), *extra], check=True, capture_output=True, text=True).stdout
    line = next(x for x in out.splitlines() if x.startswith("return"))
    return float(line.split()[2])


def cmd_rows(a) -> None:
    """Rewrite a DrQ-v2 run's result rows (with its stopping checkpoint evaluated)."""
    _rows(RUNS / f"drqv2_{task(a.env)}_s{a.seed}", "drqv2", a.env, a.seed, final=True)


def cmd_robust(a) -> None:
    """The student's last checkpoint, ``--episodes`` each: undistracted, and on the held-out split at each level."""
    run = student_dir(a.env, a.seed, tag(a))
    row = {"env": a.env, "seed": a.seed, "trained_with": tag(a), "episodes": a.episodes,
           "off": _eval(run, ["--distract", "off"], a.episodes)}
    for level in LEVELS:
        row[level] = _eval(run, ["--distract", level, "--distract-split", "eval"], a.episodes)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"robust_{task(a.env)}_{tag(a)}_s{a.seed}.json"
    path.write_text(json.dumps(row, indent=1) + "\n")
    print(json.dumps(row))


def cmd_speed(a) -> None:
    """One pixel student update (batch 256, 84x84 frame stacks of 3, 6 actions), float32 against bf16
    autocast, interleaved over rounds in one process; medians of 5 updates per round."""
    import gymnasium as gym
    import numpy as np
    import torch

    from visuomotor.algos.distill import Distill, DistillConfig

    if a.threads:
        torch.set_num_threads(a.threads)
    obs = gym.spaces.Box(0, 255, (9, 84, 84), np.uint8)
    act = gym.spaces.Box(-1.0, 1.0, (6,), np.float32)
    g = torch.Generator().manual_seed(0)
    batch = argparse.Namespace(obs=torch.randint(0, 256, (256, 9, 84, 84), dtype=torch.uint8, generator=g),
                               action=torch.rand(256, 6, generator=g) * 2 - 1)
    agents = {name: Distill(obs, act, DistillConfig(bf16=bf16).resolved()) for name, bf16 in (("float32", False), ("bf16", True))}
    times: dict[str, list[float]] = {name: [] for name in agents}
    for agent in agents.values():
        agent.update(batch)  # (first-call set-up)
    for _ in range(a.rounds):
        for name, agent in agents.items():
            for _ in range(5):
                t = time.perf_counter()
                agent.update(batch)
                times[name].append(time.perf_counter() - t)
    base = statistics.median(times["float32"])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| {name} | {1000 * med:.0f} | {base / med:.2f}x |")


def _teacher_return(env: str) -> float:
    with open(teacher_dir(env) / "eval.csv", newline="") as f:
        return max(float(r["mean_return"]) for r in csv.DictReader(f))


def _within(by_step: dict[int, tuple[float, float]], minutes: float, stopped: bool) -> float | None:
    """The return of a run's last evaluation within ``minutes`` of training (None before its first). A run
    that finished its steps keeps its last return after it; one ``stopped`` by time has none after it."""
    got = [(st, v[0]) for st, v in sorted(by_step.items()) if v[1] <= minutes * 60]
    if stopped and minutes * 60 > max(v[1] for v in by_step.values()) + 60:
        return None
    return got[-1][1] if got else None


def cmd_table(a) -> None:
    from _learning import read_seeds

    runs = read_seeds(RESULTS)
    budgets = (5, 10, 15, 25, 35)
    for env in sorted({e for e, _ in runs}):
        teacher, repeat = _teacher_return(env), int(TEACHERS[env][1])
        print(f"\n{env}: teacher (SAC from states, best.pt) {teacher:.0f}; eval return per seed at each "
              f"evaluation, training minutes in brackets\n")
        libs = ["student", *sorted(lib for e, lib in runs if e == env and lib.startswith("student-")), "drqv2"]
        for lib in libs:
            seeds = runs.get((env, lib))
            if not seeds:
                continue
            print(f"{lib}:\n\n| policy steps | frames | " + " | ".join(f"seed {s}" for s in sorted(seeds))
                  + " | mean | % of teacher |")
            print("|---" * (len(seeds) + 4) + "|")
            for st in sorted({st for by in seeds.values() for st in by}):
                vals = [seeds[s].get(st) for s in sorted(seeds)]
                cells = [f"{v[0]:.0f} ({v[1] / 60:.1f})" if v else "-" for v in vals]
                mean = statistics.mean(v[0] for v in vals if v)
                print(f"| {st} | {st * repeat} | " + " | ".join(cells) + f" | {mean:.0f} | {100 * mean / teacher:.0f}% |")
            print()
        print("At equal training time (each seed's last evaluation within the budget; mean over seeds (n)):\n")
        print("| | " + " | ".join(f"{b} min" for b in budgets) + " |")
        print("|---" * (len(budgets) + 1) + "|")
        for lib in libs:
            seeds = runs.get((env, lib))
            if not seeds:
                continue
            cells = []
            for b in budgets:
                got = [r for r in (_within(by, b, lib == "drqv2") for by in seeds.values()) if r is not None]
                cells.append(f"{statistics.mean(got):.0f} (n={len(got)})" if got else "-")
            print(f"| {lib} | " + " | ".join(cells) + " |")
        print()
    robust = sorted(RESULTS.glob("robust_*.json"))
    if robust:
        print("| env | trained with | seed | episodes | undistracted | held-out easy | held-out medium | "
              "held-out hard | medium / undistracted |")
        print("|---|---|---|---|---|---|---|---|---|")
        groups: dict = {}
        for p in robust:
            r = json.loads(p.read_text())
            groups.setdefault((r["env"], r["trained_with"], r.get("episodes", 10)), []).append(r)
            print(f"| {r['env']} | {r['trained_with']} | {r['seed']} | {r.get('episodes', 10)} | {r['off']:.0f} | "
                  f"{r['easy']:.0f} | {r['medium']:.0f} | {r['hard']:.0f} | {100 * r['medium'] / r['off']:.1f}% |")
        for (env, trained, episodes), rows in groups.items():
            if len(rows) > 1:
                m = {k: statistics.mean(r[k] for r in rows) for k in ("off", "easy", "medium", "hard")}
                print(f"| {env} | {trained} | mean of {len(rows)} | {episodes} | {m['off']:.0f} | {m['easy']:.0f} | "
                      f"{m['medium']:.0f} | {m['hard']:.0f} | {100 * m['medium'] / m['off']:.1f}% |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    sp = sub.add_parser("speed")
    sp.add_argument("--rounds", type=int, default=3)
    sp.add_argument("--threads", type=int, default=0)
    for name in ("teacher", "student", "drqv2", "robust", "drqv2-rows"):
        s = sub.add_parser(name)
        s.add_argument("--env", choices=sorted(TEACHERS), required=True)
        s.add_argument("--seed", type=int, default=0)
        s.add_argument("--distract", choices=("off", *LEVELS), default="off")
        s.add_argument("--minutes", type=float, default=30.0)
        s.add_argument("--threads", type=int, default=0, help="torch threads per run (0: every core)")
        s.add_argument("--steps", type=int, default=0, help="student: policy steps (0: the env's setting)")
        s.add_argument("--resume", action="store_true", help="student: continue its run (e.g. to more --steps)")
        s.add_argument("--only", choices=KINDS, default=None,
                       help="student, robust: one kind of distraction only (robust evaluates with the run's kinds)")
        s.add_argument("--share", default="", help="student: the share schedule (default: the env's setting)")
        s.add_argument("--episodes", type=int, default=10, help="robust: evaluation episodes per setting")
        s.add_argument("--variant", default="", help="student, robust: a name for a run with other flags (its "
                       "directory and rows get -NAME)")
        s.add_argument("extra", nargs="*", help="student: more `visuomotor train` flags, after --")
    sub.add_parser("table")
    a = p.parse_args()
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    if getattr(a, "threads", 0):
        THREADS.extend(["--threads", str(a.threads)])
    t0 = time.perf_counter()
    {"teacher": cmd_teacher, "student": cmd_student, "drqv2": cmd_drqv2, "robust": cmd_robust, "drqv2-rows": cmd_rows, "speed": cmd_speed,
     "table": cmd_table}[a.cmd](a)
    print(f"[{a.cmd}] {time.perf_counter() - t0:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
