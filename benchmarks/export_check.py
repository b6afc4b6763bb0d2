"""Exported policies compute what the training code computes: every exported kind of run, its
verification figures, and the standalone runner's returns next to `visuomotor eval`'s.

    python benchmarks/export_check.py [--out DIR] [--episodes 5] [--seed 12345]

Trains short runs (SAC, TD3, TD3+BC, PPO, DrQ-v2 from pixels, BC, residual SAC on the BC policy, JSRL
with the BC policy as guide; tiny networks, a few thousand steps: the point is the export, not the
return), exports each (`visuomotor export`, 1,000+ verification observations), and prints the largest
|difference| to the training-time policy of TorchScript and onnxruntime per output. Then, for the
dm_control and gymnasium runs, `examples/deploy/run_onnx.py` (no visuomotor) plays --episodes episodes
with `visuomotor eval`'s seeds and its mean return is printed next to `visuomotor eval`'s (not for
JSRL, whose export is the learner alone while `visuomotor eval` lets the guide act first).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COMMON = ["--seed", "0", "--no-progress", "--no-video", "--eval-episodes", "2"]
CARTPOLE = ["--env", "dmc/cartpole-swingup", "--action-repeat", "8"]


def cli(*args) -> str:
    proc = subprocess.run([sys.executable, "-m", "visuomotor", *map(str, args)], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"visuomotor {' '.join(map(str, args))}:\n{proc.stderr[-2000:]}")
    return proc.stdout


def runs(root: Path) -> dict[str, tuple[Path, list]]:
    """name -> (run dir, the train arguments)."""
    data, bc = root / "data", root / "bc"
    pen = ["--env", "gym/InvertedPendulum-v5"]
    specs = {
        "sac": [*CARTPOLE, "--algo", "sac", "--sac.hidden", "64", "64", "--sac.learning-starts", "500", "--steps", 3000,
                "--eval-every", 3000],
        "td3": [*pen, "--algo", "td3", "--td3.hidden", "64", "64", "--td3.learning-starts", "500", "--steps", 3000,
                "--eval-every", 3000],
        "ppo": ["--env", "gym/Hopper-v5", "--algo", "ppo", "--num-envs", "16", "--steps", 50_000,
                "--eval-every", 50_000],
        "drqv2": [*CARTPOLE, "--algo", "drqv2", "--steps", 1000, "--eval-every", 1000, "--drqv2.learning-starts",
                  "250"],
        "bc": [*CARTPOLE, "--algo", "bc", "--data", data, "--steps", 2000, "--eval-every", 2000],
        "td3bc": [*CARTPOLE, "--algo", "td3bc", "--data", data, "--steps", 2000, "--eval-every", 2000],
        "residual-sac": [*CARTPOLE, "--algo", "sac", "--base-policy", bc, "--sac.hidden", "64", "64",
                         "--sac.learning-starts", "250", "--steps", 1000, "--eval-every", 1000],
        "jsrl-sac": [*CARTPOLE, "--algo", "sac", "--guide-policy", bc, "--sac.hidden", "64", "64",
                     "--sac.learning-starts", "250", "--steps", 1000, "--eval-every", 500],
    }
    return {k: (root / k if k != "bc" else bc, v) for k, v in specs.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None)
    ap.add_argument("--episodes", type=int, default=5)
    ap.add_argument("--seed", type=int, default=12345)
    args = ap.parse_args()
    root = args.out or Path(tempfile.mkdtemp(prefix="export-check-"))
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    sac_src = root / "source"
    if not data.exists():  # mixed-quality data for BC / TD3+BC: a short SAC run's policy with noise
        cli("train", *CARTPOLE, "--algo", "sac", "--sac.learning-starts", "500", "--steps", 4000, "--eval-every", 4000,
            "--run-dir", sac_src, *COMMON)
        cli("collect", sac_src, "--episodes", 20, "--noise", "0.3", "-o", data)
    rows = []
    for name, (run, train_args) in runs(root).items():
        if not (run / "checkpoints" / "latest.pt").exists():
            cli("train", *train_args, "--run-dir", run, *COMMON)
        out = run / "export"
        cli("export", run, "-o", out, "--force")
        meta = json.loads((out / "policy.json").read_text())
        d = meta["verification"]["max_abs_difference"]
        row = {"name": name, "env": meta["contract"]["env"], "obs": meta["verification"]["observations"],
               "ts": d["torchscript"], "onnx": d["onnx"]}
        proc = subprocess.run([sys.executable, str(ROOT / "examples" / "deploy" / "run_onnx.py"), str(out),
                               "--episodes", str(args.episodes), "--seed", str(args.seed), "--record",
                               str(root / f"{name}.npz")], capture_output=True, text=True)
        if proc.returncode != 0:
            raise RuntimeError(proc.stderr[-2000:])
        row["standalone"] = float(np.load(root / f"{name}.npz")["returns"].mean())
        row["eval"] = None  # JSRL: `visuomotor eval` runs the guide's first h steps too, the export the learner
        if not name.startswith("jsrl"):
            ev = cli("eval", run, "--episodes", args.episodes, "--seed", args.seed)
            line = next(ln for ln in ev.splitlines() if ln.startswith("return"))
            row["eval"] = float(line.split("mean")[1].split()[0])
        rows.append(row)
        print(row, flush=True)
    print(f"\n| run | env | verified observations | TorchScript: action / native | onnxruntime: action / native | "
          f"run_onnx.py mean return | visuomotor eval mean return |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['name']} | {r['env']} | {r['obs']} | {r['ts']['action']:.1e} / {r['ts']['action_native']:.1e} | "
              f"{r['onnx']['action']:.1e} / {r['onnx']['action_native']:.1e} | {r['standalone']:.2f} | "
              + (f"{r['eval']:.2f} |" if r["eval"] is not None else "(guide + learner) |"))


if __name__ == "__main__":
    main()
