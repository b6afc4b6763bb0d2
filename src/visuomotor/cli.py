"""The ``visuomotor`` command: train | eval | export | play | collect | import-minari | sweep | report | list.

The subcommand is picked from the first argument before anything heavy is imported, and only its own
arguments are parsed (tyro): ``visuomotor --help`` and ``visuomotor list`` import no torch, and no
subcommand imports JAX until a Playground env is built."""

from __future__ import annotations

import dataclasses
import sys
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated, Literal

import tyro

from visuomotor.errors import VisuomotorError


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
    dr: bool = False
    """Evaluate under the run's domain randomization ranges and pushes (its --dr.* settings)."""
    distract: str | None = None
    """Evaluate under distractions of this level (off, easy, medium, hard) with the run's --distract.*
    kinds; default the run's own setting (pixel runs)."""
    distract_split: Literal["train", "eval"] | None = None
    """With --distract: the train or the held-out eval split of the distractions; default the run's."""
    env: str | None = None
    """Evaluate on another env with the same contract (sim-to-sim, e.g. a policy trained with
    --vectorization mujoco on gymnasium's own env, or on another task of the same robot); refused
    when the observation or action layout differs. Default: the run's env."""


@dataclass
class ExportArgs:
    """Export a run's deterministic policy for deployment: policy.onnx and/or policy.pt (TorchScript),
    each the whole inference path (normalizer, pixel scaling and encoder, actor, squashing; a residual
    run's base + residual) with outputs `action` in [-1, 1] and `action_native` in the actuators' units,
    and policy.json (the observation/action contract, what is baked in, the checkpoint, and the
    verification: >= --samples observations through the training-time policy, TorchScript and
    onnxruntime, max abs difference per output; above --tolerance the export fails and writes nothing).

    visuomotor export runs/mine -o deploy/mine
    """

    run_dir: Annotated[Path, tyro.conf.Positional]
    """Run directory written by `visuomotor train`."""
    checkpoint: Literal["latest", "best"] = "latest"
    """Which checkpoint to export."""
    format: str = "all"
    """onnx, torchscript, or all (both)."""
    output: Annotated[Path | None, tyro.conf.arg(aliases=["-o"])] = None
    """Output directory; default <run_dir>/export. Refused when it exists and is not empty, unless --force."""
    force: bool = False
    """Overwrite the files of an existing output directory."""
    tolerance: float = 1e-5
    """Largest allowed |difference| of `action` between the training-time policy and an exported file
    (`action_native`: this times the largest half-range of the native bounds, at least 1)."""
    samples: int = 1000
    """At least this many observations (from whole evaluation episodes) are verified."""
    seed: int = 0
    """Seed of the verification episodes."""


@dataclass
class PlayArgs:
    """Roll a trained run's policy out: per-episode return and length, an mp4 of every episode, and
    MuJoCo's passive viewer when a display is present (headless: the video only)."""

    run_dir: Annotated[Path, tyro.conf.Positional]
    """Run directory written by `visuomotor train`."""
    episodes: int = 1
    """Episodes to play."""
    video: Path | None = None
    """The mp4 to write; default <run_dir>/videos/play_<checkpoint>_<time>.mp4."""
    dr: bool = False
    """Play under the run's domain randomization ranges and pushes (its --dr.* settings)."""
    checkpoint: Literal["latest", "best"] = "latest"
    """Which checkpoint plays."""
    seed: int = 12345
    """Seed of the episodes (`visuomotor eval`'s: the same seed plays the same episodes)."""
    viewer: bool = True
    """Open MuJoCo's passive viewer when a display is present."""
    device: str = "cpu"
    """Torch device for the policy."""


@dataclass
class CollectArgs:
    """Record episodes as a dataset (manifest.json + episodes/) for --prior-data and offline learning:
    from a trained run's policy (optionally with action noise, for mixed-quality data) or random actions.

    visuomotor collect runs/mine --episodes 20 -o data/mine-noisy --noise 0.3
    visuomotor collect --random --env dmc/cartpole-swingup --episodes 10 -o data/random
    """

    run_dir: Annotated[Path | None, tyro.conf.Positional] = None
    """Run directory whose policy acts (leave out with --random --env ID)."""
    output: Annotated[Path, tyro.conf.arg(aliases=["-o"])] = Path("data/dataset")
    """Dataset directory to create (must not exist or be empty)."""
    episodes: int = 10
    """Episodes to record."""
    random: bool = False
    """Uniform random actions instead of the policy."""
    env: str | None = None
    """Env id (with --random and no run directory)."""
    noise: float = 0.0
    """Std of Gaussian noise added to every policy action (then clipped to [-1, 1])."""
    explore: bool = False
    """Act with the policy's own exploration instead of its deterministic action."""
    checkpoint: Literal["latest", "best"] = "latest"
    """Which checkpoint of the run acts."""
    seed: int = 0
    """Seed of the episodes and the noise."""
    device: str = "cpu"
    """Torch device for the policy."""


