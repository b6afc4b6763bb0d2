"""The run configuration: loop settings (``RunConfig``) plus one section per registered algorithm.

``TrainConfig`` is built from the algorithm registry (``algos/registry.py``): each algorithm's Config
becomes the section ``--NAME.*`` of the command line and ``NAME:`` of config.yaml; no algorithm is
named here. An algorithm registered after this module is imported gets its section from
``config_type()`` (the CLI and config.yaml loading use it)."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import torch
import tyro
import yaml

from visuomotor.algos.base import Kind, Observes
from visuomotor.algos.registry import ALGORITHMS
from visuomotor.envs.distract import DistractConfig
from visuomotor.envs.randomization import RandomizationConfig

# Keys that may differ between the command that started a run and the one that resumes it.
RESUME_MAY_CHANGE = frozenset({"steps", "online_steps", "resume", "restart", "run_dir", "progress", "threads", "device", "workers", "label",
                               "vectorization"})


@dataclass
class RunConfig:
    """Train an agent (writes a run directory: config, metrics, evals, checkpoints, episodes, videos, curves)."""

    env: str = "dmc/cartpole-swingup"
    """Environment id: dmc/<domain>-<task>, gym/<id>, or module.path:factory (see `visuomotor list`)."""
    algo: str = "sac"
    """Algorithm name (see `visuomotor list`)."""
    steps: int | None = None
    """Total policy steps to train for (env frames = steps x action_repeat; a resumed run may raise it);
    default the algorithm's: SAC 100,000, DrQ-v2 its preset's frames / action repeat."""
    action_repeat: int | None = None
    """Simulator steps per policy step; default the algorithm's (SAC 1, DrQ-v2 2). The PlaNet/CURL
    state-SAC protocol uses 8 on cartpole, 4 on most DMC tasks."""
    pixels: bool = False
    """Observe rendered RGB frames instead of states (pixel algorithms such as DrQ-v2 always do)."""
    num_envs: int | None = None
    """Environments stepped in parallel (on-policy algorithms); default the algorithm's (PPO rsl_rl preset 64, sb3 1)."""
    vectorization: Literal["sync", "async", "mujoco"] = "sync"
    """Step the --num-envs envs in this process (sync), in one worker process each (async), or as one
    batch of MuJoCo states through mujoco.rollout (mujoco: gym/HalfCheetah-v5, Hopper-v5, Walker2d-v5)."""
    frame_stack: int = 3
    """With --pixels: frames stacked into one observation."""
    history: int = 1
    """With states: the last H state observations stacked into one, oldest first (a proprioceptive
    policy's history of past observations, e.g. a distillation student's); 1 = none."""
    pixel_size: int = 84
    """With --pixels: frame height and width."""
    seed: int = 0
    """Seed of networks, replay sampling, exploration and every environment episode."""
    seeds: str | None = None
    """Train several seeds at once, e.g. 0-4 or 0,2,7: one run per seed in one sweep directory
    (--run-dir, default runs/<env>_<algo>_seeds<...>_<time>), up to --workers processes at a time."""
    workers: int = 0
    """With --seeds: runs at a time; 0 = the number of CPU cores (each run gets cores/workers threads)."""
    label: str = ""
    """Name that `visuomotor report` groups this run under (default: the algorithm)."""
    run_dir: Path | None = None
    """Run directory; default runs/<env>_<algo>_s<seed>_<time>. Never overwritten without --resume."""
    resume: bool = False
    """Continue the run in --run-dir from its last checkpoint."""
    restart: bool = False
    """Start the run in an existing --run-dir over (its files are moved aside into
    <run-dir>/restart-<time>/, never deleted); e.g. a run killed before its first checkpoint."""
    prior_data: list[Path] = field(default_factory=list)
    """Datasets (`visuomotor collect` directories, or run directories) sampled beside the online replay:
    --<algo>.prior-fraction of every batch comes from them (RLPD's symmetric sampling; see --sac.preset rlpd)."""
    data: list[Path] = field(default_factory=list)
    """Datasets an offline algorithm (--algo bc) learns from (`visuomotor collect` or run directories)."""
    prior_runs: list[Path] = field(default_factory=list)
    """Earlier runs whose stored episodes are loaded into the replay before training (replay across experiments)."""
    online_steps: int = 0
    """Offline algorithms (td3bc): env steps of online fine-tuning after the --steps offline gradient
    steps, in the same run directory (the replay keeps the dataset and adds the new episodes)."""
    base_policy: Path | None = None
    """Residual RL: a trained run (e.g. --algo bc) whose frozen policy acts; --algo sac or td3 learns a bounded,
    zero-initialized residual added to its action, its critic seeing the base action (--algo td3 with
    --td3.n-step 3 --td3.layer-norm --td3.critic-warmup N is ResFiT's TD3-style learner)."""
    residual_scale: float = 0.1
    """With --base-policy: the residual's bound (action = clip(base + scale x residual, -1, 1))."""
    guide_policy: Path | None = None
    """JSRL: a trained run whose policy acts for the first h steps of each episode, the learner
    (--algo sac or td3) after; h shrinks by a curriculum as the combined policy's eval return holds up."""
    jsrl_stages: int = 10
    """With --guide-policy: curriculum stages n (h = H (n - i) / n at stage i, H the episode length)."""
    jsrl_tolerance: float = 0.05
    """With --guide-policy: move to the next stage when the eval return is at least the best so far
    minus this fraction of its magnitude."""
    jsrl_horizon: int | None = None
    """With --guide-policy: episode length H in policy steps; default the env's time limit / action repeat."""
    teacher: Path | None = None
    """With --algo distill: the trained run (e.g. SAC from states on the same env) whose policy acts from
    the simulator's state and labels every state the student visits (DAgger)."""
    eval_every: int = 10_000
    """Env steps between evaluations (also at step 0 and at the end)."""
    eval_episodes: int = 10
    """Episodes per evaluation, deterministic policy."""
    video: bool = True
    """Record the first episode of each evaluation to videos/step_<N>.mp4."""
    checkpoint_every: int = 10_000
    """Env steps between checkpoints (taken at the next episode end, and at the end of training)."""
    log_every: int = 1_000
    """Env steps between rows of metrics.csv / TensorBoard."""
    device: str = "auto"
    """Torch device: auto (cuda if available, else cpu), cpu, cuda, cuda:N."""
    threads: int = 0
    """Torch CPU threads; 0 = every core."""
    progress: bool = True
    """Show a progress bar (steps, env-steps/s, ETA, last eval return)."""
    dr: RandomizationConfig = field(default_factory=RandomizationConfig)
    """Domain randomization of the MuJoCo model per episode, and pushes (--dr.enabled; any algorithm)."""
    distract: str = "off"
    """Distractions of pixel observations: off, easy, medium or hard (the Distracting Control Suite's
    scales 0.1 / 0.2 / 0.3): backgrounds, colours, camera pose; the kinds and the split: --distract.*."""
    distract_opts: Annotated[DistractConfig, tyro.conf.arg(name="distract")] = field(default_factory=DistractConfig)
    """Which distractions --distract turns on, static or dynamic, the split (train / held-out eval)."""
    algo_configs: tyro.conf.Suppress[dict] = field(default_factory=dict)
    """Configs of algorithms this config's class has no section for (registered after it was built), by
    name; Python API only (``config_type()`` gives such an algorithm its section)."""

    def __post_init__(self):
        # a config given in algo_configs for an algorithm this class has a section for goes there
        own = {k: v for k, v in self.algo_configs.items() if k in sections(type(self))}
        if own:
            self.algo_configs = {k: v for k, v in self.algo_configs.items() if k not in own}
            for k, v in own.items():
                setattr(self, k, v)

    def algo_config(self):
        """The chosen algorithm's config: its section, or its entry in ``algo_configs`` (else defaults)."""
        if self.algo in sections(type(self)):
            return getattr(self, self.algo)
        return self.algo_configs.get(self.algo) or ALGORITHMS[self.algo][1]()

    def with_algo_config(self, acfg) -> TrainConfig:
        """This config with the chosen algorithm's config replaced by ``acfg``."""
        if self.algo in sections(type(self)):
            return dataclasses.replace(self, **{self.algo: acfg})
        return dataclasses.replace(self, algo_configs={**self.algo_configs, self.algo: acfg})

    def env_kwargs(self, evaluation: bool = False) -> dict:
        """make_env's settings for this run (action repeat and pixels resolved); ``evaluation``: for its
        evaluations (distractions as --distract.evaluate says)."""
        cfg = resolve(self)
        kw = {"action_repeat": cfg.action_repeat, "pixels": cfg.pixels, "frame_stack": cfg.frame_stack,
              "pixel_size": cfg.pixel_size}
        if cfg.history != 1:
            kw["history"] = cfg.history
        if cfg.distract != "off":
            opts = cfg.distract_opts
            if evaluation and opts.evaluate != "same":
                if opts.evaluate == "off":
                    return kw
                opts = dataclasses.replace(opts, split=opts.evaluate)
            kw.update(distract=cfg.distract, distract_cfg=opts)
        return kw


    def randomization(self, evaluation: bool = False) -> RandomizationConfig | None:
        """The randomization of the training (or evaluation) envs, None when off."""
        if evaluation:
            return dataclasses.replace(self.dr, enabled=True) if self.dr.eval else None
        return self.dr if self.dr.enabled else None


