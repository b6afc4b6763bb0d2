"""Same numbers across a refactor: short real runs of each algorithm through the CLI under two checkouts,
compared exactly (every tensor of the final checkpoint, every evaluation return, every logged loss).

    git worktree add /tmp/old <commit>
    python benchmarks/same_numbers.py --old /tmp/old/src [--new src] [--only sac td3] [--out DIR]
        [--renamed actor.body.=actor.]

Each case trains in a fresh process with one thread whose ``visuomotor`` comes from the checkout's
``src/`` (PYTHONPATH), so both sides run the same commands. Exit 1 when anything differs.
"""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--seed", "0", "--threads", "1", "--no-progress", "--no-video", "--eval-episodes", "1"]
CARTPOLE = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8"]
CASES: dict[str, list[str]] = {
    "sac": [*CARTPOLE, "--algo", "sac", "--steps", "600", "--eval-every", "300", "--sac.hidden", "64", "64",
            "--sac.batch-size", "64", "--sac.learning-starts", "200"],
    "sac-autograd": [*CARTPOLE, "--algo", "sac", "--steps", "400", "--eval-every", "200", "--sac.hidden", "32", "32",
                     "--sac.batch-size", "32", "--sac.learning-starts", "150", "--sac.manual-grad", "False"],
    "sac-rlpd": [*CARTPOLE, "--algo", "sac", "--sac.preset", "rlpd", "--steps", "300", "--eval-every", "300",
                 "--sac.hidden", "32", "32", "--sac.batch-size", "32", "--sac.learning-starts", "150",
                 "--sac.updates-per-step", "2"],
    "sac-simbav2": [*CARTPOLE, "--algo", "sac", "--sac.net", "simbav2", "--steps", "300", "--eval-every", "300",
                    "--sac.widths", "16", "32", "--sac.batch-size", "32", "--sac.learning-starts", "150"],
    "sac-simba": [*CARTPOLE, "--algo", "sac", "--sac.net", "simba", "--steps", "300", "--eval-every", "300",
                  "--sac.widths", "16", "32", "--sac.batch-size", "32", "--sac.learning-starts", "150"],
    "td3": [*CARTPOLE, "--algo", "td3", "--steps", "600", "--eval-every", "300", "--td3.hidden", "64", "64",
            "--td3.batch-size", "64", "--td3.learning-starts", "200"],
    "td3-simbav2": [*CARTPOLE, "--algo", "td3", "--td3.net", "simbav2", "--steps", "300", "--eval-every", "300",
                    "--td3.widths", "16", "32", "--td3.batch-size", "32", "--td3.learning-starts", "150"],
    "fasttd3": ["--env", "gym/Hopper-v5", "--algo", "fasttd3", "--steps", "160", "--eval-every", "160",
                "--fasttd3.critic-hidden", "32", "32", "--fasttd3.actor-hidden", "32", "--fasttd3.batch-size", "64",
                "--fasttd3.num-atoms", "11", "--fasttd3.buffer-size", "4000", "--fasttd3.learning-starts", "40"],
    "fastsac": ["--env", "gym/Hopper-v5", "--algo", "fastsac", "--steps", "160", "--eval-every", "160",
                "--fastsac.critic-hidden", "32", "32", "--fastsac.actor-hidden", "32", "32",
                "--fastsac.batch-size", "64", "--fastsac.num-atoms", "11", "--fastsac.buffer-size", "4000",
                "--fastsac.learning-starts", "40"],
    "fastsac-dmc": [*CARTPOLE, "--algo", "fastsac", "--num-envs", "2", "--steps", "500", "--eval-every", "250",
                    "--fastsac.critic-hidden", "32", "32", "--fastsac.actor-hidden", "32", "32",
                    "--fastsac.batch-size", "64", "--fastsac.num-atoms", "11", "--fastsac.buffer-size", "8000",
                    "--fastsac.learning-starts", "40"],
    "drqv2": [*CARTPOLE, "--algo", "drqv2", "--steps", "250", "--eval-every", "250", "--drqv2.learning-starts", "60",
              "--drqv2.batch-size", "16", "--drqv2.hidden-dim", "32", "--drqv2.feature-dim", "16",
              "--drqv2.buffer-size", "2000", "--pixel-size", "48"],
    "drm": [*CARTPOLE, "--algo", "drm", "--steps", "250", "--eval-every", "250", "--drm.learning-starts", "60",
            "--drm.batch-size", "16", "--drm.hidden-dim", "32", "--drm.feature-dim", "16",
            "--drm.buffer-size", "2000", "--pixel-size", "48"],
    "ppo": [*CARTPOLE, "--algo", "ppo", "--steps", "2048", "--eval-every", "2048", "--num-envs", "4",
            "--ppo.hidden", "32", "32"],
    "distill": [*CARTPOLE, "--algo", "distill", "--teacher", "{sac}", "--steps", "300", "--eval-every", "300",
                "--distill.batch-size", "16", "--distill.hidden", "16", "16", "--distill.buffer-size", "2000",
                "--distill.learning-starts", "40"],
}
# bf16 compute (emulated where the CPU has no bf16: slower, the same numbers on every run)
for _name, _algo in (("sac-simbav2", "sac"), ("fasttd3", "fasttd3"), ("fastsac", "fastsac"), ("drqv2", "drqv2"),
                     ("drm", "drm"), ("distill", "distill")):
    CASES[f"{_name}-bf16"] = [*CASES[_name], f"--{_algo}.bf16", "True"]