@dataclass
class ImportMinariArgs:
    """Convert a local Minari dataset (pip install 'visuomotor[minari]') to a visuomotor dataset for
    --prior-data / --data: actions mapped to [-1, 1], checked against the env.

    visuomotor import-minari mujoco/halfcheetah/medium-v0 -o data/hc-medium
    """

    dataset: Annotated[str, tyro.conf.Positional]
    """Minari dataset id (in MINARI_DATASETS_PATH, default ~/.minari/datasets) or its directory."""
    output: Annotated[Path, tyro.conf.arg(aliases=["-o"])] = Path("data/minari")
    """Dataset directory to create (must not exist or be empty)."""
    env: str | None = None
    """Env id the data belongs to; default gym/<the dataset's env id>."""


@dataclass
class SweepArgs:
    """Run a grid of trainings (algorithms x envs x overrides x seeds) from a YAML file, as local
    processes or on Ray. Each trial is an ordinary run directory under <sweep-dir>/trials/.

    sweep.yaml:  algos: [sac] / envs: [dmc/cartpole-swingup] / seeds: 0-4 /
                 base: {steps: 100000} / grid: {sac.batch_size: [128, 256]}
    """

    file: Annotated[Path, tyro.conf.Positional]
    """The sweep's YAML file."""
    sweep_dir: Path | None = None
    """Where the sweep writes; default runs/sweeps/<file name without .yaml>."""
    backend: Literal["local", "ray"] = "local"
    """local: processes on this machine; ray: Ray tasks (pip install 'visuomotor[ray]')."""
    address: str | None = None
    """Ray cluster address (e.g. ray://head:10001 or auto); default starts a local Ray."""
    workers: int = 0
    """Trials at a time (local, or the CPUs of a local Ray); 0 = the number of CPU cores."""
    resume: bool = False
    """Continue an interrupted sweep: run only the trials that are not done."""


@dataclass
class ReportArgs:
    """Compare runs: learning curves with 95% CIs over seeds, and IQM / mean / median / optimality
    gap with stratified-bootstrap CIs and performance profiles (rliable) at chosen budgets."""

    runs: Annotated[list[Path], tyro.conf.Positional]
    """Run directories, or directories to search for them (e.g. a sweep directory)."""
    output: Annotated[Path, tyro.conf.arg(aliases=["-o"])] = Path("report")
    """Directory for index.html, report.md, scores.csv and the plots."""
    budgets: list[int] | None = None
    """Env-step budgets to score at; default half and all of the steps every run reached."""
    x: Literal["steps", "time", "train-time"] = "steps"
    """Curves against env steps, wall-clock seconds, or training seconds (evaluation excluded)."""
    score_range: list[str] = dataclasses.field(default_factory=list)
    """Normalization PATTERN=LOW:HIGH per task (fnmatch on env ids), score = (return - LOW) / (HIGH - LOW);
    dmc/*=0:1000 is built in; tasks without a range are scored by raw return."""
    reps: int = 2000
    """Bootstrap samples for the confidence intervals."""


@dataclass
class ListArgs:
    """Print the available environment ids and algorithms."""


def cmd_train(cfg) -> None:
    from visuomotor.api import train

    train(cfg)