@functools.cache
def sections(cls: type) -> frozenset[str]:
    """The algorithms with a section in the config class ``cls`` (their --<algo>.* flags)."""
    return frozenset(f.name for f in dataclasses.fields(cls) if f.metadata.get("algorithm_section"))


def _with_sections(base: type, names) -> type:
    """A subclass of ``base`` with one section per algorithm in ``names``: its Config, defaults, flags
    documented by the Config's docstring."""
    fields = []
    for name in names:
        config = ALGORITHMS[name][1]
        doc = " ".join((config.__doc__ or f"{name} hyperparameters.").split())
        fields.append((name, Annotated[config, tyro.conf.arg(help=f"{doc} (used with --algo {name})")],
                       field(default_factory=config, metadata={"algorithm_section": True})))
    cls = dataclasses.make_dataclass("TrainConfig", fields, bases=(base,))
    cls.__module__, cls.__qualname__, cls.__doc__ = __name__, "TrainConfig", RunConfig.__doc__
    return cls


TrainConfig = _with_sections(RunConfig, list(ALGORITHMS))
"""The run configuration with a section for every algorithm registered when this module was imported."""

_EXTENDED: dict[tuple, type] = {}


def config_type() -> type:
    """``TrainConfig``, with a section for every algorithm registered since (the CLI parses into this
    class, and config.yaml loads into it)."""
    extra = tuple(n for n in ALGORITHMS if n not in sections(TrainConfig))
    if not extra:
        return TrainConfig
    key = tuple((n, ALGORITHMS[n][1]) for n in extra)
    if key not in _EXTENDED:
        _EXTENDED[key] = _with_sections(TrainConfig, extra)
    return _EXTENDED[key]


