"""Learning from prior data, evidence on one state-based task (issue 4): offline RL from a dataset of a
half-trained policy, RLPD-style SAC with 10 demonstrations, residual RL on a weak BC policy, JSRL on
a sparse-reward task; 3 seeds each, 95% bootstrap confidence intervals (rliable).

    python benchmarks/prior_data.py prepare                 # source policy, datasets, weak BC policy
    python benchmarks/prior_data.py run --method td3bc --seed 0
    python benchmarks/prior_data.py table

prepare (in --work, default /tmp/visuomotor-prior-data): SAC trained --source-steps on
dmc/cartpole-swingup (seed 100) is the half-trained policy; `visuomotor collect` records "medium"
(30 episodes, Gaussian action noise 0.3) and "demos" (10 deterministic episodes) from it; "weak-bc"
is BC trained 1,000 steps on "medium" (seed 100); "guide" is the source run trained on to --guide-steps
(the half-trained source swings the pole up but rarely balances it, so it earns almost nothing on the
sparse task).
Methods (each writes benchmarks/results/prior_data/<method>__s<seed>.csv):
  offline on "medium", --offline-steps gradient steps: bc, td3bc, prdc (--prdc), mcep (--mcep);
  online on dmc/cartpole-swingup, --online-steps env steps, SAC defaults except learning starts 1,000:
    sac (plain), rlpd (--prior-data demos --sac.preset rlpd, --rlpd-utd updates per step),
    residual (--base-policy weak-bc, residual scale 0.1; its base policy's own return is the row "weak-bc");
    base (no training: the frozen weak-bc policy on each evaluation round's own episodes, the same
    episodes the residual runs of that seed are evaluated on);
    residual-td3 (the same with ResFiT's TD3-style learner: --algo td3, 3-step returns, LayerNorm critics,
    --critic-warmup critic-only updates first, Gaussian exploration noise of std --td3-noise on the residual);
  online on dmc/cartpole-swingup_sparse: sac-sparse (plain), jsrl (--guide-policy guide).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _learning import eval_rows, read_results, write_rows  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "prior_data"
ENV, SPARSE = "dmc/cartpole-swingup", "dmc/cartpole-swingup_sparse"
OFFLINE = ("bc", "td3bc", "prdc", "mcep")
ONLINE = ("sac", "rlpd", "base", "residual", "residual-td3", "sac-sparse", "jsrl")
ONLINE_STEPS = 15_000  # the default online budget; other budgets are reported as "<method>-<N>k"
# (and runs with --n-step n > 1 as "<method>[-<N>k]-n<n>"; residual-td3 with non-default --td3-noise X or
# --critic-warmup W, --actor-lr L, --tau T or --action-l2 C as "residual-td3[-<N>k]-xX" / "-wW" / "-lrL" / "-tauT"
# / "-l2C")
TD3_NOISE, CRITIC_WARMUP, ACTOR_LR, TAU, ACTION_L2 = 0.5, 5_000, 3e-4, 0.005, 0.0


def _common(run: Path, steps: int, eval_every: int, seed: int, threads: int) -> dict:
    return dict(steps=steps, seed=seed, run_dir=run, eval_every=eval_every, eval_episodes=10, video=False,
                checkpoint_every=steps, threads=threads, progress=False, device="cpu")


def _last_step(run: Path) -> int:
    with open(run / "eval.csv", newline="") as f:
        return int(list(csv.DictReader(f))[-1]["step"])


def prepare(work: Path, source_steps: int, guide_steps: int, threads: int) -> None:
    import shutil

    from visuomotor import BCConfig, TrainConfig, train
    from visuomotor.runs.collect import collect

    work.mkdir(parents=True, exist_ok=True)
    src = work / "source"
    if not (src / "checkpoints" / "latest.pt").exists():
        train(TrainConfig(env=ENV, algo="sac", **_common(src, source_steps, source_steps // 4, 100, threads)))
    for name, kw in (("medium", dict(episodes=30, noise=0.3)), ("demos", dict(episodes=10))):
        if not (work / name / "manifest.json").exists():
            m = collect(work / name, run_dir=src, seed=100, progress=False, **kw)
            print(f"{name}: {m['episodes']} episodes, return mean {m['returns']['mean']:.1f} "
                  f"(min {m['returns']['min']:.1f}, max {m['returns']['max']:.1f})", flush=True)
    guide = work / "guide"  # JSRL's guide: the source trained on to --guide-steps (it must balance, not only swing)
    if not (guide / "checkpoints" / "latest.pt").exists() or _last_step(guide) < guide_steps:
        if not guide.exists():
            shutil.copytree(src, guide)
        cfg = TrainConfig(env=ENV, algo="sac", **_common(guide, source_steps, source_steps // 4, 100, threads))
        train(cfg, resume=True, steps=guide_steps)
    if not (work / "weak-bc" / "checkpoints" / "latest.pt").exists():
        train(TrainConfig(env=ENV, algo="bc", data=[work / "medium"], bc=BCConfig(),
                          **_common(work / "weak-bc", 1000, 1000, 100, threads)))
    # what the table quotes beside the runs: the datasets' returns, the policies' last evaluations
    info = {name: json.loads((work / name / "manifest.json").read_text())["returns"] for name in ("medium", "demos")}
    for name in ("source", "guide", "weak-bc"):
        with open(work / name / "eval.csv", newline="") as f:
            info[name] = {"mean": float(list(csv.DictReader(f))[-1]["mean_return"])}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "_sources.json").write_text(json.dumps(info, indent=1) + "\n")
    print(json.dumps(info))


def run(method: str, seed: int, work: Path, offline_steps: int, online_steps: int, rlpd_utd: int,
        threads: int, n_step: int = 1, td3_noise: float = TD3_NOISE, critic_warmup: int = CRITIC_WARMUP,
        actor_lr: float = ACTOR_LR, tau: float = TAU, action_l2: float = ACTION_L2) -> None:
    import os
    import tempfile

    from visuomotor import SACConfig, TD3BCConfig, TD3Config, TrainConfig, train

    if method == "jsrl" and not (work / "guide" / "checkpoints" / "latest.pt").exists():
        print("jsrl: no guide policy yet (run prepare)")
        return
    RESULTS.mkdir(parents=True, exist_ok=True)
    # runs at another online budget than the default are results of their own, e.g. "residual-30k"
    label = method if method in OFFLINE or online_steps == ONLINE_STEPS else f"{method}-{online_steps // 1000}k"
    if n_step > 1 and method not in OFFLINE and method != "residual-td3":
        label += f"-n{n_step}"
    if method == "residual-td3":
        label += (f"-x{td3_noise:g}" if td3_noise != TD3_NOISE else "") + \
            (f"-w{critic_warmup}" if critic_warmup != CRITIC_WARMUP else "") + \
            (f"-lr{actor_lr:g}" if actor_lr != ACTOR_LR else "") + (f"-tau{tau:g}" if tau != TAU else "") + \
            (f"-l2{action_l2:g}" if action_l2 != ACTION_L2 else "")
    out, lock = RESULTS / f"{label}__s{seed}.csv", Path(tempfile.gettempdir()) / f"prior_data_{label}_s{seed}.lock"
    try:  # several workers may share one queue: each (method, seed) runs once
        os.close(os.open(lock, os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        print(f"{label} seed {seed}: taken by another worker ({lock})")
        return
    if out.exists():
        print(f"{label} seed {seed}: {out} exists")
        return

    if method == "base":
        write_rows(out, base_rows(work, label, seed, online_steps))
        return
    with tempfile.TemporaryDirectory() as tmp:
        r = Path(tmp) / "run"
        if method in OFFLINE:
            algo = "bc" if method == "bc" else "td3bc"
            cfg = TrainConfig(env=ENV, algo=algo, data=[work / "medium"],
                              td3bc=TD3BCConfig(prdc=method == "prdc", mcep=method == "mcep"),
                              **_common(r, offline_steps, offline_steps // 4, seed, threads))
        else:
            env = SPARSE if method in ("sac-sparse", "jsrl") else ENV
            sac = SACConfig(learning_starts=1000, n_step=n_step)
            extra = {}
            if method == "rlpd":
                sac = SACConfig(learning_starts=1000, preset="rlpd", updates_per_step=rlpd_utd, n_step=n_step)
                extra = dict(prior_data=[work / "demos"])
            elif method == "residual":
                extra = dict(base_policy=work / "weak-bc")
            elif method == "residual-td3":
                extra = dict(base_policy=work / "weak-bc", algo="td3",
                             td3=TD3Config(learning_starts=1000, n_step=3, layer_norm=True, critic_warmup=critic_warmup,
                                           exploration_noise=td3_noise, actor_lr=actor_lr, tau=tau,
                                           action_l2=action_l2))
            elif method == "jsrl":
                extra = dict(guide_policy=work / "guide")
            cfg = TrainConfig(env=env, **{"algo": "sac", "sac": sac, **extra},
                              **_common(r, online_steps, online_steps // 6, seed, threads))
        train(cfg)
        rows = eval_rows(r, label, cfg.env, seed)
        if method == "jsrl":  # the guide's share of each evaluated episode (h steps), and the learner alone
            from visuomotor import load_agent, make_env
            from visuomotor.evaluate import evaluate

            with open(r / "eval.csv", newline="") as f:
                evals = list(csv.DictReader(f))
            agent, _, _ = load_agent(r)
            agent.stage = agent.stages  # h = 0: the learner acts from the first step
            alone = evaluate(agent, make_env(cfg.env, seed=seed + 1), 10, seed=seed, round_index=10_000)
            (RESULTS / f"{label.replace('jsrl', 'jsrl_h')}__s{seed}.txt").write_text(
                " ".join(f"{x['step']}:{x['jsrl_h']}" for x in evals)
                + f"\nlearner alone at the end: {np.mean(alone.returns):.1f}\n")
    write_rows(out, rows)


def base_rows(work: Path, label: str, seed: int, online_steps: int) -> list[dict]:
    """The frozen base policy evaluated as the training loop evaluates a run of this seed: the eval env
    seeded seed + 1, round i's episodes at step i * online_steps / 6 (the runs' --eval-every)."""
    from visuomotor import load_agent, make_env
    from visuomotor.evaluate import evaluate

    agent, _, _ = load_agent(work / "weak-bc")
    env = make_env(ENV, seed=seed + 1)
    every = online_steps // 6
    return [{"lib": label, "env": ENV, "seed": seed, "step": i * every, "train_seconds": 0.0,
             "mean_return": float(np.mean(evaluate(agent, env, 10, seed=seed, round_index=i).returns))}
            for i in range(online_steps // every + 1)]


def _ci(values: list[float], reps: int = 2000) -> tuple[float, float, float]:
    """Mean and its 95% bootstrap CI over seeds (rliable's interval estimates; its bootstrap draws from
    numpy's global RNG, seeded here as the report seeds it, so the table reprints the same)."""
    from rliable import library as rly

    from visuomotor.runs.report import seeded_numpy

    scores = {"m": np.asarray(values, np.float64).reshape(-1, 1)}
    with seeded_numpy(0):
        points, cis = rly.get_interval_estimates(scores, lambda x: np.array([np.mean(x)]), reps=reps)
    return float(points["m"][0]), float(cis["m"][0, 0]), float(cis["m"][1, 0])


def table() -> None:
    runs = {lib: {step: [ret for ret, _ in vals] for step, vals in by_step.items()}
            for (_, lib), by_step in read_results(RESULTS).items()}
    src = RESULTS / "_sources.json"
    if src.exists():
        for name, r in json.loads(src.read_text()).items():
            print(f"{name}: return mean {r['mean']:.1f}" + (f" (min {r['min']:.1f}, max {r['max']:.1f})" if "min" in r else ""))

    def cell(vals):
        if not vals:
            return "-"
        if len(vals) == 1:
            return f"{vals[0]:.0f} (n=1)"
        m, lo, hi = _ci(vals)
        return f"{m:.0f} [{lo:.0f}, {hi:.0f}] (n={len(vals)})"

    def parse(lib: str) -> tuple[str, str]:  # "residual-td3-30k-w10000" -> ("residual-td3", "-30k")
        m = re.fullmatch(r"(.+?)(-\d+k)?(-n\d+)?(-x[\d.]+)?(-w\d+)?(-lr[\d.e-]+)?(-tau[\d.e-]+)?(-l2[\d.e-]+)?", lib)
        return m.group(1), m.group(2) or ""

    sections = (("offline, gradient steps", OFFLINE),
                (f"online on {ENV}, env steps", ("sac", "rlpd", "base", "residual", "residual-td3")),
                (f"online on {SPARSE}, env steps", ("sac-sparse", "jsrl")))
    for title, methods in sections:
        for budget in sorted({parse(lib)[1] for lib in runs if parse(lib)[0] in methods}, key=len):
            present = sorted((lib for lib in runs if parse(lib)[0] in methods and parse(lib)[1] == budget),
                             key=lambda lib: (methods.index(parse(lib)[0]), lib != parse(lib)[0] + budget, lib))
            steps = sorted({s for m in present for s in runs[m]})
            print(f"\n{title}{f' (runs of {budget[1:]} steps)' if budget else ''}: eval return, mean [95% CI] "
                  f"over seeds\n")
            print("| step | " + " | ".join(present) + " |")
            print("|---|" + "---|" * len(present))
            for s in steps:
                print(f"| {s} | " + " | ".join(cell(runs[m].get(s, [])) for m in present) + " |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("/tmp/visuomotor-prior-data"))
    p.add_argument("--threads", type=int, default=1)
    sub = p.add_subparsers(dest="cmd", required=True)
    pr = sub.add_parser("prepare")
    pr.add_argument("--source-steps", type=int, default=30_000)
    pr.add_argument("--guide-steps", type=int, default=80_000)
    r = sub.add_parser("run")
    r.add_argument("--method", choices=[*OFFLINE, *ONLINE], required=True)
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--offline-steps", type=int, default=20_000)
    r.add_argument("--online-steps", type=int, default=ONLINE_STEPS)
    r.add_argument("--rlpd-utd", type=int, default=2, help="rlpd: updates per env step (the preset's 20 is "
                   "too slow for this CPU)")
    r.add_argument("--n-step", type=int, default=1, help="online methods: --sac.n-step (results as <method>-nN)")
    r.add_argument("--td3-noise", type=float, default=TD3_NOISE, help="residual-td3: exploration noise std on the "
                   "residual (in units of its bound)")
    r.add_argument("--critic-warmup", type=int, default=CRITIC_WARMUP, help="residual-td3: critic-only updates first")
    r.add_argument("--actor-lr", type=float, default=ACTOR_LR, help="residual-td3: the residual policy's learning rate")
    r.add_argument("--tau", type=float, default=TAU, help="residual-td3: Polyak step of the target networks")
    r.add_argument("--action-l2", type=float, default=ACTION_L2, help="residual-td3: --td3.action-l2, the pull "
                   "of the residual toward 0")
    sub.add_parser("table")
    args = p.parse_args()
    if args.cmd == "prepare":
        prepare(args.work, args.source_steps, args.guide_steps, args.threads)
    elif args.cmd == "run":
        run(args.method, args.seed, args.work, args.offline_steps, args.online_steps, args.rlpd_utd, args.threads,
            args.n_step, args.td3_noise, args.critic_warmup, args.actor_lr, args.tau, args.action_l2)
    else:
        table()


if __name__ == "__main__":
    main()