def cmd_eval(args: EvalArgs) -> None:
    import numpy as np

    from visuomotor.envs import make_env
    from visuomotor.evaluate import evaluate
    from visuomotor.train.build import load_agent

    from visuomotor.train.config import resolve_device

    if args.episodes < 1:
        raise VisuomotorError(f"--episodes must be >= 1, got {args.episodes}")
    resolve_device(args.device)  # (CUDA asked for where there is none: say so, not "corrupt checkpoint")
    agent, cfg, step = load_agent(args.run_dir, args.checkpoint, args.device)
    env_id = cfg.env
    if args.env is not None and args.env != cfg.env:
        from visuomotor.deploy.contract import compatible, env_contract
        from visuomotor.envs import validate_env_id

        validate_env_id(args.env)
        theirs, ours = make_env(args.env, seed=args.seed, **cfg.env_kwargs()), make_env(cfg.env, seed=args.seed,
                                                                                         **cfg.env_kwargs())
        mismatch = compatible(env_contract(ours, cfg.env), env_contract(theirs, args.env))
        theirs.close()
        ours.close()
        if mismatch:
            raise VisuomotorError(f"cannot evaluate {args.run_dir} on {args.env}: its contract differs from "
                                  f"{cfg.env}'s ({mismatch})")
        env_id = args.env
    if args.distract is not None or args.distract_split is not None:  # the run's settings, overridden
        level = args.distract if args.distract is not None else cfg.distract
        opts = dataclasses.replace(cfg.distract_opts, split=args.distract_split or cfg.distract_opts.split)
        opts.validate(level)
        cfg = dataclasses.replace(cfg, distract=level, distract_opts=opts)
    env_kw = cfg.env_kwargs()
    env = make_env(env_id, seed=args.seed, **env_kw,
                   randomization=dataclasses.replace(cfg.dr, enabled=True) if args.dr else None,
                   render_mode="rgb_array" if args.video else None)
    video = None
    if args.video:
        video = args.run_dir / "videos" / f"eval_{args.checkpoint}_{datetime.now():%Y%m%d-%H%M%S}.mp4"
    res = evaluate(agent, env, args.episodes, seed=args.seed, round_index=10_000, video_path=video)
    s = res.summary()
    trained = f" (trained on {cfg.env})" if env_id != cfg.env else ""
    distracted = f"  distractions {env_kw['distract']} ({env_kw['distract_cfg'].split} split)" \
        if "distract" in env_kw else ""
    print(f"{env_id}{trained}  {cfg.algo}  {args.checkpoint} checkpoint (step {step}), {args.episodes} episodes"
          + ("  domain randomization on" if args.dr else "") + distracted)
    print(f"return  mean {s['mean_return']:.2f}  std {s['std_return']:.2f}  "
          f"min {s['min_return']:.2f}  max {s['max_return']:.2f}  (mean length {s['mean_length']:.0f})")
    if not np.isnan(s["success_rate"]):
        print(f"success rate {s['success_rate']:.2f}")
    if video is not None:
        print(f"video: {video}")


def cmd_export(args: ExportArgs) -> None:
    from visuomotor.deploy.export import export_run

    export_run(args.run_dir, args.checkpoint, args.format, args.output, force=args.force, tolerance=args.tolerance,
               samples=args.samples, seed=args.seed)


def cmd_play(args: PlayArgs) -> None:
    from visuomotor.deploy.play import play

    play(args.run_dir, args.episodes, video=args.video, dr=args.dr, checkpoint=args.checkpoint, seed=args.seed,
         device=args.device, viewer=args.viewer)


def cmd_collect(args: CollectArgs) -> None:
    from visuomotor.runs.collect import collect

    if args.env is not None:
        from visuomotor.envs import validate_env_id

        validate_env_id(args.env)
    m = collect(args.output, args.episodes, run_dir=args.run_dir, env_id=args.env, random=args.random,
                noise=args.noise, explore=args.explore, checkpoint=args.checkpoint, seed=args.seed, device=args.device)
    r = m["returns"]
    print(f"{m['env']}: {m['episodes']} episodes, {m['transitions']} transitions, return mean {r['mean']:.2f} "
          f"std {r['std']:.2f} min {r['min']:.2f} max {r['max']:.2f} -> {args.output}")


def cmd_import_minari(args: ImportMinariArgs) -> None:
    from visuomotor.buffers.minari_import import import_minari

    m = import_minari(args.dataset, args.output, env_id=args.env)
    r = m["returns"]
    print(f"{m['env']}: {m['episodes']} episodes, {m['transitions']} transitions, return mean {r['mean']:.2f} "
          f"std {r['std']:.2f} min {r['min']:.2f} max {r['max']:.2f} -> {args.output}")