def resolve(cfg: TrainConfig) -> TrainConfig:
    """The run's config with every default that depends on the algorithm or the task filled in, once,
    before anything is built: the algorithm's section (task presets, then its own presets), action
    repeat, pixels, steps and the number of envs."""
    if cfg.algo not in ALGORITHMS:
        return cfg
    agent_cls, _ = ALGORITHMS[cfg.algo]
    acfg = cfg.algo_config().resolved(cfg.env)
    repeat = cfg.action_repeat if cfg.action_repeat is not None else acfg.default_action_repeat()
    if cfg.action_repeat is None and agent_cls.learns_from_teacher and cfg.teacher is not None:
        from visuomotor.errors import VisuomotorError

        with contextlib.suppress(VisuomotorError):  # (validate names a teacher that is no run)
            repeat = teacher_config(cfg.teacher).action_repeat  # a student acts at its teacher's rate
    pixels = cfg.pixels or agent_cls.observes == Observes.PIXELS
    steps = cfg.steps if cfg.steps is not None else acfg.default_steps(repeat)
    num_envs = cfg.num_envs if cfg.num_envs is not None else acfg.default_num_envs()
    acfg = acfg.for_envs(num_envs)
    return dataclasses.replace(cfg.with_algo_config(acfg), action_repeat=repeat, pixels=pixels, steps=steps,
                               num_envs=num_envs)


def teacher_config(run_dir: Path) -> TrainConfig:
    """The --teacher run's config, resolved; a one-line error when ``run_dir`` is no run of a known algorithm."""
    from visuomotor.errors import VisuomotorError

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        raise VisuomotorError(f"--teacher {run_dir} is not a run directory (no config.yaml)")
    tcfg, _ = load_config(path)
    if tcfg.algo not in ALGORITHMS:
        raise VisuomotorError(f"--teacher {run_dir} used algo {tcfg.algo!r}, unknown to this version")
    return resolve(tcfg)


