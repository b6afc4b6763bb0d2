"""Sim-to-sim, Booster Gym's check before a robot: a PPO policy trained on the batched MuJoCo path with
domain randomization and pushes, evaluated in another implementation of the same task.

    python benchmarks/sim_to_sim.py [--env gym/Walker2d-v5] [--steps 3000000] [--seed 0] [--episodes 30]
                                    [--num-envs 256] [--threads 2] [--out DIR]

Training: --algo ppo (RSL-RL preset), --num-envs copies stepped as one batch of MuJoCo states
(`--vectorization mujoco`, visuomotor's own numpy implementation of the gymnasium v5 task), --dr.enabled
at the default ranges with a root push of up to 1 m/s every 100 policy steps. The policy is then
exported (`visuomotor export`), and --episodes deterministic episodes are run in each of:

- the training simulator (the batched path), nominal and randomized with pushes;
- gymnasium's own MuJoCo env (`visuomotor eval`, and `visuomotor eval --dr`), nominal and randomized
  with pushes;
- gymnasium's own env driven by the exported policy.onnx in examples/deploy/run_onnx.py (numpy,
  onnxruntime and gymnasium only), nominal.

Printed: mean ± std return and mean length per setting, and the difference of each mean to the
training simulator's under the same conditions with a 95% bootstrap interval (the returns "agree
within seed noise" when it holds 0). With --out, a run trained there before is evaluated again (and
trained on to --steps when it is shorter).
"""

from __future__ import annotations

import argparse
import dataclasses
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from visuomotor import RandomizationConfig, TrainConfig, load_agent, make_env, train
from visuomotor.envs.vector import make_vec_env
from visuomotor.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]


def batched_returns(agent, env_id: str, episodes: int, seed: int, randomization) -> tuple[np.ndarray, np.ndarray]:
    """The first episode of each of ``episodes`` copies on the batched MuJoCo path (deterministic policy)."""
    envs = make_vec_env(env_id, episodes, seed=seed, vectorization="mujoco", threads=1, randomization=randomization)
    policy = agent.policy()
    obs, _ = envs.reset(seed=seed)
    returns, lengths = np.zeros(episodes), np.zeros(episodes, int)
    running = np.ones(episodes, bool)
    while running.any():
        with torch.inference_mode():
            action = policy(torch.as_tensor(np.asarray(obs))).numpy()
        obs, reward, terminated, truncated, _ = envs.step(action)
        returns += np.where(running, reward, 0.0)
        lengths += running
        running &= ~(np.asarray(terminated) | np.asarray(truncated))
    envs.close()
    return returns, lengths


def onnx_returns(export_dir: Path, episodes: int, seed: int, work: Path) -> np.ndarray:
    rec = work / "onnx_returns.npz"
    proc = subprocess.run([sys.executable, str(ROOT / "examples" / "deploy" / "run_onnx.py"), str(export_dir),
                           "--episodes", str(episodes), "--seed", str(seed), "--record", str(rec)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    return np.load(rec)["returns"]


def diff_ci(a: np.ndarray, b: np.ndarray, reps: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """mean(a) - mean(b) and its 95% bootstrap interval (episodes resampled within each group)."""
    rng = np.random.default_rng(seed)
    boots = rng.choice(a, (reps, len(a))).mean(1) - rng.choice(b, (reps, len(b))).mean(1)
    return float(a.mean() - b.mean()), float(np.percentile(boots, 2.5)), float(np.percentile(boots, 97.5))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="gym/Walker2d-v5")
    p.add_argument("--steps", type=int, default=3_000_000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--episodes", type=int, default=30)
    p.add_argument("--num-envs", type=int, default=256)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--out", type=Path, default=None, help="keep the run here (reused when trained)")
    args = p.parse_args()
    dr = RandomizationConfig(enabled=True, push_interval=100, push_velocity=1.0)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.out or Path(tmp)
        run = root / f"ppo_dr_s{args.seed}"
        trained = (run / "checkpoints" / "latest.pt").exists()
        if not trained or torch.load(run / "checkpoints" / "latest.pt", weights_only=True)["step"] < args.steps:
            train(TrainConfig(env=args.env, algo="ppo", steps=args.steps, seed=args.seed, run_dir=run,
                              eval_every=600_000, eval_episodes=5, video=False, checkpoint_every=3_000_000,
                              threads=args.threads, progress=False, device="cpu", dr=dr, num_envs=args.num_envs,
                              vectorization="mujoco", resume=trained))
        from visuomotor.deploy.export import export_run

        meta = export_run(run, output=root / "export", force=True, seed=args.seed)
        agent, cfg, step = load_agent(run)
        eval_seed = 10_000 + args.seed
        results = {}
        for cond, rnd in (("nominal", None), ("randomized + pushes", dr)):
            results[("batched MuJoCo (trained in)", cond)] = batched_returns(agent, args.env, args.episodes,
                                                                             eval_seed, rnd)
            res = evaluate(agent, make_env(args.env, seed=eval_seed, randomization=rnd), args.episodes,
                           seed=eval_seed, round_index=10_000)
            results[("gymnasium (visuomotor eval)", cond)] = (np.asarray(res.returns), np.asarray(res.lengths))
        onnx = onnx_returns(root / "export", args.episodes, eval_seed, root)
        results[("gymnasium, policy.onnx in run_onnx.py", "nominal")] = (onnx, None)
    worst = max(v["action"] for v in meta["verification"]["max_abs_difference"].values())
    print(f"\n{args.env}, PPO {step} steps ({args.num_envs} envs, batched MuJoCo, DR + pushes 1 m/s / 100 steps), "
          f"seed {args.seed}; {args.episodes} deterministic episodes each; export verified to {worst:.1e}")
    print("| evaluated in | conditions | mean return ± std | mean length | difference to the training simulator [95% CI] |")
    print("|---|---|---|---|---|")
    for (where, cond), (ret, length) in results.items():
        base = results[("batched MuJoCo (trained in)", cond)][0]
        d = "" if where.startswith("batched") else "{:+.0f} [{:+.0f}, {:+.0f}]".format(*diff_ci(ret, base))
        mean_len = f"{length.mean():.0f}" if length is not None else ""
        print(f"| {where} | {cond} | {ret.mean():.0f} ± {ret.std():.0f} | {mean_len} | {d} |")


if __name__ == "__main__":
    main()