def cmd_sweep(args: SweepArgs) -> None:
    from visuomotor.sweep import Sweep, load_sweep

    if args.workers < 0:
        raise VisuomotorError(f"--workers must be >= 0, got {args.workers}")
    spec = load_sweep(args.file)
    sweep_dir = args.sweep_dir or Path("runs") / "sweeps" / args.file.stem
    sweep = Sweep(spec, sweep_dir)
    sweep.prepare(resume=args.resume)
    statuses = sweep.run(args.backend, workers=args.workers, address=args.address)
    failed = [n for n, st in statuses.items() if st.get("state") != "done"]
    if failed:
        raise VisuomotorError(f"{len(failed)} of {len(statuses)} trials did not finish (see {sweep_dir}/summary.csv); "
                              f"continue with --resume")


def cmd_report(args: ReportArgs) -> None:
    from visuomotor.runs.report import write_report

    write_report(args.runs, args.output, budgets=args.budgets, x=args.x, score_ranges=args.score_range,
                 reps=args.reps)


def cmd_list(_: ListArgs) -> None:
    from visuomotor.algos import ALGORITHMS
    from visuomotor.envs.registry import BACKENDS, USER

    print("algorithms:")
    for name in ALGORITHMS:
        print(f"  {name:<8} {ALGORITHMS.summary(name)}")
    for backend in BACKENDS.values():
        ids = backend.ids()
        print(f"\n{backend.heading(len(ids))}{':' if ids else ''}")
        for env_id in ids:
            print(f"  {env_id}")
    print(f"\n{USER.heading(0)}")


TRAIN_SUMMARY = "Train an agent (writes a run directory: config, metrics, evals, checkpoints, episodes, videos, curves)."
"""`visuomotor train`'s docstring (RunConfig's: tests/test_cli.py holds them equal), for the root help."""


def _train_config_type():
    from visuomotor.train.config import config_type

    return config_type()


COMMANDS = {  # name -> (the arguments' class, or a function returning it; what runs them)
    "train": (_train_config_type, cmd_train),
    "eval": (EvalArgs, cmd_eval),
    "export": (ExportArgs, cmd_export),
    "play": (PlayArgs, cmd_play),
    "collect": (CollectArgs, cmd_collect),
    "import-minari": (ImportMinariArgs, cmd_import_minari),
    "sweep": (SweepArgs, cmd_sweep),
    "report": (ReportArgs, cmd_report),
    "list": (ListArgs, cmd_list),
}
DESCRIPTION = "visuomotor: reinforcement learning for robot control on MuJoCo tasks."


def root_help() -> str:
    """`visuomotor --help`: the subcommands, each with the first line of its description."""
    lines = [f"usage: visuomotor {{{','.join(COMMANDS)}}} [OPTIONS]", "", DESCRIPTION, "", "subcommands:"]
    for name, (args_cls, _) in COMMANDS.items():
        doc = TRAIN_SUMMARY if name == "train" else " ".join((args_cls.__doc__ or "").split("\n\n")[0].split())
        doc = doc.split(". ")[0].rstrip(".")  # the first sentence, up to its colon when long
        lines.append(f"  {name:<14} {doc.split(': ')[0] if len(doc) > 110 else doc}")
    lines += ["", "`visuomotor COMMAND --help` lists a command's options."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(root_help(), file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    name, rest = argv[0], [str(a) for a in argv[1:]]
    if name not in COMMANDS:
        import difflib

        close = difflib.get_close_matches(name, list(COMMANDS), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        print(f"visuomotor: error: unknown command {name!r}; {hint}choose one of: {', '.join(COMMANDS)}",
              file=sys.stderr)
        return 2
    args_cls, run = COMMANDS[name]
    if name == "train":
        args_cls = args_cls()
    parsed = tyro.cli(args_cls, args=rest, prog=f"visuomotor {name}")
    try:
        run(parsed)
    except VisuomotorError as e:
        print(f"visuomotor: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # a file that cannot be read or written (permissions, a full disk, read-only)
        where = f"{e.filename}: " if e.filename else ""
        print(f"visuomotor: error: {where}{e.strerror or e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        from visuomotor.train.runner import Terminated

        what = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
        step = getattr(e, "checkpoint_step", None)  # set by the runner when it checkpointed on the way out
        done = (f"a checkpoint was written at step {step}; continue with --resume" if step is not None
                else "before training began: this run wrote no checkpoint")
        print(f"visuomotor: {what} ({done})", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