def check_teacher(cfg: TrainConfig) -> None:
    """The --teacher run fits this run: a state policy of the same env at the same action repeat, with the
    checkpoint the student learns from (one-line errors, before any work; shapes are checked as it loads)."""
    from visuomotor.errors import VisuomotorError

    agent_cls, _ = ALGORITHMS[cfg.algo]
    takers = [n for n, (c, _) in ALGORITHMS.items() if c.learns_from_teacher]
    if not agent_cls.learns_from_teacher:
        if cfg.teacher is not None:
            raise VisuomotorError(f"--teacher is for a student that learns from a trained run (--algo "
                                  f"{' or '.join(takers)}), not --algo {cfg.algo}")
        return
    if cfg.teacher is None:
        raise VisuomotorError(f"--algo {cfg.algo} learns from a teacher: pass --teacher RUN (a trained run on "
                              f"{cfg.env}, e.g. SAC from states)")
    t = teacher_config(cfg.teacher)
    if t.env != cfg.env:
        raise VisuomotorError(f"--teacher {cfg.teacher} was trained on {t.env}; this run's env is {cfg.env}: a "
                              f"teacher must act in the student's env")
    sees = "pixels" if t.pixels else f"a history of {t.history} states" if t.history != 1 else None
    if sees is not None:
        raise VisuomotorError(f"--teacher {cfg.teacher} acts from {sees}; a teacher acts from the simulator's "
                              f"state: train it from states (e.g. --algo sac)")
    repeat = cfg.action_repeat if cfg.action_repeat is not None else t.action_repeat
    if repeat != t.action_repeat:
        raise VisuomotorError(f"--teacher {cfg.teacher} acts every {t.action_repeat} simulator step(s) "
                              f"(action repeat {t.action_repeat}); this run has --action-repeat {repeat}: use "
                              f"{t.action_repeat}")
    ckpt = Path(cfg.teacher) / "checkpoints" / f"{cfg.algo_config().teacher_checkpoint}.pt"
    if not ckpt.is_file():
        raise VisuomotorError(f"--teacher {cfg.teacher} has no {ckpt.name} to learn from (is it still starting?)")


def resolve_device(name: str) -> torch.device:
    """The torch device --device names (auto: CUDA when there is one); a one-line error when unavailable."""
    from visuomotor.errors import VisuomotorError

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise VisuomotorError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise VisuomotorError(f"device {name!r} asked for but CUDA is not available; use --device cpu")
    return dev