IGNORED = ("time", "seconds", "perf/")  # (columns of wall-clock measurements)


def run(src: Path, name: str, out: Path) -> Path:
    run_dir = out / name
    args = [a.replace("{sac}", str(out / "sac")) for a in CASES[name]]
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONWARNINGS": "ignore", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "visuomotor", "train", *args, *COMMON, "--run-dir", str(run_dir)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"{name} under {src} failed:\n{proc.stderr[-3000:]}")
    return run_dir


def tensors(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield prefix, obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from tensors(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from tensors(v, f"{prefix}[{i}]")


def rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return [{k: v for k, v in r.items() if not any(c in k for c in IGNORED)}
                for r in csv.DictReader(f)]


def compare(a: Path, b: Path, renamed: dict[str, str] | None = None) -> list[str]:
    """Differences between run ``a`` (old) and ``b`` (new); ``renamed``: new key prefix -> old key prefix
    (a module the new code keeps under another name, e.g. {"actor.body.": "actor."})."""
    diffs = []
    ca = torch.load(a / "checkpoints" / "latest.pt", weights_only=False)
    cb = torch.load(b / "checkpoints" / "latest.pt", weights_only=False)
    ta, tb = dict(tensors(ca["agent"])), dict(tensors(cb["agent"]))
    for new, old in (renamed or {}).items():
        tb = {(old + k[len(new):] if k.startswith(new) and old + k[len(new):] in ta else k): v for k, v in tb.items()}
    if set(ta) != set(tb):
        diffs.append(f"checkpoint keys differ: {sorted(set(ta) ^ set(tb))[:6]}")
    for k in sorted(set(ta) & set(tb)):
        if ta[k].shape != tb[k].shape or not torch.equal(ta[k], tb[k]):
            diffs.append(f"tensor {k} differs")
    for f in ("eval.csv", "metrics.csv"):
        if rows(a / f) != rows(b / f):
            diffs.append(f"{f} differs")
    return diffs


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--old", type=Path, required=True, help="the other checkout's src/")
    p.add_argument("--new", type=Path, default=ROOT / "src")
    p.add_argument("--only", nargs="*", default=None, help=f"cases (default all: {', '.join(CASES)})")
    p.add_argument("--out", type=Path, default=None, help="keep the runs here (default a temporary folder)")
    p.add_argument("--renamed", nargs="*", default=[], metavar="NEW=OLD",
                   help="checkpoint key prefixes the new code names differently (e.g. actor.body.=actor.)")
    args = p.parse_args()
    names = args.only or list(CASES)
    if any(n.startswith("distill") for n in names) and "sac" not in names:
        names = ["sac", *names]
    out = args.out or Path(tempfile.mkdtemp(prefix="same_numbers_"))
    bad = 0
    for name in names:
        a, b = run(args.old, name, out / "old"), run(args.new, name, out / "new")
        diffs = compare(a, b, dict(r.split("=", 1) for r in args.renamed))
        n = len(dict(tensors(torch.load(a / "checkpoints" / "latest.pt", weights_only=False)["agent"])))
        print(f"{name:<12} {'same' if not diffs else 'DIFFERENT'}  ({n} tensors, eval.csv, metrics.csv)"
              + "".join(f"\n    {d}" for d in diffs[:8]), flush=True)
        bad += bool(diffs)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
