"""The ``visuomotor`` command: train | eval | list."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import tyro

from visuomotor.errors import VisuomotorError
from visuomotor.train.config import TrainConfig


@dataclass
class EvalArgs:
    """Evaluate a trained run's checkpoint with the deterministic policy."""

    run_dir: Annotated[Path, tyro.conf.Positional]
    """Run directory written by `visuomotor train`."""
    episodes: int = 10
    """Number of evaluation episodes."""
    video: bool = False
    """Record the first episode to <run_dir>/videos/eval_<time>.mp4."""
    checkpoint: Literal["latest", "best"] = "latest"
    """Which checkpoint to load."""
    seed: int = 12345
    """Seed of the evaluation episodes."""
    device: str = "cpu"
    """Torch device for the policy."""


@dataclass
class ListArgs:
    """Print the available environment ids and algorithms."""


def cmd_train(cfg: TrainConfig) -> None:
    from visuomotor.train.loop import train

    train(cfg)


def cmd_eval(args: EvalArgs) -> None:
    import numpy as np

    from visuomotor.envs import make_env
    from visuomotor.evaluate import evaluate
    from visuomotor.evaluate.load import load_agent

    if args.episodes < 1:
        raise VisuomotorError(f"--episodes must be >= 1, got {args.episodes}")
    agent, cfg, step = load_agent(args.run_dir, args.checkpoint, args.device)
    env = make_env(cfg.env, seed=args.seed, action_repeat=cfg.action_repeat,
                   render_mode="rgb_array" if args.video else None)
    video = None
    if args.video:
        video = args.run_dir / "videos" / f"eval_{args.checkpoint}_{datetime.now():%Y%m%d-%H%M%S}.mp4"
    res = evaluate(agent, env, args.episodes, seed=args.seed, round_index=10_000, video_path=video)
    s = res.summary()
    print(f"{cfg.env}  {cfg.algo}  {args.checkpoint} checkpoint (step {step}), {args.episodes} episodes")
    print(f"return  mean {s['mean_return']:.2f}  std {s['std_return']:.2f}  "
          f"min {s['min_return']:.2f}  max {s['max_return']:.2f}")
    if not np.isnan(s["success_rate"]):
        print(f"success rate {s['success_rate']:.2f}")
    if video is not None:
        print(f"video: {video}")


def cmd_list(_: ListArgs) -> None:
    from visuomotor.algos import ALGORITHMS
    from visuomotor.envs.registry import dmc_env_ids, gym_mujoco_env_ids

    print("algorithms:")
    for name, (cls, _) in ALGORITHMS.items():
        doc = (sys.modules[cls.__module__].__doc__ or "").strip().splitlines()[0]
        print(f"  {name:<8} {doc}")
    print(f"\nDeepMind Control Suite ({len(dmc_env_ids())}):")
    for env_id in dmc_env_ids():
        print(f"  {env_id}")
    print(f"\ngymnasium MuJoCo ({len(gym_mujoco_env_ids())}; any registered gym/<id> works):")
    for env_id in gym_mujoco_env_ids():
        print(f"  {env_id}")
    print("\nyour own env: module.path:factory (a callable returning a gymnasium.Env)")


def main(argv: list[str] | None = None) -> int:
    parsed = tyro.cli(
        Annotated[TrainConfig, tyro.conf.subcommand("train", prefix_name=False)]
        | Annotated[EvalArgs, tyro.conf.subcommand("eval", prefix_name=False)]
        | Annotated[ListArgs, tyro.conf.subcommand("list", prefix_name=False)],
        args=argv,
        prog="visuomotor",
        description="visuomotor: reinforcement learning for robot control on MuJoCo tasks.",
    )
    try:
        if isinstance(parsed, TrainConfig):
            cmd_train(parsed)
        elif isinstance(parsed, EvalArgs):
            cmd_eval(parsed)
        else:
            cmd_list(parsed)
    except VisuomotorError as e:
        print(f"visuomotor: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("visuomotor: interrupted (a checkpoint was written; continue with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