def validate(cfg: TrainConfig) -> None:
    """Every check that needs no work: raise a one-line VisuomotorError on bad input. What an algorithm
    allows comes from its agent's declarations (kind, observations, what it can build on)."""
    from visuomotor.envs import validate_env_id
    from visuomotor.errors import VisuomotorError

    if cfg.algo not in ALGORITHMS:
        raise VisuomotorError(f"unknown algo {cfg.algo!r}; choose one of: {', '.join(ALGORITHMS)}")
    validate_env_id(cfg.env)
    try:
        cfg.algo_config().validate_names()  # (before anything resolves the config by them)
    except ValueError as e:
        raise VisuomotorError(f"--{cfg.algo}: {e}") from None
    for name in ("steps", "eval_every", "checkpoint_every", "log_every"):
        if getattr(cfg, name) is not None and getattr(cfg, name) <= 0:
            raise VisuomotorError(f"--{name.replace('_', '-')} must be > 0, got {getattr(cfg, name)}")
    if cfg.num_envs is not None and cfg.num_envs < 1:
        raise VisuomotorError(f"--num-envs must be >= 1, got {cfg.num_envs}")
    if cfg.action_repeat is not None and cfg.action_repeat < 1:
        raise VisuomotorError(f"--action-repeat must be >= 1, got {cfg.action_repeat}")
    if cfg.frame_stack < 1 or cfg.pixel_size < 8:
        raise VisuomotorError(f"--frame-stack must be >= 1 and --pixel-size >= 8, got {cfg.frame_stack}, {cfg.pixel_size}")
    if cfg.history < 1:
        raise VisuomotorError(f"--history must be >= 1, got {cfg.history}")
    check_teacher(cfg)
    agent_cls, _ = ALGORITHMS[cfg.algo]
    pixel_algos = [n for n, (c, _) in ALGORITHMS.items() if c.observes != Observes.STATES]
    if cfg.pixels and agent_cls.observes == Observes.STATES:
        raise VisuomotorError(f"--algo {cfg.algo} learns from states; for pixels use --algo {' or '.join(pixel_algos)}")
    kind = agent_cls.kind
    if (cfg.prior_data or cfg.prior_runs) and kind == Kind.ON_POLICY:
        raise VisuomotorError(f"--prior-data/--prior-runs feed a replay; --algo {cfg.algo} learns on-policy")
    if cfg.prior_data and agent_cls.learns_from_teacher:
        raise VisuomotorError(f"--prior-data mixes other actions into the batches; --algo {cfg.algo} learns the "
                              f"teacher's labels (--prior-runs of earlier {cfg.algo} runs are relabelled)")
    offline = [n for n, (c, _) in ALGORITHMS.items() if c.kind == Kind.OFFLINE]
    if kind == Kind.OFFLINE and not cfg.data:
        raise VisuomotorError(f"--algo {cfg.algo} learns offline from a dataset: pass --data DIR (see visuomotor collect)")
    if cfg.data and kind != Kind.OFFLINE:
        raise VisuomotorError(f"--data is for offline algorithms ({', '.join(offline)}); for --algo {cfg.algo} "
                              f"use --prior-data")
    if cfg.online_steps < 0:
        raise VisuomotorError(f"--online-steps must be >= 0, got {cfg.online_steps}")
    if cfg.online_steps and not agent_cls.online_finetuning:
        raise VisuomotorError(f"--online-steps fine-tunes an offline run online ("
                              f"{', '.join(n for n, (c, _) in ALGORITHMS.items() if c.online_finetuning)}); "
                              f"--algo {cfg.algo} has no online phase")
    learners = [n for n, (c, _) in ALGORITHMS.items() if c.learns_on_policies]
    for name in ("base_policy", "guide_policy"):
        flag = "--" + name.replace("_", "-")
        if getattr(cfg, name) is not None:
            if not agent_cls.learns_on_policies:
                raise VisuomotorError(f"{flag} trains an off-policy learner on top of a policy: use --algo "
                                      f"{' or '.join(learners)}, not {cfg.algo}")
            if not (Path(getattr(cfg, name)) / "config.yaml").is_file():
                raise VisuomotorError(f"{flag} {getattr(cfg, name)} is not a run directory (no config.yaml)")
    if cfg.base_policy is not None and cfg.guide_policy is not None:
        raise VisuomotorError("--base-policy and --guide-policy cannot be combined; choose one")
    if not cfg.residual_scale > 0:
        raise VisuomotorError(f"--residual-scale must be > 0, got {cfg.residual_scale}")
    if cfg.jsrl_stages < 1 or cfg.jsrl_tolerance < 0 or (cfg.jsrl_horizon is not None and cfg.jsrl_horizon < 1):
        raise VisuomotorError(f"--jsrl-stages must be >= 1, --jsrl-tolerance >= 0 and --jsrl-horizon >= 1; got "
                              f"{cfg.jsrl_stages}, {cfg.jsrl_tolerance}, {cfg.jsrl_horizon}")
    for p in [*cfg.prior_data, *cfg.prior_runs, *cfg.data]:
        if not Path(p).is_dir():
            raise VisuomotorError(f"prior data {p} does not exist")
    if cfg.eval_episodes < 1:
        raise VisuomotorError(f"--eval-episodes must be >= 1, got {cfg.eval_episodes}")
    if cfg.seed < 0:
        raise VisuomotorError(f"--seed must be >= 0, got {cfg.seed}")
    if cfg.threads < 0:
        raise VisuomotorError(f"--threads must be >= 0, got {cfg.threads}")
    try:
        cfg.dr.validate()
    except ValueError as e:
        raise VisuomotorError(f"--{e}") from None
    cfg.distract_opts.validate(cfg.distract)
    if cfg.history > 1 and resolve(cfg).pixels:
        raise VisuomotorError(f"--history {cfg.history} stacks state observations; pixel observations stack "
                              f"frames (--frame-stack)")
    if cfg.distract != "off" and not resolve(cfg).pixels:
        raise VisuomotorError(f"--distract {cfg.distract} changes what a camera sees: it needs pixel observations "
                              f"(--pixels, or a pixel algorithm)")
    acfg = cfg.algo_config()
    for section, obj in (("", cfg), ("dr.", cfg.dr), (f"{cfg.algo}.", acfg)):
        for f in dataclasses.fields(obj):  # nan and inf are no setting of anything
            values = getattr(obj, f.name)
            for v in values if isinstance(values, (tuple, list)) else (values,):
                if isinstance(v, float) and not math.isfinite(v):
                    raise VisuomotorError(f"--{section}{f.name.replace('_', '-')} must be a finite number, got {v}")
    try:
        resolve(cfg).algo_config().validate()
    except ValueError as e:
        raise VisuomotorError(f"--{cfg.algo}: {e}") from None
    resolve_device(cfg.device)
    if (cfg.num_envs or 1) > 1 and agent_cls.sees_state:
        raise VisuomotorError(f"--num-envs {cfg.num_envs} with --algo {cfg.algo}: its teacher labels one env's "
                              f"states; use --num-envs 1")
    if (cfg.num_envs or 1) > 1 and kind != Kind.ON_POLICY and (
            resolve(cfg).pixels or cfg.base_policy or cfg.guide_policy or kind == Kind.OFFLINE):
        raise VisuomotorError(f"--num-envs {cfg.num_envs} with --algo {cfg.algo}: several envs feed one replay of "
                              f"states (no --pixels, base/guide policy or offline phase); "
                              f"use --num-envs 1 for these")


def to_dict(cfg: TrainConfig) -> dict:
    """The config as plain data, with only the chosen algorithm's section."""
    def plain(value):
        if dataclasses.is_dataclass(value):
            return {k: list(v) if isinstance(v, tuple) else str(v) if isinstance(v, Path) else v
                    for k, v in dataclasses.asdict(value).items()}
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, list):
            return [str(v) if isinstance(v, Path) else v for v in value]
        return value

    out = {}
    own = sections(type(cfg))
    for f in dataclasses.fields(cfg):
        if (f.name in own and f.name != cfg.algo) or f.name == "algo_configs":
            continue
        out[f.name] = plain(getattr(cfg, f.name))
    if cfg.algo not in own and cfg.algo in ALGORITHMS:
        out[cfg.algo] = plain(cfg.algo_config())
    return out


def flatten(d: dict, prefix: str = "") -> dict:
    """Nested mappings as dotted keys: {"sac": {"gamma": 0.99}} -> {"sac.gamma": 0.99}."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _coerce(tp, value):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp) and isinstance(value, dict):
        return from_dict(tp, value)
    if isinstance(value, list) and (origin is tuple or (origin in (typing.Union, types.UnionType) and any(
            typing.get_origin(a) is tuple for a in typing.get_args(tp)))):
        return tuple(value)
    if origin is list and typing.get_args(tp) == (Path,) and isinstance(value, list):
        return [Path(v) for v in value]
    if tp is Path or (origin in (typing.Union, types.UnionType) and Path in typing.get_args(tp)):
        return None if value is None else Path(value)
    return value


def from_dict(cls, data: dict):
    hints = typing.get_type_hints(cls, include_extras=False)
    names = {f.name for f in dataclasses.fields(cls)}
    kwargs = {k: _coerce(hints[k], v) for k, v in data.items() if k in names}
    return cls(**kwargs)


def save_config(path: Path, cfg: TrainConfig, resolved: dict) -> None:
    from visuomotor.fileio import atomic_write_text

    data = to_dict(cfg)
    data["resolved"] = resolved
    atomic_write_text(path, yaml.safe_dump(data, sort_keys=False))


def load_config(path: Path) -> tuple[TrainConfig, dict]:
    from visuomotor.errors import VisuomotorError

    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise VisuomotorError(f"cannot read run config {path} ({type(e).__name__})") from None
    if not isinstance(data, dict) or "algo" not in data:
        raise VisuomotorError(f"run config {path} is not a visuomotor config")
    resolved = data.pop("resolved", {}) or {}
    return from_dict(config_type(), data), resolved


def config_differences(stored: TrainConfig, given: TrainConfig) -> list[str]:
    """Dotted keys whose values differ, ignoring those a resume may change."""
    a, b = to_dict(stored), to_dict(given)
    diffs = []
    for k in sorted(set(a) | set(b)):
        if k in RESUME_MAY_CHANGE:
            continue
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            diffs += [f"{k}.{kk}" for kk in sorted(set(va) | set(vb)) if va.get(kk) != vb.get(kk)]
        elif va != vb:
            diffs.append(k)
    return diffs
